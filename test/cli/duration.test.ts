import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationToMs, parseGoDuration } from '../../src/cli/duration.js';

describe('parseGoDuration', () => {
  const valid: Array<[string, bigint]> = [
    ['0', 0n],
    ['-0', 0n],
    ['+0', 0n],
    ['300ms', 300_000_000n],
    ['1.5s', 1_500_000_000n],
    ['2m30s', 150_000_000_000n],
    ['1h', 3_600_000_000_000n],
    ['2h45m', 9_900_000_000_000n],
    ['10us', 10_000n],
    ['10\u00b5s', 10_000n],
    ['10\u03bcs', 10_000n],
    ['7ns', 7n],
    ['-1.5h', -5_400_000_000_000n],
    ['.5s', 500_000_000n],
    ['1.s', 1_000_000_000n],
    ['1.0000000009s', 1_000_000_000n],
    ['1h1m1s1ms1us1ns', 3_661_001_001_001n],
    ['2562047h47m16.854775807s', 9_223_372_036_854_775_807n],
  ];
  for (const [text, ns] of valid) {
    it(`parses ${text}`, () => {
      assert.equal(parseGoDuration(text), ns);
    });
  }

  const invalid: Array<[string, string]> = [
    ['', 'time: invalid duration ""'],
    ['-', 'time: invalid duration "-"'],
    ['abc', 'time: invalid duration "abc"'],
    ['.s', 'time: invalid duration ".s"'],
    ['5', 'time: missing unit in duration "5"'],
    ['1.5.5s', 'time: missing unit in duration "1.5.5s"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['2562048h', 'time: invalid duration "2562048h"'],
  ];
  for (const [text, message] of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseGoDuration(text), { message });
    });
  }

  it('converts to milliseconds', () => {
    assert.equal(durationToMs(1_500_000_000n), 1500);
    assert.equal(durationToMs(1_500n), 0.0015);
  });
});
