/**
 * Pull-style reader of msgpack objects from a TCP socket, used by the RPC server and client.
 */

import type { Socket } from 'node:net';
import { DecodeError, NetworkError } from '../util/errors.js';
import { type FrameDecoderOptions, RpcFrameDecoder } from './codec.js';

export interface ObjectReaderOptions extends FrameDecoderOptions {
  /**
   * Decoded objects held before the socket is paused. Pausing pushes back on a client that
   * pipelines requests faster than they are executed. @default 64
   */
  maxQueuedObjects?: number;
}

export type ReadResult = { done: false; value: unknown } | { done: true };

/**
 * Reads one msgpack object at a time from a socket.
 *
 * `next()` resolves with the next object, with `{ done: true }` at end of input, and rejects with
 * a DecodeError for invalid bytes (after the objects that preceded them) or a NetworkError when
 * the socket fails. Calls must not overlap.
 */
export class RpcObjectReader {
  readonly #socket: Socket;
  readonly #decoder: RpcFrameDecoder;
  readonly #maxQueued: number;
  readonly #queue: unknown[] = [];
  #ended = false;
  #error: Error | undefined;
  #waiter: (() => void) | undefined;

  constructor(socket: Socket, options: ObjectReaderOptions = {}) {
    this.#socket = socket;
    this.#decoder = new RpcFrameDecoder(options);
    this.#maxQueued = options.maxQueuedObjects ?? 64;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      const left = this.#decoder.bufferedBytes;
      this.#finish(
        left > 0 ? new DecodeError(`input ended inside a msgpack object (${left} bytes unread)`) : undefined,
      );
    });
    socket.on('close', () => this.#finish(undefined));
    socket.on('error', (err) =>
      this.#finish(new NetworkError(`socket error: ${err.message}`, { cause: err })),
    );
  }

  async next(): Promise<ReadResult> {
    for (;;) {
      if (this.#queue.length > 0) {
        const value = this.#queue.shift();
        if (this.#queue.length < this.#maxQueued && this.#socket.isPaused() && this.#error === undefined) {
          this.#socket.resume();
        }
        return { done: false, value };
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return { done: true };
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#error !== undefined || this.#ended) return;
    try {
      for (const value of this.#decoder.push(chunk)) this.#queue.push(value);
    } catch (err) {
      this.#error = err instanceof DecodeError ? err : new DecodeError(String(err), { cause: err });
      this.#socket.pause();
    }
    if (this.#queue.length >= this.#maxQueued) this.#socket.pause();
    this.#wake();
  }

  #finish(error: Error | undefined): void {
    if (error !== undefined && this.#error === undefined && !this.#ended) this.#error = error;
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}
