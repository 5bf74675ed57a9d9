import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Keyring } from '../../src/security/keyring.js';
import { advanceUntil, createMemoryCluster, type MemoryCluster } from '../helpers/memory-cluster.js';

const clusters: MemoryCluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.shutdown()));
});

function allSeeAlive(c: MemoryCluster, except?: string): boolean {
  const expected = c.nodes.filter((n) => n.options.name !== except).length;
  return c.nodes
    .filter((n) => n.options.name !== except)
    .every((n) => n.members().filter((m) => m.name !== except && m.state === 'alive').length === expected);
}

describe('memberlist cluster in memory', () => {
  it('five nodes converge', async () => {
    const c = await createMemoryCluster({ size: 5, seed: 7, profile: 'lan' });
    clusters.push(c);
    assert.deepEqual(c.joinErrors, [undefined, undefined, undefined, undefined, undefined]);
    const took = await advanceUntil(c.clock, () => allSeeAlive(c), 10_000);
    assert.ok(took <= 10_000);
    for (const n of c.nodes) assert.equal(n.numMembers(), 5);
  });

  it('crashed node is marked dead and leave is seen as left', async () => {
    const c = await createMemoryCluster({ size: 6, seed: 3, profile: 'lan' });
    clusters.push(c);
    await advanceUntil(c.clock, () => allSeeAlive(c), 10_000);

    const crashed = c.nodes[5]!;
    c.network.isolate(c.hostOf(5));
    const start = c.clock.now();
    await advanceUntil(
      c.clock,
      () => c.nodes.slice(0, 5).every((n) => n.getNode('node-5')?.state === 'dead'),
      60_000,
    );
    const elapsed = c.clock.now() - start;
    // n = 6 in LAN: suspicion min 4 s, max 24 s; plus a probe round and gossip spread.
    assert.ok(elapsed >= 4_000, `dead after ${elapsed} ms, before the minimum suspicion timeout`);
    assert.ok(elapsed <= 24_000 + 6_000, `dead after ${elapsed} ms`);
    await crashed.shutdown();

    const leaver = c.nodes[4]!;
    const leaving = leaver.leave(5_000);
    let left = false;
    leaving.then(() => {
      left = true;
    });
    await advanceUntil(c.clock, () => left, 10_000, 10);
    await advanceUntil(
      c.clock,
      () => c.nodes.slice(0, 4).every((n) => n.getNode('node-4')?.state === 'left'),
      10_000,
    );
    const falseDead = c.events.filter((e) => e.kind === 'leave' && e.node !== 'node-5' && e.state === 'dead');
    assert.deepEqual(falseDead, []);
  });

  it('encrypted cluster converges and rejects a node without the key', async () => {
    const key = new Uint8Array(32).fill(7);
    const other = new Uint8Array(32).fill(9);
    const c = await createMemoryCluster({
      size: 4,
      seed: 11,
      keyring: (i) => (i === 3 ? new Keyring([other], other) : new Keyring([key], key)),
    });
    clusters.push(c);
    assert.match(String(c.joinErrors[3]), /Failed to join 127.1.0.1: .*keys of the two nodes likely differ/);
    assert.equal(c.joinErrors[1], undefined);
    await advanceUntil(c.clock, () => c.nodes.slice(0, 3).every((n) => n.numMembers() === 3), 10_000);
    await c.clock.advance(10_000);
    assert.equal(c.nodes[3]!.numMembers(), 1, 'node with another key must stay alone');
    for (const n of c.nodes.slice(0, 3)) assert.equal(n.getNode('node-3'), undefined);
  });

  it('tag update propagates as update event', async () => {
    const c = await createMemoryCluster({ size: 3, seed: 5 });
    clusters.push(c);
    await advanceUntil(c.clock, () => allSeeAlive(c), 10_000);
    const before = c.nodes[1]!.getNode('node-0')!.incarnation;
    const updating = c.nodes[0]!.updateNode(5_000);
    let done = false;
    updating.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    await advanceUntil(c.clock, () => done, 10_000, 10);
    await advanceUntil(c.clock, () => (c.nodes[1]!.getNode('node-0')?.incarnation ?? 0) > before, 5_000);
  });
});

describe('memberlist protocol versions', () => {
  it('incompatible delegate version is refused naming both ranges', async () => {
    const c = await createMemoryCluster({ size: 1, seed: 21 });
    clusters.push(c);
    const { Memberlist } = await import('../../src/memberlist/memberlist.js');
    const { SeededRng } = await import('../../src/util/rng.js');
    const oldNode = await Memberlist.create(
      {
        name: 'old-node',
        bindAddr: '127.1.9.1',
        bindPort: 7946,
        delegateProtocolMin: 6,
        delegateProtocolMax: 7,
        delegateProtocolVersion: 7,
      },
      { transport: c.network.createTransport('127.1.9.1', 7946), clock: c.clock, rng: new SeededRng(3) },
    );
    const joining = oldNode.join(['127.1.0.1:7946']);
    let outcome: unknown;
    joining.then(
      () => {
        outcome = 'joined';
      },
      (err: unknown) => {
        outcome = err;
      },
    );
    await advanceUntil(c.clock, () => outcome !== undefined, 10_000, 10);
    await oldNode.shutdown();
    assert.match(
      String(outcome),
      /delegate protocol version \(\d\) is incompatible: \[\d, \d\] \(it understands \[\d, \d\], this node understands \[\d, \d\]\)/,
    );
    assert.equal(c.nodes[0]!.getNode('old-node'), undefined, 'nothing was merged');
  });
});

describe('memberlist hostile packets', () => {
  it('LZW bomb in a packet stops at the packet cap', async () => {
    const lines: string[] = [];
    const c = await createMemoryCluster({ size: 2, seed: 31, log: (i, l) => i === 0 && lines.push(l) });
    clusters.push(c);
    await advanceUntil(c.clock, () => allSeeAlive(c), 10_000);

    // 300,000 'a' bytes compress to a few KB of LZW; the packet cap is 256 KiB.
    const { compressMessage, encodeCompound } = await import('../../src/codec/framing.js');
    const bomb = compressMessage(new Uint8Array(300_000).fill(0x61));
    const attacker = c.network.createTransport('127.1.7.7', 7946);
    await attacker.start(
      () => {},
      (s) => s.close(),
    );
    await attacker.sendPacket({ host: c.hostOf(0), port: 7946 }, encodeCompound([bomb, bomb]));
    await c.clock.advance(100);
    await attacker.close();

    assert.ok(
      lines.some((l) => /Failed to decode compound part: .*exceeds the limit of 262144/.test(l)),
      lines.filter((l) => l.includes('WARN')).join('\n'),
    );
    await c.clock.advance(5_000);
    assert.ok(allSeeAlive(c), 'the cluster is unaffected');
  });
});
