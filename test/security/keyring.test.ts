import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { decodeKey, encodeKey, Keyring } from '../../src/security/index.js';
import { decodeStdBase64 } from '../../src/security/keyring.js';
import { ErrorCode, InvalidArgumentError } from '../../src/util/errors.js';

function key(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed * 31 + i) & 0xff);
}

const k1 = key(32, 1);
const k2 = key(32, 2);
const k3 = key(16, 3);
const k4 = key(24, 4);

function assertInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.invalidArgument);
    assert.equal(err.message, message);
    return true;
  });
}

describe('Keyring create', () => {
  it('starts empty without arguments', () => {
    const ring = new Keyring();
    assert.equal(ring.size, 0);
    assert.equal(ring.getPrimaryKey(), undefined);
    assert.deepEqual(ring.getKeys(), []);
  });

  it('starts empty with empty keys and no primary', () => {
    assert.equal(new Keyring([]).size, 0);
  });

  it('puts primary first then others in order', () => {
    const ring = new Keyring([k2, k3, k4], k1);
    assert.deepEqual(ring.getKeys(), [k1, k2, k3, k4]);
    assert.deepEqual(ring.getPrimaryKey(), k1);
  });

  it('skips duplicates including the primary', () => {
    const ring = new Keyring([k2, k1, k2, k3], k1);
    assert.deepEqual(ring.getKeys(), [k1, k2, k3]);
  });

  it('requires a primary when keys are given', () => {
    assertInvalid(() => new Keyring([k1]), 'Empty primary key not allowed');
  });

  it('rejects an empty primary', () => {
    assertInvalid(() => new Keyring([k1], new Uint8Array(0)), 'Empty primary key not allowed');
    assertInvalid(() => new Keyring(undefined, new Uint8Array(0)), 'Empty primary key not allowed');
  });

  it('accepts a primary alone', () => {
    const ring = new Keyring(undefined, k3);
    assert.deepEqual(ring.getKeys(), [k3]);
  });

  it('rejects bad sizes among the keys', () => {
    assertInvalid(() => new Keyring([key(15, 9)], k1), 'key size must be 16, 24 or 32 bytes');
    assertInvalid(() => new Keyring([], key(33, 9)), 'key size must be 16, 24 or 32 bytes');
  });
});

describe('Keyring validateKey', () => {
  for (const size of [16, 24, 32]) {
    it(`accepts ${size} bytes`, () => {
      assert.doesNotThrow(() => Keyring.validateKey(new Uint8Array(size)));
    });
  }
  for (const size of [0, 1, 8, 15, 17, 20, 23, 25, 31, 33, 64]) {
    it(`rejects ${size} bytes`, () => {
      assertInvalid(() => Keyring.validateKey(new Uint8Array(size)), 'key size must be 16, 24 or 32 bytes');
    });
  }
});

describe('Keyring operations', () => {
  it('add appends and ignores duplicates', () => {
    const ring = new Keyring([], k1);
    ring.addKey(k2);
    ring.addKey(k3);
    ring.addKey(k2);
    ring.addKey(Uint8Array.from(k1));
    assert.deepEqual(ring.getKeys(), [k1, k2, k3]);
    assert.equal(ring.size, 3);
  });

  it('add to an empty ring sets the primary', () => {
    const ring = new Keyring();
    ring.addKey(k4);
    ring.addKey(k1);
    assert.deepEqual(ring.getPrimaryKey(), k4);
    assert.deepEqual(ring.getKeys(), [k4, k1]);
  });

  it('add rejects bad sizes and keeps the ring', () => {
    const ring = new Keyring([], k1);
    assertInvalid(() => ring.addKey(new Uint8Array(10)), 'key size must be 16, 24 or 32 bytes');
    assert.deepEqual(ring.getKeys(), [k1]);
  });

  it('use moves the key first, others keep order', () => {
    const ring = new Keyring([k2, k3, k4], k1);
    ring.useKey(k3);
    assert.deepEqual(ring.getKeys(), [k3, k1, k2, k4]);
    ring.useKey(k4);
    assert.deepEqual(ring.getKeys(), [k4, k3, k1, k2]);
    ring.useKey(k4);
    assert.deepEqual(ring.getKeys(), [k4, k3, k1, k2]);
  });

  it('use of a missing key fails', () => {
    const ring = new Keyring([k2], k1);
    assertInvalid(() => ring.useKey(k3), 'Requested key is not in the keyring');
    assert.deepEqual(ring.getKeys(), [k1, k2]);
    assertInvalid(() => new Keyring().useKey(k1), 'Requested key is not in the keyring');
  });

  it('remove drops a secondary, others keep order', () => {
    const ring = new Keyring([k2, k3, k4], k1);
    ring.removeKey(k3);
    assert.deepEqual(ring.getKeys(), [k1, k2, k4]);
  });

  it('remove of a missing key is silent', () => {
    const ring = new Keyring([k2], k1);
    ring.removeKey(k3);
    assert.deepEqual(ring.getKeys(), [k1, k2]);
  });

  it('remove of the primary fails', () => {
    const ring = new Keyring([k2], k1);
    assertInvalid(() => ring.removeKey(k1), 'Removing the primary key is not allowed');
    assert.deepEqual(ring.getKeys(), [k1, k2]);
  });

  it('rotation install use remove', () => {
    const ring = new Keyring(undefined, k1);
    ring.addKey(k2);
    assert.deepEqual(ring.getKeys(), [k1, k2]);
    assertInvalid(() => ring.removeKey(k1), 'Removing the primary key is not allowed');
    ring.useKey(k2);
    assert.deepEqual(ring.getKeys(), [k2, k1]);
    ring.removeKey(k1);
    assert.deepEqual(ring.getKeys(), [k2]);
  });

  it('keeps private copies of key bytes', () => {
    const mine = Uint8Array.from(k1);
    const ring = new Keyring([], mine);
    mine.fill(0);
    assert.deepEqual(ring.getPrimaryKey(), k1);

    const listed = ring.getKeys();
    listed[0]!.fill(0);
    const primary = ring.getPrimaryKey()!;
    primary.fill(0);
    assert.deepEqual(ring.getKeys(), [k1]);
  });

  it('never shows key bytes when printed', () => {
    const ring = new Keyring([k2], k1);
    const texts = [String(ring), inspect(ring), JSON.stringify(ring), `${ring}`];
    for (const text of texts) {
      assert.ok(text.includes('2 keys'), text);
      assert.ok(!text.includes(encodeKey(k1)), text);
      assert.ok(!text.includes(Buffer.from(k1).toString('hex')), text);
      assert.ok(!text.includes(String(k1[5])), text);
    }
  });
});

describe('decodeKey', () => {
  it('decodes keys of each size', () => {
    for (const k of [k1, k3, k4]) {
      const text = encodeKey(k);
      assert.deepEqual(decodeKey(text), k);
    }
  });

  it('encodes with std alphabet and padding', () => {
    assert.equal(encodeKey(new Uint8Array(32).fill(0xff)), `${'/'.repeat(42)}8=`);
    assert.equal(encodeKey(new Uint8Array(16).fill(0xfb)), '+/v7+/v7+/v7+/v7+/v7+w==');
    assert.equal(encodeKey(new Uint8Array(24)).length, 32);
    assert.equal(encodeKey(new Uint8Array(32)).length, 44);
  });

  it('reports abc at input byte 0', () => {
    assertInvalid(() => decodeKey('abc'), 'illegal base64 data at input byte 0');
  });

  it('rejects valid base64 of a bad size', () => {
    assertInvalid(() => decodeKey('abcd'), 'key size must be 16, 24 or 32 bytes');
    assertInvalid(() => decodeKey(''), 'key size must be 16, 24 or 32 bytes');
  });

  it('rejects url-safe and unpadded forms', () => {
    const text = 'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=';
    assert.equal(decodeKey(text).length, 32);
    assertInvalid(() => decodeKey(text.slice(0, -1)), 'illegal base64 data at input byte 40');
    assertInvalid(
      () => decodeKey(text.replaceAll('/', '_').replaceAll('+', '-')),
      'illegal base64 data at input byte 4',
    );
  });

  it('never puts key text in errors', () => {
    const keyText = encodeKey(k1);
    const broken = [
      keyText.slice(0, -1),
      `${keyText}A`,
      keyText.replace('=', '-'),
      `${keyText.slice(0, 20)}!`,
    ];
    for (const input of broken) {
      assert.throws(
        () => decodeKey(input),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError);
          assert.ok(!err.message.includes(input), err.message);
          assert.ok(!err.message.includes(keyText.slice(0, 8)), err.message);
          return true;
        },
      );
    }
  });
});

/**
 * Outputs of Go 1.19's `base64.StdEncoding.DecodeString` for these inputs, recorded by running
 * it. `hex` is the decoded value, `at` the byte offset in Go's "illegal base64 data" error.
 */
const goBase64Table: { input: string; hex?: string; at?: number }[] = [
  { input: 'abc', at: 0 },
  { input: '', hex: '' },
  { input: 'a', at: 0 },
  { input: 'ab', at: 0 },
  { input: 'abcd', hex: '69b71d' },
  { input: 'abc=', hex: '69b7' },
  { input: 'ab==', hex: '69' },
  { input: 'a===', at: 1 },
  { input: '====', at: 0 },
  { input: 'ab=c', at: 2 },
  { input: 'ab=', at: 3 },
  { input: 'abcde', at: 4 },
  { input: 'abcdef', at: 4 },
  { input: 'abcdefg', at: 4 },
  { input: 'AAAA-AAA', at: 4 },
  { input: 'AAAA_AAA', at: 4 },
  { input: 'AAAAAAA', at: 4 },
  { input: 'AAAA\nAAAA', hex: '000000000000' },
  { input: 'AA\n==', hex: '00' },
  { input: 'AA=\n=', hex: '00' },
  { input: 'AA==\n', hex: '00' },
  { input: 'AA==A', at: 4 },
  { input: 'AAA=\nA', at: 5 },
  { input: 'AAA=A', at: 4 },
  { input: 'AA=A', at: 2 },
  { input: 'A=AA', at: 1 },
  { input: '=AAA', at: 0 },
  { input: 'AAAA====', at: 4 },
  { input: 'ab\rcd', hex: '69b71d' },
  { input: 'abc\n', at: 1 },
  { input: '\nabc', at: 1 },
  { input: 'ab\n\n', at: 2 },
  { input: 'AB=\n', at: 4 },
  { input: 'AAAAAAAAAAAA AAA', at: 12 },
  { input: 'é', at: 0 },
  { input: 'AAAA é', at: 4 },
  { input: 'KMOlcksvyYLJo+dEV4smhg', at: 20 },
  { input: 'KMOlcksvyYLJo+dEV4smhg=', at: 23 },
  { input: 'AB==AB==', at: 4 },
  { input: 'AB==\r\n', hex: '00' },
  { input: 'AAB=', hex: '0000' },
  { input: 'AAC=', hex: '0000' },
];

describe('decodeStdBase64 matches Go', () => {
  for (const row of goBase64Table) {
    it(`input ${JSON.stringify(row.input)}`, () => {
      if (row.at === undefined) {
        assert.equal(Buffer.from(decodeStdBase64(row.input)).toString('hex'), row.hex);
      } else {
        assertInvalid(() => decodeStdBase64(row.input), `illegal base64 data at input byte ${row.at}`);
      }
    });
  }

  it('agrees with Buffer on canonical text', () => {
    for (let length = 0; length <= 40; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      const text = Buffer.from(bytes).toString('base64');
      assert.deepEqual(decodeStdBase64(text), bytes);
    }
  });
});
