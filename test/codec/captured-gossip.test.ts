// Every captured UDP datagram from the reference agents is peeled layer by layer (CRC, compress,
// compound), every leaf is decoded, and the whole datagram is rebuilt from the decoded parts and
// compared with the captured bytes. Encrypted captures are checked through their decrypted
// `plaintext_hex`; decryption itself is tested in the security layer.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addCrc,
  compressMessage,
  decodeCompound,
  decodeGossipPrefix,
  decodeMessage,
  decompressMessage,
  encodeCompound,
  encodeMessage,
  expectMap,
  lzwCompress,
  lzwDecompress,
  MessageType,
  messageTypeName,
  readBytes,
  stripCrc,
} from '../../src/codec/index.js';
import { hex, loadVectors, toHex } from '../helpers/vectors.js';

/** Serf message type names by first byte of a user message. */
const SERF_TYPES = [
  'leave',
  'join',
  'pushPull',
  'userEvent',
  'query',
  'queryResponse',
  'conflictResponse',
  'keyRequest',
  'keyResponse',
  'relay',
];

/** The capture tooling names acks and nacks after their Go structs. */
const CAPTURE_NAMES: Record<string, string> = { ack: 'ackResp', nack: 'nackResp' };

interface CapturedMessage {
  type_name: string;
  hex?: string;
  decompressed_hex?: string;
}

interface Peeled {
  /** Type names in nesting order, in the capture tooling's spelling. */
  types: string[];
  /** Leaf messages (type byte included) in order. */
  leaves: string[];
  /** For each compress layer: the decompressed bytes. */
  decompressed: string[];
}

/**
 * Decodes `buf` recursively and returns the datagram rebuilt from the decoded values, checking on
 * the way that each compress layer's LZW bytes are what lzwCompress produces.
 */
function rebuild(buf: Uint8Array, out: Peeled): Uint8Array {
  const typeByte = buf[0];
  switch (typeByte) {
    case MessageType.hasCrc:
      out.types.push('hasCrc');
      return addCrc(rebuild(stripCrc(buf), out));
    case MessageType.compress: {
      out.types.push('compress');
      const captured = readBytes(expectMap(decodeGossipPrefix(buf, 1).value, 'compress'), 'Buf');
      assert.ok(captured, 'compress message has a Buf');
      const inner = decompressMessage(buf);
      assert.deepEqual(lzwDecompress(captured, 1 << 20), inner);
      assert.equal(toHex(lzwCompress(inner)), toHex(captured), 'LZW output differs from the captured bytes');
      out.decompressed.push(toHex(inner));
      return compressMessage(rebuild(inner, out));
    }
    case MessageType.compound: {
      out.types.push('compound');
      const { parts, truncated } = decodeCompound(buf);
      assert.equal(truncated, 0);
      return encodeCompound(parts.map((part) => rebuild(part, out)));
    }
    case MessageType.user: {
      out.types.push(userTypeName(buf));
      out.leaves.push(toHex(buf));
      return encodeMessage(decodeMessage(buf));
    }
    default: {
      const msg = decodeMessage(buf);
      assert.equal(messageTypeName(typeByte ?? -1), msg.type);
      out.types.push(CAPTURE_NAMES[msg.type] ?? msg.type);
      out.leaves.push(toHex(buf));
      return encodeMessage(msg);
    }
  }
}

/** `user:<serf type>`, and for a relay the wrapped type too (`user:relay>queryResponse`). */
function userTypeName(buf: Uint8Array): string {
  const name = SERF_TYPES[buf[1] ?? -1] ?? `unknown(${buf[1]})`;
  if (name !== 'relay') return `user:${name}`;
  // A relay is [9][msgpack relay header][inner serf message].
  const inner = decodeGossipPrefix(buf, 2).offset;
  return `user:relay>${SERF_TYPES[buf[inner] ?? -1]}`;
}

function checkEntry(entry: { id: string; types: string[]; messages: CapturedMessage[] }, datagram: string) {
  const peeled: Peeled = { types: [], leaves: [], decompressed: [] };
  const rebuilt = rebuild(hex(datagram), peeled);

  assert.deepEqual(peeled.types, entry.types);
  const leafHex = entry.messages.filter((m) => m.hex !== undefined).map((m) => m.hex);
  assert.deepEqual(peeled.leaves, leafHex);
  const decompressedHex = entry.messages
    .filter((m) => m.type_name === 'compress')
    .map((m) => m.decompressed_hex);
  assert.deepEqual(peeled.decompressed, decompressedHex);
  assert.equal(toHex(rebuilt), datagram);
}

describe('captured gossip, plaintext', () => {
  const vectors = loadVectors('gossip-plain');

  test('has entries', () => {
    assert.ok(vectors.entries.length > 100);
  });

  for (const entry of vectors.entries) {
    test(`${entry.id} (${entry.types.join(' + ')})`, () => {
      checkEntry(entry, entry.hex);
    });
  }
});

describe('captured gossip, decrypted', () => {
  const vectors = loadVectors('gossip-encrypted');

  test('has entries', () => {
    assert.ok(vectors.entries.length > 100);
  });

  for (const entry of vectors.entries) {
    test(`${entry.id} (${entry.types.join(' + ')})`, () => {
      checkEntry(entry, entry.plaintext_hex);
    });
  }
});
