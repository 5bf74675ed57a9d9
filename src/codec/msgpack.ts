/**
 * The msgpack dialect of the gossip wire (UDP packets and TCP streams between nodes).
 *
 * Why this is hand-written: the Go nodes encode with go-msgpack 0.5.5 and a `MsgpackHandle`
 * whose `WriteExt` is off. That handle writes both strings and byte slices with the legacy "raw"
 * family (fixstr, str16 0xda, str32 0xdb): it never writes str8 (0xd9) and never bin (0xc4..0xc6).
 * It also writes Go structs as maps with the field names sorted in byte order, and every integer
 * in its smallest form (non-negative signed values use the uint forms). General-purpose msgpack
 * libraries such as @msgpack/msgpack write str8 and bin, so their output differs from a Go node's
 * byte for byte. Byte-exact output (needed for CRCs, for compression to produce the captured
 * bytes, and for interop tests) needs this level of control.
 *
 * Encoding model:
 * - `string` and `Uint8Array` are both written as raw strings (UTF-8 for `string`).
 * - A plain object is a Go struct: a map whose keys are sorted by their UTF-8 bytes. Keys whose
 *   value is `undefined` are left out, which is how callers express `omitempty`.
 * - A `Map` is a Go map: entries are written in insertion order.
 * - An integer `number` or a `bigint` takes the smallest int form. A non-integer `number`, an
 *   integral `number` outside the int64/uint64 range, and a `Float64` are written as float64 (0xcb).
 *
 * Decoding is lenient, as the Go side is: str8 and bin are accepted and, like every string,
 * decode to `Uint8Array`. Ext types (0xc7..0xc9, 0xd4..0xd8) and the unused byte 0xc1 are a
 * `DecodeError`, because no memberlist or Serf message contains one.
 */

import { DecodeError, InvalidArgumentError } from '../util/errors.js';

/** Wraps a number that must be written as float64 (0xcb) even when it is integral (coordinates). */
export class Float64 {
  constructor(readonly value: number) {}
}

export type GossipValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Float64
  | GossipValue[]
  | Map<string, GossipValue>
  | { [key: string]: GossipValue };

/** A decoded map key. String and byte-string keys decode to UTF-8 text. */
export type GossipKey = string | number | boolean | null;

/** A decoded msgpack map: a Go struct or a Go map. */
export type GossipMap = Map<GossipKey, GossipDecoded>;

/**
 * A decoded msgpack value. Every str and bin value is a `Uint8Array` (the wire does not tell
 * strings from byte slices apart), integers are numbers unless beyond ±(2^53 − 1), where they are
 * `bigint`.
 */
export type GossipDecoded = null | boolean | number | bigint | Uint8Array | GossipDecoded[] | GossipMap;

/**
 * The input ended in the middle of an object. Stream readers catch it to learn that they must
 * read more bytes and try again; for a complete datagram it is an ordinary decode failure.
 */
export class IncompleteInputError extends DecodeError {}

/** The deepest array/map nesting the decoder accepts. Memberlist and Serf messages nest fewer than 10 levels. */
export const MAX_DECODE_DEPTH = 64;

/** Encoder nesting limit; deeper values are almost certainly cyclic. */
const MAX_ENCODE_DEPTH = 256;

export const MAX_UINT8 = 0xff;
export const MAX_UINT16 = 0xffff;
export const MAX_UINT32 = 0xffff_ffff;
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
const MIN_INT64 = -0x8000_0000_0000_0000n;
const TWO_POW_64 = 2 ** 64;
const TWO_POW_63 = 2 ** 63;

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text instead of silently dropping it.
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Appends gossip msgpack to a growable buffer. One encoder can build a whole stream message
 * (type byte, header, node states, raw user state) without intermediate copies.
 */
export class GossipEncoder {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  constructor(initialCapacity = 256) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** Returns a copy of the bytes written so far. The encoder stays usable. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }

  /** Discards everything written, keeping the allocated buffer. */
  reset(): void {
    this.#pos = 0;
  }

  /** Appends one byte as is (a message type byte, for example). */
  writeByte(byte: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = byte;
    return this;
  }

  /** Appends bytes as they are, with no msgpack header (raw user state after a push/pull). */
  writeRaw(bytes: Uint8Array): this {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  /** Appends one value encoded with the rules in the file header. */
  write(value: GossipValue): this {
    this.#writeValue(value, 0);
    return this;
  }

  writeNil(): this {
    return this.writeByte(0xc0);
  }

  writeBool(value: boolean): this {
    return this.writeByte(value ? 0xc3 : 0xc2);
  }

  /** Appends an integer in its smallest form. Throws InvalidArgumentError outside int64/uint64. */
  writeInt(value: number | bigint): this {
    if (typeof value === 'bigint') {
      if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
        return this.writeInt(Number(value));
      }
      if (value > MAX_UINT64 || value < MIN_INT64) {
        throw new InvalidArgumentError(
          `integer ${value} does not fit in msgpack int64/uint64; use a value in [-2^63, 2^64 - 1]`,
        );
      }
      this.#ensure(9);
      if (value >= 0n) {
        this.#buf[this.#pos] = 0xcf;
        this.#view.setBigUint64(this.#pos + 1, value);
      } else {
        this.#buf[this.#pos] = 0xd3;
        this.#view.setBigInt64(this.#pos + 1, value);
      }
      this.#pos += 9;
      return this;
    }
    if (!Number.isInteger(value)) {
      throw new InvalidArgumentError(
        `writeInt needs an integer, got ${value}; use writeFloat64 for fractions`,
      );
    }
    if (value >= 0) this.#writeUint(value);
    else this.#writeNegative(value);
    return this;
  }

  writeFloat64(value: number): this {
    this.#ensure(9);
    this.#buf[this.#pos] = 0xcb;
    this.#view.setFloat64(this.#pos + 1, value);
    this.#pos += 9;
    return this;
  }

  /** Appends a string as a UTF-8 raw string (fixstr, str16 or str32, never str8). */
  writeString(value: string): this {
    const n = value.length;
    // Fast path: an ASCII string has as many bytes as UTF-16 code units, so the header is known.
    this.#ensure(n + 5);
    const header = rawHeaderSize(n);
    const buf = this.#buf;
    const start = this.#pos + header;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    if (i === n) {
      this.#writeRawHeader(n);
      this.#pos += n;
      return this;
    }
    // Non-ASCII: encode after a worst-case 5-byte header, then move the bytes down if the real
    // header is shorter. encodeInto writes U+FFFD for lone surrogates.
    this.#ensure(5 + n * 3);
    const at = this.#pos + 5;
    const { written } = textEncoder.encodeInto(value, this.#buf.subarray(at));
    const realHeader = rawHeaderSize(written);
    if (realHeader !== 5) this.#buf.copyWithin(this.#pos + realHeader, at, at + written);
    this.#writeRawHeader(written);
    this.#pos += written;
    return this;
  }

  /** Appends bytes as a raw string, the way go-msgpack writes a Go []byte. */
  writeBytes(value: Uint8Array): this {
    this.#ensure(value.length + 5);
    this.#writeRawHeader(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  writeArrayHeader(count: number): this {
    this.#ensure(5);
    if (count < 16) {
      this.#buf[this.#pos++] = 0x90 | count;
    } else if (count < 0x10000) {
      this.#buf[this.#pos] = 0xdc;
      this.#view.setUint16(this.#pos + 1, count);
      this.#pos += 3;
    } else {
      this.#buf[this.#pos] = 0xdd;
      this.#view.setUint32(this.#pos + 1, count);
      this.#pos += 5;
    }
    return this;
  }

  writeMapHeader(count: number): this {
    this.#ensure(5);
    if (count < 16) {
      this.#buf[this.#pos++] = 0x80 | count;
    } else if (count < 0x10000) {
      this.#buf[this.#pos] = 0xde;
      this.#view.setUint16(this.#pos + 1, count);
      this.#pos += 3;
    } else {
      this.#buf[this.#pos] = 0xdf;
      this.#view.setUint32(this.#pos + 1, count);
      this.#pos += 5;
    }
    return this;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(needed, this.#buf.length * 2));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Writes a raw-string header for `length` bytes. The caller has ensured 5 bytes of room. */
  #writeRawHeader(length: number): void {
    if (length < 32) {
      this.#buf[this.#pos++] = 0xa0 | length;
    } else if (length < 0x10000) {
      this.#buf[this.#pos] = 0xda;
      this.#view.setUint16(this.#pos + 1, length);
      this.#pos += 3;
    } else if (length <= MAX_UINT32) {
      this.#buf[this.#pos] = 0xdb;
      this.#view.setUint32(this.#pos + 1, length);
      this.#pos += 5;
    } else {
      throw new InvalidArgumentError(`string of ${length} bytes exceeds the msgpack limit of 2^32 - 1 bytes`);
    }
  }

  #writeUint(value: number): void {
    this.#ensure(9);
    const buf = this.#buf;
    const pos = this.#pos;
    if (value < 0x80) {
      buf[pos] = value;
      this.#pos += 1;
    } else if (value < 0x100) {
      buf[pos] = 0xcc;
      buf[pos + 1] = value;
      this.#pos += 2;
    } else if (value < 0x10000) {
      buf[pos] = 0xcd;
      this.#view.setUint16(pos + 1, value);
      this.#pos += 3;
    } else if (value < 0x1_0000_0000) {
      buf[pos] = 0xce;
      this.#view.setUint32(pos + 1, value);
      this.#pos += 5;
    } else if (value < TWO_POW_64) {
      buf[pos] = 0xcf;
      this.#view.setBigUint64(pos + 1, BigInt(value));
      this.#pos += 9;
    } else {
      throw new InvalidArgumentError(`integer ${value} exceeds the msgpack uint64 maximum of 2^64 - 1`);
    }
  }

  #writeNegative(value: number): void {
    this.#ensure(9);
    const buf = this.#buf;
    const pos = this.#pos;
    if (value >= -32) {
      buf[pos] = value & 0xff;
      this.#pos += 1;
    } else if (value >= -0x80) {
      buf[pos] = 0xd0;
      this.#view.setInt8(pos + 1, value);
      this.#pos += 2;
    } else if (value >= -0x8000) {
      buf[pos] = 0xd1;
      this.#view.setInt16(pos + 1, value);
      this.#pos += 3;
    } else if (value >= -0x8000_0000) {
      buf[pos] = 0xd2;
      this.#view.setInt32(pos + 1, value);
      this.#pos += 5;
    } else if (value >= -TWO_POW_63) {
      buf[pos] = 0xd3;
      this.#view.setBigInt64(pos + 1, BigInt(value));
      this.#pos += 9;
    } else {
      throw new InvalidArgumentError(`integer ${value} is below the msgpack int64 minimum of -2^63`);
    }
  }

  #writeValue(value: GossipValue, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.writeString(value);
        return;
      case 'number':
        // Integral numbers outside int64/uint64 (such as 1e300) can only be a float64 in Go.
        if (!Number.isInteger(value) || value >= TWO_POW_64 || value < -TWO_POW_63) this.writeFloat64(value);
        else if (value >= 0) this.#writeUint(value);
        else this.#writeNegative(value);
        return;
      case 'boolean':
        this.writeBool(value);
        return;
      case 'bigint':
        this.writeInt(value);
        return;
      case 'undefined':
        this.writeNil();
        return;
      case 'object':
        break;
      default:
        throw new InvalidArgumentError(`cannot encode a ${typeof value} as gossip msgpack`);
    }
    if (value === null) {
      this.writeNil();
      return;
    }
    if (value instanceof Uint8Array) {
      this.writeBytes(value);
      return;
    }
    if (value instanceof Float64) {
      this.writeFloat64(value.value);
      return;
    }
    if (depth >= MAX_ENCODE_DEPTH) {
      throw new InvalidArgumentError(
        `value nests deeper than ${MAX_ENCODE_DEPTH} levels; it probably contains a cycle`,
      );
    }
    if (Array.isArray(value)) {
      this.writeArrayHeader(value.length);
      for (const item of value) this.#writeValue(item, depth + 1);
      return;
    }
    if (value instanceof Map) {
      // A Go map: insertion order. An undefined value is written as nil, since Go maps have no omitempty.
      this.writeMapHeader(value.size);
      for (const [key, item] of value) {
        this.writeString(key);
        this.#writeValue(item, depth + 1);
      }
      return;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = proto?.constructor?.name ?? 'object';
      throw new InvalidArgumentError(
        `cannot encode a ${kind} as gossip msgpack; use a plain object, Map, array, Uint8Array or Float64`,
      );
    }
    const struct = value as { [key: string]: GossipValue };
    const keys = Object.keys(struct).filter((key) => struct[key] !== undefined);
    keys.sort(compareUtf8);
    this.writeMapHeader(keys.length);
    for (const key of keys) {
      this.writeString(key);
      this.#writeValue(struct[key], depth + 1);
    }
  }
}

/** Returns the size of the raw-string header for `length` bytes: fixstr, str16 or str32. */
function rawHeaderSize(length: number): number {
  if (length < 32) return 1;
  if (length < 0x10000) return 3;
  return 5;
}

/**
 * Compares two strings by their UTF-8 bytes, which is how Go sorts struct keys. UTF-16 code unit
 * order differs from it only for surrogates (code points above U+FFFF), which sort after
 * U+E000..U+FFFF in UTF-8 but before them in UTF-16.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit < 0xe000) return unit + 0x2000;
  return unit - 0x800;
}

/** Encodes one value (see the file header for the rules). */
export function encodeGossip(value: GossipValue): Uint8Array {
  return new GossipEncoder(64).write(value).finish();
}

/**
 * Decodes exactly one object starting at `offset` and returns it with the offset just after it.
 * Throws IncompleteInputError when the bytes end inside the object, DecodeError when they are
 * invalid, and InvalidArgumentError for an offset outside [0, buf.length]. Byte values in the
 * result are copies, so the input buffer may be reused.
 */
export function decodeGossipPrefix(buf: Uint8Array, offset = 0): { value: GossipDecoded; offset: number } {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) {
    throw new InvalidArgumentError(`offset ${offset} is outside the buffer of ${buf.length} bytes`);
  }
  const reader = new Reader(buf, offset);
  const value = reader.readValue(0);
  return { value, offset: reader.pos };
}

/** Decodes a buffer that contains exactly one object. Trailing bytes are a DecodeError. */
export function decodeGossip(buf: Uint8Array): GossipDecoded {
  const { value, offset } = decodeGossipPrefix(buf, 0);
  if (offset !== buf.length) {
    throw new DecodeError(
      `msgpack value ends at byte ${offset} but the buffer has ${buf.length} bytes; expected exactly one value`,
    );
  }
  return value;
}

class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos: number;

  constructor(buf: Uint8Array, pos: number) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }

  /** Throws IncompleteInputError unless `count` more bytes are present. */
  need(count: number, what: string): void {
    if (count > this.buf.length - this.pos) {
      throw new IncompleteInputError(
        `msgpack ${what} needs ${count} bytes at offset ${this.pos}, but only ${this.buf.length - this.pos} remain`,
      );
    }
  }

  readValue(depth: number): GossipDecoded {
    this.need(1, 'value');
    const pos = this.pos;
    const b = this.buf[pos]!;
    this.pos = pos + 1;
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return this.readMap(b & 0x0f, depth);
    if (b <= 0x9f) return this.readArray(b & 0x0f, depth);
    if (b <= 0xbf) return this.readBytes(b & 0x1f);
    const view = this.view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.readBytes(this.readLength(1));
      case 0xc5:
      case 0xda:
        return this.readBytes(this.readLength(2));
      case 0xc6:
      case 0xdb:
        return this.readBytes(this.readLength(4));
      case 0xca:
        this.need(4, 'float32');
        this.pos += 4;
        return view.getFloat32(pos + 1);
      case 0xcb:
        this.need(8, 'float64');
        this.pos += 8;
        return view.getFloat64(pos + 1);
      case 0xcc:
        return this.readLength(1);
      case 0xcd:
        return this.readLength(2);
      case 0xce:
        return this.readLength(4);
      case 0xcf: {
        this.need(8, 'uint64');
        this.pos += 8;
        const big = view.getBigUint64(pos + 1);
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case 0xd0:
        this.need(1, 'int8');
        this.pos += 1;
        return view.getInt8(pos + 1);
      case 0xd1:
        this.need(2, 'int16');
        this.pos += 2;
        return view.getInt16(pos + 1);
      case 0xd2:
        this.need(4, 'int32');
        this.pos += 4;
        return view.getInt32(pos + 1);
      case 0xd3: {
        this.need(8, 'int64');
        this.pos += 8;
        const big = view.getBigInt64(pos + 1);
        const safe = big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER);
        return safe ? Number(big) : big;
      }
      case 0xdc:
        return this.readArray(this.readLength(2), depth);
      case 0xdd:
        return this.readArray(this.readLength(4), depth);
      case 0xde:
        return this.readMap(this.readLength(2), depth);
      case 0xdf:
        return this.readMap(this.readLength(4), depth);
      default:
        // 0xc1 (never used), ext 0xc7..0xc9 and fixext 0xd4..0xd8.
        throw new DecodeError(
          `unsupported msgpack type byte 0x${b.toString(16)} at offset ${pos}; gossip messages contain no ext types`,
        );
    }
  }

  /** Reads a big-endian unsigned integer of `size` bytes (1, 2 or 4). */
  readLength(size: 1 | 2 | 4): number {
    this.need(size, 'length');
    const pos = this.pos;
    this.pos += size;
    if (size === 1) return this.buf[pos]!;
    if (size === 2) return this.view.getUint16(pos);
    return this.view.getUint32(pos);
  }

  readBytes(length: number): Uint8Array {
    this.need(length, 'string');
    const out = new Uint8Array(length);
    out.set(this.buf.subarray(this.pos, this.pos + length));
    this.pos += length;
    return out;
  }

  readArray(count: number, depth: number): GossipDecoded[] {
    this.checkDepth(depth);
    // Every element takes at least one byte, so a count beyond the remaining bytes cannot be
    // satisfied yet. Checking first keeps a hostile count from driving a large allocation.
    this.need(count, `array of ${count} elements`);
    const items: GossipDecoded[] = [];
    for (let i = 0; i < count; i++) items.push(this.readValue(depth + 1));
    return items;
  }

  readMap(count: number, depth: number): GossipMap {
    this.checkDepth(depth);
    this.need(count * 2, `map of ${count} entries`);
    const map: GossipMap = new Map();
    for (let i = 0; i < count; i++) {
      const keyOffset = this.pos;
      const key = this.readValue(depth + 1);
      map.set(toMapKey(key, keyOffset), this.readValue(depth + 1));
    }
    return map;
  }

  checkDepth(depth: number): void {
    if (depth >= MAX_DECODE_DEPTH) {
      throw new DecodeError(
        `msgpack nesting exceeds ${MAX_DECODE_DEPTH} levels at offset ${this.pos - 1}; no gossip message nests that deep`,
      );
    }
  }
}

function toMapKey(key: GossipDecoded, offset: number): GossipKey {
  if (key instanceof Uint8Array) return utf8ToString(key);
  if (key === null || typeof key === 'number' || typeof key === 'boolean') return key;
  throw new DecodeError(
    `msgpack map key at offset ${offset} is ${describeValue(key)}; only strings, numbers, booleans and nil are supported as keys`,
  );
}

/**
 * Decodes UTF-8 bytes to text. Invalid sequences become U+FFFD.
 * NOTE: Go strings keep invalid bytes as they are, so such a name does not survive a round trip.
 */
export function utf8ToString(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n < 64) {
    // Short ASCII text (every struct key) is faster to build by hand than through TextDecoder.
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode(...bytes);
  }
  return textDecoder.decode(bytes);
}

/** Describes a decoded value's kind in a few words, for error messages. */
export function describeValue(value: GossipDecoded | undefined): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'nil';
  if (typeof value === 'boolean') return `bool ${value}`;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer ${value}` : `float ${value}`;
  if (typeof value === 'bigint') return `integer ${value}`;
  if (value instanceof Uint8Array) return `a string of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} elements`;
  return `a map of ${value.size} entries`;
}

/** Returns `value` as a map, or throws a DecodeError that starts with `context` (for example "body"). */
export function expectMap(value: GossipDecoded, context: string): GossipMap {
  if (value instanceof Map) return value;
  throw new DecodeError(`${context}: expected a msgpack map, got ${describeValue(value)}`);
}

function fieldError(key: string, expected: string, got: GossipDecoded | undefined): DecodeError {
  return new DecodeError(`field "${key}": expected ${expected}, got ${describeValue(got)}`);
}

// Field readers for struct maps. They follow the Go decoder's tolerance: a missing key or nil
// gives the zero value, and a value of the wrong kind or out of range is an error naming the field.

/**
 * Reads a string field: "" when missing or nil. Invalid UTF-8 becomes U+FFFD. A bin value is
 * accepted too, although Go rejects bin for string fields, because the decoded form does not keep
 * the str/bin difference.
 */
export function readString(map: GossipMap, key: string): string {
  const value = map.get(key);
  if (value === undefined || value === null) return '';
  if (value instanceof Uint8Array) return utf8ToString(value);
  throw fieldError(key, 'a string', value);
}

/**
 * Reads a byte-slice field: null when missing or nil. Like Go's []uint8 decoding it also takes an
 * array of integers 0..255.
 */
export function readBytes(map: GossipMap, key: string): Uint8Array | null {
  const value = map.get(key);
  if (value === undefined || value === null) return null;
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== 'number' || !Number.isInteger(item) || item < 0 || item > 0xff) {
        throw fieldError(`${key}[${i}]`, 'an integer in 0..255', item);
      }
      out[i] = item;
    }
    return out;
  }
  throw fieldError(key, 'a byte string', value);
}

/** Reads an unsigned integer field: 0 when missing or nil; negative, fractional or > max is an error. */
export function readUint(map: GossipMap, key: string, max: number = Number.MAX_SAFE_INTEGER): number {
  const value = map.get(key);
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
  throw fieldError(key, `an unsigned integer no larger than ${max}`, value);
}

/** Reads a uint64 field (Lamport times) as a bigint: 0n when missing or nil. */
export function readUint64(map: GossipMap, key: string): bigint {
  const value = map.get(key);
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_UINT64) return value;
  throw fieldError(key, 'an unsigned 64-bit integer', value);
}

/** Reads a signed integer field: 0 when missing or nil; fractional or out of [min, max] is an error. */
export function readInt(
  map: GossipMap,
  key: string,
  min: number = Number.MIN_SAFE_INTEGER,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const value = map.get(key);
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw fieldError(key, `an integer in [${min}, ${max}]`, value);
}

/** Reads a bool field: false when missing or nil. Integers 0 and 1 are accepted, as Go does. */
export function readBool(map: GossipMap, key: string): boolean {
  const value = map.get(key);
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  throw fieldError(key, 'a bool (or integer 0/1)', value);
}

/** Reads a float field: 0 when missing or nil. Integer encodings are accepted too. */
export function readFloat(map: GossipMap, key: string): number {
  const value = map.get(key);
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw fieldError(key, 'a number', value);
}

/** Reads an array field: an empty array when missing or nil. */
export function readArray(map: GossipMap, key: string): GossipDecoded[] {
  const value = map.get(key);
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  throw fieldError(key, 'an array', value);
}

/**
 * Reads a map field: null when missing or nil, so callers can tell an absent nested struct from
 * an empty one.
 */
export function readMap(map: GossipMap, key: string): GossipMap | null {
  const value = map.get(key);
  if (value === undefined || value === null) return null;
  if (value instanceof Map) return value;
  throw fieldError(key, 'a map', value);
}
