// Byte-exact checks against the hand-computed vectors of the memberlist wire sheet, several of
// which match the shape of packets captured from reference agents.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import {
  addCrc,
  compressMessage,
  decodeCompound,
  decodeMessage,
  decodePushPullBody,
  decompressMessage,
  encodeCompound,
  encodeMessage,
  encodePushPull,
  lzwCompress,
  lzwDecompress,
  type Message,
  stripCrc,
} from '../../src/codec/index.js';
import { hex, toHex } from '../helpers/vectors.js';

const PING_HEX =
  '0085a44e6f6465a26e32a55365714e6f01aa536f7572636541646472a47f000001' +
  'aa536f757263654e6f6465a26e31aa536f75726365506f7274cd1f0a';

const ascii = (text: string) => new TextEncoder().encode(text);

const messageVectors: { name: string; hex: string; msg: Message }[] = [
  {
    name: 'ping',
    hex: PING_HEX,
    msg: {
      type: 'ping',
      body: { seqNo: 1, node: 'n2', sourceAddr: hex('7f000001'), sourcePort: 7946, sourceNode: 'n1' },
    },
  },
  {
    name: 'ack without payload',
    hex: '0282a75061796c6f6164c0a55365714e6f01',
    msg: { type: 'ack', body: { seqNo: 1, payload: null } },
  },
  { name: 'nack', hex: '0b81a55365714e6fcd012f', msg: { type: 'nack', body: { seqNo: 303 } } },
  {
    name: 'suspect',
    hex: '0383a446726f6da26e31ab496e6361726e6174696f6e01a44e6f6465a26e32',
    msg: { type: 'suspect', body: { incarnation: 1, node: 'n2', from: 'n1' } },
  },
  {
    name: 'dead (a leave)',
    hex: '0583a446726f6da26e32ab496e6361726e6174696f6e01a44e6f6465a26e32',
    msg: { type: 'dead', body: { incarnation: 1, node: 'n2', from: 'n2' } },
  },
  {
    name: 'alive',
    hex:
      '0486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461a2ff80' +
      'a44e6f6465a26e31a4506f7274cd1f0aa356736ea6010502020505',
    msg: {
      type: 'alive',
      body: {
        incarnation: 1,
        node: 'n1',
        addr: hex('7f000001'),
        port: 7946,
        meta: hex('ff80'),
        vsn: hex('010502020505'),
      },
    },
  },
];

describe('spec vectors: messages', () => {
  for (const vector of messageVectors) {
    test(`${vector.name} encodes byte for byte`, () => {
      assert.equal(toHex(encodeMessage(vector.msg)), vector.hex);
    });

    test(`${vector.name} decodes to its fields`, () => {
      assert.deepEqual(decodeMessage(hex(vector.hex)), vector.msg);
    });
  }

  test('ping is 61 bytes', () => {
    assert.equal(hex(PING_HEX).length, 61);
  });
});

describe('spec vectors: push/pull header', () => {
  const HEADER_HEX = '0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656ecd024a';

  test('header of a captured join matches', () => {
    // The header announces 1 node and 586 user-state bytes. Only the header bytes are compared,
    // so the node state and user state are placeholders of the right count and size.
    const encoded = encodePushPull({
      join: true,
      nodes: [
        {
          name: 'n1',
          addr: hex('7f000001'),
          port: 7946,
          meta: null,
          incarnation: 1,
          state: 0,
          vsn: hex('010502020505'),
        },
      ],
      userState: new Uint8Array(586),
    });
    assert.equal(toHex(encoded.subarray(0, HEADER_HEX.length / 2)), HEADER_HEX);
  });

  test('header with no nodes decodes', () => {
    const pp = decodePushPullBody(hex('0683a44a6f696ec3a54e6f64657300ac5573657253746174654c656e00'), 1);
    assert.deepEqual(pp, { join: true, nodes: [], userState: null });
  });
});

describe('spec vectors: framing', () => {
  test('CRC wrapper around the ping', () => {
    const wrapped = addCrc(hex(PING_HEX));
    assert.equal(toHex(wrapped), `0c0b4bf6bd${PING_HEX}`);
    assert.equal(toHex(stripCrc(wrapped)), PING_HEX);
  });

  test('CRC-32 check value of "123456789"', () => {
    assert.equal(crc32(ascii('123456789')).toString(16), 'cbf43926');
  });

  test('compound of two pings', () => {
    const compound = encodeCompound([hex(PING_HEX), hex(PING_HEX)]);
    assert.equal(toHex(compound), `0702003d003d${PING_HEX}${PING_HEX}`);
    const { parts, truncated } = decodeCompound(compound);
    assert.equal(truncated, 0);
    assert.deepEqual(parts.map(toHex), [PING_HEX, PING_HEX]);
  });

  test('compress message wrapping TOBEORNOT', () => {
    const expected = '0982a4416c676f00a3427566b500a93c1152e48914274fa80824687061c183090302';
    const input = ascii('TOBEORNOTTOBEORTOBEORNOT');
    assert.equal(toHex(compressMessage(input)), expected);
    assert.deepEqual(decompressMessage(hex(expected)), input);
  });
});

describe('spec vectors: LZW', () => {
  const vectors = [
    { name: 'empty', input: '', output: '000302' },
    { name: 'a', input: 'a', output: '00c30404' },
    {
      name: 'TOBEORNOT',
      input: 'TOBEORNOTTOBEORTOBEORNOT',
      output: '00a93c1152e48914274fa80824687061c183090302',
    },
    { name: '40 a', input: 'a'.repeat(40), output: '00c3081c48b0a0c18308090604' },
  ];
  for (const vector of vectors) {
    test(`${vector.name} compresses byte for byte`, () => {
      assert.equal(toHex(lzwCompress(ascii(vector.input))), vector.output);
    });

    test(`${vector.name} decompresses`, () => {
      assert.deepEqual(lzwDecompress(hex(vector.output), 1024), ascii(vector.input));
    });
  }
});
