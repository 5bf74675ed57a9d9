/**
 * Wrappers around memberlist messages: compound (several messages in one packet), the CRC-32
 * prefix and the LZW compress message. On send they are applied in the order compound, compress,
 * CRC (encryption, outside all three, lives in the security layer).
 *
 * Byte ownership: `decodeCompound` parts and the `stripCrc` result are views into the input
 * buffer, so copy them before reusing the input. They are plain Uint8Arrays even for a Buffer input.
 */

import { crc32 } from 'node:zlib';
import { DecodeError, InvalidArgumentError } from '../util/errors.js';
import { lzwCompress, lzwDecompress } from './lzw.js';
import { MessageType } from './message-types.js';
import { decodeGossipPrefix, expectMap, GossipEncoder, MAX_UINT8, readBytes, readUint } from './msgpack.js';

/** Bytes of compound header that do not depend on the number of parts: type byte and count. */
export const COMPOUND_OVERHEAD = 2;
/** Bytes each part adds to a compound header: its big-endian uint16 length. */
export const COMPOUND_PART_OVERHEAD = 2;
/** Bytes a user message adds to the delegate's bytes: the type byte 8. */
export const USER_MSG_OVERHEAD = 1;

/** Most parts one compound can hold: the count is a single byte. */
export const MAX_COMPOUND_PARTS = 255;
/** Largest part a compound can hold: lengths are uint16. */
export const MAX_COMPOUND_PART_BYTES = 0xffff;

/**
 * Default cap on decompressed size, 40 MiB, the limit newer memberlist versions apply. A 64 KiB
 * datagram can expand to far more than any real message, so the cap bounds memory per packet.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 40 * 1024 * 1024;

/** Length of the hasCrc header: type byte plus the CRC-32. */
const CRC_HEADER_BYTES = 5;

/** Returns a plain Uint8Array view of `buf[start, end)`, sharing memory with `buf`. */
function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/**
 * Builds `[7][count][uint16 BE length per part][parts...]`. Throws InvalidArgumentError for more
 * than 255 parts or a part longer than 65535 bytes; split such batches into several compounds.
 */
export function encodeCompound(parts: Uint8Array[]): Uint8Array {
  if (parts.length > MAX_COMPOUND_PARTS) {
    throw new InvalidArgumentError(
      `too many parts for one compound message: got ${parts.length}, the maximum is ${MAX_COMPOUND_PARTS}; split them into several compounds`,
    );
  }
  let total = COMPOUND_OVERHEAD + parts.length * COMPOUND_PART_OVERHEAD;
  for (const [i, part] of parts.entries()) {
    if (part.length > MAX_COMPOUND_PART_BYTES) {
      throw new InvalidArgumentError(
        `compound part ${i} is ${part.length} bytes; a part can be at most ${MAX_COMPOUND_PART_BYTES} bytes`,
      );
    }
    total += part.length;
  }

  const out = new Uint8Array(total);
  out[0] = MessageType.compound;
  out[1] = parts.length;
  let lengthAt = COMPOUND_OVERHEAD;
  let partAt = COMPOUND_OVERHEAD + parts.length * COMPOUND_PART_OVERHEAD;
  for (const part of parts) {
    out[lengthAt] = part.length >> 8;
    out[lengthAt + 1] = part.length & 0xff;
    lengthAt += COMPOUND_PART_OVERHEAD;
    out.set(part, partAt);
    partAt += part.length;
  }
  return out;
}

/**
 * Splits a compound message (`buf[0]` must be 7). When the buffer ends before the last parts, the
 * parts that fit are returned and `truncated` counts the missing ones, as Go memberlist does. A
 * missing count byte or length table is a DecodeError.
 */
export function decodeCompound(buf: Uint8Array): { parts: Uint8Array[]; truncated: number } {
  if (buf.length === 0 || buf[0] !== MessageType.compound) {
    throw new DecodeError(`not a compound message: expected type byte 7, got ${buf[0] ?? 'nothing'}`);
  }
  if (buf.length < COMPOUND_OVERHEAD) {
    throw new DecodeError('compound message has no part count byte');
  }
  const count = buf[1]!;
  const tableEnd = COMPOUND_OVERHEAD + count * COMPOUND_PART_OVERHEAD;
  if (buf.length < tableEnd) {
    throw new DecodeError(
      `compound message announces ${count} parts but its length table is cut short at ${buf.length} bytes (needs ${tableEnd})`,
    );
  }

  const parts: Uint8Array[] = [];
  let partAt = tableEnd;
  for (let i = 0; i < count; i++) {
    const at = COMPOUND_OVERHEAD + i * COMPOUND_PART_OVERHEAD;
    const length = (buf[at]! << 8) | buf[at + 1]!;
    if (partAt + length > buf.length) return { parts, truncated: count - i };
    parts.push(view(buf, partAt, partAt + length));
    partAt += length;
  }
  return { parts, truncated: 0 };
}

/** Prefixes `[12][CRC-32 (IEEE) of buf, big-endian]` to `buf`. */
export function addCrc(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(CRC_HEADER_BYTES + buf.length);
  out[0] = MessageType.hasCrc;
  new DataView(out.buffer).setUint32(1, crc32(buf));
  out.set(buf, CRC_HEADER_BYTES);
  return out;
}

/** Checks and removes a CRC header (`buf[0]` must be 12). Throws DecodeError on a mismatch. */
export function stripCrc(buf: Uint8Array): Uint8Array {
  if (buf.length < CRC_HEADER_BYTES || buf[0] !== MessageType.hasCrc) {
    throw new DecodeError(
      `not a CRC message: expected type byte 12 and at least ${CRC_HEADER_BYTES} bytes, got ${buf.length} bytes starting with ${buf[0] ?? 'nothing'}`,
    );
  }
  const expected = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
  const payload = view(buf, CRC_HEADER_BYTES, buf.length);
  const actual = crc32(payload);
  if (actual !== expected) {
    throw new DecodeError(
      `invalid CRC-32: the header contains ${hex32(expected)} but the ${payload.length} payload bytes give ${hex32(actual)}; the packet is corrupted`,
    );
  }
  return payload;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** Wraps a message as `[9][msgpack {Algo: 0, Buf: lzw(buf)}]`. */
export function compressMessage(buf: Uint8Array): Uint8Array {
  const compressed = lzwCompress(buf);
  const enc = new GossipEncoder(compressed.length + 24);
  enc.writeByte(MessageType.compress);
  enc.write({ Algo: 0, Buf: compressed });
  return enc.finish();
}

/**
 * Unwraps a compress message (`buf[0]` must be 9) and returns the decompressed message, which
 * starts with its own type byte. Throws DecodeError for an unknown algorithm, invalid LZW data,
 * output over `maxBytes` or an empty result.
 */
export function decompressMessage(buf: Uint8Array, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Uint8Array {
  if (buf.length === 0 || buf[0] !== MessageType.compress) {
    throw new DecodeError(`not a compress message: expected type byte 9, got ${buf[0] ?? 'nothing'}`);
  }
  const body = expectMap(decodeGossipPrefix(buf, 1).value, 'compress message');
  const algo = readUint(body, 'Algo', MAX_UINT8);
  if (algo !== 0) {
    throw new DecodeError(`Cannot decompress unknown algorithm ${algo}; only 0 (LZW) is defined`);
  }
  const compressed = readBytes(body, 'Buf') ?? new Uint8Array(0);
  const out = lzwDecompress(compressed, maxBytes);
  if (out.length === 0) {
    throw new DecodeError('compress message decompressed to 0 bytes; expected a message with a type byte');
  }
  return out;
}
