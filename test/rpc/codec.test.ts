// The RPC msgpack dialect and frame decoder against the bytes captured between the Go CLI and a Go
// agent: requests re-encode byte for byte, replies parse into the record types, and hostile input
// only ever raises DecodeError.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeRpc,
  decodeRpcAll,
  encodeRpc,
  encodeRpcFloats,
  parseCoordinateResponse,
  parseJoinResponse,
  parseKeyResponse,
  parseLogRecord,
  parseMembersResponse,
  parseQueryResultRecord,
  parseRequestHeader,
  parseResponseHeader,
  parseStatsResponse,
  parseStreamEventRecord,
  RpcCommand,
  RpcFrameDecoder,
  recordToMember,
} from '../../src/rpc/index.js';
import { DecodeError } from '../../src/util/errors.js';
import { hex, loadVectors, toHex } from '../helpers/vectors.js';

interface Chunk {
  dir: 'client->agent' | 'agent->client';
  hex: string;
  decoded: { hex: string; value: unknown }[];
}
interface Entry {
  id: string;
  connections: { sequence: Chunk[] }[];
}

const entries: Entry[] = loadVectors('rpc').entries;

/** Keys whose values are Go maps, written in random order by the Go side. */
const goMapKeys = new Set(['Tags', 'FilterTags', 'Messages', 'Keys']);

function hasUnorderedMap(value: unknown, parentIsStats = false): boolean {
  if (Array.isArray(value)) return value.some((item) => hasUnorderedMap(item));
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (parentIsStats && keys.length > 1) return true;
  return keys.some((key) => {
    const inner = record[key];
    if (goMapKeys.has(key) && inner !== null && typeof inner === 'object' && Object.keys(inner).length > 1) {
      return true;
    }
    return hasUnorderedMap(inner);
  });
}

function objectsOf(entry: Entry, dir: Chunk['dir']): Uint8Array[] {
  return entry.connections.flatMap((c) =>
    c.sequence.filter((chunk) => chunk.dir === dir).flatMap((chunk) => chunk.decoded.map((d) => hex(d.hex))),
  );
}

describe('rpc codec with captured requests', () => {
  test('every request re-encodes to the captured bytes', () => {
    let exact = 0;
    let unordered = 0;
    for (const entry of entries) {
      for (const bytes of objectsOf(entry, 'client->agent')) {
        const value = decodeRpc(bytes);
        const again = encodeRpc(value);
        if (hasUnorderedMap(value)) {
          unordered += 1;
          assert.deepEqual(decodeRpc(again), value, `${entry.id}: ${toHex(bytes)}`);
        } else {
          exact += 1;
          assert.equal(toHex(again), toHex(bytes), `${entry.id}: request bytes differ`);
        }
      }
    }
    assert.ok(exact > 100, `only ${exact} requests compared byte for byte`);
    assert.ok(unordered <= 2, `${unordered} requests hold multi-key maps`);
  });

  test('captured chunks split into the listed objects', () => {
    for (const entry of entries) {
      for (const connection of entry.connections) {
        for (const chunk of connection.sequence) {
          const objects = decodeRpcAll(hex(chunk.hex));
          assert.equal(objects.length, chunk.decoded.length, `${entry.id}: object count`);
        }
      }
    }
  });
});

/** Reply body parser for each command that has one. */
const bodyParsers: Record<string, (value: unknown) => unknown> = {
  [RpcCommand.join]: parseJoinResponse,
  [RpcCommand.members]: parseMembersResponse,
  [RpcCommand.membersFiltered]: parseMembersResponse,
  [RpcCommand.installKey]: parseKeyResponse,
  [RpcCommand.useKey]: parseKeyResponse,
  [RpcCommand.removeKey]: parseKeyResponse,
  [RpcCommand.listKeys]: parseKeyResponse,
  [RpcCommand.stats]: parseStatsResponse,
  [RpcCommand.getCoordinate]: parseCoordinateResponse,
};
const recordParsers: Record<string, (value: unknown) => unknown> = {
  [RpcCommand.stream]: parseStreamEventRecord,
  [RpcCommand.monitor]: parseLogRecord,
  [RpcCommand.query]: parseQueryResultRecord,
};

describe('rpc codec with captured replies', () => {
  test('every reply parses into the record types', () => {
    const counts = new Map<string, number>();
    for (const entry of entries) {
      for (const connection of entry.connections) {
        const commands = new Map<number, string>();
        const answered = new Set<number>();
        let header = { Command: '', Seq: 0 };
        const agentObjects: Uint8Array[] = [];
        for (const chunk of connection.sequence) {
          for (const d of chunk.decoded) {
            if (chunk.dir === 'agent->client') {
              agentObjects.push(hex(d.hex));
              continue;
            }
            const value = decodeRpc(hex(d.hex)) as Record<string, unknown>;
            if ('Command' in value) {
              header = parseRequestHeader(value, header);
              commands.set(header.Seq, header.Command);
            }
          }
        }
        for (let i = 0; i < agentObjects.length; i++) {
          const reply = parseResponseHeader(decodeRpc(agentObjects[i] as Uint8Array));
          const command = commands.get(reply.Seq);
          assert.ok(command !== undefined, `${entry.id}: reply for unknown Seq ${reply.Seq}`);
          const firstReply = !answered.has(reply.Seq);
          answered.add(reply.Seq);
          let parser: ((value: unknown) => unknown) | undefined;
          if (firstReply) {
            parser = reply.Error === 'Authentication required' ? undefined : bodyParsers[command];
          } else if (reply.Error === '') {
            parser = recordParsers[command];
          }
          if (parser === undefined) continue;
          i += 1;
          const body = decodeRpc(agentObjects[i] as Uint8Array);
          const parsed = parser(body);
          assert.ok(parsed !== undefined);
          counts.set(command, (counts.get(command) ?? 0) + 1);
        }
      }
    }
    for (const command of [
      'members-filtered',
      'join',
      'list-keys',
      'stats',
      'get-coordinate',
      'stream',
      'monitor',
      'query',
    ]) {
      assert.ok((counts.get(command) ?? 0) > 0, `no ${command} reply body parsed`);
    }
  });

  test('captured member record converts to a member', () => {
    const body = hex(
      objectsOf(entries.find((e) => e.id === 'rpc-plain-members-auth') as Entry, 'agent->client')
        .map((b) => toHex(b))
        .at(-1) as string,
    );
    const members = parseMembersResponse(decodeRpc(body)).Members.map(recordToMember);
    const nodeC = members.find((m) => m.name === 'node-c');
    assert.deepEqual(nodeC, {
      name: 'node-c',
      addr: '127.0.0.13',
      port: 21946,
      tags: { role: 'cache' },
      status: 'alive',
      protocolMin: 1,
      protocolMax: 5,
      protocolCur: 2,
      delegateMin: 2,
      delegateMax: 5,
      delegateCur: 5,
    });
  });

  test('agent replies re-encode to the captured bytes', () => {
    let exact = 0;
    for (const entry of entries) {
      for (const bytes of objectsOf(entry, 'agent->client')) {
        const value = decodeRpc(bytes);
        if (hasUnorderedMap(value, isStats(value))) continue;
        const isCoordinate = value !== null && typeof value === 'object' && 'Coord' in value;
        const again = isCoordinate ? encodeRpcFloats(value) : encodeRpc(value);
        assert.equal(toHex(again), toHex(bytes), `${entry.id}: reply bytes differ`);
        exact += 1;
      }
    }
    assert.ok(exact > 200, `only ${exact} replies compared`);
  });

  test('coordinate reply with no coordinate keeps float zeros', () => {
    const bytes = encodeRpcFloats({ Coord: { Adjustment: 0, Error: 0, Height: 0, Vec: null }, Ok: false });
    assert.equal(
      toHex(bytes),
      '82a5436f6f726484aa41646a7573746d656e74cb0000000000000000a54572726f72cb0000000000000000a6486569676874cb0000000000000000a3566563c0a24f6bc2',
    );
  });
});

function isStats(value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'runtime' in value;
}

describe('rpc frame decoder', () => {
  const stream = entries
    .flatMap((e) => e.connections.flatMap((c) => c.sequence.map((chunk) => chunk.hex)))
    .slice(0, 200)
    .join('');
  const whole = hex(stream);
  const expected = decodeRpcAll(whole);

  test('any chunking yields the same objects', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 50 }), (sizes) => {
        const decoder = new RpcFrameDecoder();
        const out: unknown[] = [];
        let offset = 0;
        let i = 0;
        while (offset < whole.length) {
          const size = sizes[i++ % sizes.length] as number;
          out.push(...decoder.push(whole.subarray(offset, offset + size)));
          offset += size;
        }
        assert.deepEqual(out, expected);
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: 50 },
    );
  });

  test('arbitrary bytes raise only DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 64 }), (bytes, step) => {
        const decoder = new RpcFrameDecoder({ maxObjectBytes: 4096, maxDepth: 8 });
        try {
          for (let offset = 0; offset < bytes.length; offset += step)
            decoder.push(bytes.subarray(offset, offset + step));
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated captured chunks raise only DecodeError', () => {
    const chunks = entries.flatMap((e) =>
      e.connections.flatMap((c) => c.sequence.map((chunk) => hex(chunk.hex))),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...chunks),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (chunk, mutations) => {
          const bytes = chunk.slice();
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          try {
            decodeRpcAll(bytes, { maxObjectBytes: 1 << 16 });
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('huge declared length fails at once', () => {
    const decoder = new RpcFrameDecoder({ maxObjectBytes: 1024 });
    assert.throws(() => decoder.push(Uint8Array.of(0xc6, 0x7f, 0xff, 0xff, 0xff)), DecodeError);
  });

  test('deep nesting fails', () => {
    const decoder = new RpcFrameDecoder({ maxDepth: 32 });
    assert.throws(() => decoder.push(new Uint8Array(40).fill(0x91)), /nests deeper than the limit of 32/);
  });

  test('unterminated object beyond the cap fails', () => {
    const decoder = new RpcFrameDecoder({ maxObjectBytes: 100 });
    assert.throws(
      () => decoder.push(Uint8Array.of(0xdc, 0xff, 0xff, ...new Array(120).fill(0x01))),
      DecodeError,
    );
  });

  test('ext types fail', () => {
    assert.throws(() => decodeRpc(Uint8Array.of(0xd4, 0x01, 0x00)), /unsupported msgpack type byte 0xd4/);
  });

  test('decoder is unusable after an error', () => {
    const decoder = new RpcFrameDecoder();
    assert.throws(() => decoder.push(Uint8Array.of(0xc1)), DecodeError);
    assert.throws(() => decoder.push(Uint8Array.of(0x01)), DecodeError);
  });

  test('strings of 32 bytes use str8 and bytes use bin', () => {
    assert.equal(toHex(encodeRpc('a'.repeat(32))).slice(0, 4), 'd920');
    assert.equal(toHex(encodeRpc(Uint8Array.of(1, 2))), 'c4020102');
    assert.equal(toHex(encodeRpc({ Seq: 1, Error: '' })), '82a54572726f72a0a353657101');
  });
});
