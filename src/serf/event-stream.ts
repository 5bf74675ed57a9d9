/**
 * Fan-out of Serf events to subscribers without ever blocking the packet loop. Each subscriber
 * has its own bounded queue; when a consumer falls behind, the oldest events are dropped and the
 * drop is counted, instead of stalling gossip the way a full Go channel would.
 */

import type { SerfEvent } from './events.js';

type Listener = (event: SerfEvent) => void;

class Subscription implements AsyncIterableIterator<SerfEvent> {
  readonly #queue: SerfEvent[] = [];
  readonly #limit: number;
  readonly #onClose: () => void;
  #waiter: ((r: IteratorResult<SerfEvent>) => void) | undefined;
  #closed = false;
  dropped = 0;

  constructor(limit: number, onClose: () => void) {
    this.#limit = limit;
    this.#onClose = onClose;
  }

  push(event: SerfEvent): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: event, done: false });
      return;
    }
    if (this.#queue.length >= this.#limit) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(event);
  }

  next(): Promise<IteratorResult<SerfEvent>> {
    const event = this.#queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<SerfEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#onClose();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SerfEvent> {
    return this;
  }
}

export class EventStream {
  readonly #subscriptions = new Set<Subscription>();
  readonly #listeners = new Set<Listener>();
  readonly #onListenerError: (err: unknown) => void;
  #closed = false;

  constructor(onListenerError: (err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Delivers `event` to every listener and subscription. Never throws, never waits. */
  emit(event: SerfEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
    for (const s of this.#subscriptions) s.push(event);
  }

  /** Returns an async iterator over events from now on, which ends at shutdown or on `return()`. */
  subscribe(bufferSize: number): AsyncIterableIterator<SerfEvent> & { readonly dropped: number } {
    const sub = new Subscription(bufferSize, () => this.#subscriptions.delete(sub));
    if (this.#closed) sub.close();
    else this.#subscriptions.add(sub);
    return sub;
  }

  /** Calls `listener` synchronously for every event; it must return quickly. Returns unsubscribe. */
  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    for (const s of [...this.#subscriptions]) s.close();
    this.#listeners.clear();
  }
}
