/**
 * Limits repeated log lines about the same peer, so a misconfigured or hostile peer sending bad
 * packets in a loop cannot flood the operator's log. Suppressed repeats are counted and reported
 * with the next line that gets through.
 */

import type { Clock } from '../util/clock.js';

export class RateLimiter {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #intervalMs: number;
  readonly #clock: Clock;

  constructor(clock: Clock, intervalMs: number) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  /**
   * Returns how many earlier lines for `key` were suppressed (0 or more) when a line may be written
   * now, or -1 when it must be suppressed.
   */
  allow(key: string): number {
    const now = this.#clock.now();
    const entry = this.#last.get(key);
    if (entry && now - entry.at < this.#intervalMs) {
      entry.suppressed++;
      return -1;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    if (this.#last.size > 4096) this.#forgetOld(now);
    return suppressed;
  }

  #forgetOld(now: number): void {
    for (const [key, entry] of this.#last) {
      if (now - entry.at >= this.#intervalMs) this.#last.delete(key);
    }
  }
}
