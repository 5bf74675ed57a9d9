/**
 * The failure detector: one probe per interval, round-robin over the shuffled node list.
 *
 * One probe of node X, split by phase:
 *  1. direct: ping X (with a suspect message attached when X is already suspect, so it can refute)
 *     and wait `probeTimeout` for the ack;
 *  2. indirect: ask up to `indirectChecks` alive helpers to ping X for us, and in parallel try a
 *     TCP ping to X, until the probe window `probeInterval × (health + 1)` ends;
 *  3. verdict: any ack, or a successful TCP ping, clears X; otherwise X becomes suspect.
 * Lifeguard: the local health score goes down after a success and up by the number of nacks that
 * helpers failed to send after a failure (missing nacks hint that we, not X, have the problem).
 */

import { bytesToIp } from '../codec/ip.js';
import { NodeState } from '../codec/message-types.js';
import { type Ack, encodeMessage, type IndirectPing, type Nack, type Ping } from '../codec/messages.js';
import type { Address } from '../transport/types.js';
import { afterPendingIo, type Clock, type TimerHandle } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { type Rng, shuffle } from '../util/rng.js';
import type { Awareness } from './awareness.js';
import type { MemberlistOptions } from './config.js';
import type { PingDelegate } from './delegate.js';
import type { Membership } from './membership.js';
import { isDeadOrLeft, type NodeRecord, toNodeInfo } from './node.js';

export interface ProberDeps {
  options: MemberlistOptions;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  awareness: Awareness;
  membership: Membership;
  ping: PingDelegate | undefined;
  /** The local node's record (address and port to put in Source fields). */
  self: () => NodeRecord;
  /** Sends one message to an address with piggybacked broadcasts and no CRC. */
  sendToAddress: (to: Address, message: Uint8Array) => Promise<void>;
  /** Sends messages to a known node: compound when several, CRC when it understands it. */
  sendToNode: (node: NodeRecord, messages: Uint8Array[]) => Promise<void>;
  /** Logs a warning caused by a peer's packet, rate-limited per peer and kind. */
  warnPeer: (from: Address, kind: string, message: string) => void;
  /** Pings a node over TCP; resolves true on a matching ack before `deadline` (clock ms). */
  tcpPing: (node: NodeRecord, ping: Ping, deadline: number) => Promise<boolean>;
}

interface AckHandler {
  onAck: (payload: Uint8Array | null, receivedAt: number) => void;
  onNack: () => void;
  timer: TimerHandle;
}

/** Collects what arrives for one probe's sequence number. */
class ProbeState {
  acked = false;
  payload: Uint8Array | null = null;
  ackAt = 0;
  nacks = 0;
  expired = false;
  #wake: (() => void) | undefined;

  signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves at the next ack or expiry, or after `ms` (when given). */
  wait(clock: Clock, ms?: number): Promise<void> {
    if (this.acked || this.expired) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : clock.setTimeout(() => afterPendingIo(done), ms);
      const done = () => {
        timer?.cancel();
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
    });
  }
}

export class Prober {
  #seqNo = 0;
  #probeIndex = 0;
  #probing = false;
  readonly #handlers = new Map<number, AckHandler>();
  readonly #d: ProberDeps;

  constructor(deps: ProberDeps) {
    this.#d = deps;
  }

  /** Next sequence number (uint32, first value 1, wrapping). */
  nextSeqNo(): number {
    this.#seqNo = (this.#seqNo + 1) >>> 0;
    return this.#seqNo;
  }

  /** Runs one probe unless the previous one is still running (missed ticks are skipped). */
  async tick(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      const target = this.#nextTarget();
      if (target) await this.probeNode(target);
    } catch (err) {
      this.#d.logger.error(`Probe failed: ${errorMessage(err)}`);
    } finally {
      this.#probing = false;
    }
  }

  /** Picks the next node to probe, skipping self and dead or left nodes. */
  #nextTarget(): NodeRecord | undefined {
    const m = this.#d.membership;
    for (let checked = 0; checked <= m.nodes.length; checked++) {
      if (this.#probeIndex >= m.nodes.length) {
        m.resetNodes();
        this.#probeIndex = 0;
        continue;
      }
      const node = m.nodes[this.#probeIndex++]!;
      if (node.name === m.selfName || isDeadOrLeft(node)) continue;
      return node;
    }
    return undefined;
  }

  /** Probes one node through the direct, indirect and verdict phases. */
  async probeNode(node: NodeRecord): Promise<void> {
    const d = this.#d;
    const self = d.self();
    const seqNo = this.nextSeqNo();
    const ping: Ping = {
      seqNo,
      node: node.name,
      sourceAddr: self.addrBytes,
      sourcePort: self.port,
      sourceNode: self.name,
    };
    const windowMs = d.awareness.scale(d.options.probeIntervalMs);
    const state = this.#register(seqNo, windowMs);

    const sentAt = d.clock.now();
    try {
      if (node.state === NodeState.alive) {
        await d.sendToAddress(
          { host: node.addr, port: node.port },
          encodeMessage({ type: 'ping', body: ping }),
        );
      } else {
        const suspect = encodeMessage({
          type: 'suspect',
          body: { incarnation: node.incarnation, node: node.name, from: self.name },
        });
        await d.sendToNode(node, [encodeMessage({ type: 'ping', body: ping }), suspect]);
      }
    } catch (err) {
      this.#unregister(seqNo);
      d.logger.error(`Failed to send ping to ${node.name}: ${errorMessage(err)}`);
      return;
    }

    // Direct phase.
    await state.wait(d.clock, d.options.probeTimeoutMs);
    if (state.acked) {
      d.awareness.apply(-1);
      this.#notifyPing(node, state.ackAt - sentAt, state.payload);
      return;
    }

    // Indirect phase: helpers and a TCP ping race the rest of the probe window.
    const expectedNacks = this.#sendIndirectPings(node, seqNo, self);
    let tcpOk = false;
    let tcpDone: Promise<void> = Promise.resolve();
    if (!d.options.disableTcpPings && node.vsn.pmax >= 3) {
      tcpDone = d
        .tcpPing(node, ping, sentAt + windowMs)
        .then((ok) => {
          tcpOk = ok;
        })
        .catch((err) => d.logger.debug(`TCP ping to ${node.name} failed: ${errorMessage(err)}`));
    }

    while (!state.acked && !state.expired) await state.wait(d.clock);
    if (state.acked) {
      d.awareness.apply(-1);
      return;
    }
    await tcpDone;
    if (tcpOk) {
      d.awareness.apply(-1);
      d.logger.warn(
        `Was able to connect to ${node.name} but other probes failed, network may be misconfigured`,
      );
      return;
    }

    // Verdict: failed. Missing nacks count against our own health.
    if (expectedNacks > 0) {
      if (state.nacks < expectedNacks) d.awareness.apply(expectedNacks - state.nacks);
    } else {
      d.awareness.apply(1);
    }
    d.logger.info(`Suspect ${node.name} has failed, no acks received`);
    d.membership.suspectNode({ incarnation: node.incarnation, node: node.name, from: self.name });
  }

  #sendIndirectPings(node: NodeRecord, seqNo: number, self: NodeRecord): number {
    const d = this.#d;
    const candidates = d.membership.nodes.filter(
      (n) => n.name !== self.name && n.name !== node.name && n.state === NodeState.alive,
    );
    const helpers = shuffle(d.rng, candidates).slice(0, d.options.indirectChecks);
    let expectedNacks = 0;
    for (const helper of helpers) {
      const wantNack = helper.vsn.pmax >= 4;
      if (wantNack) expectedNacks++;
      const req: IndirectPing = {
        seqNo,
        target: node.addrBytes,
        port: node.port,
        node: node.name,
        nack: wantNack,
        sourceAddr: self.addrBytes,
        sourcePort: self.port,
        sourceNode: self.name,
      };
      d.sendToAddress(
        { host: helper.addr, port: helper.port },
        encodeMessage({ type: 'indirectPing', body: req }),
      ).catch((err) =>
        d.logger.error(`Failed to send indirect ping to ${helper.name}: ${errorMessage(err)}`),
      );
    }
    return expectedNacks;
  }

  #notifyPing(node: NodeRecord, rttMs: number, payload: Uint8Array | null): void {
    const ping = this.#d.ping;
    if (!ping) return;
    try {
      ping.notifyPingComplete(toNodeInfo(node), rttMs, payload);
    } catch (err) {
      this.#d.logger.error(`Ping delegate failed: ${errorMessage(err)}`);
    }
  }

  #register(seqNo: number, timeoutMs: number): ProbeState {
    const state = new ProbeState();
    this.#addHandler(
      seqNo,
      (payload, at) => {
        state.acked = true;
        state.payload = payload;
        state.ackAt = at;
        state.signal();
      },
      () => {
        state.nacks++;
      },
      timeoutMs,
      () => {
        state.expired = true;
        state.signal();
      },
    );
    return state;
  }

  #addHandler(
    seqNo: number,
    onAck: AckHandler['onAck'],
    onNack: AckHandler['onNack'],
    timeoutMs: number,
    onExpire: () => void,
  ): void {
    const timer = this.#d.clock.setTimeout(
      () =>
        afterPendingIo(() => {
          if (this.#handlers.get(seqNo) !== handler) return;
          this.#handlers.delete(seqNo);
          onExpire();
        }),
      timeoutMs,
    );
    const handler: AckHandler = { onAck, onNack, timer };
    this.#handlers.set(seqNo, handler);
  }

  #unregister(seqNo: number): void {
    const h = this.#handlers.get(seqNo);
    if (h) {
      h.timer.cancel();
      this.#handlers.delete(seqNo);
    }
  }

  /** Sends an ack for a ping addressed to this node or to no node in particular. */
  handlePing(ping: Ping, from: Address): void {
    const d = this.#d;
    if (ping.node !== '' && ping.node !== d.options.name) {
      d.warnPeer(from, 'ping-node', `Got ping for unexpected node '${ping.node}'`);
      return;
    }
    let payload: Uint8Array | null = null;
    if (d.ping) {
      try {
        payload = d.ping.ackPayload();
      } catch (err) {
        d.logger.error(`Ping delegate failed: ${errorMessage(err)}`);
      }
    }
    const ack: Ack = { seqNo: ping.seqNo, payload };
    const to = replyAddress(ping, from);
    d.sendToAddress(to, encodeMessage({ type: 'ack', body: ack })).catch((err) =>
      d.logger.error(`Failed to send ack: ${errorMessage(err)} from=${to.host}:${to.port}`),
    );
  }

  /** Pings a target on behalf of a peer and relays the ack (or a nack when asked for one). */
  handleIndirectPing(req: IndirectPing, from: Address): void {
    const d = this.#d;
    let target: Address;
    try {
      target = { host: bytesToIp(req.target), port: req.port === 0 ? d.options.bindPort : req.port };
    } catch (err) {
      d.logger.warn(
        `Ignoring an indirect ping with a bad target address: ${errorMessage(err)} from=${from.host}:${from.port}`,
      );
      return;
    }
    const requester = replyAddress(req, from);
    const self = d.self();
    const localSeq = this.nextSeqNo();

    const relay = (message: Uint8Array) =>
      d
        .sendToAddress(requester, message)
        .catch((err) => d.logger.error(`Failed to forward ack/nack: ${errorMessage(err)}`));
    this.#addHandler(
      localSeq,
      () => relay(encodeMessage({ type: 'ack', body: { seqNo: req.seqNo, payload: null } })),
      () => {},
      d.options.probeTimeoutMs,
      () => {
        if (req.nack) relay(encodeMessage({ type: 'nack', body: { seqNo: req.seqNo } satisfies Nack }));
      },
    );

    const ping: Ping = {
      seqNo: localSeq,
      node: req.node,
      sourceAddr: self.addrBytes,
      sourcePort: self.port,
      sourceNode: self.name,
    };
    d.sendToAddress(target, encodeMessage({ type: 'ping', body: ping })).catch((err) =>
      d.logger.error(`Failed to send indirect ping: ${errorMessage(err)}`),
    );
  }

  handleAck(ack: Ack, receivedAt: number): void {
    const h = this.#handlers.get(ack.seqNo);
    if (!h) return;
    this.#handlers.delete(ack.seqNo);
    h.timer.cancel();
    h.onAck(ack.payload, receivedAt);
  }

  handleNack(nack: Nack): void {
    this.#handlers.get(nack.seqNo)?.onNack();
  }

  /** Cancels every pending ack handler (shutdown). */
  stop(): void {
    for (const h of this.#handlers.values()) h.timer.cancel();
    this.#handlers.clear();
  }
}

/** Returns the reply address: the Source fields when both are set, else the packet's source. */
function replyAddress(msg: { sourceAddr?: Uint8Array; sourcePort?: number }, from: Address): Address {
  if (msg.sourceAddr && msg.sourceAddr.length > 0 && msg.sourcePort) {
    try {
      return { host: bytesToIp(msg.sourceAddr), port: msg.sourcePort };
    } catch {
      return from;
    }
  }
  return from;
}
