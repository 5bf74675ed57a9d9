/**
 * The layers around memberlist messages on the wire.
 *
 * UDP, outermost last: message → compound → LZW compress (only when smaller) → CRC (only toward a
 * known node with pmax ≥ 5) → AES-GCM. Receiving peels them in reverse; compound and compress
 * parts are dispatched recursively by the caller.
 *
 * TCP: each direction is one stream message `[type][body]`, always compressed when compression is
 * on, then wrapped in an encrypted frame `[0x0a][u32 length][payload]` whose 5 header bytes are the
 * GCM additional data.
 */

import { addCrc, compressMessage, stripCrc } from '../codec/framing.js';
import { lzwDecompress } from '../codec/lzw.js';
import { MessageType } from '../codec/message-types.js';
import { decodeGossipPrefix, IncompleteInputError, readBytes, readUint } from '../codec/msgpack.js';
import {
  decryptPayload,
  decryptStreamFrame,
  ENCRYPTION_OVERHEAD,
  ENCRYPTION_OVERHEAD_MAX,
  encryptPayload,
  encryptStreamFrame,
  MAX_STREAM_FRAME,
  STREAM_FRAME_HEADER,
} from '../security/aes-gcm.js';
import type { Keyring } from '../security/keyring.js';
import { StreamReader } from '../transport/stream-reader.js';
import type { Address, Stream } from '../transport/types.js';
import { DecodeError, ProtocolError } from '../util/errors.js';

/** Upper bound on a decompressed message, so a small hostile packet cannot expand without limit. */
export const MAX_DECOMPRESSED = 40 * 1024 * 1024;

export interface WireSettings {
  keyring: Keyring | undefined;
  enableCompression: boolean;
  gossipVerifyIncoming: boolean;
  gossipVerifyOutgoing: boolean;
  /** Own memberlist protocol version: 1 selects the padded encryption format (version 0). */
  protocolVersion: number;
}

export function encryptionEnabled(w: WireSettings): boolean {
  return w.keyring !== undefined && w.keyring.size > 0;
}

/** Bytes the encryption layer adds to an outgoing packet (0 when not encrypting). */
export function encryptionOverhead(w: WireSettings): number {
  if (!encryptionEnabled(w) || !w.gossipVerifyOutgoing) return 0;
  return w.protocolVersion < 2 ? ENCRYPTION_OVERHEAD_MAX : ENCRYPTION_OVERHEAD;
}

/** Applies compression, optional CRC and encryption to one outgoing datagram. */
export function sealPacket(w: WireSettings, message: Uint8Array, withCrc: boolean): Uint8Array {
  let buf = message;
  if (w.enableCompression) {
    const compressed = compressMessage(buf);
    if (compressed.length < buf.length) buf = compressed;
  }
  if (withCrc) buf = addCrc(buf);
  if (encryptionEnabled(w) && w.gossipVerifyOutgoing) {
    const version = w.protocolVersion < 2 ? 0 : 1;
    buf = encryptPayload(version, w.keyring!.getPrimaryKey()!, buf);
  }
  return buf;
}

/**
 * Decrypts (when a keyring is set) and checks the CRC of one incoming datagram. Throws CryptoError
 * when no key opens it and unencrypted input is not accepted, DecodeError on a CRC mismatch.
 */
export function openPacket(w: WireSettings, packet: Uint8Array): Uint8Array {
  let buf = packet;
  if (encryptionEnabled(w)) {
    try {
      buf = decryptPayload(w.keyring!.getKeys(), packet);
    } catch (err) {
      if (w.gossipVerifyIncoming) throw err;
      buf = packet;
    }
  }
  if (buf.length === 0) throw new DecodeError('empty packet');
  if (buf[0] === MessageType.hasCrc) buf = stripCrc(buf);
  if (buf.length === 0) throw new DecodeError('empty packet after the CRC header');
  return buf;
}

/** Wraps `[type][body]` for a stream: compression when on (regardless of size), then encryption. */
export function sealStreamMessage(w: WireSettings, message: Uint8Array): Uint8Array {
  let buf = message;
  if (w.enableCompression) buf = compressMessage(buf);
  if (encryptionEnabled(w) && w.gossipVerifyOutgoing) {
    const version = w.protocolVersion < 2 ? 0 : 1;
    buf = encryptStreamFrame(w.keyring!.getPrimaryKey()!, buf, version);
  }
  return buf;
}

/** Wraps one buffer as a stream that then ends, so decrypted frames reuse the stream parsers. */
function bufferStream(buf: Uint8Array, remote: Address): Stream {
  let done = false;
  return {
    remote,
    read: async () => {
      if (done) return null;
      done = true;
      return buf;
    },
    write: async () => {
      throw new ProtocolError('cannot write to a decoded stream buffer');
    },
    close: () => {},
  };
}

export interface StreamMessage {
  /** Type byte of the innermost message (after decryption and decompression). */
  type: number;
  /** Reader positioned at the first body byte. */
  body: StreamReader;
}

/**
 * Reads the first stream message from `reader`, peeling encryption and compression. Errors use
 * the reference's texts, since they are sent back to the peer in an err message.
 */
export async function readStreamMessage(
  w: WireSettings,
  reader: StreamReader,
  remote: Address,
): Promise<StreamMessage> {
  let type = await reader.readByte();
  let body = reader;

  if (type === MessageType.encrypt) {
    if (!encryptionEnabled(w))
      throw new ProtocolError('Remote state is encrypted and encryption is not configured');
    const lengthBytes = await body.readExactly(4);
    const length = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 4).getUint32(0);
    if (length > MAX_STREAM_FRAME)
      throw new DecodeError(`Remote node state is larger than limit (${length})`);
    const payload = await body.readExactly(length);
    const header = new Uint8Array(STREAM_FRAME_HEADER);
    header[0] = MessageType.encrypt;
    header.set(lengthBytes, 1);
    const plain = decryptStreamFrame(w.keyring!.getKeys(), header, payload);
    body = new StreamReader(bufferStream(plain, remote));
    type = await body.readByte();
  } else if (encryptionEnabled(w) && w.gossipVerifyIncoming) {
    throw new ProtocolError('Encryption is configured but remote state is not encrypted');
  }

  if (type === MessageType.compress) {
    const compress = await readObject(body);
    if (!(compress instanceof Map)) throw new DecodeError('compress message is not a map');
    const algo = readUint(compress, 'Algo', 255);
    if (algo !== 0) throw new DecodeError(`Cannot decompress unknown algorithm ${algo}`);
    const plain = lzwDecompress(readBytes(compress, 'Buf') ?? new Uint8Array(0), MAX_DECOMPRESSED);
    if (plain.length === 0) throw new DecodeError('decompressed stream message is empty');
    body = new StreamReader(bufferStream(plain, remote));
    type = await body.readByte();
  }

  return { type, body };
}

/** Reads one msgpack object, pulling more bytes from the stream until it is complete. */
export async function readObject(reader: StreamReader): Promise<unknown> {
  const bytes = await readRawObject(reader);
  return decodeGossipPrefix(bytes, 0).value;
}

/**
 * Returns the bytes of the next msgpack object, reading more from the stream as needed. After an
 * incomplete parse it waits until the buffer has doubled before parsing again, so a peer that
 * trickles a large object in small writes costs O(n log n) parsing work, not O(n²).
 */
export async function readRawObject(reader: StreamReader): Promise<Uint8Array> {
  for (;;) {
    const buffered = reader.buffered();
    try {
      const { offset } = decodeGossipPrefix(buffered, 0);
      const bytes = buffered.slice(0, offset);
      reader.consume(offset);
      return bytes;
    } catch (err) {
      if (!(err instanceof IncompleteInputError)) throw err;
    }
    const target = Math.max(buffered.length * 2, buffered.length + 1);
    while (reader.buffered().length < target) {
      if (!(await reader.fill())) throw new DecodeError('stream ended inside a message');
    }
  }
}
