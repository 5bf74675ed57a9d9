import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { bytesToIp, ipToBytes } from '../../src/codec/index.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

describe('ipToBytes', () => {
  const valid: [string, string][] = [
    ['127.0.0.1', '7f000001'],
    ['0.0.0.0', '00000000'],
    ['255.255.255.255', 'ffffffff'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['fe80::1', 'fe800000000000000000000000000001'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['2001:DB8::8:800:200C:417A', '20010db80000000000080800200c417a'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1::', '00010000000000000000000000000000'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::ffff:127.0.0.1', '00000000000000000000ffff7f000001'],
    ['::ffff:7f00:1', '00000000000000000000ffff7f000001'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
  ];
  for (const [text, expected] of valid) {
    test(`parses ${text}`, () => {
      assert.equal(toHex(ipToBytes(text)), expected);
    });
  }

  const invalid = [
    '',
    'localhost',
    'node-a.example',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.-4',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    ':1',
    '1:',
    '::1.2.3.4:5',
    '[::1]',
    '127.0.0.1:7946',
    ' 127.0.0.1',
  ];
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => ipToBytes(text), InvalidArgumentError);
    });
  }
});

/** 16 address bytes built from eight groups, half of them zero, so that zero runs are common. */
const ipv6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => {
    const bytes = new Uint8Array(16);
    groups.forEach((group, i) => {
      bytes[2 * i] = group >> 8;
      bytes[2 * i + 1] = group & 0xff;
    });
    return bytes;
  });

describe('bytesToIp', () => {
  const cases: [string, string][] = [
    ['7f000001', '127.0.0.1'],
    ['00000000000000000000ffff7f000001', '127.0.0.1'],
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db80000000000080800200c417a', '2001:db8::8:800:200c:417a'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['00010000000000000000000000000000', '1::'],
  ];
  for (const [bytes, expected] of cases) {
    test(`formats ${expected}`, () => {
      assert.equal(bytesToIp(hex(bytes)), expected);
    });
  }

  test('rejects lengths other than 4 and 16', () => {
    for (const length of [0, 1, 3, 5, 15, 17]) {
      assert.throws(() => bytesToIp(new Uint8Array(length)), DecodeError, `${length} bytes`);
    }
  });

  test('16-byte round trip through text', () => {
    fc.assert(
      fc.property(ipv6Bytes, (bytes) => {
        const text = bytesToIp(bytes);
        const back = ipToBytes(text);
        if (text.includes('.')) {
          assert.deepEqual(back, bytes.subarray(12));
        } else {
          // The WHATWG URL parser prints IPv6 hosts in the RFC 5952 form too.
          assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
          assert.deepEqual(back, bytes);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('4-byte round trip through text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        assert.deepEqual(ipToBytes(bytesToIp(bytes)), bytes);
      }),
    );
  });
});
