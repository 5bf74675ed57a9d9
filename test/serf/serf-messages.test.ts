// Byte-exact checks of Serf messages against the examples of the Serf wire sheet (several of them
// captured from reference agents), plus decoding edge cases and encoder range checks.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FilterType, QueryFlag, SerfMessageType, serfMessageTypeName } from '../../src/serf/message-types.js';
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
  type SerfMessage,
} from '../../src/serf/messages.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { hex, toHex } from '../helpers/vectors.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

const QUERY_HEX =
  '048ba441646472a47f000001' +
  'a746696c7465727392a80092a27531a27532b00182a445787072a22e2aa3546167a161' +
  'a5466c61677301a24944ce1092f781a54c54696d6501a44e616d65a27131' +
  'a75061796c6f6164a8717061796c6f6164a4506f7274cd6d2aab52656c6179466163746f7201' +
  'aa536f757263654e6f6465a27531a754696d656f7574ce3b9aca00';

const RELAY_INNER_HEX = '0585a5466c61677301a446726f6da27531a24944ce1092f781a54c54696d6501a75061796c6f6164c0';
const RELAY_HEX =
  '0982a84465737441646472' +
  '83a24950a47f000001a4506f7274cd6d2aa45a6f6e65a0' +
  'a8446573744e616d65a27531' +
  RELAY_INNER_HEX;

const vectors: { name: string; hex: string; msg: SerfMessage }[] = [
  {
    name: 'leave intent',
    hex: '0083a54c54696d6502a44e6f6465a27532a55072756e65c2',
    msg: { type: 'leave', body: { ltime: 2, node: 'u2', prune: false } },
  },
  {
    name: 'join intent',
    hex: '0182a54c54696d6501a44e6f6465a26e31',
    msg: { type: 'join', body: { ltime: 1, node: 'n1' } },
  },
  {
    name: 'user event',
    hex: '0384a24343c2a54c54696d6501a44e616d65a3657631a75061796c6f6164a87061796c6f616431',
    msg: { type: 'userEvent', body: { cc: false, ltime: 1, name: 'ev1', payload: utf8('payload1') } },
  },
  {
    name: 'query with filters',
    hex: QUERY_HEX,
    msg: {
      type: 'query',
      body: {
        ltime: 1,
        id: 0x1092f781,
        addr: hex('7f000001'),
        port: 27946,
        sourceNode: 'u1',
        filters: [hex('0092a27531a27532'), hex('0182a445787072a22e2aa3546167a161')],
        flags: QueryFlag.ack,
        relayFactor: 1,
        timeoutNs: 1_000_000_000,
        name: 'q1',
        payload: utf8('qpayload'),
      },
    },
  },
  {
    name: 'query ack',
    hex: '0585a5466c61677301a446726f6da26e32a24944cd3039a54c54696d6503a75061796c6f6164c0',
    msg: {
      type: 'queryResponse',
      body: { ltime: 3, id: 12345, from: 'n2', flags: QueryFlag.ack, payload: null },
    },
  },
  {
    name: 'relayed ack',
    hex: RELAY_HEX,
    msg: {
      type: 'relay',
      header: { destAddr: { ip: hex('7f000001'), port: 27946, zone: '' }, destName: 'u1' },
      inner: hex(RELAY_INNER_HEX),
    },
  },
];

describe('Serf message spec vectors', () => {
  for (const vector of vectors) {
    test(`${vector.name} encodes exactly`, () => {
      assert.equal(toHex(encodeSerfMessage(vector.msg)), vector.hex);
    });

    test(`${vector.name} decodes to its fields`, () => {
      assert.deepEqual(decodeSerfMessage(hex(vector.hex)), vector.msg);
    });
  }

  test('query is 143 bytes as a user message', () => {
    assert.equal(hex(QUERY_HEX).length + 1, 143);
  });

  test('relay inner message decodes as ack', () => {
    const relay = decodeSerfMessage(hex(RELAY_HEX));
    assert.equal(relay.type, 'relay');
    assert.deepEqual(decodeSerfMessage(relay.inner), {
      type: 'queryResponse',
      body: { ltime: 1, id: 0x1092f781, from: 'u1', flags: 1, payload: null },
    });
  });

  test('query filters from the example decode', () => {
    assert.deepEqual(decodeFilter(hex('0092a27531a27532')), { type: 'node', names: ['u1', 'u2'] });
    assert.deepEqual(decodeFilter(hex('0182a445787072a22e2aa3546167a161')), {
      type: 'tag',
      tag: 'a',
      expr: '.*',
    });
  });
});

describe('Serf message type tables', () => {
  test('type numbers match the protocol', () => {
    assert.deepEqual(SerfMessageType, {
      leave: 0,
      join: 1,
      pushPull: 2,
      userEvent: 3,
      query: 4,
      queryResponse: 5,
      conflictResponse: 6,
      keyRequest: 7,
      keyResponse: 8,
      relay: 9,
    });
    assert.deepEqual(QueryFlag, { ack: 1, noBroadcast: 2 });
    assert.deepEqual(FilterType, { node: 0, tag: 1 });
  });

  test('serfMessageTypeName maps bytes', () => {
    assert.equal(serfMessageTypeName(4), 'query');
    assert.equal(serfMessageTypeName(9), 'relay');
    assert.equal(serfMessageTypeName(10), undefined);
  });
});

describe('query filters', () => {
  test('node filter encodes exactly', () => {
    assert.equal(toHex(encodeNodeFilter(['n1', 'n2'])), '0092a26e31a26e32');
  });

  test('tag filter encodes exactly', () => {
    assert.equal(toHex(encodeTagFilter('role', 'web.*')), '0182a445787072a57765622e2aa3546167a4726f6c65');
  });

  test('empty node filter round trips', () => {
    assert.equal(toHex(encodeNodeFilter([])), '0090');
    assert.deepEqual(decodeFilter(hex('0090')), { type: 'node', names: [] });
  });

  test('unknown filter type is rejected', () => {
    assert.throws(
      () => decodeFilter(hex('0290')),
      (err: Error) => {
        assert.ok(err instanceof DecodeError);
        assert.match(err.message, /filter type byte 2/);
        return true;
      },
    );
  });

  test('empty filter is rejected', () => {
    assert.throws(() => decodeFilter(new Uint8Array(0)), DecodeError);
  });

  test('node filter of non-strings is rejected', () => {
    assert.throws(() => decodeFilter(hex('009101')), DecodeError);
  });
});

describe('key request and response payloads', () => {
  test('list-keys request is exact', () => {
    assert.equal(toHex(encodeKeyRequest({ key: new Uint8Array(0) })), '0781a34b6579a0');
    assert.deepEqual(decodeKeyRequest(hex('0781a34b6579a0')), { key: new Uint8Array(0) });
  });

  test('16-byte key request is exact', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f');
    const expected = '0781a34b6579b0000102030405060708090a0b0c0d0e0f';
    assert.equal(toHex(encodeKeyRequest({ key })), expected);
    assert.deepEqual(decodeKeyRequest(hex(expected)), { key });
  });

  test('null key encodes as nil', () => {
    assert.equal(toHex(encodeKeyRequest({ key: null })), '0781a34b6579c0');
    assert.deepEqual(decodeKeyRequest(hex('0781a34b6579c0')), { key: null });
  });

  test('keyring-empty response is exact', () => {
    const message = 'Keyring is empty (encryption not enabled)';
    const expected =
      '0884a44b657973c0a74d657373616765da0029' +
      toHex(utf8(message)) +
      'aa5072696d6172794b6579a0a6526573756c74c2';
    const response = { result: false, message, keys: null, primaryKey: '' };
    assert.equal(toHex(encodeKeyResponse(response)), expected);
    assert.deepEqual(decodeKeyResponse(hex(expected)), response);
  });

  test('list response keeps key order', () => {
    const response = { result: true, message: '', keys: ['b', 'a'], primaryKey: 'b' };
    const decoded = decodeKeyResponse(encodeKeyResponse(response));
    assert.deepEqual(decoded, response);
  });

  test('wrong payload type is rejected', () => {
    assert.throws(() => decodeKeyRequest(hex('0881a34b6579a0')), /expected 7 \(keyRequest\)/);
    assert.throws(() => decodeKeyResponse(hex('0781a34b6579a0')), /expected 8 \(keyResponse\)/);
    assert.throws(() => decodeKeyRequest(new Uint8Array(0)), DecodeError);
  });
});

describe('conflict response payload', () => {
  const member: ConflictMember = {
    name: 'n1',
    addr: hex('7f000001'),
    port: 7946,
    tags: new Map([['role', 'web']]),
    status: 1,
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  };
  const memberHex =
    '068ba441646472a47f000001ab44656c656761746543757205ab44656c65676174654d617805' +
    'ab44656c65676174654d696e02a44e616d65a26e31a4506f7274cd1f0aab50726f746f636f6c43757202' +
    'ab50726f746f636f6c4d617805ab50726f746f636f6c4d696e01a653746174757301a45461677381a4726f6c65a3776562';

  test('member encodes with sorted keys', () => {
    assert.equal(toHex(encodeConflictResponse(member)), memberHex);
  });

  test('member decodes to its fields', () => {
    assert.deepEqual(decodeConflictResponse(hex(memberHex)), member);
  });

  test('unknown member is nil', () => {
    assert.equal(toHex(encodeConflictResponse(null)), '06c0');
    assert.equal(decodeConflictResponse(hex('06c0')), null);
  });

  test('wrong payload type is rejected', () => {
    assert.throws(() => decodeConflictResponse(hex('05c0')), DecodeError);
  });
});

describe('Serf message decoding errors', () => {
  test('empty buffer is rejected', () => {
    assert.throws(() => decodeSerfMessage(new Uint8Array(0)), DecodeError);
  });

  test('unknown type byte is named', () => {
    assert.throws(
      () => decodeSerfMessage(hex('0a80')),
      (err: Error) => {
        assert.ok(err instanceof DecodeError);
        assert.match(err.message, /type byte 10/);
        return true;
      },
    );
  });

  test('payload-only types are rejected', () => {
    for (const byte of ['06', '07', '08']) {
      assert.throws(() => decodeSerfMessage(hex(`${byte}80`)), /only valid inside a query/);
    }
  });

  test('Lamport time above 2^53 - 1 is rejected', () => {
    // LTime = 2^53 as uint64 (cf 0020000000000000).
    const join = hex('0182a54c54696d65cf0020000000000000a44e6f6465a26e31');
    assert.throws(
      () => decodeSerfMessage(join),
      (err: Error) => {
        assert.ok(err instanceof DecodeError);
        assert.match(err.message, /LTime/);
        return true;
      },
    );
  });

  test('largest safe Lamport time decodes', () => {
    const join = hex('0182a54c54696d65cf001fffffffffffffa44e6f6465a26e31');
    assert.deepEqual(decodeSerfMessage(join), {
      type: 'join',
      body: { ltime: Number.MAX_SAFE_INTEGER, node: 'n1' },
    });
  });

  test('body that is not a map is rejected', () => {
    assert.throws(() => decodeSerfMessage(hex('0190')), DecodeError);
  });

  test('truncated body is rejected', () => {
    assert.throws(() => decodeSerfMessage(hex('0182a54c54696d')), DecodeError);
  });

  test('wrong field kind is rejected', () => {
    // Node is an integer.
    assert.throws(() => decodeSerfMessage(hex('0182a54c54696d6501a44e6f646501')), /Node/);
  });

  test('missing fields decode as zero values', () => {
    assert.deepEqual(decodeSerfMessage(hex('0380')), {
      type: 'userEvent',
      body: { ltime: 0, name: '', payload: null, cc: false },
    });
  });

  test('trailing bytes are ignored', () => {
    assert.deepEqual(decodeSerfMessage(hex('0182a54c54696d6501a44e6f6465a26e31ffff')), {
      type: 'join',
      body: { ltime: 1, node: 'n1' },
    });
  });

  test('relay with nothing after the header', () => {
    const header =
      '0982a84465737441646472' +
      '83a24950a47f000001a4506f7274cd6d2aa45a6f6e65a0' +
      'a8446573744e616d65a27531';
    const relay = decodeSerfMessage(hex(header));
    assert.equal(relay.type, 'relay');
    assert.deepEqual(relay.inner, new Uint8Array(0));
  });
});

describe('push/pull user state', () => {
  const state: SerfMessage = {
    type: 'pushPull',
    body: {
      ltime: 7,
      statusLTimes: new Map([
        ['zeta', 3],
        ['alpha', 1],
      ]),
      leftMembers: [],
      eventLTime: 2,
      events: [null, { ltime: 1, events: [{ name: 'deploy', payload: null }] }, null],
      queryLTime: 1,
    },
  };

  test('encodes exact bytes', () => {
    const expected =
      '0286aa4576656e744c54696d6502a64576656e747393c0' +
      '82a64576656e747391' +
      '82a44e616d65a66465706c6f79a75061796c6f6164c0' +
      'a54c54696d6501c0' +
      'a54c54696d6507ab4c6566744d656d6265727390aa51756572794c54696d6501' +
      'ac5374617475734c54696d657382a47a65746103a5616c70686101';
    assert.equal(toHex(encodeSerfMessage(state)), expected);
  });

  test('round trips with map order', () => {
    const decoded = decodeSerfMessage(encodeSerfMessage(state));
    assert.deepEqual(decoded, state);
    assert.equal(decoded.type, 'pushPull');
    assert.deepEqual([...decoded.body.statusLTimes.keys()], ['zeta', 'alpha']);
  });

  test('nil events and left members decode empty', () => {
    // {Events: nil, LeftMembers: nil, StatusLTimes: nil}
    const bytes = hex('0283a64576656e7473c0ab4c6566744d656d62657273c0ac5374617475734c54696d6573c0');
    assert.deepEqual(decodeSerfMessage(bytes), {
      type: 'pushPull',
      body: { ltime: 0, statusLTimes: new Map(), leftMembers: [], eventLTime: 0, events: [], queryLTime: 0 },
    });
  });

  test('non-string status key is rejected', () => {
    // StatusLTimes = {1: 1}
    assert.throws(() => decodeSerfMessage(hex('0281ac5374617475734c54696d6573810101')), DecodeError);
  });
});

describe('Serf message encoder range checks', () => {
  const query = (decodeSerfMessage(hex(QUERY_HEX)) as Extract<SerfMessage, { type: 'query' }>).body;

  test('query ID above uint32 is rejected', () => {
    assert.throws(
      () => encodeSerfMessage({ type: 'query', body: { ...query, id: 2 ** 32 } }),
      (err: Error) => err instanceof InvalidArgumentError && /ID/.test(err.message),
    );
  });

  test('relay factor above uint8 is rejected', () => {
    assert.throws(
      () => encodeSerfMessage({ type: 'query', body: { ...query, relayFactor: 256 } }),
      /RelayFactor/,
    );
  });

  test('negative Lamport time is rejected', () => {
    assert.throws(
      () => encodeSerfMessage({ type: 'join', body: { ltime: -1, node: 'n1' } }),
      InvalidArgumentError,
    );
  });

  test('null filters encode as nil', () => {
    const bytes = encodeSerfMessage({ type: 'query', body: { ...query, filters: null } });
    assert.ok(toHex(bytes).includes('a746696c74657273c0'));
    const decoded = decodeSerfMessage(bytes);
    assert.equal(decoded.type, 'query');
    assert.equal(decoded.body.filters, null);
  });

  test('timeout of 3.2 s is a uint32', () => {
    const bytes = encodeSerfMessage({ type: 'query', body: { ...query, timeoutNs: 3_200_000_000 } });
    assert.ok(toHex(bytes).endsWith('a754696d656f7574cebebc2000'));
  });
});
