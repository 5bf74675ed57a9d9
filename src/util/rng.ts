/**
 * Randomness seam for protocol decisions (probe order, gossip targets, stagger delays).
 * Cryptographic material (nonces, keys) never comes from here: it uses node:crypto directly.
 */

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
}

/** Returns an integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Shuffles `items` in place (Fisher–Yates). */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

export const mathRandom: Rng = { next: () => Math.random() };

/** Deterministic generator (mulberry32) for reproducible simulations. */
export class SeededRng implements Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
