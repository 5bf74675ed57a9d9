import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  compareUtf8,
  decodeGossip,
  decodeGossipPrefix,
  encodeGossip,
  Float64,
  type GossipDecoded,
  GossipEncoder,
  type GossipMap,
  type GossipValue,
  IncompleteInputError,
  MAX_DECODE_DEPTH,
  readArray,
  readBool,
  readBytes,
  readFloat,
  readInt,
  readMap,
  readString,
  readUint,
  readUint64,
} from '../../src/codec/index.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('encodeGossip integers', () => {
  // Expected bytes were produced by go-msgpack 0.5.5 with a default MsgpackHandle.
  const cases: [number | bigint, string][] = [
    [0, '00'],
    [127, '7f'],
    [128, 'cc80'],
    [255, 'ccff'],
    [256, 'cd0100'],
    [65535, 'cdffff'],
    [65536, 'ce00010000'],
    [4294967295, 'ceffffffff'],
    [4294967296, 'cf0000000100000000'],
    [18446744073709551615n, 'cfffffffffffffffff'],
    [-1, 'ff'],
    [-32, 'e0'],
    [-33, 'd0df'],
    [-128, 'd080'],
    [-129, 'd1ff7f'],
    [-32768, 'd18000'],
    [-32769, 'd2ffff7fff'],
    [-2147483648, 'd280000000'],
    [-2147483649, 'd3ffffffff7fffffff'],
    [-9223372036854775808n, 'd38000000000000000'],
    [5n, '05'],
  ];
  for (const [value, expected] of cases) {
    test(`${value} is ${expected}`, () => {
      assert.equal(toHex(encodeGossip(value)), expected);
    });
  }

  test('values beyond 64 bits are rejected', () => {
    assert.throws(() => encodeGossip(2n ** 64n), InvalidArgumentError);
    assert.throws(() => encodeGossip(-(2n ** 63n) - 1n), InvalidArgumentError);
    assert.throws(() => new GossipEncoder().writeInt(2 ** 64), InvalidArgumentError);
  });

  test('integral numbers beyond 64 bits fall back to float64', () => {
    assert.equal(toHex(encodeGossip(2 ** 64)), 'cb43f0000000000000');
    assert.equal(toHex(encodeGossip(-(2 ** 64))), 'cbc3f0000000000000');
    assert.equal(toHex(encodeGossip(2 ** 63)), 'cf8000000000000000');
  });
});

describe('encodeGossip strings and bytes', () => {
  // The raw family only: 32..65535 bytes use str16 (0xda), never str8 (0xd9).
  const cases: [number, string][] = [
    [0, 'a0'],
    [31, 'bf'],
    [32, 'da0020'],
    [255, 'da00ff'],
    [256, 'da0100'],
    [65535, 'daffff'],
    [65536, 'db00010000'],
  ];
  for (const [length, header] of cases) {
    test(`string of ${length} bytes has header ${header}`, () => {
      const encoded = encodeGossip('x'.repeat(length));
      assert.equal(toHex(encoded.subarray(0, header.length / 2)), header);
      assert.equal(encoded.length, header.length / 2 + length);
    });

    test(`Uint8Array of ${length} bytes has header ${header}`, () => {
      const encoded = encodeGossip(new Uint8Array(length).fill(7));
      assert.equal(toHex(encoded.subarray(0, header.length / 2)), header);
      assert.equal(encoded.length, header.length / 2 + length);
    });
  }

  test('non-ASCII text is UTF-8', () => {
    assert.equal(toHex(encodeGossip('é€😀')), 'a9c3a9e282acf09f9880');
  });

  test('non-ASCII text of 40 bytes gets a str16 header', () => {
    const text = 'é'.repeat(20);
    assert.equal(toHex(encodeGossip(text)), `da0028${'c3a9'.repeat(20)}`);
  });
});

describe('encodeGossip other values', () => {
  test('nil, undefined and booleans', () => {
    assert.equal(toHex(encodeGossip(null)), 'c0');
    assert.equal(toHex(encodeGossip(undefined)), 'c0');
    assert.equal(toHex(encodeGossip(false)), 'c2');
    assert.equal(toHex(encodeGossip(true)), 'c3');
  });

  test('floats use 0xcb', () => {
    assert.equal(toHex(encodeGossip(1.5)), 'cb3ff8000000000000');
    assert.equal(toHex(encodeGossip(new Float64(1))), 'cb3ff0000000000000');
    assert.equal(toHex(encodeGossip(new Float64(0))), 'cb0000000000000000');
  });

  test('array headers', () => {
    assert.equal(toHex(encodeGossip([1, 2, 3])), '93010203');
    assert.equal(toHex(encodeGossip(new Array(16).fill('')).subarray(0, 3)), 'dc0010');
    assert.equal(toHex(encodeGossip(new Array(65536).fill(0)).subarray(0, 5)), 'dd00010000');
  });

  test('struct keys are sorted and undefined fields omitted', () => {
    // Matches go-msgpack 0.5.5 for a struct with these fields.
    const encoded = encodeGossip({
      Zeta: 1,
      Alpha: 'a',
      Bytes: new Uint8Array(0),
      Nil: null,
      F: new Float64(0),
      B: true,
      Neg: -5,
      Big: 2n ** 63n,
      U8: new Uint8Array([1, 5]),
      Skipped: undefined,
    });
    assert.equal(
      toHex(encoded),
      '89a5416c706861a161a142c3a3426967cf8000000000000000a54279746573a0a146cb0000000000000000' +
        'a34e6567fba34e696cc0a25538a20105a45a65746101',
    );
  });

  test('Map keeps insertion order', () => {
    const encoded = encodeGossip(
      new Map<string, GossipValue>([
        ['b', 1],
        ['a', 2],
      ]),
    );
    assert.equal(toHex(encoded), '82a16201a16102');
  });

  test('map headers grow to map16', () => {
    const entries = Array.from({ length: 16 }, (_, i) => [`k${i}`, i] as [string, number]);
    assert.equal(toHex(encodeGossip(new Map(entries)).subarray(0, 3)), 'de0010');
  });

  test('unsupported values are rejected', () => {
    assert.throws(() => encodeGossip(new Date() as unknown as GossipValue), InvalidArgumentError);
    assert.throws(() => encodeGossip((() => 1) as unknown as GossipValue), InvalidArgumentError);
    assert.throws(() => encodeGossip(new Uint16Array(2) as unknown as GossipValue), InvalidArgumentError);
  });

  test('cyclic values are rejected', () => {
    const cyclic: GossipValue[] = [];
    cyclic.push(cyclic);
    assert.throws(() => encodeGossip(cyclic), InvalidArgumentError);
  });

  test('keys sort by UTF-8 bytes', () => {
    // U+FF61 is 0xef 0xbd 0xa1 in UTF-8; U+1F600 starts with 0xf0, so it sorts after.
    assert.ok(compareUtf8('\uff61', '😀') < 0);
    assert.ok('\uff61' > '😀', 'UTF-16 order is the opposite, which is why compareUtf8 exists');
    assert.ok(compareUtf8('B', 'Big') < 0);
    assert.ok(compareUtf8('Big', 'Bytes') < 0);
    assert.equal(compareUtf8('Node', 'Node'), 0);
  });
});

describe('GossipEncoder', () => {
  test('appends raw bytes and values into one buffer', () => {
    const enc = new GossipEncoder(1);
    enc.writeByte(6).write({ A: 1 }).writeRaw(hex('beef'));
    assert.equal(enc.length, 7);
    assert.equal(toHex(enc.finish()), '0681a14101beef');
    enc.reset();
    enc.writeArrayHeader(2).writeNil().writeInt(-1);
    assert.equal(toHex(enc.finish()), '92c0ff');
  });

  test('writeInt rejects fractions', () => {
    assert.throws(() => new GossipEncoder().writeInt(1.5), InvalidArgumentError);
  });
});

describe('decodeGossip', () => {
  test('decodes every format family', () => {
    const cases: [string, GossipDecoded][] = [
      ['c0', null],
      ['c2', false],
      ['c3', true],
      ['7f', 127],
      ['e0', -32],
      ['cc80', 128],
      ['cd0100', 256],
      ['ce00010000', 65536],
      ['cf0000000100000000', 4294967296],
      ['cfffffffffffffffff', 18446744073709551615n],
      ['d0df', -33],
      ['d1ff7f', -129],
      ['d2ffff7fff', -32769],
      ['d3ffffffff7fffffff', -2147483649],
      ['d38000000000000000', -9223372036854775808n],
      ['ca3fc00000', 1.5],
      ['cb3ff8000000000000', 1.5],
      ['a3616263', utf8('abc')],
      ['d903616263', utf8('abc')],
      ['da0003616263', utf8('abc')],
      ['db00000003616263', utf8('abc')],
      ['c403010203', hex('010203')],
      ['c50003010203', hex('010203')],
      ['c600000003010203', hex('010203')],
      ['9201c0', [1, null]],
      ['dc000101', [1]],
      ['dd0000000101', [1]],
    ];
    for (const [input, expected] of cases) {
      assert.deepEqual(decodeGossip(hex(input)), expected, input);
    }
  });

  test('2^53 - 1 stays a number and 2^53 becomes a bigint', () => {
    assert.equal(decodeGossip(hex('cf001fffffffffffff')), Number.MAX_SAFE_INTEGER);
    assert.equal(decodeGossip(hex('cf0020000000000000')), 2n ** 53n);
  });

  test('maps decode with string, number, bool and nil keys', () => {
    const map = decodeGossip(hex('84a16101c40162020303c204')) as GossipMap;
    assert.deepEqual(
      map,
      new Map<string | number | boolean | null, GossipDecoded>([
        ['a', 1],
        ['b', 2],
        [3, 3],
        [false, 4],
      ]),
    );
    assert.deepEqual(decodeGossip(hex('81c001')), new Map([[null, 1]]));
    assert.deepEqual(decodeGossip(hex('de0001a16101')), new Map([['a', 1]]));
    assert.deepEqual(decodeGossip(hex('df00000001a16101')), new Map([['a', 1]]));
  });

  test('a leading byte order mark in a key is kept', () => {
    const map = decodeGossip(hex('81a3efbbbf01')) as GossipMap;
    assert.deepEqual([...map.keys()], ['\ufeff']);
  });

  test('array and map keys are rejected', () => {
    assert.throws(() => decodeGossip(hex('81900001')), DecodeError);
    assert.throws(() => decodeGossip(hex('818001')), DecodeError);
    assert.throws(() => decodeGossip(hex('81cf002000000000000001')), DecodeError);
  });

  test('ext types and 0xc1 are rejected', () => {
    for (const input of [
      'c1',
      'c70100',
      'c8000100',
      'c90000000100',
      'd40100',
      'd5010000',
      `d801${'00'.repeat(16)}`,
    ]) {
      assert.throws(() => decodeGossip(hex(input)), DecodeError, input);
    }
  });

  test('trailing bytes are rejected', () => {
    assert.throws(() => decodeGossip(hex('0102')), /exactly one value/);
  });

  test('byte values are copies of the input', () => {
    const input = hex('a3616263');
    const value = decodeGossip(input) as Uint8Array;
    input[1] = 0;
    assert.deepEqual(value, utf8('abc'));
    assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
  });

  test('byte values from a Buffer input are plain Uint8Arrays', () => {
    const value = decodeGossip(Buffer.from('a3616263', 'hex'));
    assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
  });
});

describe('decodeGossip hostile input', () => {
  test('truncated input is an IncompleteInputError', () => {
    for (const input of ['', 'cd01', 'a3', 'a36162', 'da00', 'db0000ffff', '92', '9201', '81a161', 'cb00']) {
      assert.throws(() => decodeGossip(hex(input)), IncompleteInputError, input);
    }
  });

  test('a huge announced length fails without allocating', () => {
    // 4 GiB string, array and map headers over a 6-byte buffer.
    for (const input of ['dbffffffff00', 'c6ffffffff00', 'ddffffffff00', 'dfffffffff00']) {
      const before = process.memoryUsage().arrayBuffers;
      assert.throws(() => decodeGossip(hex(input)), IncompleteInputError, input);
      assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, `no large allocation for ${input}`);
    }
  });

  test(`nesting deeper than ${MAX_DECODE_DEPTH} is rejected`, () => {
    const ok = new Uint8Array(MAX_DECODE_DEPTH + 1).fill(0x91);
    ok[MAX_DECODE_DEPTH] = 0x01;
    let value = decodeGossip(ok);
    for (let i = 0; i < MAX_DECODE_DEPTH; i++) value = (value as GossipDecoded[])[0]!;
    assert.equal(value, 1);

    const tooDeep = new Uint8Array(MAX_DECODE_DEPTH + 2).fill(0x91);
    tooDeep[MAX_DECODE_DEPTH + 1] = 0x01;
    assert.throws(() => decodeGossip(tooDeep), /nesting exceeds/);
    assert.throws(() => decodeGossip(new Uint8Array(100_000).fill(0x91)), DecodeError);
  });

  test('IncompleteInputError is a DecodeError with the decode code', () => {
    const err = new IncompleteInputError('x');
    assert.ok(err instanceof DecodeError);
    assert.equal(err.code, 'SERF_ERR_DECODE');
    assert.equal(err.name, 'IncompleteInputError');
  });
});

describe('decodeGossipPrefix', () => {
  test('returns the offset after one value', () => {
    const buf = hex('ff01a26869c0');
    assert.deepEqual(decodeGossipPrefix(buf, 1), { value: 1, offset: 2 });
    assert.deepEqual(decodeGossipPrefix(buf, 2), { value: utf8('hi'), offset: 5 });
    assert.deepEqual(decodeGossipPrefix(buf, 5), { value: null, offset: 6 });
    assert.throws(() => decodeGossipPrefix(buf, 6), IncompleteInputError);
  });

  test('rejects an offset outside the buffer', () => {
    assert.throws(() => decodeGossipPrefix(hex('01'), 2), InvalidArgumentError);
    assert.throws(() => decodeGossipPrefix(hex('01'), -1), InvalidArgumentError);
  });
});

describe('field readers', () => {
  const map = decodeGossip(
    encodeGossip({
      Str: 'node-a',
      Bytes: hex('0102'),
      EmptyBytes: new Uint8Array(0),
      Nil: null,
      Small: 5,
      Neg: -5,
      Big: 2n ** 60n,
      Float: 1.5,
      True: true,
      One: 1,
      Two: 2,
      Arr: [1, 2],
      Vsn: [1, 5, 2, 2, 5, 5],
      BadVsn: [1, 300],
      Sub: { A: 1 },
    }),
  ) as GossipMap;

  test('readString', () => {
    assert.equal(readString(map, 'Str'), 'node-a');
    assert.equal(readString(map, 'Missing'), '');
    assert.equal(readString(map, 'Nil'), '');
    assert.throws(() => readString(map, 'Small'), /field "Small": expected a string, got integer 5/);
  });

  test('readBytes', () => {
    assert.deepEqual(readBytes(map, 'Bytes'), hex('0102'));
    assert.deepEqual(readBytes(map, 'EmptyBytes'), new Uint8Array(0));
    assert.equal(readBytes(map, 'Missing'), null);
    assert.equal(readBytes(map, 'Nil'), null);
    assert.deepEqual(readBytes(map, 'Vsn'), hex('010502020505'));
    assert.throws(() => readBytes(map, 'BadVsn'), /field "BadVsn\[1\]"/);
    assert.throws(() => readBytes(map, 'True'), /field "True"/);
  });

  test('readUint', () => {
    assert.equal(readUint(map, 'Small', 0xffff), 5);
    assert.equal(readUint(map, 'Missing', 0xffff), 0);
    assert.equal(readUint(map, 'Nil'), 0);
    assert.throws(
      () => readUint(map, 'Small', 4),
      /field "Small": expected an unsigned integer no larger than 4/,
    );
    assert.throws(() => readUint(map, 'Neg'), /field "Neg"/);
    assert.throws(() => readUint(map, 'Float'), /field "Float"/);
    assert.throws(() => readUint(map, 'Big'), /field "Big"/);
    assert.throws(() => readUint(map, 'Str'), DecodeError);
  });

  test('readUint64', () => {
    assert.equal(readUint64(map, 'Big'), 2n ** 60n);
    assert.equal(readUint64(map, 'Small'), 5n);
    assert.equal(readUint64(map, 'Missing'), 0n);
    assert.throws(() => readUint64(map, 'Neg'), /field "Neg"/);
  });

  test('readInt', () => {
    assert.equal(readInt(map, 'Neg'), -5);
    assert.equal(readInt(map, 'Small', -10, 10), 5);
    assert.equal(readInt(map, 'Missing'), 0);
    assert.throws(() => readInt(map, 'Neg', 0, 10), /field "Neg": expected an integer in \[0, 10\]/);
    assert.throws(() => readInt(map, 'Float'), /field "Float"/);
  });

  test('readBool accepts 0 and 1', () => {
    assert.equal(readBool(map, 'True'), true);
    assert.equal(readBool(map, 'One'), true);
    assert.equal(readBool(map, 'Missing'), false);
    assert.equal(readBool(decodeGossip(hex('81a14200')) as GossipMap, 'B'), false);
    assert.throws(() => readBool(map, 'Two'), /field "Two"/);
  });

  test('readFloat accepts integers', () => {
    assert.equal(readFloat(map, 'Float'), 1.5);
    assert.equal(readFloat(map, 'Small'), 5);
    assert.equal(readFloat(map, 'Missing'), 0);
    assert.throws(() => readFloat(map, 'Str'), /field "Str"/);
  });

  test('readArray and readMap', () => {
    assert.deepEqual(readArray(map, 'Arr'), [1, 2]);
    assert.deepEqual(readArray(map, 'Missing'), []);
    assert.throws(() => readArray(map, 'Str'), /field "Str"/);
    assert.deepEqual(readMap(map, 'Sub'), new Map([['A', 1]]));
    assert.equal(readMap(map, 'Missing'), null);
    assert.throws(() => readMap(map, 'Arr'), /field "Arr"/);
  });
});

/** What decoding returns for an encoded value: strings become bytes, structs become Maps. */
function expectedDecode(value: GossipValue): GossipDecoded {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'bigint') {
    const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return safe ? Number(value) : value;
  }
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return 0;
    // Integral doubles within int64/uint64 are written as integers, and read back as bigint
    // beyond 2^53.
    const integral = Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 64;
    return integral && !Number.isSafeInteger(value) ? BigInt(value) : value;
  }
  if (typeof value === 'boolean' || value instanceof Uint8Array) return value;
  if (value instanceof Float64) return value.value;
  if (Array.isArray(value)) return value.map(expectedDecode);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, expectedDecode(v)]));
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return new Map(entries.map(([k, v]) => [k, expectedDecode(v)]));
}

const text = fc.string({ unit: 'grapheme', maxLength: 40 });

const gossipValue: fc.Arbitrary<GossipValue> = fc.letrec<{ value: GossipValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.double({ noNaN: true }),
    fc.double({ noNaN: true }).map((d) => new Float64(d)),
    text,
    fc.string({ unit: 'grapheme-ascii', minLength: 30, maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(text, fc.option(tie('value'), { nil: undefined }), { maxKeys: 20 }),
    fc.array(fc.tuple(text, tie('value')), { maxLength: 5 }).map((entries) => new Map(entries)),
  ),
})).value;

describe('msgpack properties', () => {
  test('decode(encode(v)) gives the expected value', () => {
    fc.assert(
      fc.property(gossipValue, (value) => {
        assert.deepEqual(decodeGossip(encodeGossip(value)), expectedDecode(value));
      }),
      { numRuns: 300 },
    );
  });

  test('chunked decoding matches for any split points', () => {
    fc.assert(
      fc.property(
        fc.array(gossipValue, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (values, cuts) => {
          const enc = new GossipEncoder();
          for (const value of values) enc.write(value);
          const stream = enc.finish();
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          points.push(stream.length);

          // Feed the stream one chunk at a time, decoding whole values as they complete.
          const decoded: GossipDecoded[] = [];
          let received = new Uint8Array(0);
          let offset = 0;
          let previous = 0;
          for (const point of points) {
            const grown = new Uint8Array(point);
            grown.set(received);
            grown.set(stream.subarray(previous, point), previous);
            received = grown;
            previous = point;
            for (;;) {
              try {
                const next = decodeGossipPrefix(received, offset);
                decoded.push(next.value);
                offset = next.offset;
              } catch (err) {
                if (err instanceof IncompleteInputError) break;
                throw err;
              }
            }
          }
          assert.equal(offset, stream.length);
          assert.deepEqual(decoded, values.map(expectedDecode));
        },
      ),
      { numRuns: 200 },
    );
  });
});
