/**
 * LZW compatible with Go's compress/lzw in LSB bit order with 8-bit literals, the variant that
 * memberlist uses for its compress message.
 *
 * Why this is hand-written: compressed gossip must decode on Go nodes, and the captured packets
 * can only be reproduced byte for byte by the same variant. LZW packages on npm use other
 * variants (MSB order, early change, no clear/end codes, or a different maximum width).
 *
 * Parameters of the variant:
 * - codes are packed starting at the least significant bit of each byte;
 * - 0..255 are literals, 256 is clear, 257 is end-of-data, dictionary codes start at 258;
 * - codes start 9 bits wide and grow to at most 12. There is no early change: the width grows
 *   once the next code to assign equals 2^width, so the encoder and decoder switch together;
 * - the encoder starts with a clear code, as the Go 1.19 toolchain that built the reference agent
 *   does. Older Go versions did not, so the decoder accepts both;
 * - when the next code to assign would be 4095, the encoder writes a clear code at 12 bits and
 *   restarts at width 9 and code 258 instead of storing it;
 * - the stream ends with the pending code, end-of-data, and a last partial byte padded with zeros.
 */

import { DecodeError, InvalidArgumentError } from '../util/errors.js';

const CLEAR_CODE = 256;
const EOF_CODE = 257;
const INITIAL_WIDTH = 9;
const MAX_WIDTH = 12;
/** The encoder resets instead of assigning this code. */
const MAX_CODE = (1 << MAX_WIDTH) - 1;

/**
 * Encoder dictionary: an open-addressing hash table from (prefix code << 8 | next byte) to the
 * code of that string. 16384 slots for at most 3838 entries keeps the load factor under 25%,
 * and clearing it on a table reset costs one fill of 64 KiB.
 */
const HASH_BITS = 14;
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MASK = HASH_SIZE - 1;
const EMPTY_SLOT = -1;

/** Compresses `data` exactly as Go's `lzw.NewWriter(w, lzw.LSB, 8)` does. */
export function lzwCompress(data: Uint8Array): Uint8Array {
  const n = data.length;
  // Upper bound: at most one code per input byte, one clear per 3837 codes, the first clear, a
  // possible clear after the last code, and end-of-data, each at most 12 bits.
  const maxCodes = n + Math.ceil(n / 3000) + 4;
  const out = new Uint8Array(Math.ceil((maxCodes * MAX_WIDTH) / 8) + 1);
  let outPos = 0;
  let bitBuffer = 0;
  let bitCount = 0;

  let width = INITIAL_WIDTH;
  // `next` is the most recently assigned code; the next assignment is next + 1.
  let next = EOF_CODE;
  let widthLimit = 1 << INITIAL_WIDTH;
  const keys = new Int32Array(HASH_SIZE).fill(EMPTY_SLOT);
  const values = new Uint16Array(HASH_SIZE);

  const emit = (code: number): void => {
    bitBuffer |= code << bitCount;
    bitCount += width;
    while (bitCount >= 8) {
      out[outPos++] = bitBuffer & 0xff;
      bitBuffer >>>= 8;
      bitCount -= 8;
    }
  };

  /** Advances the code counter after a code was emitted. Returns false when the table was reset. */
  const assignNextCode = (): boolean => {
    next++;
    if (next === widthLimit) {
      width++;
      widthLimit <<= 1;
    }
    if (next === MAX_CODE) {
      emit(CLEAR_CODE);
      width = INITIAL_WIDTH;
      next = EOF_CODE;
      widthLimit = 1 << INITIAL_WIDTH;
      keys.fill(EMPTY_SLOT);
      return false;
    }
    return true;
  };

  emit(CLEAR_CODE);
  if (n > 0) {
    let code = data[0]!;
    for (let i = 1; i < n; i++) {
      const byte = data[i]!;
      const key = (code << 8) | byte;
      let slot = Math.imul(key, 0x9e3779b1) >>> (32 - HASH_BITS);
      let found = -1;
      for (;;) {
        const stored = keys[slot]!;
        if (stored === EMPTY_SLOT) break;
        if (stored === key) {
          found = values[slot]!;
          break;
        }
        slot = (slot + 1) & HASH_MASK;
      }
      if (found >= 0) {
        code = found;
        continue;
      }
      emit(code);
      code = byte;
      if (assignNextCode()) {
        keys[slot] = key;
        values[slot] = next;
      }
    }
    emit(code);
    assignNextCode();
  }
  emit(EOF_CODE);
  if (bitCount > 0) out[outPos++] = bitBuffer & 0xff;
  return out.slice(0, outPos);
}

/**
 * Decompresses a Go compress/lzw (LSB, 8-bit literal) stream, with or without the leading clear
 * code. Bytes after the end-of-data code are ignored, as Go's reader does. Throws DecodeError when
 * the output would exceed `maxBytes`, on an undefined code, or when the input ends before the
 * end-of-data code.
 */
export function lzwDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new InvalidArgumentError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  // Each dictionary entry is its prefix code plus one suffix byte. `first` and `length` let an
  // entry be written straight into the output, last byte first, without a scratch buffer.
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const first = new Uint8Array(1 << MAX_WIDTH);
  const length = new Uint16Array(1 << MAX_WIDTH);
  for (let i = 0; i < 256; i++) {
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
  }

  let out = new Uint8Array(Math.min(maxBytes, Math.max(256, data.length * 4)));
  let outPos = 0;
  const reserve = (count: number): void => {
    const needed = outPos + count;
    if (needed <= out.length) return;
    if (needed > maxBytes) {
      throw new DecodeError(`LZW output exceeds the limit of ${maxBytes} bytes; the input is rejected`);
    }
    const grown = new Uint8Array(Math.min(maxBytes, Math.max(needed, out.length * 2)));
    grown.set(out.subarray(0, outPos));
    out = grown;
  };

  let width = INITIAL_WIDTH;
  let widthLimit = 1 << INITIAL_WIDTH;
  // `next` is the code the following entry will get; -1 in `last` means no entry can be added
  // (just after a clear, or once the table is full).
  let next = EOF_CODE;
  let last = -1;
  let bitBuffer = 0;
  let bitCount = 0;
  let inPos = 0;

  const define = (prefixCode: number, byte: number): void => {
    prefix[next] = prefixCode;
    suffix[next] = byte;
    first[next] = first[prefixCode]!;
    length[next] = length[prefixCode]! + 1;
  };

  for (;;) {
    while (bitCount < width) {
      if (inPos >= data.length) {
        throw new DecodeError(
          `LZW data ended after ${data.length} bytes without an end-of-data code; the stream is truncated`,
        );
      }
      bitBuffer |= data[inPos++]! << bitCount;
      bitCount += 8;
    }
    const code = bitBuffer & ((1 << width) - 1);
    bitBuffer >>>= width;
    bitCount -= width;

    if (code === CLEAR_CODE) {
      width = INITIAL_WIDTH;
      widthLimit = 1 << INITIAL_WIDTH;
      next = EOF_CODE;
      last = -1;
      continue;
    }
    if (code === EOF_CODE) break;

    if (code < CLEAR_CODE) {
      reserve(1);
      out[outPos++] = code;
      if (last >= 0) define(last, code);
    } else if (code < next || (code === next && last >= 0)) {
      // code === next is the one code the decoder has not built yet: it must be the previous
      // string followed by that string's own first byte.
      if (code === next) define(last, first[last]!);
      else if (last >= 0) define(last, first[code]!);
      const entryLength = length[code]!;
      reserve(entryLength);
      let c = code;
      let p = outPos + entryLength - 1;
      while (c >= CLEAR_CODE) {
        out[p--] = suffix[c]!;
        c = prefix[c]!;
      }
      out[p] = c;
      outPos += entryLength;
    } else {
      throw new DecodeError(
        `invalid LZW code ${code} at input byte ${inPos}: only codes below ${next} are defined`,
      );
    }

    last = code;
    next++;
    if (next >= widthLimit) {
      if (width === MAX_WIDTH) {
        // Table full: keep the counter at 4095 and add nothing until the next clear code.
        last = -1;
        next--;
      } else {
        width++;
        widthLimit <<= 1;
      }
    }
  }
  return out.slice(0, outPos);
}
