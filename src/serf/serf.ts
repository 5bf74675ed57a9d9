/**
 * A Serf node: membership with tags, Lamport-clocked join/leave intents, user events and queries,
 * all riding on a memberlist node, wire-compatible with HashiCorp Serf 0.9.4.
 *
 * memberlist reports who is reachable; Serf adds intent (did a node leave or fail?), custom events
 * with de-duplication, request/response queries, name-conflict votes, key rotation and network
 * coordinates. Events reach the embedder through `events()` or `onEvent()`, never blocking gossip.
 */

import { randomInt as cryptoRandomInt } from 'node:crypto';
import { bytesToIp, ipToBytes } from '../codec/ip.js';
import { TransmitLimitedQueue } from '../memberlist/broadcast-queue.js';
import type { Delegate, Delegates, EventDelegate, PingDelegate } from '../memberlist/delegate.js';
import { Memberlist } from '../memberlist/memberlist.js';
import type { NodeInfo } from '../memberlist/node.js';
import { RateLimiter } from '../memberlist/rate-limit.js';
import type { Keyring } from '../security/keyring.js';
import type { Transport } from '../transport/types.js';
import { type Clock, SystemClock, type TimerHandle } from '../util/clock.js';
import {
  errorMessage,
  InvalidArgumentError,
  NotRunningError,
  ProtocolError,
  SerfError,
  TimeoutError,
} from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { mathRandom, type Rng, shuffle } from '../util/rng.js';
import { MemberEventCoalescer, UserEventCoalescer } from './coalesce.js';
import { memberlistOptionsFor, type SerfOptions, serfDefaults, validateSerfOptions } from './config.js';
import {
  type Coordinate,
  CoordinateClient,
  decodePingPayload,
  distanceSeconds,
  encodePingPayload,
} from './coordinate.js';
import { EventStream } from './event-stream.js';
import type {
  Member,
  MemberEvent,
  MemberEventType,
  MemberStatusName,
  QueryEvent,
  SerfEvent,
} from './events.js';
import { MemberStatus } from './events.js';
import { matchesFilters } from './filters.js';
import { handleInternalQuery, InternalQuery, isInternalQuery } from './internal-query.js';
import { KeyManager } from './key-manager.js';
import { LamportClock } from './lamport.js';
import { QueryFlag } from './message-types.js';
import {
  type ConflictMember,
  decodeConflictResponse,
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type JoinIntent,
  type LeaveIntent,
  type QueryMessage,
  type QueryResponseMessage,
  type SerfPushPull,
  type UserEventMessage,
  type UserEventsSlot,
} from './messages.js';
import { defaultQueryTimeout, QueryHandle, type QueryOptions } from './query.js';
import { type SnapshotState, Snapshotter } from './snapshot.js';
import { checkTagsSize, decodeTags, encodeTags } from './tags.js';

export type SerfState = 'alive' | 'leaving' | 'left' | 'shutdown';

/** Lowest retransmit multiplier for Serf's own broadcast queues (the LAN profile's value). */
const MIN_SERF_RETRANSMIT_MULT = 4;

/** Each kind of warning caused by a peer's message is logged at most once per this many ms. */
const PEER_WARNING_INTERVAL_MS = 10_000;

/** A member that rejoins within this long after failing counts as a flap (Serf's FlapTimeout). */
const FLAP_WINDOW_MS = 60_000;

export interface SerfDeps {
  transport?: Transport;
  clock?: Clock;
  rng?: Rng;
  logger?: Logger;
  /** Enables gossip encryption; shared with the key manager, which changes it at run time. */
  keyring?: Keyring;
  /** Persists the keyring (base64 keys, primary first) after each change a key query made. */
  persistKeyring?: (keys: string[]) => Promise<void>;
  /**
   * Receives every event from the very start, including this node's own member-join, which is
   * raised while `create()` runs and so before `events()` or `onEvent()` can be called.
   */
  onEvent?: (event: SerfEvent) => void;
}

interface MemberState {
  member: Member;
  /** Lamport time of the last join or leave intent applied to this member. */
  statusLTime: number;
  /** Clock time (ms) when the member failed or left; 0 while alive. */
  leaveTime: number;
}

interface RecentIntent {
  type: 'join' | 'leave';
  ltime: number;
  /** Clock time (ms) when it was buffered. */
  at: number;
}

interface QuerySeen {
  ltime: number;
  ids: number[];
}

export class Serf {
  readonly options: Readonly<SerfOptions>;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #logger: Logger;
  readonly #keyring: Keyring | undefined;
  readonly #persistKeyring: SerfDeps['persistKeyring'];
  readonly #transport: Transport | undefined;

  readonly #memberClock = new LamportClock();
  readonly #eventClock = new LamportClock();
  readonly #queryClock = new LamportClock();
  #eventMinTime = 0;
  #queryMinTime = 0;
  /** Set during a join without replay: push/pull merges raise eventMinTime to the peer's clock. */
  #ignoreOldEvents = false;

  readonly #members = new Map<string, MemberState>();
  #failedMembers: MemberState[] = [];
  #leftMembers: MemberState[] = [];
  readonly #recentIntents = new Map<string, RecentIntent>();
  readonly #eventRing: (UserEventsSlot | null)[];
  readonly #queryRing: (QuerySeen | null)[];
  readonly #queries = new Map<number, QueryHandle>();

  readonly #intentQueue: TransmitLimitedQueue;
  readonly #queryQueue: TransmitLimitedQueue;
  readonly #eventQueue: TransmitLimitedQueue;

  readonly #coordClient: CoordinateClient | undefined;
  readonly #coordCache = new Map<string, Coordinate>();

  readonly #events: EventStream;
  #memberCoalescer: MemberEventCoalescer | undefined;
  #userCoalescer: UserEventCoalescer | undefined;
  #snapshotter: Snapshotter | undefined;

  #tags: Record<string, string>;
  #state: SerfState = 'alive';
  #leaving: Promise<void> | undefined;
  /** Members that came back within FLAP_WINDOW_MS of failing. */
  #flaps = 0;
  #memberlist!: Memberlist;
  #timers: TimerHandle[] = [];
  /** Keeps warnings caused by peers' messages from flooding the log. */
  #peerWarnings!: RateLimiter;
  readonly #closed: Promise<SerfState>;
  #resolveClosed!: (s: SerfState) => void;

  /** Cluster-wide keyring operations (install, use, remove, list). */
  readonly keyManager: KeyManager;

  private constructor(options: SerfOptions, deps: SerfDeps) {
    this.options = Object.freeze({
      ...options,
      tags: { ...options.tags },
      memberlist: { ...options.memberlist },
    });
    this.#clock = deps.clock ?? new SystemClock();
    this.#rng = deps.rng ?? mathRandom;
    this.#logger = (deps.logger ?? silentLogger).child({ component: 'serf' });
    this.#keyring = deps.keyring;
    this.#persistKeyring = deps.persistKeyring;
    this.#transport = deps.transport;
    this.#tags = { ...options.tags };
    this.#eventRing = new Array(options.eventBuffer).fill(null);
    this.#queryRing = new Array(options.queryBuffer).fill(null);

    // Serf messages are relayed at least as often as the LAN profile does it, even under the Local
    // profile (mult 2): with few nodes, two relays per node leave a real chance that one member misses
    // an event until the next push/pull. Peers are unaffected; only this node sends more copies.
    const mult = Math.max(memberlistOptionsFor(options).retransmitMult, MIN_SERF_RETRANSMIT_MULT);
    const numMembers = () => this.#members.size;
    this.#intentQueue = new TransmitLimitedQueue(mult, numMembers);
    this.#queryQueue = new TransmitLimitedQueue(mult, numMembers);
    this.#eventQueue = new TransmitLimitedQueue(mult, numMembers);

    this.#coordClient = options.disableCoordinates ? undefined : new CoordinateClient(undefined, this.#rng);
    this.#peerWarnings = new RateLimiter(this.#clock, PEER_WARNING_INTERVAL_MS);
    this.#events = new EventStream((err) =>
      this.#logger.error(`Event listener failed: ${errorMessage(err)}`),
    );
    if (deps.onEvent) this.#events.on(deps.onEvent);
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });

    this.keyManager = new KeyManager({
      query: (name, payload, opts) => this.#startQuery(name, payload, opts, true),
      numMembers: () => this.#memberlist.numMembers(),
      liveMemberNames: () => this.#memberlist.members().map((m) => m.name),
      logger: this.#logger,
    });
  }

  /**
   * Creates and starts a Serf node: restores the snapshot (clocks before any traffic), binds the
   * memberlist transport and starts the reaper, reconnector and queue monitor. Options not given
   * take the library defaults of Serf 0.9.4.
   */
  static async create(
    options: Partial<SerfOptions> & { nodeName: string },
    deps: SerfDeps = {},
  ): Promise<Serf> {
    const full: SerfOptions = { ...serfDefaults(options.nodeName), ...options };
    validateSerfOptions(full);
    checkTagsSize(encodeTags(full.tags));
    const serf = new Serf(full, deps);
    await serf.#start();
    return serf;
  }

  async #start(): Promise<void> {
    const o = this.options;
    // Every clock starts at 1, as the reference's do.
    this.#memberClock.increment();
    this.#eventClock.increment();
    this.#queryClock.increment();

    let restored: SnapshotState | undefined;
    if (o.snapshotPath) {
      const opened = await Snapshotter.open({
        path: o.snapshotPath,
        clock: this.#clock,
        logger: this.#logger,
        rejoinAfterLeave: o.rejoinAfterLeave,
        memberClock: () => this.#memberClock.time(),
      });
      this.#snapshotter = opened.snapshotter;
      restored = opened.state;
      this.#memberClock.witness(restored.lastClock);
      this.#eventClock.witness(restored.lastEventClock);
      this.#queryClock.witness(restored.lastQueryClock);
      this.#eventMinTime = restored.lastEventClock + 1;
      this.#queryMinTime = restored.lastQueryClock + 1;
    }

    if (o.coalescePeriodMs > 0 && o.quiescentPeriodMs > 0) {
      this.#memberCoalescer = new MemberEventCoalescer(
        { clock: this.#clock, coalescePeriodMs: o.coalescePeriodMs, quiescentPeriodMs: o.quiescentPeriodMs },
        (e) => this.#events.emit(e),
      );
    }
    if (o.userCoalescePeriodMs > 0 && o.userQuiescentPeriodMs > 0) {
      this.#userCoalescer = new UserEventCoalescer(
        {
          clock: this.#clock,
          coalescePeriodMs: o.userCoalescePeriodMs,
          quiescentPeriodMs: o.userQuiescentPeriodMs,
        },
        (e) => (this.#memberCoalescer ? this.#memberCoalescer.handle(e) : this.#events.emit(e)),
      );
    }

    try {
      this.#memberlist = await Memberlist.create(memberlistOptionsFor(o), {
        ...(this.#transport ? { transport: this.#transport } : {}),
        clock: this.#clock,
        rng: this.#rng,
        logger: this.#logger.child({ component: 'memberlist' }),
        ...(this.#keyring ? { keyring: this.#keyring } : {}),
        delegates: this.#delegates(),
      });
    } catch (err) {
      await this.#snapshotter?.close();
      throw err;
    }

    this.#schedule();
    if (restored && restored.aliveNodes.size > 0) {
      this.#rejoinPrevious(restored.aliveNodes).catch((err) =>
        this.#logger.error(`Rejoin of previous peers failed: ${errorMessage(err)}`),
      );
    }
  }

  #schedule(): void {
    const o = this.options;
    if (o.reapIntervalMs > 0)
      this.#timers.push(this.#clock.setInterval(() => this.#reap(), o.reapIntervalMs));
    if (o.reconnectIntervalMs > 0) {
      this.#timers.push(this.#clock.setInterval(() => this.#reconnect(), o.reconnectIntervalMs));
    }
    if (o.queueCheckIntervalMs > 0) {
      this.#timers.push(this.#clock.setInterval(() => this.#checkQueues(), o.queueCheckIntervalMs));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  get state(): SerfState {
    return this.#state;
  }

  get localName(): string {
    return this.options.nodeName;
  }

  /** Resolves with the final state once the node has shut down (after leave or on its own). */
  closed(): Promise<SerfState> {
    return this.#closed;
  }

  /** Returns every known member, failed and left ones included. */
  members(): Member[] {
    return [...this.#members.values()].map((m) => ({ ...m.member, tags: { ...m.member.tags } }));
  }

  localMember(): Member {
    const m = this.#members.get(this.options.nodeName);
    if (!m) throw new NotRunningError('the local member is missing');
    return { ...m.member, tags: { ...m.member.tags } };
  }

  get tags(): Record<string, string> {
    return { ...this.#tags };
  }

  /** Lifeguard health score of the local node (0 is healthy). */
  get healthScore(): number {
    return this.#memberlist.healthScore;
  }

  /** Returns the number of alive and suspect nodes in memberlist's table. */
  numMembers(): number {
    return this.#memberlist.numMembers();
  }

  get encrypted(): boolean {
    return this.#keyring !== undefined && this.#keyring.size > 0;
  }

  get keyring(): Keyring | undefined {
    return this.#keyring;
  }

  /** Returns the current values of the three Lamport clocks. */
  clocks(): { member: number; event: number; query: number } {
    return {
      member: this.#memberClock.time(),
      event: this.#eventClock.time(),
      query: this.#queryClock.time(),
    };
  }

  /** Values for `serf info` / RPC `stats`, every value a decimal string. */
  stats(): Record<string, string> {
    const out: Record<string, string> = {
      members: String(this.#members.size),
      failed: String(this.#failedMembers.length),
      left: String(this.#leftMembers.length),
      health_score: String(this.healthScore),
      member_time: String(this.#memberClock.time()),
      event_time: String(this.#eventClock.time()),
      query_time: String(this.#queryClock.time()),
      intent_queue: String(this.#intentQueue.length),
      event_queue: String(this.#eventQueue.length),
      query_queue: String(this.#queryQueue.length),
      encrypted: String(this.encrypted),
    };
    if (this.#coordClient) out.coordinate_resets = String(this.#coordClient.resets);
    return out;
  }

  /** Events from now on, as an async iterator with a bounded buffer (the oldest are dropped). */
  events(
    options: { bufferSize?: number } = {},
  ): AsyncIterableIterator<SerfEvent> & { readonly dropped: number } {
    return this.#events.subscribe(options.bufferSize ?? this.options.eventSubscriberBuffer);
  }

  /** Calls `listener` for every event; it must return quickly. Returns the unsubscribe function. */
  onEvent(listener: (event: SerfEvent) => void): () => void {
    return this.#events.on(listener);
  }

  /**
   * Joins a cluster through `addresses`. Unless `replay` is set, user events that happened before
   * the join are not delivered. Resolves with the number of nodes contacted.
   */
  async join(addresses: string[], options: { replay?: boolean; signal?: AbortSignal } = {}): Promise<number> {
    if (this.#state !== 'alive') throw new NotRunningError("Serf can't Join after Leave or Shutdown");
    if (!options.replay) this.#ignoreOldEvents = true;
    try {
      const joined = await this.#memberlist.join(addresses, options.signal ? { signal: options.signal } : {});
      if (joined > 0) this.#broadcastJoin(this.#memberClock.time());
      return joined;
    } finally {
      this.#ignoreOldEvents = false;
    }
  }

  /**
   * Leaves the cluster gracefully: broadcasts the intent, waits for it to spread, runs the
   * memberlist leave, then pauses `leavePropagateDelay`. The node stays up (and acks probes) until `shutdown()`.
   */
  async leave(): Promise<void> {
    if (this.#state === 'left') return;
    // A second call while leaving waits for the same leave instead of failing.
    if (this.#leaving) return this.#leaving;
    if (this.#state === 'shutdown') throw new NotRunningError('Leave called after Shutdown');
    this.#leaving = this.#leave();
    return this.#leaving;
  }

  async #leave(): Promise<void> {
    this.#state = 'leaving';
    await this.#snapshotter?.leave();

    const msg: LeaveIntent = { ltime: this.#memberClock.time(), node: this.options.nodeName, prune: false };
    this.#memberClock.increment();
    this.#handleLeaveIntent(msg);
    if (this.#hasAliveMembers()) {
      await this.#broadcastAndWait(
        this.#intentQueue,
        encodeSerfMessage({ type: 'leave', body: msg }),
        'timeout while waiting for graceful leave',
      );
    }

    try {
      await this.#memberlist.leave(this.options.broadcastTimeoutMs);
    } catch (err) {
      this.#logger.warn(`Leave broadcast did not finish: ${errorMessage(err)}`);
    }
    if (this.options.leavePropagateDelayMs > 0) await this.#clock.sleep(this.options.leavePropagateDelayMs);
    if (this.#state === 'leaving') this.#state = 'left';
  }

  /** Stops the node now without telling the cluster. Safe to call more than once. */
  async shutdown(): Promise<void> {
    if (this.#state === 'shutdown') return;
    if (this.#state !== 'left') this.#logger.warn('Shutdown without a Leave');
    this.#state = 'shutdown';
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    for (const q of [...this.#queries.values()]) q.close();
    this.#memberCoalescer?.stop();
    this.#userCoalescer?.stop();
    await this.#memberlist.shutdown();
    await this.#snapshotter?.close();
    this.#events.close();
    this.#resolveClosed('shutdown');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Replaces the local tags and gossips them (a new memberlist alive with a higher incarnation). */
  async setTags(tags: Record<string, string>): Promise<void> {
    this.#assertAlive();
    checkTagsSize(encodeTags(tags));
    this.#tags = { ...tags };
    await this.#memberlist.updateNode(this.options.broadcastTimeoutMs);
  }

  /**
   * Sends a user event to the whole cluster. `coalesce` lets agents fold it with newer events of the
   * same name. Rejects when name plus payload exceed the configured size limit.
   */
  async userEvent(
    name: string,
    payload: Uint8Array | null,
    options: { coalesce?: boolean } = {},
  ): Promise<void> {
    this.#assertAlive();
    const limit = this.options.userEventSizeLimit;
    const raw = (payload?.length ?? 0) + Buffer.byteLength(name);
    if (raw > limit)
      throw new InvalidArgumentError(`user event exceeds configured limit of ${limit} bytes before encoding`);
    if (raw > 9216)
      throw new InvalidArgumentError('user event exceeds sane limit of 9216 bytes before encoding');

    const msg: UserEventMessage = {
      ltime: this.#eventClock.time(),
      name,
      payload,
      cc: options.coalesce ?? true,
    };
    const encoded = encodeSerfMessage({ type: 'userEvent', body: msg });
    if (encoded.length > limit) {
      throw new InvalidArgumentError(
        `encoded user event exceeds configured limit of ${limit} bytes after encoding`,
      );
    }
    if (encoded.length > 9216)
      throw new InvalidArgumentError('encoded user event exceeds sane limit of 9216 bytes after encoding');

    this.#eventClock.increment();
    this.#handleUserEvent(msg);
    this.#eventQueue.queue({ message: encoded });
  }

  /**
   * Starts a query. The handle yields acks and responses as they arrive and ends at the deadline.
   * Names starting with `_serf_` are reserved for internal queries.
   */
  query(name: string, payload: Uint8Array | null, options: QueryOptions = {}): QueryHandle {
    this.#assertAlive();
    if (isInternalQuery(name) && !(name === InternalQuery.ping && payload === null)) {
      throw new InvalidArgumentError("Queries cannot contain the '_serf_' prefix");
    }
    return this.#startQuery(name, payload, options, false);
  }

  /** Announces that `node` left (for a failed node that will not come back); `prune` erases it. */
  async forceLeave(node: string, options: { prune?: boolean } = {}): Promise<void> {
    this.#assertAlive();
    const msg: LeaveIntent = { ltime: this.#memberClock.time(), node, prune: options.prune ?? false };
    this.#memberClock.increment();
    this.#handleLeaveIntent(msg);
    if (!this.#hasAliveMembers()) return;
    await this.#broadcastAndWait(
      this.#intentQueue,
      encodeSerfMessage({ type: 'leave', body: msg }),
      'timed out broadcasting node removal',
    );
  }

  /** Returns how many times a member came back within a minute of failing (a sign of flapping). */
  get flapCount(): number {
    return this.#flaps;
  }

  /**
   * Estimates the round-trip time in ms between two members from their network coordinates, or
   * returns undefined when either coordinate is unknown.
   */
  estimateRtt(a: string, b: string): number | undefined {
    const ca = this.getCoordinate(a);
    const cb = this.getCoordinate(b);
    if (!ca || !cb) return undefined;
    return distanceSeconds(ca, cb) * 1000;
  }

  /** Returns the cached coordinate of a node (always current for this node), or undefined when coordinates are off. */
  getCoordinate(node: string): Coordinate | undefined {
    if (!this.#coordClient) return undefined;
    if (node === this.options.nodeName) return this.#coordClient.getCoordinate();
    return this.#coordCache.get(node);
  }

  // ---------------------------------------------------------------------------------------------
  // memberlist delegates

  #delegates(): Delegates {
    const delegate: Delegate = {
      nodeMeta: (limit) => {
        const meta = encodeTags(this.#tags);
        if (meta.length > limit)
          throw new InvalidArgumentError(`Encoded length of tags exceeds limit of ${limit} bytes`);
        return meta;
      },
      notifyMsg: (buf) => this.#receiveMessage(buf),
      getBroadcasts: (overhead, limit) => this.#getBroadcasts(overhead, limit),
      localState: (join) => this.#localState(join),
      mergeRemoteState: (buf, join) => this.#mergeRemoteState(buf, join),
    };
    const events: EventDelegate = {
      notifyJoin: (n) => this.#handleNodeJoin(n),
      notifyLeave: (n) => this.#handleNodeLeave(n),
      notifyUpdate: (n) => this.#handleNodeUpdate(n),
    };
    const result: Delegates = {
      delegate,
      events,
      conflict: { notifyConflict: (existing, other) => this.#handleNodeConflict(existing, other) },
    };
    if (this.#coordClient) result.ping = this.#pingDelegate(this.#coordClient);
    return result;
  }

  #pingDelegate(client: CoordinateClient): PingDelegate {
    return {
      ackPayload: () => encodePingPayload(client.getCoordinate()),
      notifyPingComplete: (node, rttMs, payload) => {
        if (!payload || payload.length === 0) return;
        let coord: Coordinate;
        try {
          coord = decodePingPayload(payload);
        } catch (err) {
          this.#logger.error(`Failed to decode coordinate from ping: ${errorMessage(err)}`);
          return;
        }
        try {
          client.update(node.name, coord, rttMs / 1000);
        } catch (err) {
          this.#logger.error(`Rejected coordinate from ${node.name}: ${errorMessage(err)}`);
          return;
        }
        this.#coordCache.set(node.name, coord);
        this.#coordCache.set(this.options.nodeName, client.getCoordinate());
      },
    };
  }

  #getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const out = this.#intentQueue.getBroadcasts(overhead, limit);
    let used = 0;
    for (const m of out) used += m.length + overhead;
    for (const q of [this.#queryQueue, this.#eventQueue]) {
      const more = q.getBroadcasts(overhead, limit - used);
      for (const m of more) {
        used += m.length + overhead;
        out.push(m);
      }
    }
    return out;
  }

  #receiveMessage(buf: Uint8Array): void {
    let msg: ReturnType<typeof decodeSerfMessage>;
    try {
      msg = decodeSerfMessage(buf);
    } catch (err) {
      this.#warnPeer('decode', `Failed to decode message: ${errorMessage(err)}`);
      return;
    }
    let rebroadcast = false;
    let queue: TransmitLimitedQueue | undefined;
    switch (msg.type) {
      case 'leave':
        this.#logger.debug(`messageLeaveType: ${msg.body.node}`);
        rebroadcast = this.#handleLeaveIntent(msg.body);
        queue = this.#intentQueue;
        break;
      case 'join':
        this.#logger.debug(`messageJoinType: ${msg.body.node}`);
        rebroadcast = this.#handleJoinIntent(msg.body);
        queue = this.#intentQueue;
        break;
      case 'userEvent':
        this.#logger.debug(`messageUserEventType: ${msg.body.name}`);
        rebroadcast = this.#handleUserEvent(msg.body);
        queue = this.#eventQueue;
        break;
      case 'query':
        this.#logger.debug(`messageQueryType: ${msg.body.name}`);
        rebroadcast = this.#handleQuery(msg.body);
        queue = this.#queryQueue;
        break;
      case 'queryResponse':
        this.#handleQueryResponse(msg.body);
        break;
      case 'relay':
        this.#forwardRelay(msg.header.destAddr, msg.inner);
        break;
      default:
        this.#warnPeer('type', `Received message of unexpected type '${msg.type}'`);
    }
    // Re-broadcasts are the received bytes, copied: the buffer may belong to the packet.
    if (rebroadcast && queue) queue.queue({ message: Uint8Array.from(buf) });
  }

  #localState(join: boolean): Uint8Array {
    const statusLTimes = new Map<string, number>();
    for (const [name, m] of this.#members) statusLTimes.set(name, m.statusLTime);
    const body: SerfPushPull = {
      ltime: this.#memberClock.time(),
      statusLTimes,
      leftMembers: this.#leftMembers.map((m) => m.member.name),
      eventLTime: this.#eventClock.time(),
      events: [...this.#eventRing],
      queryLTime: this.#queryClock.time(),
    };
    void join;
    return encodeSerfMessage({ type: 'pushPull', body });
  }

  #mergeRemoteState(buf: Uint8Array, join: boolean): void {
    let msg: ReturnType<typeof decodeSerfMessage>;
    try {
      msg = decodeSerfMessage(buf);
    } catch (err) {
      this.#logger.error(`Failed to decode remote state: ${errorMessage(err)}`);
      return;
    }
    if (msg.type !== 'pushPull') {
      this.#logger.error(`Remote state has bad type prefix: ${buf[0]}`);
      return;
    }
    const pp = msg.body;
    // No message carrying these times has been sent yet, hence the − 1.
    if (pp.ltime > 0) this.#memberClock.witness(pp.ltime - 1);
    if (pp.eventLTime > 0) this.#eventClock.witness(pp.eventLTime - 1);
    if (pp.queryLTime > 0) this.#queryClock.witness(pp.queryLTime - 1);

    // Leaves first, one past the status time: the leave was accepted after that time.
    const left = new Set(pp.leftMembers);
    for (const name of pp.leftMembers) {
      this.#handleLeaveIntent({ ltime: (pp.statusLTimes.get(name) ?? 0) + 1, node: name, prune: false });
    }
    for (const [name, ltime] of pp.statusLTimes) {
      if (left.has(name)) continue;
      this.#handleJoinIntent({ ltime, node: name });
    }

    if (join && this.#ignoreOldEvents && pp.eventLTime > this.#eventMinTime)
      this.#eventMinTime = pp.eventLTime;

    for (const slot of pp.events) {
      if (!slot) continue;
      for (const e of slot.events) {
        this.#handleUserEvent({ ltime: slot.ltime, name: e.name, payload: e.payload, cc: false });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Members: memberlist notifications

  #memberFromNode(n: NodeInfo, status: MemberStatusName): Member {
    return {
      name: n.name,
      addr: n.addr,
      port: n.port,
      tags: decodeTags(n.meta),
      status,
      protocolMin: n.vsn.pmin,
      protocolMax: n.vsn.pmax,
      protocolCur: n.vsn.pcur,
      delegateMin: n.vsn.dmin,
      delegateMax: n.vsn.dmax,
      delegateCur: n.vsn.dcur,
    };
  }

  #handleNodeJoin(n: NodeInfo): void {
    let state = this.#members.get(n.name);
    let oldStatus: MemberStatusName = 'none';
    if (!state) {
      state = { member: this.#memberFromNode(n, 'alive'), statusLTime: 0, leaveTime: 0 };
      const intent = this.#recentIntents.get(n.name);
      if (intent) {
        state.statusLTime = intent.ltime;
        if (intent.type === 'leave') state.member.status = 'leaving';
      }
      this.#members.set(n.name, state);
    } else {
      oldStatus = state.member.status;
      const downFor = this.#clock.now() - state.leaveTime;
      if (oldStatus === 'failed' && downFor < FLAP_WINDOW_MS) {
        this.#flaps++;
        this.#logger.debug(`Member ${n.name} flapped: back ${Math.round(downFor)} ms after failing`);
      }
      const fresh = this.#memberFromNode(n, 'alive');
      state.member = fresh;
      state.leaveTime = 0;
    }
    const m = state.member;
    m.protocolMin = n.vsn.pmin;
    m.protocolMax = n.vsn.pmax;
    m.protocolCur = n.vsn.pcur;
    m.delegateMin = n.vsn.dmin;
    m.delegateMax = n.vsn.dmax;
    m.delegateCur = n.vsn.dcur;

    if (oldStatus === 'failed' || oldStatus === 'left') {
      this.#failedMembers = this.#failedMembers.filter((x) => x.member.name !== n.name);
      this.#leftMembers = this.#leftMembers.filter((x) => x.member.name !== n.name);
    }

    this.#logger.info(`EventMemberJoin: ${m.name} ${m.addr}`);
    this.#emitMemberEvent('member-join', [m]);
  }

  #handleNodeLeave(n: NodeInfo): void {
    const state = this.#members.get(n.name);
    if (!state) return;
    const m = state.member;
    if (m.status === 'leaving') {
      m.status = 'left';
      state.leaveTime = this.#clock.now();
      this.#leftMembers.push(state);
    } else if (m.status === 'alive') {
      m.status = 'failed';
      state.leaveTime = this.#clock.now();
      this.#failedMembers.push(state);
    } else {
      this.#logger.warn(`Bad state when leave: ${MemberStatus[m.status]}`);
      return;
    }
    const type: MemberEventType = m.status === 'left' ? 'member-leave' : 'member-failed';
    this.#logger.info(
      `${type === 'member-leave' ? 'EventMemberLeave' : 'EventMemberFailed'}: ${m.name} ${m.addr}`,
    );
    this.#emitMemberEvent(type, [m]);
  }

  #handleNodeUpdate(n: NodeInfo): void {
    const state = this.#members.get(n.name);
    if (!state) return;
    const status = state.member.status;
    state.member = this.#memberFromNode(n, status);
    this.#logger.info(`EventMemberUpdate: ${n.name}`);
    this.#emitMemberEvent('member-update', [state.member]);
  }

  #handleNodeConflict(existing: NodeInfo, other: NodeInfo): void {
    if (existing.name !== this.options.nodeName) {
      this.#warnPeer(
        `conflict:${existing.name}`,
        `Name conflict for '${existing.name}' both ${existing.addr}:${existing.port} and ${other.addr}:${other.port} are claiming`,
      );
      return;
    }
    this.#logger.error(
      `Node name conflicts with another node at ${other.addr}:${other.port}. Names must be unique!`,
    );
    if (this.options.enableNameConflictResolution) {
      this.#resolveNameConflict().catch((err) =>
        this.#logger.error(`Name conflict resolution failed: ${errorMessage(err)}`),
      );
    }
  }

  /** Runs the `_serf_conflict` vote on our name and shuts this node down when it is in the minority. */
  async #resolveNameConflict(): Promise<void> {
    const handle = this.#startQuery(
      InternalQuery.conflict,
      new TextEncoder().encode(this.options.nodeName),
      {},
      true,
    );
    const self = this.#memberlist.advertiseAddress;
    const selfAddr = ipToBytes(self.host);
    let responses = 0;
    let matching = 0;
    for await (const reply of handle) {
      if (reply.type !== 'response') continue;
      let member: ConflictMember | null;
      try {
        member = decodeConflictResponse(reply.payload);
      } catch (err) {
        this.#logger.error(`Failed to decode conflict query response: ${errorMessage(err)}`);
        continue;
      }
      if (!member) continue;
      responses++;
      if (bytesEqual(member.addr, selfAddr) && member.port === self.port) matching++;
    }
    const majority = Math.floor(responses / 2) + 1;
    if (matching < majority) {
      this.#logger.error(`minority in name conflict resolution, quitting [${matching} / ${responses}]`);
      await this.shutdown();
      return;
    }
    this.#logger.info(`majority in name conflict resolution [${matching} / ${responses}]`);
  }

  #conflictView(name: string): ConflictMember | null {
    const state = this.#members.get(name);
    if (!state) return null;
    const m = state.member;
    let addr: Uint8Array;
    try {
      addr = ipToBytes(m.addr);
    } catch {
      return null;
    }
    return {
      name: m.name,
      addr,
      port: m.port,
      tags: new Map(Object.entries(m.tags)),
      status: MemberStatus[m.status],
      protocolMin: m.protocolMin,
      protocolMax: m.protocolMax,
      protocolCur: m.protocolCur,
      delegateMin: m.delegateMin,
      delegateMax: m.delegateMax,
      delegateCur: m.delegateCur,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Members: intents

  #broadcastJoin(ltime: number): void {
    const msg: JoinIntent = { ltime, node: this.options.nodeName };
    this.#memberClock.witness(ltime);
    this.#handleJoinIntent(msg);
    this.#intentQueue.queue({ message: encodeSerfMessage({ type: 'join', body: msg }) });
  }

  /** Stores an intent for a member not seen yet; true when it is newer than the buffered one. */
  #bufferIntent(node: string, type: 'join' | 'leave', ltime: number): boolean {
    const existing = this.#recentIntents.get(node);
    if (existing && ltime <= existing.ltime) return false;
    this.#recentIntents.set(node, { type, ltime, at: this.#clock.now() });
    return true;
  }

  /** Applies a join intent; returns whether to re-broadcast it. */
  #handleJoinIntent(msg: JoinIntent): boolean {
    this.#memberClock.witness(msg.ltime);
    const state = this.#members.get(msg.node);
    if (!state) return this.#bufferIntent(msg.node, 'join', msg.ltime);
    if (msg.ltime <= state.statusLTime) return false;
    state.statusLTime = msg.ltime;
    if (state.member.status === 'leaving') state.member.status = 'alive';
    return true;
  }

  /** Applies a leave intent; returns whether to re-broadcast it. */
  #handleLeaveIntent(msg: LeaveIntent): boolean {
    this.#memberClock.witness(msg.ltime);
    const state = this.#members.get(msg.node);
    if (!state) return this.#bufferIntent(msg.node, 'leave', msg.ltime);
    if (msg.ltime <= state.statusLTime) return false;

    // Someone thinks we are leaving while we are not: refute with a fresh join intent.
    if (msg.node === this.options.nodeName && this.#state === 'alive') {
      this.#logger.debug('Refuting an older leave intent');
      queueMicrotask(() => this.#broadcastJoin(this.#memberClock.time()));
      return false;
    }

    state.statusLTime = msg.ltime;
    const m = state.member;
    switch (m.status) {
      case 'alive':
        m.status = 'leaving';
        if (msg.prune) this.#prune(state);
        return true;
      case 'failed':
        m.status = 'left';
        this.#failedMembers = this.#failedMembers.filter((x) => x !== state);
        this.#leftMembers.push(state);
        this.#logger.info(`EventMemberLeave (forced): ${m.name} ${m.addr}`);
        this.#emitMemberEvent('member-leave', [m]);
        if (msg.prune) this.#prune(state);
        return true;
      case 'leaving':
      case 'left':
        if (msg.prune) this.#prune(state);
        return true;
      default:
        return false;
    }
  }

  /** Erases a force-left member; a leaving one first gets time to finish its leave. */
  #prune(state: MemberState): void {
    const erase = () => {
      this.#logger.info(`EventMemberReap (forced): ${state.member.name} ${state.member.addr}`);
      this.#eraseMember(state);
    };
    if (state.member.status === 'leaving') {
      this.#timers.push(
        this.#clock.setTimeout(erase, this.options.broadcastTimeoutMs + this.options.leavePropagateDelayMs),
      );
    } else {
      erase();
    }
  }

  #eraseMember(state: MemberState): void {
    const name = state.member.name;
    if (this.#members.get(name) !== state) return;
    this.#members.delete(name);
    this.#failedMembers = this.#failedMembers.filter((x) => x !== state);
    this.#leftMembers = this.#leftMembers.filter((x) => x !== state);
    this.#coordCache.delete(name);
    this.#coordClient?.forgetNode(name);
    this.#emitMemberEvent('member-reap', [state.member]);
  }

  #reap(): void {
    const now = this.#clock.now();
    for (const state of [...this.#failedMembers]) {
      if (now - state.leaveTime > this.options.reconnectTimeoutMs) {
        this.#logger.info(`EventMemberReap: ${state.member.name}`);
        this.#eraseMember(state);
      }
    }
    for (const state of [...this.#leftMembers]) {
      if (now - state.leaveTime > this.options.tombstoneTimeoutMs) {
        this.#logger.info(`EventMemberReap: ${state.member.name}`);
        this.#eraseMember(state);
      }
    }
    for (const [name, intent] of this.#recentIntents) {
      if (now - intent.at > this.options.recentIntentTimeoutMs) this.#recentIntents.delete(name);
    }
  }

  /** Now and then tries to reach one failed member again, in case it was a partition. */
  #reconnect(): void {
    if (this.#state !== 'alive') return;
    const failed = this.#failedMembers.length;
    if (failed === 0) return;
    const live = this.#members.size - failed - this.#leftMembers.length;
    const probability = failed / Math.max(1, live);
    if (this.#rng.next() > probability) {
      this.#logger.debug('forgoing reconnect for random throttling');
      return;
    }
    const pick = this.#failedMembers[Math.floor(this.#rng.next() * failed)]!.member;
    const addr = pick.addr.includes(':') ? `[${pick.addr}]` : pick.addr;
    this.#logger.info(`attempting reconnect to ${pick.name} ${pick.addr}:${pick.port}`);
    this.#memberlist.join([`${pick.name}/${addr}:${pick.port}`]).catch(() => {});
  }

  #checkQueues(): void {
    const queues: [string, TransmitLimitedQueue][] = [
      ['Intent', this.#intentQueue],
      ['Event', this.#eventQueue],
      ['Query', this.#queryQueue],
    ];
    const o = this.options;
    const limit = o.minQueueDepth > 0 ? Math.max(2 * this.#members.size, o.minQueueDepth) : o.maxQueueDepth;
    for (const [name, q] of queues) {
      if (q.length >= o.queueDepthWarning) this.#logger.warn(`${name} queue depth: ${q.length}`);
      if (q.length > limit) {
        this.#logger.warn(`${name} queue depth (${q.length}) exceeds limit (${limit}), dropping messages!`);
        q.prune(limit);
      }
    }
  }

  async #rejoinPrevious(previous: Map<string, string>): Promise<void> {
    const candidates = shuffle(
      this.#rng,
      [...previous].filter(([name]) => name !== this.options.nodeName),
    );
    for (const [name, addr] of candidates) {
      if (this.#state !== 'alive') return;
      this.#logger.info(`Attempting re-join to previously known node: ${name}: ${addr}`);
      try {
        await this.#memberlist.join([`${name}/${addr}`]);
        this.#logger.info(`Re-joined to previously known node: ${name}: ${addr}`);
        return;
      } catch {
        // Try the next one.
      }
    }
    if (candidates.length > 0) this.#logger.warn('Failed to re-join any previously known node');
  }

  // ---------------------------------------------------------------------------------------------
  // User events

  /** Applies a user event; returns whether to re-broadcast it. */
  #handleUserEvent(msg: UserEventMessage): boolean {
    this.#eventClock.witness(msg.ltime);
    if (msg.ltime < this.#eventMinTime) return false;

    const current = this.#eventClock.time();
    const size = this.#eventRing.length;
    if (current > size && msg.ltime < current - size) {
      this.#warnPeer(
        'old-event',
        `received old event ${msg.name} from time ${msg.ltime} (current: ${current})`,
      );
      return false;
    }

    const idx = msg.ltime % size;
    let slot = this.#eventRing[idx];
    const payload = msg.payload ?? new Uint8Array(0);
    if (slot && slot.ltime === msg.ltime) {
      for (const prev of slot.events) {
        if (prev.name === msg.name && bytesEqual(prev.payload ?? new Uint8Array(0), payload)) return false;
      }
    } else {
      slot = { ltime: msg.ltime, events: [] };
      this.#eventRing[idx] = slot;
    }
    slot.events.push({ name: msg.name, payload: msg.payload });

    this.#dispatch({ type: 'user', ltime: msg.ltime, name: msg.name, payload, coalesce: msg.cc });
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Queries

  #startQuery(
    name: string,
    payload: Uint8Array | null,
    options: QueryOptions,
    internal: boolean,
  ): QueryHandle {
    if (this.options.protocolVersion < 4) throw new ProtocolError('Feature not supported');
    void internal;
    const timeoutMs =
      options.timeoutMs && options.timeoutMs > 0
        ? options.timeoutMs
        : defaultQueryTimeout(
            memberlistOptionsFor(this.options).gossipIntervalMs,
            this.options.queryTimeoutMult,
            this.#memberlist.numMembers(),
          );

    const filters: Uint8Array[] = [];
    if (options.filterNodes && options.filterNodes.length > 0)
      filters.push(encodeNodeFilter(options.filterNodes));
    for (const [tag, expr] of Object.entries(options.filterTags ?? {}))
      filters.push(encodeTagFilter(tag, expr));

    const relayFactor = options.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > 255) {
      throw new InvalidArgumentError(`relay factor ${relayFactor} is outside 0..255`);
    }
    const self = this.#memberlist.advertiseAddress;
    const q: QueryMessage = {
      ltime: this.#queryClock.time(),
      id: cryptoRandomInt(0, 2 ** 31),
      addr: ipToBytes(self.host),
      port: self.port,
      sourceNode: this.options.nodeName,
      filters: filters.length > 0 ? filters : null,
      flags: options.requestAck ? QueryFlag.ack : 0,
      relayFactor,
      timeoutNs: timeoutMs * 1_000_000,
      name,
      payload,
    };
    const encoded = encodeSerfMessage({ type: 'query', body: q });
    if (encoded.length > this.options.querySizeLimit) {
      throw new InvalidArgumentError(`query exceeds limit of ${this.options.querySizeLimit} bytes`);
    }

    const handle = new QueryHandle({
      name,
      id: q.id,
      ltime: q.ltime,
      timeoutMs,
      clock: this.#clock,
      capacity: this.#members.size * 2,
      onClose: () => {
        if (this.#queries.get(q.ltime) === handle) this.#queries.delete(q.ltime);
      },
    });
    this.#queries.get(q.ltime)?.close();
    this.#queries.set(q.ltime, handle);
    options.signal?.addEventListener('abort', () => handle.close(), { once: true });

    this.#handleQuery(q);
    this.#queryQueue.queue({ message: encoded });
    return handle;
  }

  /** Processes a query (received or our own); returns whether to re-broadcast it. */
  #handleQuery(q: QueryMessage): boolean {
    this.#queryClock.witness(q.ltime);
    if (q.ltime < this.#queryMinTime) return false;

    const current = this.#queryClock.time();
    const size = this.#queryRing.length;
    if (current > size && q.ltime < current - size) {
      this.#warnPeer('old-query', `received old query ${q.name} from time ${q.ltime} (current: ${current})`);
      return false;
    }
    const idx = q.ltime % size;
    let seen = this.#queryRing[idx];
    if (seen && seen.ltime === q.ltime) {
      if (seen.ids.includes(q.id)) return false;
    } else {
      seen = { ltime: q.ltime, ids: [] };
      this.#queryRing[idx] = seen;
    }
    seen.ids.push(q.id);

    const rebroadcast = (q.flags & QueryFlag.noBroadcast) === 0;
    const self = { name: this.options.nodeName, tags: this.#tags };
    if (
      !matchesFilters(q.filters, self, (message) => this.#warnPeer('filter', `${message} (query ${q.name})`))
    ) {
      return rebroadcast;
    }

    let origin: { host: string; port: number };
    try {
      origin = { host: bytesToIp(q.addr), port: q.port };
    } catch (err) {
      this.#warnPeer('origin', `Query ${q.name} has an invalid origin address: ${errorMessage(err)}`);
      return rebroadcast;
    }

    if (q.flags & QueryFlag.ack) {
      const ack: QueryResponseMessage = {
        ltime: q.ltime,
        id: q.id,
        from: this.options.nodeName,
        flags: QueryFlag.ack,
        payload: null,
      };
      const raw = encodeSerfMessage({ type: 'queryResponse', body: ack });
      this.#sendToOrigin(origin, raw, q);
    }

    let responded = false;
    const deadline = this.#clock.now() + q.timeoutNs / 1_000_000;
    const event: QueryEvent = {
      type: 'query',
      ltime: q.ltime,
      name: q.name,
      payload: q.payload ?? new Uint8Array(0),
      id: q.id,
      deadline,
      sourceNode: q.sourceNode,
      respond: async (payload: Uint8Array) => {
        if (responded) throw new SerfError('SERF_ERR_INVALID_ARGUMENT', 'response already sent');
        if (this.#clock.now() > deadline) throw new TimeoutError('response is past the deadline');
        const resp: QueryResponseMessage = {
          ltime: q.ltime,
          id: q.id,
          from: this.options.nodeName,
          flags: 0,
          payload,
        };
        const raw = encodeSerfMessage({ type: 'queryResponse', body: resp });
        const limit = this.options.queryResponseSizeLimit;
        if (raw.length > limit) throw new InvalidArgumentError(`response exceeds limit of ${limit} bytes`);
        responded = true;
        await this.#sendToOrigin(origin, raw, q);
      },
    };
    this.#dispatch(event);
    return rebroadcast;
  }

  /** Sends an ack or response to the query origin, plus relayed copies when asked for. */
  async #sendToOrigin(
    origin: { host: string; port: number },
    raw: Uint8Array,
    q: QueryMessage,
  ): Promise<void> {
    try {
      await this.#memberlist.sendUserMessage(origin, raw);
    } catch (err) {
      this.#logger.error(
        `Failed to send query response to ${origin.host}:${origin.port}: ${errorMessage(err)}`,
      );
    }
    if (q.relayFactor > 0) await this.#relay(q, raw);
  }

  async #relay(q: QueryMessage, raw: Uint8Array): Promise<void> {
    const candidates = [...this.#members.values()]
      .map((s) => s.member)
      .filter((m) => m.name !== this.options.nodeName && m.status === 'alive' && m.protocolMax >= 5);
    if (candidates.length < q.relayFactor) {
      this.#logger.warn(
        `Not enough members to relay query response (${candidates.length} of ${q.relayFactor} wanted)`,
      );
    }
    const relayMsg = encodeSerfMessage({
      type: 'relay',
      header: { destAddr: { ip: q.addr, port: q.port, zone: '' }, destName: q.sourceNode },
      inner: raw,
    });
    if (relayMsg.length > this.options.queryResponseSizeLimit) {
      this.#logger.error(`relayed response exceeds limit of ${this.options.queryResponseSizeLimit} bytes`);
      return;
    }
    for (const m of shuffle(this.#rng, candidates).slice(0, q.relayFactor)) {
      try {
        await this.#memberlist.sendUserMessage({ host: m.addr, port: m.port }, relayMsg);
      } catch (err) {
        this.#logger.error(`Failed to relay query response through ${m.name}: ${errorMessage(err)}`);
      }
    }
  }

  #forwardRelay(dest: { ip: Uint8Array; port: number }, inner: Uint8Array): void {
    let host: string;
    try {
      host = bytesToIp(dest.ip);
    } catch (err) {
      this.#warnPeer('relay', `Relay message has an invalid destination: ${errorMessage(err)}`);
      return;
    }
    this.#memberlist
      .sendUserMessage({ host, port: dest.port }, inner)
      .catch((err) =>
        this.#logger.error(
          `Failed to forward relayed response to ${host}:${dest.port}: ${errorMessage(err)}`,
        ),
      );
  }

  #handleQueryResponse(resp: QueryResponseMessage): void {
    const handle = this.#queries.get(resp.ltime);
    if (!handle) {
      this.#warnPeer(
        'reply-unknown',
        `reply for non-running query (LTime: ${resp.ltime}, ID: ${resp.id}) From: ${resp.from}`,
      );
      return;
    }
    if (handle.id !== resp.id) {
      this.#warnPeer('reply-id', `Query reply ID mismatch (Local: ${handle.id}, Response: ${resp.id})`);
      return;
    }
    handle.handleResponse(resp);
  }

  // ---------------------------------------------------------------------------------------------
  // Event pipeline: snapshot → internal queries → user coalescer → member coalescer → subscribers

  #dispatch(event: SerfEvent): void {
    this.#snapshotter?.record(event);
    if (event.type === 'query' && isInternalQuery(event.name)) {
      void handleInternalQuery(
        {
          nodeName: this.options.nodeName,
          keyring: this.#keyring,
          logger: this.#logger,
          queryResponseSizeLimit: this.options.queryResponseSizeLimit,
          persistKeyring: this.#persistKeyring,
          conflictView: (name) => this.#conflictView(name),
        },
        event,
      );
      return;
    }
    if (this.#userCoalescer) this.#userCoalescer.handle(event);
    else if (this.#memberCoalescer) this.#memberCoalescer.handle(event);
    else this.#events.emit(event);
  }

  #emitMemberEvent(type: MemberEventType, members: Member[]): void {
    const event: MemberEvent = { type, members: members.map((m) => ({ ...m, tags: { ...m.tags } })) };
    this.#dispatch(event);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  #hasAliveMembers(): boolean {
    for (const s of this.#members.values()) {
      if (s.member.name !== this.options.nodeName && s.member.status === 'alive') return true;
    }
    return false;
  }

  async #broadcastAndWait(
    queue: TransmitLimitedQueue,
    message: Uint8Array,
    timeoutText: string,
  ): Promise<void> {
    let timer: TimerHandle | undefined;
    const sent = new Promise<void>((resolve) => queue.queue({ message, finished: resolve }));
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve('timeout'), this.options.broadcastTimeoutMs);
    });
    const result = await Promise.race([sent.then(() => 'sent' as const), timeout]);
    timer?.cancel();
    if (result === 'timeout') throw new TimeoutError(timeoutText);
  }

  /** Logs a warning about a peer's message, at most once per kind per interval. */
  #warnPeer(kind: string, message: string): void {
    const suppressed = this.#peerWarnings.allow(kind);
    if (suppressed < 0) return;
    this.#logger.warn(suppressed > 0 ? `${message} (${suppressed} similar messages suppressed)` : message);
  }

  #assertAlive(): void {
    if (this.#state === 'shutdown') throw new NotRunningError('Serf has been shut down');
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
