import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeKey,
  decryptPayload,
  decryptStreamFrame,
  STREAM_FRAME_HEADER,
} from '../../src/security/index.js';
import { CryptoError } from '../../src/util/errors.js';
import { hex, loadVectors } from '../helpers/vectors.js';

interface KeyEntry {
  label: string;
  b64: string;
  length_bytes: number;
}

interface GossipEntry {
  id: string;
  hex: string;
  encrypted?: boolean;
  key_label: string;
  encryption_version: number;
  plaintext_hex: string;
}

interface StreamChunk {
  dir: string;
  hex: string;
  key_label?: string;
  encryption_version?: number;
  decoded?: { plaintext_hex?: string };
}

interface StreamEntry {
  id: string;
  encrypted: boolean;
  sequence: StreamChunk[];
}

function keyMap(keys: KeyEntry[]): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>();
  for (const k of keys) {
    const bytes = decodeKey(k.b64);
    assert.equal(bytes.length, k.length_bytes, `key ${k.label}`);
    map.set(k.label, bytes);
  }
  return map;
}

const gossip = loadVectors('gossip-encrypted') as { keys: KeyEntry[]; entries: GossipEntry[] };
const stream = loadVectors('stream') as { keys: KeyEntry[]; entries: StreamEntry[] };

describe('gossip-encrypted.json', () => {
  const keys = keyMap(gossip.keys);
  const allKeys = [...keys.values()];
  const encrypted = gossip.entries.filter((e) => e.encrypted === true);

  it('has entries with every key and both orders to test', () => {
    assert.ok(encrypted.length > 100, `only ${encrypted.length} encrypted entries`);
    const labels = new Set(encrypted.map((e) => e.key_label));
    assert.deepEqual([...labels].sort(), ['K1', 'K2', 'K3']);
  });

  it('each entry decrypts with its key', () => {
    for (const entry of encrypted) {
      const key = keys.get(entry.key_label)!;
      const packet = hex(entry.hex);
      assert.equal(packet[0], entry.encryption_version, entry.id);
      const plain = decryptPayload([key], packet);
      assert.equal(Buffer.from(plain).toString('hex'), entry.plaintext_hex, entry.id);
    }
  });

  it('each entry decrypts with the whole ring in any order', () => {
    const orders = [allKeys, [...allKeys].reverse(), [allKeys[1]!, allKeys[2]!, allKeys[0]!]];
    for (const entry of encrypted) {
      for (const ring of orders) {
        const plain = decryptPayload(ring, hex(entry.hex));
        assert.equal(Buffer.from(plain).toString('hex'), entry.plaintext_hex, entry.id);
      }
    }
  });

  it('each entry fails with only wrong keys', () => {
    for (const entry of encrypted) {
      const wrong = [...keys].filter(([label]) => label !== entry.key_label).map(([, k]) => k);
      assert.throws(() => decryptPayload(wrong, hex(entry.hex)), CryptoError, entry.id);
    }
  });
});

describe('stream.json encrypted frames', () => {
  const keys = keyMap(stream.keys);
  const allKeys = [...keys.values()].reverse();
  const chunks = stream.entries
    .filter((e) => e.encrypted)
    .flatMap((e) => e.sequence.map((c) => ({ id: e.id, c })));

  it('has encrypted chunks', () => {
    assert.ok(chunks.length >= 4, `only ${chunks.length} chunks`);
  });

  for (const [index, { id, c }] of chunks.entries()) {
    it(`${id} chunk ${index} (${c.dir})`, () => {
      const frame = hex(c.hex);
      assert.equal(frame[0], 0x0a);
      const header = frame.subarray(0, STREAM_FRAME_HEADER);
      const payload = frame.subarray(STREAM_FRAME_HEADER);
      assert.equal(new DataView(header.buffer, header.byteOffset).getUint32(1), payload.length);

      const key = keys.get(c.key_label!)!;
      const plain = decryptStreamFrame([key], header, payload);
      assert.equal(plain[0], 0x09, 'stream plaintext starts with a compress message');
      if (c.decoded?.plaintext_hex !== undefined) {
        assert.equal(Buffer.from(plain).toString('hex'), c.decoded.plaintext_hex);
      }
      assert.deepEqual(decryptStreamFrame(allKeys, header, payload), plain);

      const wrong = [...keys].filter(([label]) => label !== c.key_label).map(([, k]) => k);
      assert.throws(() => decryptStreamFrame(wrong, header, payload), CryptoError);
    });
  }
});
