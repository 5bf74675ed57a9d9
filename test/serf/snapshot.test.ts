import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Member, MemberEventType, QueryEvent, SerfEvent, UserEvent } from '../../src/serf/events.js';
import {
  parseSnapshot,
  type SnapshotState,
  Snapshotter,
  type SnapshotterOptions,
} from '../../src/serf/snapshot.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger, type LogRecord } from '../../src/util/logger.js';
import { loadVectors } from '../helpers/vectors.js';

function member(name: string, addr: string, port = 7946): Member {
  return {
    name,
    addr,
    port,
    tags: {},
    status: 'alive',
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  };
}

function memberEvent(type: MemberEventType, ...members: Member[]): SerfEvent {
  return { type, members };
}

function userEvent(ltime: number, name = 'deploy'): UserEvent {
  return { type: 'user', ltime, name, payload: new Uint8Array(0), coalesce: true };
}

function queryEvent(ltime: number): QueryEvent {
  return {
    type: 'query',
    ltime,
    name: 'uptime',
    payload: new Uint8Array(0),
    id: 1,
    deadline: 0,
    sourceNode: 'node-a',
    respond: async () => {},
  };
}

function state(
  nodes: [string, string][],
  lastClock: number,
  lastEventClock: number,
  lastQueryClock: number,
): SnapshotState {
  return { aliveNodes: new Map(nodes), lastClock, lastEventClock, lastQueryClock };
}

function parseCollecting(
  text: string,
  rejoinAfterLeave = false,
): { state: SnapshotState; warnings: string[] } {
  const warnings: string[] = [];
  const parsed = parseSnapshot(text, { rejoinAfterLeave, onWarning: (msg) => warnings.push(msg) });
  return { state: parsed, warnings };
}

describe('parseSnapshot of captured files', () => {
  const nodeA: [string, string] = ['node-a', '127.0.0.11:21946'];
  const nodeB: [string, string] = ['node-b', '127.0.0.12:21946'];
  const nodeC: [string, string] = ['node-c', '127.0.0.13:21946'];
  // Expected states, written from reading each file's lines.
  const expected: Record<string, { plain: SnapshotState; rejoin: SnapshotState }> = {
    'snapshot-after-b-join': {
      plain: state([nodeA, nodeB], 0, 0, 0),
      rejoin: state([nodeA, nodeB], 0, 0, 0),
    },
    'snapshot-after-c-join': {
      plain: state([nodeA, nodeB, nodeC], 1, 0, 0),
      rejoin: state([nodeA, nodeB, nodeC], 1, 0, 0),
    },
    'snapshot-after-events': {
      plain: state([nodeA, nodeB, nodeC], 2, 3, 0),
      rejoin: state([nodeA, nodeB, nodeC], 2, 3, 0),
    },
    'snapshot-after-c-failed': {
      plain: state([nodeA, nodeB], 3, 3, 6),
      rejoin: state([nodeA, nodeB], 3, 3, 6),
    },
    'snapshot-after-b-leave': {
      plain: state([nodeA], 4, 3, 6),
      rejoin: state([nodeA], 4, 3, 6),
    },
    // The file ends with "clock: 6", "leave", "clock: 7": the leave resets everything unless
    // rejoining, and the clock line after it still applies.
    'snapshot-final-after-leave': {
      plain: state([], 7, 0, 0),
      rejoin: state([nodeA], 7, 3, 6),
    },
  };

  const entries = loadVectors('files').entries.filter((e: { kind: string }) => e.kind === 'snapshot');

  test('every captured stage has an expected state', () => {
    assert.equal(entries.length, Object.keys(expected).length);
    for (const entry of entries) assert.ok(entry.stage in expected, `no expected state for ${entry.stage}`);
  });

  for (const entry of entries) {
    test(`${entry.id} (${entry.stage})`, () => {
      const text = Buffer.from(entry.b64, 'base64').toString('utf8');
      assert.equal(text, entry.text);
      const want = expected[entry.stage];
      assert.ok(want !== undefined);

      const plain = parseCollecting(text, false);
      assert.deepEqual(plain.state, want.plain);
      assert.deepEqual(plain.warnings, []);

      const rejoin = parseCollecting(text, true);
      assert.deepEqual(rejoin.state, want.rejoin);
      assert.deepEqual(rejoin.warnings, []);
    });
  }
});

describe('parseSnapshot', () => {
  test('empty text gives an empty state', () => {
    assert.deepEqual(parseCollecting('').state, state([], 0, 0, 0));
  });

  test('name is everything before the last space', () => {
    const { state: parsed } = parseCollecting('alive: my node 10.0.0.1:7946\nalive: v6 [fe80::1]:7946\n');
    assert.deepEqual(
      parsed.aliveNodes,
      new Map([
        ['my node', '10.0.0.1:7946'],
        ['v6', '[fe80::1]:7946'],
      ]),
    );
  });

  test('later alive line replaces the address', () => {
    const { state: parsed } = parseCollecting('alive: a 10.0.0.1:1\nalive: a 10.0.0.2:2\n');
    assert.deepEqual(parsed.aliveNodes, new Map([['a', '10.0.0.2:2']]));
  });

  test('not-alive removes and alive restores', () => {
    const text = 'alive: a 10.0.0.1:1\nnot-alive: a\nnot-alive: unknown\nalive: a 10.0.0.1:1\nnot-alive: a\n';
    assert.deepEqual(parseCollecting(text).state.aliveNodes, new Map());
  });

  test('clock lines take the last value, not the largest', () => {
    const { state: parsed } = parseCollecting('clock: 9\nclock: 4\nevent-clock: 8\nquery-clock: 2\n');
    assert.deepEqual(parsed, state([], 4, 8, 2));
  });

  test('comments and coordinate lines are ignored silently', () => {
    const { state: parsed, warnings } = parseCollecting('# written by hand\ncoordinate: 1 2 3\nclock: 3\n');
    assert.deepEqual(parsed, state([], 3, 0, 0));
    assert.deepEqual(warnings, []);
  });

  test('bad lines give warnings and are skipped', () => {
    const text = 'alive: nospace\nclock: abc\nevent-clock: -1\nquery-clock: 1.5\nbogus\nLEAVE\n\nclock: 2\n';
    const { state: parsed, warnings } = parseCollecting(text);
    assert.deepEqual(parsed, state([], 2, 0, 0));
    assert.deepEqual(warnings, [
      'Failed to parse address: alive: nospace',
      'Failed to convert clock time: clock: abc',
      'Failed to convert event-clock time: event-clock: -1',
      'Failed to convert query-clock time: query-clock: 1.5',
      'Unrecognized snapshot line: bogus',
      'Unrecognized snapshot line: LEAVE',
      'Unrecognized snapshot line: ',
    ]);
  });

  test('incomplete last line is ignored', () => {
    const { state: parsed, warnings } = parseCollecting('alive: a 10.0.0.1:1\nalive: b 10.0.0.2:2');
    assert.deepEqual(parsed.aliveNodes, new Map([['a', '10.0.0.1:1']]));
    assert.deepEqual(warnings, ['Ignoring incomplete last snapshot line: alive: b 10.0.0.2:2']);
  });

  test('leave resets unless rejoining, later lines apply', () => {
    const text =
      'alive: a 10.0.0.1:1\nclock: 5\nevent-clock: 6\nquery-clock: 7\nleave\nalive: b 10.0.0.2:2\nquery-clock: 9\n';
    assert.deepEqual(parseCollecting(text, false).state, state([['b', '10.0.0.2:2']], 0, 0, 9));
    assert.deepEqual(
      parseCollecting(text, true).state,
      state(
        [
          ['a', '10.0.0.1:1'],
          ['b', '10.0.0.2:2'],
        ],
        5,
        6,
        9,
      ),
    );
  });
});

describe('Snapshotter', () => {
  let dir: string;
  let fileCount = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'serf-ts-snapshot-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function nextPath(): string {
    fileCount++;
    return join(dir, `snapshot-${fileCount}`);
  }

  interface Harness {
    clock: ManualClock;
    logs: LogRecord[];
    memberClock: { value: number };
    options: SnapshotterOptions;
  }

  function harness(path: string, overrides: Partial<SnapshotterOptions> = {}): Harness {
    const clock = new ManualClock();
    const logs: LogRecord[] = [];
    const memberClock = { value: 0 };
    const options: SnapshotterOptions = {
      path,
      clock,
      logger: createLogger((record) => logs.push(record), 'trace'),
      rejoinAfterLeave: false,
      memberClock: () => memberClock.value,
      ...overrides,
    };
    return { clock, logs, memberClock, options };
  }

  test('open creates a missing file', async () => {
    const path = nextPath();
    const h = harness(path);
    const { snapshotter, state: restored } = await Snapshotter.open(h.options);
    assert.ok(existsSync(path));
    assert.equal((await stat(path)).size, 0);
    assert.deepEqual(restored, state([], 0, 0, 0));
    assert.deepEqual(snapshotter.aliveNodes(), new Map());
    await snapshotter.close();
    assert.equal(h.clock.pending, 0);
  });

  test('records lines in the reference format', async () => {
    const path = nextPath();
    const h = harness(path);
    const { snapshotter } = await Snapshotter.open(h.options);

    h.memberClock.value = 3;
    snapshotter.record(
      memberEvent('member-join', member('node-a', '10.0.0.1'), member('node-b', 'fe80::1', 8000)),
    );
    snapshotter.record(userEvent(4));
    snapshotter.record(userEvent(2));
    snapshotter.record(userEvent(4));
    snapshotter.record(queryEvent(9));
    snapshotter.record(queryEvent(9));
    h.memberClock.value = 5;
    snapshotter.record(memberEvent('member-failed', member('node-b', 'fe80::1', 8000)));
    snapshotter.record(memberEvent('member-update', member('node-a', '10.0.0.1')));
    h.memberClock.value = 6;
    snapshotter.record(memberEvent('member-reap', member('node-b', 'fe80::1', 8000)));
    snapshotter.record(memberEvent('member-join', member('node-c', '::ffff:10.0.0.3', 7000)));
    snapshotter.record(memberEvent('member-leave', member('node-c', '10.0.0.3', 7000)));
    await snapshotter.close();

    assert.equal(
      await readFile(path, 'utf8'),
      [
        'alive: node-a 10.0.0.1:7946',
        'alive: node-b [fe80::1]:8000',
        'clock: 2',
        'event-clock: 4',
        'query-clock: 9',
        'not-alive: node-b',
        'clock: 4',
        'clock: 5',
        'alive: node-c 10.0.0.3:7000',
        'not-alive: node-c',
        '',
      ].join('\n'),
    );
    assert.deepEqual(snapshotter.aliveNodes(), new Map([['node-a', '10.0.0.1:7946']]));
  });

  test('replay restores what was recorded', async () => {
    const path = nextPath();
    const first = harness(path);
    const { snapshotter } = await Snapshotter.open(first.options);
    first.memberClock.value = 8;
    snapshotter.record(memberEvent('member-join', member('a', '10.0.0.1'), member('b', '10.0.0.2')));
    snapshotter.record(memberEvent('member-join', member('c', '10.0.0.3')));
    snapshotter.record(memberEvent('member-leave', member('b', '10.0.0.2')));
    snapshotter.record(userEvent(11));
    snapshotter.record(queryEvent(13));
    await snapshotter.close();

    const second = harness(path);
    const reopened = await Snapshotter.open(second.options);
    const want = state(
      [
        ['a', '10.0.0.1:7946'],
        ['c', '10.0.0.3:7946'],
      ],
      7,
      11,
      13,
    );
    assert.deepEqual(reopened.state, want);
    assert.deepEqual(reopened.snapshotter.aliveNodes(), want.aliveNodes);

    // Restored clocks suppress lines that would not raise them.
    reopened.snapshotter.record(userEvent(11));
    reopened.snapshotter.record(queryEvent(12));
    reopened.snapshotter.record(userEvent(12));
    await reopened.snapshotter.close();
    const text = await readFile(path, 'utf8');
    assert.ok(text.endsWith('query-clock: 13\nevent-clock: 12\n'), text);
    assert.deepEqual(
      second.logs.filter((r) => r.level === 'warn'),
      [],
    );
  });

  test('flushes on the flush interval', async () => {
    const path = nextPath();
    const h = harness(path, { flushIntervalMs: 200 });
    const { snapshotter } = await Snapshotter.open(h.options);
    snapshotter.record(userEvent(1));
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), '');

    await h.clock.advance(199);
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), '');

    await h.clock.advance(1);
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), 'event-clock: 1\n');
    await snapshotter.close();
  });

  test('records the member clock every 500 ms', async () => {
    const path = nextPath();
    const h = harness(path);
    const { snapshotter } = await Snapshotter.open(h.options);

    h.memberClock.value = 1;
    await h.clock.advance(500);
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), '', 'clock 1 − 1 = 0 is not above the initial 0');

    h.memberClock.value = 4;
    await h.clock.advance(499);
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), '');
    await h.clock.advance(1);
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), 'clock: 3\n');

    await h.clock.advance(500);
    h.memberClock.value = 10;
    await h.clock.advance(500);
    await snapshotter.settled();
    assert.equal(await readFile(path, 'utf8'), 'clock: 3\nclock: 9\n');
    await snapshotter.close();
  });

  test('leave clears nodes and stops event lines', async () => {
    const path = nextPath();
    const h = harness(path);
    const { snapshotter } = await Snapshotter.open(h.options);
    h.memberClock.value = 3;
    snapshotter.record(memberEvent('member-join', member('a', '10.0.0.1')));
    snapshotter.record(userEvent(5));
    await snapshotter.leave();
    assert.equal(await readFile(path, 'utf8'), 'alive: a 10.0.0.1:7946\nclock: 2\nevent-clock: 5\nleave\n');
    assert.deepEqual(snapshotter.aliveNodes(), new Map());

    snapshotter.record(memberEvent('member-join', member('b', '10.0.0.2')));
    snapshotter.record(userEvent(6));
    snapshotter.record(queryEvent(7));
    // The member clock is still recorded after the leave, as the reference agent does.
    h.memberClock.value = 5;
    await snapshotter.close();
    assert.equal(
      await readFile(path, 'utf8'),
      'alive: a 10.0.0.1:7946\nclock: 2\nevent-clock: 5\nleave\nclock: 4\n',
    );

    const reopened = await Snapshotter.open(harness(path).options);
    assert.deepEqual(reopened.state, state([], 4, 0, 0));
    await reopened.snapshotter.close();
  });

  test('leave keeps nodes when rejoining', async () => {
    const path = nextPath();
    const h = harness(path, { rejoinAfterLeave: true });
    const { snapshotter } = await Snapshotter.open(h.options);
    h.memberClock.value = 3;
    snapshotter.record(memberEvent('member-join', member('a', '10.0.0.1')));
    snapshotter.record(userEvent(5));
    snapshotter.record(queryEvent(6));
    await snapshotter.leave();
    assert.deepEqual(snapshotter.aliveNodes(), new Map([['a', '10.0.0.1:7946']]));
    await snapshotter.close();

    const rejoining = harness(path, { rejoinAfterLeave: true });
    const reopened = await Snapshotter.open(rejoining.options);
    assert.deepEqual(reopened.state, state([['a', '10.0.0.1:7946']], 2, 5, 6));
    assert.ok(rejoining.logs.some((r) => r.msg === 'Ignoring previous leave in snapshot'));
    await reopened.snapshotter.close();

    // The same file read by an agent without rejoin gives no nodes and zero clocks.
    const reopenedPlain = await Snapshotter.open(harness(path).options);
    assert.deepEqual(reopenedPlain.state, state([], 0, 0, 0));
    await reopenedPlain.snapshotter.close();
  });

  test('compaction keeps the state and shrinks the file', async () => {
    const path = nextPath();
    const h = harness(path, { minCompactSize: 512 });
    const { snapshotter } = await Snapshotter.open(h.options);
    for (let round = 0; round < 50; round++) {
      h.memberClock.value = round + 2;
      snapshotter.record(
        memberEvent('member-join', member('stable-node', '10.0.0.1'), member(`churn-${round}`, '10.0.1.1')),
      );
      snapshotter.record(memberEvent('member-leave', member(`churn-${round}`, '10.0.1.1')));
      snapshotter.record(userEvent(round + 1));
      snapshotter.record(queryEvent(round + 100));
      // Let the flush timer write the round out, so compactions interleave with appends.
      await h.clock.advance(500);
      await snapshotter.settled();
    }
    await snapshotter.close();

    const size = (await stat(path)).size;
    // Without compaction the file would hold about 50 × (alive + alive + not-alive + 3 clocks) lines.
    assert.ok(size <= 512 + 64, `file is ${size} bytes; expected it compacted to about 512 bytes or less`);
    assert.equal(existsSync(`${path}.compact`), false);
    const compactions = h.logs.filter((r) => r.msg === 'Compacted snapshot').length;
    assert.ok(compactions >= 5, `expected at least 5 compactions, saw ${compactions}`);

    const text = await readFile(path, 'utf8');
    assert.ok(text.startsWith('alive: stable-node 10.0.0.1:7946\n'), text);
    const reopened = await Snapshotter.open(harness(path).options);
    assert.deepEqual(reopened.state, state([['stable-node', '10.0.0.1:7946']], 50, 50, 149));
    await reopened.snapshotter.close();
  });

  test('compacted file lists alive nodes then the three clocks', async () => {
    const path = nextPath();
    const h = harness(path, { minCompactSize: 0 });
    const { snapshotter } = await Snapshotter.open(h.options);
    // With a threshold of 0 every append compacts, so the file is always the compacted form.
    snapshotter.record(userEvent(3));
    snapshotter.record(queryEvent(4));
    h.memberClock.value = 6;
    snapshotter.record(memberEvent('member-join', member('a', '10.0.0.1'), member('b', '10.0.0.2')));
    await snapshotter.close();
    assert.equal(
      await readFile(path, 'utf8'),
      'alive: a 10.0.0.1:7946\nalive: b 10.0.0.2:7946\nclock: 5\nevent-clock: 3\nquery-clock: 4\n',
    );
  });

  test('close is idempotent', async () => {
    const path = nextPath();
    const h = harness(path);
    const { snapshotter } = await Snapshotter.open(h.options);
    snapshotter.record(userEvent(1));
    const first = snapshotter.close();
    const second = snapshotter.close();
    assert.equal(first, second);
    await first;
    await snapshotter.close();
    assert.equal(await readFile(path, 'utf8'), 'event-clock: 1\n');

    // Nothing is written after close, and leave is a no-op.
    snapshotter.record(userEvent(2));
    await snapshotter.leave();
    await h.clock.advance(2000);
    assert.equal(await readFile(path, 'utf8'), 'event-clock: 1\n');
    assert.equal(h.clock.pending, 0);
  });

  test('close records the member clock', async () => {
    const path = nextPath();
    const h = harness(path);
    const { snapshotter } = await Snapshotter.open(h.options);
    h.memberClock.value = 12;
    await snapshotter.close();
    assert.equal(await readFile(path, 'utf8'), 'clock: 11\n');
  });

  test('garbage file gives warnings, not a crash', async () => {
    const path = nextPath();
    const garbage = Buffer.concat([
      Buffer.from('alive: good 10.0.0.1:7946\n\u0000\u0001binary junk\nclock: many\n'),
      Buffer.from([0xff, 0xfe, 0x0a]),
      Buffer.from('event-clock: 4\nhalf a li'),
    ]);
    await writeFile(path, garbage);
    const h = harness(path);
    const { snapshotter, state: restored } = await Snapshotter.open(h.options);
    assert.deepEqual(restored, state([['good', '10.0.0.1:7946']], 0, 4, 0));
    const warnings = h.logs.filter((r) => r.level === 'warn').map((r) => r.msg);
    assert.deepEqual(warnings, [
      'Unrecognized snapshot line: \u0000\u0001binary junk',
      'Failed to convert clock time: clock: many',
      'Unrecognized snapshot line: \ufffd\ufffd',
      'Ignoring incomplete last snapshot line: half a li',
    ]);

    // The cut-short line is removed so the next record starts on a line of its own.
    snapshotter.record(userEvent(5));
    await snapshotter.close();
    const after = await readFile(path);
    assert.ok(after.subarray(-30).toString('utf8').endsWith('event-clock: 4\nevent-clock: 5\n'));
  });

  test('member clock that throws is logged', async () => {
    const path = nextPath();
    const h = harness(path, {
      memberClock: () => {
        throw new Error('clock unavailable');
      },
    });
    const { snapshotter } = await Snapshotter.open(h.options);
    assert.doesNotThrow(() => snapshotter.record(memberEvent('member-join', member('a', '10.0.0.1'))));
    await snapshotter.close();
    assert.equal(await readFile(path, 'utf8'), 'alive: a 10.0.0.1:7946\n');
    assert.ok(h.logs.some((r) => r.level === 'error' && r.fields.error === 'clock unavailable'));
  });

  test('invalid options are rejected', async () => {
    const path = nextPath();
    await assert.rejects(Snapshotter.open(harness(path, { flushIntervalMs: 0 }).options), {
      name: 'InvalidArgumentError',
    });
    await assert.rejects(Snapshotter.open(harness(path, { minCompactSize: -1 }).options), {
      name: 'InvalidArgumentError',
    });
  });
});
