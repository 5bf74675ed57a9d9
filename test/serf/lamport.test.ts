// Lamport clock rules: start at 0, increment returns the new time, witness moves past larger values.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LamportClock } from '../../src/serf/lamport.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

describe('LamportClock', () => {
  test('starts at zero', () => {
    assert.equal(new LamportClock().time(), 0);
  });

  test('increment returns the new time', () => {
    const clock = new LamportClock();
    assert.equal(clock.increment(), 1);
    assert.equal(clock.increment(), 2);
    assert.equal(clock.time(), 2);
  });

  const witnessCases: { name: string; start: number; seen: number; after: number }[] = [
    { name: 'smaller value changes nothing', start: 5, seen: 3, after: 5 },
    { name: 'equal value moves one past', start: 5, seen: 5, after: 6 },
    { name: 'larger value moves one past', start: 5, seen: 9, after: 10 },
    { name: 'zero on a fresh clock', start: 0, seen: 0, after: 1 },
    {
      name: 'largest safe integer',
      start: 1,
      seen: Number.MAX_SAFE_INTEGER,
      after: Number.MAX_SAFE_INTEGER + 1,
    },
  ];
  for (const { name, start, seen, after } of witnessCases) {
    test(`witness: ${name}`, () => {
      const clock = new LamportClock();
      for (let i = 0; i < start; i++) clock.increment();
      assert.equal(clock.time(), start);
      clock.witness(seen);
      assert.equal(clock.time(), after);
    });
  }

  test('join intent sequence', () => {
    // Sending a join intent stamps the current time and witnesses it, so the clock ends one past it.
    const clock = new LamportClock();
    clock.increment();
    const ltime = clock.time();
    clock.witness(ltime);
    assert.equal(ltime, 1);
    assert.equal(clock.time(), 2);
  });

  test('push/pull witnesses LTime minus one', () => {
    const clock = new LamportClock();
    clock.increment();
    clock.witness(7 - 1);
    assert.equal(clock.time(), 7);
  });

  test('invalid witness values are rejected', () => {
    const clock = new LamportClock();
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
      assert.throws(() => clock.witness(value), InvalidArgumentError, `witness(${value})`);
    }
    assert.equal(clock.time(), 0);
  });
});
