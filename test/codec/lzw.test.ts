import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { lzwCompress, lzwDecompress } from '../../src/codec/index.js';
import { DecodeError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Deterministic test input: segments of 1..2000 bytes, each either random bytes, letters from a
 * 4-letter alphabet, a run of one byte, or English text. Random segments fill the dictionary
 * quickly, so inputs of 20,000 bytes and more reach 12-bit codes and at least one table reset.
 * The generator is xorshift32 so that the same bytes can be produced in Go.
 */
function mixedInput(length: number, seed: number): Uint8Array {
  let state = seed >>> 0;
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog ');
  const out = new Uint8Array(length + 2000);
  let n = 0;
  while (n < length) {
    const mode = next() % 4;
    const segment = 1 + (next() % 2000);
    if (mode === 0) {
      for (let i = 0; i < segment; i++) out[n++] = next() & 0xff;
    } else if (mode === 1) {
      for (let i = 0; i < segment; i++) out[n++] = 0x61 + (next() % 4);
    } else if (mode === 2) {
      const byte = next() & 0xff;
      for (let i = 0; i < segment; i++) out[n++] = byte;
    } else {
      const offset = next() % text.length;
      for (let i = 0; i < segment; i++) out[n++] = text[(offset + i) % text.length]!;
    }
  }
  return out.slice(0, length);
}

/**
 * Removes the leading clear code (9 bits) from a stream, giving what Go versions before the
 * leading clear code produced. The clear does not change the code counter, so every later code
 * keeps its width and the stream is simply shifted right by 9 bits.
 */
function dropLeadingClear(stream: Uint8Array): Uint8Array {
  const out = new Uint8Array(stream.length - 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = ((stream[i + 1]! >> 1) | ((stream[i + 2] ?? 0) << 7)) & 0xff;
  }
  return out;
}

/** Packs 9-bit codes LSB first (valid while fewer than 254 codes follow a clear). */
function packCodes(codes: number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil((codes.length * 9) / 8));
  codes.forEach((code, i) => {
    for (let bit = 0; bit < 9; bit++) {
      if (code & (1 << bit)) out[(i * 9 + bit) >> 3]! |= 1 << ((i * 9 + bit) & 7);
    }
  });
  return out;
}

describe('lzwCompress matches Go compress/lzw', () => {
  // Produced by Go 1.19 (the toolchain of the reference agent) with
  // lzw.NewWriter(w, lzw.LSB, 8) over the same mixedInput bytes.
  const goOutputs = [
    {
      length: 1,
      seed: 1,
      input: '3e23e816',
      outputLength: 4,
      output: 'd18314a0861792dd6417e512f1ecdfdb3c9473c6807e79c82ca259007a697a79',
    },
    {
      length: 100,
      seed: 2,
      input: 'f223b101',
      outputLength: 18,
      output: '8b57f7af8b9c1e5afb3e2a6cac13d00ada0cc342629cda47d00d804fdcda5f35',
    },
    {
      length: 1000,
      seed: 3,
      input: '7821203f',
      outputLength: 446,
      output: 'b3450113a8f61983804719681e54a73033ffee6b57656ba17494473dd9ba0435',
    },
    {
      length: 20000,
      seed: 4,
      input: '23f4d972',
      outputLength: 8921,
      output: 'f0b53ad87410f4e8e88c18488f7a3ddec62fc2d97407a2c798e29df478db58f8',
    },
    {
      length: 65536,
      seed: 5,
      input: '0057017c',
      outputLength: 30488,
      output: 'f221cf3d633b3c9cf73724e06a66bcb3e05864bd16c6ed089fa3593204252f36',
    },
    {
      length: 100000,
      seed: 6,
      input: '77dbb46b',
      outputLength: 44742,
      output: '83fefdb85ee58e47a22016f1cddb9f6913a1b11758ba2af19aacbdd636668d35',
    },
    {
      length: 300000,
      seed: 7,
      input: '20b24243',
      outputLength: 139538,
      output: '032a6170ff2e0bea28bb068f93739cdb5077863a9efa74c7c9bf0fbe6a1253cb',
    },
  ];
  for (const vector of goOutputs) {
    test(`${vector.length} mixed bytes`, () => {
      const input = mixedInput(vector.length, vector.seed);
      assert.ok(sha256(input).startsWith(vector.input), 'test input generator changed');
      const compressed = lzwCompress(input);
      assert.equal(compressed.length, vector.outputLength);
      assert.equal(sha256(compressed), vector.output);
      assert.deepEqual(lzwDecompress(compressed, vector.length), input);
    });
  }

  test('200000 zero bytes', () => {
    const compressed = lzwCompress(new Uint8Array(200_000));
    assert.equal(compressed.length, 761);
    assert.equal(sha256(compressed), '415ea43247235c744cb8cc4832ec81d6aa1093d9b07918aef718ca9c28f62f93');
  });
});

describe('lzwDecompress', () => {
  test('accepts a stream without the leading clear code', () => {
    assert.deepEqual(lzwDecompress(hex('610202'), 10), new TextEncoder().encode('a'));
    const text = new TextEncoder().encode('TOBEORNOTTOBEORTOBEORNOT');
    assert.deepEqual(lzwDecompress(dropLeadingClear(lzwCompress(text)), 100), text);
  });

  test('ignores bytes after the end-of-data code', () => {
    assert.deepEqual(lzwDecompress(hex('00c30404ffffff'), 10), new TextEncoder().encode('a'));
  });

  test('rejects output over maxBytes', () => {
    const compressed = lzwCompress(new Uint8Array(1000));
    assert.equal(lzwDecompress(compressed, 1000).length, 1000);
    assert.throws(() => lzwDecompress(compressed, 999), /exceeds the limit of 999 bytes/);
    assert.throws(() => lzwDecompress(hex('00c30404'), 0), DecodeError);
  });

  test('a tiny input cannot expand past maxBytes', () => {
    // 200 kB of zeros compress to 761 bytes; a 64 KiB cap must stop the expansion.
    const bomb = lzwCompress(new Uint8Array(200_000));
    assert.throws(() => lzwDecompress(bomb, 65_536), DecodeError);
  });

  test('rejects a truncated stream', () => {
    const compressed = hex('00a93c1152e48914274fa80824687061c183090302');
    for (let length = 0; length < compressed.length - 1; length++) {
      assert.throws(
        () => lzwDecompress(compressed.subarray(0, length), 100),
        /without an end-of-data code/,
        `${length} bytes`,
      );
    }
  });

  test('rejects an undefined code', () => {
    // After clear and one literal, only code 258 may come next; 300 is not defined yet.
    assert.throws(() => lzwDecompress(packCodes([256, 97, 300, 257]), 100), /invalid LZW code 300/);
    // Code 258 straight after a clear has no previous string to extend.
    assert.throws(() => lzwDecompress(packCodes([256, 258, 257]), 100), /invalid LZW code 258/);
  });

  test('decodes the code being defined (the KwKwK case)', () => {
    // "aaa": literal a, then code 258 ("aa") before the decoder has finished defining it.
    assert.deepEqual(lzwDecompress(packCodes([256, 97, 258, 257]), 10), new TextEncoder().encode('aaa'));
  });

  test('rejects a negative maxBytes', () => {
    assert.throws(() => lzwDecompress(hex('000302'), -1), /maxBytes/);
  });

  test('empty stream decodes to nothing', () => {
    assert.equal(lzwDecompress(hex('000302'), 0).length, 0);
  });
});

/** Inputs up to 100 KiB: raw random bytes, or long runs that reach 12-bit codes and table resets. */
const lzwInput = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.uint8Array({ maxLength: 100 * 1024, size: 'max' }),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 60 })
    .map((runs) => {
      const total = Math.min(
        100 * 1024,
        runs.reduce((sum, [, count]) => sum + count, 0),
      );
      const out = new Uint8Array(total);
      let n = 0;
      for (const [byte, count] of runs) {
        const end = Math.min(total, n + count);
        out.fill(byte, n, end);
        n = end;
      }
      return out;
    }),
  fc
    .tuple(fc.integer({ min: 0, max: 100 * 1024 }), fc.integer())
    .map(([length, seed]) => mixedInput(length, seed || 1)),
);

describe('lzw properties', () => {
  test('decompress(compress(x)) == x', () => {
    fc.assert(
      fc.property(lzwInput, (input) => {
        const compressed = lzwCompress(input);
        assert.equal(toHex(lzwDecompress(compressed, input.length)), toHex(input));
      }),
      { numRuns: 150 },
    );
  });

  test('streams without the leading clear decode the same', () => {
    fc.assert(
      fc.property(lzwInput, (input) => {
        const stream = dropLeadingClear(lzwCompress(input));
        assert.deepEqual(lzwDecompress(stream, input.length), input);
      }),
      { numRuns: 50 },
    );
  });
});
