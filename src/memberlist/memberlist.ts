/**
 * A memberlist node: SWIM membership and failure detection with the Lifeguard refinements,
 * wire-compatible with HashiCorp memberlist 0.2.2.
 *
 * This class wires the pieces together and owns the lifecycle. The transport delivers packets and
 * streams here. `Membership` keeps the node table and state machine, `Prober` runs the failure
 * detector, the broadcast queue feeds gossip, and push/pull streams repair what gossip missed.
 */

import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import {
  COMPOUND_OVERHEAD,
  COMPOUND_PART_OVERHEAD,
  decodeCompound,
  decompressMessage,
  encodeCompound,
  USER_MSG_OVERHEAD,
} from '../codec/framing.js';
import { ipToBytes } from '../codec/ip.js';
import { MessageType, NodeState } from '../codec/message-types.js';
import {
  decodeMessage,
  decodePushPullBody,
  encodeMessage,
  type Ping,
  type PushPull,
} from '../codec/messages.js';
import { decodeGossipPrefix, readUint } from '../codec/msgpack.js';
import type { Keyring } from '../security/keyring.js';
import { StreamReader } from '../transport/stream-reader.js';
import type { Address, Stream, Transport } from '../transport/types.js';
import { UdpTcpTransport } from '../transport/udp-tcp.js';
import { type Clock, SystemClock } from '../util/clock.js';
import {
  CryptoError,
  DecodeError,
  errorMessage,
  InvalidArgumentError,
  NetworkError,
  NotRunningError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { mathRandom, type Rng, shuffle } from '../util/rng.js';
import { Awareness } from './awareness.js';
import { TransmitLimitedQueue } from './broadcast-queue.js';
import {
  lanDefaults,
  type MemberlistOptions,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  validateOptions,
} from './config.js';
import type { Delegates } from './delegate.js';
import { Membership } from './membership.js';
import { isDeadOrLeft, type NodeInfo, type NodeRecord, toNodeInfo, vsnToBytes } from './node.js';
import { Prober } from './probe.js';
import { encodeLocalState, mergeRemoteNodes, verifyProtocol } from './push-pull.js';
import { RateLimiter } from './rate-limit.js';
import { pushPullScale } from './timing.js';
import {
  encryptionEnabled,
  encryptionOverhead,
  openPacket,
  readObject,
  readRawObject,
  readStreamMessage,
  sealPacket,
  sealStreamMessage,
  type WireSettings,
} from './wire.js';

/** Largest node metadata in bytes; Serf's encoded tags must fit. */
export const META_MAX_SIZE = 512;

/** Compound and compress messages may nest; deeper nesting is refused to bound recursion. */
const MAX_NESTING = 4;

/**
 * Maximum bytes one UDP packet may decompress to, all its compress parts together. Go nodes compress
 * a packet only when that shrinks it, so a real packet expands to at most about its 64 KiB datagram
 * size. The cap leaves room for that and keeps a crafted LZW bomb from holding the event loop.
 */
const MAX_PACKET_DECOMPRESSED = 256 * 1024;

/** How often the same kind of bad-packet warning may be logged per peer (see `#warnBadPacket`). */
const BAD_PACKET_LOG_INTERVAL_MS = 10_000;

export interface MemberlistDeps {
  /** Defaults to UDP and TCP sockets on the configured bind address. */
  transport?: Transport;
  clock?: Clock;
  rng?: Rng;
  logger?: Logger;
  /** Enables encryption when it contains at least one key. Shared with the Serf key manager. */
  keyring?: Keyring;
  delegates?: Delegates;
  /** Resolves host names given to `join`; defaults to the system resolver. */
  resolve?: (host: string) => Promise<string[]>;
}

export class Memberlist {
  readonly options: Readonly<MemberlistOptions>;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #logger: Logger;
  readonly #keyring: Keyring | undefined;
  readonly #delegates: Delegates;
  readonly #awareness: Awareness;
  readonly #broadcasts: TransmitLimitedQueue;
  readonly #membership: Membership;
  readonly #prober: Prober;
  readonly #badPackets: RateLimiter;
  readonly #wire: WireSettings;
  readonly #resolve: (host: string) => Promise<string[]>;
  #timers: { cancel(): void }[] = [];
  #advertise: Address = { host: '', port: 0 };
  #leaving = false;
  #shutdown = false;
  #pushPullsInFlight = 0;

  private constructor(options: MemberlistOptions, deps: MemberlistDeps) {
    this.options = Object.freeze({ ...options });
    this.#clock = deps.clock ?? new SystemClock();
    this.#rng = deps.rng ?? mathRandom;
    this.#logger = (deps.logger ?? silentLogger).child({ component: 'memberlist' });
    this.#keyring = deps.keyring;
    this.#delegates = deps.delegates ?? {};
    this.#transport =
      deps.transport ??
      new UdpTcpTransport({
        bindAddr: options.bindAddr,
        bindPort: options.bindPort,
        clock: this.#clock,
        logger: deps.logger ?? silentLogger,
      });
    this.#awareness = new Awareness(options.awarenessMaxMultiplier);
    this.#broadcasts = new TransmitLimitedQueue(
      options.retransmitMult,
      () => this.#membership.estimatedNodes,
    );
    this.#membership = new Membership({
      options: this.options,
      clock: this.#clock,
      rng: this.#rng,
      logger: this.#logger,
      delegates: this.#delegates,
      awareness: this.#awareness,
      broadcasts: this.#broadcasts,
      isLeaving: () => this.#leaving,
    });
    this.#prober = new Prober({
      options: this.options,
      clock: this.#clock,
      rng: this.#rng,
      logger: this.#logger,
      awareness: this.#awareness,
      membership: this.#membership,
      ping: this.#delegates.ping,
      self: () => this.#selfRecord(),
      sendToAddress: (to, message) => this.#sendWithPiggyback(to, message),
      sendToNode: (node, messages) => this.#sendToNode(node, messages),
      tcpPing: (node, ping, deadline) => this.#tcpPing(node, ping, deadline),
      warnPeer: (from, kind, message) => this.#warnBadPacket(from, kind, message),
    });
    this.#badPackets = new RateLimiter(this.#clock, BAD_PACKET_LOG_INTERVAL_MS);
    this.#resolve = deps.resolve ?? systemResolve;
    this.#wire = {
      keyring: this.#keyring,
      enableCompression: options.enableCompression,
      gossipVerifyIncoming: options.gossipVerifyIncoming,
      gossipVerifyOutgoing: options.gossipVerifyOutgoing,
      protocolVersion: options.protocolVersion,
    };
  }

  /**
   * Binds the transport, announces the local node to itself and starts the probe, gossip and
   * push/pull schedules. Options not given take the LAN profile's values.
   */
  static async create(
    options: Partial<MemberlistOptions> & { name: string },
    deps: MemberlistDeps = {},
  ): Promise<Memberlist> {
    const full: MemberlistOptions = { ...lanDefaults(options.name), ...options };
    validateOptions(full);
    const m = new Memberlist(full, deps);
    await m.#start();
    return m;
  }

  async #start(): Promise<void> {
    await this.#transport.start(
      (packet, from, receivedAt) => this.#onPacket(packet, from, receivedAt),
      (stream) => {
        this.#onStream(stream).catch((err) =>
          this.#logger.error(`Stream handler failed: ${errorMessage(err)}`),
        );
      },
    );
    this.#advertise = this.#chooseAdvertise();
    try {
      this.#setAlive();
    } catch (err) {
      await this.#transport.close();
      throw err;
    }
    this.#schedule();
  }

  #chooseAdvertise(): Address {
    const o = this.options;
    const port = o.advertisePort || this.#transport.boundAddress.port;
    if (o.advertiseAddr) return { host: o.advertiseAddr, port };
    const bound = this.#transport.boundAddress.host;
    if (bound !== '0.0.0.0' && bound !== '::') return { host: bound, port };
    const ip = firstPrivateIp();
    if (!ip) throw new InvalidArgumentError('No private IP address found, and explicit IP not provided');
    return { host: ip, port };
  }

  /** Builds the local node's first alive message (incarnation 1) and applies it locally. */
  #setAlive(): void {
    const meta = this.#localMeta();
    this.#membership.aliveNode(
      {
        incarnation: this.#membership.nextIncarnation(),
        node: this.options.name,
        addr: ipToBytes(this.#advertise.host),
        port: this.#advertise.port,
        meta,
        vsn: vsnToBytes(this.#localVsn()),
      },
      undefined,
      true,
    );
    // The alive message stays queued: once this node joins, gossip carries it to the cluster.
  }

  #localMeta(): Uint8Array {
    const meta = this.#delegates.delegate?.nodeMeta(META_MAX_SIZE) ?? new Uint8Array(0);
    if (meta.length > META_MAX_SIZE) {
      throw new InvalidArgumentError(
        `node metadata is ${meta.length} bytes, above the limit of ${META_MAX_SIZE}`,
      );
    }
    return meta;
  }

  #localVsn() {
    const o = this.options;
    return {
      pmin: PROTOCOL_VERSION_MIN,
      pmax: PROTOCOL_VERSION_MAX,
      pcur: o.protocolVersion,
      dmin: o.delegateProtocolMin,
      dmax: o.delegateProtocolMax,
      dcur: o.delegateProtocolVersion,
    };
  }

  #selfRecord(): NodeRecord {
    const self = this.#membership.byName.get(this.options.name);
    if (!self) throw new NotRunningError('the local node is missing from the node table');
    return self;
  }

  #schedule(): void {
    const o = this.options;
    const c = this.#clock;
    const stagger = (ms: number) => Math.floor(this.#rng.next() * ms);

    if (o.probeIntervalMs > 0) {
      this.#timers.push(
        c.setTimeout(() => {
          if (this.#shutdown) return;
          this.#timers.push(c.setInterval(() => void this.#prober.tick(), o.probeIntervalMs));
        }, stagger(o.probeIntervalMs)),
      );
    }
    if (o.gossipIntervalMs > 0 && o.gossipNodes > 0) {
      this.#timers.push(
        c.setTimeout(() => {
          if (this.#shutdown) return;
          this.#timers.push(c.setInterval(() => this.#gossip(), o.gossipIntervalMs));
        }, stagger(o.gossipIntervalMs)),
      );
    }
    if (o.pushPullIntervalMs > 0) {
      const next = () => {
        if (this.#shutdown) return;
        const wait = pushPullScale(o.pushPullIntervalMs, this.#membership.estimatedNodes);
        this.#timers.push(
          c.setTimeout(() => {
            this.#periodicPushPull()
              .catch((err) => this.#logger.error(`Push/Pull failed: ${errorMessage(err)}`))
              .finally(next);
          }, wait),
        );
      };
      this.#timers.push(c.setTimeout(next, stagger(o.pushPullIntervalMs)));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** The local node's advertised address. */
  get advertiseAddress(): Address {
    return { ...this.#advertise };
  }

  /** Lifeguard health score: 0 is healthy, higher means this node's own probes are failing. */
  get healthScore(): number {
    return this.#awareness.score;
  }

  /** Alive and suspect members, the local node included. */
  members(): NodeInfo[] {
    return this.#membership.liveNodes().map(toNodeInfo);
  }

  /** Returns every node in the table, dead and left ones included until they are forgotten. */
  allNodes(): NodeInfo[] {
    return this.#membership.nodes.map(toNodeInfo);
  }

  numMembers(): number {
    return this.#membership.liveNodes().length;
  }

  /** Returns the estimated cluster size used by timers (every node in the table). */
  estimatedNodes(): number {
    return this.#membership.estimatedNodes;
  }

  localNode(): NodeInfo {
    return toNodeInfo(this.#selfRecord());
  }

  getNode(name: string): NodeInfo | undefined {
    const n = this.#membership.byName.get(name);
    return n ? toNodeInfo(n) : undefined;
  }

  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /**
   * Joins a cluster through any of `addresses` (`host`, `host:port`, `[v6]:port`, optionally
   * prefixed by `name/`). Resolves with how many addresses a push/pull succeeded with; rejects only
   * when none did, with every failure listed.
   */
  async join(addresses: string[], options: { signal?: AbortSignal } = {}): Promise<number> {
    this.#assertRunning();
    let joined = 0;
    const errors: string[] = [];
    for (const raw of addresses) {
      options.signal?.throwIfAborted();
      let targets: Address[];
      try {
        targets = await this.#resolveJoinAddress(raw);
      } catch (err) {
        errors.push(`Failed to resolve ${raw}: ${errorMessage(err)}`);
        continue;
      }
      for (const target of targets) {
        try {
          await this.#pushPull(target, true);
          joined++;
        } catch (err) {
          errors.push(`Failed to join ${target.host}: ${errorMessage(err)}${this.#keyMismatchHint(err)}`);
        }
      }
    }
    if (joined === 0 && addresses.length > 0) {
      const list = errors.map((e) => `\t* ${e}`).join('\n');
      const head = errors.length === 1 ? '1 error occurred' : `${errors.length} errors occurred`;
      throw new NetworkError(`${head}:\n${list}\n\n`);
    }
    return joined;
  }

  /** Turns a join address into IP addresses, resolving a host name through the resolver. */
  async #resolveJoinAddress(raw: string): Promise<Address[]> {
    const { host, port } = parseJoinAddress(raw, this.options.bindPort);
    if (isIp(host)) return [{ host, port }];
    const ips = await this.#resolve(host);
    if (ips.length === 0) throw new NetworkError(`no addresses found for host ${host}`);
    return ips.map((ip) => ({ host: ip, port }));
  }

  /**
   * Explains a failed exchange that looks like differing gossip keys: our key does not open the
   * reply, or the peer closed the stream without a reply because ours did not open for it.
   */
  #keyMismatchHint(err: unknown): string {
    const text = errorMessage(err);
    if (/encryption is not configured/i.test(text))
      return ' (the other node encrypts gossip but this node has no key)';
    if (/remote state is not encrypted/i.test(text))
      return ' (this node encrypts gossip but the other node has no key)';
    const keyProblem =
      err instanceof CryptoError ||
      (encryptionEnabled(this.#wire) &&
        err instanceof DecodeError &&
        /end of stream|ended inside/.test(text));
    return keyProblem ? ' (the gossip encryption keys of the two nodes likely differ)' : '';
  }

  /**
   * Re-reads the local metadata from the delegate and announces it with a new incarnation. Waits
   * up to `timeoutMs` for the announcement to be gossiped when other nodes are alive.
   */
  async updateNode(timeoutMs: number): Promise<void> {
    this.#assertRunning();
    const self = this.#selfRecord();
    const meta = this.#localMeta();
    const done = new Promise<void>((resolve) => {
      this.#membership.aliveNode(
        {
          incarnation: this.#membership.nextIncarnation(),
          node: self.name,
          addr: self.addrBytes,
          port: self.port,
          meta,
          vsn: vsnToBytes(self.vsn),
        },
        resolve,
        true,
      );
    });
    await this.#waitBroadcast(done, timeoutMs, 'timeout waiting for update broadcast');
  }

  /**
   * Announces a graceful leave (a dead message from ourselves about ourselves, seen by peers as
   * "left") and waits up to `timeoutMs` for it to be gossiped. Does not stop the node: call
   * `shutdown()` after. Safe to call more than once.
   */
  async leave(timeoutMs: number): Promise<void> {
    if (this.#shutdown) return;
    if (this.#leaving) return;
    this.#leaving = true;
    const self = this.#selfRecord();
    const done = new Promise<void>((resolve) => {
      this.#membership.deadNode({ incarnation: self.incarnation, node: self.name, from: self.name }, resolve);
    });
    await this.#waitBroadcast(done, timeoutMs, 'timeout waiting for leave broadcast');
  }

  async #waitBroadcast(done: Promise<void>, timeoutMs: number, message: string): Promise<void> {
    const others = this.#membership.nodes.some((n) => n.name !== this.options.name && !isDeadOrLeft(n));
    if (!others) return;
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([done.then(() => 'done' as const), timeout]);
    timer?.cancel();
    if (result === 'timeout') throw new TimeoutError(message);
  }

  /** Sends a user message straight to an address, outside the broadcast queue (no CRC, no piggyback). */
  async sendUserMessage(to: Address, message: Uint8Array): Promise<void> {
    this.#assertRunning();
    const buf = new Uint8Array(message.length + 1);
    buf[0] = MessageType.user;
    buf.set(message, 1);
    await this.#transport.sendPacket(to, sealPacket(this.#wire, buf, false));
  }

  /** Stops timers and closes the sockets now, without telling anyone. Safe to call more than once. */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    this.#shutdown = true;
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    this.#prober.stop();
    this.#membership.stop();
    await this.#transport.close();
  }

  // Test hooks: run one step of a periodic task by hand.

  /** @internal Runs one probe round step. */
  probeOnce(): Promise<void> {
    return this.#prober.tick();
  }

  /** @internal Runs one gossip tick. */
  gossipOnce(): void {
    this.#gossip();
  }

  /** @internal Runs one periodic push/pull. */
  pushPullOnce(): Promise<void> {
    return this.#periodicPushPull();
  }

  #assertRunning(): void {
    if (this.#shutdown) throw new NotRunningError('memberlist has been shut down');
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /** Collects memberlist broadcasts, then delegate broadcasts (as user messages), within `limit`. */
  #collectBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const out = this.#broadcasts.getBroadcasts(overhead, limit);
    const delegate = this.#delegates.delegate;
    if (!delegate) return out;
    let used = 0;
    for (const m of out) used += m.length + overhead;
    let extra: Uint8Array[];
    try {
      extra = delegate.getBroadcasts(overhead + USER_MSG_OVERHEAD, limit - used);
    } catch (err) {
      this.#logger.error(`Delegate broadcasts failed: ${errorMessage(err)}`);
      return out;
    }
    for (const e of extra) {
      const msg = new Uint8Array(e.length + 1);
      msg[0] = MessageType.user;
      msg.set(e, 1);
      out.push(msg);
    }
    return out;
  }

  async #sendWithPiggyback(to: Address, message: Uint8Array): Promise<void> {
    if (this.#shutdown) return;
    const budget =
      this.options.udpBufferSize - message.length - COMPOUND_OVERHEAD - encryptionOverhead(this.#wire);
    const extra = budget > 0 ? this.#collectBroadcasts(COMPOUND_PART_OVERHEAD, budget) : [];
    const buf = extra.length > 0 ? encodeCompound([message, ...extra]) : message;
    await this.#transport.sendPacket(to, sealPacket(this.#wire, buf, false));
  }

  async #sendToNode(node: NodeRecord, messages: Uint8Array[]): Promise<void> {
    if (this.#shutdown) return;
    const buf = messages.length === 1 ? messages[0]! : encodeCompound(messages);
    await this.#transport.sendPacket(
      { host: node.addr, port: node.port },
      sealPacket(this.#wire, buf, node.vsn.pmax >= 5),
    );
  }

  /** One gossip tick: up to `gossipNodes` random peers each get a packet of pending broadcasts. */
  #gossip(): void {
    if (this.#shutdown) return;
    const now = this.#clock.now();
    const candidates = this.#membership.nodes.filter((n) => {
      if (n.name === this.options.name) return false;
      if (n.state === NodeState.alive || n.state === NodeState.suspect) return true;
      return n.state === NodeState.dead && now - n.stateChange <= this.options.gossipToTheDeadTimeMs;
    });
    const targets = shuffle(this.#rng, candidates).slice(0, this.options.gossipNodes);
    const budget = this.options.udpBufferSize - COMPOUND_OVERHEAD - encryptionOverhead(this.#wire);
    for (const node of targets) {
      const messages = this.#collectBroadcasts(COMPOUND_PART_OVERHEAD, budget);
      if (messages.length === 0) return;
      this.#sendToNode(node, messages).catch((err) =>
        this.#logger.error(`Failed to send gossip to ${node.addr}:${node.port}: ${errorMessage(err)}`),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Receiving packets

  #onPacket(packet: Uint8Array, from: Address, receivedAt: number): void {
    if (this.#shutdown) return;
    let buf: Uint8Array;
    try {
      buf = openPacket(this.#wire, packet);
    } catch (err) {
      if (err instanceof CryptoError)
        this.#warnBadPacket(from, 'decrypt', `Decrypt packet failed: ${errorMessage(err)}`);
      else this.#warnBadPacket(from, 'decode', `Failed to decode packet: ${errorMessage(err)}`);
      return;
    }
    try {
      this.#handleCommand(buf, from, receivedAt, 0, { left: MAX_PACKET_DECOMPRESSED });
    } catch (err) {
      if (err instanceof DecodeError) {
        this.#warnBadPacket(from, 'decode', `Failed to decode packet: ${errorMessage(err)}`);
      } else {
        this.#logger.error(`Failed to handle packet: ${errorMessage(err)} from=${from.host}:${from.port}`);
      }
    }
  }

  /**
   * Logs a warning about a bad packet or stream from `from`, at most once per peer host and kind
   * every 10 s, with the count of the lines held back since the last one.
   */
  #warnBadPacket(from: Address, kind: string, message: string): void {
    // Keyed by host only: stream source ports are ephemeral, and a peer rotating ports is one peer.
    const suppressed = this.#badPackets.allow(`${kind}:${from.host}`);
    if (suppressed < 0) return;
    const note = suppressed > 0 ? ` (${suppressed} similar messages suppressed)` : '';
    this.#logger.warn(`${message} from=${from.host}:${from.port}${note}`);
  }

  #handleCommand(
    buf: Uint8Array,
    from: Address,
    receivedAt: number,
    depth: number,
    budget: { left: number },
  ): void {
    if (buf.length === 0) throw new DecodeError('empty message');
    const type = buf[0]!;
    switch (type) {
      case MessageType.compound: {
        if (depth >= MAX_NESTING) throw new DecodeError('compound messages nested too deeply');
        const { parts, truncated } = decodeCompound(buf);
        if (truncated > 0)
          this.#warnBadPacket(from, 'truncated', `Compound request had ${truncated} truncated messages`);
        for (const part of parts) {
          try {
            this.#handleCommand(part, from, receivedAt, depth + 1, budget);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            this.#warnBadPacket(from, 'decode', `Failed to decode compound part: ${errorMessage(err)}`);
          }
        }
        return;
      }
      case MessageType.compress: {
        if (depth >= MAX_NESTING) throw new DecodeError('compressed messages nested too deeply');
        if (budget.left <= 0)
          throw new DecodeError('packet decompression limit reached, remaining parts dropped');
        let plain: Uint8Array;
        try {
          plain = decompressMessage(buf, budget.left);
        } catch (err) {
          // A part that hits the limit has already cost the work up to it: stop the packet here.
          budget.left = 0;
          throw err;
        }
        budget.left -= plain.length;
        this.#handleCommand(plain, from, receivedAt, depth + 1, budget);
        return;
      }
      case MessageType.ping:
      case MessageType.indirectPing:
      case MessageType.ack:
      case MessageType.nack:
      case MessageType.suspect:
      case MessageType.alive:
      case MessageType.dead:
      case MessageType.user:
        this.#dispatch(buf, from, receivedAt);
        return;
      default:
        this.#warnBadPacket(from, 'type', `msg type (${type}) not supported`);
    }
  }

  #dispatch(buf: Uint8Array, from: Address, receivedAt: number): void {
    const msg = decodeMessage(buf);
    switch (msg.type) {
      case 'ping':
        this.#prober.handlePing(msg.body, from);
        return;
      case 'indirectPing':
        this.#prober.handleIndirectPing(msg.body, from);
        return;
      case 'ack':
        this.#prober.handleAck(msg.body, receivedAt);
        return;
      case 'nack':
        this.#prober.handleNack(msg.body);
        return;
      case 'alive':
        this.#membership.aliveNode(msg.body, undefined, false);
        return;
      case 'suspect':
        this.#membership.suspectNode(msg.body);
        return;
      case 'dead':
        this.#membership.deadNode(msg.body);
        return;
      case 'user':
        this.#deliverUserMessage(msg.body);
        return;
      default:
        this.#warnBadPacket(from, 'type', `msg type (${msg.type}) not expected in a packet`);
    }
  }

  #deliverUserMessage(payload: Uint8Array): void {
    if (payload.length === 0) return;
    const delegate = this.#delegates.delegate;
    if (!delegate) return;
    try {
      delegate.notifyMsg(payload);
    } catch (err) {
      this.#logger.error(`Delegate failed to handle a user message: ${errorMessage(err)}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Streams

  /** Closes `stream` when `timeoutMs` passes, so a stalled peer cannot hold a handler forever. */
  #deadline(stream: Stream, timeoutMs: number): { cancel(): void } {
    return this.#clock.setTimeout(() => stream.close(), timeoutMs);
  }

  async #onStream(stream: Stream): Promise<void> {
    const remote = `${stream.remote.host}:${stream.remote.port}`;
    this.#logger.debug(`Stream connection from=${remote}`);
    const timer = this.#deadline(stream, this.options.tcpTimeoutMs);
    const reader = new StreamReader(stream);
    try {
      let msg: Awaited<ReturnType<typeof readStreamMessage>>;
      try {
        msg = await readStreamMessage(this.#wire, reader, stream.remote);
      } catch (err) {
        if (reader.buffered().length === 0 && err instanceof DecodeError && /end of stream/.test(err.message))
          return;
        this.#warnBadPacket(stream.remote, 'stream', `Failed to receive: ${errorMessage(err)}`);
        await this.#sendStreamError(stream, errorMessage(err));
        return;
      }

      switch (msg.type) {
        case MessageType.ping:
          await this.#answerStreamPing(stream, msg.body);
          return;
        case MessageType.user:
          await this.#receiveStreamUserMessage(msg.body);
          return;
        case MessageType.pushPull:
          await this.#answerPushPull(stream, msg.body);
          return;
        default:
          this.#warnBadPacket(stream.remote, 'stream', `Received invalid msgType (${msg.type})`);
      }
    } catch (err) {
      this.#warnBadPacket(stream.remote, 'stream', `Stream exchange failed: ${errorMessage(err)}`);
    } finally {
      timer.cancel();
      stream.close();
    }
  }

  async #sendStreamError(stream: Stream, text: string): Promise<void> {
    try {
      await stream.write(
        sealStreamMessage(this.#wire, encodeMessage({ type: 'err', body: { error: text } })),
      );
    } catch (err) {
      this.#logger.debug(`Failed to send error response: ${errorMessage(err)}`);
    }
  }

  async #answerStreamPing(stream: Stream, body: StreamReader): Promise<void> {
    const ping = decodeMessage(await readObjectMessage(MessageType.ping, body));
    if (ping.type !== 'ping') return;
    if (ping.body.node !== '' && ping.body.node !== this.options.name) {
      this.#logger.warn(
        `Got ping for unexpected node ${ping.body.node} from=${stream.remote.host}:${stream.remote.port}`,
      );
      return;
    }
    const ack = encodeMessage({ type: 'ack', body: { seqNo: ping.body.seqNo, payload: null } });
    await stream.write(sealStreamMessage(this.#wire, ack));
  }

  async #receiveStreamUserMessage(body: StreamReader): Promise<void> {
    const header = await readObject(body);
    if (!(header instanceof Map)) throw new DecodeError('user message header is not a map');
    const length = readUint(header, 'UserMsgLen', 20 * 1024 * 1024);
    const payload = await body.readExactly(length);
    this.#deliverUserMessage(payload);
  }

  async #answerPushPull(stream: Stream, body: StreamReader): Promise<void> {
    if (this.#pushPullsInFlight >= this.options.maxConcurrentPushPulls) {
      this.#logger.error(
        `Too many pending push/pull requests from=${stream.remote.host}:${stream.remote.port}`,
      );
      return;
    }
    this.#pushPullsInFlight++;
    try {
      const remote = await readPushPull(body);
      const local = encodeLocalState(this.#membership, this.#localUserState(remote.join), remote.join);
      await stream.write(sealStreamMessage(this.#wire, local));
      this.#mergeState(remote);
    } finally {
      this.#pushPullsInFlight--;
    }
  }

  #localUserState(join: boolean): Uint8Array | null {
    const delegate = this.#delegates.delegate;
    if (!delegate) return null;
    try {
      return delegate.localState(join);
    } catch (err) {
      this.#logger.error(`Delegate failed to produce local state: ${errorMessage(err)}`);
      return null;
    }
  }

  #mergeState(remote: PushPull): void {
    try {
      verifyProtocol(remote.nodes, this.#membership);
    } catch (err) {
      this.#logger.error(`Failed to merge remote state: ${errorMessage(err)}`);
      throw err;
    }
    if (remote.join && this.#delegates.merge) {
      const veto = this.#delegates.merge.notifyMerge(
        remote.nodes.map((n) => ({
          name: n.name,
          addr: '',
          port: n.port,
          meta: n.meta ?? new Uint8Array(0),
          state: 'alive',
          incarnation: n.incarnation,
          vsn: { pmin: 0, pmax: 0, pcur: 0, dmin: 0, dmax: 0, dcur: 0 },
        })),
      );
      if (veto) throw new ProtocolError(veto);
    }
    mergeRemoteNodes(remote.nodes, this.#membership);
    if (remote.userState && remote.userState.length > 0 && this.#delegates.delegate) {
      try {
        this.#delegates.delegate.mergeRemoteState(remote.userState, remote.join);
      } catch (err) {
        this.#logger.error(`Delegate failed to merge remote state: ${errorMessage(err)}`);
      }
    }
  }

  async #periodicPushPull(): Promise<void> {
    const candidates = this.#membership.nodes.filter(
      (n) => n.name !== this.options.name && n.state === NodeState.alive,
    );
    if (candidates.length === 0) return;
    const node = candidates[Math.floor(this.#rng.next() * candidates.length)]!;
    await this.#pushPull({ host: node.addr, port: node.port }, false);
  }

  /** Dials `to`, exchanges full state both ways and merges the reply. */
  async #pushPull(to: Address, join: boolean): Promise<void> {
    const stream = await this.#transport.dial(to, this.options.tcpTimeoutMs);
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      stream.close();
    }, this.options.tcpTimeoutMs);
    try {
      await this.#exchangeState(stream, to, join);
    } catch (err) {
      if (timedOut) {
        throw new TimeoutError(
          `push/pull with ${to.host}:${to.port} timed out after ${this.options.tcpTimeoutMs} ms`,
        );
      }
      throw err;
    } finally {
      timer.cancel();
      stream.close();
    }
  }

  /** Sends our state on `stream` and merges the reply (the body of a push/pull). */
  async #exchangeState(stream: Stream, to: Address, join: boolean): Promise<void> {
    const local = encodeLocalState(this.#membership, this.#localUserState(join), join);
    await stream.write(sealStreamMessage(this.#wire, local));
    const reply = await readStreamMessage(this.#wire, new StreamReader(stream), to);
    if (reply.type === MessageType.err) {
      const err = decodeMessage(await readObjectMessage(MessageType.err, reply.body));
      throw new RemoteError(`remote error: ${err.type === 'err' ? err.body.error : 'unknown'}`);
    }
    if (reply.type !== MessageType.pushPull) {
      throw new ProtocolError(
        `received invalid msgType (${reply.type}), expected pushPullMsg (${MessageType.pushPull})`,
      );
    }
    this.#mergeState(await readPushPull(reply.body));
  }

  async #tcpPing(node: NodeRecord, ping: Ping, deadline: number): Promise<boolean> {
    const timeout = deadline - this.#clock.now();
    if (timeout <= 0) return false;
    const to = { host: node.addr, port: node.port };
    const stream = await this.#transport.dial(to, timeout);
    const timer = this.#deadline(stream, Math.max(1, deadline - this.#clock.now()));
    try {
      await stream.write(sealStreamMessage(this.#wire, encodeMessage({ type: 'ping', body: ping })));
      const reply = await readStreamMessage(this.#wire, new StreamReader(stream), to);
      if (reply.type !== MessageType.ack) {
        throw new ProtocolError(`unexpected msgType (${reply.type}) from TCP ping`);
      }
      const ack = decodeMessage(await readObjectMessage(MessageType.ack, reply.body));
      if (ack.type !== 'ack' || ack.body.seqNo !== ping.seqNo) {
        throw new ProtocolError(`sequence number from ack doesn't match ping (${ping.seqNo})`);
      }
      return true;
    } finally {
      timer.cancel();
      stream.close();
    }
  }
}

/** Reads one msgpack body from a stream and returns it as a complete `[type][body]` message. */
async function readObjectMessage(type: number, reader: StreamReader): Promise<Uint8Array> {
  const bytes = await readRawObject(reader);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = type;
  out.set(bytes, 1);
  return out;
}

/** Reads a push/pull body (header, node states, user state) from a stream. */
async function readPushPull(reader: StreamReader): Promise<PushPull> {
  const header = await readRawObject(reader);
  const parts: Uint8Array[] = [Uint8Array.of(MessageType.pushPull), header];
  const decoded = decodeGossipPrefix(header, 0).value;
  if (!(decoded instanceof Map)) throw new DecodeError('push/pull header is not a map');
  const nodes = readUint(decoded, 'Nodes', 1 << 20);
  const userStateLen = readUint(decoded, 'UserStateLen', 20 * 1024 * 1024);
  for (let i = 0; i < nodes; i++) parts.push(await readRawObject(reader));
  if (userStateLen > 0) parts.push(await reader.readExactly(userStateLen));
  let total = 0;
  for (const p of parts) total += p.length;
  const buf = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
  }
  return decodePushPullBody(buf, 1);
}

/**
 * Parses a join address: `host`, `host:port`, `[v6]` or `[v6]:port`, optionally prefixed with
 * `name/`. `host` is an IP literal or a DNS name, which the caller resolves.
 */
export function parseJoinAddress(raw: string, defaultPort: number): Address {
  let rest = raw.trim();
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    if (slash === 0) throw new InvalidArgumentError('empty node name provided');
    rest = rest.slice(slash + 1);
  }
  let host: string;
  let port = defaultPort;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new InvalidArgumentError(`missing ']' in address ${raw}`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after.startsWith(':')) port = parsePort(after.slice(1), raw);
    else if (after !== '') throw new InvalidArgumentError(`unexpected text after ']' in address ${raw}`);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) {
      const i = rest.lastIndexOf(':');
      host = rest.slice(0, i);
      port = parsePort(rest.slice(i + 1), raw);
    } else {
      host = rest;
    }
  }
  if (host === '') throw new InvalidArgumentError(`missing host in address ${raw}`);
  if (!isIp(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9.])?$/.test(host)) {
    throw new InvalidArgumentError(`invalid host ${JSON.stringify(host)} in address ${raw}`);
  }
  return { host, port };
}

function isIp(host: string): boolean {
  try {
    ipToBytes(host);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a host name to its IPv4 and IPv6 addresses with the system resolver. */
async function systemResolve(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}

function parsePort(text: string, raw: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`invalid port ${JSON.stringify(text)} in address ${raw}`);
  }
  return port;
}

/** First private IPv4 address of this host (RFC 1918 or RFC 6598), as the reference picks one. */
function firstPrivateIp(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const [p0, p1] = a.address.split('.').map(Number) as [number, number];
      const isPrivate =
        p0 === 10 ||
        (p0 === 172 && p1 >= 16 && p1 <= 31) ||
        (p0 === 192 && p1 === 168) ||
        (p0 === 100 && p1 >= 64 && p1 <= 127);
      if (isPrivate) return a.address;
    }
  }
  return undefined;
}
