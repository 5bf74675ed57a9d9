/**
 * The msgpack dialect of the agent RPC port and a frame reader for its object stream.
 *
 * The Go agent and CLI encode RPC traffic with a go-msgpack handle that has `WriteExt` on, so
 * strings use str8 (0xd9) for 32..255 bytes and byte slices use bin (0xc4..0xc6). This is what
 * @msgpack/msgpack writes for `string` and `Uint8Array`, so its encoder is used as is. Go structs
 * are maps whose keys are the field names in ascending order, which `sortKeys` produces.
 *
 * A connection carries a plain sequence of msgpack objects with no length prefix. `RpcFrameDecoder`
 * finds where each object ends by walking its headers (resumable, so a slow sender costs O(1) per
 * chunk), enforces a size and nesting cap on every object, and only then hands the complete bytes
 * to @msgpack/msgpack's decoder. Every failure is reported as our `DecodeError`.
 */

import { Decoder, Encoder } from '@msgpack/msgpack';
import { DecodeError } from '../util/errors.js';

/** Default cap on one incoming object, in bytes. Client requests are small, and the client sets its own cap for replies. */
export const DEFAULT_MAX_OBJECT_BYTES = 1024 * 1024;

/**
 * Default cap on array/map nesting of one object. The deepest RPC value (a members reply:
 * map → array → member map → tags map) nests 4 levels.
 */
export const DEFAULT_MAX_DEPTH = 32;

const encoder = new Encoder({ sortKeys: true, ignoreUndefined: true });
// Coordinates are Go float64 fields: Go writes 0 as `cb 00…`, so integral values must stay floats.
const floatEncoder = new Encoder({ sortKeys: true, ignoreUndefined: true, forceIntegerToFloat: true });

/**
 * Encodes one value in the RPC dialect. Objects are Go structs (keys sorted, `undefined` keys
 * left out), `Uint8Array` is bin, `null` is nil.
 */
export function encodeRpc(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Encodes a value whose every number is a Go float64 (the coordinate reply). */
export function encodeRpcFloats(value: unknown): Uint8Array {
  return floatEncoder.encode(value);
}

/** Concatenates encoded objects so that a header and its body go out in one socket write. */
export function concatFrames(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export interface FrameDecoderOptions {
  /** Largest accepted object in bytes. A larger one is a DecodeError. @default 1 MiB */
  maxObjectBytes?: number;
  /** Deepest accepted array/map nesting. @default 32 */
  maxDepth?: number;
}

/**
 * Splits a byte stream into msgpack objects and decodes them.
 *
 * `push` appends a chunk and returns every object completed by it, in order. After a DecodeError
 * the decoder is unusable, because the stream has lost its object boundaries.
 */
export class RpcFrameDecoder {
  readonly #maxObjectBytes: number;
  readonly #maxDepth: number;
  readonly #decoder: Decoder;
  #buffer = new Uint8Array(0);
  #length = 0;
  /** Scan position inside the current object, relative to the buffer start. */
  #pos = 0;
  /**
   * Items still to read at each open nesting level of the current object. The bottom entry is a
   * virtual container holding the object itself, so an empty stack means the object is complete.
   */
  #pending: number[] = [1];
  #failed: DecodeError | undefined;
  /** True once `#buffer` views an allocation made by this decoder, so appending in place is safe. */
  #ownsBuffer = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.#maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (!Number.isInteger(this.#maxObjectBytes) || this.#maxObjectBytes <= 0) {
      throw new RangeError(`maxObjectBytes must be a positive integer, got ${this.#maxObjectBytes}`);
    }
    if (!Number.isInteger(this.#maxDepth) || this.#maxDepth <= 0) {
      throw new RangeError(`maxDepth must be a positive integer, got ${this.#maxDepth}`);
    }
    this.#decoder = new Decoder();
  }

  /** Number of bytes received but not yet returned as objects. */
  get bufferedBytes(): number {
    return this.#length;
  }

  /** Appends `chunk` and returns the objects it completed. Throws DecodeError on invalid input. */
  push(chunk: Uint8Array): unknown[] {
    if (this.#failed) throw this.#failed;
    try {
      this.#append(chunk);
      const objects: unknown[] = [];
      for (;;) {
        const end = this.#scan();
        if (end === undefined) break;
        objects.push(this.#decodeSlice(end));
        this.#buffer = this.#buffer.subarray(end);
        this.#length -= end;
        this.#pos = 0;
        this.#pending = [1];
      }
      if (this.#length > this.#maxObjectBytes) {
        throw new DecodeError(
          `msgpack object exceeds the ${this.#maxObjectBytes}-byte limit (${this.#length} bytes buffered without an object end)`,
        );
      }
      return objects;
    } catch (err) {
      this.#failed =
        err instanceof DecodeError ? err : new DecodeError(`invalid msgpack: ${String(err)}`, { cause: err });
      throw this.#failed;
    }
  }

  #append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const needed = this.#length + chunk.length;
    if (this.#buffer.byteOffset + needed <= this.#buffer.buffer.byteLength && this.#ownsBuffer) {
      // Room left after the current view in our own allocation: append in place.
      const whole = new Uint8Array(this.#buffer.buffer, this.#buffer.byteOffset, needed);
      whole.set(chunk, this.#length);
      this.#buffer = whole;
    } else {
      const grown = new Uint8Array(Math.max(needed, Math.min(needed * 2, this.#maxObjectBytes + 1), 4096));
      grown.set(this.#buffer.subarray(0, this.#length));
      grown.set(chunk, this.#length);
      this.#buffer = grown.subarray(0, needed);
      this.#ownsBuffer = true;
    }
    this.#length = needed;
  }

  /** Advances the scan and returns the end offset of the current object once it is complete. */
  #scan(): number | undefined {
    const buf = this.#buffer;
    while (this.#pending.length > 0) {
      const item = readItemHeader(buf, this.#pos, this.#length);
      if (item === undefined) return undefined;
      if (item.size > this.#maxObjectBytes || this.#pos + item.size > this.#maxObjectBytes) {
        throw new DecodeError(
          `msgpack object exceeds the ${this.#maxObjectBytes}-byte limit (an item at offset ${this.#pos} declares ${item.size} bytes)`,
        );
      }
      if (this.#pos + item.size > this.#length) return undefined;
      this.#pos += item.size;
      const top = this.#pending.length - 1;
      this.#pending[top] = (this.#pending[top] ?? 1) - 1;
      if (item.children > 0) {
        // The virtual bottom entry does not count as a nesting level.
        if (this.#pending.length > this.#maxDepth) {
          throw new DecodeError(`msgpack object nests deeper than the limit of ${this.#maxDepth} levels`);
        }
        this.#pending.push(item.children);
      }
      while (this.#pending.length > 0 && this.#pending[this.#pending.length - 1] === 0) this.#pending.pop();
    }
    return this.#pos;
  }

  #decodeSlice(end: number): unknown {
    // Copy so that decoded bin values never alias the reusable receive buffer.
    const bytes = this.#buffer.slice(0, end);
    try {
      return this.#decoder.decode(bytes);
    } catch (err) {
      throw new DecodeError(`invalid msgpack object: ${(err as Error).message}`, { cause: err });
    }
  }
}

interface ItemHeader {
  /** Bytes of this item excluding its children (header plus str/bin payload). */
  size: number;
  /** Child items that follow (array elements, or keys plus values of a map). */
  children: number;
}

/**
 * Reads the header of the item at `pos`. Returns undefined when the header itself is not complete
 * yet. Throws DecodeError for the unused byte 0xc1 and for ext types, which no RPC message contains.
 */
function readItemHeader(buf: Uint8Array, pos: number, length: number): ItemHeader | undefined {
  if (pos >= length) return undefined;
  const b = buf[pos] as number;
  if (b <= 0x7f || b >= 0xe0) return { size: 1, children: 0 };
  if (b >= 0x80 && b <= 0x8f) return { size: 1, children: 2 * (b & 0x0f) };
  if (b >= 0x90 && b <= 0x9f) return { size: 1, children: b & 0x0f };
  if (b >= 0xa0 && b <= 0xbf) return { size: 1 + (b & 0x1f), children: 0 };
  const uint = (bytes: number): number | undefined => {
    if (pos + 1 + bytes > length) return undefined;
    let value = 0;
    for (let i = 1; i <= bytes; i++) value = value * 256 + (buf[pos + i] as number);
    return value;
  };
  switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return { size: 1, children: 0 };
    case 0xc4:
    case 0xd9:
      return sized(uint(1), 2);
    case 0xc5:
    case 0xda:
      return sized(uint(2), 3);
    case 0xc6:
    case 0xdb:
      return sized(uint(4), 5);
    case 0xca:
      return { size: 5, children: 0 };
    case 0xcb:
      return { size: 9, children: 0 };
    case 0xcc:
    case 0xd0:
      return { size: 2, children: 0 };
    case 0xcd:
    case 0xd1:
      return { size: 3, children: 0 };
    case 0xce:
    case 0xd2:
      return { size: 5, children: 0 };
    case 0xcf:
    case 0xd3:
      return { size: 9, children: 0 };
    case 0xdc:
      return counted(uint(2), 3, 1);
    case 0xdd:
      return counted(uint(4), 5, 1);
    case 0xde:
      return counted(uint(2), 3, 2);
    case 0xdf:
      return counted(uint(4), 5, 2);
    default:
      throw new DecodeError(
        `unsupported msgpack type byte 0x${b.toString(16)} at offset ${pos}; RPC messages contain no ext types`,
      );
  }
}

function sized(length: number | undefined, headerBytes: number): ItemHeader | undefined {
  return length === undefined ? undefined : { size: headerBytes + length, children: 0 };
}

function counted(count: number | undefined, headerBytes: number, perEntry: number): ItemHeader | undefined {
  return count === undefined ? undefined : { size: headerBytes, children: count * perEntry };
}

/** Decodes exactly one complete msgpack object (for tests and captured vectors). */
export function decodeRpc(bytes: Uint8Array, options?: FrameDecoderOptions): unknown {
  const objects = decodeRpcAll(bytes, options);
  if (objects.length !== 1) {
    throw new DecodeError(`expected exactly one msgpack object, got ${objects.length}`);
  }
  return objects[0];
}

/** Decodes a buffer of zero or more complete msgpack objects. Trailing partial bytes are a DecodeError. */
export function decodeRpcAll(bytes: Uint8Array, options?: FrameDecoderOptions): unknown[] {
  const decoder = new RpcFrameDecoder(options);
  const objects = decoder.push(bytes);
  if (decoder.bufferedBytes !== 0) {
    throw new DecodeError(`msgpack input ends inside an object (${decoder.bufferedBytes} bytes left over)`);
  }
  return objects;
}
