/**
 * Command-line flag parser compatible with Go's `flag` package (Go 1.19), which the reference
 * `serf` CLI uses. It accepts `-name=value`, `-name value` and `--name`. Booleans take a value
 * only as `-name=false`, list flags repeat, and `--` ends the flags. Parsing stops at the first
 * argument that is not a flag. Error texts match Go's, because users see them on stderr.
 */

import { parseGoDuration } from './duration.js';
import { goQuote } from './format.js';

/** A parsed flag value, read after `FlagSet.parse` returns. */
export interface FlagRef<T> {
  value: T;
}

type FlagKind = 'bool' | 'string' | 'int' | 'duration' | 'list';

interface FlagDefinition {
  kind: FlagKind;
  ref: FlagRef<unknown>;
}

/** The arguments contained `-h` or `-help` (any value) as a flag: the caller prints the command's help. */
export class FlagHelpRequested extends Error {
  constructor() {
    super('help requested');
    this.name = 'FlagHelpRequested';
  }
}

/** An invalid flag; `message` is exactly the line Go's flag package prints. */
export class FlagParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagParseError';
  }
}

export class FlagSet {
  readonly #flags = new Map<string, FlagDefinition>();

  bool(name: string, initial: boolean): FlagRef<boolean> {
    return this.#define(name, 'bool', initial);
  }

  string(name: string, initial: string): FlagRef<string> {
    return this.#define(name, 'string', initial);
  }

  /** Defines a Go `int` flag (64-bit): decimal, `0x`, `0o`, `0b` or leading-zero octal, `_` between digits. */
  int(name: string, initial: number): FlagRef<number> {
    return this.#define(name, 'int', initial);
  }

  /** Defines a Go duration flag, whose value is in nanoseconds. */
  duration(name: string, initialNs: bigint): FlagRef<bigint> {
    return this.#define(name, 'duration', initialNs);
  }

  /** Defines a repeatable string flag: every occurrence appends its value. */
  list(name: string): FlagRef<string[]> {
    return this.#define(name, 'list', []);
  }

  /**
   * Parses `args` and returns the positional arguments that follow the flags.
   * Throws FlagParseError for an invalid flag and FlagHelpRequested for `-h`/`-help`.
   */
  parse(args: readonly string[]): string[] {
    let index = 0;
    while (index < args.length) {
      const arg = args[index] as string;
      if (arg.length < 2 || !arg.startsWith('-')) {
        break;
      }
      if (arg === '--') {
        index++;
        break;
      }

      const name = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
      if (name === '' || name.startsWith('-') || name.startsWith('=')) {
        throw new FlagParseError(`bad flag syntax: ${arg}`);
      }
      index++;

      const equals = name.indexOf('=');
      const flagName = equals === -1 ? name : name.slice(0, equals);
      const inlineValue = equals === -1 ? undefined : name.slice(equals + 1);
      const definition = this.#flags.get(flagName);
      if (definition === undefined) {
        if (flagName === 'help' || flagName === 'h') {
          throw new FlagHelpRequested();
        }
        throw new FlagParseError(`flag provided but not defined: -${flagName}`);
      }

      if (definition.kind === 'bool') {
        // Go never takes a boolean's value from the next argument, so `-flag false` leaves "false" positional.
        const parsed = parseGoBool(inlineValue ?? 'true');
        if (parsed === undefined) {
          throw new FlagParseError(
            `invalid boolean value ${goQuote(inlineValue ?? '')} for -${flagName}: parse error`,
          );
        }
        definition.ref.value = parsed;
        continue;
      }

      let value = inlineValue;
      if (value === undefined) {
        if (index >= args.length) {
          throw new FlagParseError(`flag needs an argument: -${flagName}`);
        }
        value = args[index] as string;
        index++;
      }
      this.#assign(flagName, definition, value);
    }
    return args.slice(index);
  }

  #define<T>(name: string, kind: FlagKind, initial: T): FlagRef<T> {
    if (this.#flags.has(name)) {
      throw new TypeError(`flag -${name} is defined twice`);
    }
    const ref: FlagRef<T> = { value: initial };
    this.#flags.set(name, { kind, ref });
    return ref;
  }

  #assign(name: string, definition: FlagDefinition, value: string): void {
    const invalid = (reason: string) =>
      new FlagParseError(`invalid value ${goQuote(value)} for flag -${name}: ${reason}`);

    switch (definition.kind) {
      case 'string':
        definition.ref.value = value;
        return;
      case 'list':
        (definition.ref.value as string[]).push(value);
        return;
      case 'int': {
        const parsed = parseGoInt(value);
        if (parsed === 'parse') throw invalid('parse error');
        if (parsed === 'range') throw invalid('value out of range');
        definition.ref.value = Number(parsed);
        return;
      }
      case 'duration':
        try {
          definition.ref.value = parseGoDuration(value);
        } catch {
          throw invalid('parse error');
        }
        return;
      case 'bool':
        throw new TypeError('boolean flags are handled before #assign');
    }
  }
}

/** Go `strconv.ParseBool`: returns undefined for anything else. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** Go `strconv.ParseInt(text, 0, 64)`: the value, or which of Go's two errors it would return. */
export function parseGoInt(text: string): bigint | 'parse' | 'range' {
  let rest = text;
  let negative = false;
  if (rest.startsWith('+') || rest.startsWith('-')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }

  let base = 10;
  let digits = rest;
  let prefixed = false;
  const lower = rest.toLowerCase();
  if (lower.startsWith('0x')) {
    [base, digits, prefixed] = [16, rest.slice(2), true];
  } else if (lower.startsWith('0o')) {
    [base, digits, prefixed] = [8, rest.slice(2), true];
  } else if (lower.startsWith('0b')) {
    [base, digits, prefixed] = [2, rest.slice(2), true];
  } else if (rest.length > 1 && rest.startsWith('0')) {
    [base, digits, prefixed] = [8, rest.slice(1), true];
  }

  // Underscores may only separate digits, or follow a base prefix.
  const underscoreOk = prefixed ? /^_?[0-9a-zA-Z]+(_[0-9a-zA-Z]+)*$/ : /^[0-9a-zA-Z]+(_[0-9a-zA-Z]+)*$/;
  if (digits === '' || !underscoreOk.test(digits)) {
    return 'parse';
  }
  const clean = digits.replaceAll('_', '');
  const digitPattern = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[
    base as 2 | 8 | 10 | 16
  ];
  if (!digitPattern.test(clean)) {
    return 'parse';
  }

  const prefix = { 2: '0b', 8: '0o', 10: '', 16: '0x' }[base as 2 | 8 | 10 | 16];
  const magnitude = BigInt(`${prefix}${clean}`);
  const value = negative ? -magnitude : magnitude;
  if (value > (1n << 63n) - 1n || value < -(1n << 63n)) {
    return 'range';
  }
  return value;
}
