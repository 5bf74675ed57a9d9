/**
 * Memberlist message bodies. The TypeScript fields are camelCase. On the wire each body is a
 * one-byte message type followed by a msgpack map keyed by the Go field names (`SeqNo`,
 * `SourceAddr`, ...) in sorted order.
 *
 * Decoding follows the Go side: unknown keys are ignored, missing keys and nil give zero values,
 * and bytes after the body are ignored. Byte fields in decoded messages are copies of the input.
 */

import { DecodeError, InvalidArgumentError } from '../util/errors.js';
import { MessageType } from './message-types.js';
import {
  decodeGossipPrefix,
  expectMap,
  type GossipDecoded,
  GossipEncoder,
  type GossipMap,
  IncompleteInputError,
  MAX_UINT16,
  MAX_UINT32,
  readBool,
  readBytes,
  readString,
  readUint,
} from './msgpack.js';

export interface Ping {
  seqNo: number;
  /** Name of the node being pinged; a receiver with another name ignores the ping. */
  node: string;
  /** Address (4 or 16 bytes) the ack is sent to. Sent only when non-empty. */
  sourceAddr?: Uint8Array;
  /** Sent only when non-zero. */
  sourcePort?: number;
  /** Sent only when non-empty. */
  sourceNode?: string;
}

export interface IndirectPing {
  seqNo: number;
  /** IP of the node to probe, 4 or 16 bytes. */
  target: Uint8Array;
  port: number;
  node: string;
  /** True when the requester expects a nack if the target does not respond in time. */
  nack: boolean;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

export interface Ack {
  seqNo: number;
  /** Ping delegate payload (Serf's coordinate); null is sent as msgpack nil. */
  payload: Uint8Array | null;
}

export interface Nack {
  seqNo: number;
}

export interface Suspect {
  incarnation: number;
  node: string;
  from: string;
}

export interface Alive {
  incarnation: number;
  node: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array | null;
  /** [pmin, pmax, pcur, dmin, dmax, dcur]. Always send 6 bytes: Debian 0.2.2 crashes on 1 to 5. */
  vsn: Uint8Array | null;
}

export interface Dead {
  incarnation: number;
  node: string;
  /** Name of the node that declares `node` dead. Equal to `node` for a voluntary leave. */
  from: string;
}

export interface ErrResp {
  error: string;
}

export interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array | null;
  incarnation: number;
  /** A `NodeState` value: 0 alive, 1 suspect, 2 dead, 3 left. */
  state: number;
  vsn: Uint8Array | null;
}

export interface PushPull {
  join: boolean;
  nodes: PushNodeState[];
  /** Delegate (Serf) state sent after the node states; null or empty sends none. */
  userState: Uint8Array | null;
}

export type Message =
  | { type: 'ping'; body: Ping }
  | { type: 'indirectPing'; body: IndirectPing }
  | { type: 'ack'; body: Ack }
  | { type: 'nack'; body: Nack }
  | { type: 'suspect'; body: Suspect }
  | { type: 'alive'; body: Alive }
  | { type: 'dead'; body: Dead }
  | { type: 'err'; body: ErrResp }
  | { type: 'user'; body: Uint8Array };

/**
 * Encodes a message as `[type byte][msgpack body]`. A user message is `[8][raw bytes]` with no
 * msgpack around the bytes.
 */
export function encodeMessage(msg: Message): Uint8Array {
  const enc = new GossipEncoder(64);
  enc.writeByte(MessageType[msg.type]);
  switch (msg.type) {
    case 'ping':
      enc.write({
        Node: msg.body.node,
        SeqNo: msg.body.seqNo,
        ...sourceFields(msg.body),
      });
      break;
    case 'indirectPing':
      enc.write({
        Nack: msg.body.nack,
        Node: msg.body.node,
        Port: msg.body.port,
        SeqNo: msg.body.seqNo,
        Target: msg.body.target,
        ...sourceFields(msg.body),
      });
      break;
    case 'ack':
      enc.write({ Payload: msg.body.payload, SeqNo: msg.body.seqNo });
      break;
    case 'nack':
      enc.write({ SeqNo: msg.body.seqNo });
      break;
    case 'suspect':
    case 'dead':
      enc.write({ From: msg.body.from, Incarnation: msg.body.incarnation, Node: msg.body.node });
      break;
    case 'alive':
      enc.write({
        Addr: msg.body.addr,
        Incarnation: msg.body.incarnation,
        Meta: msg.body.meta,
        Node: msg.body.node,
        Port: msg.body.port,
        Vsn: msg.body.vsn,
      });
      break;
    case 'err':
      enc.write({ Error: msg.body.error });
      break;
    case 'user':
      enc.writeRaw(msg.body);
      break;
    default:
      throw new InvalidArgumentError(
        `cannot encode message type ${JSON.stringify((msg as { type: unknown }).type)}`,
      );
  }
  return enc.finish();
}

/** Returns the omitempty Source* fields, with empty values set to undefined so the encoder leaves them out. */
function sourceFields(body: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string }) {
  return {
    SourceAddr: body.sourceAddr && body.sourceAddr.length > 0 ? body.sourceAddr : undefined,
    SourceNode: body.sourceNode ? body.sourceNode : undefined,
    SourcePort: body.sourcePort ? body.sourcePort : undefined,
  };
}

/**
 * Decodes one message of the types ping, indirectPing, ack, nack, suspect, alive, dead, err and
 * user. Other type bytes (compound, compress, hasCrc, pushPull, encrypt) have their own decoders
 * and are a DecodeError here, as is an unknown byte.
 */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.length === 0) throw new DecodeError('empty message: expected at least a type byte');
  const typeByte = buf[0]!;
  if (typeByte === MessageType.user) return { type: 'user', body: new Uint8Array(buf.subarray(1)) };

  const name = bodyTypeName(typeByte);
  return withContext(name, () => {
    const body = expectMap(decodeGossipPrefix(buf, 1).value, 'body');
    switch (typeByte) {
      case MessageType.ping:
        return { type: 'ping', body: decodePing(body) };
      case MessageType.indirectPing:
        return { type: 'indirectPing', body: decodeIndirectPing(body) };
      case MessageType.ack:
        return { type: 'ack', body: { payload: readBytes(body, 'Payload'), seqNo: readSeqNo(body) } };
      case MessageType.nack:
        return { type: 'nack', body: { seqNo: readSeqNo(body) } };
      case MessageType.suspect:
        return { type: 'suspect', body: decodeAccusation(body) };
      case MessageType.dead:
        return { type: 'dead', body: decodeAccusation(body) };
      case MessageType.alive:
        return { type: 'alive', body: decodeAlive(body) };
      default:
        return { type: 'err', body: { error: readString(body, 'Error') } };
    }
  });
}

function bodyTypeName(typeByte: number): string {
  switch (typeByte) {
    case MessageType.ping:
      return 'ping';
    case MessageType.indirectPing:
      return 'indirectPing';
    case MessageType.ack:
      return 'ack';
    case MessageType.nack:
      return 'nack';
    case MessageType.suspect:
      return 'suspect';
    case MessageType.alive:
      return 'alive';
    case MessageType.dead:
      return 'dead';
    case MessageType.err:
      return 'err';
    default:
      throw new DecodeError(
        `message type byte ${typeByte} is not a ping, indirectPing, ack, nack, suspect, alive, dead, err or user message`,
      );
  }
}

/** Runs `decode` and prefixes any DecodeError message with `what`, keeping IncompleteInputError. */
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

function readSeqNo(body: GossipMap): number {
  return readUint(body, 'SeqNo', MAX_UINT32);
}

/** Reads an address field that must hold 4 or 16 bytes. */
function readAddr(body: GossipMap, key: string): Uint8Array {
  const addr = readBytes(body, key) ?? new Uint8Array(0);
  if (addr.length !== 4 && addr.length !== 16) {
    throw new DecodeError(
      `field "${key}": expected a 4-byte or 16-byte IP address, got ${addr.length} bytes`,
    );
  }
  return addr;
}

/** Adds the omitempty Source* fields that are present and non-empty. */
function readSourceFields(
  body: GossipMap,
  into: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string },
) {
  const sourceAddr = readBytes(body, 'SourceAddr');
  if (sourceAddr && sourceAddr.length > 0) {
    if (sourceAddr.length !== 4 && sourceAddr.length !== 16) {
      throw new DecodeError(
        `field "SourceAddr": expected a 4-byte or 16-byte IP address, got ${sourceAddr.length} bytes`,
      );
    }
    into.sourceAddr = sourceAddr;
  }
  const sourcePort = readUint(body, 'SourcePort', MAX_UINT16);
  if (sourcePort > 0) into.sourcePort = sourcePort;
  const sourceNode = readString(body, 'SourceNode');
  if (sourceNode !== '') into.sourceNode = sourceNode;
}

function decodePing(body: GossipMap): Ping {
  const ping: Ping = { seqNo: readSeqNo(body), node: readString(body, 'Node') };
  readSourceFields(body, ping);
  return ping;
}

function decodeIndirectPing(body: GossipMap): IndirectPing {
  const req: IndirectPing = {
    seqNo: readSeqNo(body),
    target: readAddr(body, 'Target'),
    port: readUint(body, 'Port', MAX_UINT16),
    node: readString(body, 'Node'),
    nack: readBool(body, 'Nack'),
  };
  readSourceFields(body, req);
  return req;
}

function decodeAccusation(body: GossipMap): Suspect & Dead {
  return {
    incarnation: readUint(body, 'Incarnation', MAX_UINT32),
    node: readString(body, 'Node'),
    from: readString(body, 'From'),
  };
}

function decodeAlive(body: GossipMap): Alive {
  return {
    incarnation: readUint(body, 'Incarnation', MAX_UINT32),
    node: readString(body, 'Node'),
    addr: readAddr(body, 'Addr'),
    port: readUint(body, 'Port', MAX_UINT16),
    meta: readBytes(body, 'Meta'),
    vsn: readBytes(body, 'Vsn'),
  };
}

/**
 * Encodes a push/pull stream message: `[6]`, the header `{Join, Nodes, UserStateLen}`, one map per
 * node state, then the raw user state bytes.
 */
export function encodePushPull(pp: PushPull): Uint8Array {
  const userState = pp.userState ?? new Uint8Array(0);
  const enc = new GossipEncoder(256 + pp.nodes.length * 128 + userState.length);
  enc.writeByte(MessageType.pushPull);
  enc.write({ Join: pp.join, Nodes: pp.nodes.length, UserStateLen: userState.length });
  for (const node of pp.nodes) {
    enc.write({
      Addr: node.addr,
      Incarnation: node.incarnation,
      Meta: node.meta,
      Name: node.name,
      Port: node.port,
      State: node.state,
      Vsn: node.vsn,
    });
  }
  enc.writeRaw(userState);
  return enc.finish();
}

/**
 * Decodes a push/pull body starting at `offset` (just after the type byte 6). Counts and lengths
 * from the peer are checked against the bytes present before anything is allocated for them.
 * When the buffer ends early the error is an IncompleteInputError, so a stream reader that has
 * not yet read the whole message can read more and retry. Bytes after the user state are ignored.
 */
export function decodePushPullBody(buf: Uint8Array, offset: number): PushPull {
  return withContext('pushPull', () => {
    const first = decodeGossipPrefix(buf, offset);
    const header = expectMap(first.value, 'header');
    const join = readBool(header, 'Join');
    const nodeCount = readUint(header, 'Nodes', MAX_UINT32);
    const userStateLength = readUint(header, 'UserStateLen', MAX_UINT32);

    let pos = first.offset;
    // Each node state is a map of at least one byte, so more nodes than bytes cannot all be present.
    if (nodeCount > buf.length - pos) {
      throw new IncompleteInputError(
        `header announces ${nodeCount} node states but only ${buf.length - pos} bytes follow`,
      );
    }
    const nodes: PushNodeState[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const next = decodeGossipPrefix(buf, pos);
      pos = next.offset;
      nodes.push(withContext(`node state ${i}`, () => decodePushNodeState(next.value)));
    }

    if (userStateLength > buf.length - pos) {
      throw new IncompleteInputError(
        `header announces ${userStateLength} bytes of user state but only ${buf.length - pos} bytes follow`,
      );
    }
    const userState = userStateLength > 0 ? new Uint8Array(buf.subarray(pos, pos + userStateLength)) : null;
    return { join, nodes, userState };
  });
}

function decodePushNodeState(value: GossipDecoded): PushNodeState {
  const map = expectMap(value, 'body');
  return {
    name: readString(map, 'Name'),
    addr: readAddr(map, 'Addr'),
    port: readUint(map, 'Port', MAX_UINT16),
    meta: readBytes(map, 'Meta'),
    incarnation: readUint(map, 'Incarnation', MAX_UINT32),
    state: readUint(map, 'State', MAX_UINT32),
    vsn: readBytes(map, 'Vsn'),
  };
}
