/**
 * Agent RPC commands, the wire shapes of their bodies and records, the reference error texts, and
 * parsers from decoded msgpack to those shapes.
 *
 * Wire shapes use the Go field names exactly (PascalCase keys), because the Go peer matches struct
 * keys case-sensitively. Parsers follow Go's decoding rules: a missing key is the zero value,
 * unknown keys are ignored, a string field accepts only msgpack str, a byte field accepts str or bin.
 * Anything else is a DecodeError, which closes the connection on either side.
 */

import { bytesToIp, ipToBytes } from '../codec/ip.js';
import type { Member, MemberEventType } from '../serf/events.js';
import { DecodeError } from '../util/errors.js';

/** The only IPC protocol version the reference agent and CLI speak. */
export const RPC_VERSION = 1;

/** Command names sent in the request header's `Command` key. Part of the protocol. */
export const RpcCommand = {
  handshake: 'handshake',
  auth: 'auth',
  event: 'event',
  forceLeave: 'force-leave',
  join: 'join',
  members: 'members',
  membersFiltered: 'members-filtered',
  tags: 'tags',
  stream: 'stream',
  monitor: 'monitor',
  stop: 'stop',
  leave: 'leave',
  query: 'query',
  respond: 'respond',
  installKey: 'install-key',
  useKey: 'use-key',
  removeKey: 'remove-key',
  listKeys: 'list-keys',
  stats: 'stats',
  getCoordinate: 'get-coordinate',
} as const;
export type RpcCommandName = (typeof RpcCommand)[keyof typeof RpcCommand];

/** Error texts the reference agent puts in the response header's `Error` key. */
export const RpcErrorText = {
  unsupportedCommand: 'Unsupported command',
  unsupportedVersion: 'Unsupported IPC version',
  duplicateHandshake: 'Handshake already performed',
  handshakeRequired: 'Handshake required',
  monitorExists: 'Monitor already exists',
  invalidFilter: 'Invalid event filter',
  streamExists: 'Stream with given sequence exists',
  invalidQueryId: 'No pending queries matching ID',
  authRequired: 'Authentication required',
  invalidAuthToken: 'Invalid authentication token',
  internalQueryName: "Queries cannot contain the '_serf_' prefix",
} as const;

/** Builds the monitor error for an unknown level, upper-cased as the reference does. */
export function unknownLogLevelError(level: string): string {
  return `Unknown log level: ${level.toUpperCase()}`;
}

/** Query record types (`Type` key of a query result record). */
export const QueryRecordType = { ack: 'ack', response: 'response', done: 'done' } as const;

// ---------------------------------------------------------------------------------------------
// Wire shapes

export interface RequestHeader {
  Command: string;
  Seq: number;
}

export interface ResponseHeader {
  Error: string;
  Seq: number;
}

export interface HandshakeRequest {
  Version: number;
}
export interface AuthRequest {
  AuthKey: string;
}
export interface EventRequest {
  Coalesce: boolean;
  Name: string;
  Payload: Uint8Array | null;
}
export interface ForceLeaveRequest {
  Node: string;
  Prune: boolean;
}
export interface JoinRequest {
  Existing: string[] | null;
  Replay: boolean;
}
export interface JoinResponse {
  Num: number;
}
export interface MembersFilteredRequest {
  Name: string;
  Status: string;
  Tags: Record<string, string> | null;
}
export interface MembersResponse {
  Members: MemberRecord[];
}
export interface TagsRequest {
  DeleteTags: string[] | null;
  Tags: Record<string, string> | null;
}
export interface StreamRequest {
  Type: string;
}
export interface MonitorRequest {
  LogLevel: string;
}
export interface StopRequest {
  Stop: number;
}
export interface QueryRequest {
  FilterNodes: string[] | null;
  FilterTags: Record<string, string> | null;
  Name: string;
  Payload: Uint8Array | null;
  RelayFactor: number;
  RequestAck: boolean;
  /** Go time.Duration: nanoseconds. */
  Timeout: number;
}
export interface RespondRequest {
  ID: number;
  Payload: Uint8Array | null;
}
export interface KeyRequest {
  Key: string;
}
export interface KeyResponseRecord {
  /** Key → node count for list-keys (an empty map when nothing was reported), nil for the other key commands. */
  Keys: Record<string, number> | null;
  Messages: Record<string, string>;
  NumErr: number;
  NumNodes: number;
  NumResp: number;
}
export interface CoordinateRequest {
  Node: string;
}
export interface CoordinateRecord {
  Adjustment: number;
  Error: number;
  Height: number;
  Vec: number[] | null;
}
export interface CoordinateResponse {
  Coord: CoordinateRecord;
  Ok: boolean;
}
export type StatsResponse = Record<string, Record<string, string>>;

/** A member as the RPC carries it (members replies and member event records). */
export interface MemberRecord {
  /** 4 bytes for IPv4, 16 for IPv6, nil when unknown. */
  Addr: Uint8Array | null;
  DelegateCur: number;
  DelegateMax: number;
  DelegateMin: number;
  Name: string;
  Port: number;
  ProtocolCur: number;
  ProtocolMax: number;
  ProtocolMin: number;
  Status: string;
  Tags: Record<string, string>;
}

export interface MemberEventRecord {
  Event: MemberEventType;
  Members: MemberRecord[];
}
export interface UserEventRecord {
  Coalesce: boolean;
  Event: 'user';
  LTime: number;
  Name: string;
  Payload: Uint8Array | null;
}
export interface QueryEventRecord {
  Event: 'query';
  /** Per-connection id for `respond`. */
  ID: number;
  LTime: number;
  Name: string;
  Payload: Uint8Array | null;
}
export type StreamEventRecord = MemberEventRecord | UserEventRecord | QueryEventRecord;

export interface QueryResultRecord {
  From: string;
  Payload: Uint8Array | null;
  Type: (typeof QueryRecordType)[keyof typeof QueryRecordType];
}

export interface LogRecordWire {
  Log: string;
}

// ---------------------------------------------------------------------------------------------
// API-side shapes shared by the server and the client

/** A member as RPC clients see it: the address as text and the status as the agent reported it. */
export interface RpcMember {
  name: string;
  /** Textual IP ('' when the agent sent none). */
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: string;
  protocolMin: number;
  protocolMax: number;
  protocolCur: number;
  delegateMin: number;
  delegateMax: number;
  delegateCur: number;
}

/** Converts a Serf member into the RPC record. An address that is not an IP is sent as nil. */
export function memberToRecord(member: Member): MemberRecord {
  let addr: Uint8Array | null;
  try {
    addr = ipToBytes(member.addr);
  } catch {
    addr = null;
  }
  return {
    Addr: addr,
    DelegateCur: member.delegateCur,
    DelegateMax: member.delegateMax,
    DelegateMin: member.delegateMin,
    Name: member.name,
    Port: member.port,
    ProtocolCur: member.protocolCur,
    ProtocolMax: member.protocolMax,
    ProtocolMin: member.protocolMin,
    Status: member.status,
    Tags: member.tags,
  };
}

/** Converts an RPC member record into the client-side member. Throws DecodeError for a bad address length. */
export function recordToMember(record: MemberRecord): RpcMember {
  return {
    name: record.Name,
    addr: record.Addr === null || record.Addr.length === 0 ? '' : bytesToIp(record.Addr),
    port: record.Port,
    tags: record.Tags,
    status: record.Status,
    protocolMin: record.ProtocolMin,
    protocolMax: record.ProtocolMax,
    protocolCur: record.ProtocolCur,
    delegateMin: record.DelegateMin,
    delegateMax: record.DelegateMax,
    delegateCur: record.DelegateCur,
  };
}

// ---------------------------------------------------------------------------------------------
// Field readers with Go's decoding rules

type WireMap = Record<string, unknown>;

/** Returns `value` as a map. Nil gives an empty map, as Go leaves a struct at its zero value. */
export function asMap(value: unknown, what: string): WireMap {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new DecodeError(`${what} must be a msgpack map, got ${describe(value)}`);
  }
  return value as WireMap;
}

export function readString(map: WireMap, key: string, what: string): string {
  const value = map[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') {
    throw new DecodeError(`${what}.${key} must be a msgpack str, got ${describe(value)}`);
  }
  return value;
}

/** Reads a Go []byte field: str or bin, nil stays null. A str is taken as its UTF-8 bytes. */
export function readBytes(map: WireMap, key: string, what: string): Uint8Array | null {
  const value = map[key];
  if (value === undefined || value === null) return null;
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return new TextEncoder().encode(value);
  throw new DecodeError(`${what}.${key} must be msgpack bin or str, got ${describe(value)}`);
}

/** Reads an integer field. A msgpack float is truncated to an integer. */
export function readInt(map: WireMap, key: string, what: string): number {
  const value = map[key];
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'bigint') return Number(value);
  throw new DecodeError(`${what}.${key} must be a msgpack integer, got ${describe(value)}`);
}

export function readFloat(map: WireMap, key: string, what: string): number {
  const value = map[key];
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') return value;
  throw new DecodeError(`${what}.${key} must be a msgpack number, got ${describe(value)}`);
}

export function readBool(map: WireMap, key: string, what: string): boolean {
  const value = map[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    throw new DecodeError(`${what}.${key} must be a msgpack bool, got ${describe(value)}`);
  }
  return value;
}

export function readStringArray(map: WireMap, key: string, what: string): string[] | null {
  const value = map[key];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value))
    throw new DecodeError(`${what}.${key} must be a msgpack array, got ${describe(value)}`);
  return value.map((item, i) => {
    if (typeof item !== 'string') {
      throw new DecodeError(`${what}.${key}[${i}] must be a msgpack str, got ${describe(item)}`);
    }
    return item;
  });
}

export function readStringMap(map: WireMap, key: string, what: string): Record<string, string> | null {
  const value = map[key];
  if (value === undefined || value === null) return null;
  const inner = asMap(value, `${what}.${key}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(inner)) {
    if (typeof v !== 'string') {
      throw new DecodeError(`${what}.${key}[${JSON.stringify(k)}] must be a msgpack str, got ${describe(v)}`);
    }
    out[k] = v;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'nil';
  if (value instanceof Uint8Array) return `bin (${value.length} bytes)`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${String(value).slice(0, 40)}`;
}

// ---------------------------------------------------------------------------------------------
// Parsers: requests (server side)

export function parseRequestHeader(value: unknown, previous: RequestHeader): RequestHeader {
  // The reference agent decodes every header into the same struct, so a key missing from this
  // header keeps the previous header's value. The auth quirk depends on it (see the server).
  const map = asMap(value, 'request header');
  return {
    Command: 'Command' in map ? readString(map, 'Command', 'request header') : previous.Command,
    Seq: 'Seq' in map ? readInt(map, 'Seq', 'request header') : previous.Seq,
  };
}

export function parseHandshakeRequest(value: unknown): HandshakeRequest {
  const map = asMap(value, 'handshake request');
  return { Version: readInt(map, 'Version', 'handshake request') };
}

export function parseAuthRequest(value: unknown): AuthRequest {
  const map = asMap(value, 'auth request');
  return { AuthKey: readString(map, 'AuthKey', 'auth request') };
}

export function parseEventRequest(value: unknown): EventRequest {
  const map = asMap(value, 'event request');
  return {
    Coalesce: readBool(map, 'Coalesce', 'event request'),
    Name: readString(map, 'Name', 'event request'),
    Payload: readBytes(map, 'Payload', 'event request'),
  };
}

export function parseForceLeaveRequest(value: unknown): ForceLeaveRequest {
  const map = asMap(value, 'force-leave request');
  return {
    Node: readString(map, 'Node', 'force-leave request'),
    Prune: readBool(map, 'Prune', 'force-leave request'),
  };
}

export function parseJoinRequest(value: unknown): JoinRequest {
  const map = asMap(value, 'join request');
  return {
    Existing: readStringArray(map, 'Existing', 'join request'),
    Replay: readBool(map, 'Replay', 'join request'),
  };
}

export function parseMembersFilteredRequest(value: unknown): MembersFilteredRequest {
  const map = asMap(value, 'members-filtered request');
  return {
    Name: readString(map, 'Name', 'members-filtered request'),
    Status: readString(map, 'Status', 'members-filtered request'),
    Tags: readStringMap(map, 'Tags', 'members-filtered request'),
  };
}

export function parseTagsRequest(value: unknown): TagsRequest {
  const map = asMap(value, 'tags request');
  return {
    DeleteTags: readStringArray(map, 'DeleteTags', 'tags request'),
    Tags: readStringMap(map, 'Tags', 'tags request'),
  };
}

export function parseStreamRequest(value: unknown): StreamRequest {
  return { Type: readString(asMap(value, 'stream request'), 'Type', 'stream request') };
}

export function parseMonitorRequest(value: unknown): MonitorRequest {
  return { LogLevel: readString(asMap(value, 'monitor request'), 'LogLevel', 'monitor request') };
}

export function parseStopRequest(value: unknown): StopRequest {
  return { Stop: readInt(asMap(value, 'stop request'), 'Stop', 'stop request') };
}

export function parseQueryRequest(value: unknown): QueryRequest {
  const what = 'query request';
  const map = asMap(value, what);
  return {
    FilterNodes: readStringArray(map, 'FilterNodes', what),
    FilterTags: readStringMap(map, 'FilterTags', what),
    Name: readString(map, 'Name', what),
    Payload: readBytes(map, 'Payload', what),
    RelayFactor: readInt(map, 'RelayFactor', what),
    RequestAck: readBool(map, 'RequestAck', what),
    Timeout: readInt(map, 'Timeout', what),
  };
}

export function parseRespondRequest(value: unknown): RespondRequest {
  const map = asMap(value, 'respond request');
  return { ID: readInt(map, 'ID', 'respond request'), Payload: readBytes(map, 'Payload', 'respond request') };
}

export function parseKeyRequest(value: unknown): KeyRequest {
  return { Key: readString(asMap(value, 'key request'), 'Key', 'key request') };
}

export function parseCoordinateRequest(value: unknown): CoordinateRequest {
  return { Node: readString(asMap(value, 'get-coordinate request'), 'Node', 'get-coordinate request') };
}

// ---------------------------------------------------------------------------------------------
// Parsers: replies and records (client side)

export function parseResponseHeader(value: unknown): ResponseHeader {
  const map = asMap(value, 'response header');
  return { Error: readString(map, 'Error', 'response header'), Seq: readInt(map, 'Seq', 'response header') };
}

export function parseMemberRecord(value: unknown): MemberRecord {
  const what = 'member record';
  const map = asMap(value, what);
  return {
    Addr: readBytes(map, 'Addr', what),
    DelegateCur: readInt(map, 'DelegateCur', what),
    DelegateMax: readInt(map, 'DelegateMax', what),
    DelegateMin: readInt(map, 'DelegateMin', what),
    Name: readString(map, 'Name', what),
    Port: readInt(map, 'Port', what),
    ProtocolCur: readInt(map, 'ProtocolCur', what),
    ProtocolMax: readInt(map, 'ProtocolMax', what),
    ProtocolMin: readInt(map, 'ProtocolMin', what),
    Status: readString(map, 'Status', what),
    Tags: readStringMap(map, 'Tags', what) ?? {},
  };
}

function parseMemberList(map: WireMap, what: string): MemberRecord[] {
  const list = map.Members;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list))
    throw new DecodeError(`${what}.Members must be a msgpack array, got ${describe(list)}`);
  return list.map(parseMemberRecord);
}

export function parseMembersResponse(value: unknown): MembersResponse {
  return { Members: parseMemberList(asMap(value, 'members reply'), 'members reply') };
}

export function parseJoinResponse(value: unknown): JoinResponse {
  return { Num: readInt(asMap(value, 'join reply'), 'Num', 'join reply') };
}

export function parseKeyResponse(value: unknown): KeyResponseRecord {
  const what = 'key reply';
  const map = asMap(value, what);
  let keys: Record<string, number> | null = null;
  if (map.Keys !== undefined && map.Keys !== null) {
    const inner = asMap(map.Keys, `${what}.Keys`);
    keys = {};
    for (const key of Object.keys(inner)) keys[key] = readInt(inner, key, `${what}.Keys`);
  }
  return {
    Keys: keys,
    Messages: readStringMap(map, 'Messages', what) ?? {},
    NumErr: readInt(map, 'NumErr', what),
    NumNodes: readInt(map, 'NumNodes', what),
    NumResp: readInt(map, 'NumResp', what),
  };
}

export function parseStatsResponse(value: unknown): StatsResponse {
  const map = asMap(value, 'stats reply');
  const out: StatsResponse = {};
  for (const section of Object.keys(map)) out[section] = readStringMap(map, section, 'stats reply') ?? {};
  return out;
}

export function parseCoordinateResponse(value: unknown): CoordinateResponse {
  const what = 'get-coordinate reply';
  const map = asMap(value, what);
  const coord = asMap(map.Coord, `${what}.Coord`);
  let vec: number[] | null = null;
  if (coord.Vec !== undefined && coord.Vec !== null) {
    if (!Array.isArray(coord.Vec)) throw new DecodeError(`${what}.Coord.Vec must be a msgpack array`);
    vec = coord.Vec.map((item: unknown, i: number) => {
      if (typeof item !== 'number') {
        throw new DecodeError(`${what}.Coord.Vec[${i}] must be a msgpack float, got ${describe(item)}`);
      }
      return item;
    });
  }
  return {
    Coord: {
      Adjustment: readFloat(coord, 'Adjustment', `${what}.Coord`),
      Error: readFloat(coord, 'Error', `${what}.Coord`),
      Height: readFloat(coord, 'Height', `${what}.Coord`),
      Vec: vec,
    },
    Ok: readBool(map, 'Ok', what),
  };
}

const memberEventTypes: ReadonlySet<string> = new Set([
  'member-join',
  'member-leave',
  'member-failed',
  'member-update',
  'member-reap',
]);

export function parseStreamEventRecord(value: unknown): StreamEventRecord {
  const what = 'stream record';
  const map = asMap(value, what);
  const event = readString(map, 'Event', what);
  if (event === 'user') {
    return {
      Coalesce: readBool(map, 'Coalesce', what),
      Event: 'user',
      LTime: readInt(map, 'LTime', what),
      Name: readString(map, 'Name', what),
      Payload: readBytes(map, 'Payload', what),
    };
  }
  if (event === 'query') {
    return {
      Event: 'query',
      ID: readInt(map, 'ID', what),
      LTime: readInt(map, 'LTime', what),
      Name: readString(map, 'Name', what),
      Payload: readBytes(map, 'Payload', what),
    };
  }
  if (memberEventTypes.has(event)) {
    return { Event: event as MemberEventType, Members: parseMemberList(map, what) };
  }
  throw new DecodeError(
    `${what}.Event is ${JSON.stringify(event)}; expected user, query or a member-* event type`,
  );
}

export function parseQueryResultRecord(value: unknown): QueryResultRecord {
  const what = 'query record';
  const map = asMap(value, what);
  const type = readString(map, 'Type', what);
  if (type !== 'ack' && type !== 'response' && type !== 'done') {
    throw new DecodeError(`${what}.Type is ${JSON.stringify(type)}; expected ack, response or done`);
  }
  return { From: readString(map, 'From', what), Payload: readBytes(map, 'Payload', what), Type: type };
}

export function parseLogRecord(value: unknown): LogRecordWire {
  return { Log: readString(asMap(value, 'log record'), 'Log', 'log record') };
}
