/**
 * Serf message bodies and the payloads carried inside queries (key requests, key responses,
 * conflict responses and filters).
 *
 * A message is `[type byte][msgpack body]`. Bodies are Go structs on the wire: maps keyed by the
 * Go field names in sorted order, written with the gossip msgpack dialect. Decoding follows the Go
 * side: unknown keys are ignored, missing keys and nil give zero values, and bytes after the body
 * are ignored. Integers above Number.MAX_SAFE_INTEGER, and values of the wrong kind, are a
 * DecodeError.
 */

import {
  decodeGossipPrefix,
  expectMap,
  type GossipDecoded,
  GossipEncoder,
  type GossipMap,
  IncompleteInputError,
  MAX_UINT8,
  MAX_UINT16,
  MAX_UINT32,
  readArray,
  readBool,
  readBytes,
  readInt,
  readMap,
  readString,
  readUint,
} from '../codec/msgpack.js';
import { DecodeError, InvalidArgumentError } from '../util/errors.js';
import { FilterType, SerfMessageType, serfMessageTypeName } from './message-types.js';

/** Announces that a node joined (or refutes a leave intent about itself). */
export interface JoinIntent {
  /** Member-clock time. */
  ltime: number;
  node: string;
}

/** Announces that a node is leaving, or force-removes it. */
export interface LeaveIntent {
  /** Member-clock time. */
  ltime: number;
  node: string;
  /** Erase the member entirely instead of keeping it as left. */
  prune: boolean;
}

export interface UserEventMessage {
  /** Event-clock time. */
  ltime: number;
  name: string;
  /** Null is sent as msgpack nil, the way Go sends a nil byte slice. */
  payload: Uint8Array | null;
  /** Whether the agent may coalesce this event with newer ones of the same name. */
  cc: boolean;
}

/** One slot of the user event ring buffer sent in push/pull: the events seen at one event time. */
export interface UserEventsSlot {
  ltime: number;
  events: { name: string; payload: Uint8Array | null }[];
}

/** Serf's push/pull user state. */
export interface SerfPushPull {
  /** Member-clock time of the sender. */
  ltime: number;
  /** Status Lamport time of every member in the sender's member list, in wire order. */
  statusLTimes: Map<string, number>;
  /** Names of the members the sender considers left. Sent as an empty array, never nil. */
  leftMembers: string[];
  /** Event-clock time of the sender. */
  eventLTime: number;
  /** The sender's whole event ring buffer: Go sends all 512 slots, null for an empty one. */
  events: (UserEventsSlot | null)[];
  /** Query-clock time of the sender. */
  queryLTime: number;
}

export interface QueryMessage {
  /** Query-clock time; responses are matched to the query by it. */
  ltime: number;
  /** Random 31-bit number; with ltime it identifies the query. */
  id: number;
  /** IP address (4 or 16 bytes) that acks and responses go to. Not validated when decoding. */
  addr: Uint8Array;
  port: number;
  sourceNode: string;
  /** Encoded filters (see encodeNodeFilter and encodeTagFilter); null when there are none. */
  filters: Uint8Array[] | null;
  /** QueryFlag bits. */
  flags: number;
  /** How many extra copies of each ack and response go through relay nodes (0..255). */
  relayFactor: number;
  /** Responders' deadline after receipt, in nanoseconds. */
  timeoutNs: number;
  name: string;
  payload: Uint8Array | null;
}

export interface QueryResponseMessage {
  /** The query's Lamport time. */
  ltime: number;
  /** The query's ID. */
  id: number;
  /** Name of the responding node. */
  from: string;
  /** QueryFlag.ack for an ack, 0 for a response. */
  flags: number;
  /** Response payload; null for acks. */
  payload: Uint8Array | null;
}

/** Destination a relay node forwards the message after the header to. */
export interface RelayHeader {
  /** The query origin's address; `zone` is empty except for link-local IPv6. */
  destAddr: { ip: Uint8Array; port: number; zone: string };
  destName: string;
}

/** Payload of the `_serf_*-key` internal queries. */
export interface KeyRequest {
  /** The raw key (not base64); list-keys sends an empty one. */
  key: Uint8Array | null;
}

/** Response payload to a key query. */
export interface KeyResponse {
  result: boolean;
  /** Error or notice text; empty on plain success. */
  message: string;
  /** Base64 keys, primary first (list-keys only; null otherwise, sent as nil). */
  keys: string[] | null;
  /** Base64 primary key (list-keys only; empty otherwise). */
  primaryKey: string;
}

/** The Member map inside a conflict response: the responder's record of a disputed name. */
export interface ConflictMember {
  name: string;
  addr: Uint8Array;
  port: number;
  tags: Map<string, string>;
  /** Member status number: 0 none, 1 alive, 2 leaving, 3 left, 4 failed. */
  status: number;
  /** memberlist protocol versions. */
  protocolMin: number;
  protocolMax: number;
  protocolCur: number;
  /** Serf protocol versions. */
  delegateMin: number;
  delegateMax: number;
  delegateCur: number;
}

export type SerfMessage =
  | { type: 'join'; body: JoinIntent }
  | { type: 'leave'; body: LeaveIntent }
  | { type: 'pushPull'; body: SerfPushPull }
  | { type: 'userEvent'; body: UserEventMessage }
  | { type: 'query'; body: QueryMessage }
  | { type: 'queryResponse'; body: QueryResponseMessage }
  /** `inner` is every byte after the header (a query response, starting with 0x05), forwarded unchanged. */
  | { type: 'relay'; header: RelayHeader; inner: Uint8Array };

export type QueryFilter = { type: 'node'; names: string[] } | { type: 'tag'; tag: string; expr: string };

/**
 * Encodes a message as `[type byte][msgpack body]`; a relay is `[9][header][inner bytes]`.
 * Throws InvalidArgumentError for a field outside its wire type's range (an ID above 2^32 − 1,
 * for example).
 */
export function encodeSerfMessage(msg: SerfMessage): Uint8Array {
  const enc = new GossipEncoder(128);
  enc.writeByte(SerfMessageType[msg.type]);
  switch (msg.type) {
    case 'join':
      checkUint('LTime', msg.body.ltime);
      enc.write({ LTime: msg.body.ltime, Node: msg.body.node });
      break;
    case 'leave':
      checkUint('LTime', msg.body.ltime);
      enc.write({ LTime: msg.body.ltime, Node: msg.body.node, Prune: msg.body.prune });
      break;
    case 'userEvent':
      checkUint('LTime', msg.body.ltime);
      enc.write({ CC: msg.body.cc, LTime: msg.body.ltime, Name: msg.body.name, Payload: msg.body.payload });
      break;
    case 'pushPull':
      writePushPull(enc, msg.body);
      break;
    case 'query':
      writeQuery(enc, msg.body);
      break;
    case 'queryResponse':
      checkUint('LTime', msg.body.ltime);
      checkUint('ID', msg.body.id, MAX_UINT32);
      checkUint('Flags', msg.body.flags, MAX_UINT32);
      enc.write({
        Flags: msg.body.flags,
        From: msg.body.from,
        ID: msg.body.id,
        LTime: msg.body.ltime,
        Payload: msg.body.payload,
      });
      break;
    case 'relay': {
      const { destAddr, destName } = msg.header;
      checkUint('DestAddr.Port', destAddr.port, MAX_UINT16);
      enc.write({
        DestAddr: { IP: destAddr.ip, Port: destAddr.port, Zone: destAddr.zone },
        DestName: destName,
      });
      enc.writeRaw(msg.inner);
      break;
    }
    default:
      throw new InvalidArgumentError(
        `cannot encode Serf message type ${JSON.stringify((msg as { type: unknown }).type)}`,
      );
  }
  return enc.finish();
}

function writePushPull(enc: GossipEncoder, body: SerfPushPull): void {
  checkUint('LTime', body.ltime);
  checkUint('EventLTime', body.eventLTime);
  checkUint('QueryLTime', body.queryLTime);
  for (const [name, ltime] of body.statusLTimes) checkUint(`StatusLTimes["${name}"]`, ltime);
  const events = body.events.map((slot) => {
    if (slot === null) return null;
    checkUint('Events[].LTime', slot.ltime);
    return {
      Events: slot.events.map((event) => ({ Name: event.name, Payload: event.payload })),
      LTime: slot.ltime,
    };
  });
  enc.write({
    EventLTime: body.eventLTime,
    Events: events,
    LTime: body.ltime,
    LeftMembers: body.leftMembers,
    QueryLTime: body.queryLTime,
    StatusLTimes: body.statusLTimes,
  });
}

function writeQuery(enc: GossipEncoder, body: QueryMessage): void {
  checkUint('LTime', body.ltime);
  checkUint('ID', body.id, MAX_UINT32);
  checkUint('Port', body.port, MAX_UINT16);
  checkUint('Flags', body.flags, MAX_UINT32);
  checkUint('RelayFactor', body.relayFactor, MAX_UINT8);
  // Go's time.Duration is an int64, so a negative timeout is representable and passed through.
  if (!Number.isSafeInteger(body.timeoutNs)) {
    throw new InvalidArgumentError(
      `query Timeout ${body.timeoutNs} ns is not a safe integer number of nanoseconds`,
    );
  }
  enc.write({
    Addr: body.addr,
    Filters: body.filters,
    Flags: body.flags,
    ID: body.id,
    LTime: body.ltime,
    Name: body.name,
    Payload: body.payload,
    Port: body.port,
    RelayFactor: body.relayFactor,
    SourceNode: body.sourceNode,
    Timeout: body.timeoutNs,
  });
}

function checkUint(field: string, value: number, max: number = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(`field ${field} is ${value}; expected an integer in [0, ${max}]`);
  }
}

/**
 * Decodes a Serf message received as a memberlist user message or as push/pull user state.
 * Throws DecodeError for an empty buffer, a type byte other than 0..5 and 9 (6, 7 and 8 only
 * travel inside query payloads and have their own decoders), or an invalid body.
 */
export function decodeSerfMessage(buf: Uint8Array): SerfMessage {
  if (buf.length === 0) throw new DecodeError('empty Serf message: expected at least a type byte');
  const typeByte = buf[0]!;
  switch (typeByte) {
    case SerfMessageType.join:
      return withContext('join', () => ({ type: 'join', body: decodeJoin(readBody(buf)) }));
    case SerfMessageType.leave:
      return withContext('leave', () => ({ type: 'leave', body: decodeLeave(readBody(buf)) }));
    case SerfMessageType.pushPull:
      return withContext('pushPull', () => ({ type: 'pushPull', body: decodePushPull(readBody(buf)) }));
    case SerfMessageType.userEvent:
      return withContext('userEvent', () => ({ type: 'userEvent', body: decodeUserEvent(readBody(buf)) }));
    case SerfMessageType.query:
      return withContext('query', () => ({ type: 'query', body: decodeQuery(readBody(buf)) }));
    case SerfMessageType.queryResponse:
      return withContext('queryResponse', () => ({
        type: 'queryResponse',
        body: decodeQueryResponse(readBody(buf)),
      }));
    case SerfMessageType.relay:
      return withContext('relay', () => decodeRelay(buf));
    default: {
      const name = serfMessageTypeName(typeByte);
      if (name !== undefined) {
        throw new DecodeError(
          `Serf message type byte ${typeByte} (${name}) is only valid inside a query or query response payload`,
        );
      }
      throw new DecodeError(`unknown Serf message type byte ${typeByte}; Serf 0.9.4 defines types 0 to 9`);
    }
  }
}

/** Decodes the msgpack body after the type byte; trailing bytes are ignored, as Go does. */
function readBody(buf: Uint8Array): GossipMap {
  return expectMap(decodeGossipPrefix(buf, 1).value, 'body');
}

/** Runs `decode` and prefixes a DecodeError's message with `what`, keeping IncompleteInputError. */
function withContext<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof IncompleteInputError) {
      throw new IncompleteInputError(`${what}: ${err.message}`, { cause: err });
    }
    if (err instanceof DecodeError) throw new DecodeError(`${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Wraps one decoded value in a map so the field readers of the codec can check it. */
function single(label: string, value: GossipDecoded): GossipMap {
  return new Map([[label, value]]);
}

function asString(label: string, value: GossipDecoded): string {
  return readString(single(label, value), label);
}

function readStringArray(map: GossipMap, key: string): string[] {
  return readArray(map, key).map((item, i) => asString(`${key}[${i}]`, item));
}

function readLTime(map: GossipMap, key = 'LTime'): number {
  return readUint(map, key);
}

function decodeJoin(body: GossipMap): JoinIntent {
  return { ltime: readLTime(body), node: readString(body, 'Node') };
}

function decodeLeave(body: GossipMap): LeaveIntent {
  return { ltime: readLTime(body), node: readString(body, 'Node'), prune: readBool(body, 'Prune') };
}

function decodeUserEvent(body: GossipMap): UserEventMessage {
  return {
    ltime: readLTime(body),
    name: readString(body, 'Name'),
    payload: readBytes(body, 'Payload'),
    cc: readBool(body, 'CC'),
  };
}

function decodePushPull(body: GossipMap): SerfPushPull {
  const statusLTimes = new Map<string, number>();
  for (const [name, ltime] of readMap(body, 'StatusLTimes') ?? []) {
    if (typeof name !== 'string') {
      throw new DecodeError(`field "StatusLTimes": expected string keys, got key ${String(name)}`);
    }
    statusLTimes.set(name, readLTime(single(`StatusLTimes["${name}"]`, ltime), `StatusLTimes["${name}"]`));
  }
  const events = readArray(body, 'Events').map((slot, i) => decodeEventsSlot(slot, i));
  return {
    ltime: readLTime(body),
    statusLTimes,
    leftMembers: readStringArray(body, 'LeftMembers'),
    eventLTime: readLTime(body, 'EventLTime'),
    events,
    queryLTime: readLTime(body, 'QueryLTime'),
  };
}

function decodeEventsSlot(value: GossipDecoded, index: number): UserEventsSlot | null {
  if (value === null) return null;
  const slot = expectMap(value, `Events[${index}]`);
  const events = readArray(slot, 'Events').map((item, j) => {
    const event = expectMap(item, `Events[${index}].Events[${j}]`);
    return { name: readString(event, 'Name'), payload: readBytes(event, 'Payload') };
  });
  return { ltime: readLTime(slot), events };
}

function decodeQuery(body: GossipMap): QueryMessage {
  const rawFilters = body.get('Filters');
  let filters: Uint8Array[] | null = null;
  if (rawFilters !== undefined && rawFilters !== null) {
    // A nil element cannot be told from an empty filter by the receiver, which rejects both.
    filters = readArray(body, 'Filters').map(
      (item, i) => readBytes(single(`Filters[${i}]`, item), `Filters[${i}]`) ?? new Uint8Array(0),
    );
  }
  return {
    ltime: readLTime(body),
    id: readUint(body, 'ID', MAX_UINT32),
    addr: readBytes(body, 'Addr') ?? new Uint8Array(0),
    port: readUint(body, 'Port', MAX_UINT16),
    sourceNode: readString(body, 'SourceNode'),
    filters,
    flags: readUint(body, 'Flags', MAX_UINT32),
    relayFactor: readUint(body, 'RelayFactor', MAX_UINT8),
    timeoutNs: readInt(body, 'Timeout'),
    name: readString(body, 'Name'),
    payload: readBytes(body, 'Payload'),
  };
}

function decodeQueryResponse(body: GossipMap): QueryResponseMessage {
  return {
    ltime: readLTime(body),
    id: readUint(body, 'ID', MAX_UINT32),
    from: readString(body, 'From'),
    flags: readUint(body, 'Flags', MAX_UINT32),
    payload: readBytes(body, 'Payload'),
  };
}

function decodeRelay(buf: Uint8Array): SerfMessage {
  const { value, offset } = decodeGossipPrefix(buf, 1);
  const header = expectMap(value, 'header');
  const destAddr = readMap(header, 'DestAddr') ?? new Map();
  return {
    type: 'relay',
    header: {
      destAddr: {
        ip: readBytes(destAddr, 'IP') ?? new Uint8Array(0),
        port: readUint(destAddr, 'Port', MAX_UINT16),
        zone: readString(destAddr, 'Zone'),
      },
      destName: readString(header, 'DestName'),
    },
    inner: buf.slice(offset),
  };
}

/** Encodes a key query payload: `[7][{Key}]`. A null key is sent as nil. */
export function encodeKeyRequest(req: KeyRequest): Uint8Array {
  return new GossipEncoder(48).writeByte(SerfMessageType.keyRequest).write({ Key: req.key }).finish();
}

export function decodeKeyRequest(buf: Uint8Array): KeyRequest {
  return withContext('keyRequest', () => {
    const body = readPayloadBody(buf, SerfMessageType.keyRequest, 'keyRequest');
    return { key: readBytes(body, 'Key') };
  });
}

/** Encodes a key query response payload: `[8][{Keys, Message, PrimaryKey, Result}]`. */
export function encodeKeyResponse(r: KeyResponse): Uint8Array {
  return new GossipEncoder(128)
    .writeByte(SerfMessageType.keyResponse)
    .write({ Keys: r.keys, Message: r.message, PrimaryKey: r.primaryKey, Result: r.result })
    .finish();
}

export function decodeKeyResponse(buf: Uint8Array): KeyResponse {
  return withContext('keyResponse', () => {
    const body = readPayloadBody(buf, SerfMessageType.keyResponse, 'keyResponse');
    const rawKeys = body.get('Keys');
    return {
      result: readBool(body, 'Result'),
      message: readString(body, 'Message'),
      keys: rawKeys === undefined || rawKeys === null ? null : readStringArray(body, 'Keys'),
      primaryKey: readString(body, 'PrimaryKey'),
    };
  });
}

/**
 * Encodes a `_serf_conflict` response payload: `[6][Member map]`, or `[6][nil]` when the
 * responder does not know the disputed name.
 */
export function encodeConflictResponse(m: ConflictMember | null): Uint8Array {
  const enc = new GossipEncoder(160).writeByte(SerfMessageType.conflictResponse);
  if (m === null) return enc.writeNil().finish();
  checkUint('Port', m.port, MAX_UINT16);
  for (const [field, value] of [
    ['ProtocolMin', m.protocolMin],
    ['ProtocolMax', m.protocolMax],
    ['ProtocolCur', m.protocolCur],
    ['DelegateMin', m.delegateMin],
    ['DelegateMax', m.delegateMax],
    ['DelegateCur', m.delegateCur],
  ] as const) {
    checkUint(field, value, MAX_UINT8);
  }
  enc.write({
    Addr: m.addr,
    DelegateCur: m.delegateCur,
    DelegateMax: m.delegateMax,
    DelegateMin: m.delegateMin,
    Name: m.name,
    Port: m.port,
    ProtocolCur: m.protocolCur,
    ProtocolMax: m.protocolMax,
    ProtocolMin: m.protocolMin,
    Status: m.status,
    Tags: m.tags,
  });
  return enc.finish();
}

export function decodeConflictResponse(buf: Uint8Array): ConflictMember | null {
  return withContext('conflictResponse', () => {
    checkPayloadType(buf, SerfMessageType.conflictResponse, 'conflictResponse');
    const value = decodeGossipPrefix(buf, 1).value;
    if (value === null) return null;
    const body = expectMap(value, 'Member');
    const tags = new Map<string, string>();
    for (const [name, tagValue] of readMap(body, 'Tags') ?? []) {
      if (typeof name !== 'string') {
        throw new DecodeError(`field "Tags": expected string keys, got key ${String(name)}`);
      }
      tags.set(name, asString(`Tags["${name}"]`, tagValue));
    }
    return {
      name: readString(body, 'Name'),
      addr: readBytes(body, 'Addr') ?? new Uint8Array(0),
      port: readUint(body, 'Port', MAX_UINT16),
      tags,
      status: readInt(body, 'Status'),
      protocolMin: readUint(body, 'ProtocolMin', MAX_UINT8),
      protocolMax: readUint(body, 'ProtocolMax', MAX_UINT8),
      protocolCur: readUint(body, 'ProtocolCur', MAX_UINT8),
      delegateMin: readUint(body, 'DelegateMin', MAX_UINT8),
      delegateMax: readUint(body, 'DelegateMax', MAX_UINT8),
      delegateCur: readUint(body, 'DelegateCur', MAX_UINT8),
    };
  });
}

function checkPayloadType(buf: Uint8Array, expected: number, name: string): void {
  if (buf.length === 0) throw new DecodeError(`empty payload: expected type byte ${expected} (${name})`);
  if (buf[0] !== expected) {
    throw new DecodeError(`payload starts with type byte ${buf[0]}; expected ${expected} (${name})`);
  }
}

function readPayloadBody(buf: Uint8Array, expected: number, name: string): GossipMap {
  checkPayloadType(buf, expected, name);
  return readBody(buf);
}

/** Encodes a node filter: the query is for the listed node names only. */
export function encodeNodeFilter(names: string[]): Uint8Array {
  return new GossipEncoder(16 + names.length * 16).writeByte(FilterType.node).write(names).finish();
}

/** Encodes a tag filter: tag `tag` must match the Go RE2 expression `expr` (unanchored). */
export function encodeTagFilter(tag: string, expr: string): Uint8Array {
  return new GossipEncoder(32).writeByte(FilterType.tag).write({ Expr: expr, Tag: tag }).finish();
}

/** Decodes one encoded filter. Throws DecodeError for an unknown filter type or an invalid body. */
export function decodeFilter(buf: Uint8Array): QueryFilter {
  if (buf.length === 0) throw new DecodeError('empty query filter: expected a filter type byte');
  const typeByte = buf[0]!;
  if (typeByte === FilterType.node) {
    return withContext('node filter', () => {
      const value = decodeGossipPrefix(buf, 1).value;
      return { type: 'node', names: readStringArray(single('names', value), 'names') };
    });
  }
  if (typeByte === FilterType.tag) {
    return withContext('tag filter', () => {
      const body = readBody(buf);
      return { type: 'tag', tag: readString(body, 'Tag'), expr: readString(body, 'Expr') };
    });
  }
  throw new DecodeError(`unknown query filter type byte ${typeByte}; expected 0 (node) or 1 (tag)`);
}
