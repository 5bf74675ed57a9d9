/**
 * Go `time.ParseDuration` syntax, used by CLI flags (`-timeout=1.5s`) and by agent configuration
 * values. Results are exact integer nanoseconds, as in Go, so `1.0000000009s` truncates the same
 * way Go does.
 */

import { InvalidArgumentError } from '../util/errors.js';

/** Largest Go `time.Duration` (int64 nanoseconds). */
const MAX_DURATION_NS = (1n << 63n) - 1n;

/** Nanoseconds per unit. Go accepts both U+00B5 (micro sign) and U+03BC (Greek mu) for microseconds. */
const UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

/**
 * Parses a Go duration string such as `300ms`, `-1.5h` or `2h45m` into nanoseconds.
 *
 * Throws InvalidArgumentError with Go's message text (`time: invalid duration "x"`,
 * `time: missing unit in duration "5"`, `time: unknown unit "d" in duration "1d"`) when the text
 * is not a valid duration or does not fit in a signed 64-bit nanosecond count.
 */
export function parseGoDuration(text: string): bigint {
  const invalid = () => new InvalidArgumentError(`time: invalid duration ${goQuoteDuration(text)}`);
  let rest = text;
  let negative = false;

  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  // A bare "0" (with or without sign) is the only value allowed without a unit.
  if (rest === '0') {
    return 0n;
  }
  if (rest === '') {
    throw invalid();
  }

  let total = 0n;
  while (rest !== '') {
    const match = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = match?.[1] ?? '';
    const fraction = match?.[2];
    if (whole === '' && (fraction === undefined || fraction === '')) {
      throw invalid();
    }
    rest = rest.slice(match?.[0].length ?? 0);

    const unitMatch = /^[^0-9.]+/.exec(rest);
    if (unitMatch === null) {
      throw new InvalidArgumentError(`time: missing unit in duration ${goQuoteDuration(text)}`);
    }
    const unitText = unitMatch[0];
    const unit = UNIT_NS.get(unitText);
    if (unit === undefined) {
      throw new InvalidArgumentError(
        `time: unknown unit ${goQuoteDuration(unitText)} in duration ${goQuoteDuration(text)}`,
      );
    }
    rest = rest.slice(unitText.length);

    let value = BigInt(whole === '' ? '0' : whole) * unit;
    if (fraction !== undefined && fraction !== '') {
      // Scale the fraction digits by the unit and truncate below one nanosecond, as Go does.
      value += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    }
    total += value;
    if (total > MAX_DURATION_NS + (negative ? 1n : 0n)) {
      throw invalid();
    }
  }
  return negative ? -total : total;
}

/** Converts a duration in nanoseconds to milliseconds (fractional when not a whole number). */
export function durationToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}

/** Quotes like Go's time package does in its error messages: double quotes, `"` and `\` escaped. */
function goQuoteDuration(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
