/**
 * A deterministic in-memory network for tests and simulations. Every delivery goes through the
 * injected `Clock`, so with a `ManualClock` nothing arrives until the test advances time, and with
 * a `SeededRng` loss and jitter repeat exactly from run to run.
 *
 * Packets may be lost (`lossRate`), delayed (`latencyMs` plus up to `jitterMs`) and reordered by
 * jitter. Streams keep their byte order. Partitions and isolation cut hosts apart: packets are
 * dropped, dials fail, and stream data that reaches a cut resets the stream on both ends.
 */

import type { Clock, TimerHandle } from '../util/clock.js';
import { InvalidArgumentError, NetworkError, NotRunningError, TimeoutError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { formatAddress, normalizeHost } from './address.js';
import { ReadQueue } from './read-queue.js';
import type { Address, PacketHandler, Stream, StreamHandler, Transport } from './types.js';

export interface MemoryNetworkOptions {
  clock: Clock;
  /** Drives loss and jitter decisions. */
  rng: Rng;
  /** One-way delay for packets, stream data and dials, in ms. @default 0 */
  latencyMs?: number;
  /** Extra random delay from 0 up to this value added per packet or stream chunk, in ms. @default 0 */
  jitterMs?: number;
  /** Probability from 0 to 1 that a packet is dropped; streams are never lossy. @default 0 */
  lossRate?: number;
}

export interface MemoryNetworkStats {
  /** Calls to `sendPacket` on any transport of this network. */
  packetsSent: number;
  /** Packets lost to `lossRate`, cut by a partition or isolation, or sent to no listener. */
  packetsDropped: number;
  /** Bytes passed to `sendPacket`. */
  bytesSent: number;
}

/** Port given to transports created with port 0, and to the dialing end of streams. */
const FIRST_EPHEMERAL_PORT = 49152;

const RESOLVED: Promise<void> = Promise.resolve();

/** Receiver callbacks that a started transport registers with the network. */
interface Endpoint {
  receivePacket(packet: Uint8Array, from: Address): void;
  acceptStream(stream: MemoryStream): void;
}

/**
 * Shared state of one network; its transports and streams hold a reference to it. Exported only
 * so that `MemoryTransport`'s constructor can name it: build transports with
 * `MemoryNetwork.createTransport`.
 */
export class Fabric {
  readonly clock: Clock;
  readonly rng: Rng;
  latencyMs: number;
  jitterMs: number;
  lossRate: number;
  readonly stats: MemoryNetworkStats = { packetsSent: 0, packetsDropped: 0, bytesSent: 0 };
  readonly endpoints = new Map<string, Endpoint>();
  /** Cut host pairs, stored in both orders as `a b`. */
  readonly blocked = new Set<string>();
  readonly isolated = new Set<string>();
  readonly #nextPort = new Map<string, number>();
  /**
   * Deliveries grouped by due time, so packets sent in the same millisecond share one clock timer.
   * Groups run in due-time order and each group in send order, so FIFO holds for equal delays.
   */
  readonly #due = new Map<number, (() => void)[]>();

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock;
    this.rng = options.rng;
    this.latencyMs = checkNonNegative('latencyMs', options.latencyMs ?? 0);
    this.jitterMs = checkNonNegative('jitterMs', options.jitterMs ?? 0);
    this.lossRate = checkRate(options.lossRate ?? 0);
  }

  /** Returns the delay for one delivery, in ms. */
  delay(): number {
    return this.jitterMs > 0 ? this.latencyMs + this.rng.next() * this.jitterMs : this.latencyMs;
  }

  /** Runs `fn` at clock time `at`, which must not be in the past. */
  scheduleAt(at: number, fn: () => void): void {
    const group = this.#due.get(at);
    if (group !== undefined) {
      group.push(fn);
      return;
    }
    this.#due.set(at, [fn]);
    this.clock.setTimeout(() => this.#runGroup(at), at - this.clock.now());
  }

  canReach(a: string, b: string): boolean {
    if (a === b) return true;
    if (this.isolated.size > 0 && (this.isolated.has(a) || this.isolated.has(b))) return false;
    return this.blocked.size === 0 || !this.blocked.has(`${a} ${b}`);
  }

  allocatePort(host: string): number {
    let port = this.#nextPort.get(host) ?? FIRST_EPHEMERAL_PORT;
    while (this.endpoints.has(endpointKey(host, port))) port = nextPort(port);
    this.#nextPort.set(host, nextPort(port));
    return port;
  }

  sendPacket(from: Address, to: Address, data: Uint8Array): void {
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
    if ((this.lossRate > 0 && this.rng.next() < this.lossRate) || !this.canReach(from.host, to.host)) {
      this.stats.packetsDropped++;
      return;
    }
    const copy = data.slice();
    const key = endpointKey(to.host, to.port);
    this.scheduleAt(this.clock.now() + this.delay(), () => {
      const endpoint = this.endpoints.get(key);
      // The check repeats at delivery so that a partition made while the packet was in flight
      // also drops it.
      if (endpoint === undefined || !this.canReach(from.host, to.host)) {
        this.stats.packetsDropped++;
        return;
      }
      endpoint.receivePacket(copy, from);
    });
  }

  #runGroup(at: number): void {
    const group = this.#due.get(at);
    this.#due.delete(at);
    if (group === undefined) return;
    // A throwing handler must not stop delivery to the rest of the group. The first error is
    // rethrown afterwards, so it still reaches the test that advanced the clock.
    let failure: { error: unknown } | undefined;
    for (const fn of group) {
      try {
        fn();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

export class MemoryNetwork {
  readonly #fabric: Fabric;

  constructor(options: MemoryNetworkOptions) {
    this.#fabric = new Fabric(options);
  }

  /** Live counters for the whole network. */
  get stats(): MemoryNetworkStats {
    return this.#fabric.stats;
  }

  /**
   * Creates a transport that will bind `host:port` when started. `host` is any textual address;
   * nothing leaves the process. Port 0 picks a free port on that host at start.
   */
  createTransport(host: string, port = 7946): MemoryTransport {
    if (host === '') throw new InvalidArgumentError('memory transport host must not be empty');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`memory transport port must be an integer from 0 to 65535, got ${port}`);
    }
    return new MemoryTransport(this.#fabric, normalizeHost(host), port);
  }

  /** Sets the packet loss probability, from 0 to 1. */
  setLossRate(rate: number): void {
    this.#fabric.lossRate = checkRate(rate);
  }

  /** Cuts every host in `a` off from every host in `b`, in both directions. Cuts accumulate. */
  partition(a: string[], b: string[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.#fabric.blocked.add(`${x} ${y}`);
        this.#fabric.blocked.add(`${y} ${x}`);
      }
    }
  }

  /** Cuts `host` off from every other host, as if it crashed without closing its sockets. */
  isolate(host: string): void {
    this.#fabric.isolated.add(host);
  }

  /** Removes every partition and every isolation. */
  heal(): void {
    this.#fabric.blocked.clear();
    this.#fabric.isolated.clear();
  }
}

type State = 'new' | 'running' | 'closed';

export class MemoryTransport implements Transport {
  readonly #fabric: Fabric;
  readonly #host: string;
  readonly #requestedPort: number;
  #port = 0;
  #state: State = 'new';
  readonly #streams = new Set<MemoryStream>();
  readonly #pendingDials = new Set<() => void>();

  /** Use `MemoryNetwork.createTransport`. */
  constructor(fabric: Fabric, host: string, port: number) {
    this.#fabric = fabric;
    this.#host = host;
    this.#requestedPort = port;
  }

  get boundAddress(): Address {
    return { host: this.#host, port: this.#port === 0 ? this.#requestedPort : this.#port };
  }

  async start(onPacket: PacketHandler, onStream: StreamHandler): Promise<void> {
    if (this.#state === 'closed') throw new NotRunningError('cannot start: transport is closed');
    if (this.#state !== 'new') throw new TypeError('transport was already started');

    const port = this.#requestedPort === 0 ? this.#fabric.allocatePort(this.#host) : this.#requestedPort;
    const key = endpointKey(this.#host, port);
    if (this.#fabric.endpoints.has(key)) {
      throw new NetworkError(
        `cannot bind ${formatAddress({ host: this.#host, port })}: address already in use`,
      );
    }
    this.#port = port;
    this.#state = 'running';
    const clock = this.#fabric.clock;
    this.#fabric.endpoints.set(key, {
      receivePacket: (packet, from) => onPacket(packet, from, clock.now()),
      acceptStream: (stream) => {
        this.#streams.add(stream);
        stream.onClose(() => this.#streams.delete(stream));
        onStream(stream);
      },
    });
  }

  sendPacket(to: Address, data: Uint8Array): Promise<void> {
    if (this.#state !== 'running') {
      return Promise.reject(
        new NotRunningError(`cannot send packet to ${formatAddress(to)}: transport is not running`),
      );
    }
    this.#fabric.sendPacket(this.boundAddress, { host: normalizeHost(to.host), port: to.port }, data);
    return RESOLVED;
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    if (this.#state !== 'running') {
      return Promise.reject(
        new NotRunningError(`cannot dial ${formatAddress(to)}: transport is not running`),
      );
    }
    const fabric = this.#fabric;
    const target = { host: normalizeHost(to.host), port: to.port };
    const delay = fabric.delay();

    return new Promise<Stream>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const abort = () => {
        timer?.cancel();
        this.#pendingDials.delete(abort);
        reject(new NotRunningError(`dial ${formatAddress(to)} aborted: transport closed`));
      };
      const connect = () => {
        this.#pendingDials.delete(abort);
        const endpoint = fabric.endpoints.get(endpointKey(target.host, target.port));
        if (!fabric.canReach(this.#host, target.host)) {
          reject(new NetworkError(`dial ${formatAddress(to)} failed: host unreachable`));
          return;
        }
        if (endpoint === undefined) {
          reject(new NetworkError(`dial ${formatAddress(to)} failed: connection refused`));
          return;
        }
        const local = { host: this.#host, port: fabric.allocatePort(this.#host) };
        const [mine, theirs] = MemoryStream.pair(fabric, local, target);
        this.#streams.add(mine);
        mine.onClose(() => this.#streams.delete(mine));
        endpoint.acceptStream(theirs);
        resolve(mine);
      };

      this.#pendingDials.add(abort);
      if (delay > timeoutMs) {
        timer = fabric.clock.setTimeout(() => {
          this.#pendingDials.delete(abort);
          reject(new TimeoutError(`dial ${formatAddress(to)} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      } else {
        timer = fabric.clock.setTimeout(connect, delay);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    if (wasRunning) this.#fabric.endpoints.delete(endpointKey(this.#host, this.#port));
    for (const abort of [...this.#pendingDials]) abort();
    for (const stream of [...this.#streams]) stream.close();
  }
}

type Delivery = { kind: 'data'; data: Uint8Array } | { kind: 'eof' };

/** One end of an in-memory connection. */
class MemoryStream implements Stream {
  readonly remote: Address;
  readonly #fabric: Fabric;
  readonly #localHost: string;
  #peer!: MemoryStream;
  readonly #queue: ReadQueue;
  /** Due time of the last chunk sent to the peer, so jitter never reorders stream bytes. */
  #lastDueAt = Number.NEGATIVE_INFINITY;
  #closeListeners: (() => void)[] = [];

  private constructor(fabric: Fabric, localHost: string, remote: Address) {
    this.#fabric = fabric;
    this.#localHost = localHost;
    this.remote = remote;
    this.#queue = new ReadQueue(remote);
  }

  /** Creates the dialer's end and the listener's end of a new connection. */
  static pair(fabric: Fabric, dialer: Address, listener: Address): [MemoryStream, MemoryStream] {
    const a = new MemoryStream(fabric, dialer.host, listener);
    const b = new MemoryStream(fabric, listener.host, dialer);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  read(): Promise<Uint8Array | null> {
    return this.#queue.read();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#queue.closed) return Promise.reject(this.#queue.closedError());
    const failed = this.#queue.error;
    if (failed !== undefined) return Promise.reject(failed);
    if (data.length > 0) this.#send({ kind: 'data', data: data.slice() });
    return RESOLVED;
  }

  close(): void {
    if (this.#queue.closed) return;
    if (this.#queue.error === undefined) this.#send({ kind: 'eof' });
    this.#queue.close();
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) listener();
  }

  #send(delivery: Delivery): void {
    const fabric = this.#fabric;
    const dueAt = Math.max(fabric.clock.now() + fabric.delay(), this.#lastDueAt);
    this.#lastDueAt = dueAt;
    fabric.scheduleAt(dueAt, () => {
      const peer = this.#peer;
      if (!fabric.canReach(this.#localHost, peer.#localHost)) {
        // Dropping bytes from the middle of a stream would corrupt it, so a cut resets the
        // connection on both ends instead.
        const reason = `connection between ${this.#localHost} and ${peer.#localHost} reset: hosts are partitioned`;
        this.#fail(reason);
        peer.#fail(reason);
        return;
      }
      peer.#receive(delivery);
    });
  }

  #receive(delivery: Delivery): void {
    if (delivery.kind === 'eof') this.#queue.end();
    else this.#queue.push(delivery.data);
  }

  #fail(reason: string): void {
    this.#queue.fail(new NetworkError(reason), true);
  }
}

function endpointKey(host: string, port: number): string {
  return `${host}|${port}`;
}

function nextPort(port: number): number {
  return port >= 65535 ? FIRST_EPHEMERAL_PORT : port + 1;
}

function checkNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a finite number of ms, 0 or more, got ${value}`);
  }
  return value;
}

function checkRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) {
    throw new InvalidArgumentError(`loss rate must be from 0 to 1, got ${rate}`);
  }
  return rate;
}
