/**
 * A member as memberlist tracks it, and the version vector every alive message carries.
 */

import { NodeState } from '../codec/message-types.js';

export type NodeStateName = 'alive' | 'suspect' | 'dead' | 'left';

export const STATE_NAMES: Record<number, NodeStateName> = {
  [NodeState.alive]: 'alive',
  [NodeState.suspect]: 'suspect',
  [NodeState.dead]: 'dead',
  [NodeState.left]: 'left',
};

/**
 * The six-byte version vector `[pmin, pmax, pcur, dmin, dmax, dcur]`: the memberlist protocol range
 * and version spoken, then the same for the delegate (Serf). Feature use toward a peer is decided by
 * its pmax: 3 adds the TCP fallback ping, 4 nacks, 5 the CRC wrapper.
 */
export interface VersionVector {
  pmin: number;
  pmax: number;
  pcur: number;
  dmin: number;
  dmax: number;
  dcur: number;
}

export function vsnToBytes(v: VersionVector): Uint8Array {
  return Uint8Array.from([v.pmin, v.pmax, v.pcur, v.dmin, v.dmax, v.dcur]);
}

/** Reads a version vector; a missing or short one is all zeros (an old or malformed peer). */
export function vsnFromBytes(b: Uint8Array | null): VersionVector {
  if (!b || b.length < 6) return { pmin: 0, pmax: 0, pcur: 0, dmin: 0, dmax: 0, dcur: 0 };
  return { pmin: b[0]!, pmax: b[1]!, pcur: b[2]!, dmin: b[3]!, dmax: b[4]!, dcur: b[5]! };
}

/** A read-only snapshot of one member handed to delegates and API callers. */
export interface NodeInfo {
  name: string;
  /** Textual IP address. */
  addr: string;
  port: number;
  meta: Uint8Array;
  state: NodeStateName;
  incarnation: number;
  vsn: VersionVector;
}

/** The mutable record memberlist keeps per node. */
export interface NodeRecord {
  name: string;
  addr: string;
  /** Raw 4- or 16-byte address as it came on the wire, re-sent unchanged in push/pull. */
  addrBytes: Uint8Array;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: number;
  /** Clock time (ms) of the last state change. */
  stateChange: number;
  vsn: VersionVector;
}

export function toNodeInfo(n: NodeRecord): NodeInfo {
  return {
    name: n.name,
    addr: n.addr,
    port: n.port,
    meta: n.meta,
    state: STATE_NAMES[n.state] ?? 'dead',
    incarnation: n.incarnation,
    vsn: { ...n.vsn },
  };
}

export function isDeadOrLeft(n: NodeRecord): boolean {
  return n.state === NodeState.dead || n.state === NodeState.left;
}
