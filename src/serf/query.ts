/**
 * The origin side of a query: collects acks and responses until the deadline, dropping duplicates
 * (relayed copies arrive more than once), and hands them out as an async iterable.
 */

import { afterPendingIo, type Clock, type TimerHandle } from '../util/clock.js';
import { QueryFlag } from './message-types.js';
import type { QueryResponseMessage } from './messages.js';

export type QueryReply =
  | { type: 'ack'; from: string }
  | { type: 'response'; from: string; payload: Uint8Array };

export interface QueryOptions {
  /** Only nodes with these names process the query. */
  filterNodes?: string[];
  /** Tag name → Go regular expression matched (unanchored) against the node's tag value. */
  filterTags?: Record<string, string>;
  /** Ask every node that processes the query for an ack. @default false */
  requestAck?: boolean;
  /** Extra copies of each reply sent through random members, for lossy networks (0..255). */
  relayFactor?: number;
  /** How long responses are accepted; 0 uses the cluster-size-based default. */
  timeoutMs?: number;
  /** Stop collecting early. */
  signal?: AbortSignal;
}

export class QueryHandle implements AsyncIterable<QueryReply> {
  readonly name: string;
  readonly id: number;
  readonly ltime: number;
  /** Clock time (ms) when collection ends. */
  readonly deadline: number;
  readonly #acks = new Set<string>();
  readonly #responses = new Set<string>();
  readonly #queue: QueryReply[] = [];
  readonly #capacity: number;
  readonly #onClose: () => void;
  readonly #timer: TimerHandle;
  #waiter: ((r: IteratorResult<QueryReply>) => void) | undefined;
  #closed = false;
  #closedResolve!: () => void;
  /** Resolves when collection has ended (deadline, close() or shutdown). */
  readonly finished: Promise<void>;
  /** Replies dropped because the consumer did not keep up. */
  dropped = 0;

  constructor(params: {
    name: string;
    id: number;
    ltime: number;
    timeoutMs: number;
    clock: Clock;
    capacity: number;
    onClose: () => void;
  }) {
    this.name = params.name;
    this.id = params.id;
    this.ltime = params.ltime;
    this.deadline = params.clock.now() + params.timeoutMs;
    this.#capacity = Math.max(16, params.capacity);
    this.#onClose = params.onClose;
    this.finished = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
    this.#timer = params.clock.setTimeout(() => afterPendingIo(() => this.close()), params.timeoutMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Names that acked so far. */
  get acks(): string[] {
    return [...this.#acks];
  }

  /** Records a reply from a node; duplicates from the same node are ignored. */
  handleResponse(resp: QueryResponseMessage): void {
    if (this.#closed) return;
    if (resp.flags & QueryFlag.ack) {
      if (this.#acks.has(resp.from)) return;
      this.#acks.add(resp.from);
      this.#push({ type: 'ack', from: resp.from });
      return;
    }
    if (this.#responses.has(resp.from)) return;
    this.#responses.add(resp.from);
    this.#push({ type: 'response', from: resp.from, payload: resp.payload ?? new Uint8Array(0) });
  }

  #push(reply: QueryReply): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: reply, done: false });
      return;
    }
    if (this.#queue.length >= this.#capacity) {
      this.dropped++;
      return;
    }
    this.#queue.push(reply);
  }

  /** Ends collection now. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer.cancel();
    this.#onClose();
    this.#closedResolve();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<QueryReply> {
    return {
      next: () => {
        const reply = this.#queue.shift();
        if (reply) return Promise.resolve({ value: reply, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** Waits for the deadline and returns every ack and response. */
  async collect(): Promise<{ acks: string[]; responses: Map<string, Uint8Array> }> {
    const responses = new Map<string, Uint8Array>();
    const acks: string[] = [];
    for await (const r of this) {
      if (r.type === 'ack') acks.push(r.from);
      else responses.set(r.from, r.payload);
    }
    return { acks, responses };
  }
}

/** Default query timeout in ms: gossipInterval × mult × ceil(log10(n + 1)). LAN, n ≤ 9: 3.2 s. */
export function defaultQueryTimeout(gossipIntervalMs: number, queryTimeoutMult: number, n: number): number {
  return gossipIntervalMs * queryTimeoutMult * Math.ceil(Math.log10(n + 1));
}
