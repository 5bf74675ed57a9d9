import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransmitLimitedQueue } from '../../src/memberlist/broadcast-queue.js';

const msg = (len: number, fill = 1) => new Uint8Array(len).fill(fill);

describe('TransmitLimitedQueue', () => {
  it('retires a broadcast after the retransmit limit', () => {
    const q = new TransmitLimitedQueue(2, () => 5); // limit 2 × ceil(log10 6) = 2
    let finished = 0;
    q.queue({ message: msg(10), finished: () => finished++ });
    assert.equal(q.getBroadcasts(2, 1000).length, 1);
    assert.equal(q.length, 1);
    assert.equal(q.getBroadcasts(2, 1000).length, 1);
    assert.equal(q.length, 0);
    assert.equal(finished, 1);
    assert.equal(q.getBroadcasts(2, 1000).length, 0);
  });

  it('named broadcast replaces the queued one', () => {
    const q = new TransmitLimitedQueue(4, () => 3);
    let replaced = 0;
    q.queue({ name: 'n1', message: msg(5, 1), finished: () => replaced++ });
    q.queue({ name: 'n2', message: msg(5, 2) });
    q.queue({ name: 'n1', message: msg(5, 3) });
    assert.equal(q.length, 2);
    assert.equal(replaced, 1);
    const out = q.getBroadcasts(0, 100).map((m) => m[0]);
    assert.deepEqual(out.sort(), [2, 3]);
  });

  it('prefers fewest transmits then largest that fits', () => {
    const q = new TransmitLimitedQueue(4, () => 100);
    q.queue({ message: msg(50, 1) });
    q.queue({ message: msg(30, 2) });
    q.queue({ message: msg(70, 3) });
    // Budget 100 with 2 bytes overhead each: 70 (cost 72) fits, then 30 would cost 32 → 104, skip; 50 skip.
    const first = q.getBroadcasts(2, 100).map((m) => m[0]);
    assert.deepEqual(first, [3]);
    // Now message 3 has one transmit; 50 and 30 (costs 52 + 32 = 84) go first.
    const second = q.getBroadcasts(2, 100).map((m) => m[0]);
    assert.deepEqual(second, [1, 2]);
  });

  it('newest first among equal sizes', () => {
    const q = new TransmitLimitedQueue(4, () => 100);
    q.queue({ message: msg(10, 1) });
    q.queue({ message: msg(10, 2) });
    const out = q.getBroadcasts(0, 10).map((m) => m[0]);
    assert.deepEqual(out, [2]);
  });

  it('prune keeps the newest', () => {
    const q = new TransmitLimitedQueue(4, () => 3);
    for (let i = 0; i < 10; i++) q.queue({ message: msg(4, i) });
    q.prune(3);
    assert.equal(q.length, 3);
    const out = q.getBroadcasts(0, 1000).map((m) => m[0]);
    assert.deepEqual(out.sort(), [7, 8, 9]);
  });
});
