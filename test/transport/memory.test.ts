import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork, type MemoryTransport } from '../../src/transport/memory.js';
import { StreamReader } from '../../src/transport/stream-reader.js';
import type { Address, Stream } from '../../src/transport/types.js';
import { ManualClock, SystemClock } from '../../src/util/clock.js';
import { InvalidArgumentError, NetworkError, TimeoutError } from '../../src/util/errors.js';
import { SeededRng } from '../../src/util/rng.js';
import { transportSuite } from './transport-suite.js';

/**
 * A real-time clock whose timers keep the process alive. SystemClock unrefs its timers, so a test
 * awaiting only a memory-network delivery would let node:test's event loop run dry.
 */
class RefClock extends SystemClock {
  override setTimeout(fn: () => void, ms: number) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(timer) };
  }
}

// The compliance suite runs in real time with a small latency, so its condition waits work as
// they do for sockets.
const suiteNetwork = new MemoryNetwork({ clock: new RefClock(), rng: new SeededRng(1), latencyMs: 1 });
transportSuite('Memory', { create: (port) => suiteNetwork.createTransport('127.0.0.1', port) });

interface Node {
  t: MemoryTransport;
  packets: { packet: Uint8Array; from: Address; receivedAt: number }[];
  streams: Stream[];
}

async function node(network: MemoryNetwork, host: string, port?: number): Promise<Node> {
  const t = network.createTransport(host, port);
  const n: Node = { t, packets: [], streams: [] };
  await t.start(
    (packet, from, receivedAt) => n.packets.push({ packet, from, receivedAt }),
    (stream) => n.streams.push(stream),
  );
  return n;
}

function manualNetwork(
  options: { latencyMs?: number; jitterMs?: number; lossRate?: number; seed?: number } = {},
) {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock, rng: new SeededRng(options.seed ?? 7), ...options });
  return { clock, network };
}

describe('MemoryNetwork latency', () => {
  it('nothing arrives before advance', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 50 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    await clock.advance(49);
    assert.equal(b.packets.length, 0);
    await clock.advance(1);
    assert.equal(b.packets.length, 1);
    assert.equal(b.packets[0]!.receivedAt, 50);
    assert.deepEqual(b.packets[0]!.from, { host: '10.0.0.1', port: 7946 });
  });

  it('zero latency still waits for the clock', async () => {
    const { clock, network } = manualNetwork();
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    assert.equal(b.packets.length, 0);
    await clock.advance(0);
    assert.equal(b.packets.length, 1);
  });

  it('delivers a copy of the bytes', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 5 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    const data = Uint8Array.of(1, 2, 3);
    await a.t.sendPacket(b.t.boundAddress, data);
    data.fill(0);
    await clock.advance(5);
    assert.deepEqual(b.packets[0]!.packet, Uint8Array.of(1, 2, 3));
  });

  it('packets sent together share one timer', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 10 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    for (let i = 0; i < 1000; i++) await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(i & 0xff));
    assert.equal(clock.pending, 1);
    await clock.advance(10);
    assert.equal(b.packets.length, 1000);
    assert.deepEqual(
      b.packets.map((p) => p.packet[0]),
      Array.from({ length: 1000 }, (_, i) => i & 0xff),
    );
  });

  it('jitter spreads arrival times within bounds', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 10, jitterMs: 20 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    for (let i = 0; i < 200; i++) await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(i));
    await clock.advance(30);
    assert.equal(b.packets.length, 200);
    const times = b.packets.map((p) => p.receivedAt);
    assert.ok(Math.min(...times) >= 10);
    assert.ok(Math.max(...times) <= 30);
    assert.ok(new Set(times).size > 100, 'arrival times should vary');
    const order = b.packets.map((p) => p.packet[0]);
    assert.notDeepEqual(
      order,
      order.slice().sort((x, y) => x! - y!),
      'jitter should reorder some packets',
    );
  });

  it('dial completes after the latency', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 20 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    const result: { stream?: Stream } = {};
    const dialing = a.t.dial(b.t.boundAddress, 1000).then((s) => {
      result.stream = s;
    });
    await clock.advance(19);
    assert.equal(result.stream === undefined, true, 'dial resolved before the latency');
    assert.equal(b.streams.length, 0);
    await clock.advance(1);
    await dialing;
    assert.equal(b.streams.length, 1);
    assert.deepEqual(result.stream?.remote, b.t.boundAddress);
    assert.equal(b.streams[0]!.remote.host, '10.0.0.1');
  });

  it('dial slower than the timeout fails', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 200 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    const dialing = assert.rejects(a.t.dial(b.t.boundAddress, 100), (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.message, 'dial 10.0.0.2:7946 timed out after 100 ms');
      return true;
    });
    await clock.advance(100);
    await dialing;
    assert.equal(b.streams.length, 0);
  });

  it('dial to nobody fails after the latency', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 30 });
    const a = await node(network, '10.0.0.1');
    const result: { failure?: unknown } = {};
    const dialing = a.t.dial({ host: '10.0.0.9', port: 7946 }, 1000).catch((err: unknown) => {
      result.failure = err;
    });
    await clock.advance(29);
    assert.equal(result.failure === undefined, true, 'dial failed before the latency');
    await clock.advance(1);
    await dialing;
    assert.ok(result.failure instanceof NetworkError);
    assert.equal(result.failure.message, 'dial 10.0.0.9:7946 failed: connection refused');
  });

  it('stream data keeps order under jitter', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 5, jitterMs: 50 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    const dialing = a.t.dial(b.t.boundAddress, 1000);
    await clock.advance(55);
    const stream = await dialing;
    for (let i = 0; i < 100; i++) await stream.write(Uint8Array.of(i));
    stream.close();
    await clock.advance(100);
    const reader = new StreamReader(b.streams[0]!);
    assert.deepEqual(
      await reader.readExactly(100),
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(await reader.fill(), false);
  });
});

describe('MemoryNetwork loss', () => {
  it('drops about the configured share', async () => {
    for (const rate of [0.1, 0.3]) {
      const { clock, network } = manualNetwork({ lossRate: rate, seed: 99 });
      const a = await node(network, '10.0.0.1');
      const b = await node(network, '10.0.0.2');
      for (let i = 0; i < 10_000; i++) await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
      await clock.advance(1);
      const lost = 10_000 - b.packets.length;
      assert.ok(Math.abs(lost / 10_000 - rate) < 0.02, `lost ${lost} of 10000 at rate ${rate}`);
      assert.equal(network.stats.packetsSent, 10_000);
      assert.equal(network.stats.packetsDropped, lost);
      assert.equal(network.stats.bytesSent, 10_000);
    }
  });

  it('same seed gives the same losses', async () => {
    const survivors: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const { clock, network } = manualNetwork({ lossRate: 0.5, seed: 1234 });
      const a = await node(network, '10.0.0.1');
      const b = await node(network, '10.0.0.2');
      for (let i = 0; i < 200; i++) await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(i));
      await clock.advance(1);
      survivors.push(b.packets.map((p) => p.packet[0]!));
    }
    assert.deepEqual(survivors[0], survivors[1]);
    assert.ok(survivors[0]!.length > 50, `only ${survivors[0]!.length} of 200 survived`);
    assert.ok(survivors[0]!.length < 150, `${survivors[0]!.length} of 200 survived`);
  });

  it('setLossRate changes the rate and streams stay lossless', async () => {
    const { clock, network } = manualNetwork();
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    network.setLossRate(1);
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    const dialing = a.t.dial(b.t.boundAddress, 1000);
    await clock.advance(1);
    const stream = await dialing;
    await stream.write(Uint8Array.of(2));
    await clock.advance(1);
    assert.equal(b.packets.length, 0);
    assert.deepEqual(await b.streams[0]!.read(), Uint8Array.of(2));
    network.setLossRate(0);
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(3));
    await clock.advance(1);
    assert.equal(b.packets.length, 1);
    assert.throws(() => network.setLossRate(1.5), InvalidArgumentError);
    assert.throws(() => network.setLossRate(Number.NaN), InvalidArgumentError);
  });
});

describe('MemoryNetwork partitions', () => {
  async function three() {
    const { clock, network } = manualNetwork({ latencyMs: 1 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    const c = await node(network, '10.0.0.3');
    return { clock, network, a, b, c };
  }

  it('partition cuts both ways, heal restores', async () => {
    const { clock, network, a, b, c } = await three();
    network.partition(['10.0.0.1'], ['10.0.0.2']);
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    await b.t.sendPacket(a.t.boundAddress, Uint8Array.of(2));
    await a.t.sendPacket(c.t.boundAddress, Uint8Array.of(3));
    await c.t.sendPacket(b.t.boundAddress, Uint8Array.of(4));
    const dialing = assert.rejects(a.t.dial(b.t.boundAddress, 1000), /host unreachable/);
    await clock.advance(1);
    await dialing;
    assert.equal(a.packets.length, 0);
    assert.equal(b.packets.length, 1);
    assert.deepEqual(b.packets[0]!.packet, Uint8Array.of(4));
    assert.equal(c.packets.length, 1);
    assert.equal(network.stats.packetsDropped, 2);

    network.heal();
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(5));
    const redial = a.t.dial(b.t.boundAddress, 1000);
    await clock.advance(1);
    assert.ok(await redial);
    assert.equal(b.packets.length, 2);
  });

  it('partition drops packets in flight', async () => {
    const { clock, network, a, b } = await three();
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    network.partition(['10.0.0.2'], ['10.0.0.1']);
    await clock.advance(1);
    assert.equal(b.packets.length, 0);
    assert.equal(network.stats.packetsDropped, 1);
  });

  it('partition resets a stream with data in flight', async () => {
    const { clock, network, a, b } = await three();
    const dialing = a.t.dial(b.t.boundAddress, 1000);
    await clock.advance(1);
    const stream = await dialing;
    const accepted = b.streams[0]!;
    const pendingRead = assert.rejects(stream.read(), /reset: hosts are partitioned/);
    await stream.write(Uint8Array.of(1));
    network.partition(['10.0.0.1'], ['10.0.0.2', '10.0.0.3']);
    await clock.advance(1);
    await assert.rejects(accepted.read(), /reset: hosts are partitioned/);
    await pendingRead;
    await assert.rejects(stream.write(Uint8Array.of(2)), NetworkError);
  });

  it('isolate cuts one host from everyone', async () => {
    const { clock, network, a, b, c } = await three();
    network.isolate('10.0.0.1');
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    await c.t.sendPacket(a.t.boundAddress, Uint8Array.of(2));
    await b.t.sendPacket(c.t.boundAddress, Uint8Array.of(3));
    const dialIn = assert.rejects(b.t.dial(a.t.boundAddress, 1000), NetworkError);
    const dialOut = assert.rejects(a.t.dial(c.t.boundAddress, 1000), NetworkError);
    await clock.advance(1);
    await Promise.all([dialIn, dialOut]);
    assert.equal(a.packets.length, 0);
    assert.equal(b.packets.length, 0);
    assert.equal(c.packets.length, 1);

    network.heal();
    await c.t.sendPacket(a.t.boundAddress, Uint8Array.of(4));
    await clock.advance(1);
    assert.equal(a.packets.length, 1);
  });
});

describe('MemoryTransport', () => {
  it('closed transport receives nothing', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 5 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    await a.t.sendPacket(b.t.boundAddress, Uint8Array.of(1));
    await b.t.close();
    await clock.advance(5);
    assert.equal(b.packets.length, 0);
    assert.equal(network.stats.packetsDropped, 1);
  });

  it('port 0 picks distinct ports per host', async () => {
    const { network } = manualNetwork();
    const x = await node(network, '10.0.0.1', 0);
    const y = await node(network, '10.0.0.1', 0);
    const z = await node(network, '10.0.0.2', 0);
    assert.notEqual(x.t.boundAddress.port, y.t.boundAddress.port);
    assert.ok(x.t.boundAddress.port > 0);
    assert.ok(z.t.boundAddress.port > 0);
  });

  it('same host and port cannot bind twice', async () => {
    const { network } = manualNetwork();
    await node(network, '10.0.0.1');
    await assert.rejects(node(network, '10.0.0.1'), /10\.0\.0\.1:7946: address already in use/);
  });

  it('mapped IPv4 addresses are the same host', async () => {
    const { clock, network } = manualNetwork();
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '::ffff:10.0.0.2');
    assert.equal(b.t.boundAddress.host, '10.0.0.2');
    await a.t.sendPacket({ host: '::ffff:10.0.0.2', port: 7946 }, Uint8Array.of(1));
    await clock.advance(0);
    assert.equal(b.packets.length, 1);
  });

  it('closing a transport ends its streams', async () => {
    const { clock, network } = manualNetwork({ latencyMs: 1 });
    const a = await node(network, '10.0.0.1');
    const b = await node(network, '10.0.0.2');
    const dialing = a.t.dial(b.t.boundAddress, 1000);
    await clock.advance(1);
    const stream = await dialing;
    const pendingRead = stream.read();
    await b.t.close();
    await clock.advance(1);
    assert.equal(await pendingRead, null);
  });

  it('close aborts pending dials', async () => {
    const { network } = manualNetwork({ latencyMs: 50 });
    const a = await node(network, '10.0.0.1');
    await node(network, '10.0.0.2');
    const dialing = a.t.dial({ host: '10.0.0.2', port: 7946 }, 1000);
    await a.t.close();
    await assert.rejects(dialing, /aborted: transport closed/);
  });

  it('rejects bad options', () => {
    const clock = new ManualClock();
    const rng = new SeededRng(1);
    assert.throws(() => new MemoryNetwork({ clock, rng, latencyMs: -1 }), InvalidArgumentError);
    assert.throws(
      () => new MemoryNetwork({ clock, rng, jitterMs: Number.POSITIVE_INFINITY }),
      InvalidArgumentError,
    );
    assert.throws(() => new MemoryNetwork({ clock, rng, lossRate: 2 }), InvalidArgumentError);
    const network = new MemoryNetwork({ clock, rng });
    assert.throws(() => network.createTransport('', 1), InvalidArgumentError);
    assert.throws(() => network.createTransport('10.0.0.1', 70000), InvalidArgumentError);
  });
});
