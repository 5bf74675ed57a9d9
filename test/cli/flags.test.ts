import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagHelpRequested, FlagParseError, FlagSet, parseGoBool, parseGoInt } from '../../src/cli/flags.js';

function sampleFlags() {
  const flags = new FlagSet();
  return {
    flags,
    detailed: flags.bool('detailed', false),
    coalesce: flags.bool('coalesce', true),
    format: flags.string('format', 'text'),
    tags: flags.list('tag'),
    relay: flags.int('relay-factor', 0),
    timeout: flags.duration('timeout', 0n),
  };
}

describe('FlagSet.parse', () => {
  it('accepts equals, separate value and double dash', () => {
    const sample = sampleFlags();
    const rest = sample.flags.parse(['-format=json', '--tag', 'a=b', '-tag=c=d', '--relay-factor=3', 'name']);
    assert.deepEqual(rest, ['name']);
    assert.equal(sample.format.value, 'json');
    assert.deepEqual(sample.tags.value, ['a=b', 'c=d']);
    assert.equal(sample.relay.value, 3);
  });

  it('stops at the first positional argument', () => {
    const sample = sampleFlags();
    const rest = sample.flags.parse(['q1', '-timeout=1s']);
    assert.deepEqual(rest, ['q1', '-timeout=1s']);
    assert.equal(sample.timeout.value, 0n);
  });

  it('double dash ends the flags', () => {
    const sample = sampleFlags();
    assert.deepEqual(sample.flags.parse(['-detailed', '--', '-x']), ['-x']);
    assert.equal(sample.detailed.value, true);
  });

  it('a lone dash is positional', () => {
    const sample = sampleFlags();
    assert.deepEqual(sample.flags.parse(['-', '-detailed']), ['-', '-detailed']);
  });

  it('booleans never take the next argument', () => {
    const sample = sampleFlags();
    assert.deepEqual(sample.flags.parse(['-coalesce', 'false']), ['false']);
    assert.equal(sample.coalesce.value, true);
    sample.flags.parse(['-coalesce=0']);
    assert.equal(sample.coalesce.value, false);
  });

  it('durations are in nanoseconds', () => {
    const sample = sampleFlags();
    sample.flags.parse(['-timeout', '1.5s']);
    assert.equal(sample.timeout.value, 1_500_000_000n);
  });

  const errors: Array<[string[], string]> = [
    [['-bogus'], 'flag provided but not defined: -bogus'],
    [['---x'], 'bad flag syntax: ---x'],
    [['-=x'], 'bad flag syntax: -=x'],
    [['-format'], 'flag needs an argument: -format'],
    [['-detailed=xyz'], 'invalid boolean value "xyz" for -detailed: parse error'],
    [['-relay-factor=abc'], 'invalid value "abc" for flag -relay-factor: parse error'],
    [
      ['-relay-factor=9223372036854775808'],
      'invalid value "9223372036854775808" for flag -relay-factor: value out of range',
    ],
    [['-timeout=5'], 'invalid value "5" for flag -timeout: parse error'],
    [['-timeout', 'abc'], 'invalid value "abc" for flag -timeout: parse error'],
  ];
  for (const [args, message] of errors) {
    it(`rejects ${args.join(' ')}`, () => {
      assert.throws(
        () => sampleFlags().flags.parse(args),
        (error: unknown) => {
          assert.ok(error instanceof FlagParseError);
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }

  it('help flags request help with any value', () => {
    for (const args of [['-h'], ['-help'], ['--help'], ['-help=false']]) {
      assert.throws(() => sampleFlags().flags.parse(args), FlagHelpRequested);
    }
  });

  it('defining a flag twice is a programming error', () => {
    const flags = new FlagSet();
    flags.bool('x', false);
    assert.throws(() => flags.string('x', ''), TypeError);
  });
});

describe('Go number and bool parsing', () => {
  const ints: Array<[string, bigint | 'parse' | 'range']> = [
    ['0', 0n],
    ['42', 42n],
    ['-7', -7n],
    ['+7', 7n],
    ['0x1f', 31n],
    ['0X1F', 31n],
    ['0o17', 15n],
    ['017', 15n],
    ['0b101', 5n],
    ['1_000', 1000n],
    ['0x_1f', 31n],
    ['1__0', 'parse'],
    ['_1', 'parse'],
    ['1_', 'parse'],
    ['08', 'parse'],
    ['1e3', 'parse'],
    ['', 'parse'],
    ['0x', 'parse'],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
    ['9223372036854775808', 'range'],
  ];
  for (const [text, expected] of ints) {
    it(`parseGoInt ${JSON.stringify(text)}`, () => {
      assert.equal(parseGoInt(text), expected);
    });
  }

  it('parseGoBool accepts Go spellings only', () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(text), true);
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(text), false);
    for (const text of ['yes', 'tRUE', '', '2']) assert.equal(parseGoBool(text), undefined);
  });
});
