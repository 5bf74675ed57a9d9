import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  addCrc,
  COMPOUND_OVERHEAD,
  COMPOUND_PART_OVERHEAD,
  compressMessage,
  decodeCompound,
  decompressMessage,
  encodeCompound,
  encodeGossip,
  stripCrc,
  USER_MSG_OVERHEAD,
} from '../../src/codec/index.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

describe('compound', () => {
  test('overhead constants match the layout', () => {
    const encoded = encodeCompound([hex('0102'), hex('03')]);
    assert.equal(encoded.length, COMPOUND_OVERHEAD + 2 * COMPOUND_PART_OVERHEAD + 3);
    assert.equal(toHex(encoded), '070200020001010203');
    assert.equal(USER_MSG_OVERHEAD, 1);
  });

  test('zero parts', () => {
    assert.equal(toHex(encodeCompound([])), '0700');
    assert.deepEqual(decodeCompound(hex('0700')), { parts: [], truncated: 0 });
  });

  test('255 parts of 65535 bytes are the limit', () => {
    const parts = Array.from({ length: 255 }, (_, i) => new Uint8Array([i]));
    assert.equal(decodeCompound(encodeCompound(parts)).parts.length, 255);
    assert.throws(() => encodeCompound([...parts, new Uint8Array(1)]), InvalidArgumentError);
    assert.equal(encodeCompound([new Uint8Array(65535)]).length, 65535 + 4);
    assert.throws(() => encodeCompound([new Uint8Array(65536)]), /at most 65535 bytes/);
  });

  test('a short buffer returns the parts that fit', () => {
    const encoded = encodeCompound([hex('aa'), hex('bbbb'), hex('cc')]);
    assert.deepEqual(decodeCompound(encoded.subarray(0, encoded.length - 1)), {
      parts: [hex('aa'), hex('bbbb')],
      truncated: 1,
    });
    assert.deepEqual(decodeCompound(encoded.subarray(0, 8)), { parts: [], truncated: 3 });
  });

  test('trailing bytes after the last part are ignored', () => {
    const encoded = encodeCompound([hex('aa')]);
    const extended = new Uint8Array([...encoded, 0xff, 0xff]);
    assert.deepEqual(decodeCompound(extended), { parts: [hex('aa')], truncated: 0 });
  });

  test('a missing count or length table is an error', () => {
    assert.throws(() => decodeCompound(hex('07')), /no part count/);
    assert.throws(() => decodeCompound(hex('0702000100')), /length table is cut short/);
    assert.throws(() => decodeCompound(hex('')), DecodeError);
    assert.throws(() => decodeCompound(hex('0800')), /expected type byte 7/);
  });

  test('parts are plain Uint8Array views even for a Buffer input', () => {
    const { parts } = decodeCompound(Buffer.from('070100020102', 'hex'));
    assert.equal(Object.getPrototypeOf(parts[0]), Uint8Array.prototype);
    assert.deepEqual(parts[0], hex('0102'));
  });

  test('decode(encode(parts)) == parts', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }), (parts) => {
        assert.deepEqual(decodeCompound(encodeCompound(parts)), { parts, truncated: 0 });
      }),
    );
  });
});

describe('CRC', () => {
  test('detects a flipped bit anywhere', () => {
    const wrapped = addCrc(hex('0b81a55365714e6fcd012f'));
    for (let i = 1; i < wrapped.length; i++) {
      const corrupt = wrapped.slice();
      corrupt[i]! ^= 0x10;
      assert.throws(() => stripCrc(corrupt), /invalid CRC-32/, `byte ${i}`);
    }
  });

  test('rejects a short or mistyped buffer', () => {
    assert.throws(() => stripCrc(hex('0c000000')), /at least 5 bytes/);
    assert.throws(() => stripCrc(hex('0d00000000')), /expected type byte 12/);
  });

  test('empty payload', () => {
    assert.equal(toHex(addCrc(new Uint8Array(0))), '0c00000000');
    assert.equal(stripCrc(hex('0c00000000')).length, 0);
  });

  test('strip(add(x)) == x', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (payload) => {
        assert.deepEqual(stripCrc(addCrc(payload)), payload);
      }),
    );
  });
});

describe('compress message', () => {
  test('rejects an unknown algorithm', () => {
    const message = new Uint8Array([9, ...encodeGossip({ Algo: 1, Buf: hex('000302') })]);
    assert.throws(() => decompressMessage(message), /Cannot decompress unknown algorithm 1/);
  });

  test('rejects an empty result', () => {
    const message = new Uint8Array([9, ...encodeGossip({ Algo: 0, Buf: hex('000302') })]);
    assert.throws(() => decompressMessage(message), /decompressed to 0 bytes/);
  });

  test('a missing Buf is an empty stream', () => {
    const message = new Uint8Array([9, ...encodeGossip({ Algo: 0 })]);
    assert.throws(() => decompressMessage(message), /without an end-of-data code/);
  });

  test('rejects a body that is not a map', () => {
    assert.throws(() => decompressMessage(hex('0901')), /expected a msgpack map/);
    assert.throws(() => decompressMessage(hex('0a80')), /expected type byte 9/);
  });

  test('applies the output cap', () => {
    const message = compressMessage(new Uint8Array(5000).fill(1));
    assert.equal(decompressMessage(message, 5000).length, 5000);
    assert.throws(() => decompressMessage(message, 4999), /exceeds the limit/);
  });

  test('decompress(compress(x)) == x', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), (payload) => {
        assert.deepEqual(decompressMessage(compressMessage(payload)), payload);
      }),
    );
  });
});
