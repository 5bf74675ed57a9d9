/**
 * Turns a chunked `Stream` into exact-length reads, for decoders that need "the next n bytes"
 * regardless of how TCP split them.
 */

import { DecodeError } from '../util/errors.js';
import type { Stream } from './types.js';

export interface StreamReaderOptions {
  /**
   * Maximum unread bytes held at once. A peer that sends more without the decoder consuming it
   * gets a DecodeError instead of growing memory without bound. The default fits one encrypted
   * stream frame at its 20 MiB limit plus 64 KiB of slack for headers.
   * @default 20 MiB + 64 KiB
   */
  maxBufferedBytes?: number;
}

export const DEFAULT_MAX_BUFFERED_BYTES = 20 * 1024 * 1024 + 64 * 1024;

/** Smallest buffer allocated when chunks must be joined, in bytes. */
const MIN_BUFFER_SIZE = 4096;

/**
 * Buffers unread bytes from a stream.
 *
 * Arrays returned by `readExactly` and `buffered` are views that the reader never writes to again,
 * so callers may keep them. Calls must not overlap: await one read before starting the next.
 */
export class StreamReader {
  readonly #stream: Stream;
  readonly #maxBufferedBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  /** Unread bytes are `#buffer[#start..#end)`. Bytes after `#end` are free space to append into. */
  #start = 0;
  #end = 0;
  /** False while `#buffer` is a chunk handed over by the stream, whose spare bytes are not ours. */
  #ownsFreeSpace = false;
  #eof = false;

  constructor(stream: Stream, options: StreamReaderOptions = {}) {
    const max = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (!Number.isInteger(max) || max <= 0) {
      throw new RangeError(`maxBufferedBytes must be a positive integer, got ${max}`);
    }
    this.#stream = stream;
    this.#maxBufferedBytes = max;
  }

  /** Number of unread bytes held. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** True once the stream reported end of stream. */
  get ended(): boolean {
    return this.#eof;
  }

  /** Returns a view of the unread bytes without consuming them. */
  buffered(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Marks `n` buffered bytes as read. */
  consume(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) {
      throw new RangeError(`cannot consume ${n} bytes: ${this.length} are buffered`);
    }
    this.#start += n;
    if (this.#start === this.#end) {
      this.#buffer = new Uint8Array(0);
      this.#start = 0;
      this.#end = 0;
    }
  }

  /**
   * Reads one more chunk from the stream into the buffer. Resolves false at end of stream.
   * Rejects with DecodeError when the chunk would take the buffer past `maxBufferedBytes`, and
   * with the stream's own error when the read fails.
   */
  async fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = await this.#stream.read();
    if (chunk === null) {
      this.#eof = true;
      return false;
    }
    this.#append(chunk);
    return true;
  }

  /** Reads exactly `n` bytes. Rejects with DecodeError if the stream ends first. */
  async readExactly(n: number): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`read length must be a non-negative integer, got ${n}`);
    }
    if (n > this.#maxBufferedBytes) {
      throw new DecodeError(
        `cannot read ${n} bytes: exceeds the stream reader limit of ${this.#maxBufferedBytes} buffered bytes`,
      );
    }
    while (this.length < n) {
      if (!(await this.fill())) {
        throw new DecodeError(`unexpected end of stream: needed ${n} bytes, got ${this.length}`);
      }
    }
    const out = this.#buffer.subarray(this.#start, this.#start + n);
    this.consume(n);
    return out;
  }

  /** Reads one byte. Rejects with DecodeError if the stream ends first. */
  async readByte(): Promise<number> {
    const bytes = await this.readExactly(1);
    return bytes[0]!;
  }

  #append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const unread = this.length;
    if (unread + chunk.length > this.#maxBufferedBytes) {
      throw new DecodeError(
        `stream sent more than ${this.#maxBufferedBytes} unread bytes (${unread} buffered + ${chunk.length} received)`,
      );
    }

    // The stream hands chunks over to us, so an empty buffer can simply become the chunk.
    if (unread === 0) {
      this.#buffer = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#ownsFreeSpace = false;
      return;
    }

    if (this.#ownsFreeSpace && this.#buffer.length - this.#end >= chunk.length) {
      this.#buffer.set(chunk, this.#end);
      this.#end += chunk.length;
      return;
    }

    // Copy into a fresh buffer rather than compacting in place: views returned earlier may
    // still point into the old one. Doubling keeps the copying cost linear overall.
    const size = Math.min(this.#maxBufferedBytes, Math.max(MIN_BUFFER_SIZE, 2 * (unread + chunk.length)));
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(this.#start, this.#end), 0);
    next.set(chunk, unread);
    this.#buffer = next;
    this.#start = 0;
    this.#end = unread + chunk.length;
    this.#ownsFreeSpace = true;
  }
}
