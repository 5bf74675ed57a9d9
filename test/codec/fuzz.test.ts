// Every decoder, fed arbitrary bytes or mutated captured packets, either returns a value or throws
// a DecodeError: never a RangeError, TypeError or stack overflow.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeCompound,
  decodeGossip,
  decodeGossipPrefix,
  decodeMessage,
  decodePushPullBody,
  decompressMessage,
  lzwCompress,
  lzwDecompress,
  MessageType,
  stripCrc,
} from '../../src/codec/index.js';
import { DecodeError } from '../../src/util/errors.js';
import { hex, loadVectors } from '../helpers/vectors.js';

/** Output cap for fuzzed decompression, small enough to keep runs fast. */
const FUZZ_MAX_BYTES = 1 << 20;

/** Runs `decode` and passes if it returns or throws a DecodeError; rethrows anything else. */
function onlyDecodeErrors(decode: () => unknown): void {
  try {
    decode();
  } catch (err) {
    if (err instanceof DecodeError) return;
    throw err;
  }
}

/** Decodes a datagram the way the receive path does: CRC, compress and compound, recursively. */
function decodeDatagram(buf: Uint8Array, depth = 0): void {
  if (depth > 8) throw new DecodeError('nested too deep');
  switch (buf[0]) {
    case MessageType.hasCrc:
      decodeDatagram(stripCrc(buf), depth + 1);
      return;
    case MessageType.compress:
      decodeDatagram(decompressMessage(buf, FUZZ_MAX_BYTES), depth + 1);
      return;
    case MessageType.compound:
      for (const part of decodeCompound(buf).parts) onlyDecodeErrors(() => decodeDatagram(part, depth + 1));
      return;
    case MessageType.pushPull:
      decodePushPullBody(buf, 1);
      return;
    default:
      decodeMessage(buf);
  }
}

const decoders: [string, (buf: Uint8Array, offset: number) => unknown][] = [
  ['decodeGossip', (buf) => decodeGossip(buf)],
  ['decodeGossipPrefix', (buf, offset) => decodeGossipPrefix(buf, offset % (buf.length + 1))],
  ['decodeMessage', (buf) => decodeMessage(buf)],
  ['decodePushPullBody', (buf, offset) => decodePushPullBody(buf, offset % (buf.length + 1))],
  ['decodeCompound', (buf) => decodeCompound(buf)],
  ['stripCrc', (buf) => stripCrc(buf)],
  ['decompressMessage', (buf) => decompressMessage(buf, FUZZ_MAX_BYTES)],
  ['lzwDecompress', (buf) => lzwDecompress(buf, FUZZ_MAX_BYTES)],
  ['datagram pipeline', (buf) => decodeDatagram(buf)],
];

/** Byte strings biased towards valid starts: a type byte 0..13 and msgpack header bytes. */
const structuredBytes = fc
  .tuple(
    fc.integer({ min: 0, max: 13 }),
    fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0x80, 0x81, 0x85, 0x91, 0xa4, 0xc0, 0xc4, 0xcd, 0xda, 0xdc, 0xde, 0xdf, 0xdd, 0xdb),
      ),
      { maxLength: 200 },
    ),
  )
  .map(([type, rest]) => new Uint8Array([type, ...rest]));

/** Captured datagrams (plain and decrypted), a compressed stream chunk, and LZW streams. */
function capturedSamples(): Uint8Array[] {
  const samples: Uint8Array[] = [];
  const plain = loadVectors('gossip-plain').entries;
  const encrypted = loadVectors('gossip-encrypted').entries;
  // One example of each type signature keeps the corpus small but covers every layer.
  const seen = new Set<string>();
  for (const entry of [
    ...plain.map((e: { hex: string; types: string[] }) => [e.hex, e.types]),
    ...encrypted.map((e: { plaintext_hex: string; types: string[] }) => [e.plaintext_hex, e.types]),
  ]) {
    const signature = entry[1].join('+');
    if (seen.has(signature)) continue;
    seen.add(signature);
    samples.push(hex(entry[0]));
  }
  const stream = loadVectors('stream').entries.find((e: { encrypted: boolean }) => !e.encrypted);
  samples.push(hex(stream.sequence[0].hex));
  samples.push(lzwCompress(new TextEncoder().encode('the quick brown fox '.repeat(50))));
  return samples;
}

/** Generates captured samples with bit flips, a truncation, or random bytes inserted. */
function mutated(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: samples.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
      fc.option(fc.nat()),
      fc.uint8Array({ maxLength: 16 }),
      fc.nat(),
    )
    .map(([index, flips, cut, extra, insertAt]) => {
      let bytes = samples[index]!.slice();
      for (const [at, bit] of flips) bytes[at % bytes.length]! ^= 1 << bit;
      if (cut !== null) bytes = bytes.slice(0, cut % (bytes.length + 1));
      if (extra.length > 0) {
        const at = insertAt % (bytes.length + 1);
        bytes = new Uint8Array([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
      }
      return bytes;
    });
}

describe('decoders reject garbage with DecodeError only', () => {
  const samples = capturedSamples();

  test('corpus covers every captured signature', () => {
    assert.ok(samples.length > 30, `${samples.length} samples`);
  });

  for (const [name, decode] of decoders) {
    test(`${name}: arbitrary bytes`, () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), structuredBytes), fc.nat(), (buf, offset) => {
          onlyDecodeErrors(() => decode(buf, offset));
        }),
        { numRuns: 400 },
      );
    });

    test(`${name}: mutated captured packets`, () => {
      fc.assert(
        fc.property(mutated(samples), fc.nat(), (buf, offset) => {
          onlyDecodeErrors(() => decode(buf, offset));
        }),
        { numRuns: 300 },
      );
    });
  }

  test('unmodified samples decode through the pipeline', () => {
    for (const sample of samples.slice(0, -1)) decodeDatagram(sample);
  });
});
