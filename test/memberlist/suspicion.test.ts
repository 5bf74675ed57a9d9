import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Awareness } from '../../src/memberlist/awareness.js';
import { Suspicion } from '../../src/memberlist/suspicion.js';
import { ManualClock } from '../../src/util/clock.js';

describe('Suspicion', () => {
  it('fires at the maximum without confirmations', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    new Suspicion('a', 2, 4000, 24000, clock, (c) => fired.push(clock.now() + c * 0));
    await clock.advance(23_999);
    assert.deepEqual(fired, []);
    await clock.advance(1);
    assert.deepEqual(fired, [24_000]);
  });

  it('fires at the minimum when k is zero', async () => {
    const clock = new ManualClock();
    let firedAt = -1;
    new Suspicion('a', 0, 4000, 24000, clock, () => {
      firedAt = clock.now();
    });
    await clock.advance(30_000);
    assert.equal(firedAt, 4000);
  });

  it('confirmations shorten timeout', async () => {
    const clock = new ManualClock();
    let firedAt = -1;
    let count = -1;
    const s = new Suspicion('a', 2, 4000, 24000, clock, (c) => {
      firedAt = clock.now();
      count = c;
    });
    await clock.advance(1000);
    assert.equal(s.confirm('b'), true);
    assert.equal(s.confirm('b'), false, 'duplicate accuser is not a new confirmation');
    assert.equal(s.confirm('a'), false, 'first accuser does not confirm itself');
    await clock.advance(1000);
    assert.equal(s.confirm('c'), true);
    assert.equal(s.confirm('d'), false, 'no confirmations past k');
    await clock.advance(10_000);
    assert.equal(firedAt, 4000);
    assert.equal(count, 2);
  });

  it('late confirmation fires immediately', async () => {
    const clock = new ManualClock();
    let firedAt = -1;
    const s = new Suspicion('a', 1, 4000, 24000, clock, () => {
      firedAt = clock.now();
    });
    await clock.advance(5000);
    s.confirm('b');
    await clock.advance(0);
    assert.equal(firedAt, 5000);
  });

  it('cancel stops the timer', async () => {
    const clock = new ManualClock();
    let fired = false;
    const s = new Suspicion('a', 2, 4000, 24000, clock, () => {
      fired = true;
    });
    s.cancel();
    await clock.advance(100_000);
    assert.equal(fired, false);
  });
});

describe('Awareness', () => {
  it('clamps score to [0, max - 1] and scales intervals', () => {
    const a = new Awareness(8);
    a.apply(-1);
    assert.equal(a.score, 0);
    assert.equal(a.scale(1000), 1000);
    a.apply(3);
    assert.equal(a.score, 3);
    assert.equal(a.scale(1000), 4000);
    a.apply(100);
    assert.equal(a.score, 7);
    assert.equal(a.scale(500), 4000);
    a.apply(-2);
    assert.equal(a.score, 5);
  });
});
