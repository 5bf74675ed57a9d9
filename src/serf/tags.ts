/**
 * Serf tags in memberlist node metadata: `[0xff][msgpack map string → string]`.
 */

import { decodeGossipPrefix, GossipEncoder, utf8ToString } from '../codec/msgpack.js';
import { DecodeError, InvalidArgumentError } from '../util/errors.js';

/** First byte of encoded tags. Serf protocol 2 senders put a bare role string in the metadata instead. */
export const TAGS_MAGIC_BYTE = 0xff;

/** Largest encoded tag set (magic byte included), which is memberlist's metadata limit. */
export const TAGS_MAX_SIZE = 512;

/**
 * Encodes tags as node metadata. A Map keeps its insertion order and a record its key order. Go
 * nodes send their maps in random order, so receivers must not depend on it.
 */
export function encodeTags(tags: Record<string, string> | Map<string, string>): Uint8Array {
  const entries = tags instanceof Map ? [...tags] : Object.entries(tags);
  const enc = new GossipEncoder(16 + entries.length * 16);
  enc.writeByte(TAGS_MAGIC_BYTE);
  enc.writeMapHeader(entries.length);
  for (const [name, value] of entries) {
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(`tag "${name}" has a ${typeof value} value; tag values must be strings`);
    }
    enc.writeString(name);
    enc.writeString(value);
  }
  return enc.finish();
}

/**
 * Throws InvalidArgumentError when encoded tags exceed TAGS_MAX_SIZE. The message text is the
 * one Go Serf returns, because RPC clients show it to users.
 */
export function checkTagsSize(encoded: Uint8Array): void {
  if (encoded.length > TAGS_MAX_SIZE) {
    throw new InvalidArgumentError(`Encoded length of tags exceeds limit of ${TAGS_MAX_SIZE} bytes`);
  }
}

/**
 * Decodes node metadata into tags. Never throws: metadata comes from peers, so
 * - empty metadata, or metadata not starting with 0xff, is a protocol 2 role: `{ role: <text> }`;
 * - undecodable bytes after 0xff yield the entries decoded before the error (possibly none),
 *   which is how Go Serf 0.9.4 behaves.
 * The result is a plain object whose entries are all own properties, so a tag named `__proto__`
 * is stored as data instead of replacing the prototype. Look tags up with Object.hasOwn.
 */
export function decodeTags(meta: Uint8Array): Record<string, string> {
  const tags: Record<string, string> = {};
  if (meta.length === 0 || meta[0] !== TAGS_MAGIC_BYTE) {
    setTag(tags, 'role', utf8ToString(meta));
    return tags;
  }
  try {
    const header = readMapHeader(meta, 1);
    if (header === null) return tags;
    let offset = header.offset;
    for (let i = 0; i < header.count; i++) {
      const name = decodeGossipPrefix(meta, offset);
      const value = decodeGossipPrefix(meta, name.offset);
      offset = value.offset;
      if (!(name.value instanceof Uint8Array)) break;
      if (value.value !== null && !(value.value instanceof Uint8Array)) break;
      setTag(tags, utf8ToString(name.value), value.value === null ? '' : utf8ToString(value.value));
    }
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
  }
  return tags;
}

/** Defines an own enumerable property, even for the name `__proto__`. */
function setTag(tags: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(tags, name, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Reads the map header at `offset`. Returns null for msgpack nil (no tags) and throws DecodeError
 * for anything that is not a map.
 */
function readMapHeader(buf: Uint8Array, offset: number): { count: number; offset: number } | null {
  if (offset >= buf.length) throw new DecodeError('tags: metadata ends after the 0xff byte');
  const byte = buf[offset]!;
  if (byte === 0xc0) return null;
  if (byte >= 0x80 && byte <= 0x8f) return { count: byte & 0x0f, offset: offset + 1 };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (byte === 0xde && offset + 3 <= buf.length)
    return { count: view.getUint16(offset + 1), offset: offset + 3 };
  if (byte === 0xdf && offset + 5 <= buf.length)
    return { count: view.getUint32(offset + 1), offset: offset + 5 };
  throw new DecodeError(
    `tags: expected a msgpack map after the 0xff byte, got type byte 0x${byte.toString(16)}`,
  );
}
