import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { suspicionTimeout } from '../../src/memberlist/timing.js';
import { advanceUntil, createMemoryCluster, type MemoryCluster } from '../helpers/memory-cluster.js';

let cluster: MemoryCluster | undefined;
after(async () => {
  await cluster?.shutdown();
});

describe('100-node simulation, LAN profile, 10% packet loss', () => {
  it('converges and marks one crashed node dead with no false failures', async () => {
    const size = 100;
    cluster = await createMemoryCluster({ size, seed: 2026, profile: 'lan' });
    const c = cluster;

    await advanceUntil(c.clock, () => c.nodes.every((n) => n.numMembers() === size), 60_000, 200);

    c.network.setLossRate(0.1);
    // Let the lossy network run for a while before the crash: no live node may be declared dead.
    await c.clock.advance(30_000);

    const victim = 'node-42';
    c.network.isolate(c.hostOf(42));
    const crashedAt = c.clock.now();
    const observers = c.nodes.filter((n) => n.options.name !== victim);

    // Bounds for n = 100 in LAN: suspicion min 8 s, max 6 × min = 48 s; add a probe window
    // (up to 8 s with a degraded health score) and gossip spread.
    const minMs = suspicionTimeout(4, size, 1000);
    const maxMs = 6 * minMs;
    await advanceUntil(
      c.clock,
      () => observers.every((n) => n.getNode(victim)?.state === 'dead'),
      maxMs + 15_000,
      200,
    );
    const firstDead = c.events.find((e) => e.kind === 'leave' && e.node === victim && e.state === 'dead');
    assert.ok(firstDead, 'a member-dead event for the victim');
    assert.ok(firstDead.at - crashedAt >= minMs, `first declared dead after ${firstDead.at - crashedAt} ms`);

    // Keep running a little more with loss: still no false dead.
    await c.clock.advance(20_000);
    const falseDead = c.events.filter((e) => e.kind === 'leave' && e.node !== victim);
    assert.deepEqual(
      falseDead.map((e) => `${e.observer} saw ${e.node} ${e.state}`),
      [],
      'no live node may be declared dead or left',
    );
    for (const n of observers) assert.equal(n.numMembers(), size - 1, `${n.options.name} member count`);
  });
});
