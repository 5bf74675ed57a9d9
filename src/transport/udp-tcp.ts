/**
 * The real network transport: one UDP socket for packets and one TCP listener for streams, both on
 * the same address and port, as memberlist does. This is the only module that touches node:dgram
 * and node:net.
 */

import { createSocket, type RemoteInfo, type SocketType, type Socket as UdpSocket } from 'node:dgram';
import {
  isIP,
  isIPv4,
  type Server as TcpServer,
  type Socket as TcpSocket,
  createConnection as tcpConnect,
  createServer as tcpServer,
} from 'node:net';
import { type Clock, SystemClock } from '../util/clock.js';
import {
  errorMessage,
  InvalidArgumentError,
  NetworkError,
  NotRunningError,
  TimeoutError,
} from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { formatAddress, normalizeHost } from './address.js';
import { ReadQueue } from './read-queue.js';
import type { Address, PacketHandler, Stream, StreamHandler, Transport } from './types.js';

export interface UdpTcpTransportOptions {
  /** Textual IPv4 or IPv6 address to bind both sockets to; `0.0.0.0` or `::` for all interfaces. */
  bindAddr: string;
  /** Port for both UDP and TCP; 0 picks a free port that is free for both protocols. */
  bindPort: number;
  /** Clock for `receivedAt` stamps and dial timeouts. @default SystemClock */
  clock?: Clock;
  logger?: Logger;
}

/** UDP receive buffer requested from the OS, in bytes; halved until the OS accepts a size. */
const UDP_RECV_BUFFER_SIZE = 2 * 1024 * 1024;

/** With port 0, attempts at finding a port free for both TCP and UDP. */
const PORT_ZERO_BIND_ATTEMPTS = 10;

/** Idle time before the first TCP keep-alive probe, in ms. */
const TCP_KEEPALIVE_DELAY_MS = 15_000;

/**
 * Unread bytes a stream queues before pausing its socket, in bytes. Reading below half of it
 * resumes the socket, so a slow reader applies TCP back-pressure instead of growing memory.
 */
const STREAM_PAUSE_BYTES = 1024 * 1024;

type State = 'new' | 'starting' | 'running' | 'closed';

export class UdpTcpTransport implements Transport {
  readonly #bindAddr: string;
  readonly #bindPort: number;
  readonly #family: 4 | 6;
  readonly #clock: Clock;
  readonly #logger: Logger;

  #state: State = 'new';
  #port = 0;
  #udp: UdpSocket | undefined;
  #tcp: TcpServer | undefined;
  #onPacket: PacketHandler | undefined;
  #onStream: StreamHandler | undefined;
  readonly #streams = new Set<TcpStream>();
  /** Dials still connecting, with the function that aborts each when the transport closes. */
  readonly #pendingDials = new Map<TcpSocket, () => void>();
  #closing: Promise<void> | undefined;

  constructor(options: UdpTcpTransportOptions) {
    const family = isIP(options.bindAddr);
    if (family === 0) {
      throw new InvalidArgumentError(
        `bind address must be a textual IPv4 or IPv6 address, got ${JSON.stringify(options.bindAddr)}`,
      );
    }
    if (!Number.isInteger(options.bindPort) || options.bindPort < 0 || options.bindPort > 65535) {
      throw new InvalidArgumentError(`bind port must be an integer from 0 to 65535, got ${options.bindPort}`);
    }
    this.#bindAddr = options.bindAddr;
    this.#bindPort = options.bindPort;
    this.#family = family as 4 | 6;
    this.#clock = options.clock ?? new SystemClock();
    this.#logger = (options.logger ?? silentLogger).child({ component: 'memberlist' });
  }

  get boundAddress(): Address {
    return { host: this.#bindAddr, port: this.#port === 0 ? this.#bindPort : this.#port };
  }

  async start(onPacket: PacketHandler, onStream: StreamHandler): Promise<void> {
    if (this.#state === 'closed') throw new NotRunningError('cannot start: transport is closed');
    if (this.#state !== 'new') throw new TypeError('transport was already started');
    this.#state = 'starting';
    this.#onPacket = onPacket;
    this.#onStream = onStream;

    const { tcp, udp } = await this.#bindBoth();
    if (this.#state !== 'starting') {
      // close() ran while the sockets were binding.
      await Promise.all([closeServer(tcp), closeUdp(udp)]);
      throw new NotRunningError('transport was closed while starting');
    }

    this.#tcp = tcp;
    this.#udp = udp;
    this.#port = (tcp.address() as { port: number }).port;
    this.#state = 'running';
    this.#setReceiveBuffer(udp);
    udp.on('message', (msg, rinfo) => this.#receivePacket(msg, rinfo));
    udp.on('error', (err) => this.#logger.error({ error: err }, 'UDP socket error'));
    tcp.on('connection', (socket) => this.#acceptStream(socket));
    tcp.on('error', (err) => this.#logger.error({ error: err }, 'TCP listener error'));
  }

  sendPacket(to: Address, data: Uint8Array): Promise<void> {
    const udp = this.#udp;
    if (this.#state !== 'running' || udp === undefined) {
      return Promise.reject(
        new NotRunningError(`cannot send packet to ${formatAddress(to)}: transport is not running`),
      );
    }
    let host: string;
    try {
      checkPort(to);
      host = this.#udpTargetHost(to);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      udp.send(data, to.port, host, (err) => {
        if (err) {
          reject(
            new NetworkError(`send packet to ${formatAddress(to)} failed: ${err.message}`, { cause: err }),
          );
        } else {
          resolve();
        }
      });
    });
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    if (this.#state !== 'running') {
      return Promise.reject(
        new NotRunningError(`cannot dial ${formatAddress(to)}: transport is not running`),
      );
    }
    try {
      checkPort(to);
      if (isIP(to.host) === 0) {
        throw new InvalidArgumentError(
          `dial address must be a textual IP address, got ${JSON.stringify(to.host)}`,
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }

    return new Promise<Stream>((resolve, reject) => {
      const socket = tcpConnect({ host: to.host, port: to.port });
      let settled = false;
      const finish = (err: Error | undefined) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        this.#pendingDials.delete(socket);
        socket.off('error', onError);
        if (err !== undefined) {
          socket.destroy();
          reject(err);
          return;
        }
        resolve(this.#track(socket, { host: normalizeHost(to.host), port: to.port }));
      };
      const onError = (err: Error) =>
        finish(new NetworkError(`dial ${formatAddress(to)} failed: ${err.message}`, { cause: err }));
      const timer = this.#clock.setTimeout(
        () => finish(new TimeoutError(`dial ${formatAddress(to)} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#pendingDials.set(socket, () =>
        finish(new NotRunningError(`dial ${formatAddress(to)} aborted: transport closed`)),
      );
      socket.on('error', onError);
      socket.once('connect', () => finish(undefined));
    });
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#state = 'closed';
    this.#closing = (async () => {
      for (const abort of [...this.#pendingDials.values()]) abort();
      for (const stream of [...this.#streams]) stream.close();
      const closing: Promise<void>[] = [];
      if (this.#tcp !== undefined) closing.push(closeServer(this.#tcp));
      if (this.#udp !== undefined) closing.push(closeUdp(this.#udp));
      await Promise.all(closing);
    })();
    return this.#closing;
  }

  /**
   * Binds TCP first, then UDP on the same port. With port 0 the kernel picks the TCP port, and
   * UDP may find that number taken; then both are released and another port is tried.
   */
  async #bindBoth(): Promise<{ tcp: TcpServer; udp: UdpSocket }> {
    const attempts = this.#bindPort === 0 ? PORT_ZERO_BIND_ATTEMPTS : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const tcp = await listenTcp(this.#bindAddr, this.#bindPort);
      const port = (tcp.address() as { port: number }).port;
      try {
        const udp = await bindUdp(this.#family === 6 ? 'udp6' : 'udp4', this.#bindAddr, port);
        return { tcp, udp };
      } catch (err) {
        lastError = err;
        await closeServer(tcp);
        this.#logger.debug({ port, error: err }, 'UDP port taken, retrying bind');
      }
    }
    throw new NetworkError(
      `failed to bind UDP on ${formatAddress({ host: this.#bindAddr, port: this.#bindPort })} after ${attempts} attempts: ${errorMessage(lastError)}`,
      { cause: lastError },
    );
  }

  #setReceiveBuffer(udp: UdpSocket): void {
    for (let size = UDP_RECV_BUFFER_SIZE; size >= 1024; size = Math.floor(size / 2)) {
      try {
        udp.setRecvBufferSize(size);
        this.#logger.debug({ requested: size, granted: udp.getRecvBufferSize() }, 'UDP receive buffer set');
        return;
      } catch {
        // The OS rejected this size; try half of it.
      }
    }
    this.#logger.warn('failed to set any UDP receive buffer size; using the OS default');
  }

  #receivePacket(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length === 0) return;
    const from = { host: normalizeHost(rinfo.address), port: rinfo.port };
    const packet = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    try {
      this.#onPacket!(packet, from, this.#clock.now());
    } catch (err) {
      this.#logger.error({ from: formatAddress(from), error: err }, 'packet handler threw');
    }
  }

  #acceptStream(socket: TcpSocket): void {
    if (this.#state !== 'running' || socket.remoteAddress === undefined || socket.remotePort === undefined) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const remote = { host: normalizeHost(socket.remoteAddress), port: socket.remotePort };
    const stream = this.#track(socket, remote);
    this.#logger.debug(`Stream connection from=${formatAddress(remote)}`);
    try {
      this.#onStream!(stream);
    } catch (err) {
      this.#logger.error({ from: formatAddress(remote), error: err }, 'stream handler threw');
      stream.close();
    }
  }

  #track(socket: TcpSocket, remote: Address): TcpStream {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
    const stream = new TcpStream(socket, remote, () => this.#streams.delete(stream));
    this.#streams.add(stream);
    return stream;
  }

  /** Picks the address form the UDP socket's family can send to. */
  #udpTargetHost(to: Address): string {
    const family = isIP(to.host);
    if (family === 0) {
      throw new InvalidArgumentError(
        `packet address must be a textual IP address, got ${JSON.stringify(to.host)}`,
      );
    }
    if (this.#family === 6) {
      // An IPv6 socket bound to a dual-stack address reaches IPv4 peers through mapped addresses.
      return family === 4 ? `::ffff:${to.host}` : to.host;
    }
    const host = normalizeHost(to.host);
    if (!isIPv4(host)) {
      throw new NetworkError(
        `cannot send packet to IPv6 address ${formatAddress(to)} from IPv4 bind address ${this.#bindAddr}`,
      );
    }
    return host;
  }
}

/**
 * A TCP connection seen through the `Stream` contract. Incoming chunks queue until read; the
 * socket pauses while more than STREAM_PAUSE_BYTES are queued.
 */
class TcpStream implements Stream {
  readonly remote: Address;
  readonly #socket: TcpSocket;
  readonly #onClosed: () => void;
  readonly #queue: ReadQueue;

  constructor(socket: TcpSocket, remote: Address, onClosed: () => void) {
    this.remote = remote;
    this.#socket = socket;
    this.#onClosed = onClosed;
    this.#queue = new ReadQueue(remote);

    socket.on('data', (data: Buffer) => {
      this.#queue.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (this.#queue.queuedBytes > STREAM_PAUSE_BYTES) this.#socket.pause();
    });
    socket.on('end', () => this.#queue.end());
    socket.on('error', (err) => {
      this.#queue.fail(
        new NetworkError(`stream with ${formatAddress(remote)} failed: ${err.message}`, { cause: err }),
      );
    });
    socket.on('close', () => {
      if (!this.#queue.peerEnded) {
        this.#queue.fail(new NetworkError(`stream with ${formatAddress(remote)} closed unexpectedly`));
      }
      this.#onClosed();
    });
  }

  read(): Promise<Uint8Array | null> {
    const result = this.#queue.read();
    if (this.#socket.isPaused() && this.#queue.queuedBytes <= STREAM_PAUSE_BYTES / 2) this.#socket.resume();
    return result;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#queue.closed) return Promise.reject(this.#queue.closedError());
    const failed = this.#queue.error;
    if (failed !== undefined) return Promise.reject(failed);
    return new Promise<void>((resolve, reject) => {
      this.#socket.write(data, (err) => {
        if (err) {
          reject(
            new NetworkError(`write to ${formatAddress(this.remote)} failed: ${err.message}`, { cause: err }),
          );
        } else {
          resolve();
        }
      });
    });
  }

  close(): void {
    if (this.#queue.closed) return;
    this.#queue.close();
    this.#socket.destroy();
  }
}

function listenTcp(host: string, port: number): Promise<TcpServer> {
  return new Promise((resolve, reject) => {
    const server = tcpServer();
    const onError = (err: Error) =>
      reject(
        new NetworkError(`failed to listen on TCP ${formatAddress({ host, port })}: ${err.message}`, {
          cause: err,
        }),
      );
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

function bindUdp(type: SocketType, host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type, reuseAddr: false });
    const onError = (err: Error) => {
      closeUdp(socket);
      reject(
        new NetworkError(`failed to bind UDP ${formatAddress({ host, port })}: ${err.message}`, {
          cause: err,
        }),
      );
    };
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function closeServer(server: TcpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // close() throws ERR_SOCKET_DGRAM_NOT_RUNNING when the socket is already closed.
      resolve();
    }
  });
}

function checkPort(to: Address): void {
  if (!Number.isInteger(to.port) || to.port < 1 || to.port > 65535) {
    throw new InvalidArgumentError(
      `port must be an integer from 1 to 65535, got ${to.port} for host ${to.host}`,
    );
  }
}
