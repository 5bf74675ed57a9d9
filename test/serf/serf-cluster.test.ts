import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MemberEvent, QueryEvent, UserEvent } from '../../src/serf/events.js';
import { createSerfCluster, type SerfCluster } from '../helpers/serf-cluster.js';

const clusters: SerfCluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.shutdown()));
});

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function userEvents(c: SerfCluster, i: number): UserEvent[] {
  return c.events[i]!.filter((e): e is UserEvent => e.type === 'user');
}

describe('Serf in memory', () => {
  it('members converge with tags and join events', async () => {
    const c = await createSerfCluster(3, { seed: 4, serf: { tags: { role: 'web' } } });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 3));
    for (const n of c.nodes) {
      for (const m of n.members()) assert.deepEqual(m.tags, { role: 'web' });
    }
    const joins = c.events[0]!.filter((e): e is MemberEvent => e.type === 'member-join').flatMap((e) =>
      e.members.map((m) => m.name),
    );
    assert.deepEqual(joins.sort(), ['node-0', 'node-1', 'node-2']);
  });

  it('user event delivered once to every node with Lamport times', async () => {
    const c = await createSerfCluster(4, { seed: 5 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 4));
    await c.nodes[1]!.userEvent('deploy', text('v1'), { coalesce: false });
    // Fired after node 2 saw the first event, so its Lamport time must be higher.
    await c.until(() => userEvents(c, 2).length === 1);
    await c.nodes[2]!.userEvent('deploy', text('v2'));
    await c.until(() => c.nodes.every((_, i) => userEvents(c, i).length === 2), 10_000);
    await c.clock.advance(5_000);
    for (let i = 0; i < 4; i++) {
      const got = userEvents(c, i).map((e) => `${e.name}:${str(e.payload)}:${e.ltime}`);
      assert.equal(got.length, 2, `node ${i} got ${got.join(', ')}`);
      assert.deepEqual(got.sort(), ['deploy:v1:1', 'deploy:v2:2']);
    }
    assert.equal(c.nodes[0]!.clocks().event, 3);
  });

  it('query answered by filtered nodes with acks', async () => {
    const c = await createSerfCluster(4, { seed: 6 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 4));
    for (let i = 0; i < 4; i++) {
      c.nodes[i]!.onEvent((e) => {
        if (e.type === 'query') void (e as QueryEvent).respond(text(`pong from ${i}`));
      });
    }
    const handle = c.nodes[0]!.query('ping', text('x'), {
      requestAck: true,
      filterNodes: ['node-1', 'node-3'],
      timeoutMs: 2_000,
    });
    const collected = await c.settle(handle.collect());
    assert.deepEqual(collected.acks.sort(), ['node-1', 'node-3']);
    assert.deepEqual([...collected.responses.keys()].sort(), ['node-1', 'node-3']);
    assert.equal(str(collected.responses.get('node-3')!), 'pong from 3');
  });

  it('second response is refused', async () => {
    const c = await createSerfCluster(2, { seed: 7 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 2));
    const results: string[] = [];
    c.nodes[1]!.onEvent((e) => {
      if (e.type !== 'query') return;
      const q = e as QueryEvent;
      q.respond(text('one')).then(() => results.push('ok'));
      q.respond(text('two')).catch((err: Error) => results.push(err.message));
    });
    const handle = c.nodes[0]!.query('q', null, { timeoutMs: 1_000 });
    await c.settle(handle.collect());
    assert.deepEqual(results.sort(), ['ok', 'response already sent']);
  });

  it('graceful leave is left everywhere, crash is failed, then reaped', async () => {
    const c = await createSerfCluster(4, {
      seed: 8,
      serf: { tombstoneTimeoutMs: 60_000, reconnectTimeoutMs: 60_000 },
    });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 4));

    await c.settle(c.nodes[3]!.leave());
    await c.nodes[3]!.shutdown();
    await c.until(() =>
      c.nodes.slice(0, 3).every((n) => n.members().find((m) => m.name === 'node-3')?.status === 'left'),
    );

    c.network.isolate('127.1.0.3');
    await c.until(
      () =>
        c.nodes.slice(0, 2).every((n) => n.members().find((m) => m.name === 'node-2')?.status === 'failed'),
      60_000,
    );
    await c.nodes[2]!.shutdown();

    await c.until(() => c.nodes[0]!.members().length === 2, 120_000, 500);
    const reaped = c.events[0]!.filter((e): e is MemberEvent => e.type === 'member-reap').flatMap((e) =>
      e.members.map((m) => m.name),
    );
    assert.deepEqual(reaped.sort(), ['node-2', 'node-3']);
  });

  it('force-leave turns a failed member into left', async () => {
    const c = await createSerfCluster(3, { seed: 9 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 3));
    c.network.isolate('127.1.0.3');
    await c.until(() => c.nodes[0]!.members().find((m) => m.name === 'node-2')?.status === 'failed', 60_000);
    await c.settle(c.nodes[0]!.forceLeave('node-2'));
    await c.until(() =>
      c.nodes.slice(0, 2).every((n) => n.members().find((m) => m.name === 'node-2')?.status === 'left'),
    );
  });

  it('tag change raises member-update elsewhere', async () => {
    const c = await createSerfCluster(2, { seed: 10 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 2));
    await c.settle(c.nodes[1]!.setTags({ role: 'db', zone: 'z1' }));
    await c.until(() => c.nodes[0]!.members().find((m) => m.name === 'node-1')?.tags.zone === 'z1');
    assert.ok(c.events[0]!.some((e) => e.type === 'member-update'));
  });

  it('user event size limits name the limit', async () => {
    const c = await createSerfCluster(1, { seed: 11 });
    clusters.push(c);
    await assert.rejects(
      c.nodes[0]!.userEvent('big', new Uint8Array(600)),
      /user event exceeds configured limit of 512 bytes before encoding/,
    );
    await assert.rejects(
      c.nodes[0]!.userEvent('x'.repeat(500), new Uint8Array(5)),
      /encoded user event exceeds configured limit of 512 bytes after encoding/,
    );
  });

  it('joining node gets no old events without replay', async () => {
    const c = await createSerfCluster(2, { seed: 12 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 2));
    await c.nodes[0]!.userEvent('old', null);
    await c.until(() => userEvents(c, 1).length === 1);
    const late = await c.add();
    await c.settle(late.join(['127.1.0.1:7946']));
    const replaying = await c.add();
    await c.settle(replaying.join(['127.1.0.1:7946'], { replay: true }));
    await c.clock.advance(5_000);
    assert.equal(userEvents(c, 2).length, 0, 'no replay: old event not delivered');
    assert.deepEqual(
      userEvents(c, 3).map((e) => e.name),
      ['old'],
      'replay: old event delivered once',
    );
  });
});

describe('Serf name conflicts and snapshots', () => {
  it('minority shuts down on name conflict', async () => {
    const c = await createSerfCluster(3, { seed: 13 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 3));
    const impostor = await c.add({ nodeName: 'node-1' });
    const joined = c.settle(impostor.join(['127.1.0.1:7946'])).catch(() => 0);
    await joined;
    let state = '';
    impostor.closed().then((s) => {
      state = s;
    });
    await c.until(() => state === 'shutdown', 30_000);
    assert.equal(c.nodes[1]!.state, 'alive', 'the original node-1 stays up');
  });

  it('snapshot restores clocks and peers after restart without old events', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'serf-snap-'));
    try {
      const c = await createSerfCluster(2, { seed: 14 });
      clusters.push(c);
      const snapshotPath = join(dir, 'node.snap');
      const first = await c.add({ nodeName: 'snappy', snapshotPath });
      await c.settle(first.join(['127.1.0.1:7946']));
      await c.until(() => first.numMembers() === 3);
      await c.nodes[0]!.userEvent('before-restart', null);
      await c.until(() => c.events[2]!.some((e) => e.type === 'user'));
      await c.clock.advance(2_000);
      const clocks = first.clocks();
      await first.shutdown();

      const again = await c.add({
        nodeName: 'snappy',
        snapshotPath,
        memberlist: { bindAddr: '127.1.0.3', bindPort: 7946 },
      });
      const restored = again.clocks();
      assert.ok(restored.member >= clocks.member - 1, `member clock ${restored.member} vs ${clocks.member}`);
      assert.ok(restored.event >= clocks.event, `event clock ${restored.event} vs ${clocks.event}`);
      // Rejoins the previous peers by itself, and the old event does not fire again.
      await c.until(() => again.numMembers() === 3, 30_000);
      await c.clock.advance(5_000);
      assert.equal(c.events[3]!.filter((e) => e.type === 'user').length, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Serf library conveniences', () => {
  it('leave twice waits for one leave', async () => {
    const c = await createSerfCluster(2, { seed: 15 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 2));
    const first = c.nodes[1]!.leave();
    const second = c.nodes[1]!.leave();
    await c.settle(Promise.all([first, second]));
    assert.equal(c.nodes[1]!.state, 'left');
  });

  it('coordinates give an RTT estimate', async () => {
    const c = await createSerfCluster(3, { seed: 16 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 3));
    await c.until(() => c.nodes[0]!.estimateRtt('node-1', 'node-2') !== undefined, 30_000, 200);
    const rtt = c.nodes[0]!.estimateRtt('node-0', 'node-1')!;
    assert.ok(rtt > 0, `estimated ${rtt} ms`);
    assert.ok(rtt < 100, `estimated ${rtt} ms on a 1-2 ms network`);
    assert.equal(c.nodes[0]!.estimateRtt('node-0', 'nobody'), undefined);
  });

  it('member back soon after failing counts as flap', async () => {
    const c = await createSerfCluster(3, { seed: 17, serf: { reconnectIntervalMs: 2_000 } });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 3));
    c.network.isolate('127.1.0.3');
    await c.until(() => c.nodes[0]!.members().find((m) => m.name === 'node-2')?.status === 'failed', 60_000);
    c.network.heal();
    await c.until(() => c.nodes[0]!.members().find((m) => m.name === 'node-2')?.status === 'alive', 60_000);
    assert.ok(c.nodes[0]!.flapCount >= 1, `flaps: ${c.nodes[0]!.flapCount}`);
  });
});

describe('Serf query filters from peers', () => {
  it('invalid filter regex is logged and not matched', async () => {
    const lines: string[] = [];
    const c = await createSerfCluster(2, { seed: 18, log: (i, line) => i === 1 && lines.push(line) });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 2));
    const handle = c.nodes[0]!.query('q', null, {
      requestAck: true,
      filterTags: { role: '(' },
      timeoutMs: 1_000,
    });
    const result = await c.settle(handle.collect());
    assert.deepEqual(result.acks, []);
    assert.ok(
      lines.some((l) => /\[WARN\] serf: failed to compile filter regex \(\(\): .* \(query q\)/.test(l)),
      lines.join('\n'),
    );
  });
});

describe('Serf query relays', () => {
  it('relayed copies reach the origin once per node', async () => {
    const c = await createSerfCluster(4, { seed: 19 });
    clusters.push(c);
    await c.until(() => c.nodes.every((n) => n.numMembers() === 4));
    for (let i = 1; i < 4; i++) {
      c.nodes[i]!.onEvent((e) => {
        if (e.type === 'query') void (e as QueryEvent).respond(text(`r${i}`));
      });
    }
    // With relay factor 2 each ack and response also travels through two other members.
    const sent = c.network.stats.packetsSent;
    const handle = c.nodes[0]!.query('relayed', null, { requestAck: true, relayFactor: 2, timeoutMs: 2_000 });
    const result = await c.settle(handle.collect());
    assert.deepEqual(result.acks.sort(), ['node-0', 'node-1', 'node-2', 'node-3']);
    assert.deepEqual([...result.responses.keys()].sort(), ['node-1', 'node-2', 'node-3']);
    assert.equal(str(result.responses.get('node-2')!), 'r2');
    assert.ok(c.network.stats.packetsSent - sent > 20, 'relay copies were sent');
  });
});
