/**
 * The memberlist receive pipeline (decrypt → CRC → stream framing) on every captured encrypted
 * datagram and stream, with a keyring holding all the cluster's keys in a non-primary order.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readUint } from '../../src/codec/msgpack.js';
import { openPacket, readObject, readStreamMessage, type WireSettings } from '../../src/memberlist/wire.js';
import { decodeKey, Keyring } from '../../src/security/keyring.js';
import { StreamReader } from '../../src/transport/stream-reader.js';
import type { Stream } from '../../src/transport/types.js';
import { CryptoError } from '../../src/util/errors.js';
import { hex, loadVectors } from '../helpers/vectors.js';

interface KeyVector {
  label: string;
  b64: string;
}

function settings(keys: KeyVector[]): WireSettings {
  const raw = keys.map((k) => decodeKey(k.b64)).reverse();
  return {
    keyring: new Keyring(raw, raw[0]),
    enableCompression: true,
    gossipVerifyIncoming: true,
    gossipVerifyOutgoing: true,
    protocolVersion: 2,
  };
}

function chunked(bytes: Uint8Array, size: number): Stream {
  let at = 0;
  return {
    remote: { host: '127.0.0.1', port: 1 },
    read: async () => {
      if (at >= bytes.length) return null;
      const chunk = bytes.subarray(at, at + size);
      at += size;
      return chunk;
    },
    write: async () => {},
    close: () => {},
  };
}

describe('memberlist wire pipeline on captured traffic', () => {
  it('every encrypted datagram opens to its plaintext', () => {
    const v = loadVectors('gossip-encrypted');
    const wire = settings(v.keys as KeyVector[]);
    let count = 0;
    for (const entry of v.entries as { hex: string; plaintext_hex: string; id: string }[]) {
      const plain = hex(entry.plaintext_hex);
      const expected = plain[0] === 0x0c ? plain.subarray(5) : plain;
      assert.deepEqual(openPacket(wire, hex(entry.hex)), expected, entry.id);
      count++;
    }
    assert.ok(count > 100, `${count} datagrams checked`);
  });

  it('encrypted datagram with only a wrong key is rejected', () => {
    const v = loadVectors('gossip-encrypted');
    const wire = settings([{ label: 'other', b64: Buffer.alloc(32, 5).toString('base64') }]);
    const first = (v.entries as { hex: string }[])[0]!;
    assert.throws(() => openPacket(wire, hex(first.hex)), CryptoError);
  });

  it('every encrypted stream chunk yields its push/pull, in any chunking', async () => {
    const v = loadVectors('stream');
    const wire = settings(v.keys as KeyVector[]);
    let count = 0;
    for (const entry of v.entries as {
      encrypted: boolean;
      id: string;
      sequence: { hex: string; decoded: { header?: { Nodes: number } } }[];
    }[]) {
      if (!entry.encrypted) continue;
      for (const chunk of entry.sequence) {
        for (const size of [1, 7, 1 << 20]) {
          const reader = new StreamReader(chunked(hex(chunk.hex), size));
          const msg = await readStreamMessage(wire, reader, { host: '127.0.0.1', port: 1 });
          assert.equal(msg.type, 6, `${entry.id}: push/pull type`);
          const header = (await readObject(msg.body)) as Map<string, unknown>;
          assert.equal(readUint(header as never, 'Nodes'), chunk.decoded.header?.Nodes, entry.id);
        }
        count++;
      }
    }
    assert.ok(count > 0);
  });
});
