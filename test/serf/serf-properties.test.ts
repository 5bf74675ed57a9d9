// Property tests: peer bytes of any shape make the decoders throw DecodeError and nothing else,
// generated messages survive an encode/decode round trip, and the two Go regexp back ends agree.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileGoRegexp, matchesFilters, matchGoRegexp } from '../../src/serf/filters.js';
import {
  type ConflictMember,
  decodeConflictResponse,
  decodeFilter,
  decodeKeyRequest,
  decodeKeyResponse,
  decodeSerfMessage,
  encodeConflictResponse,
  encodeKeyRequest,
  encodeKeyResponse,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type KeyResponse,
  type SerfMessage,
} from '../../src/serf/messages.js';
import { decodeTags } from '../../src/serf/tags.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, loadVectors } from '../helpers/vectors.js';

const decoders: [string, (buf: Uint8Array) => unknown][] = [
  ['decodeSerfMessage', decodeSerfMessage],
  ['decodeKeyRequest', decodeKeyRequest],
  ['decodeKeyResponse', decodeKeyResponse],
  ['decodeConflictResponse', decodeConflictResponse],
  ['decodeFilter', decodeFilter],
];

/** Calls `decode` and fails the property unless it returns or throws a DecodeError. */
function decodesOrRejects(decode: (buf: Uint8Array) => unknown, buf: Uint8Array): void {
  try {
    decode(buf);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
  }
}

/** Real messages to mutate: the user states of three streams and the Serf messages of 80 datagrams. */
function seedMessages(): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  for (const entry of loadVectors('stream').entries.slice(0, 3)) {
    for (const chunk of entry.sequence) {
      if (chunk.decoded?.user_state_hex) seeds.push(hex(chunk.decoded.user_state_hex));
    }
  }
  const walk = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
    } else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if (record.serf !== undefined && typeof record.hex === 'string')
        seeds.push(hex(record.hex).subarray(1));
      for (const value of Object.values(record)) walk(value);
    }
  };
  walk(loadVectors('gossip-plain').entries.slice(0, 80));
  seeds.push(hex('0781a34b6579a0'), hex('068ba441646472a47f000001'), hex('0182a445787072a22e2aa3546167a161'));
  return seeds;
}

/** fc.record with ordinary prototypes, because strict deepEqual distinguishes null-prototype objects. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const mutation = record({
  seedIndex: fc.nat(),
  edits: fc.array(
    record({
      kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate'),
      at: fc.nat(),
      byte: fc.nat(255),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

function mutate(seed: Uint8Array, edits: { kind: string; at: number; byte: number }[]): Uint8Array {
  let bytes = [...seed];
  for (const edit of edits) {
    const at = bytes.length === 0 ? 0 : edit.at % bytes.length;
    if (edit.kind === 'flip') bytes[at] = edit.byte;
    else if (edit.kind === 'insert') bytes.splice(at, 0, edit.byte);
    else if (edit.kind === 'delete') bytes.splice(at, 1);
    else bytes = bytes.slice(0, at);
  }
  return new Uint8Array(bytes);
}

describe('decoders on hostile bytes', () => {
  for (const [name, decode] of decoders) {
    test(`${name} on random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 80 }), (buf) => decodesOrRejects(decode, buf)),
        { numRuns: 3000 },
      );
    });

    test(`${name} on typed random bodies`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 11 }), fc.uint8Array({ maxLength: 60 }), (type, body) => {
          const buf = new Uint8Array(body.length + 1);
          buf[0] = type;
          buf.set(body, 1);
          decodesOrRejects(decode, buf);
        }),
        { numRuns: 3000 },
      );
    });
  }

  test('mutated captures only raise DecodeError', () => {
    const seeds = seedMessages();
    assert.ok(seeds.length > 20, `only ${seeds.length} seed messages`);
    fc.assert(
      fc.property(mutation, ({ seedIndex, edits }) => {
        const buf = mutate(seeds[seedIndex % seeds.length]!, edits);
        for (const [, decode] of decoders) decodesOrRejects(decode, buf);
        decodeTags(buf);
        assert.equal(typeof matchesFilters([buf], { name: 'n1', tags: { role: 'web' } }), 'boolean');
      }),
      { numRuns: 3000 },
    );
  });

  test('matchesFilters never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 3 }), (filters) => {
        assert.equal(typeof matchesFilters(filters, { name: 'n1', tags: {} }), 'boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const bytes = fc.uint8Array({ maxLength: 40 });
const optionalBytes = fc.option(bytes, { nil: null });
const ltime = fc.maxSafeNat();
const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const port = fc.integer({ min: 0, max: 0xffff });
const ip = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const stringMap = <T>(value: fc.Arbitrary<T>) =>
  fc
    .uniqueArray(fc.tuple(text, value), { selector: (entry) => entry[0], maxLength: 6 })
    .map((entries) => new Map(entries));

const serfMessage: fc.Arbitrary<SerfMessage> = fc.oneof(
  record({ type: fc.constant('join' as const), body: record({ ltime, node: text }) }),
  record({
    type: fc.constant('leave' as const),
    body: record({ ltime, node: text, prune: fc.boolean() }),
  }),
  record({
    type: fc.constant('userEvent' as const),
    body: record({ ltime, name: text, payload: optionalBytes, cc: fc.boolean() }),
  }),
  record({
    type: fc.constant('query' as const),
    body: record({
      ltime,
      id: uint32,
      addr: ip,
      port,
      sourceNode: text,
      filters: fc.option(fc.array(bytes, { maxLength: 4 }), { nil: null }),
      flags: uint32,
      relayFactor: fc.integer({ min: 0, max: 255 }),
      timeoutNs: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      name: text,
      payload: optionalBytes,
    }),
  }),
  record({
    type: fc.constant('queryResponse' as const),
    body: record({ ltime, id: uint32, from: text, flags: uint32, payload: optionalBytes }),
  }),
  record({
    type: fc.constant('pushPull' as const),
    body: record({
      ltime,
      statusLTimes: stringMap(ltime),
      leftMembers: fc.array(text, { maxLength: 4 }),
      eventLTime: ltime,
      events: fc.array(
        fc.option(
          record({
            ltime,
            events: fc.array(record({ name: text, payload: optionalBytes }), { maxLength: 3 }),
          }),
          { nil: null },
        ),
        { maxLength: 20 },
      ),
      queryLTime: ltime,
    }),
  }),
  record({
    type: fc.constant('relay' as const),
    header: record({ destAddr: record({ ip, port, zone: text }), destName: text }),
    inner: bytes,
  }),
);

describe('round trips of generated messages', () => {
  test('Serf messages', () => {
    fc.assert(
      fc.property(serfMessage, (msg) => {
        const encoded = encodeSerfMessage(msg);
        const decoded = decodeSerfMessage(encoded);
        assert.deepEqual(decoded, msg);
        assert.deepEqual(encodeSerfMessage(decoded), encoded);
      }),
      { numRuns: 1000 },
    );
  });

  test('key requests', () => {
    fc.assert(
      fc.property(optionalBytes, (key) => {
        assert.deepEqual(decodeKeyRequest(encodeKeyRequest({ key })), { key });
      }),
    );
  });

  test('key responses', () => {
    const response: fc.Arbitrary<KeyResponse> = record({
      result: fc.boolean(),
      message: text,
      keys: fc.option(fc.array(text, { maxLength: 5 }), { nil: null }),
      primaryKey: text,
    });
    fc.assert(
      fc.property(response, (r) => {
        assert.deepEqual(decodeKeyResponse(encodeKeyResponse(r)), r);
      }),
    );
  });

  test('conflict responses', () => {
    const version = fc.integer({ min: 0, max: 255 });
    const member: fc.Arbitrary<ConflictMember> = record({
      name: text,
      addr: ip,
      port,
      tags: stringMap(text),
      status: fc.integer({ min: 0, max: 4 }),
      protocolMin: version,
      protocolMax: version,
      protocolCur: version,
      delegateMin: version,
      delegateMax: version,
      delegateCur: version,
    });
    fc.assert(
      fc.property(fc.option(member, { nil: null }), (m) => {
        assert.deepEqual(decodeConflictResponse(encodeConflictResponse(m)), m);
      }),
    );
  });

  test('filters', () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), text, text, (names, tag, expr) => {
        assert.deepEqual(decodeFilter(encodeNodeFilter(names)), { type: 'node', names });
        assert.deepEqual(decodeFilter(encodeTagFilter(tag, expr)), { type: 'tag', tag, expr });
      }),
    );
  });
});

describe('Go regexp back ends on generated expressions', () => {
  const regexpPiece = fc.constantFrom(
    'a',
    'b',
    'A',
    '.',
    '*',
    '+',
    '?',
    '|',
    '(',
    ')',
    '[',
    ']',
    '^',
    '$',
    '{',
    '}',
    '{2}',
    '{1,3}',
    '-',
    ':',
    '\\',
    '\\d',
    '\\s',
    '\\S',
    '\\w',
    '\\b',
    '\\Q',
    '\\E',
    '\\pL',
    '\\p{Greek}',
    '[:alpha:]',
    '(?i)',
    '(?s:',
    '(?P<n>',
    '(?<',
    'é',
    'K',
    '\u212a',
    '\\x{41}',
    '\\0',
    '\\1',
    '\n',
  );
  const expression = fc.array(regexpPiece, { maxLength: 10 }).map((pieces) => pieces.join(''));
  const subject = fc
    .array(fc.constantFrom('a', 'b', 'A', 'B', ' ', '\n', 'é', 'k', 'α', '-', '1'), { maxLength: 8 })
    .map((chars) => chars.join(''));

  test('only InvalidArgumentError is thrown', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), subject, (expr, value) => {
        for (const run of [() => compileGoRegexp(expr).test(value), () => matchGoRegexp(expr, value)]) {
          try {
            run();
          } catch (err) {
            if (!(err instanceof InvalidArgumentError)) throw err;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('RegExp and linear matcher agree', () => {
    fc.assert(
      fc.property(expression, subject, (expr, value) => {
        let linear: boolean | undefined;
        try {
          linear = matchGoRegexp(expr, value);
        } catch (err) {
          if (!(err instanceof InvalidArgumentError)) throw err;
        }
        let regexp: RegExp | undefined;
        try {
          regexp = compileGoRegexp(expr);
        } catch (err) {
          if (!(err instanceof InvalidArgumentError)) throw err;
        }
        if (linear === undefined) {
          assert.equal(regexp, undefined, `only the RegExp back end accepts ${JSON.stringify(expr)}`);
        } else if (regexp !== undefined) {
          assert.equal(regexp.test(value), linear, `${JSON.stringify(expr)} on ${JSON.stringify(value)}`);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
