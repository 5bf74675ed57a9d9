/**
 * Lifeguard suspicion timer. A suspect node is declared dead when the timer fires; each new,
 * independent accuser shortens the timer from the maximum toward the minimum, so a node that many
 * members cannot reach is removed quickly while a single slow accuser cannot cause a fast false
 * failure.
 */

import type { Clock, TimerHandle } from '../util/clock.js';
import { suspicionRemaining } from './timing.js';

export class Suspicion {
  readonly #confirmedBy = new Set<string>();
  readonly #k: number;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #start: number;
  readonly #clock: Clock;
  readonly #onTimeout: (confirmations: number) => void;
  #confirmations = 0;
  #timer: TimerHandle;

  /**
   * `from` is the first accuser, counted as a source but not as a confirmation. With k ≥ 1 the timer
   * starts at `maxMs`, otherwise at `minMs`.
   */
  constructor(
    from: string,
    k: number,
    minMs: number,
    maxMs: number,
    clock: Clock,
    onTimeout: (confirmations: number) => void,
  ) {
    this.#k = k;
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#clock = clock;
    this.#onTimeout = onTimeout;
    this.#confirmedBy.add(from);
    this.#start = clock.now();
    const initial = k < 1 ? minMs : maxMs;
    this.#timer = clock.setTimeout(() => this.#fire(), initial);
  }

  /**
   * Records a suspect message from `from`. Returns true when it was a new confirmation (the caller
   * then re-gossips it); duplicates and confirmations past k return false.
   */
  confirm(from: string): boolean {
    if (this.#confirmations >= this.#k) return false;
    if (this.#confirmedBy.has(from)) return false;
    this.#confirmedBy.add(from);
    this.#confirmations++;

    const timeout = suspicionRemaining(this.#confirmations, this.#k, this.#minMs, this.#maxMs);
    const elapsed = this.#clock.now() - this.#start;
    const remaining = timeout - elapsed;
    this.#timer.cancel();
    if (remaining > 0) {
      this.#timer = this.#clock.setTimeout(() => this.#fire(), remaining);
    } else {
      this.#timer = this.#clock.setTimeout(() => this.#fire(), 0);
    }
    return true;
  }

  get confirmations(): number {
    return this.#confirmations;
  }

  cancel(): void {
    this.#timer.cancel();
  }

  #fire(): void {
    this.#onTimeout(this.#confirmations);
  }
}
