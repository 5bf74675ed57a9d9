/**
 * Push/pull anti-entropy: both sides of a TCP exchange send their whole node table (and the
 * delegate's state) and merge the other's. This repairs whatever gossip missed and is how a new
 * node learns the cluster on join.
 */

import { NodeState } from '../codec/message-types.js';
import { encodePushPull, type PushNodeState, type PushPull } from '../codec/messages.js';
import { ProtocolError } from '../util/errors.js';
import type { Membership } from './membership.js';
import { vsnFromBytes, vsnToBytes } from './node.js';

/** Builds the `[6][header][states][user state]` message describing every known node. */
export function encodeLocalState(
  membership: Membership,
  userState: Uint8Array | null,
  join: boolean,
): Uint8Array {
  const nodes: PushNodeState[] = membership.nodes.map((n) => ({
    name: n.name,
    addr: n.addrBytes,
    port: n.port,
    meta: n.meta,
    incarnation: n.incarnation,
    state: n.state,
    vsn: vsnToBytes(n.vsn),
  }));
  const pp: PushPull = { join, nodes, userState: userState && userState.length > 0 ? userState : null };
  return encodePushPull(pp);
}

/**
 * Checks that every node, local and remote, speaks a protocol version inside the range all alive
 * nodes understand. Throws ProtocolError naming the first node outside it; nothing is merged then.
 */
export function verifyProtocol(remote: PushNodeState[], membership: Membership): void {
  let pminMax = 0;
  let pmaxMin = 255;
  let dminMax = 0;
  let dmaxMin = 255;

  const widen = (v: ReturnType<typeof vsnFromBytes>) => {
    pminMax = Math.max(pminMax, v.pmin);
    pmaxMin = Math.min(pmaxMin, v.pmax);
    dminMax = Math.max(dminMax, v.dmin);
    dmaxMin = Math.min(dmaxMin, v.dmax);
  };

  for (const r of remote) {
    if (r.state !== NodeState.alive || !r.vsn || r.vsn.length === 0) continue;
    widen(vsnFromBytes(r.vsn));
  }
  for (const n of membership.nodes) {
    if (n.state !== NodeState.alive) continue;
    widen(n.vsn);
  }

  // The message keeps memberlist's wording, then names the ranges of both sides so an operator
  // sees which node to upgrade or downgrade.
  const local = membership.byName.get(membership.selfName)?.vsn;
  const ranges = (v: ReturnType<typeof vsnFromBytes>, delegate: boolean) => {
    const theirs = delegate ? `[${v.dmin}, ${v.dmax}]` : `[${v.pmin}, ${v.pmax}]`;
    const ours = local
      ? delegate
        ? `[${local.dmin}, ${local.dmax}]`
        : `[${local.pmin}, ${local.pmax}]`
      : '[?]';
    return ` (it understands ${theirs}, this node understands ${ours})`;
  };
  const check = (name: string, v: ReturnType<typeof vsnFromBytes>) => {
    if (v.pcur < pminMax || v.pcur > pmaxMin) {
      throw new ProtocolError(
        `Node '${name}' protocol version (${v.pcur}) is incompatible: [${pminMax}, ${pmaxMin}]${ranges(v, false)}`,
      );
    }
    if (v.dcur < dminMax || v.dcur > dmaxMin) {
      throw new ProtocolError(
        `Node '${name}' delegate protocol version (${v.dcur}) is incompatible: [${dminMax}, ${dmaxMin}]${ranges(v, true)}`,
      );
    }
  };
  for (const r of remote) check(r.name, vsnFromBytes(r.vsn));
  for (const n of membership.nodes) check(n.name, n.vsn);
}

/**
 * Merges a remote node table. Alive entries are processed as alive messages and left ones as leaves.
 * Suspect and dead entries are softened to a suspicion raised by us, so one peer's stale view cannot
 * kill a node outright.
 */
export function mergeRemoteNodes(remote: PushNodeState[], membership: Membership): void {
  for (const r of remote) {
    switch (r.state) {
      case NodeState.alive:
        membership.aliveNode(
          { incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn },
          undefined,
          false,
        );
        break;
      case NodeState.left:
        membership.deadNode({ incarnation: r.incarnation, node: r.name, from: r.name });
        break;
      default:
        membership.suspectNode({ incarnation: r.incarnation, node: r.name, from: membership.selfName });
        break;
    }
  }
}
