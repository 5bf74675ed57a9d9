// Go regular expressions and query filters. GO_CASES holds expression, text and the result of
// Go 1.19.8's regexp.MatchString on them ('error' when regexp.Compile rejects the expression),
// recorded by running Go; both back ends must agree with it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compileAnchoredGoRegexp,
  compileGoRegexp,
  MAX_PROGRAM_SIZE,
  matchesFilters,
  matchGoRegexp,
} from '../../src/serf/filters.js';
import { encodeNodeFilter, encodeTagFilter } from '../../src/serf/messages.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { hex } from '../helpers/vectors.js';

const GO_CASES: [string, string, boolean | 'error'][] = [
  ['(?)', 'x', true],
  ['(?:)', 'x', true],
  ['(?-)', 'x', 'error'],
  ['(?i-)', 'x', 'error'],
  ['(?-i)', 'x', true],
  ['(?i)', 'x', true],
  ['^*', 'x', true],
  ['\\b*', 'x', true],
  ['a{01}', 'a{01}', true],
  ['a{123456789}', 'a', 'error'],
  ['a{1001}', 'a', 'error'],
  ['a{1000}', 'a', false],
  ['(a{1000}){1000}', 'a', 'error'],
  ['a{,2}', 'a{,2}', true],
  ['a{2}{3}', 'aaaaaa', 'error'],
  ['a**', 'a', 'error'],
  ['a*?', 'a', true],
  ['a*??', 'a', 'error'],
  ['(?<n>a)', 'a', 'error'],
  ['(?P<1a>a)', 'a', true],
  ['(?P<n>a)(?P<n>b)', 'ab', true],
  ['\\8', '8', 'error'],
  ['\\1', '1', 'error'],
  ['\\18', '\u00018', 'error'],
  ['\\0', '\u0000', true],
  ['\\07', '\u0007', true],
  ['\\012', '\n', true],
  ['\\0123', '\n3', true],
  ['\\x41', 'A', true],
  ['\\x{41}', 'A', true],
  ['\\x4', 'x', 'error'],
  ['\\ ', ' ', true],
  ['\\#', '#', true],
  ['\\_', '_', true],
  ['\\e', 'x', 'error'],
  ['[]a]', ']', true],
  ['[^]a]', 'b', true],
  ['[a-\\d]', 'a', 'error'],
  ['[\\Qa\\E]', 'a', 'error'],
  ['\\Qa.b', 'a.b', true],
  ['\\Qa.b\\Ec', 'a.bc', true],
  ['[[:^alpha:]]', '1', true],
  ['[[:alpha:]]', 'a', true],
  ['[[:word:]]', '_', true],
  ['[[:foo:]]', 'a', 'error'],
  ['\\pL', 'a', true],
  ['\\p{Greek}', '\u03b1', true],
  ['\\p{^Greek}', 'a', true],
  ['\\P{^Greek}', '\u03b1', true],
  ['\\p{Foo}', 'a', 'error'],
  ['\\C', 'a', 'error'],
  ['\\Z', 'a', 'error'],
  ['(?=a)', 'a', 'error'],
  ['(?#x)', 'a', 'error'],
  ['a\\z', 'a', true],
  ['(?i)K', '\u212a', true],
  ['(?i)\\w', '\u017f', true],
  ['(?i)\\W', '\u017f', false],
  ['(?i)[^k]', '\u212a', false],
  ['.', '\n', false],
  ['.', '\r', true],
  ['(?s).', '\n', true],
  ['\\s', '\u000b', false],
  ['\\s', '\u00a0', false],
  ['[\\S]', '\u000b', true],
  ['(?m)^b', 'a\nb', true],
  ['^b', 'a\nb', false],
  ['a$', 'a\n', false],
  ['(?m)a$', 'a\nb', true],
  ['(?U)a+', 'aa', true],
  ['x{2,1}', 'x', 'error'],
  [']', ']', true],
  ['}', '}', true],
  ['a{', 'a{', true],
  ['a{1', 'a{1', true],
  ['a{1,', 'a{1,', true],
  ['{2}', '{2}', 'error'],
  ['(?P=n)', 'a', 'error'],
  ['\\Q', 'a', true],
  ['a\\', 'a', 'error'],
  ['\\pN', '5', true],
  ['\\p{Any}', 'x', true],
  ['\\p{L}', 'x', true],
  ['\\p{Latin}', 'x', true],
  ['(?i:a)B', 'AB', true],
  ['(?i:a)B', 'Ab', false],
  ['a(?i)b', 'aB', true],
  ['(a|)*', 'a', true],
  ['\\b', 'a', true],
  ['[a-]', '-', true],
  ['[-a]', '-', true],
  ['[z-a]', 'a', 'error'],
  ['(?i)[[:upper:]]', 'a', true],
  ['[^\\n]', '\n', false],
  ['[^a]', '\n', true],
  ['\\x{110000}', 'a', 'error'],
  ['(?s-s:.)', '\n', false],
  ['(?is)a.', 'A\n', true],
  ['x*+', 'x', 'error'],
  ['(?i)(?-i)a', 'A', false],
  ['(?Pn>a)', 'a', 'error'],
  ['(?P<>a)', 'a', 'error'],
  ['(?<>a)', 'a', 'error'],
  ['((((a))))', 'a', true],
  ['[[:alpha:]-z]', '-', true],
  ['[a-[:alpha:]]', 'a', 'error'],
  ['\\p{Lu}', 'A', true],
  ['\\p{LC}', 'A', 'error'],
  ['[\\p{Lu}]', 'A', true],
  ['[^\\P{Lu}]', 'A', true],
  ['\\pZ', ' ', true],
  ['[\\d-z]', '-', true],
  ['a{1000}{2}', 'a', 'error'],
  ['(?i)\\x{212a}', 'k', true],
  ['[\\x{212a}]', 'k', false],
  ['(?i)[\\x{212a}]', 'k', true],
  ['(a{10}){100}', 'a', false],
  ['(a{10}){101}', 'a', 'error'],
  ['(a*){1000}', 'a', true],
  ['(a{2,}){600}', 'a', 'error'],
  ['(a{500}|b{600}){2}', 'a', 'error'],
  ['((a{10}){10}){10}', '', false],
  ['((a{10}){10}){11}', '', 'error'],
  ['(a{1,10}){101}', '', 'error'],
  ['(a{2}b{500}){2}', '', false],
  ['(a{2}b{500}){3}', '', 'error'],
  ['a{0}', 'b', true],
  ['a{0,0}', 'b', true],
  ['[a', 'a', 'error'],
  ['(a', 'a', 'error'],
  ['a)', 'a', 'error'],
  ['[[:a]b:]]', 'a', 'error'],
  ['[a-b-c]', '-', true],
  ['[a--]', 'a', 'error'],
  ['\\123', 'S', true],
  ['\\1234', 'S4', true],
  ['(?i)(?P<n>A)', 'a', true],
  ['(?P<n!>a)', 'a', 'error'],
  ['(?i', 'a', 'error'],
  ['(?x)', 'a', 'error'],
  ['(?im-sU:a)', 'A', true],
  ['(?--i)', 'a', 'error'],
  ['(?i-i)a', 'A', false],
  ['(?U)a+?', 'aa', true],
  ['a|*', 'a', 'error'],
  ['(*)', 'a', 'error'],
  ['(|a)+', 'a', true],
  ['\\A', 'a', true],
  ['x\\Ay', 'x', false],
  ['\\pX', 'a', 'error'],
  ['\\p{Zs}', ' ', true],
  ['\\p', 'a', 'error'],
  ['\\p{', 'a', 'error'],
  ['\\p{}', 'a', 'error'],
  ['[\\s]', '\u000b', false],
  ['[^\\s]', '\u000b', true],
  ['[^\\S]', ' ', true],
  ['[\\b]', 'b', 'error'],
  ['[\\.]', '.', true],
  ['[\\x41]', 'A', true],
  ['[\\x{41}-\\x{43}]', 'B', true],
  ['[\\n]', '\n', true],
  ['[a-\\n]', 'a', 'error'],
  ['[\\pL]', 'a', true],
  ['[\\p{Greek}a]', 'a', true],
  ['[\\P{Greek}]', 'a', true],
  ['\\x{FFFF}', '\uffff', true],
  ['\\x{}', 'a', 'error'],
  ['\\x{0041}', 'A', true],
  ['\\x{00000041}', 'A', true],
  ['\\xg1', 'a', 'error'],
  ['[\\]]', ']', true],
  ['[\\-]', '-', true],
  ['[a\\]]', ']', true],
  ['a{1,1001}', 'a', 'error'],
  ['\\Q\\E*', 'a', 'error'],
  ['\\Qab\\E*', 'abbb', true],
  ['\\Qab\\E{2}', 'abb', true],
  ['ab\\E', 'ab', 'error'],
  ['\\E', 'E', 'error'],
  ['[[:word:][:digit:]]', '1', true],
  ['x{1}?', 'x', true],
  ['x??', 'x', true],
  ['(?U)x??', 'x', true],
  ['^$', '', true],
  ['(?m)^$', '', true],
  ['(?m)$', 'a\n', true],
  ['\\B', 'ab', true],
  ['(?s:.)', '\n', true],
  ['\\v', '\u000b', true],
  ['\\a', '\u0007', true],
  ['\\f', '\f', true],
  ['a(?i:b(?-i:c))', 'aBc', true],
  ['a(?i:b(?-i:c))', 'aBC', false],
  ['web.*', 'web-1', true],
  ['web.*', 'db', false],
  ['^web$', 'web', true],
  ['^web$', 'xweb', false],
  ['db', 'mydb1', true],
  ['(?i)PROD', 'production', true],
  ['role-[0-9]+', 'role-42', true],
  ['a|b', 'xbx', true],
  ['^a|b$', 'ab', true],
  ['^(a|b)$', 'ab', false],
  ['\\d{3}', '12', false],
  ['\\d{3}', '123', true],
  ['(a+)+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab', false],
  ['.*.*.*=.*', 'x=y', true],
  ['[[:space:]]', '\u000b', true],
  ['\\w+@\\w+', 'me@host', true],
  ['(?i)stra\u00dfe', 'STRASSE', false],
  ['(?i)\u01c5', '\u01c6', true],
  ['(?i)\u03c3', '\u03c2', true],
  ['[^\\x00-\\x{10FFFF}]', 'a', false],
  ['(?s)[^\\n]', '\n', false],
  ['a{2,}', 'aa', true],
  ['a{2,}', 'a', false],
  ['a{2,3}b', 'aaab', true],
  ['(?:ab){2}', 'abab', true],
  ['(?m)^$', 'a\n\nb', true],
  ['(?m)^x$', 'a\nx', true],
  ['\\bfoo\\b', 'a foo b', true],
  ['\\bfoo\\b', 'afoo', false],
  ['\\Bfoo', 'afoo', true],
  ['\u00e9', 'caf\u00e9', true],
  ['(?i)\u00c9', '\u00e9', true],
  ['[\u00e9-\u00eb]', '\u00ea', true],
  ['\ud83d\ude00', 'x\ud83d\ude00', true],
  ['.', '\ud83d\ude00', true],
  ['^.$', '\ud83d\ude00', true],
  ['^..$', '\ud83d\ude00', false],
  ['\\x{1F600}', '\ud83d\ude00', true],
  ['[\\x{1F600}-\\x{1F64F}]', '\ud83d\ude10', true],
  ['(?U)(a+)(a+)', 'aaa', true],
  ['a.c', 'a\rc', true],
  ['a.c', 'a\u2028c', true],
  ['\\S+', '\u00a0', true],
  ['\\s', '\u2028', false],
  ['[[:^space:]]', '\u000b', false],
  ['\\W', '\u00e9', true],
  ['\\w', '\u00e9', false],
  ['\\D', '\u0663', true],
  ['\\d', '\u0663', false],
  ['\\p{Nd}', '\u0663', true],
  ['(?i)[a-c]', 'B', true],
  ['(?i)[^a-c]', 'B', false],
  ['[^\\d\\s]', 'a', true],
  ['[^\\d\\s]', ' ', false],
  ['\\pL+\\z', 'abc', true],
  ['(?i)\\pLu', 'A', false],
  ['x*', '', true],
];

/** Runs `fn` and returns its result, or 'error' when it throws InvalidArgumentError. */
function resultOf(fn: () => boolean): boolean | 'error' {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return 'error';
    throw err;
  }
}

describe('matchGoRegexp against Go results', () => {
  test('every case agrees with Go', () => {
    for (const [expr, text, expected] of GO_CASES) {
      const actual = resultOf(() => matchGoRegexp(expr, text));
      assert.equal(actual, expected, `expression ${JSON.stringify(expr)} on ${JSON.stringify(text)}`);
    }
  });

  test('nested quantifiers run in linear time', () => {
    const text = `${'a'.repeat(5000)}!`;
    const started = performance.now();
    assert.equal(matchGoRegexp('(a+)+$', text), false);
    assert.equal(matchGoRegexp('(.*)*(.*)*x', text), false);
    // A backtracking engine needs on the order of 2^5000 steps here.
    assert.ok(performance.now() - started < 5000, 'matching took more than 5 s');
  });

  test('oversized expansion is rejected', () => {
    // Go accepts this (the counts multiply to 1000) but it expands to 11000 instructions.
    const expr = '(abcdefghijk){1000}';
    assert.ok(MAX_PROGRAM_SIZE < 11_000);
    assert.throws(() => matchGoRegexp(expr, 'abc'), /more than 10000 instructions/);
    assert.equal(compileGoRegexp(expr).test('abc'), false);
  });
});

describe('compileGoRegexp', () => {
  test('agrees with Go where JavaScript can express it', () => {
    let compared = 0;
    for (const [expr, text, expected] of GO_CASES) {
      // Backtracking takes about 2^35 steps on this case; the linear matcher covers it.
      if (expr === '(a+)+$') continue;
      let regexp: RegExp;
      try {
        regexp = compileGoRegexp(expr);
      } catch (err) {
        assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(expr)} threw ${err}`);
        if (expected !== 'error') {
          assert.match(err.message, /case-insensitive in only part/, `${JSON.stringify(expr)} was rejected`);
        }
        continue;
      }
      assert.notEqual(expected, 'error', `${JSON.stringify(expr)} compiled but Go rejects it`);
      assert.equal(
        regexp.test(text),
        expected,
        `expression ${JSON.stringify(expr)} on ${JSON.stringify(text)}`,
      );
      compared++;
    }
    assert.ok(compared > 150, `only ${compared} cases compared`);
  });

  test('leading (?i) sets the i flag', () => {
    const regexp = compileGoRegexp('(?i)prod');
    assert.equal(regexp.flags, 'iu');
    assert.equal(regexp.test('PRODUCTION'), true);
  });

  test('\\z is end of text', () => {
    assert.equal(compileGoRegexp('web\\z').test('my-web'), true);
    assert.equal(compileGoRegexp('web\\z').test('web\n'), false);
  });

  test('named group is accepted', () => {
    assert.equal(compileGoRegexp('(?P<role>web|db)-\\d').test('db-1'), true);
  });

  test('(?<name>) is rejected as Go 1.19 does', () => {
    assert.throws(() => compileGoRegexp('(?<role>web)'), /\(\?P<name>/);
  });

  test('\\Q...\\E is literal', () => {
    assert.equal(compileGoRegexp('\\Qa.b*\\E').test('a.b*'), true);
    assert.equal(compileGoRegexp('\\Qa.b*\\E').test('axbb'), false);
  });

  test('dot excludes only newline', () => {
    assert.equal(compileGoRegexp('^a.b$').test('a\rb'), true);
    assert.equal(compileGoRegexp('^a.b$').test('a\nb'), false);
  });

  test('partial case folding is rejected', () => {
    assert.throws(
      () => compileGoRegexp('a(?i)b'),
      (err: Error) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /"a\(\?i\)b"/);
        return true;
      },
    );
  });

  test('error names the expression', () => {
    assert.throws(
      () => compileGoRegexp('web(['),
      (err: Error) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /"web\(\["/);
        assert.match(err.message, /missing closing \]/);
        return true;
      },
    );
  });

  test('results are cached', () => {
    assert.equal(compileGoRegexp('cache-me.*'), compileGoRegexp('cache-me.*'));
  });

  test('invalid result is cached too', () => {
    const first = resultOf(() => compileGoRegexp('a**') instanceof RegExp);
    assert.equal(first, 'error');
    assert.throws(() => compileGoRegexp('a**'), /nested repetition/);
  });

  test('cache stays bounded', () => {
    for (let i = 0; i < 1000; i++) compileGoRegexp(`bounded-${i}`);
    assert.equal(compileGoRegexp('bounded-999').test('bounded-999'), true);
  });
});

describe('compileAnchoredGoRegexp', () => {
  test('matches whole values only', () => {
    const regexp = compileAnchoredGoRegexp('web');
    assert.equal(regexp.test('web'), true);
    assert.equal(regexp.test('webserver'), false);
    assert.equal(regexp.test('my-web'), false);
  });

  test('anchors are text, not a group', () => {
    // `^a|b$`: starts with a, or ends with b.
    const regexp = compileAnchoredGoRegexp('a|b');
    assert.equal(regexp.test('ax'), true);
    assert.equal(regexp.test('xb'), true);
    assert.equal(regexp.test('xax'), false);
  });

  test('dot-star matches empty', () => {
    assert.equal(compileAnchoredGoRegexp('.*').test(''), true);
  });

  test('flags inside still apply', () => {
    assert.equal(compileAnchoredGoRegexp('(?i)WEB').test('web'), true);
  });
});

describe('matchesFilters', () => {
  const self = { name: 'node-b', tags: { role: 'web', dc: 'eu-west-1' } };

  test('no filters match', () => {
    assert.equal(matchesFilters(null, self), true);
    assert.equal(matchesFilters([], self), true);
  });

  test('node filter lists the name', () => {
    assert.equal(matchesFilters([encodeNodeFilter(['node-a', 'node-b'])], self), true);
    assert.equal(matchesFilters([encodeNodeFilter(['node-a'])], self), false);
    assert.equal(matchesFilters([encodeNodeFilter([])], self), false);
  });

  test('tag filter is unanchored', () => {
    assert.equal(matchesFilters([encodeTagFilter('role', 'we')], self), true);
    assert.equal(matchesFilters([encodeTagFilter('dc', 'west')], self), true);
    assert.equal(matchesFilters([encodeTagFilter('role', '^db$')], self), false);
  });

  test('missing tag is empty string', () => {
    assert.equal(matchesFilters([encodeTagFilter('zone', '.*')], self), true);
    assert.equal(matchesFilters([encodeTagFilter('zone', '^$')], self), true);
    assert.equal(matchesFilters([encodeTagFilter('zone', 'a')], self), false);
  });

  test('prototype names are not tags', () => {
    assert.equal(matchesFilters([encodeTagFilter('constructor', '^$')], self), true);
    assert.equal(matchesFilters([encodeTagFilter('toString', 'function')], self), false);
  });

  test('all filters must match', () => {
    const both = [encodeNodeFilter(['node-b']), encodeTagFilter('role', 'web')];
    assert.equal(matchesFilters(both, self), true);
    const second = [encodeNodeFilter(['node-b']), encodeTagFilter('role', 'db')];
    assert.equal(matchesFilters(second, self), false);
  });

  test('invalid expression does not match', () => {
    assert.equal(matchesFilters([encodeTagFilter('role', 'web(')], self), false);
    assert.equal(matchesFilters([encodeTagFilter('role', '(?=web)')], self), false);
  });

  test('undecodable filters do not match', () => {
    assert.equal(matchesFilters([new Uint8Array(0)], self), false);
    assert.equal(matchesFilters([hex('02a0')], self), false);
    assert.equal(matchesFilters([hex('0182a4457870')], self), false);
  });

  test('captured filters from the plain run', () => {
    // node filter [node-b] and tag filter role=db, as sent by the reference CLI.
    const filters = [hex('0091a66e6f64652d62'), hex('0182a445787072a26462a3546167a4726f6c65')];
    assert.equal(matchesFilters(filters, { name: 'node-b', tags: { role: 'db' } }), true);
    assert.equal(matchesFilters(filters, { name: 'node-b', tags: { role: 'web' } }), false);
    assert.equal(matchesFilters(filters, { name: 'node-a', tags: { role: 'db' } }), false);
  });

  test('case-insensitive part works', () => {
    // compileGoRegexp rejects this; the linear matcher handles it.
    assert.equal(matchesFilters([encodeTagFilter('role', 'w(?i)EB')], self), true);
    assert.equal(matchesFilters([encodeTagFilter('role', 'W(?i)EB')], self), false);
  });
});
