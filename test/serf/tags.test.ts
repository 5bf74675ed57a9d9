// Tags in node metadata: encoding, the protocol 2 role fallback, the 512-byte limit, and decoding
// of hostile metadata.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { checkTagsSize, decodeTags, encodeTags, TAGS_MAX_SIZE } from '../../src/serf/tags.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('encodeTags', () => {
  test('empty tags are ff 80', () => {
    assert.equal(toHex(encodeTags({})), 'ff80');
    assert.equal(toHex(encodeTags(new Map())), 'ff80');
  });

  test('role=web matches the spec', () => {
    assert.equal(toHex(encodeTags({ role: 'web' })), 'ff81a4726f6c65a3776562');
  });

  test('Map keeps insertion order', () => {
    const tags = new Map([
      ['z', '1'],
      ['a', '2'],
    ]);
    assert.equal(toHex(encodeTags(tags)), 'ff82a17aa131a161a132');
  });

  test('non-string value is rejected', () => {
    const tags = { role: 5 } as unknown as Record<string, string>;
    assert.throws(() => encodeTags(tags), InvalidArgumentError);
  });

  test('long values use str16', () => {
    const value = 'x'.repeat(40);
    assert.equal(toHex(encodeTags({ k: value })), `ff81a16bda0028${'78'.repeat(40)}`);
  });
});

describe('decodeTags', () => {
  test('round trips a tag set', () => {
    const tags = { role: 'web', dc: 'eu-west', ünïcode: '✓' };
    assert.deepEqual(decodeTags(encodeTags(tags)), tags);
  });

  test('ff 80 is no tags', () => {
    assert.deepEqual(decodeTags(hex('ff80')), {});
  });

  test('empty meta is an empty role', () => {
    assert.deepEqual(decodeTags(new Uint8Array(0)), { role: '' });
  });

  test('bare meta is a protocol 2 role', () => {
    assert.deepEqual(decodeTags(utf8('web')), { role: 'web' });
  });

  test('nil map is no tags', () => {
    assert.deepEqual(decodeTags(hex('ffc0')), {});
  });

  test('lone ff is no tags', () => {
    assert.deepEqual(decodeTags(hex('ff')), {});
  });

  test('truncated map keeps decoded entries', () => {
    // Claims 2 entries; the second value is cut short.
    assert.deepEqual(decodeTags(hex('ff82a161a131a162a5')), { a: '1' });
  });

  test('non-string value stops decoding', () => {
    assert.deepEqual(decodeTags(hex('ff82a161a131a16201')), { a: '1' });
  });

  test('non-map after ff is no tags', () => {
    assert.deepEqual(decodeTags(hex('ff92a161a162')), {});
  });

  test('nil value is an empty string', () => {
    assert.deepEqual(decodeTags(hex('ff81a161c0')), { a: '' });
  });

  test('__proto__ tag is stored as data', () => {
    const tags = decodeTags(encodeTags(new Map([['__proto__', 'x']])));
    assert.equal(Object.getPrototypeOf(tags), Object.prototype);
    assert.ok(Object.hasOwn(tags, '__proto__'));
    assert.equal(Object.getOwnPropertyDescriptor(tags, '__proto__')?.value, 'x');
    assert.deepEqual(Object.keys(tags), ['__proto__']);
  });

  test('huge map count does not throw', () => {
    assert.deepEqual(decodeTags(hex('ffdfffffffffa161a131')), { a: '1' });
  });

  test('hostile meta never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (body) => {
        const meta = new Uint8Array(body.length + 1);
        meta[0] = 0xff;
        meta.set(body, 1);
        const tags = decodeTags(meta);
        assert.equal(typeof tags, 'object');
        for (const value of Object.values(tags)) assert.equal(typeof value, 'string');
      }),
      { numRuns: 2000 },
    );
  });

  test('arbitrary tags round trip', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ unit: 'grapheme', maxLength: 12 }),
          fc.string({ unit: 'grapheme', maxLength: 20 }),
        ),
        (tags) => {
          assert.deepEqual(decodeTags(encodeTags(tags)), { ...tags });
        },
      ),
    );
  });
});

describe('checkTagsSize', () => {
  test('512 bytes is accepted', () => {
    // ff 81 a1 6b da 01f9 + 505 bytes = 512
    const encoded = encodeTags({ k: 'v'.repeat(505) });
    assert.equal(encoded.length, TAGS_MAX_SIZE);
    assert.doesNotThrow(() => checkTagsSize(encoded));
  });

  test('513 bytes is rejected with the Go text', () => {
    const encoded = encodeTags({ k: 'v'.repeat(506) });
    assert.equal(encoded.length, TAGS_MAX_SIZE + 1);
    assert.throws(
      () => checkTagsSize(encoded),
      (err: Error) =>
        err instanceof InvalidArgumentError &&
        err.message === 'Encoded length of tags exceeds limit of 512 bytes',
    );
  });
});
