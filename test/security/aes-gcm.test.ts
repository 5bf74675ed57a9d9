import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decryptPayload,
  decryptStreamFrame,
  ENCRYPTION_OVERHEAD,
  ENCRYPTION_OVERHEAD_MAX,
  type EncryptionVersion,
  encryptedLength,
  encryptPayload,
  encryptStreamFrame,
  MAX_STREAM_FRAME,
  STREAM_FRAME_HEADER,
} from '../../src/security/index.js';
import { CryptoError, ErrorCode, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

function assertCrypto(fn: () => unknown, message?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryptoError, `expected CryptoError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.crypto);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

// Known-answer inputs: AES-128 key 00..0f, nonce 00..0b, and a 66-byte CRC-wrapped ping.
const katKey = hex('000102030405060708090a0b0c0d0e0f');
const katNonce = hex('000102030405060708090a0b');
const katPing = hex(
  '0c0b4bf6bd0085a44e6f6465a26e32a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a26e31aa536f75726365506f7274cd1f0a',
);
const katCiphertextPrefix =
  '9f67ec38db1b72f005bd05ef94cd42ade0436ba83cec57a58954834e7105c608f700a4f7f4811db02f817b84a5c7b8f6a93d7ac1aed4590e5c2d1782c53e6229';
const katV1 = hex(`01 000102030405060708090a0b ${katCiphertextPrefix} 8504b1ba7ad0b1bb92274af7028f25230d5b`);
const katV0 = hex(
  `00 000102030405060708090a0b ${katCiphertextPrefix} 8504fb405142c4102d3e7f5172340655f3b7324e0a98042fd088314c370e6965`,
);
const katStreamBody = hex('0082a44e6f6465a26e32a55365714e6f01');
const katStreamFrame = hex(
  '0a 0000002e 01 000102030405060708090a0b 93ee0380097f92f625e0c4d953d23e67b201a9ba1b98675ee95121f5b6df96e619',
);

describe('known-answer vectors', () => {
  it('version 1 packet', () => {
    const sealed = encryptPayload(1, katKey, katPing, undefined, katNonce);
    assert.equal(sealed.length, 95);
    assert.equal(toHex(sealed), toHex(katV1));
    assert.deepEqual(decryptPayload([katKey], katV1), katPing);
  });

  it('version 0 packet', () => {
    const sealed = encryptPayload(0, katKey, katPing, undefined, katNonce);
    assert.equal(sealed.length, 109);
    assert.equal(toHex(sealed), toHex(katV0));
    assert.deepEqual(decryptPayload([katKey], katV0), katPing);
  });

  it('stream frame', () => {
    const frame = encryptStreamFrame(katKey, katStreamBody, 1, katNonce);
    assert.equal(toHex(frame), toHex(katStreamFrame));
    const header = katStreamFrame.subarray(0, STREAM_FRAME_HEADER);
    const payload = katStreamFrame.subarray(STREAM_FRAME_HEADER);
    assert.deepEqual(decryptStreamFrame([katKey], header, payload), katStreamBody);
  });

  it('stream frame needs the header as AAD', () => {
    const payload = katStreamFrame.subarray(STREAM_FRAME_HEADER);
    assertCrypto(() => decryptPayload([katKey], payload), 'No installed keys could decrypt the message');
  });

  it('empty and zero-length AAD agree', () => {
    const a = encryptPayload(1, katKey, katPing, new Uint8Array(0), katNonce);
    assert.equal(toHex(a), toHex(katV1));
  });
});

describe('sizes', () => {
  it('overhead constants', () => {
    assert.equal(ENCRYPTION_OVERHEAD, 29);
    assert.equal(ENCRYPTION_OVERHEAD_MAX, 45);
    assert.equal(STREAM_FRAME_HEADER, 5);
    assert.equal(MAX_STREAM_FRAME, 20_971_520);
  });

  it('encryptedLength per version', () => {
    assert.equal(encryptedLength(1, 0), 29);
    assert.equal(encryptedLength(1, 66), 95);
    assert.equal(encryptedLength(0, 0), 45);
    assert.equal(encryptedLength(0, 15), 45);
    assert.equal(encryptedLength(0, 16), 61);
    assert.equal(encryptedLength(0, 66), 109);
  });
});

describe('round trip', () => {
  for (const version of [0, 1] as EncryptionVersion[]) {
    for (const keySize of [16, 24, 32]) {
      it(`version ${version} key ${keySize} lengths 0..64`, () => {
        const key = Uint8Array.from({ length: keySize }, (_, i) => i * 7 + keySize);
        for (let length = 0; length <= 64; length++) {
          const plain = Uint8Array.from({ length }, (_, i) => (i * 13 + length) & 0xff);
          const sealed = encryptPayload(version, key, plain);
          assert.equal(sealed.length, encryptedLength(version, length));
          assert.equal(sealed[0], version);
          assert.deepEqual(decryptPayload([key], sealed), plain);

          const aad = Uint8Array.of(1, 2, 3, length);
          const withAad = encryptPayload(version, key, plain, aad);
          assert.deepEqual(decryptPayload([key], withAad, aad), plain);
          assertCrypto(() => decryptPayload([key], withAad));
        }
      });
    }
  }

  it('fresh nonce per payload', () => {
    const plain = new Uint8Array(8);
    const a = encryptPayload(1, katKey, plain);
    const b = encryptPayload(1, katKey, plain);
    assert.notEqual(toHex(a.subarray(1, 13)), toHex(b.subarray(1, 13)));
  });

  it('stream frame round trip for both versions', () => {
    for (const version of [0, 1] as EncryptionVersion[]) {
      const body = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
      const frame = encryptStreamFrame(katKey, body, version);
      assert.equal(frame[0], 0x0a);
      assert.equal(new DataView(frame.buffer).getUint32(1), frame.length - STREAM_FRAME_HEADER);
      assert.equal(frame[STREAM_FRAME_HEADER], version);
      const out = decryptStreamFrame([katKey], frame.subarray(0, 5), frame.subarray(5));
      assert.deepEqual(out, body);
    }
  });
});

describe('tampering', () => {
  for (const version of [0, 1] as EncryptionVersion[]) {
    it(`any flipped byte after the version fails, version ${version}`, () => {
      const key = new Uint8Array(32).fill(9);
      const sealed = encryptPayload(version, key, katPing);
      for (let i = 1; i < sealed.length; i++) {
        for (const mask of [0x01, 0x80]) {
          const copy = Uint8Array.from(sealed);
          copy[i] = copy[i]! ^ mask;
          assertCrypto(() => decryptPayload([key], copy));
        }
      }
    });
  }

  it('unknown version byte fails', () => {
    const sealed = encryptPayload(1, katKey, katPing);
    for (let version = 2; version < 256; version++) {
      const copy = Uint8Array.from(sealed);
      copy[0] = version;
      assertCrypto(() => decryptPayload([katKey], copy), `Unsupported encryption version ${version}`);
    }
  });

  it('version byte is not authenticated', () => {
    // memberlist leaves the version byte outside the AAD, so switching 1 to 0 still opens and
    // only changes how padding is stripped: the ping's last byte 0x0a removes 10 bytes.
    const copy = Uint8Array.from(katV1);
    copy[0] = 0;
    assert.deepEqual(decryptPayload([katKey], copy), katPing.subarray(0, katPing.length - 10));
  });

  it('stream frame header change fails', () => {
    const frame = Uint8Array.from(katStreamFrame);
    frame[0] = 0x0b;
    assertCrypto(() => decryptStreamFrame([katKey], frame.subarray(0, 5), frame.subarray(5)));
    const header = Uint8Array.from(katStreamFrame.subarray(0, 5));
    header[4] = header[4]! + 1;
    assertCrypto(
      () => decryptStreamFrame([katKey], header, katStreamFrame.subarray(5)),
      'stream frame header announces 47 bytes but the payload has 46',
    );
  });

  it('oversized stream frame header fails', () => {
    const header = Uint8Array.of(0x0a, 0x01, 0x40, 0x00, 0x01);
    assertCrypto(
      () => decryptStreamFrame([katKey], header, new Uint8Array(64)),
      `stream frame announces ${MAX_STREAM_FRAME + 1} bytes, above the ${MAX_STREAM_FRAME}-byte limit`,
    );
  });
});

describe('decrypt errors', () => {
  it('empty payload', () => {
    assertCrypto(() => decryptPayload([katKey], new Uint8Array(0)), 'Cannot decrypt empty payload');
  });

  it('unsupported version', () => {
    assertCrypto(() => decryptPayload([katKey], Uint8Array.of(2, 0, 0)), 'Unsupported encryption version 2');
    assertCrypto(() => decryptPayload([katKey], Uint8Array.of(255)), 'Unsupported encryption version 255');
  });

  it('too small per version', () => {
    assertCrypto(
      () => decryptPayload([katKey], new Uint8Array(28).fill(1)),
      'Payload is too small to decrypt: 28',
    );
    assertCrypto(() => decryptPayload([katKey], new Uint8Array(44)), 'Payload is too small to decrypt: 44');
    assertCrypto(
      () => decryptPayload([katKey], new Uint8Array(29).fill(1)),
      'No installed keys could decrypt the message',
    );
  });

  it('wrong key and empty key list', () => {
    const other = new Uint8Array(16).fill(0x42);
    assertCrypto(() => decryptPayload([other], katV1), 'No installed keys could decrypt the message');
    assertCrypto(() => decryptPayload([], katV1), 'No installed keys could decrypt the message');
  });

  it('later key in the list decrypts', () => {
    const other = new Uint8Array(32).fill(0x42);
    assert.deepEqual(decryptPayload([other, new Uint8Array(5), katKey], katV1), katPing);
  });

  it('version 0 pad larger than plaintext', () => {
    // A sender holding the key can produce this; version 1 sealing lets the test pick every byte.
    const plain = new Uint8Array(16).fill(0x11);
    const sealed = encryptPayload(1, katKey, plain);
    sealed[0] = 0;
    // The version byte is not authenticated, so the payload opens and the padding check runs.
    assertCrypto(
      () => decryptPayload([katKey], sealed),
      'padding value 17 is larger than the 16-byte decrypted message',
    );
  });

  it('version 0 with pad value zero keeps everything', () => {
    const plain = new Uint8Array(16);
    const sealed = encryptPayload(1, katKey, plain);
    sealed[0] = 0;
    assert.deepEqual(decryptPayload([katKey], sealed), plain);
  });
});

describe('encrypt argument checks', () => {
  it('rejects bad key size, nonce size and version', () => {
    assert.throws(() => encryptPayload(1, new Uint8Array(10), katPing), InvalidArgumentError);
    assert.throws(
      () => encryptPayload(1, katKey, katPing, undefined, new Uint8Array(8)),
      InvalidArgumentError,
    );
    assert.throws(() => encryptPayload(2 as EncryptionVersion, katKey, katPing), InvalidArgumentError);
  });
});

describe('fuzz', () => {
  const keys = [katKey, new Uint8Array(32).fill(3)];

  it('decryptPayload throws only CryptoError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decryptPayload(keys, bytes);
          return false;
        } catch (err) {
          return err instanceof CryptoError;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('decryptPayload of version-prefixed bytes throws only CryptoError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1),
        fc.uint8Array({ minLength: 28, maxLength: 120 }),
        (version, rest) => {
          const bytes = Uint8Array.of(version, ...rest);
          try {
            decryptPayload(keys, bytes);
            return false;
          } catch (err) {
            return err instanceof CryptoError;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('decryptStreamFrame throws only CryptoError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 120 }), (header, payload) => {
        try {
          decryptStreamFrame(keys, header, payload);
          return false;
        } catch (err) {
          return err instanceof CryptoError;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('decryptStreamFrame with consistent header throws only CryptoError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (payload) => {
        const header = Uint8Array.of(0x0a, 0, 0, 0, 0);
        new DataView(header.buffer).setUint32(1, payload.length);
        try {
          decryptStreamFrame(keys, header, payload);
          return false;
        } catch (err) {
          return err instanceof CryptoError;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
