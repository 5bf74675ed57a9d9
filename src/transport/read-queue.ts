/**
 * The receive side shared by both stream implementations: chunks that arrived but were not read
 * yet, reads waiting for a chunk, and how the stream ended (peer EOF, failure or local close).
 */

import { NetworkError } from '../util/errors.js';
import { formatAddress } from './address.js';
import type { Address } from './types.js';

interface PendingRead {
  resolve: (chunk: Uint8Array | null) => void;
  reject: (err: Error) => void;
}

export class ReadQueue {
  readonly #remote: Address;
  readonly #chunks: Uint8Array[] = [];
  #readers: PendingRead[] = [];
  #queuedBytes = 0;
  #peerEnded = false;
  #error: Error | undefined;
  #closed = false;

  constructor(remote: Address) {
    this.#remote = remote;
  }

  /** Bytes received and not read yet. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get peerEnded(): boolean {
    return this.#peerEnded;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Returns the next chunk; `null` after the peer's EOF; rejects once failed or closed. */
  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.reject(this.closedError());
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#queuedBytes -= chunk.length;
      return Promise.resolve(chunk);
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#peerEnded) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
  }

  /** Hands a received chunk to a waiting read, or queues it. Ignored after a failure or close. */
  push(chunk: Uint8Array): void {
    if (this.#closed || this.#error !== undefined) return;
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader.resolve(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.length;
  }

  /** Records the peer's EOF: queued chunks are still read, then reads return `null`. */
  end(): void {
    this.#peerEnded = true;
    this.#settleReaders();
  }

  /**
   * Records the first failure: reads reject with it once the queue is empty, or at once when
   * `discardQueued` (a reset connection whose queued bytes can no longer be trusted).
   */
  fail(err: Error, discardQueued = false): void {
    if (this.#closed || this.#error !== undefined) return;
    this.#error = err;
    if (discardQueued) this.#clear();
    this.#settleReaders();
  }

  /** Closes the receive side: queued chunks are dropped and every read rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clear();
    this.#settleReaders();
  }

  closedError(): NetworkError {
    return new NetworkError(`stream with ${formatAddress(this.#remote)} is closed`);
  }

  #clear(): void {
    this.#chunks.length = 0;
    this.#queuedBytes = 0;
  }

  /** Settles waiting reads once no more data can arrive for them. */
  #settleReaders(): void {
    if (this.#readers.length === 0) return;
    if (!this.#closed && this.#error === undefined && !this.#peerEnded) return;
    const readers = this.#readers;
    this.#readers = [];
    for (const reader of readers) {
      if (this.#closed) reader.reject(this.closedError());
      else if (this.#error !== undefined) reader.reject(this.#error);
      else reader.resolve(null);
    }
  }
}
