import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeMessage,
  decodePushPullBody,
  encodeGossip,
  encodeMessage,
  encodePushPull,
  IncompleteInputError,
  type Message,
  type PushNodeState,
  type PushPull,
} from '../../src/codec/index.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

const seqNo = fc.integer({ min: 0, max: 0xffff_ffff });
const incarnation = seqNo;
const port = fc.integer({ min: 0, max: 0xffff });
const name = fc.string({ unit: 'grapheme', maxLength: 70 });
const addr = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const optionalBytes = fc.option(fc.uint8Array({ maxLength: 600 }), { nil: null });

/** The omitempty Source* fields: absent, or present with a non-empty value. */
const sourceFields = {
  sourceAddr: addr,
  sourcePort: fc.integer({ min: 1, max: 0xffff }),
  sourceNode: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
};

/** fast-check records may have a null prototype, which assert.deepEqual distinguishes from `{}`. */
const plain = { noNullPrototype: true } as const;

const message: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record({ seqNo, node: name, ...sourceFields }, { requiredKeys: ['seqNo', 'node'], ...plain })
    .map((body) => ({ type: 'ping' as const, body })),
  fc
    .record(
      { seqNo, target: addr, port, node: name, nack: fc.boolean(), ...sourceFields },
      { requiredKeys: ['seqNo', 'target', 'port', 'node', 'nack'], ...plain },
    )
    .map((body) => ({ type: 'indirectPing' as const, body })),
  fc.record({ seqNo, payload: optionalBytes }, plain).map((body) => ({ type: 'ack' as const, body })),
  fc.record({ seqNo }, plain).map((body) => ({ type: 'nack' as const, body })),
  fc
    .record({ incarnation, node: name, from: name }, plain)
    .map((body) => ({ type: 'suspect' as const, body })),
  fc.record({ incarnation, node: name, from: name }, plain).map((body) => ({ type: 'dead' as const, body })),
  fc
    .record({ incarnation, node: name, addr, port, meta: optionalBytes, vsn: optionalBytes }, plain)
    .map((body) => ({ type: 'alive' as const, body })),
  fc.record({ error: fc.string({ maxLength: 200 }) }, plain).map((body) => ({ type: 'err' as const, body })),
  fc.uint8Array({ maxLength: 1500 }).map((body) => ({ type: 'user' as const, body })),
);

const nodeState: fc.Arbitrary<PushNodeState> = fc.record(
  {
    name,
    addr,
    port,
    meta: optionalBytes,
    incarnation,
    state: fc.integer({ min: 0, max: 3 }),
    vsn: optionalBytes,
  },
  plain,
);

const pushPull: fc.Arbitrary<PushPull> = fc.record(
  {
    join: fc.boolean(),
    nodes: fc.array(nodeState, { maxLength: 20 }),
    userState: fc.option(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { nil: null }),
  },
  plain,
);

describe('message properties', () => {
  test('decodeMessage(encodeMessage(m)) == m for every type', () => {
    fc.assert(
      fc.property(message, (msg) => {
        assert.deepEqual(decodeMessage(encodeMessage(msg)), msg);
      }),
      { numRuns: 500 },
    );
  });

  test('push/pull round trip', () => {
    fc.assert(
      fc.property(pushPull, (pp) => {
        const encoded = encodePushPull(pp);
        assert.equal(encoded[0], 6);
        assert.deepEqual(decodePushPullBody(encoded, 1), pp);
      }),
      { numRuns: 200 },
    );
  });

  test('push/pull cut anywhere is an IncompleteInputError', () => {
    fc.assert(
      fc.property(pushPull, fc.nat(), (pp, cut) => {
        const encoded = encodePushPull(pp);
        const length = 1 + (cut % (encoded.length - 1));
        assert.throws(() => decodePushPullBody(encoded.subarray(0, length), 1), IncompleteInputError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('message encoding', () => {
  test('empty Source fields are left out of a ping', () => {
    const encoded = encodeMessage({
      type: 'ping',
      body: { seqNo: 1, node: '', sourceAddr: new Uint8Array(0), sourcePort: 0, sourceNode: '' },
    });
    assert.equal(toHex(encoded), '0082a44e6f6465a0a55365714e6f01');
  });

  test('user message is the raw bytes after type 8', () => {
    assert.equal(toHex(encodeMessage({ type: 'user', body: hex('0182') })), '080182');
    assert.deepEqual(decodeMessage(hex('08')), { type: 'user', body: new Uint8Array(0) });
  });

  test('an empty ack payload differs from a nil one', () => {
    assert.equal(
      toHex(encodeMessage({ type: 'ack', body: { seqNo: 1, payload: new Uint8Array(0) } })),
      '0282a75061796c6f6164a0a55365714e6f01',
    );
  });

  test('err message', () => {
    const encoded = encodeMessage({ type: 'err', body: { error: 'boom' } });
    assert.equal(toHex(encoded), '0d81a54572726f72a4626f6f6d');
  });

  test('unknown type names are rejected', () => {
    assert.throws(() => encodeMessage({ type: 'gossip' } as unknown as Message), InvalidArgumentError);
  });
});

describe('message decoding', () => {
  const body = (type: number, value: Parameters<typeof encodeGossip>[0]) =>
    new Uint8Array([type, ...encodeGossip(value)]);

  test('type bytes outside the nine body types are rejected by number', () => {
    for (const type of [6, 7, 9, 10, 12, 14, 200, 244]) {
      assert.throws(
        () => decodeMessage(new Uint8Array([type, 0x80])),
        new RegExp(`message type byte ${type} `),
      );
    }
    assert.throws(() => decodeMessage(new Uint8Array(0)), /empty message/);
  });

  test('missing fields take zero values and unknown keys are ignored', () => {
    assert.deepEqual(decodeMessage(body(0, { Extra: 'x' })), { type: 'ping', body: { seqNo: 0, node: '' } });
    assert.deepEqual(decodeMessage(body(2, {})), { type: 'ack', body: { seqNo: 0, payload: null } });
  });

  test('lenient forms: bool from 1, bin strings, Vsn as an array', () => {
    const decoded = decodeMessage(
      new Uint8Array([
        1,
        ...hex('85a44e61636b01a44e6f6465c40178a4506f727401a55365714e6f02a6546172676574c4047f000001'),
      ]),
    );
    assert.deepEqual(decoded, {
      type: 'indirectPing',
      body: { seqNo: 2, target: hex('7f000001'), port: 1, node: 'x', nack: true },
    });
    const alive = decodeMessage(body(4, { Addr: hex('7f000001'), Vsn: [1, 5, 2, 2, 5, 5] }));
    assert.equal(alive.type, 'alive');
    assert.deepEqual(alive.body, {
      incarnation: 0,
      node: '',
      addr: hex('7f000001'),
      port: 0,
      meta: null,
      vsn: hex('010502020505'),
    });
  });

  test('errors name the message and the field', () => {
    assert.throws(() => decodeMessage(body(0, { SeqNo: -1 })), /^DecodeError: ping: field "SeqNo"/);
    assert.throws(() => decodeMessage(body(0, { SeqNo: 2 ** 32 })), /ping: field "SeqNo"/);
    assert.throws(
      () => decodeMessage(body(1, { Port: 70000, Target: hex('7f000001') })),
      /indirectPing: field "Port"/,
    );
    assert.throws(
      () => decodeMessage(body(4, { Addr: hex('7f0000') })),
      /alive: field "Addr": expected a 4-byte or 16-byte/,
    );
    assert.throws(() => decodeMessage(body(0, { SourceAddr: hex('01') })), /ping: field "SourceAddr"/);
    assert.throws(() => decodeMessage(body(3, { Node: 5 })), /suspect: field "Node"/);
    assert.throws(() => decodeMessage(body(5, { Incarnation: 1.5 })), /dead: field "Incarnation"/);
    assert.throws(() => decodeMessage(body(2, [1])), /ack: body: expected a msgpack map/);
    assert.throws(() => decodeMessage(hex('0b')), IncompleteInputError);
  });

  test('bytes after the body are ignored', () => {
    assert.deepEqual(decodeMessage(hex('0b81a55365714e6f01ffff')), { type: 'nack', body: { seqNo: 1 } });
  });
});

describe('push/pull decoding', () => {
  const header = (value: Parameters<typeof encodeGossip>[0]) => new Uint8Array([6, ...encodeGossip(value)]);

  test('a node count beyond the bytes present fails before allocating', () => {
    const buf = header({ Join: false, Nodes: 0xffff_ffff, UserStateLen: 0 });
    assert.throws(() => decodePushPullBody(buf, 1), /announces 4294967295 node states/);
  });

  test('a user state length beyond the bytes present fails', () => {
    const buf = header({ Join: false, Nodes: 0, UserStateLen: 0xffff_ffff });
    assert.throws(() => decodePushPullBody(buf, 1), IncompleteInputError);
  });

  test('node state errors name the node index and field', () => {
    const state = { Addr: hex('7f000001'), Name: 'n', Port: -1 };
    const buf = new Uint8Array([
      ...header({ Join: false, Nodes: 1, UserStateLen: 0 }),
      ...encodeGossip(state),
    ]);
    assert.throws(() => decodePushPullBody(buf, 1), /pushPull: node state 0: field "Port"/);
  });

  test('a negative count is rejected', () => {
    assert.throws(() => decodePushPullBody(header({ Nodes: -1 }), 1), DecodeError);
  });

  test('bytes after the user state are ignored', () => {
    const encoded = encodePushPull({ join: true, nodes: [], userState: hex('0102') });
    const extended = new Uint8Array([...encoded, 0xee]);
    assert.deepEqual(decodePushPullBody(extended, 1), { join: true, nodes: [], userState: hex('0102') });
  });

  test('an empty user state is sent as length 0', () => {
    const encoded = encodePushPull({ join: false, nodes: [], userState: new Uint8Array(0) });
    assert.equal(toHex(encoded), '0683a44a6f696ec2a54e6f64657300ac5573657253746174654c656e00');
  });
});
