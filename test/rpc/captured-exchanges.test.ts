// Replays every RPC connection captured between the Go `serf` CLI (or the Go RPC client library)
// and a Go Serf 0.9.4 agent against RpcServer. Each replay loads a stub backend with the data of the
// captured replies (members, stats, keys, query results, coordinates, log lines, stream events) and
// sends the captured request bytes unchanged. Every object the server sends is then compared with
// the captured one. The checks cover msgpack types, struct key order, Go map key sets, Seq and Error
// values, the exact bytes of every header, and the exact bytes of every body once Go map entries
// are put in key order.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import type { BackendCoordinate, BackendKeyResult, BackendQueryReply } from '../../src/agent/rpc-backend.js';
import { RpcServer } from '../../src/agent/rpc-server.js';
import { bytesToIp } from '../../src/codec/ip.js';
import { concatFrames, decodeRpc, decodeRpcAll, encodeRpc } from '../../src/rpc/codec.js';
import type { Member, QueryEvent, SerfEvent } from '../../src/serf/events.js';
import { hex, loadVectors, toHex } from '../helpers/vectors.js';
import { waitFor } from '../helpers/wait.js';
import { StubBackend } from './stub-backend.js';

// ---------------------------------------------------------------------------------------------
// Vector file layout (rpc.json)

interface CapturedChunk {
  dir: 'client->agent' | 'agent->client';
  hex: string;
  decoded: { hex: string; value: unknown }[];
}

interface CapturedConnection {
  client: string;
  server: string;
  sequence: CapturedChunk[];
}

interface CapturedEntry {
  id: string;
  rpc_commands: string[];
  connections: CapturedConnection[];
}

interface ClusterNode {
  name: string;
  gossip_addr: string;
  rpc_addr: string;
  initial_tags: Record<string, string>;
}

const vectors = loadVectors('rpc');
const entries: CapturedEntry[] = vectors.entries;
const clusterNodes: ClusterNode[] = vectors.cluster.nodes;
const authToken: string = vectors.rpc_auth_token_of_node3;

/** Deadline for one object from the server, in ms. Query replies arrive a few ms apart. */
const READ_TIMEOUT_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Type-preserving msgpack parser. The project decoder returns JS values, which lose the difference
// between int and float, the width of each format and the key order of integer-like keys, so the
// comparison works on this tree instead.

type MsgKind = 'nil' | 'bool' | 'int' | 'float' | 'str' | 'bin' | 'array' | 'map';

interface MsgNode {
  kind: MsgKind;
  /** Format name from the msgpack specification, such as fixstr, str8, bin8, uint16 or float64. */
  format: string;
  /** The whole encoding of the value. */
  bytes: Uint8Array;
  /** The header of an array or map, or the whole encoding of a scalar. */
  head: Uint8Array;
  /** Decoded scalar, or undefined for arrays and maps. */
  value: null | boolean | number | bigint | string | Uint8Array | undefined;
  items: MsgNode[];
  /** Map entries in wire order. */
  entries: [MsgNode, MsgNode][];
}

/** Raised when the buffer ends inside an object, so the reader waits for more bytes. */
class TruncatedInput extends Error {}

function parseMsgpack(buf: Uint8Array, start: number): { node: MsgNode; end: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const need = (pos: number, count: number): void => {
    if (pos + count > buf.length) throw new TruncatedInput();
  };
  const readUint = (pos: number, width: number): number => {
    need(pos, width);
    if (width === 1) return view.getUint8(pos);
    if (width === 2) return view.getUint16(pos);
    return view.getUint32(pos);
  };

  const scalar = (
    kind: MsgKind,
    format: string,
    size: number,
    value: MsgNode['value'],
  ): { node: MsgNode; end: number } => {
    need(start, size);
    const bytes = buf.subarray(start, start + size);
    return { node: { kind, format, bytes, head: bytes, value, items: [], entries: [] }, end: start + size };
  };
  const text = (format: string, headerSize: number, length: number) => {
    need(start + headerSize, length);
    const body = buf.subarray(start + headerSize, start + headerSize + length);
    return scalar('str', format, headerSize + length, new TextDecoder('utf-8', { fatal: true }).decode(body));
  };
  const binary = (format: string, headerSize: number, length: number) => {
    need(start + headerSize, length);
    return scalar(
      'bin',
      format,
      headerSize + length,
      buf.slice(start + headerSize, start + headerSize + length),
    );
  };
  const container = (kind: 'array' | 'map', format: string, headerSize: number, count: number) => {
    need(start, headerSize);
    let pos = start + headerSize;
    const items: MsgNode[] = [];
    const mapEntries: [MsgNode, MsgNode][] = [];
    for (let i = 0; i < count; i++) {
      const first = parseMsgpack(buf, pos);
      pos = first.end;
      if (kind === 'map') {
        const second = parseMsgpack(buf, pos);
        pos = second.end;
        mapEntries.push([first.node, second.node]);
      } else {
        items.push(first.node);
      }
    }
    const node: MsgNode = {
      kind,
      format,
      bytes: buf.subarray(start, pos),
      head: buf.subarray(start, start + headerSize),
      value: undefined,
      items,
      entries: mapEntries,
    };
    return { node, end: pos };
  };

  need(start, 1);
  const b = view.getUint8(start);
  if (b <= 0x7f) return scalar('int', 'positive fixint', 1, b);
  if (b <= 0x8f) return container('map', 'fixmap', 1, b & 0x0f);
  if (b <= 0x9f) return container('array', 'fixarray', 1, b & 0x0f);
  if (b <= 0xbf) return text('fixstr', 1, b & 0x1f);
  if (b >= 0xe0) return scalar('int', 'negative fixint', 1, b - 0x100);
  switch (b) {
    case 0xc0:
      return scalar('nil', 'nil', 1, null);
    case 0xc2:
      return scalar('bool', 'false', 1, false);
    case 0xc3:
      return scalar('bool', 'true', 1, true);
    case 0xc4:
      return binary('bin8', 2, readUint(start + 1, 1));
    case 0xc5:
      return binary('bin16', 3, readUint(start + 1, 2));
    case 0xc6:
      return binary('bin32', 5, readUint(start + 1, 4));
    case 0xca:
      need(start, 5);
      return scalar('float', 'float32', 5, view.getFloat32(start + 1));
    case 0xcb:
      need(start, 9);
      return scalar('float', 'float64', 9, view.getFloat64(start + 1));
    case 0xcc:
      return scalar('int', 'uint8', 2, readUint(start + 1, 1));
    case 0xcd:
      return scalar('int', 'uint16', 3, readUint(start + 1, 2));
    case 0xce:
      return scalar('int', 'uint32', 5, readUint(start + 1, 4));
    case 0xcf:
      need(start, 9);
      return scalar('int', 'uint64', 9, view.getBigUint64(start + 1));
    case 0xd0:
      need(start, 2);
      return scalar('int', 'int8', 2, view.getInt8(start + 1));
    case 0xd1:
      need(start, 3);
      return scalar('int', 'int16', 3, view.getInt16(start + 1));
    case 0xd2:
      need(start, 5);
      return scalar('int', 'int32', 5, view.getInt32(start + 1));
    case 0xd3:
      need(start, 9);
      return scalar('int', 'int64', 9, view.getBigInt64(start + 1));
    case 0xd9:
      return text('str8', 2, readUint(start + 1, 1));
    case 0xda:
      return text('str16', 3, readUint(start + 1, 2));
    case 0xdb:
      return text('str32', 5, readUint(start + 1, 4));
    case 0xdc:
      return container('array', 'array16', 3, readUint(start + 1, 2));
    case 0xdd:
      return container('array', 'array32', 5, readUint(start + 1, 4));
    case 0xde:
      return container('map', 'map16', 3, readUint(start + 1, 2));
    case 0xdf:
      return container('map', 'map32', 5, readUint(start + 1, 4));
    default:
      throw new Error(`unsupported msgpack type byte 0x${b.toString(16)} at offset ${start}`);
  }
}

/** Parses a buffer that holds only complete objects. */
function parseAll(bytes: Uint8Array): MsgNode[] {
  const nodes: MsgNode[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const { node, end } = parseMsgpack(bytes, pos);
    nodes.push(node);
    pos = end;
  }
  return nodes;
}

function keyText(node: MsgNode): string {
  return typeof node.value === 'string' ? node.value : `<${node.format} ${toHex(node.bytes)}>`;
}

/** Renders a node as compact JSON-like text for failure messages, with formats of bytes shown. */
function describeNode(node: MsgNode): string {
  switch (node.kind) {
    case 'map':
      return `{${node.entries.map(([key, value]) => `${JSON.stringify(keyText(key))}: ${describeNode(value)}`).join(', ')}}`;
    case 'array':
      return `[${node.items.map(describeNode).join(', ')}]`;
    case 'bin':
      return `<${node.format} ${toHex(node.value as Uint8Array)}>`;
    case 'int':
    case 'float':
      return `${String(node.value)}:${node.format}`;
    default:
      return JSON.stringify(node.value);
  }
}

// ---------------------------------------------------------------------------------------------
// Shape comparison

/**
 * How a map is encoded by the Go agent: a struct has its field names in ascending order, a Go map
 * has its entries in random order, and the `stats` reply is a Go map of Go maps.
 */
type MapKind = 'struct' | 'go-map' | 'go-map-of-go-maps';

/** Struct fields whose value is a Go map (member tags, key-list counts and messages). */
const GO_MAP_FIELDS = new Set(['Tags', 'Keys', 'Messages', 'FilterTags']);

/** Struct fields compared by value, because they carry protocol state, not cluster state. */
const EXACT_VALUE_FIELDS = new Set(['Error', 'Seq', 'Event', 'Type', 'ID']);

function childMapKind(parent: MapKind, key: string): MapKind {
  if (parent === 'go-map-of-go-maps') return 'go-map';
  if (parent === 'struct' && GO_MAP_FIELDS.has(key)) return 'go-map';
  return 'struct';
}

/** Appends one line to `differences` for every place where the shapes of two values differ. */
function compareShape(
  captured: MsgNode,
  produced: MsgNode,
  path: string,
  mapKind: MapKind,
  differences: string[],
): void {
  if (captured.kind !== produced.kind) {
    differences.push(
      `${path}: captured ${captured.kind} (${captured.format}), produced ${produced.kind} (${produced.format})`,
    );
    return;
  }
  if (captured.kind === 'array') {
    if (captured.items.length !== produced.items.length) {
      differences.push(
        `${path}: captured ${captured.items.length} elements, produced ${produced.items.length}`,
      );
    }
    const shared = Math.min(captured.items.length, produced.items.length);
    for (let i = 0; i < shared; i++) {
      compareShape(
        captured.items[i] as MsgNode,
        produced.items[i] as MsgNode,
        `${path}[${i}]`,
        mapKind,
        differences,
      );
    }
    return;
  }
  if (captured.kind !== 'map') return;

  const capturedKeys = captured.entries.map(([key]) => keyText(key));
  const producedKeys = produced.entries.map(([key]) => keyText(key));
  const ordered = mapKind === 'struct';
  const capturedOrder = ordered ? capturedKeys : [...capturedKeys].sort();
  const producedOrder = ordered ? producedKeys : [...producedKeys].sort();
  if (JSON.stringify(capturedOrder) !== JSON.stringify(producedOrder)) {
    differences.push(
      `${path}: captured keys ${JSON.stringify(capturedKeys)}, produced keys ${JSON.stringify(producedKeys)}`,
    );
    return;
  }
  const producedByKey = new Map(produced.entries.map(([key, value]) => [keyText(key), value]));
  for (const [keyNode, capturedValue] of captured.entries) {
    const key = keyText(keyNode);
    const producedValue = producedByKey.get(key) as MsgNode;
    const childPath = `${path}.${key}`;
    if (mapKind === 'struct' && EXACT_VALUE_FIELDS.has(key) && capturedValue.kind !== 'map') {
      if (capturedValue.kind !== producedValue.kind || capturedValue.value !== producedValue.value) {
        differences.push(
          `${childPath}: captured ${describeNode(capturedValue)}, produced ${describeNode(producedValue)}`,
        );
      }
      continue;
    }
    compareShape(capturedValue, producedValue, childPath, childMapKind(mapKind, key), differences);
  }
}

/** Returns the encoding as hex with the entries of every Go map sorted by key. */
function canonicalHex(node: MsgNode, mapKind: MapKind): string {
  if (node.kind === 'array') {
    return toHex(node.head) + node.items.map((item) => canonicalHex(item, mapKind)).join('');
  }
  if (node.kind !== 'map') return toHex(node.bytes);
  const entries = node.entries.map(([key, value]) => ({
    sortKey: keyText(key),
    text: toHex(key.bytes) + canonicalHex(value, childMapKind(mapKind, keyText(key))),
  }));
  if (mapKind !== 'struct') entries.sort((a, b) => a.sortKey.localeCompare(b.sortKey));
  return toHex(node.head) + entries.map((entry) => entry.text).join('');
}

// ---------------------------------------------------------------------------------------------
// Captured exchange model

interface ResponseHeader {
  Error: string;
  Seq: number;
}

/** Returns the header fields when `node` is a response header `{Error, Seq}`. */
function responseHeader(node: MsgNode): ResponseHeader | undefined {
  if (node.kind !== 'map' || node.entries.length !== 2) return undefined;
  const [errorEntry, seqEntry] = node.entries as [[MsgNode, MsgNode], [MsgNode, MsgNode]];
  if (keyText(errorEntry[0]) !== 'Error' || keyText(seqEntry[0]) !== 'Seq') return undefined;
  return { Error: errorEntry[1].value as string, Seq: Number(seqEntry[1].value) };
}

interface CapturedRequest {
  command: string;
  seq: number;
  // biome-ignore lint/suspicious/noExplicitAny: request bodies are read field by field.
  body: any;
}

interface Turn {
  /** Bytes the client sent, exactly as captured. */
  clientBytes: Uint8Array;
  request: CapturedRequest;
  /** Objects the agent sent before the client's next chunk. */
  replies: MsgNode[];
}

/** A captured reply object and the Seq of the header that it is or follows. */
interface CapturedReply {
  node: MsgNode;
  header: ResponseHeader | undefined;
  /** The Seq of the header this object is or follows. */
  seq: number;
}

interface CapturedExchange {
  turns: Turn[];
  requestsBySeq: Map<number, CapturedRequest>;
  replies: CapturedReply[];
}

function parseRequest(chunk: CapturedChunk): CapturedRequest {
  const objects = decodeRpcAll(hex(chunk.hex));
  assert.ok(objects.length === 1 || objects.length === 2, `request chunk holds ${objects.length} objects`);
  const header = objects[0] as { Command: string; Seq: number };
  return { command: header.Command, seq: header.Seq, body: objects[1] };
}

function parseAgentChunk(chunk: CapturedChunk): MsgNode[] {
  const nodes = parseAll(hex(chunk.hex));
  // The vector's own per-object split must agree with this parser.
  assert.deepEqual(
    nodes.map((node) => toHex(node.bytes)),
    chunk.decoded.map((object) => object.hex.toLowerCase()),
  );
  return nodes;
}

function buildExchange(connection: CapturedConnection): CapturedExchange {
  const turns: Turn[] = [];
  const requestsBySeq = new Map<number, CapturedRequest>();
  for (const chunk of connection.sequence) {
    if (chunk.dir === 'client->agent') {
      const request = parseRequest(chunk);
      requestsBySeq.set(request.seq, request);
      turns.push({ clientBytes: hex(chunk.hex), request, replies: [] });
    } else {
      const turn = turns.at(-1);
      assert.ok(turn !== undefined, 'the agent sent data before any request');
      turn.replies.push(...parseAgentChunk(chunk));
    }
  }
  const replies: CapturedReply[] = [];
  let seq = 0;
  for (const node of turns.flatMap((turn) => turn.replies)) {
    const header = responseHeader(node);
    if (header !== undefined) seq = header.Seq;
    replies.push({ node, header, seq });
  }
  return { turns, requestsBySeq, replies };
}

/** Returns the value of a body reply object (a non-header object) as JS values. */
// biome-ignore lint/suspicious/noExplicitAny: reply bodies are read field by field.
function bodyValue(node: MsgNode): any {
  return decodeRpc(node.bytes);
}

/** Returns the first body that follows a header with `seq`, or undefined. */
function bodyFor(exchange: CapturedExchange, seq: number): MsgNode | undefined {
  return exchange.replies.find((reply) => reply.header === undefined && reply.seq === seq)?.node;
}

function headerFor(exchange: CapturedExchange, seq: number): ResponseHeader | undefined {
  return exchange.replies.find((reply) => reply.header?.Seq === seq)?.header;
}

/** True when the server replied "Authentication required" to the request, so it never ran. */
function blockedByAuth(exchange: CapturedExchange, request: CapturedRequest): boolean {
  return headerFor(exchange, request.seq)?.Error === 'Authentication required';
}

// ---------------------------------------------------------------------------------------------
// Stub backend loaded from the captured replies

interface MemberRecordValue {
  Addr: Uint8Array;
  DelegateCur: number;
  DelegateMax: number;
  DelegateMin: number;
  Name: string;
  Port: number;
  ProtocolCur: number;
  ProtocolMax: number;
  ProtocolMin: number;
  Status: Member['status'];
  Tags: Record<string, string>;
}

function memberFromRecord(record: MemberRecordValue): Member {
  return {
    name: record.Name,
    addr: bytesToIp(record.Addr),
    port: record.Port,
    tags: { ...record.Tags },
    status: record.Status,
    protocolMin: record.ProtocolMin,
    protocolMax: record.ProtocolMax,
    protocolCur: record.ProtocolCur,
    delegateMin: record.DelegateMin,
    delegateMax: record.DelegateMax,
    delegateCur: record.DelegateCur,
  };
}

/** StubBackend whose results come from the captured replies of one connection. */
class CapturedBackend extends StubBackend {
  statsReply: Record<string, Record<string, string>> = {};
  readonly coordinates = new Map<string, BackendCoordinate>();
  /** Key operation results by RPC command name. */
  readonly keyResults = new Map<string, BackendKeyResult>();
  joinResult: number | undefined;
  /** Error text by backend method, for commands whose captured reply carried an error. */
  readonly failures = new Map<string, string>();
  /** Responses sent through `respond` to the query events this backend emitted. */
  readonly queryResponses: { name: string; ltime: number; payload: Uint8Array }[] = [];

  override stats(): Record<string, Record<string, string>> {
    return this.statsReply;
  }

  override getCoordinate(node: string): BackendCoordinate | undefined {
    return this.coordinates.get(node);
  }

  override async join(addresses: string[], replay: boolean): Promise<number> {
    this.calls.push({ method: 'join', args: [addresses, replay] });
    this.#throwIfFailing('join');
    assert.ok(this.joinResult !== undefined, 'join was called but the capture has no join reply');
    return this.joinResult;
  }

  override async leave(): Promise<void> {
    await super.leave();
    this.#throwIfFailing('leave');
  }

  override async forceLeave(node: string, prune: boolean): Promise<void> {
    await super.forceLeave(node, prune);
    this.#throwIfFailing('forceLeave');
  }

  override async userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): Promise<void> {
    await super.userEvent(name, payload, coalesce);
    this.#throwIfFailing('userEvent');
  }

  override async setTags(set: Record<string, string>, remove: string[]): Promise<void> {
    await super.setTags(set, remove);
    this.#throwIfFailing('setTags');
  }

  override async installKey(key: string): Promise<BackendKeyResult> {
    return this.#keyOperation('install-key', 'installKey', key);
  }

  override async useKey(key: string): Promise<BackendKeyResult> {
    return this.#keyOperation('use-key', 'useKey', key);
  }

  override async removeKey(key: string): Promise<BackendKeyResult> {
    return this.#keyOperation('remove-key', 'removeKey', key);
  }

  override async listKeys(): Promise<BackendKeyResult> {
    return this.#keyOperation('list-keys', 'listKeys');
  }

  #keyOperation(command: string, method: string, ...args: string[]): BackendKeyResult {
    this.calls.push({ method, args });
    const result = this.keyResults.get(command);
    assert.ok(result !== undefined, `${command} was called but the capture has no ${command} reply`);
    return result;
  }

  #throwIfFailing(method: string): void {
    const failure = this.failures.get(method);
    if (failure !== undefined) throw new Error(failure);
  }

  /** Builds the event that makes the server send the captured stream record `record`. */
  // biome-ignore lint/suspicious/noExplicitAny: stream records are read field by field.
  eventFromRecord(record: any): SerfEvent {
    if (record.Event === 'user') {
      return {
        type: 'user',
        ltime: record.LTime,
        name: record.Name,
        payload: record.Payload ?? new Uint8Array(0),
        coalesce: record.Coalesce,
      };
    }
    if (record.Event === 'query') {
      const name: string = record.Name;
      const ltime: number = record.LTime;
      const query: QueryEvent = {
        type: 'query',
        ltime,
        name,
        payload: record.Payload ?? new Uint8Array(0),
        id: ltime,
        deadline: Number.MAX_SAFE_INTEGER,
        sourceNode: 'node-a',
        respond: async (payload) => {
          this.queryResponses.push({ name, ltime, payload });
        },
      };
      return query;
    }
    return { type: record.Event, members: (record.Members as MemberRecordValue[]).map(memberFromRecord) };
  }
}

const FAILING_METHODS: Record<string, string> = {
  event: 'userEvent',
  'force-leave': 'forceLeave',
  tags: 'setTags',
  leave: 'leave',
  join: 'join',
};

const KEY_COMMANDS = new Set(['install-key', 'use-key', 'remove-key', 'list-keys']);

function hasMemberFilter(body: {
  Name: string;
  Status: string;
  Tags: Record<string, string> | null;
}): boolean {
  return body.Name !== '' || body.Status !== '' || Object.keys(body.Tags ?? {}).length > 0;
}

/** Loads a backend with the data behind the captured replies of one connection. */
function buildBackend(
  entry: CapturedEntry,
  connection: CapturedConnection,
  exchange: CapturedExchange,
): CapturedBackend {
  const backend = new CapturedBackend();
  // Node 3 of the plain run was the only agent started with an RPC auth token.
  const node3 = clusterNodes[2] as ClusterNode;
  backend.authKey =
    entry.id.startsWith('rpc-plain-') && connection.server === node3.rpc_addr ? authToken : '';
  backend.members_ = [];
  backend.recentLogs.length = 0;
  backend.queryReplies = [];
  backend.queryReplyDelayMs = 1;

  for (const { request } of exchange.turns) {
    if (blockedByAuth(exchange, request)) continue;
    const header = headerFor(exchange, request.seq);
    const body = bodyFor(exchange, request.seq);
    const value = body === undefined ? undefined : bodyValue(body);
    const failing = FAILING_METHODS[request.command];
    if (failing !== undefined && header !== undefined && header.Error !== '') {
      backend.failures.set(failing, header.Error);
    }

    switch (request.command) {
      case 'members':
      case 'members-filtered': {
        backend.members_ = (value.Members as MemberRecordValue[]).map(memberFromRecord);
        if (request.command === 'members-filtered' && hasMemberFilter(request.body)) {
          // The captured reply lacks the members the filter removed. Add the other cluster nodes
          // so that the server's own filter has something to remove.
          for (const node of clusterNodes) {
            if (backend.members_.some((member) => member.name === node.name)) continue;
            const [host = '', port = '0'] = node.gossip_addr.split(':');
            backend.members_.push({
              ...memberFromRecord(value.Members[0]),
              name: node.name,
              addr: host,
              port: Number(port),
              tags: { ...node.initial_tags },
            });
          }
        }
        break;
      }
      case 'join':
        backend.joinResult = value.Num;
        break;
      case 'stats':
        backend.statsReply = value;
        break;
      case 'get-coordinate':
        // NOTE: every captured coordinate component is non-integral, so these replays cannot show
        // whether an integral float64 (such as 0) is still sent as float64 rather than as an int.
        if (value.Ok) {
          backend.coordinates.set(request.body.Node, {
            adjustment: value.Coord.Adjustment,
            error: value.Coord.Error,
            height: value.Coord.Height,
            vec: value.Coord.Vec,
          });
        }
        break;
      case 'query':
        backend.queryReplies = exchange.replies
          .filter((reply) => reply.header === undefined && reply.seq === request.seq)
          .map((reply) => bodyValue(reply.node))
          .filter((record) => record.Type !== 'done')
          .map(
            (record): BackendQueryReply =>
              record.Type === 'ack'
                ? { type: 'ack', from: record.From }
                : { type: 'response', from: record.From, payload: record.Payload },
          );
        break;
      case 'monitor':
        // The Go agent replays its buffered log lines to a new monitor, and the stub does the same.
        for (const reply of exchange.replies) {
          if (reply.header === undefined && reply.seq === request.seq) {
            backend.recentLogs.push(bodyValue(reply.node).Log);
          }
        }
        break;
      default:
        if (KEY_COMMANDS.has(request.command)) {
          const error = header?.Error ?? '';
          backend.keyResults.set(request.command, {
            ...(error === '' ? {} : { error }),
            messages: value.Messages,
            ...(value.Keys === null ? {} : { keys: value.Keys }),
            numNodes: value.NumNodes,
            numResp: value.NumResp,
            numErr: value.NumErr,
          });
        }
    }
  }
  return backend;
}

/** Lists the backend calls that the captured requests must cause, in order. */
function expectedCalls(exchange: CapturedExchange): { method: string; args: unknown[] }[] {
  const calls: { method: string; args: unknown[] }[] = [];
  for (const { request } of exchange.turns) {
    if (blockedByAuth(exchange, request)) continue;
    const body = request.body;
    switch (request.command) {
      case 'members':
      case 'members-filtered':
        calls.push({ method: 'members', args: [] });
        break;
      case 'event':
        calls.push({ method: 'userEvent', args: [body.Name, body.Payload, body.Coalesce] });
        break;
      case 'join':
        calls.push({ method: 'join', args: [body.Existing, body.Replay] });
        break;
      case 'force-leave':
        calls.push({ method: 'forceLeave', args: [body.Node, body.Prune] });
        break;
      case 'tags':
        calls.push({ method: 'setTags', args: [body.Tags, body.DeleteTags] });
        break;
      case 'leave':
        calls.push({ method: 'leave', args: [] });
        break;
      case 'install-key':
        calls.push({ method: 'installKey', args: [body.Key] });
        break;
      case 'use-key':
        calls.push({ method: 'useKey', args: [body.Key] });
        break;
      case 'remove-key':
        calls.push({ method: 'removeKey', args: [body.Key] });
        break;
      case 'list-keys':
        calls.push({ method: 'listKeys', args: [] });
        break;
      case 'query':
        calls.push({
          method: 'query',
          args: [
            {
              name: body.Name,
              payload: body.Payload,
              filterNodes: body.FilterNodes ?? [],
              filterTags: body.FilterTags ?? {},
              requestAck: body.RequestAck,
              relayFactor: body.RelayFactor,
              timeoutMs: body.Timeout / 1e6,
            },
          ],
        });
        break;
    }
  }
  return calls;
}

/** Lists the query responses that the captured `respond` requests must deliver. */
function expectedQueryResponses(
  exchange: CapturedExchange,
): { name: string; ltime: number; payload: Uint8Array }[] {
  const queriesById = new Map<number, { name: string; ltime: number }>();
  for (const reply of exchange.replies) {
    if (reply.header !== undefined || exchange.requestsBySeq.get(reply.seq)?.command !== 'stream') continue;
    const record = bodyValue(reply.node);
    if (record.Event === 'query') queriesById.set(record.ID, { name: record.Name, ltime: record.LTime });
  }
  return exchange.turns
    .filter(({ request }) => request.command === 'respond' && !blockedByAuth(exchange, request))
    .map(({ request }) => {
      const query = queriesById.get(request.body.ID);
      assert.ok(
        query !== undefined,
        `respond names query ID ${request.body.ID}, which no stream record carried`,
      );
      return { ...query, payload: request.body.Payload };
    });
}

// ---------------------------------------------------------------------------------------------
// Raw client connection

class CapturedSession {
  readonly socket: Socket;
  #buffer: Uint8Array = new Uint8Array(0);
  #ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = concatFrames([this.#buffer, new Uint8Array(chunk)]);
    });
    socket.on('close', () => {
      this.#ended = true;
    });
  }

  static async open(port: number): Promise<CapturedSession> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new CapturedSession(socket);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Returns the next object the server sent, waiting up to READ_TIMEOUT_MS for it. */
  read(what: string): Promise<MsgNode> {
    return waitFor(
      () => {
        const node = this.#take();
        if (node !== undefined) return node;
        if (this.#ended) throw new Error('the server closed the connection');
        return undefined;
      },
      { timeoutMs: READ_TIMEOUT_MS, intervalMs: 2, message: `no ${what} arrived from the server` },
    );
  }

  #take(): MsgNode | undefined {
    if (this.#buffer.length === 0) return undefined;
    try {
      const { node, end } = parseMsgpack(this.#buffer, 0);
      const copy = { ...node, bytes: node.bytes.slice(), head: node.head.slice() };
      this.#buffer = this.#buffer.slice(end);
      return copy;
    } catch (err) {
      if (err instanceof TruncatedInput) return undefined;
      throw err;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Replay

/** Compares one produced object with the captured one: shape first, then exact bytes. */
function assertSameObject(captured: MsgNode, produced: MsgNode, mapKind: MapKind, where: string): void {
  const differences: string[] = [];
  compareShape(captured, produced, '$', mapKind, differences);
  assert.deepEqual(
    differences,
    [],
    `${where}: shape differs\n  captured ${describeNode(captured)}\n  produced ${describeNode(produced)}`,
  );
  if (responseHeader(captured) !== undefined) {
    assert.equal(toHex(produced.bytes), toHex(captured.bytes), `${where}: header bytes differ`);
  } else {
    assert.equal(
      canonicalHex(produced, mapKind),
      canonicalHex(captured, mapKind),
      `${where}: bytes differ (Go map entries sorted)\n  captured ${describeNode(captured)}\n  produced ${describeNode(produced)}`,
    );
  }
}

/**
 * Sends the captured requests of one connection and checks every object the server sends against
 * the captured replies. Stream records are produced by emitting the matching event on the stub just
 * before the record is due, so they arrive in the captured position. Returns the Seq values of the
 * streams and the monitor still open when the capture ends.
 */
async function replay(
  entry: CapturedEntry,
  exchange: CapturedExchange,
  backend: CapturedBackend,
  session: CapturedSession,
): Promise<Set<number>> {
  const openStreams = new Set<number>();
  const openSubscriptions = new Set<number>();

  for (const [turnIndex, turn] of exchange.turns.entries()) {
    session.write(turn.clientBytes);
    let lastSeq = 0;
    for (let i = 0; i < turn.replies.length; i++) {
      const captured = turn.replies[i] as MsgNode;
      const header = responseHeader(captured);
      const where = `${entry.id}, request ${turnIndex + 1} (${turn.request.command}), reply object ${i + 1}`;
      const isStreamRecord =
        header !== undefined && openStreams.has(header.Seq) && turn.replies[i + 1] !== undefined;
      if (isStreamRecord) {
        const record = turn.replies[i + 1] as MsgNode;
        if (responseHeader(record) === undefined) backend.emit(backend.eventFromRecord(bodyValue(record)));
      }

      const produced = await session.read(where);
      let mapKind: MapKind = 'struct';
      if (header !== undefined) {
        lastSeq = header.Seq;
      } else if (exchange.requestsBySeq.get(lastSeq)?.command === 'stats') {
        mapKind = 'go-map-of-go-maps';
      }
      assertSameObject(captured, produced, mapKind, where);

      if (header === undefined || header.Error !== '' || header.Seq !== turn.request.seq) continue;
      if (turn.request.command === 'stream') {
        openStreams.add(header.Seq);
        openSubscriptions.add(header.Seq);
      } else if (turn.request.command === 'monitor') {
        openSubscriptions.add(header.Seq);
      } else if (turn.request.command === 'stop') {
        openStreams.delete(turn.request.body.Stop);
        openSubscriptions.delete(turn.request.body.Stop);
      }
    }
  }
  return openSubscriptions;
}

/**
 * Sends a `stats` request that no capture uses and returns the first object read afterwards. The
 * server handles requests in order, so anything it still had to send comes before this reply.
 */
async function probe(session: CapturedSession): Promise<ResponseHeader | undefined> {
  const probeSeq = 9_999;
  session.write(encodeRpc({ Command: 'stats', Seq: probeSeq }));
  return responseHeader(await session.read('probe reply'));
}

const connections = entries.flatMap((entry) =>
  entry.connections.map((connection, index) => ({ entry, connection, index })),
);

describe('captured rpc exchanges', () => {
  test('vectors cover every rpc command', () => {
    const commands = new Set(entries.flatMap((entry) => entry.rpc_commands));
    assert.deepEqual([...commands].sort(), [
      'auth',
      'event',
      'force-leave',
      'get-coordinate',
      'handshake',
      'install-key',
      'join',
      'leave',
      'list-keys',
      'members',
      'members-filtered',
      'monitor',
      'query',
      'remove-key',
      'respond',
      'stats',
      'stop',
      'stream',
      'tags',
      'use-key',
    ]);
    assert.equal(connections.length, entries.length);
  });

  for (const { entry, connection, index } of connections) {
    const name = entry.connections.length === 1 ? entry.id : `${entry.id} connection ${index + 1}`;
    test(`${name} replays`, async () => {
      const exchange = buildExchange(connection);
      const backend = buildBackend(entry, connection, exchange);
      const server = new RpcServer({ backend, address: '127.0.0.1:0' });
      await server.start();
      const session = await CapturedSession.open(server.address.port).catch(async (err: unknown) => {
        await server.close();
        throw err;
      });
      try {
        const openSubscriptions = await replay(entry, exchange, backend, session);
        assert.deepEqual(
          backend.calls,
          expectedCalls(exchange),
          'backend calls differ from the captured requests',
        );
        assert.deepEqual(backend.queryResponses, expectedQueryResponses(exchange));

        const streamsOpen = [...openSubscriptions].filter(
          (seq) => exchange.requestsBySeq.get(seq)?.command === 'stream',
        ).length;
        const monitorsOpen = openSubscriptions.size - streamsOpen;
        assert.equal(backend.eventListenerCount, streamsOpen, 'event subscriptions after the exchange');
        assert.equal(backend.logListenerCount, monitorsOpen, 'log subscriptions after the exchange');

        const stopped = exchange.turns.some(({ request }) => request.command === 'stop');
        if (stopped) {
          // After `stop`, new events and log lines must not reach the client.
          backend.log('2026/12/04 19:30:00 [INFO] agent: line logged after stop');
          backend.emit({
            type: 'user',
            ltime: 99,
            name: 'after-stop',
            payload: new Uint8Array(0),
            coalesce: false,
          });
        }
        const header = await probe(session);
        const authRequired =
          backend.authKey !== '' && !exchange.turns.some(({ request }) => request.command === 'auth');
        assert.deepEqual(header, { Error: authRequired ? 'Authentication required' : '', Seq: 9_999 });

        session.close();
        await waitFor(() => backend.eventListenerCount === 0 && backend.logListenerCount === 0, {
          timeoutMs: READ_TIMEOUT_MS,
          message: 'subscriptions still registered after the client disconnected',
        });
      } finally {
        session.close();
        await server.close();
      }
    });
  }
});
