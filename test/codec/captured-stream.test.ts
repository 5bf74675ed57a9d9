// Captured TCP push/pull exchanges between reference agents (plaintext ones; the encrypted ones
// are covered by the security layer's tests). Each direction is one compress message whose
// content is a push/pull: header, node states and Serf's user state.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compressMessage,
  decodePushPullBody,
  decompressMessage,
  encodePushPull,
  MessageType,
} from '../../src/codec/index.js';
import { hex, loadVectors, toHex } from '../helpers/vectors.js';

interface HexField {
  hex: string;
}

interface CapturedNode {
  Name: string;
  Addr: HexField;
  Port: number;
  Incarnation: number;
  State: number;
  Meta: HexField | null;
  Vsn: HexField | null;
}

const hexOrNull = (field: HexField | null | undefined) => (field ? field.hex : null);

describe('captured push/pull streams', () => {
  const vectors = loadVectors('stream');
  const plain = vectors.entries.filter((entry: { encrypted: boolean }) => !entry.encrypted);

  test('has plaintext entries', () => {
    assert.ok(plain.length >= 5);
  });

  for (const entry of plain) {
    for (const [i, chunk] of entry.sequence.entries()) {
      test(`${entry.id} chunk ${i} (${chunk.dir})`, () => {
        const decoded = chunk.decoded;
        const inner = decompressMessage(hex(chunk.hex));
        assert.equal(toHex(inner), decoded.decompressed_hex);
        assert.equal(inner[0], MessageType.pushPull);

        const pp = decodePushPullBody(inner, 1);
        assert.equal(pp.join, decoded.header.Join);
        assert.equal(pp.join, entry.join);
        assert.equal(pp.nodes.length, decoded.header.Nodes);
        assert.equal(pp.userState?.length ?? 0, decoded.header.UserStateLen);
        assert.equal(toHex(pp.userState ?? new Uint8Array(0)), decoded.user_state_hex);

        const nodes = pp.nodes.map((node) => ({
          Name: node.name,
          Addr: toHex(node.addr),
          Port: node.port,
          Incarnation: node.incarnation,
          State: node.state,
          Meta: node.meta && toHex(node.meta),
          Vsn: node.vsn && toHex(node.vsn),
        }));
        const expected = decoded.nodes.map((node: CapturedNode) => ({
          Name: node.Name,
          Addr: node.Addr.hex,
          Port: node.Port,
          Incarnation: node.Incarnation,
          State: node.State,
          Meta: hexOrNull(node.Meta),
          Vsn: hexOrNull(node.Vsn),
        }));
        assert.deepEqual(nodes, expected);

        const reencoded = encodePushPull(pp);
        assert.equal(toHex(reencoded), decoded.decompressed_hex);
        assert.equal(toHex(compressMessage(reencoded)), chunk.hex);
      });
    }
  }
});
