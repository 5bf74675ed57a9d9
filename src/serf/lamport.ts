/**
 * A Lamport clock as Serf uses it: one each for membership intents, user events and queries.
 */

import { InvalidArgumentError } from '../util/errors.js';

/**
 * Logical clock starting at 0. Times travel as uint64 on the wire; decoders reject values above
 * Number.MAX_SAFE_INTEGER, so a witnessed value plus one is still exact.
 */
export class LamportClock {
  #counter = 0;

  /** Returns the current time without changing it. */
  time(): number {
    return this.#counter;
  }

  /** Advances the clock by one and returns the new time. */
  increment(): number {
    this.#counter += 1;
    return this.#counter;
  }

  /**
   * Records a time seen in a message: a value below the current time changes nothing, otherwise
   * the clock moves to one past it, so the next local stamp is later than anything witnessed.
   * Throws InvalidArgumentError for a negative, fractional or unsafe value.
   */
  witness(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(
        `Lamport time ${value} is invalid; expected an integer in [0, ${Number.MAX_SAFE_INTEGER}]`,
      );
    }
    if (value < this.#counter) return;
    this.#counter = value + 1;
  }
}
