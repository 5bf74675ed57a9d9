import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemberEventCoalescer, UserEventCoalescer } from '../../src/serf/coalesce.js';
import type { Member, MemberEventType, QueryEvent, SerfEvent, UserEvent } from '../../src/serf/events.js';
import { ManualClock } from '../../src/util/clock.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

function member(name: string, tags: Record<string, string> = {}): Member {
  return {
    name,
    addr: '10.0.0.1',
    port: 7946,
    tags,
    status: 'alive',
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  };
}

function memberEvent(type: MemberEventType, ...names: string[]): SerfEvent {
  return { type, members: names.map((name) => member(name)) };
}

function userEvent(name: string, ltime: number, payload: string, coalesce = true): UserEvent {
  return { type: 'user', ltime, name, payload: new TextEncoder().encode(payload), coalesce };
}

function queryEvent(): QueryEvent {
  return {
    type: 'query',
    ltime: 1,
    name: 'uptime',
    payload: new Uint8Array(0),
    id: 1,
    deadline: 0,
    sourceNode: 'node-a',
    respond: async () => {},
  };
}

/** Reduces emitted events to `type:member,member` or `user:name@ltime=payload` strings. */
function summarize(events: SerfEvent[]): string[] {
  return events.map((e) => {
    if (e.type === 'user') return `user:${e.name}@${e.ltime}=${new TextDecoder().decode(e.payload)}`;
    if (e.type === 'query') return `query:${e.name}`;
    return `${e.type}:${e.members.map((m) => m.name).join(',')}`;
  });
}

function memberHarness(coalescePeriodMs = 3000, quiescentPeriodMs = 1000) {
  const clock = new ManualClock();
  const emitted: SerfEvent[] = [];
  const coalescer = new MemberEventCoalescer({ clock, coalescePeriodMs, quiescentPeriodMs }, (e) =>
    emitted.push(e),
  );
  return { clock, emitted, coalescer };
}

function userHarness(coalescePeriodMs = 3000, quiescentPeriodMs = 1000) {
  const clock = new ManualClock();
  const emitted: SerfEvent[] = [];
  const coalescer = new UserEventCoalescer({ clock, coalescePeriodMs, quiescentPeriodMs }, (e) =>
    emitted.push(e),
  );
  return { clock, emitted, coalescer };
}

describe('MemberEventCoalescer', () => {
  test('join then leave delivers only the leave', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    await clock.advance(500);
    coalescer.handle(memberEvent('member-leave', 'a'));
    assert.deepEqual(summarize(emitted), []);
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['member-leave:a']);
  });

  test('three joins become one event', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    coalescer.handle(memberEvent('member-join', 'b'));
    coalescer.handle(memberEvent('member-join', 'c'));
    await clock.advance(1000);
    assert.equal(emitted.length, 1);
    assert.deepEqual(summarize(emitted), ['member-join:a,b,c']);
  });

  test('mixed types give one event per type', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a', 'b'));
    coalescer.handle(memberEvent('member-failed', 'c'));
    coalescer.handle(memberEvent('member-join', 'd'));
    coalescer.handle(memberEvent('member-reap', 'e'));
    coalescer.handle(memberEvent('member-failed', 'b'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['member-join:a,d', 'member-failed:c,b', 'member-reap:e']);
  });

  test('latest member object is delivered', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle({ type: 'member-update', members: [member('a', { role: 'old' })] });
    coalescer.handle({ type: 'member-update', members: [member('a', { role: 'new' })] });
    await clock.advance(1000);
    assert.equal(emitted.length, 1);
    const event = emitted[0]!;
    assert.ok(event.type === 'member-update');
    assert.deepEqual(event.members[0]!.tags, { role: 'new' });
  });

  test('quiescent timer flushes after the last event', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    await clock.advance(900);
    coalescer.handle(memberEvent('member-join', 'b'));
    await clock.advance(999);
    assert.deepEqual(summarize(emitted), []);
    await clock.advance(1);
    assert.deepEqual(summarize(emitted), ['member-join:a,b']);
    assert.equal(clock.pending, 0);
  });

  test('period timer flushes a steady stream', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    // One event every 600 ms (at 0, 600, ..., 2400) keeps the 1 s quiescent timer from firing.
    for (let i = 0; i < 5; i++) {
      if (i > 0) await clock.advance(600);
      coalescer.handle(memberEvent('member-join', `n${i}`));
    }
    await clock.advance(599);
    assert.deepEqual(summarize(emitted), []);
    // The period timer fires 3000 ms after the first event.
    await clock.advance(1);
    assert.deepEqual(summarize(emitted), ['member-join:n0,n1,n2,n3,n4']);
    assert.equal(clock.pending, 0);
  });

  test('timers restart after a flush', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['member-join:a']);

    // A new burst gets a full period again, counted from its first event.
    await clock.advance(5000);
    for (let i = 0; i < 6; i++) {
      coalescer.handle(memberEvent('member-join', `b${i}`));
      await clock.advance(500);
    }
    assert.deepEqual(summarize(emitted), ['member-join:a', 'member-join:b0,b1,b2,b3,b4,b5']);
  });

  test('same type as last delivered is skipped', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a', 'b'));
    await clock.advance(1000);
    coalescer.handle(memberEvent('member-join', 'a'));
    coalescer.handle(memberEvent('member-join', 'c'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['member-join:a,b', 'member-join:c']);
  });

  test('join, leave, join across a window delivers nothing new', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    await clock.advance(1000);
    // The member left and came back within one window: its latest type is join again.
    coalescer.handle(memberEvent('member-leave', 'a'));
    coalescer.handle(memberEvent('member-join', 'a'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['member-join:a']);
  });

  test('update is always delivered', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-update', 'a'));
    await clock.advance(1000);
    coalescer.handle(memberEvent('member-update', 'a'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['member-update:a', 'member-update:a']);
  });

  test('non-member events pass through at once', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    coalescer.handle(userEvent('deploy', 1, 'x'));
    coalescer.handle(queryEvent());
    assert.deepEqual(summarize(emitted), ['user:deploy@1=x', 'query:uptime']);
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['user:deploy@1=x', 'query:uptime', 'member-join:a']);
  });

  test('flush delivers now and clears timers', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-failed', 'a'));
    coalescer.flush();
    assert.deepEqual(summarize(emitted), ['member-failed:a']);
    assert.equal(clock.pending, 0);
    coalescer.flush();
    assert.equal(emitted.length, 1);
  });

  test('stop drops collected events and cancels timers', async () => {
    const { clock, emitted, coalescer } = memberHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    coalescer.stop();
    assert.equal(clock.pending, 0);
    await clock.advance(5000);
    coalescer.handle(memberEvent('member-join', 'b'));
    coalescer.handle(userEvent('deploy', 1, 'x'));
    coalescer.flush();
    coalescer.stop();
    assert.deepEqual(emitted, []);
  });

  test('non-positive periods are rejected', () => {
    const clock = new ManualClock();
    const emit = () => {};
    assert.throws(
      () => new MemberEventCoalescer({ clock, coalescePeriodMs: 0, quiescentPeriodMs: 1000 }, emit),
      InvalidArgumentError,
    );
    assert.throws(
      () => new MemberEventCoalescer({ clock, coalescePeriodMs: 3000, quiescentPeriodMs: Number.NaN }, emit),
      InvalidArgumentError,
    );
  });
});

describe('UserEventCoalescer', () => {
  test('keeps the highest LTime per name', async () => {
    const { clock, emitted, coalescer } = userHarness();
    coalescer.handle(userEvent('deploy', 5, 'v5'));
    coalescer.handle(userEvent('deploy', 7, 'v7'));
    coalescer.handle(userEvent('deploy', 6, 'v6'));
    coalescer.handle(userEvent('restart', 2, 'r2'));
    coalescer.handle(userEvent('restart', 1, 'r1'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['user:deploy@7=v7', 'user:restart@2=r2']);
  });

  test('keeps every event sharing the highest LTime', async () => {
    const { clock, emitted, coalescer } = userHarness();
    coalescer.handle(userEvent('deploy', 3, 'a'));
    coalescer.handle(userEvent('deploy', 4, 'b'));
    coalescer.handle(userEvent('deploy', 4, 'c'));
    coalescer.handle(userEvent('deploy', 3, 'd'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['user:deploy@4=b', 'user:deploy@4=c']);
  });

  test('coalesce=false passes through at once', async () => {
    const { clock, emitted, coalescer } = userHarness();
    coalescer.handle(userEvent('deploy', 3, 'kept'));
    coalescer.handle(userEvent('deploy', 9, 'direct', false));
    assert.deepEqual(summarize(emitted), ['user:deploy@9=direct']);
    await clock.advance(1000);
    // The direct event does not replace the collected one: they are handled separately.
    assert.deepEqual(summarize(emitted), ['user:deploy@9=direct', 'user:deploy@3=kept']);
  });

  test('member and query events pass through at once', () => {
    const { emitted, coalescer } = userHarness();
    coalescer.handle(memberEvent('member-join', 'a'));
    coalescer.handle(queryEvent());
    assert.deepEqual(summarize(emitted), ['member-join:a', 'query:uptime']);
  });

  test('quiescent and period timers', async () => {
    const { clock, emitted, coalescer } = userHarness(3000, 1000);
    coalescer.handle(userEvent('a', 1, 'a1'));
    await clock.advance(999);
    assert.deepEqual(emitted, []);
    await clock.advance(1);
    assert.deepEqual(summarize(emitted), ['user:a@1=a1']);

    for (let i = 2; i <= 8; i++) {
      coalescer.handle(userEvent('a', i, `a${i}`));
      await clock.advance(500);
    }
    // Events at 1000..4000 every 500 ms: the period timer fires 3000 ms after the first one.
    assert.deepEqual(summarize(emitted), ['user:a@1=a1', 'user:a@7=a7']);
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['user:a@1=a1', 'user:a@7=a7', 'user:a@8=a8']);
  });

  test('state is cleared after each flush', async () => {
    const { clock, emitted, coalescer } = userHarness();
    coalescer.handle(userEvent('deploy', 9, 'new'));
    await clock.advance(1000);
    // An older event after a flush is still delivered: the coalescer only compares within a window.
    coalescer.handle(userEvent('deploy', 2, 'old'));
    await clock.advance(1000);
    assert.deepEqual(summarize(emitted), ['user:deploy@9=new', 'user:deploy@2=old']);
  });

  test('stop drops collected events', async () => {
    const { clock, emitted, coalescer } = userHarness();
    coalescer.handle(userEvent('deploy', 1, 'x'));
    coalescer.stop();
    await clock.advance(5000);
    assert.deepEqual(emitted, []);
    assert.equal(clock.pending, 0);
  });
});
