/**
 * The gossip keyring: an ordered list of AES keys where element 0 is the primary key.
 *
 * Outgoing payloads are encrypted with the primary key only; incoming payloads are tried against
 * every key in order. The rules for adding, promoting and removing keys, and the error texts,
 * match memberlist 0.2.2, because those texts travel in key-query responses and reach the output
 * of `serf keys` on other nodes.
 */

import { inspect } from 'node:util';
import { InvalidArgumentError } from '../util/errors.js';

/** Key lengths in bytes for AES-128, AES-192 and AES-256. */
export const KEY_SIZES: readonly number[] = [16, 24, 32];

export class Keyring {
  /** Private copies of the keys; index 0 is the primary. */
  #keys: Uint8Array[] = [];

  /**
   * Creates a keyring. With neither argument (or an empty `keys` and no `primary`) the ring starts
   * empty. Otherwise `primary` is required: it becomes the primary and the other keys follow in
   * the given order, duplicates skipped.
   */
  constructor(keys?: Uint8Array[], primary?: Uint8Array) {
    const keysGiven = keys !== undefined && keys.length > 0;
    if (!keysGiven && primary === undefined) return;

    if (primary === undefined || primary.length === 0) {
      throw new InvalidArgumentError('Empty primary key not allowed');
    }
    this.addKey(primary);
    for (const key of keys ?? []) {
      this.addKey(key);
    }
  }

  /** Throws InvalidArgumentError unless `key` is 16, 24 or 32 bytes long. */
  static validateKey(key: Uint8Array): void {
    if (!KEY_SIZES.includes(key.length)) {
      // memberlist's text, unchanged, because it reaches `serf agent` and `serf keys` output.
      throw new InvalidArgumentError('key size must be 16, 24 or 32 bytes');
    }
  }

  /**
   * Adds `key` at the end of the ring. Adding a key that is already installed does nothing. The
   * first key added to an empty ring becomes the primary.
   */
  addKey(key: Uint8Array): void {
    Keyring.validateKey(key);
    if (this.#indexOf(key) >= 0) return;
    this.#keys.push(Uint8Array.from(key));
  }

  /** Makes an installed key the primary; the other keys keep their relative order. */
  useKey(key: Uint8Array): void {
    const index = this.#indexOf(key);
    if (index < 0) {
      throw new InvalidArgumentError('Requested key is not in the keyring');
    }
    const [chosen] = this.#keys.splice(index, 1);
    this.#keys.unshift(chosen!);
  }

  /** Removes a secondary key. Removing a key that is not installed succeeds silently. */
  removeKey(key: Uint8Array): void {
    const index = this.#indexOf(key);
    if (index === 0) {
      throw new InvalidArgumentError('Removing the primary key is not allowed');
    }
    if (index > 0) this.#keys.splice(index, 1);
  }

  /** Returns copies of all keys, primary first. */
  getKeys(): Uint8Array[] {
    return this.#keys.map((key) => Uint8Array.from(key));
  }

  /** Returns a copy of the primary key, or undefined when the ring is empty. */
  getPrimaryKey(): Uint8Array | undefined {
    const primary = this.#keys[0];
    return primary === undefined ? undefined : Uint8Array.from(primary);
  }

  /** Number of installed keys. */
  get size(): number {
    return this.#keys.length;
  }

  /** Describes the ring without any key material. */
  toString(): string {
    return `Keyring(${this.#keys.length} keys)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }

  #indexOf(key: Uint8Array): number {
    return this.#keys.findIndex((installed) => bytesEqual(installed, key));
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/** Standard base64 alphabet; index = 6-bit value. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PAD = 0x3d; // '='
const CR = 0x0d;
const LF = 0x0a;
const INVALID = 0xff;

const DECODE_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(INVALID);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/**
 * Decodes a key written in standard padded base64 and checks its size. Throws
 * InvalidArgumentError for bad base64 (see `decodeStdBase64`) or a bad length.
 */
export function decodeKey(b64: string): Uint8Array {
  const key = decodeStdBase64(b64);
  Keyring.validateKey(key);
  return key;
}

/**
 * Decodes standard padded base64.
 *
 * Decoding follows Go 1.19's `base64.StdEncoding`, because Serf prints its error text. CR and LF
 * are skipped anywhere, padding is required, and bits left over in the last quantum are ignored.
 * An error reads `illegal base64 data at input byte N` with the offset Go reports, counted in
 * UTF-8 bytes. For `abc` that is 0, the start of the incomplete last quantum. The message never
 * contains the input text.
 */
export function decodeStdBase64(b64: string): Uint8Array {
  const src = new TextEncoder().encode(b64);
  const out = new Uint8Array(Math.floor(src.length / 4) * 3);
  let written = 0;
  let si = 0;

  while (si < src.length) {
    const quantum = [0, 0, 0, 0];
    // Number of 6-bit values collected in this quantum. When padding ends the quantum early, it
    // decodes to j - 1 bytes.
    let j = 0;
    let finished = false;

    while (j < 4) {
      if (si === src.length) {
        if (j === 0) break;
        // A padded encoding never ends inside a quantum. Go reports the quantum's first byte,
        // counting back only over data characters.
        throw base64Error(si - j);
      }
      const byte = src[si++]!;
      const value = DECODE_TABLE[byte]!;
      if (value !== INVALID) {
        quantum[j++] = value;
        continue;
      }
      if (byte === LF || byte === CR) continue;
      if (byte !== PAD) throw base64Error(si - 1);

      // Padding: only allowed after two or three data characters.
      if (j < 2) throw base64Error(si - 1);
      if (j === 2) {
        si = skipNewlines(src, si);
        if (si === src.length) throw base64Error(src.length);
        if (src[si] !== PAD) throw base64Error(si - 1);
        si++;
      }
      si = skipNewlines(src, si);
      if (si < src.length) throw base64Error(si);
      finished = true;
      break;
    }

    let bytesInQuantum = 0;
    if (finished) {
      bytesInQuantum = j - 1;
    } else if (j === 4) {
      bytesInQuantum = 3;
    }
    const bits = (quantum[0]! << 18) | (quantum[1]! << 12) | (quantum[2]! << 6) | quantum[3]!;
    if (bytesInQuantum >= 1) out[written++] = (bits >> 16) & 0xff;
    if (bytesInQuantum >= 2) out[written++] = (bits >> 8) & 0xff;
    if (bytesInQuantum >= 3) out[written++] = bits & 0xff;
  }

  return out.slice(0, written);
}

/** Encodes a key as standard padded base64, the form `serf keygen` prints and keyring files hold. */
export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

function skipNewlines(src: Uint8Array, si: number): number {
  while (si < src.length && (src[si] === LF || src[si] === CR)) si++;
  return si;
}

function base64Error(offset: number): InvalidArgumentError {
  return new InvalidArgumentError(`illegal base64 data at input byte ${offset}`);
}
