/**
 * Hooks through which a layer above (Serf) plugs into memberlist. Every hook is called from the
 * packet-processing path, so it must return quickly and must not throw; an exception is caught,
 * logged and otherwise ignored. Buffers passed in may be kept.
 */

import type { NodeInfo } from './node.js';

export interface Delegate {
  /** Metadata announced for the local node; at most `limit` bytes. */
  nodeMeta(limit: number): Uint8Array;
  /** A user message (type 8 payload) arrived by packet or stream. */
  notifyMsg(message: Uint8Array): void;
  /** Messages to piggyback, each costing its length plus `overhead`, within `limit` bytes. */
  getBroadcasts(overhead: number, limit: number): Uint8Array[];
  /** State sent in a push/pull exchange. */
  localState(join: boolean): Uint8Array;
  /** State received in a push/pull exchange, after the node list was merged. */
  mergeRemoteState(state: Uint8Array, join: boolean): void;
}

export interface EventDelegate {
  /** A node became alive (also the first time it is seen). */
  notifyJoin(node: NodeInfo): void;
  /** A node left gracefully or was declared dead (`node.state` shows which). */
  notifyLeave(node: NodeInfo): void;
  /** A node's metadata changed. */
  notifyUpdate(node: NodeInfo): void;
}

export interface ConflictDelegate {
  /** Another node claims a known node's name from a different address. */
  notifyConflict(existing: NodeInfo, other: NodeInfo): void;
}

export interface PingDelegate {
  /** Payload attached to every ack this node sends (Serf: its network coordinate). */
  ackPayload(): Uint8Array;
  /** A direct probe of `node` was acked after `rttMs` with `payload`. */
  notifyPingComplete(node: NodeInfo, rttMs: number, payload: Uint8Array | null): void;
}

export interface MergeDelegate {
  /** May veto a join merge by returning an error message (the push/pull then fails). */
  notifyMerge(nodes: NodeInfo[]): string | undefined;
}

export interface AliveDelegate {
  /** May ignore an alive message by returning an error message. */
  notifyAlive(node: NodeInfo): string | undefined;
}

export interface Delegates {
  delegate?: Delegate;
  events?: EventDelegate;
  conflict?: ConflictDelegate;
  ping?: PingDelegate;
  merge?: MergeDelegate;
  alive?: AliveDelegate;
}
