// Every Serf message captured from reference agents (gossiped user messages, push/pull user state,
// and the key-request and key-response payloads of the `_serf_*-key` queries) decodes to the
// capture tool's own decode and re-encodes to the captured bytes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeFilter,
  decodeKeyRequest,
  decodeKeyResponse,
  decodeSerfMessage,
  encodeKeyRequest,
  encodeKeyResponse,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type KeyRequest,
  type KeyResponse,
  type SerfMessage,
} from '../../src/serf/messages.js';
import { hex, loadVectors, toHex } from '../helpers/vectors.js';

// biome-ignore lint/suspicious/noExplicitAny: capture JSON is read field by field.
type Json = any;

interface SerfLeaf {
  entryId: string;
  path: string;
  hex: string;
  serf: Json;
}

/** Collects every leaf of the decode trees that carries a Serf message. */
function serfLeaves(family: 'gossip-plain' | 'gossip-encrypted'): SerfLeaf[] {
  const leaves: SerfLeaf[] = [];
  const walk = (node: Json, entryId: string) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, entryId);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (node.serf !== undefined && typeof node.hex === 'string') {
      leaves.push({ entryId, path: node.path, hex: node.hex, serf: node.serf });
    }
    for (const [key, value] of Object.entries(node)) {
      if (key !== 'serf') walk(value, entryId);
    }
  };
  for (const entry of loadVectors(family).entries) walk(entry.messages, entry.id);
  return leaves;
}

/**
 * Rewrites a capture decode into plain JSON: byte fields (`{hex, text, mp}`) become their hex
 * text, and the tool's convenience fields (`*_decoded`) are dropped.
 */
function normalizeCapture(value: Json): Json {
  if (Array.isArray(value)) return value.map(normalizeCapture);
  if (value === null || typeof value !== 'object') return value;
  if (typeof value.hex === 'string') return value.hex;
  const out: Record<string, Json> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!key.endsWith('_decoded')) out[key] = normalizeCapture(item);
  }
  return out;
}

const bytesHex = (bytes: Uint8Array | null) => (bytes === null ? null : toHex(bytes));

/** Our decoded message in the capture's shape (Go field names, bytes as hex). */
function captureForm(msg: SerfMessage): Json {
  switch (msg.type) {
    case 'join':
      return { LTime: msg.body.ltime, Node: msg.body.node };
    case 'leave':
      return { LTime: msg.body.ltime, Node: msg.body.node, Prune: msg.body.prune };
    case 'userEvent':
      return {
        CC: msg.body.cc,
        LTime: msg.body.ltime,
        Name: msg.body.name,
        Payload: bytesHex(msg.body.payload),
      };
    case 'query':
      return {
        Addr: toHex(msg.body.addr),
        Filters: msg.body.filters === null ? null : msg.body.filters.map(toHex),
        Flags: msg.body.flags,
        ID: msg.body.id,
        LTime: msg.body.ltime,
        Name: msg.body.name,
        Payload: bytesHex(msg.body.payload),
        Port: msg.body.port,
        RelayFactor: msg.body.relayFactor,
        SourceNode: msg.body.sourceNode,
        Timeout: msg.body.timeoutNs,
      };
    case 'queryResponse':
      return {
        Flags: msg.body.flags,
        From: msg.body.from,
        ID: msg.body.id,
        LTime: msg.body.ltime,
        Payload: bytesHex(msg.body.payload),
      };
    case 'pushPull':
      return {
        EventLTime: msg.body.eventLTime,
        Events: msg.body.events.map((slot) =>
          slot === null
            ? null
            : {
                Events: slot.events.map((event) => ({ Name: event.name, Payload: bytesHex(event.payload) })),
                LTime: slot.ltime,
              },
        ),
        LTime: msg.body.ltime,
        LeftMembers: msg.body.leftMembers,
        QueryLTime: msg.body.queryLTime,
        StatusLTimes: Object.fromEntries(msg.body.statusLTimes),
      };
    case 'relay':
      return {
        DestAddr: {
          IP: toHex(msg.header.destAddr.ip),
          Port: msg.header.destAddr.port,
          Zone: msg.header.destAddr.zone,
        },
        DestName: msg.header.destName,
      };
  }
}

const keyRequestForm = (req: KeyRequest) => ({ Key: bytesHex(req.key) });
const keyResponseForm = (res: KeyResponse) => ({
  Keys: res.keys,
  Message: res.message,
  PrimaryKey: res.primaryKey,
  Result: res.result,
});

/** Checks one captured query filter against its capture decode; returns 1 for counting. */
function checkFilter(raw: Uint8Array, captured: Json): number {
  const filter = decodeFilter(raw);
  if (filter.type === 'node') {
    assert.equal(captured.filter_type, 'node');
    assert.deepEqual(filter.names, captured.value);
    assert.equal(toHex(encodeNodeFilter(filter.names)), toHex(raw));
  } else {
    assert.equal(captured.filter_type, 'tag');
    assert.deepEqual({ Expr: filter.expr, Tag: filter.tag }, captured.value);
    assert.equal(toHex(encodeTagFilter(filter.tag, filter.expr)), toHex(raw));
  }
  return 1;
}

/** Checks a key-query payload, when the capture decoded one; returns 1 when it did. */
function checkKeyPayload(payload: Uint8Array | null, decoded: Json): number {
  if (payload === null || decoded === undefined) return 0;
  if (decoded.serf_type === 7) {
    const req = decodeKeyRequest(payload);
    assert.deepEqual(keyRequestForm(req), normalizeCapture(decoded.body));
    assert.equal(toHex(encodeKeyRequest(req)), toHex(payload));
    return 1;
  }
  if (decoded.serf_type === 8) {
    const res = decodeKeyResponse(payload);
    assert.deepEqual(keyResponseForm(res), normalizeCapture(decoded.body));
    assert.equal(toHex(encodeKeyResponse(res)), toHex(payload));
    return 1;
  }
  return 0;
}

for (const family of ['gossip-plain', 'gossip-encrypted'] as const) {
  describe(`captured ${family} Serf messages`, () => {
    const leaves = serfLeaves(family);

    test('capture holds Serf messages', () => {
      assert.ok(leaves.length >= 50, `only ${leaves.length} Serf messages found in ${family}`);
    });

    test('each decodes and re-encodes exactly', () => {
      const seen = new Map<string, number>();
      for (const leaf of leaves) {
        const where = `${leaf.entryId} ${leaf.path}`;
        const bytes = hex(leaf.hex);
        assert.equal(bytes[0], 8, `${where}: leaf is not a memberlist user message`);
        const serfBytes = bytes.subarray(1);
        const msg = decodeSerfMessage(serfBytes);
        assert.equal(msg.type, leaf.serf.serf_type_name, where);
        seen.set(msg.type, (seen.get(msg.type) ?? 0) + 1);

        if (msg.type === 'relay') {
          assert.deepEqual(captureForm(msg), normalizeCapture(leaf.serf.relay_header), where);
          const inner = decodeSerfMessage(msg.inner);
          assert.equal(inner.type, leaf.serf.inner.serf_type_name, where);
          assert.deepEqual(captureForm(inner), normalizeCapture(leaf.serf.inner.body), where);
          assert.equal(toHex(encodeSerfMessage(inner)), toHex(msg.inner), where);
        } else {
          assert.deepEqual(captureForm(msg), normalizeCapture(leaf.serf.body), where);
        }
        assert.equal(toHex(encodeSerfMessage(msg)), toHex(serfBytes), where);
      }
      const expectedTypes =
        family === 'gossip-plain'
          ? ['join', 'leave', 'userEvent', 'query', 'queryResponse', 'relay']
          : ['join', 'leave', 'userEvent', 'query', 'queryResponse'];
      for (const type of expectedTypes)
        assert.ok((seen.get(type) ?? 0) > 0, `no ${type} message in ${family}`);
    });

    test('query filters match the capture decode', () => {
      let checked = 0;
      for (const leaf of leaves) {
        if (leaf.serf.serf_type_name !== 'query') continue;
        const msg = decodeSerfMessage(hex(leaf.hex).subarray(1));
        assert.equal(msg.type, 'query');
        const decodedFilters = leaf.serf.body.Filters_decoded;
        if (msg.body.filters === null || decodedFilters === undefined) continue;
        assert.equal(msg.body.filters.length, decodedFilters.length);
        msg.body.filters.forEach((raw, i) => {
          checked += checkFilter(raw, decodedFilters[i]);
        });
      }
      if (family === 'gossip-plain') assert.ok(checked > 0, 'no filtered query in the plain capture');
    });

    test('key query payloads decode and re-encode', () => {
      let requests = 0;
      let responses = 0;
      for (const leaf of leaves) {
        const name = leaf.serf.serf_type_name;
        if (name !== 'query' && name !== 'queryResponse') continue;
        const msg = decodeSerfMessage(hex(leaf.hex).subarray(1));
        assert.ok(msg.type === 'query' || msg.type === 'queryResponse');
        const count = checkKeyPayload(msg.body.payload, leaf.serf.body.Payload_decoded);
        if (msg.type === 'query') requests += count;
        else responses += count;
      }
      assert.ok(requests > 0, `no key request payload in ${family}`);
      assert.ok(responses > 0, `no key response payload in ${family}`);
    });
  });
}

describe('captured push/pull user state', () => {
  const states: { where: string; hex: string; decoded: Json }[] = [];
  for (const entry of loadVectors('stream').entries) {
    entry.sequence.forEach((chunk: Json, i: number) => {
      const decoded = chunk.decoded;
      if (decoded?.user_state_hex) {
        states.push({
          where: `${entry.id}[${i}]`,
          hex: decoded.user_state_hex,
          decoded: decoded.user_state_decoded,
        });
      }
    });
  }

  test('stream capture holds user states', () => {
    assert.ok(states.length >= 10, `only ${states.length} user states found`);
  });

  test('each decodes and re-encodes exactly', () => {
    let withEvents = 0;
    for (const state of states) {
      const bytes = hex(state.hex);
      const msg = decodeSerfMessage(bytes);
      assert.equal(msg.type, 'pushPull', state.where);
      assert.deepEqual(captureForm(msg), normalizeCapture(state.decoded.body), state.where);
      assert.equal(msg.body.events.length, 512, `${state.where}: Go sends all 512 event slots`);
      if (msg.body.events.some((slot) => slot !== null)) withEvents++;
      assert.equal(toHex(encodeSerfMessage(msg)), state.hex, state.where);
    }
    assert.ok(withEvents > 0, 'no user state carries events');
  });

  test('state with events has expected slots', () => {
    const state = states.find((s) => s.where === 'stream-plain-05[0]');
    assert.ok(state, 'stream-plain-05 is missing');
    const msg = decodeSerfMessage(hex(state.hex));
    assert.equal(msg.type, 'pushPull');
    assert.equal(msg.body.ltime, 3);
    assert.equal(msg.body.eventLTime, 4);
    assert.equal(msg.body.queryLTime, 4);
    assert.deepEqual(msg.body.leftMembers, []);
    assert.deepEqual(
      [...msg.body.statusLTimes],
      [
        ['node-a', 2],
        ['node-b', 1],
        ['node-c', 0],
      ],
    );
    assert.deepEqual(msg.body.events[3], { ltime: 3, events: [{ name: 'noop', payload: null }] });
    assert.deepEqual(msg.body.events[1], {
      ltime: 1,
      events: [{ name: 'deploy', payload: new TextEncoder().encode('build-1234') }],
    });
  });
});
