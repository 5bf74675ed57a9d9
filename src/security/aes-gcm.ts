/**
 * Sealing and opening gossip payloads with AES-GCM, in memberlist 0.2.2's format:
 *
 *     [version: 1 byte][nonce: 12 bytes][ciphertext][GCM tag: 16 bytes]
 *
 * Version 1 encrypts the message unchanged. Version 0 first pads it PKCS#7-style to a multiple
 * of 16 bytes. Serf always sends version 1 and accepts both.
 *
 * A TCP stream message wraps one payload in a frame `[0x0a][u32 big-endian payload length]`
 * and authenticates those 5 header bytes as additional data. UDP packets use no additional data.
 */

import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CryptoError, InvalidArgumentError } from '../util/errors.js';
import { Keyring } from './keyring.js';

export const ENCRYPTION_VERSION_PADDED = 0;
export const ENCRYPTION_VERSION_GCM = 1;

export type EncryptionVersion = typeof ENCRYPTION_VERSION_PADDED | typeof ENCRYPTION_VERSION_GCM;

const VERSION_SIZE = 1;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const BLOCK_SIZE = 16;

/** Bytes added by version 1: version byte, nonce and tag. */
export const ENCRYPTION_OVERHEAD = VERSION_SIZE + NONCE_SIZE + TAG_SIZE;

/** Bytes added by version 0 at most (a full padding block); memberlist budgets packets with it. */
export const ENCRYPTION_OVERHEAD_MAX = ENCRYPTION_OVERHEAD + BLOCK_SIZE;

/** Message type byte that starts an encrypted stream frame. */
export const STREAM_FRAME_TYPE = 0x0a;

/** Stream frame header: the type byte and the big-endian 32-bit payload length. */
export const STREAM_FRAME_HEADER = 5;

/** Receivers reject stream frames whose payload length is above 20 MiB. */
export const MAX_STREAM_FRAME = 20 * 1024 * 1024;

/** Returns the encrypted payload size for a plaintext of `plaintextLength` bytes. */
export function encryptedLength(version: EncryptionVersion, plaintextLength: number): number {
  if (version === ENCRYPTION_VERSION_GCM) return ENCRYPTION_OVERHEAD + plaintextLength;
  return ENCRYPTION_OVERHEAD + plaintextLength + paddingLength(plaintextLength);
}

/**
 * Encrypts `plaintext` with `key` into one payload.
 *
 * `nonce` exists for known-answer tests only. Without it, a fresh random 12-byte nonce comes from
 * the OS CSPRNG, because GCM loses its security if a nonce repeats under one key.
 */
export function encryptPayload(
  version: EncryptionVersion,
  key: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
  nonce?: Uint8Array,
): Uint8Array {
  if (version !== ENCRYPTION_VERSION_PADDED && version !== ENCRYPTION_VERSION_GCM) {
    throw new InvalidArgumentError(`encryption version must be 0 or 1, got ${String(version)}`);
  }
  Keyring.validateKey(key);
  if (nonce !== undefined && nonce.length !== NONCE_SIZE) {
    throw new InvalidArgumentError(`nonce must be ${NONCE_SIZE} bytes, got ${nonce.length}`);
  }

  const out = new Uint8Array(encryptedLength(version, plaintext.length));
  out[0] = version;
  const nonceView = out.subarray(VERSION_SIZE, VERSION_SIZE + NONCE_SIZE);
  if (nonce === undefined) {
    randomFillSync(nonceView);
  } else {
    nonceView.set(nonce);
  }

  const cipher = createCipheriv(cipherName(key), key, nonceView, { authTagLength: TAG_SIZE });
  if (aad !== undefined && aad.length > 0) cipher.setAAD(aad);

  let offset = VERSION_SIZE + NONCE_SIZE;
  offset = copyInto(out, offset, cipher.update(plaintext));
  if (version === ENCRYPTION_VERSION_PADDED) {
    const pad = paddingLength(plaintext.length);
    offset = copyInto(out, offset, cipher.update(new Uint8Array(pad).fill(pad)));
  }
  offset = copyInto(out, offset, cipher.final());
  copyInto(out, offset, cipher.getAuthTag());
  return out;
}

/**
 * Decrypts one payload, trying each key in order (primary first). Throws CryptoError with
 * memberlist's texts when the payload is empty, has an unknown version, is too short, or no key
 * authenticates it. Keys of an invalid size are skipped.
 */
export function decryptPayload(
  keys: readonly Uint8Array[],
  payload: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  if (payload.length === 0) {
    throw new CryptoError('Cannot decrypt empty payload');
  }
  const version = payload[0]!;
  if (version > ENCRYPTION_VERSION_GCM) {
    throw new CryptoError(`Unsupported encryption version ${version}`);
  }
  if (payload.length < encryptedLength(version as EncryptionVersion, 0)) {
    throw new CryptoError(`Payload is too small to decrypt: ${payload.length}`);
  }

  const nonce = payload.subarray(VERSION_SIZE, VERSION_SIZE + NONCE_SIZE);
  const ciphertext = payload.subarray(VERSION_SIZE + NONCE_SIZE, payload.length - TAG_SIZE);
  const tag = payload.subarray(payload.length - TAG_SIZE);

  for (const key of keys) {
    const plain = openWithKey(key, nonce, ciphertext, tag, aad);
    if (plain === undefined) continue;
    return version === ENCRYPTION_VERSION_PADDED ? stripPadding(plain) : plain;
  }
  throw new CryptoError('No installed keys could decrypt the message');
}

/** Encrypts `plaintext` into a complete stream frame: header followed by the payload. */
export function encryptStreamFrame(
  key: Uint8Array,
  plaintext: Uint8Array,
  version: EncryptionVersion = ENCRYPTION_VERSION_GCM,
  nonce?: Uint8Array,
): Uint8Array {
  const payloadLength = encryptedLength(version, plaintext.length);
  if (payloadLength > MAX_STREAM_FRAME) {
    throw new InvalidArgumentError(
      `encrypted stream message would be ${payloadLength} bytes, above the ${MAX_STREAM_FRAME}-byte limit receivers accept; send less state`,
    );
  }
  const header = streamFrameHeader(payloadLength);
  const payload = encryptPayload(version, key, plaintext, header, nonce);
  const frame = new Uint8Array(STREAM_FRAME_HEADER + payload.length);
  frame.set(header, 0);
  frame.set(payload, STREAM_FRAME_HEADER);
  return frame;
}

/**
 * Decrypts the payload of one stream frame. `header` is the 5 bytes read before `payload`; they
 * must announce exactly `payload.length` bytes. Throws CryptoError for any malformed input.
 */
export function decryptStreamFrame(
  keys: readonly Uint8Array[],
  header: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  if (header.length !== STREAM_FRAME_HEADER || header[0] !== STREAM_FRAME_TYPE) {
    throw new CryptoError(
      `stream frame header must be ${STREAM_FRAME_HEADER} bytes starting with 0x0a, got ${header.length} bytes`,
    );
  }
  const declared = readStreamFrameLength(header);
  if (declared > MAX_STREAM_FRAME) {
    throw new CryptoError(
      `stream frame announces ${declared} bytes, above the ${MAX_STREAM_FRAME}-byte limit`,
    );
  }
  if (declared !== payload.length) {
    throw new CryptoError(
      `stream frame header announces ${declared} bytes but the payload has ${payload.length}`,
    );
  }
  return decryptPayload(keys, payload, header);
}

/** Returns the payload length stored in a stream frame header (bytes 1..4, big-endian). */
export function readStreamFrameLength(header: Uint8Array): number {
  return ((header[1]! << 24) | (header[2]! << 16) | (header[3]! << 8) | header[4]!) >>> 0;
}

function streamFrameHeader(payloadLength: number): Uint8Array {
  const header = new Uint8Array(STREAM_FRAME_HEADER);
  header[0] = STREAM_FRAME_TYPE;
  new DataView(header.buffer).setUint32(1, payloadLength, false);
  return header;
}

/** PKCS#7 padding size: 1..16 bytes, a full block when the length is already a multiple of 16. */
function paddingLength(plaintextLength: number): number {
  return BLOCK_SIZE - (plaintextLength % BLOCK_SIZE);
}

/**
 * Removes version-0 padding. Like memberlist, only the last byte is consulted, but a pad value
 * larger than the plaintext (possible only from a sender holding the key) is rejected where Go
 * would panic.
 */
function stripPadding(plain: Uint8Array): Uint8Array {
  const pad = plain[plain.length - 1] ?? 0;
  if (pad > plain.length) {
    throw new CryptoError(`padding value ${pad} is larger than the ${plain.length}-byte decrypted message`);
  }
  return plain.subarray(0, plain.length - pad);
}

function openWithKey(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array | undefined,
): Uint8Array | undefined {
  const name = cipherNameOrUndefined(key);
  if (name === undefined) return undefined;
  try {
    const decipher = createDecipheriv(name, key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAuthTag(tag);
    if (aad !== undefined && aad.length > 0) decipher.setAAD(aad);
    const first = decipher.update(ciphertext);
    const last = decipher.final();
    return toPlainBytes(last.length === 0 ? first : Buffer.concat([first, last]));
  } catch {
    // Authentication failed for this key; the caller tries the next one.
    return undefined;
  }
}

type GcmCipherName = 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm';

function cipherNameOrUndefined(key: Uint8Array): GcmCipherName | undefined {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      return undefined;
  }
}

function cipherName(key: Uint8Array): GcmCipherName {
  const name = cipherNameOrUndefined(key);
  if (name === undefined) Keyring.validateKey(key);
  return name!;
}

function copyInto(target: Uint8Array, offset: number, chunk: Uint8Array): number {
  target.set(chunk, offset);
  return offset + chunk.length;
}

/** Returns a plain Uint8Array view so callers comparing with `deepStrictEqual` see one type. */
function toPlainBytes(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
