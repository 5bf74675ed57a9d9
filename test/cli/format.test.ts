import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { columnize, goJsonIndent, goJsonString, goQuote, JsonObject } from '../../src/cli/format.js';
import { coordinateDistanceSeconds, formatHostPort, formatMembersText } from '../../src/cli/output.js';
import { member } from './fake-client.js';

describe('columnize', () => {
  it('pads all but the last column', () => {
    assert.equal(columnize(['a|bb|c', 'aaa|b|cc']), 'a    bb  c\naaa  b   cc');
  });

  it('keeps trailing spaces of inner rows with an empty last cell', () => {
    assert.equal(columnize(['n1|x|', 'n22|y|z']), 'n1   x  \nn22  y  z');
  });

  it('trims cells and counts code points', () => {
    assert.equal(columnize([' é | x ', 'ab|y']), 'é   x\nab  y');
  });

  it('rows with fewer cells use the leading widths', () => {
    assert.equal(columnize(['a|b|c', 'longer|d']), 'a       b  c\nlonger  d');
  });

  it('empty input gives an empty string', () => {
    assert.equal(columnize([]), '');
  });
});

describe('Go JSON encoding', () => {
  it('escapes HTML characters and line separators', () => {
    assert.equal(
      goJsonString('<a&b>\u2028\u2029"\\\n\t\x01'),
      '"\\u003ca\\u0026b\\u003e\\u2028\\u2029\\"\\\\\\n\\t\\u0001"',
    );
  });

  it('indents nested values like MarshalIndent', () => {
    const value = new JsonObject([
      ['list', [1, 'x']],
      ['empty', []],
      ['map', JsonObject.sortedMap({ b: true, a: null, '10': 'ten', '9': 'nine' })],
      ['none', new JsonObject([])],
    ]);
    assert.equal(
      goJsonIndent(value),
      '{\n  "list": [\n    1,\n    "x"\n  ],\n  "empty": [],\n  "map": {\n    "10": "ten",\n    "9": "nine",\n    "a": null,\n    "b": true\n  },\n  "none": {}\n}',
    );
  });
});

describe('goQuote', () => {
  it('escapes like Go %q', () => {
    assert.equal(goQuote('a"b\\c\n\x00\x7fé\u00a0 '), '"a\\"b\\\\c\\n\\x00\\x7fé\\u00a0 "');
  });
});

describe('member rows', () => {
  it('formats IPv6 and IPv4-mapped addresses as Go does', () => {
    assert.equal(formatHostPort('::1', 7946), '[::1]:7946');
    assert.equal(formatHostPort('::ffff:10.0.0.1', 7946), '10.0.0.1:7946');
    assert.equal(formatHostPort('10.0.0.1', 7946), '10.0.0.1:7946');
  });

  it('no members prints an empty line', () => {
    assert.equal(formatMembersText([], true), '');
  });

  it('a member without tags has no trailing spaces', () => {
    assert.equal(formatMembersText([member('n1', '127.0.0.1', 1, {})], false), 'n1  127.0.0.1:1  alive');
  });
});

describe('coordinateDistanceSeconds', () => {
  const base = { adjustment: 0, error: 0, height: 0, vec: [0, 0] };

  it('ignores adjustments that would make the distance negative', () => {
    const a = { ...base, vec: [0.001, 0], adjustment: -0.002 };
    assert.equal(coordinateDistanceSeconds(a, base), 0.001);
  });

  it('truncates to whole nanoseconds', () => {
    const a = { ...base, vec: [1.9999999999e-9, 0] };
    assert.equal(coordinateDistanceSeconds(a, base), 1e-9);
  });

  it('rejects coordinates of different dimensions', () => {
    assert.throws(() => coordinateDistanceSeconds(base, { ...base, vec: [0] }), RangeError);
  });
});
