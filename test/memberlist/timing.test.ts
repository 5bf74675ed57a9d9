import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  expectedConfirmations,
  pushPullScale,
  retransmitLimit,
  suspicionRemaining,
  suspicionTimeout,
} from '../../src/memberlist/timing.js';

describe('memberlist timing formulas', () => {
  it('retransmit limit follows mult × ceil(log10(n + 1))', () => {
    const table: [number, number][] = [
      [1, 4],
      [9, 4],
      [10, 8],
      [99, 8],
      [100, 12],
      [999, 12],
    ];
    for (const [n, want] of table) assert.equal(retransmitLimit(4, n), want, `n=${n}`);
  });

  it('suspicion minimum timeout for LAN profile', () => {
    const table: [number, number][] = [
      [1, 4000],
      [5, 4000],
      [10, 4000],
      [100, 8000],
      [1000, 12000],
      [50, 6792],
    ];
    for (const [n, want] of table) assert.equal(suspicionTimeout(4, n, 1000), want, `n=${n}`);
  });

  it('push/pull interval scales above 32 nodes', () => {
    assert.equal(pushPullScale(30_000, 1), 30_000);
    assert.equal(pushPullScale(30_000, 32), 30_000);
    assert.equal(pushPullScale(30_000, 33), 60_000);
    assert.equal(pushPullScale(30_000, 64), 60_000);
    assert.equal(pushPullScale(30_000, 65), 90_000);
    assert.equal(pushPullScale(30_000, 128), 90_000);
    assert.equal(pushPullScale(30_000, 129), 120_000);
  });

  it('expected confirmations need n - 2 >= k', () => {
    assert.equal(expectedConfirmations(4, 3), 0);
    assert.equal(expectedConfirmations(4, 4), 2);
    assert.equal(expectedConfirmations(4, 100), 2);
    assert.equal(expectedConfirmations(3, 3), 1);
  });

  it('suspicion timeout shrinks with confirmations', () => {
    assert.equal(suspicionRemaining(0, 2, 4000, 24000), 24000);
    assert.equal(suspicionRemaining(1, 2, 4000, 24000), 11381);
    assert.equal(suspicionRemaining(2, 2, 4000, 24000), 4000);
    assert.equal(suspicionRemaining(5, 2, 4000, 24000), 4000);
    assert.equal(suspicionRemaining(3, 0, 4000, 24000), 4000);
  });
});
