/**
 * Transmit-limited broadcast queue. Each queued message is piggybacked on outgoing packets until
 * it has been sent `retransmitMult × ceil(log10(n + 1))` times, which is enough for epidemic spread
 * to reach every node with high probability while keeping the traffic per message bounded.
 *
 * Selection for one packet works upward from the least-sent messages, and within one transmit
 * count takes the largest message that still fits (newest first on ties), as memberlist does.
 */

import { retransmitLimit } from './timing.js';

export interface Broadcast {
  /** The encoded message, sent as one part of a compound packet. */
  readonly message: Uint8Array;
  /**
   * Key for invalidation: queueing a broadcast with the same name replaces the queued one. memberlist
   * uses the node name for alive/suspect/dead; Serf's events leave it undefined (never replaced).
   */
  readonly name?: string;
  /** Called once when the broadcast leaves the queue, sent out or replaced. */
  finished?(): void;
}

interface Entry {
  broadcast: Broadcast;
  transmits: number;
  id: number;
}

export class TransmitLimitedQueue {
  #entries: Entry[] = [];
  #nextId = 0;
  readonly #retransmitMult: number;
  readonly #numNodes: () => number;

  /** `numNodes` returns the current node count estimate, read at every selection. */
  constructor(retransmitMult: number, numNodes: () => number) {
    this.#retransmitMult = retransmitMult;
    this.#numNodes = numNodes;
  }

  /** Adds a broadcast, replacing any queued one with the same name. */
  queue(broadcast: Broadcast): void {
    if (broadcast.name !== undefined) {
      const kept: Entry[] = [];
      for (const e of this.#entries) {
        if (e.broadcast.name === broadcast.name) {
          e.broadcast.finished?.();
        } else {
          kept.push(e);
        }
      }
      this.#entries = kept;
    }
    this.#entries.push({ broadcast, transmits: 0, id: this.#nextId++ });
  }

  /**
   * Takes the messages that fit in `limit` bytes when each costs its length plus `overhead`, and
   * counts one transmission for each. Messages that reached the retransmit limit leave the queue.
   */
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    if (this.#entries.length === 0) return [];
    const maxTransmits = retransmitLimit(this.#retransmitMult, this.#numNodes());

    const ordered = [...this.#entries].sort(
      (a, b) =>
        a.transmits - b.transmits || b.broadcast.message.length - a.broadcast.message.length || b.id - a.id,
    );

    const out: Uint8Array[] = [];
    let used = 0;
    const done = new Set<Entry>();
    for (const e of ordered) {
      const cost = e.broadcast.message.length + overhead;
      if (used + cost > limit) continue;
      used += cost;
      out.push(e.broadcast.message);
      e.transmits++;
      if (e.transmits >= maxTransmits) done.add(e);
    }

    if (done.size > 0) {
      this.#entries = this.#entries.filter((e) => !done.has(e));
      for (const e of done) e.broadcast.finished?.();
    }
    return out;
  }

  /** Number of queued broadcasts. */
  get length(): number {
    return this.#entries.length;
  }

  /** Drops the oldest broadcasts until at most `maxRetain` remain. */
  prune(maxRetain: number): void {
    if (this.#entries.length <= maxRetain) return;
    const byAge = [...this.#entries].sort((a, b) => a.id - b.id);
    const drop = new Set(byAge.slice(0, this.#entries.length - maxRetain));
    this.#entries = this.#entries.filter((e) => !drop.has(e));
    for (const e of drop) e.broadcast.finished?.();
  }

  /** Empties the queue, calling `finished` for each entry. */
  reset(): void {
    const all = this.#entries;
    this.#entries = [];
    for (const e of all) e.broadcast.finished?.();
  }
}
