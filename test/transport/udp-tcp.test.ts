import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { normalizeHost } from '../../src/transport/address.js';
import { StreamReader } from '../../src/transport/stream-reader.js';
import type { Address, Stream } from '../../src/transport/types.js';
import { UdpTcpTransport } from '../../src/transport/udp-tcp.js';
import type { Clock } from '../../src/util/clock.js';
import { InvalidArgumentError, NetworkError, TimeoutError } from '../../src/util/errors.js';
import { createLogger, type LogRecord } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';
import { transportSuite } from './transport-suite.js';

/** Resolves to why ::1 cannot be used, or undefined when an IPv6 loopback socket binds. */
async function ipv6LoopbackProblem(): Promise<string | undefined> {
  const socket = createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '::1', port: 0 }, () => resolve());
    });
    return undefined;
  } catch (err) {
    return `cannot bind UDP on ::1 (${(err as Error).message}); this machine has no IPv6 loopback`;
  } finally {
    try {
      socket.close();
    } catch {
      // The socket never bound, so there is nothing to release.
    }
  }
}

const ipv6Problem = await ipv6LoopbackProblem();
if (ipv6Problem !== undefined) {
  console.log(`# skipping IPv6 transport tests: ${ipv6Problem}`);
}

transportSuite('UdpTcp IPv4', {
  create: (port) => new UdpTcpTransport({ bindAddr: '127.0.0.1', bindPort: port }),
});

if (ipv6Problem === undefined) {
  transportSuite('UdpTcp IPv6', {
    create: (port) => new UdpTcpTransport({ bindAddr: '::1', bindPort: port }),
  });
} else {
  describe('UdpTcp IPv6 transport compliance', () => {
    it('needs an IPv6 loopback', { skip: ipv6Problem }, () => {});
  });
}

const waitOptions = { timeoutMs: 5000, intervalMs: 5 };

describe('UdpTcpTransport', () => {
  const open: UdpTcpTransport[] = [];

  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  async function start(
    host = '127.0.0.1',
    options: { clock?: Clock; records?: LogRecord[] } = {},
  ): Promise<{ t: UdpTcpTransport; packets: { packet: Uint8Array; from: Address }[]; streams: Stream[] }> {
    const logger =
      options.records === undefined ? undefined : createLogger((r) => options.records!.push(r), 'debug');
    const t = new UdpTcpTransport({ bindAddr: host, bindPort: 0, clock: options.clock, logger });
    open.push(t);
    const packets: { packet: Uint8Array; from: Address }[] = [];
    const streams: Stream[] = [];
    await t.start(
      (packet, from) => packets.push({ packet, from }),
      (stream) => streams.push(stream),
    );
    return { t, packets, streams };
  }

  it('rejects a host name as bind address', () => {
    assert.throws(() => new UdpTcpTransport({ bindAddr: 'localhost', bindPort: 0 }), InvalidArgumentError);
    assert.throws(
      () => new UdpTcpTransport({ bindAddr: '127.0.0.1', bindPort: 70000 }),
      InvalidArgumentError,
    );
  });

  it('60 KiB datagram arrives intact', async () => {
    const a = await start();
    const b = await start();
    const big = Uint8Array.from({ length: 60 * 1024 }, (_, i) => (i * 31 + 7) & 0xff);
    await a.t.sendPacket(b.t.boundAddress, big);
    const got = await waitFor(() => b.packets[0], { ...waitOptions, message: '60 KiB packet not received' });
    assert.equal(got.packet.length, big.length);
    assert.ok(Buffer.from(got.packet).equals(Buffer.from(big)), 'datagram bytes differ');
  });

  it('ignores zero-length datagrams', async () => {
    const a = await start();
    const b = await start();
    await a.t.sendPacket(b.t.boundAddress, new Uint8Array(0));
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    await waitFor(() => b.packets.length >= 1, { ...waitOptions, message: 'packet not received' });
    // Datagrams on loopback arrive in send order, so the empty one was already handled.
    assert.equal(b.packets.length, 1);
    assert.deepEqual(b.packets[0]!.packet, Uint8Array.of(1));
  });

  it('source port of packets is the bound port', async () => {
    const a = await start();
    const raw = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => raw.bind({ address: '127.0.0.1', port: 0 }, () => resolve()));
      const got = new Promise<number>((resolve) => raw.once('message', (_msg, rinfo) => resolve(rinfo.port)));
      await a.t.sendPacket({ host: '127.0.0.1', port: raw.address().port }, Uint8Array.of(1));
      assert.equal(await got, a.t.boundAddress.port);
    } finally {
      raw.close();
    }
  });

  it('many concurrent streams', async () => {
    const server = await start();
    const client = await start();
    let served = 0;
    const count = 64;

    const serveAll = waitFor(() => server.streams.length === count, {
      ...waitOptions,
      message: 'not every stream was accepted',
    }).then(() =>
      Promise.all(
        server.streams.map(async (stream) => {
          const reader = new StreamReader(stream);
          const length = await reader.readByte();
          const body = await reader.readExactly(length);
          await stream.write(body.map((b) => b ^ 0xff));
          served++;
          stream.close();
        }),
      ),
    );

    const results = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const stream = await client.t.dial(server.t.boundAddress, 5000);
        const body = Uint8Array.from({ length: i + 1 }, (_, j) => (i + j) & 0xff);
        await stream.write(Uint8Array.of(body.length, ...body));
        const reader = new StreamReader(stream);
        const reply = await reader.readExactly(body.length);
        assert.equal(await stream.read(), null);
        stream.close();
        return reply.every((b, j) => b === (body[j]! ^ 0xff));
      }),
    );
    await serveAll;
    assert.equal(served, count);
    assert.deepEqual(results, Array(count).fill(true));
  });

  it('logs accepted streams in the Go shape', async () => {
    const records: LogRecord[] = [];
    const server = await start('127.0.0.1', { records });
    const client = await start();
    const stream = await client.t.dial(server.t.boundAddress, 5000);
    const accepted = await waitFor(() => server.streams[0], {
      ...waitOptions,
      message: 'stream not accepted',
    });
    const line = records.find((r) => r.msg.startsWith('Stream connection from='));
    assert.ok(line !== undefined, 'no stream log line');
    assert.equal(line.level, 'debug');
    assert.equal(line.component, 'memberlist');
    assert.equal(line.msg, `Stream connection from=127.0.0.1:${accepted.remote.port}`);
    stream.close();
  });

  it('dial timeout gives TimeoutError', async () => {
    // A clock whose timers fire on the next microtask runs out before any TCP connect completes.
    const immediate: Clock = {
      now: () => 0,
      setTimeout: (fn) => {
        queueMicrotask(fn);
        return { cancel: () => {} };
      },
      setInterval: () => ({ cancel: () => {} }),
      sleep: () => Promise.resolve(),
    };
    const a = await start('127.0.0.1', { clock: immediate });
    const b = await start();
    await assert.rejects(a.t.dial(b.t.boundAddress, 100), (err: unknown) => {
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.message, `dial 127.0.0.1:${b.t.boundAddress.port} timed out after 100 ms`);
      return true;
    });
  });

  it('reset by peer rejects the read', async () => {
    const server = await start();
    const raw = createConnection({ host: '127.0.0.1', port: server.t.boundAddress.port });
    raw.on('error', () => {});
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    const accepted = await waitFor(() => server.streams[0], {
      ...waitOptions,
      message: 'stream not accepted',
    });
    raw.resetAndDestroy();
    await assert.rejects(accepted.read(), NetworkError);
  });

  it('IPv4 sender to IPv6 target fails clearly', async () => {
    const a = await start();
    await assert.rejects(a.t.sendPacket({ host: '::1', port: 9 }, Uint8Array.of(1)), (err: unknown) => {
      assert.ok(err instanceof NetworkError);
      assert.match(err.message, /IPv6 address \[::1\]:9/);
      return true;
    });
  });

  it('rejects non-IP packet targets and bad ports', async () => {
    const a = await start();
    await assert.rejects(
      a.t.sendPacket({ host: 'localhost', port: 9 }, Uint8Array.of(1)),
      InvalidArgumentError,
    );
    await assert.rejects(
      a.t.sendPacket({ host: '127.0.0.1', port: 0 }, Uint8Array.of(1)),
      InvalidArgumentError,
    );
    await assert.rejects(a.t.dial({ host: 'localhost', port: 9 }, 100), InvalidArgumentError);
  });

  it('start twice and start after close fail', async () => {
    const a = await start();
    await assert.rejects(
      a.t.start(
        () => {},
        () => {},
      ),
      TypeError,
    );
    await a.t.close();
    await assert.rejects(
      a.t.start(
        () => {},
        () => {},
      ),
      /closed/,
    );
  });
});

describe('normalizeHost', () => {
  it('strips the IPv4-mapped prefix', () => {
    assert.equal(normalizeHost('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeHost('::FFFF:10.1.2.3'), '10.1.2.3');
  });

  it('leaves other addresses alone', () => {
    assert.equal(normalizeHost('::1'), '::1');
    assert.equal(normalizeHost('127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeHost('::ffff:1:2'), '::ffff:1:2');
    assert.equal(normalizeHost('::ffff:'), '::ffff:');
  });
});
