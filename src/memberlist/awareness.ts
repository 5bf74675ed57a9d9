/**
 * Lifeguard local health: a score in [0, max - 1] that rises when this node's own probes fail or it
 * has to refute suspicions, a sign that the node itself is slow or overloaded. The probe interval
 * and probe deadline are multiplied by (score + 1), so a struggling node accuses others less eagerly.
 */
export class Awareness {
  #score = 0;
  readonly #max: number;

  constructor(maxMultiplier: number) {
    this.#max = maxMultiplier;
  }

  /** Adds `delta` and clamps the result to [0, max - 1]. */
  apply(delta: number): void {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta));
  }

  get score(): number {
    return this.#score;
  }

  /** Scales a duration in ms by the current health. */
  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
