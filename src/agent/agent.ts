/**
 * The Serf agent: a Serf node plus what an operator runs on a host, namely event handlers, the
 * RPC port for the `serf` CLI, tags and keyring files, retry-join and mDNS discovery. It is the
 * `AgentBackend` the RPC server calls.
 */

import { arch, availableParallelism, networkInterfaces, platform } from 'node:os';
import { decodeKey, encodeKey, Keyring } from '../security/keyring.js';
import { agentSerfDefaults, type SerfOptions } from '../serf/config.js';
import type { Member, SerfEvent } from '../serf/events.js';
import type { KeyOperationResult } from '../serf/key-manager.js';
import { Serf } from '../serf/serf.js';
import { errorMessage, InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { type AgentConfig, splitHostPort } from './config.js';
import { readKeyringFile, readTagsFile, writeKeyringFile, writeTagsFile } from './files.js';
import { EventHandlerRunner, parseEventHandlerSpec } from './handlers.js';
import type { LogWriter } from './log-writer.js';
import { MdnsDiscovery } from './mdns.js';
import { MetricsSink } from './metrics.js';
import type {
  AgentBackend,
  BackendCoordinate,
  BackendKeyResult,
  BackendQuery,
  BackendQueryParams,
} from './rpc-backend.js';
import { RpcServer } from './rpc-server.js';

/** Period of the gauge metrics (member counts, health, queue depths), in ms. */
const GAUGE_INTERVAL_MS = 10_000;

/** Time between the reply to an RPC `leave` and closing the RPC listener. */
const LEAVE_REPLY_GRACE_MS = 100;

/** A start-up failure, with the phase prefix the reference prints (`Failed to setup the Serf agent: ...`). */
export class AgentStartError extends Error {}

export class Agent implements AgentBackend {
  readonly config: AgentConfig;
  readonly serf: Serf;
  readonly #logWriter: LogWriter;
  readonly #logger: Logger;
  readonly #handlers: EventHandlerRunner;
  readonly #eventListeners = new Set<(e: SerfEvent) => void>();
  #rpc: RpcServer | undefined;
  #mdns: MdnsDiscovery | undefined;
  #retryAbort = new AbortController();
  #shutdown = false;
  #tags: Record<string, string>;
  readonly #metrics: MetricsSink;
  #gaugeTimer: NodeJS.Timeout | undefined;

  private constructor(
    config: AgentConfig,
    serf: Serf,
    logWriter: LogWriter,
    handlers: EventHandlerRunner,
    tags: Record<string, string>,
  ) {
    this.config = config;
    this.serf = serf;
    this.#logWriter = logWriter;
    this.#logger = logWriter.logger().child({ component: 'agent' });
    this.#handlers = handlers;
    this.#tags = tags;
    this.#metrics = new MetricsSink({
      statsdAddr: config.statsdAddr,
      statsiteAddr: config.statsiteAddr,
      logger: this.#logger,
    });
    if (this.#metrics.enabled) {
      this.#gaugeTimer = setInterval(() => this.#reportGauges(), GAUGE_INTERVAL_MS);
      this.#gaugeTimer.unref();
    }
  }

  #reportGauges(): void {
    const stats = this.serf.stats();
    this.#metrics.gauge('serf.members', Number(stats.members));
    this.#metrics.gauge('serf.members.failed', Number(stats.failed));
    this.#metrics.gauge('serf.members.left', Number(stats.left));
    this.#metrics.gauge('memberlist.health.score', Number(stats.health_score));
    this.#metrics.gauge('serf.queue.Intent', Number(stats.intent_queue));
    this.#metrics.gauge('serf.queue.Event', Number(stats.event_queue));
    this.#metrics.gauge('serf.queue.Query', Number(stats.query_queue));
  }

  /**
   * Builds the keyring and tags from their files, creates the Serf node and starts handling its
   * events. Throws AgentStartError with the reference's phase prefix on failure.
   */
  static async create(config: AgentConfig, logWriter: LogWriter): Promise<Agent> {
    const logger = logWriter.logger().child({ component: 'agent' });

    const keyring = await Agent.#setupKeyring(config, logger);
    let tags = { ...config.tags };
    if (config.tagsFile) {
      if (Object.keys(config.tags).length > 0) {
        throw new AgentStartError(
          'Failed to setup the Serf agent: Tags config not allowed while using tag files',
        );
      }
      const restored = await readTagsFile(config.tagsFile).catch((err: unknown) => {
        throw new AgentStartError(`Failed to setup the Serf agent: ${errorMessage(err)}`);
      });
      if (restored) {
        tags = restored;
        logger.info(`Restored ${Object.keys(restored).length} tag(s) from ${config.tagsFile}`);
      }
    }

    let handlerSpecs: ReturnType<typeof parseEventHandlerSpec>;
    try {
      handlerSpecs = config.eventHandlers.flatMap((s) => parseEventHandlerSpec(s));
    } catch (err) {
      throw new AgentStartError(errorMessage(err));
    }

    // Events can arrive while Serf.create runs (our own join), before the agent object exists.
    let agentRef: Agent | undefined;
    const early: SerfEvent[] = [];
    const onEvent = (e: SerfEvent) => {
      if (agentRef) agentRef.#handleEvent(e);
      else early.push(e);
    };

    let serf: Serf;
    try {
      serf = await Serf.create(Agent.serfOptions(config, tags), {
        logger: logWriter.logger(),
        ...(keyring ? { keyring } : {}),
        ...(config.keyringFile
          ? { persistKeyring: (keys: string[]) => writeKeyringFile(config.keyringFile, keys) }
          : {}),
        onEvent,
      });
    } catch (err) {
      throw new AgentStartError(`Failed to start the Serf agent: Error creating Serf: ${errorMessage(err)}`);
    }

    const handlers = new EventHandlerRunner({
      specs: handlerSpecs,
      selfName: () => config.nodeName,
      selfTags: () => (agentRef ? agentRef.currentTags() : tags),
      logger,
      queryResponseSizeLimit: config.queryResponseSizeLimit,
    });
    const agent = new Agent(config, serf, logWriter, handlers, tags);
    agentRef = agent;
    for (const e of early) agent.#handleEvent(e);
    logger.info('Serf agent starting');
    return agent;
  }

  static async #setupKeyring(config: AgentConfig, logger: Logger): Promise<Keyring | undefined> {
    if (config.encryptKey && config.keyringFile) {
      throw new AgentStartError(
        'Failed to setup the Serf agent: Encryption key not allowed while using a keyring',
      );
    }
    if (config.keyringFile) {
      let keys: Uint8Array[];
      try {
        keys = await readKeyringFile(config.keyringFile);
      } catch (err) {
        throw new AgentStartError(`Failed to setup the Serf agent: ${errorMessage(err)}`);
      }
      logger.info(`Restored keyring with ${keys.length} keys from ${config.keyringFile}`);
      return new Keyring(keys, keys[0]);
    }
    if (config.encryptKey) {
      let key: Uint8Array;
      try {
        key = decodeKey(config.encryptKey);
      } catch (err) {
        throw new AgentStartError(`Invalid encryption key: ${errorMessage(err)}`);
      }
      return new Keyring([key], key);
    }
    return undefined;
  }

  /** Maps agent settings onto the Serf library's options. */
  static serfOptions(config: AgentConfig, tags: Record<string, string>): SerfOptions {
    const bind = splitHostPort(config.bind, 7946);
    if (config.interface && (bind.host === '0.0.0.0' || bind.host === '::')) {
      bind.host = interfaceAddress(config.interface, bind.host === '::');
    }
    const advertise = config.advertise ? splitHostPort(config.advertise, bind.port) : undefined;
    if (config.protocol < 2) {
      throw new InvalidArgumentError(
        `Protocol version '${config.protocol}' too low. Must be in range: [2, 5]`,
      );
    }
    if (config.protocol > 5) {
      throw new InvalidArgumentError(
        `Protocol version '${config.protocol}' too high. Must be in range: [2, 5]`,
      );
    }
    const profile = config.profile as SerfOptions['profile'];
    return {
      ...agentSerfDefaults(config.nodeName),
      tags,
      protocolVersion: config.protocol,
      profile,
      memberlist: {
        bindAddr: bind.host,
        bindPort: bind.port,
        ...(advertise ? { advertiseAddr: advertise.host, advertisePort: advertise.port } : {}),
        enableCompression: config.enableCompression,
      },
      broadcastTimeoutMs: config.broadcastTimeoutMs,
      reconnectIntervalMs: config.reconnectIntervalMs,
      reconnectTimeoutMs: config.reconnectTimeoutMs,
      tombstoneTimeoutMs: config.tombstoneTimeoutMs,
      querySizeLimit: config.querySizeLimit,
      queryResponseSizeLimit: config.queryResponseSizeLimit,
      userEventSizeLimit: config.userEventSizeLimit,
      enableNameConflictResolution: !config.disableNameResolution,
      disableCoordinates: config.disableCoordinates,
      snapshotPath: config.snapshotPath,
      rejoinAfterLeave: config.rejoinAfterLeave,
    };
  }

  /** Starts the RPC listener. Throws AgentStartError with the reference's text. */
  async startRpc(): Promise<void> {
    const rpc = new RpcServer({
      backend: this,
      address: this.config.rpcAddr,
      logger: this.#logWriter.logger(),
    });
    try {
      await rpc.start();
    } catch (err) {
      throw new AgentStartError(`Error starting RPC listener: ${errorMessage(err)}`);
    }
    this.#rpc = rpc;
  }

  /** The bound RPC address (real port even when 0 was asked for). */
  get rpcAddress(): { host: string; port: number } | undefined {
    return this.#rpc?.address;
  }

  /** Starts mDNS discovery when configured. */
  async startDiscovery(): Promise<void> {
    if (!this.config.discover) return;
    const self = this.serf.localMember();
    this.#mdns = new MdnsDiscovery({
      cluster: this.config.discover,
      nodeName: this.config.nodeName,
      host: self.addr,
      port: self.port,
      ...(this.config.interface ? { iface: this.config.interface } : {}),
      logger: this.#logWriter.logger().child({ component: 'agent.mdns' }),
      onPeers: (addrs) => {
        this.serf
          .join(addrs, { replay: this.config.replayOnJoin })
          .then((n) => this.#logger.info(`Joined ${n} hosts`))
          .catch((err) => this.#logger.warn(`Failed to join mDNS peers: ${errorMessage(err)}`));
      },
    });
    await this.#mdns.start();
  }

  /**
   * Joins `retry_join` addresses in the background until one join works, pausing
   * `retry_interval` between rounds. Calls `onGiveUp` after `retry_max_attempts` failed rounds.
   */
  startRetryJoin(onGiveUp: () => void): void {
    const addrs = this.config.retryJoin;
    if (addrs.length === 0) return;
    const signal = this.#retryAbort.signal;
    const run = async () => {
      let attempt = 0;
      for (;;) {
        if (signal.aborted) return;
        attempt++;
        this.#logger.info(`Joining cluster...(replay: ${this.config.replayOnJoin})`);
        try {
          const n = await this.serf.join(addrs, { replay: this.config.replayOnJoin });
          this.#logger.info(`Join completed. Synced with ${n} initial agents`);
          return;
        } catch (err) {
          if (this.config.retryMaxAttempts > 0 && attempt >= this.config.retryMaxAttempts) {
            this.#logger.error('maximum retry join attempts made, exiting');
            onGiveUp();
            return;
          }
          const wait = this.config.retryIntervalMs;
          this.#logger.warn(`Join failed: ${errorMessage(err)}, retrying in ${formatSeconds(wait)}`);
          await sleep(wait, signal).catch(() => {});
        }
      }
    };
    void run();
  }

  /** Returns the local tags as last applied. */
  currentTags(): Record<string, string> {
    return { ...this.#tags };
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  #handleEvent(e: SerfEvent): void {
    this.#logger.info(`Received event: ${describeEvent(e)}`);
    if (e.type === 'user') this.#metrics.incr('serf.events');
    else if (e.type === 'query') this.#metrics.incr('serf.queries');
    else this.#metrics.incr(`serf.member.${e.type.slice('member-'.length)}`, e.members.length);
    this.#handlers.handle(e);
    for (const l of this.#eventListeners) {
      try {
        l(e);
      } catch (err) {
        this.#logger.error(`Event subscriber failed: ${errorMessage(err)}`);
      }
    }
  }

  /** Applies a reloaded configuration: log level, event handlers and tags (SIGHUP). */
  async reload(config: AgentConfig): Promise<void> {
    this.#logWriter.setLevel(config.logLevel);
    this.#handlers.updateSpecs(config.eventHandlers.flatMap((s) => parseEventHandlerSpec(s)));
    if (!this.config.tagsFile) await this.#applyTags(config.tags);
  }

  async #applyTags(tags: Record<string, string>): Promise<void> {
    await this.serf.setTags(tags);
    this.#tags = { ...tags };
    if (this.config.tagsFile) await writeTagsFile(this.config.tagsFile, tags);
  }

  // ---------------------------------------------------------------------------------------------
  // AgentBackend

  get authKey(): string {
    return this.config.rpcAuth;
  }

  members(): Member[] {
    return this.serf.members();
  }

  async join(addresses: string[], replay: boolean): Promise<number> {
    this.#logger.info(`joining: [${addresses.join(' ')}] replay: ${replay}`);
    try {
      return await this.serf.join(addresses, { replay });
    } catch (err) {
      this.#logger.warn(`error joining: ${errorMessage(err)}`);
      throw err;
    }
  }

  /**
   * Leaves gracefully, then shuts down shortly after, so the RPC reply to `leave` reaches the
   * client before the listener closes (the Go client reports "client closed" otherwise).
   */
  async leave(): Promise<void> {
    this.#logger.info('requesting graceful leave from Serf');
    await this.serf.leave();
    setTimeout(() => void this.shutdown(), LEAVE_REPLY_GRACE_MS);
  }

  async forceLeave(node: string, prune: boolean): Promise<void> {
    await this.serf.forceLeave(node, { prune });
  }

  async userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): Promise<void> {
    await this.serf.userEvent(name, payload, { coalesce });
  }

  async query(params: BackendQueryParams): Promise<BackendQuery> {
    const handle = this.serf.query(params.name, params.payload, {
      filterNodes: params.filterNodes,
      filterTags: params.filterTags,
      requestAck: params.requestAck,
      relayFactor: params.relayFactor,
      timeoutMs: params.timeoutMs,
    });
    return {
      [Symbol.asyncIterator]: () => handle[Symbol.asyncIterator](),
      close: () => handle.close(),
    };
  }

  async setTags(set: Record<string, string>, remove: string[]): Promise<void> {
    const next = { ...this.#tags, ...set };
    for (const key of remove) delete next[key];
    await this.#applyTags(next);
  }

  installKey(key: string): Promise<BackendKeyResult> {
    return this.serf.keyManager.installKey(key).then((r) => toBackendKeyResult(r, false));
  }

  useKey(key: string): Promise<BackendKeyResult> {
    return this.serf.keyManager.useKey(key).then((r) => toBackendKeyResult(r, false));
  }

  removeKey(key: string): Promise<BackendKeyResult> {
    return this.serf.keyManager.removeKey(key).then((r) => toBackendKeyResult(r, false));
  }

  listKeys(): Promise<BackendKeyResult> {
    return this.serf.keyManager.listKeys().then((r) => toBackendKeyResult(r, true));
  }

  stats(): Record<string, Record<string, string>> {
    const handlers: Record<string, string> = {};
    for (const spec of this.config.eventHandlers.flatMap((s) => parseEventHandlerSpec(s))) {
      if (!spec.valid) continue;
      handlers[`${spec.event}:${spec.name}`] = spec.command;
    }
    return {
      agent: { name: this.config.nodeName },
      runtime: {
        os: platform(),
        arch: arch(),
        version: process.version,
        max_procs: String(availableParallelism()),
        goroutines: '0',
        cpu_count: String(availableParallelism()),
      },
      serf: this.serf.stats(),
      tags: { ...this.#tags },
      event_handlers: handlers,
    };
  }

  getCoordinate(node: string): BackendCoordinate | undefined {
    const c = this.serf.getCoordinate(node);
    if (!c) return undefined;
    return { adjustment: c.adjustment, error: c.error, height: c.height, vec: [...c.vec] };
  }

  subscribeEvents(listener: (event: SerfEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  subscribeLogs(level: string, listener: (line: string) => void): () => void {
    return this.#logWriter.subscribe(level, listener);
  }

  /** Stops everything without leaving. Safe to call more than once. */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    this.#shutdown = true;
    this.#logger.info('requesting serf shutdown');
    this.#retryAbort.abort();
    if (this.#gaugeTimer) clearInterval(this.#gaugeTimer);
    this.#metrics.close();
    await this.#mdns?.stop().catch(() => {});
    await this.serf.shutdown();
    await this.#handlers.stop();
    await this.#rpc?.close();
    this.#logger.info('shutdown complete');
  }

  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /** Returns the keyring's keys in base64, primary first. */
  keyringKeys(): string[] {
    return this.serf.keyring?.getKeys().map(encodeKey) ?? [];
  }
}

/** Returns the first address of a network interface (IPv4 unless `ipv6`), as `-iface` selects it. */
function interfaceAddress(name: string, ipv6: boolean): string {
  const addrs = networkInterfaces()[name];
  if (!addrs) throw new InvalidArgumentError(`Invalid interface: ${name} does not exist`);
  const found = addrs.find((a) => a.family === (ipv6 ? 'IPv6' : 'IPv4'));
  if (!found) throw new InvalidArgumentError(`Interface ${name} has no ${ipv6 ? 'IPv6' : 'IPv4'} address`);
  return found.address;
}

function toBackendKeyResult(r: KeyOperationResult, list: boolean): BackendKeyResult {
  const out: BackendKeyResult = {
    messages: { ...r.messages },
    numNodes: r.numNodes,
    numResp: r.numResp,
    numErr: r.numErr,
  };
  if (list) out.keys = { ...r.keys };
  if (r.error !== undefined) out.error = r.error;
  return out;
}

function describeEvent(e: SerfEvent): string {
  if (e.type === 'user') return `user-event: ${e.name}`;
  if (e.type === 'query') return `query: ${e.name}`;
  return e.type;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
