/**
 * Query filters and Go regular expressions.
 *
 * Tag filters and RPC member filters carry Go RE2 expressions, in the syntax of the regexp
 * package of Go 1.19 (the toolchain of the reference Serf 0.9.4 build). This file parses that
 * syntax itself, so every difference from JavaScript is handled in one place:
 * - `.` excludes only `\n` (JavaScript also excludes `\r`, U+2028 and U+2029), `\s` is ASCII
 *   whitespace without `\v`, `^` and `$` match only at the ends of the text unless `(?m)` is set;
 * - flag groups `(?imsU)` and `(?imsU:...)` may appear anywhere and may be turned off with `-`;
 * - `(?P<name>...)`, `\Q...\E`, `\A`, `\z`, `\x{...}`, octal escapes, `\pL` and `\p{Greek}`,
 *   POSIX classes such as `[[:alpha:]]`, and a literal `{`, `}` or `]` where no repetition or
 *   class starts;
 * - Go rejects backreferences, lookaround, `(?<name>...)` (accepted only from Go 1.22), `\C`, `\Z`,
 *   repetition counts above 1000 (also as a product of nested counts), and stacked repetition
 *   such as `a**`. So does this parser.
 *
 * The parsed expression has two back ends. compileGoRegexp emits a JavaScript RegExp for local
 * callers (RPC member filters). matchGoRegexp runs a linear-time automaton, like RE2 does, and is
 * what query filters use: their expressions come from any cluster member, and a backtracking
 * RegExp given `(a+)+$` could block the event loop for minutes.
 */

import { DecodeError, InvalidArgumentError } from '../util/errors.js';
import { decodeFilter, type QueryFilter } from './messages.js';

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Converts a Go RE2 expression into an equivalent JavaScript RegExp (flag `u`, plus `i` when the
 * whole expression is case-insensitive) for unanchored matching with `test`. Throws
 * InvalidArgumentError naming the expression when Go would reject it, or when it turns case
 * folding on for only part of the expression, which a RegExp without inline modifiers (Node 20)
 * cannot express. Results are cached.
 */
export function compileGoRegexp(expr: string): RegExp {
  const cached = regexpCache.get(expr);
  if (cached !== undefined) {
    if (cached instanceof InvalidArgumentError) throw cached;
    return cached;
  }
  let result: RegExp | InvalidArgumentError;
  try {
    result = toRegExp(expr, parseGoRegexp(expr));
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    result = err;
  }
  regexpCache.set(expr, result);
  if (result instanceof InvalidArgumentError) throw result;
  return result;
}

/**
 * Compiles the full-match form that RPC `members-filtered` uses. Like Go Serf 0.9.4 this is the
 * text `^` + expr + `$`, not a group around expr: `a|b` becomes `^a|b$`, which matches any value
 * starting with `a` or ending with `b`.
 */
export function compileAnchoredGoRegexp(expr: string): RegExp {
  return compileGoRegexp(`^${expr}$`);
}

/**
 * Reports whether the Go RE2 expression matches anywhere in `text`, in time linear in the text
 * length. Throws InvalidArgumentError when the expression is invalid or larger than
 * MAX_PROGRAM_SIZE after expanding counted repetitions. Compiled programs are cached.
 */
export function matchGoRegexp(expr: string, text: string): boolean {
  let program = programCache.get(expr);
  if (program === undefined) {
    try {
      program = compileProgram(expr, parseGoRegexp(expr));
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      program = err;
    }
    programCache.set(expr, program);
  }
  if (program instanceof InvalidArgumentError) throw program;
  return runProgram(program, text);
}

/**
 * Reports whether a node passes every filter of a query. A node filter passes when it lists the
 * node's name. A tag filter passes when its expression matches anywhere in the node's value of
 * that tag, or in "" when the node lacks the tag. As in Go Serf, an undecodable filter or an
 * invalid expression fails, so peer bytes never make this function throw.
 */
export function matchesFilters(
  filters: Uint8Array[] | null,
  self: { name: string; tags: Record<string, string> },
  onInvalid?: (message: string) => void,
): boolean {
  if (filters === null) return true;
  for (const raw of filters) {
    let filter: QueryFilter;
    try {
      filter = decodeFilter(raw);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      onInvalid?.(`failed to decode query filter: ${err.message}`);
      return false;
    }
    if (filter.type === 'node') {
      if (!filter.names.includes(self.name)) return false;
      continue;
    }
    // Object.hasOwn keeps a tag named "constructor" from reading Object.prototype.constructor.
    const value = Object.hasOwn(self.tags, filter.tag) ? self.tags[filter.tag]! : '';
    try {
      if (!matchGoRegexp(filter.expr, value)) return false;
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      onInvalid?.(`failed to compile filter regex (${filter.expr}): ${err.message}`);
      return false;
    }
  }
  return true;
}

/** Largest automaton matchGoRegexp builds, in instructions (each counted repetition is expanded). */
export const MAX_PROGRAM_SIZE = 10_000;

/** Number of compiled expressions kept per cache (RegExp and automaton caches are separate). */
const CACHE_CAPACITY = 256;

/** Least-recently-used cache with a fixed capacity. */
class BoundedCache<V> {
  readonly #entries = new Map<string, V>();

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > CACHE_CAPACITY) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}

const regexpCache = new BoundedCache<RegExp | InvalidArgumentError>();
const programCache = new BoundedCache<Program | InvalidArgumentError>();

// ---------------------------------------------------------------------------------------------
// Syntax tree

type AssertKind = 'textStart' | 'textEnd' | 'lineStart' | 'lineEnd' | 'wordBoundary' | 'notWordBoundary';

/** A set of characters: inclusive code point ranges plus JavaScript class escapes (`\d`, `\p{L}`). */
interface CharClass {
  negated: boolean;
  ranges: [number, number][];
  escapes: string[];
}

type Node =
  | { kind: 'empty' }
  /** One character from `cls`; `fold` is true under `(?i)`. */
  | { kind: 'char'; cls: CharClass; fold: boolean }
  | { kind: 'assert'; assert: AssertKind }
  | { kind: 'concat'; items: Node[] }
  | { kind: 'alternate'; items: Node[] }
  /** `counted` marks the `{n,m}` forms, which count toward Go's limit of 1000. `max` may be Infinity. */
  | { kind: 'repeat'; node: Node; min: number; max: number; greedy: boolean; counted: boolean };

const MAX_CODE_POINT = 0x10ffff;
const MAX_REPEAT_COUNT = 1000;
/** Go 1.19 rejects expressions nested deeper than this. */
const MAX_NESTING_DEPTH = 1000;

const BACKSLASH = 0x5c;

/** Go's general category names (Go 1.19 unicode.Categories); any other `\p` name is a script. */
const UNICODE_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(
    ' ',
  ),
);

const ASCII_WHITESPACE: [number, number][] = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];

/** POSIX classes usable inside brackets, as ASCII ranges. */
const POSIX_CLASSES: Record<string, [number, number][]> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

/** Returns the code point ranges not covered by `ranges`. */
function complementRanges(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function literalClass(cp: number): CharClass {
  return { negated: false, ranges: [[cp, cp]], escapes: [] };
}

// ---------------------------------------------------------------------------------------------
// Parser

interface Flags {
  /** Case-insensitive. */
  i: boolean;
  /** Multi-line: `^` and `$` also match at line breaks. */
  m: boolean;
  /** `.` also matches `\n`. */
  s: boolean;
  /** Ungreedy: `x*` prefers fewer and `x*?` more repetitions. */
  U: boolean;
}

/** An open group: finished alternatives, the alternative being parsed, and the flags to restore. */
interface Frame {
  alternatives: Node[][];
  current: Node[];
  savedFlags: Flags;
}

function parseGoRegexp(expr: string): Node {
  return new Parser(expr).parse();
}

class Parser {
  readonly #expr: string;
  readonly #cps: number[];
  #pos = 0;
  #flags: Flags = { i: false, m: false, s: false, U: false };
  readonly #frames: Frame[] = [];
  /** Whether the previous token was a repetition operator (Go rejects `a**` and `a{2}{3}`). */
  #afterRepeat = false;

  constructor(expr: string) {
    this.#expr = expr;
    this.#cps = Array.from(expr, (c) => c.codePointAt(0)!);
  }

  parse(): Node {
    this.#frames.push({ alternatives: [], current: [], savedFlags: this.#flags });
    while (this.#pos < this.#cps.length) this.#parseToken();
    if (this.#frames.length > 1) throw this.#error('missing closing )', this.#cps.length);
    return frameNode(this.#frames[0]!);
  }

  #parseToken(): void {
    const c = this.#cps[this.#pos]!;
    switch (String.fromCodePoint(c)) {
      case '(':
        this.#openGroup();
        return;
      case ')':
        this.#closeGroup();
        return;
      case '|': {
        const frame = this.#top();
        frame.alternatives.push(frame.current);
        frame.current = [];
        this.#pos++;
        this.#afterRepeat = false;
        return;
      }
      case '^':
        this.#pos++;
        this.#push({ kind: 'assert', assert: this.#flags.m ? 'lineStart' : 'textStart' });
        return;
      case '$':
        this.#pos++;
        this.#push({ kind: 'assert', assert: this.#flags.m ? 'lineEnd' : 'textEnd' });
        return;
      case '.': {
        this.#pos++;
        const cls: CharClass = this.#flags.s
          ? { negated: false, ranges: [[0, MAX_CODE_POINT]], escapes: [] }
          : { negated: true, ranges: [[0x0a, 0x0a]], escapes: [] };
        this.#push({ kind: 'char', cls, fold: this.#flags.i });
        return;
      }
      case '[':
        this.#push({ kind: 'char', cls: this.#parseClass(), fold: this.#flags.i });
        return;
      case '*':
        this.#pos++;
        this.#repeat(0, Infinity, false, this.#pos - 1);
        return;
      case '+':
        this.#pos++;
        this.#repeat(1, Infinity, false, this.#pos - 1);
        return;
      case '?':
        this.#pos++;
        this.#repeat(0, 1, false, this.#pos - 1);
        return;
      case '{': {
        const start = this.#pos;
        const counts = this.#parseRepeatCounts();
        if (counts === null) {
          // Go reads a `{` that does not start `{n}`, `{n,}` or `{n,m}` as a literal.
          this.#pos++;
          this.#pushLiteral(c);
          return;
        }
        this.#repeat(counts.min, counts.max, true, start);
        return;
      }
      case '\\':
        this.#parseEscapeToken();
        return;
      default:
        this.#pos++;
        this.#pushLiteral(c);
    }
  }

  #top(): Frame {
    return this.#frames[this.#frames.length - 1]!;
  }

  #push(node: Node): void {
    this.#top().current.push(node);
    this.#afterRepeat = false;
  }

  #pushLiteral(cp: number): void {
    this.#push({ kind: 'char', cls: literalClass(cp), fold: this.#flags.i });
  }

  #error(reason: string, at: number = this.#pos): InvalidArgumentError {
    return new InvalidArgumentError(
      `invalid Go regular expression ${JSON.stringify(this.#expr)}: ${reason} at character ${at}; ` +
        'fix the expression (Go RE2 syntax)',
    );
  }

  #openGroup(): void {
    const start = this.#pos;
    if (this.#frames.length > MAX_NESTING_DEPTH) throw this.#error('expression nests too deeply');
    if (this.#cps[start + 1] !== 0x3f /* ? */) {
      this.#pos++;
      this.#pushFrame();
      return;
    }
    const next = this.#cps[start + 2];
    if (next === 0x50 /* P */ && this.#cps[start + 3] === 0x3c /* < */) {
      // Named capture: names do not affect matching, so only the name's syntax is checked.
      const close = this.#cps.indexOf(0x3e /* > */, start + 4);
      const name = close < 0 ? '' : String.fromCodePoint(...this.#cps.slice(start + 4, close));
      if (close < 0 || !/^[A-Za-z0-9_]+$/.test(name)) throw this.#error('invalid named capture', start);
      this.#pos = close + 1;
      this.#pushFrame();
      return;
    }
    if (next === 0x3c /* < */) {
      throw this.#error('`(?<` is not supported by Go 1.19 regexp (use `(?P<name>...)`)', start);
    }
    this.#parseFlagGroup(start);
  }

  /** Parses `(?flags)` or `(?flags:`, starting at the `(`. */
  #parseFlagGroup(start: number): void {
    const flags = { ...this.#flags };
    let negate = false;
    let sawFlag = false;
    let pos = start + 2;
    for (;;) {
      const c = this.#cps[pos];
      if (c === undefined) throw this.#error('unsupported Perl syntax `(?`', start);
      const ch = String.fromCodePoint(c);
      if (ch === 'i' || ch === 'm' || ch === 's' || ch === 'U') {
        flags[ch] = !negate;
        sawFlag = true;
      } else if (ch === '-') {
        if (negate) throw this.#error('unsupported Perl syntax `(?`', start);
        negate = true;
        sawFlag = false;
      } else if (ch === ':' || ch === ')') {
        if (negate && !sawFlag) throw this.#error('missing flags after `-`', start);
        this.#pos = pos + 1;
        if (ch === ')') {
          this.#flags = flags;
          this.#afterRepeat = false;
        } else {
          this.#pushFrame();
          this.#flags = flags;
        }
        return;
      } else {
        throw this.#error(
          `unsupported Perl syntax \`(?${ch}\` (Go has no lookaround, comments or backreferences)`,
          start,
        );
      }
      pos++;
    }
  }

  #pushFrame(): void {
    this.#frames.push({ alternatives: [], current: [], savedFlags: this.#flags });
    this.#afterRepeat = false;
  }

  #closeGroup(): void {
    if (this.#frames.length === 1) throw this.#error('unexpected )');
    this.#pos++;
    const frame = this.#frames.pop()!;
    this.#flags = frame.savedFlags;
    this.#push(frameNode(frame));
  }

  #repeat(min: number, max: number, counted: boolean, start: number): void {
    let greedy = true;
    if (this.#cps[this.#pos] === 0x3f /* ? */) {
      greedy = false;
      this.#pos++;
    }
    if (this.#flags.U) greedy = !greedy;
    const operator = String.fromCodePoint(...this.#cps.slice(start, this.#pos));
    if (this.#afterRepeat) throw this.#error(`invalid nested repetition operator \`${operator}\``, start);
    const current = this.#top().current;
    const operand = current.pop();
    if (operand === undefined)
      throw this.#error(`missing argument to repetition operator \`${operator}\``, start);
    const node: Node = { kind: 'repeat', node: operand, min, max, greedy, counted };
    if (counted && (min >= 2 || max >= 2) && !repeatCountsValid(node, MAX_REPEAT_COUNT)) {
      throw this.#error(
        `invalid repeat count \`${operator}\` (nested counts multiply to more than 1000)`,
        start,
      );
    }
    current.push(node);
    this.#afterRepeat = true;
  }

  /** Parses `{n}`, `{n,}` or `{n,m}` at the current `{`; returns null (consuming nothing) otherwise. */
  #parseRepeatCounts(): { min: number; max: number } | null {
    const start = this.#pos;
    let pos = start + 1;
    const readNumber = (): string | null => {
      const from = pos;
      while (pos < this.#cps.length && this.#cps[pos]! >= 0x30 && this.#cps[pos]! <= 0x39) pos++;
      const digits = String.fromCodePoint(...this.#cps.slice(from, pos));
      // Go does not take a number with a leading zero ("01") as a count.
      if (digits === '' || (digits.length > 1 && digits[0] === '0')) return null;
      return digits;
    };
    const minText = readNumber();
    if (minText === null) return null;
    let maxText: string | null = minText;
    let unbounded = false;
    if (this.#cps[pos] === 0x2c /* , */) {
      pos++;
      if (this.#cps[pos] === 0x7d /* } */) {
        unbounded = true;
      } else {
        maxText = readNumber();
        if (maxText === null) return null;
      }
    }
    if (this.#cps[pos] !== 0x7d /* } */) return null;
    pos++;
    this.#pos = pos;
    const text = String.fromCodePoint(...this.#cps.slice(start, pos));
    // A count of five or more digits exceeds the limit, so it is read as Infinity instead of parsed.
    const min = minText.length > 4 ? Infinity : Number(minText);
    let max = Infinity;
    if (!unbounded && maxText.length <= 4) max = Number(maxText);
    if (min > MAX_REPEAT_COUNT || (!unbounded && (max > MAX_REPEAT_COUNT || max < min))) {
      throw this.#error(`invalid repeat count \`${text}\``, start);
    }
    return { min, max };
  }

  /** Parses a backslash sequence outside brackets. */
  #parseEscapeToken(): void {
    const start = this.#pos;
    const c = this.#cps[start + 1];
    if (c === undefined) throw this.#error('trailing backslash at end of expression', start);
    const ch = String.fromCodePoint(c);
    switch (ch) {
      case 'A':
        this.#pos += 2;
        this.#push({ kind: 'assert', assert: 'textStart' });
        return;
      case 'z':
        this.#pos += 2;
        this.#push({ kind: 'assert', assert: 'textEnd' });
        return;
      case 'b':
        this.#pos += 2;
        this.#push({ kind: 'assert', assert: 'wordBoundary' });
        return;
      case 'B':
        this.#pos += 2;
        this.#push({ kind: 'assert', assert: 'notWordBoundary' });
        return;
      case 'Q': {
        // Everything up to `\E` (or the end) is literal text.
        let end = start + 2;
        while (end < this.#cps.length && !(this.#cps[end] === BACKSLASH && this.#cps[end + 1] === 0x45))
          end++;
        for (let i = start + 2; i < end; i++) this.#pushLiteral(this.#cps[i]!);
        this.#pos = Math.min(end + 2, this.#cps.length);
        return;
      }
      case 'p':
      case 'P':
        this.#push({ kind: 'char', cls: this.#classOf(this.#parseUnicodeClass()), fold: this.#flags.i });
        return;
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W': {
        this.#pos += 2;
        const cls: CharClass = { negated: false, ranges: [], escapes: [] };
        addPerlClass(cls, ch);
        this.#push({ kind: 'char', cls, fold: this.#flags.i });
        return;
      }
      default:
        this.#pushLiteral(this.#parseEscapedChar());
    }
  }

  #classOf(classEscape: string): CharClass {
    return { negated: false, ranges: [], escapes: [classEscape] };
  }

  /**
   * Parses `\pL`, `\p{Name}`, `\p{^Name}` or the `\P` forms at the current backslash and returns
   * the JavaScript escape (general categories as is, `Any`, otherwise `Script=Name`).
   */
  #parseUnicodeClass(): string {
    const start = this.#pos;
    let negated = this.#cps[start + 1] === 0x50; /* P */
    let pos = start + 2;
    let name: string;
    if (this.#cps[pos] === 0x7b /* { */) {
      const close = this.#cps.indexOf(0x7d /* } */, pos);
      if (close < 0) throw this.#error('invalid character class range (unclosed `\\p{`)', start);
      name = String.fromCodePoint(...this.#cps.slice(pos + 1, close));
      pos = close + 1;
    } else {
      const c = this.#cps[pos];
      if (c === undefined) throw this.#error('invalid character class range (`\\p` without a name)', start);
      name = String.fromCodePoint(c);
      pos++;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    let property: string;
    if (name === 'Any') property = 'Any';
    else if (UNICODE_CATEGORIES.has(name)) property = name;
    else property = `Script=${name}`;
    // NOTE: JavaScript also accepts four-letter script aliases (`Grek`) that Go rejects.
    if (!/^[A-Za-z_]+$/.test(name) || !isValidJsProperty(property)) {
      throw this.#error(
        `invalid character class range: unknown Unicode class ${JSON.stringify(name)}`,
        start,
      );
    }
    this.#pos = pos;
    return `${negated ? '\\P' : '\\p'}{${property}}`;
  }

  /**
   * Parses a backslash escape that stands for one character (valid both inside and outside
   * brackets) and returns its code point.
   */
  #parseEscapedChar(): number {
    const start = this.#pos;
    const c = this.#cps[start + 1];
    if (c === undefined) throw this.#error('trailing backslash at end of expression', start);
    this.#pos = start + 2;
    const isOctal = (x: number | undefined) => x !== undefined && x >= 0x30 && x <= 0x37;
    if (c >= 0x31 && c <= 0x37 && !isOctal(this.#cps[this.#pos])) {
      throw this.#error(
        `invalid escape sequence \`\\${String.fromCodePoint(c)}\` (Go has no backreferences)`,
        start,
      );
    }
    if (isOctal(c)) {
      // Up to three octal digits; a lone \1..\7 was rejected above.
      let value = c - 0x30;
      for (let i = 0; i < 2 && isOctal(this.#cps[this.#pos]); i++) {
        value = value * 8 + this.#cps[this.#pos]! - 0x30;
        this.#pos++;
      }
      return value;
    }
    const ch = String.fromCodePoint(c);
    switch (ch) {
      case 'x':
        return this.#parseHexEscape(start);
      case 'a':
        return 0x07;
      case 'f':
        return 0x0c;
      case 't':
        return 0x09;
      case 'n':
        return 0x0a;
      case 'r':
        return 0x0d;
      case 'v':
        return 0x0b;
    }
    // Go accepts any escaped ASCII punctuation (or other non-alphanumeric ASCII) as itself.
    if (c < 0x80 && !/[0-9A-Za-z]/.test(ch)) return c;
    throw this.#error(`invalid escape sequence \`\\${ch}\``, start);
  }

  /** Parses the rest of `\xHH` or `\x{H...}`; the position is just after the `x`. */
  #parseHexEscape(start: number): number {
    const hexValue = (x: number | undefined) => {
      if (x === undefined) return -1;
      const digit = Number.parseInt(String.fromCodePoint(x), 16);
      return Number.isNaN(digit) ? -1 : digit;
    };
    if (this.#cps[this.#pos] === 0x7b /* { */) {
      let pos = this.#pos + 1;
      let value = 0;
      let digits = 0;
      while (hexValue(this.#cps[pos]) >= 0) {
        value = value * 16 + hexValue(this.#cps[pos]);
        if (value > MAX_CODE_POINT)
          throw this.#error('invalid escape sequence (code point above U+10FFFF)', start);
        digits++;
        pos++;
      }
      if (digits === 0 || this.#cps[pos] !== 0x7d /* } */)
        throw this.#error('invalid escape sequence `\\x{`', start);
      this.#pos = pos + 1;
      return value;
    }
    const high = hexValue(this.#cps[this.#pos]);
    const low = hexValue(this.#cps[this.#pos + 1]);
    if (high < 0 || low < 0)
      throw this.#error('invalid escape sequence `\\x` (expected two hex digits)', start);
    this.#pos += 2;
    return high * 16 + low;
  }

  /** Parses a bracket expression starting at `[`. */
  #parseClass(): CharClass {
    const start = this.#pos;
    const cls: CharClass = { negated: false, ranges: [], escapes: [] };
    this.#pos++;
    if (this.#cps[this.#pos] === 0x5e /* ^ */) {
      cls.negated = true;
      this.#pos++;
    }
    // A `]` right after `[` or `[^` is a literal member.
    let first = true;
    for (;;) {
      const c = this.#cps[this.#pos];
      if (c === undefined) throw this.#error('missing closing ]', start);
      if (c === 0x5d /* ] */ && !first) {
        this.#pos++;
        return cls;
      }
      first = false;
      if (c === 0x5b /* [ */ && this.#cps[this.#pos + 1] === 0x3a /* : */ && this.#parsePosixClass(cls))
        continue;
      if (c === BACKSLASH) {
        const kind = this.#cps[this.#pos + 1];
        const ch = kind === undefined ? '' : String.fromCodePoint(kind);
        if (ch === 'p' || ch === 'P') {
          cls.escapes.push(this.#parseUnicodeClass());
          continue;
        }
        if (ch !== '' && 'dDsSwW'.includes(ch)) {
          addPerlClass(cls, ch);
          this.#pos += 2;
          continue;
        }
      }
      const lo = this.#parseClassChar();
      if (
        this.#cps[this.#pos] === 0x2d /* - */ &&
        this.#cps[this.#pos + 1] !== undefined &&
        this.#cps[this.#pos + 1] !== 0x5d
      ) {
        this.#pos++;
        const hi = this.#parseClassChar();
        if (hi < lo) throw this.#error('invalid character class range', start);
        cls.ranges.push([lo, hi]);
      } else {
        cls.ranges.push([lo, lo]);
      }
    }
  }

  #parseClassChar(): number {
    const c = this.#cps[this.#pos]!;
    if (c === BACKSLASH) return this.#parseEscapedChar();
    this.#pos++;
    return c;
  }

  /**
   * Adds `[:name:]` or `[:^name:]` at the current position to `cls`. Returns false, consuming
   * nothing, when no `:]` follows (the `[` is then a literal).
   */
  #parsePosixClass(cls: CharClass): boolean {
    const start = this.#pos;
    let close = -1;
    for (let i = start + 2; i + 1 < this.#cps.length; i++) {
      if (this.#cps[i] === 0x3a && this.#cps[i + 1] === 0x5d) {
        close = i;
        break;
      }
    }
    if (close < 0) return false;
    let name = String.fromCodePoint(...this.#cps.slice(start + 2, close));
    const negated = name.startsWith('^');
    if (negated) name = name.slice(1);
    const ranges = Object.hasOwn(POSIX_CLASSES, name) ? POSIX_CLASSES[name]! : undefined;
    if (ranges === undefined) {
      throw this.#error(`invalid character class range: unknown POSIX class \`[:${name}:]\``, start);
    }
    cls.ranges.push(...(negated ? complementRanges(ranges) : ranges));
    this.#pos = close + 2;
    return true;
  }
}

/** Adds `\d`, `\s`, `\w` or their negations. Go's `\s` is `[\t\n\f\r ]`, narrower than JavaScript's. */
function addPerlClass(cls: CharClass, letter: string): void {
  if (letter === 's') cls.ranges.push(...ASCII_WHITESPACE);
  else if (letter === 'S') cls.ranges.push(...complementRanges(ASCII_WHITESPACE));
  else cls.escapes.push(`\\${letter}`);
}

function frameNode(frame: Frame): Node {
  const branches = [...frame.alternatives, frame.current].map(concatNode);
  return branches.length === 1 ? branches[0]! : { kind: 'alternate', items: branches };
}

function concatNode(items: Node[]): Node {
  if (items.length === 0) return { kind: 'empty' };
  if (items.length === 1) return items[0]!;
  return { kind: 'concat', items };
}

/**
 * Go 1.19 limits counted repetitions: walking down from a `{n,m}`, each counted repetition divides
 * the budget of 1000 by its maximum (its minimum when unbounded).
 */
function repeatCountsValid(node: Node, budget: number): boolean {
  switch (node.kind) {
    case 'repeat': {
      if (node.counted) {
        const count = node.max === Infinity ? node.min : node.max;
        if (count === 0) return true;
        if (count > budget) return false;
        budget = Math.floor(budget / count);
      }
      return repeatCountsValid(node.node, budget);
    }
    case 'concat':
    case 'alternate':
      return node.items.every((item) => repeatCountsValid(item, budget));
    default:
      return true;
  }
}

const validPropertyCache = new Map<string, boolean>();

function isValidJsProperty(property: string): boolean {
  let valid = validPropertyCache.get(property);
  if (valid === undefined) {
    try {
      new RegExp(`\\p{${property}}`, 'u');
      valid = true;
    } catch {
      valid = false;
    }
    validPropertyCache.set(property, valid);
  }
  return valid;
}

// ---------------------------------------------------------------------------------------------
// JavaScript RegExp back end

function toRegExp(expr: string, root: Node): RegExp {
  const folding = { on: false, off: false };
  collectFolding(root, folding);
  if (folding.on && folding.off) {
    throw new InvalidArgumentError(
      `Go regular expression ${JSON.stringify(expr)} is case-insensitive in only part of the expression, ` +
        'which a JavaScript RegExp cannot express; apply (?i) to the whole expression',
    );
  }
  const source = emit(root);
  try {
    return new RegExp(source, folding.on ? 'iu' : 'u');
  } catch (err) {
    throw new InvalidArgumentError(
      `Go regular expression ${JSON.stringify(expr)} has no JavaScript equivalent: ${(err as Error).message}`,
    );
  }
}

/** Records whether case-sensitive characters appear with and without `(?i)`. */
function collectFolding(node: Node, folding: { on: boolean; off: boolean }): void {
  switch (node.kind) {
    case 'char':
      if (classHasCase(node.cls)) {
        if (node.fold) folding.on = true;
        else folding.off = true;
      }
      return;
    case 'concat':
    case 'alternate':
      for (const item of node.items) collectFolding(item, folding);
      return;
    case 'repeat':
      collectFolding(node.node, folding);
      return;
    default:
  }
}

/**
 * Reports whether case folding could change what `cls` matches. A set with no cased characters is
 * closed under folding, and so is its complement, so negation does not matter.
 */
function classHasCase(cls: CharClass): boolean {
  if (cls.escapes.some((item) => item !== '\\d' && item !== '\\D')) return true;
  for (const [lo, hi] of cls.ranges) {
    // Every code point (`.` under `(?s)`) is a set closed under folding.
    if (lo === 0 && hi === MAX_CODE_POINT) continue;
    if (hi - lo > 0x1000) return true;
    for (let cp = lo; cp <= hi; cp++) {
      const text = String.fromCodePoint(cp);
      if (text.toLowerCase() !== text || text.toUpperCase() !== text) return true;
    }
  }
  return false;
}

function emit(node: Node): string {
  switch (node.kind) {
    case 'empty':
      return '';
    case 'char':
      return emitChar(node.cls);
    case 'assert':
      return emitAssert(node.assert);
    case 'concat':
      return node.items.map(emit).join('');
    case 'alternate':
      return `(?:${node.items.map(emit).join('|')})`;
    case 'repeat': {
      const operand = node.node.kind === 'char' ? emit(node.node) : `(?:${emit(node.node)})`;
      let quantifier: string;
      if (node.min === 0 && node.max === Infinity) quantifier = '*';
      else if (node.min === 1 && node.max === Infinity) quantifier = '+';
      else if (node.min === 0 && node.max === 1) quantifier = '?';
      else if (node.max === Infinity) quantifier = `{${node.min},}`;
      else if (node.min === node.max) quantifier = `{${node.min}}`;
      else quantifier = `{${node.min},${node.max}}`;
      return `${operand}${quantifier}${node.greedy ? '' : '?'}`;
    }
  }
}

function emitAssert(kind: AssertKind): string {
  switch (kind) {
    // The RegExp never gets the `m` flag, so `^` and `$` match only at the ends of the input.
    case 'textStart':
      return '^';
    case 'textEnd':
      return '$';
    case 'lineStart':
      return '(?<![^\\n])';
    case 'lineEnd':
      return '(?![^\\n])';
    case 'wordBoundary':
      return '\\b';
    case 'notWordBoundary':
      return '\\B';
  }
}

/** Writes a code point so that it is literal in a `u`-flag RegExp, inside or outside brackets. */
function emitCodePoint(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
    return String.fromCodePoint(cp);
  }
  return `\\u{${cp.toString(16)}}`;
}

function emitChar(cls: CharClass): string {
  const only = cls.ranges[0];
  if (!cls.negated && cls.escapes.length === 0 && cls.ranges.length === 1 && only![0] === only![1]) {
    return emitCodePoint(only![0]);
  }
  return emitBracket(cls);
}

function emitBracket(cls: CharClass): string {
  const parts = cls.ranges.map(([lo, hi]) =>
    lo === hi ? emitCodePoint(lo) : `${emitCodePoint(lo)}-${emitCodePoint(hi)}`,
  );
  return `[${cls.negated ? '^' : ''}${parts.join('')}${cls.escapes.join('')}]`;
}

// ---------------------------------------------------------------------------------------------
// Linear-time back end: a Thompson NFA simulated over all states at once, so the work per input
// character is bounded by the program size however the expression nests.

type Instruction =
  | { op: 'char'; test: (cp: number) => boolean; next: number }
  | { op: 'split'; first: number; second: number }
  | { op: 'assert'; assert: AssertKind; next: number }
  | { op: 'match' };

interface Program {
  instructions: Instruction[];
  start: number;
}

function compileProgram(expr: string, root: Node): Program {
  const instructions: Instruction[] = [];
  const add = (instruction: Instruction): number => {
    if (instructions.length >= MAX_PROGRAM_SIZE) {
      throw new InvalidArgumentError(
        `Go regular expression ${JSON.stringify(expr)} expands to more than ${MAX_PROGRAM_SIZE} instructions; ` +
          'use smaller repetition counts',
      );
    }
    instructions.push(instruction);
    return instructions.length - 1;
  };

  // Compiles `node` so that it continues at `next`, and returns its entry point.
  const compile = (node: Node, next: number): number => {
    switch (node.kind) {
      case 'empty':
        return next;
      case 'char':
        return add({ op: 'char', test: charTest(node.cls, node.fold), next });
      case 'assert':
        return add({ op: 'assert', assert: node.assert, next });
      case 'concat': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = compile(node.items[i]!, entry);
        return entry;
      }
      case 'alternate': {
        const entries = node.items.map((item) => compile(item, next));
        let entry = entries[entries.length - 1]!;
        for (let i = entries.length - 2; i >= 0; i--)
          entry = add({ op: 'split', first: entries[i]!, second: entry });
        return entry;
      }
      case 'repeat':
        return compileRepeat(node, next);
    }
  };

  // Greediness does not change whether a match exists, so both orders compile alike.
  const compileRepeat = (node: Extract<Node, { kind: 'repeat' }>, next: number): number => {
    let entry = next;
    if (node.max === Infinity) {
      const loop = add({ op: 'split', first: -1, second: next });
      const body = compile(node.node, loop);
      (instructions[loop] as Extract<Instruction, { op: 'split' }>).first = body;
      entry = loop;
    } else {
      for (let i = 0; i < node.max - node.min; i++) {
        entry = add({ op: 'split', first: compile(node.node, entry), second: next });
      }
    }
    for (let i = 0; i < node.min; i++) entry = compile(node.node, entry);
    return entry;
  };

  const match = add({ op: 'match' });
  const start = compile(root, match);
  return { instructions, start };
}

function charTest(cls: CharClass, fold: boolean): (cp: number) => boolean {
  const only = cls.ranges[0];
  if (!fold && !cls.negated && cls.escapes.length === 0 && cls.ranges.length === 1 && only![0] === only![1]) {
    const expected = only![0];
    return (cp) => cp === expected;
  }
  const pattern = new RegExp(`^${emitBracket(cls)}$`, fold ? 'iu' : 'u');
  return (cp) => pattern.test(String.fromCodePoint(cp));
}

function isAsciiWord(cp: number | undefined): boolean {
  if (cp === undefined) return false;
  return (
    (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f
  );
}

function assertionHolds(kind: AssertKind, cps: number[], pos: number): boolean {
  switch (kind) {
    case 'textStart':
      return pos === 0;
    case 'textEnd':
      return pos === cps.length;
    case 'lineStart':
      return pos === 0 || cps[pos - 1] === 0x0a;
    case 'lineEnd':
      return pos === cps.length || cps[pos] === 0x0a;
    case 'wordBoundary':
      return isAsciiWord(cps[pos - 1]) !== isAsciiWord(cps[pos]);
    case 'notWordBoundary':
      return isAsciiWord(cps[pos - 1]) === isAsciiWord(cps[pos]);
  }
}

function runProgram(program: Program, text: string): boolean {
  const { instructions, start } = program;
  const cps = Array.from(text, (c) => c.codePointAt(0)!);
  // marks[pc] === generation means pc is already in the list being built for this position.
  const marks = new Uint32Array(instructions.length);
  let generation = 1;
  const stack: number[] = [];

  // Adds the threads reachable from pc without consuming input; returns true on reaching match.
  const addThread = (list: number[], pc: number, pos: number): boolean => {
    stack.push(pc);
    while (stack.length > 0) {
      const at = stack.pop()!;
      if (marks[at] === generation) continue;
      marks[at] = generation;
      const instruction = instructions[at]!;
      switch (instruction.op) {
        case 'char':
          list.push(at);
          break;
        case 'split':
          stack.push(instruction.second, instruction.first);
          break;
        case 'assert':
          if (assertionHolds(instruction.assert, cps, pos)) stack.push(instruction.next);
          break;
        case 'match':
          stack.length = 0;
          return true;
      }
    }
    return false;
  };

  let current: number[] = [];
  if (addThread(current, start, 0)) return true;
  for (let pos = 0; pos < cps.length; pos++) {
    generation++;
    const next: number[] = [];
    const cp = cps[pos]!;
    for (const pc of current) {
      const instruction = instructions[pc] as Extract<Instruction, { op: 'char' }>;
      if (instruction.test(cp) && addThread(next, instruction.next, pos + 1)) return true;
    }
    // Unanchored search: a new match attempt may start after every character.
    if (addThread(next, start, pos + 1)) return true;
    current = next;
  }
  return false;
}
