/**
 * The node table and the alive / suspect / dead state machine. Every fact about a node, from a
 * packet, a push/pull merge or a local probe, goes through `aliveNode`, `suspectNode` or
 * `deadNode`, which decide by incarnation number whether it is news, update the table, queue the
 * fact for gossip and raise join / leave / update events.
 */

import { bytesToIp } from '../codec/ip.js';
import { NodeState } from '../codec/message-types.js';
import { type Alive, type Dead, encodeMessage, type Suspect } from '../codec/messages.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { type Rng, randomInt, shuffle } from '../util/rng.js';
import type { Awareness } from './awareness.js';
import type { TransmitLimitedQueue } from './broadcast-queue.js';
import type { MemberlistOptions } from './config.js';
import type { Delegates } from './delegate.js';
import { isDeadOrLeft, type NodeRecord, toNodeInfo, vsnFromBytes, vsnToBytes } from './node.js';
import { RateLimiter } from './rate-limit.js';
import { Suspicion } from './suspicion.js';
import { expectedConfirmations, suspicionTimeout } from './timing.js';

export interface MembershipDeps {
  options: MemberlistOptions;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  delegates: Delegates;
  awareness: Awareness;
  broadcasts: TransmitLimitedQueue;
  /** True once a graceful leave started: the local node then stops refuting its own death. */
  isLeaving: () => boolean;
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Repeated complaints about one node are logged at most once per this many ms. */
const COMPLAINT_INTERVAL_MS = 10_000;

export class Membership {
  /** Probe order; new nodes are inserted at random positions. */
  nodes: NodeRecord[] = [];
  readonly byName = new Map<string, NodeRecord>();
  readonly #suspicions = new Map<string, Suspicion>();
  #incarnation = 0;
  readonly #d: MembershipDeps;
  /** Keeps repeated complaints about the same node (conflicts, bad versions) from flooding the log. */
  readonly #complaints: RateLimiter;

  constructor(deps: MembershipDeps) {
    this.#d = deps;
    this.#complaints = new RateLimiter(deps.clock, COMPLAINT_INTERVAL_MS);
  }

  #complain(level: 'warn' | 'error', key: string, message: string): void {
    const suppressed = this.#complaints.allow(key);
    if (suppressed < 0) return;
    this.#d.logger[level](
      suppressed > 0 ? `${message} (${suppressed} similar messages suppressed)` : message,
    );
  }

  get selfName(): string {
    return this.#d.options.name;
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  /** Next own incarnation number (uint32, wrapping like the reference's counter). */
  nextIncarnation(): number {
    this.#incarnation = (this.#incarnation + 1) >>> 0;
    return this.#incarnation;
  }

  /** Estimated cluster size used by timers: every listed node, dead ones included until reaped. */
  get estimatedNodes(): number {
    return this.nodes.length;
  }

  /** Alive and suspect nodes, the local one included. */
  liveNodes(): NodeRecord[] {
    return this.nodes.filter((n) => !isDeadOrLeft(n));
  }

  /** Processes an alive message. `bootstrap` marks the local node's own announcements. */
  aliveNode(a: Alive, notify: (() => void) | undefined, bootstrap: boolean): void {
    const d = this.#d;
    const isLocal = a.node === this.selfName;
    if (isLocal && d.isLeaving()) return;

    if (a.vsn && a.vsn.length >= 3) {
      const [pmin, pmax] = [a.vsn[0]!, a.vsn[1]!];
      if (pmin === 0 || pmax === 0 || pmin > pmax) {
        this.#complain(
          'warn',
          `vsn:${a.node}`,
          `Ignoring an alive message for '${a.node}' with a broken protocol version range [${pmin}, ${pmax}]`,
        );
        return;
      }
    }

    let addr: string;
    try {
      addr = bytesToIp(a.addr);
    } catch (err) {
      this.#complain(
        'warn',
        `addr:${a.node}`,
        `Ignoring an alive message for '${a.node}': ${errorMessage(err)}`,
      );
      return;
    }
    const port = a.port === 0 ? d.options.bindPort : a.port;
    const vsn = vsnFromBytes(a.vsn);
    const meta = a.meta ?? new Uint8Array(0);

    if (d.delegates.alive) {
      const veto = d.delegates.alive.notifyAlive({
        name: a.node,
        addr,
        port,
        meta,
        state: 'alive',
        incarnation: a.incarnation,
        vsn,
      });
      if (veto) {
        d.logger.warn(`Ignoring an alive message for '${a.node}': ${veto}`);
        return;
      }
    }

    let node = this.byName.get(a.node);
    let reclaimed = false;
    if (!node) {
      // A new node enters as dead with incarnation 0, so the checks below treat this alive message
      // like any other and the transition dead → alive raises the join event.
      node = {
        name: a.node,
        addr,
        addrBytes: a.addr,
        port,
        meta,
        incarnation: 0,
        state: NodeState.dead,
        stateChange: d.clock.now(),
        vsn,
      };
      this.byName.set(a.node, node);
      this.#insertAtRandom(node);
    } else if (node.addr !== addr || node.port !== port) {
      const reclaimAfter = d.options.deadNodeReclaimTimeMs;
      const canReclaim =
        reclaimAfter > 0 && node.state === NodeState.dead && d.clock.now() - node.stateChange > reclaimAfter;
      if (node.state === NodeState.left || canReclaim) {
        d.logger.info(
          `Updating address for left or failed node ${node.name} from ${node.addr}:${node.port} to ${addr}:${port}`,
        );
        reclaimed = true;
      } else {
        this.#complain(
          'error',
          `conflict:${a.node}`,
          `Conflicting address for ${a.node}. Mine: ${node.addr}:${node.port} Theirs: ${addr}:${port} Old state: ${node.state}`,
        );
        d.delegates.conflict?.notifyConflict(toNodeInfo(node), {
          name: a.node,
          addr,
          port,
          meta,
          state: 'alive',
          incarnation: a.incarnation,
          vsn,
        });
        return;
      }
    }

    if (!isLocal && !reclaimed && a.incarnation <= node.incarnation) return;
    if (isLocal && a.incarnation < node.incarnation) return;

    this.#cancelSuspicion(a.node);

    const oldState = node.state;
    const oldMeta = node.meta;

    if (isLocal && !bootstrap) {
      const same =
        bytesEqual(vsnToBytes(node.vsn), vsnToBytes(vsn)) &&
        bytesEqual(node.meta, meta) &&
        a.incarnation === node.incarnation;
      if (same) return;
      this.refute(node, a.incarnation);
      d.logger.warn(
        `Refuting an alive message for '${a.node}' (${addr}:${port}) with different metadata or version`,
      );
      return;
    }

    this.#broadcast(a.node, encodeMessage({ type: 'alive', body: a }), notify);
    node.vsn = vsn;
    node.incarnation = a.incarnation;
    node.meta = meta;
    node.addr = addr;
    node.addrBytes = a.addr;
    node.port = port;
    if (node.state !== NodeState.alive) {
      node.state = NodeState.alive;
      node.stateChange = d.clock.now();
    }

    const events = d.delegates.events;
    if (!events) return;
    if (oldState === NodeState.dead || oldState === NodeState.left) {
      this.#safely(() => events.notifyJoin(toNodeInfo(node)));
    } else if (!bytesEqual(oldMeta, node.meta)) {
      this.#safely(() => events.notifyUpdate(toNodeInfo(node)));
    }
  }

  /** Processes a suspect message: starts or confirms a suspicion, or refutes one about us. */
  suspectNode(s: Suspect): void {
    const d = this.#d;
    const node = this.byName.get(s.node);
    if (!node || s.incarnation < node.incarnation) return;

    const existing = this.#suspicions.get(s.node);
    if (existing) {
      if (existing.confirm(s.from)) this.#broadcast(s.node, encodeMessage({ type: 'suspect', body: s }));
      return;
    }

    if (node.state !== NodeState.alive) return;

    if (node.name === this.selfName) {
      this.refute(node, s.incarnation);
      d.logger.warn(`Refuting a suspect message (from: ${s.from})`);
      return;
    }

    this.#broadcast(s.node, encodeMessage({ type: 'suspect', body: s }));
    node.incarnation = s.incarnation;
    node.state = NodeState.suspect;
    const changedAt = d.clock.now();
    node.stateChange = changedAt;

    const n = this.estimatedNodes;
    const k = expectedConfirmations(d.options.suspicionMult, n);
    const min = suspicionTimeout(d.options.suspicionMult, n, d.options.probeIntervalMs);
    const max = d.options.suspicionMaxTimeoutMult * min;
    const suspicion = new Suspicion(s.from, k, min, max, d.clock, (confirmations) => {
      this.#suspicions.delete(s.node);
      const current = this.byName.get(s.node);
      if (!current || current.state !== NodeState.suspect || current.stateChange !== changedAt) return;
      d.logger.info(
        `Marking ${current.name} as failed, suspect timeout reached (${confirmations} peer confirmations)`,
      );
      this.deadNode({ incarnation: current.incarnation, node: current.name, from: this.selfName });
    });
    this.#suspicions.set(s.node, suspicion);
  }

  /** Processes a dead message. `From == Node` is a graceful leave and ends in state left. */
  deadNode(msg: Dead, notify?: () => void): void {
    const d = this.#d;
    const node = this.byName.get(msg.node);
    if (!node || msg.incarnation < node.incarnation) {
      notify?.();
      return;
    }

    this.#cancelSuspicion(msg.node);
    if (isDeadOrLeft(node)) {
      notify?.();
      return;
    }

    if (node.name === this.selfName && !d.isLeaving()) {
      this.refute(node, msg.incarnation);
      d.logger.warn(`Refuting a dead message (from: ${msg.from})`);
      return;
    }

    this.#broadcast(msg.node, encodeMessage({ type: 'dead', body: msg }), notify);
    node.incarnation = msg.incarnation;
    node.state = msg.node === msg.from ? NodeState.left : NodeState.dead;
    node.stateChange = d.clock.now();

    const events = d.delegates.events;
    if (events) this.#safely(() => events.notifyLeave(toNodeInfo(node)));
  }

  /** Announces the local node alive with an incarnation above `accused`, countering a false report. */
  refute(self: NodeRecord, accused: number): void {
    let inc = this.nextIncarnation();
    if (accused >= inc) {
      this.#incarnation = (accused + 1) >>> 0;
      inc = this.#incarnation;
    }
    self.incarnation = inc;
    this.#d.awareness.apply(1);
    const alive: Alive = {
      incarnation: inc,
      node: self.name,
      addr: self.addrBytes,
      port: self.port,
      meta: self.meta,
      vsn: vsnToBytes(self.vsn),
    };
    this.#broadcast(self.name, encodeMessage({ type: 'alive', body: alive }));
  }

  /**
   * Forgets nodes that have been dead or left for longer than `gossipToTheDeadTime` and shuffles the
   * probe order. Runs when a probe round wraps around. Left nodes are dropped too (as newer memberlist
   * does), since the Serf layer keeps its own record of them.
   */
  resetNodes(): void {
    const now = this.#d.clock.now();
    const keep: NodeRecord[] = [];
    for (const n of this.nodes) {
      if (
        isDeadOrLeft(n) &&
        n.name !== this.selfName &&
        now - n.stateChange > this.#d.options.gossipToTheDeadTimeMs
      ) {
        this.byName.delete(n.name);
        continue;
      }
      keep.push(n);
    }
    this.nodes = shuffle(this.#d.rng, keep);
  }

  /** Cancels every suspicion timer (shutdown). */
  stop(): void {
    for (const s of this.#suspicions.values()) s.cancel();
    this.#suspicions.clear();
  }

  #cancelSuspicion(name: string): void {
    const s = this.#suspicions.get(name);
    if (s) {
      s.cancel();
      this.#suspicions.delete(name);
    }
  }

  #insertAtRandom(node: NodeRecord): void {
    this.nodes.push(node);
    const last = this.nodes.length - 1;
    const j = randomInt(this.#d.rng, this.nodes.length);
    this.nodes[last] = this.nodes[j]!;
    this.nodes[j] = node;
  }

  #broadcast(name: string, message: Uint8Array, notify?: () => void): void {
    this.#d.broadcasts.queue({ name, message, ...(notify ? { finished: notify } : {}) });
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#d.logger.error(`Event delegate failed: ${errorMessage(err)}`);
    }
  }
}
