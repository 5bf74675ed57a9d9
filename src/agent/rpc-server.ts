/**
 * The agent's RPC (IPC) server: the msgpack-over-TCP protocol that the `serf` CLI and other
 * clients use to drive a running agent. Behaviour and reply shapes follow the Serf 0.9.4 agent, so
 * the Go CLI works against it unchanged.
 *
 * Each connection executes its requests one at a time, in order. Event stream records, log lines
 * and query results are written by other tasks between replies. Every header and its body go out
 * in one socket write so they never interleave. A client that stops reading cannot slow the agent:
 * stream and monitor records wait in bounded per-subscription queues and overflow is dropped.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { RateLimiter } from '../memberlist/rate-limit.js';
import { parseRpcAddress } from '../rpc/address.js';
import { concatFrames, encodeRpc, encodeRpcFloats } from '../rpc/codec.js';
import {
  type CoordinateResponse,
  type KeyResponseRecord,
  memberToRecord,
  parseAuthRequest,
  parseCoordinateRequest,
  parseEventRequest,
  parseForceLeaveRequest,
  parseHandshakeRequest,
  parseJoinRequest,
  parseKeyRequest,
  parseMembersFilteredRequest,
  parseMonitorRequest,
  parseQueryRequest,
  parseRequestHeader,
  parseRespondRequest,
  parseStopRequest,
  parseStreamRequest,
  parseTagsRequest,
  type QueryResultRecord,
  type RequestHeader,
  RPC_VERSION,
  RpcCommand,
  RpcErrorText,
  type StreamEventRecord,
  unknownLogLevelError,
} from '../rpc/commands.js';
import { RpcObjectReader } from '../rpc/socket-reader.js';
import type { Member, QueryEvent, SerfEvent } from '../serf/events.js';
import { matchGoRegexp } from '../serf/filters.js';
import { SystemClock } from '../util/clock.js';
import { DecodeError, errorMessage } from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { AgentBackend, BackendQuery, BackendQueryParams } from './rpc-backend.js';

export interface RpcServerOptions {
  backend: AgentBackend;
  /** Listen address as `host:port` (`[v6]:port` for IPv6). Port 0 picks a free port. */
  address: string;
  logger?: Logger;
  /** Connections served at once. Further clients are closed right after accepting. @default 256 */
  maxConnections?: number;
  /** Largest request object accepted, in bytes. A larger one closes the connection. @default 1 MiB */
  maxRequestBytes?: number;
}

/** Event streams one RPC connection may hold at once. */
const MAX_STREAMS_PER_CONNECTION = 16;

/** Stream records and log lines queued per subscription before new ones are dropped. */
export const SUBSCRIPTION_QUEUE_LIMIT = 512;

/** Query IDs remembered per connection for `respond`. Beyond this the oldest is forgotten. */
const PENDING_QUERY_LIMIT = 1024;

/** Log levels accepted by `monitor`, as the reference names them after upper-casing. */
const MONITOR_LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERR']);

const VALID_FILTER_EVENTS = new Set([
  'member-join',
  'member-leave',
  'member-failed',
  'member-update',
  'member-reap',
  'user',
  'query',
  '*',
]);

const INTERNAL_QUERY_PREFIX = '_serf_';

export class RpcServer {
  readonly #backend: AgentBackend;
  readonly #logger: Logger;
  readonly #maxConnections: number;
  readonly #maxRequestBytes: number;
  readonly #listen: { host: string; port: number };
  readonly #connections = new Set<RpcConnection>();
  #server: Server | undefined;
  /** Keeps a reconnect storm from turning into one log line per rejected client. */
  readonly #rejections = new RateLimiter(new SystemClock(), 10_000);
  #bound: { host: string; port: number } | undefined;
  #closed = false;

  constructor(options: RpcServerOptions) {
    this.#backend = options.backend;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'agent.ipc' });
    this.#maxConnections = options.maxConnections ?? 1024;
    this.#maxRequestBytes = options.maxRequestBytes ?? 1024 * 1024;
    if (!Number.isInteger(this.#maxConnections) || this.#maxConnections <= 0) {
      throw new RangeError(`maxConnections must be a positive integer, got ${this.#maxConnections}`);
    }
    this.#listen = parseRpcAddress(options.address);
  }

  /** The bound address, known once `start()` resolves. */
  get address(): { host: string; port: number } {
    if (this.#bound === undefined) {
      throw new Error('RpcServer.address is only known after start() resolves');
    }
    return this.#bound;
  }

  /** Starts listening. Rejects when the address cannot be bound. */
  async start(): Promise<void> {
    if (this.#server !== undefined) throw new Error('RpcServer.start() was already called');
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#listen.host, port: this.#listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#logger.error(`Failed to accept client: ${err.message}`));
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('RPC listener reported no TCP address');
    this.#bound = { host: bound.address, port: bound.port };
  }

  /** Stops listening and closes every client connection. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    for (const connection of this.#connections) connection.close();
    if (server !== undefined) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  #accept(socket: Socket): void {
    const name = formatRemote(socket);
    if (this.#closed) {
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.#maxConnections) {
      const suppressed = this.#rejections.allow('reject');
      if (suppressed >= 0) {
        this.#logger.warn(
          `Rejecting client ${name}: ${this.#connections.size} connections are open (maxConnections ${this.#maxConnections})${suppressed > 0 ? ` (${suppressed} similar messages suppressed)` : ''}`,
        );
      }
      socket.destroy();
      return;
    }
    this.#logger.info(`Accepted client: ${name}`);
    const connection = new RpcConnection(
      socket,
      name,
      this.#backend,
      this.#logger,
      this.#maxRequestBytes,
      (key, message) => {
        const suppressed = this.#rejections.allow(key);
        if (suppressed >= 0) {
          this.#logger.warn(
            suppressed > 0 ? `${message} (${suppressed} similar messages suppressed)` : message,
          );
        }
      },
    );
    this.#connections.add(connection);
    connection.run().finally(() => this.#connections.delete(connection));
  }
}

/** Queued records of one stream or monitor subscription. */
interface Subscription {
  seq: number;
  kind: 'event' | 'log';
  queue: Uint8Array[];
  dropped: number;
  unsubscribe: () => void;
}

/** Time a new RPC client has to send its handshake before the connection is closed, in ms. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

/** Tells the command loop to close the connection after the current request. */
class CloseConnection extends Error {}

class RpcConnection {
  readonly #socket: Socket;
  readonly #name: string;
  readonly #backend: AgentBackend;
  readonly #logger: Logger;
  readonly #reader: RpcObjectReader;
  #version = 0;
  #authenticated = false;
  /** The reference reuses one header struct, so absent keys keep their previous values. */
  #header: RequestHeader = { Command: '', Seq: 0 };
  #monitor: Subscription | undefined;
  readonly #streams = new Map<number, Subscription>();
  readonly #pendingQueries = new Map<number, QueryEvent>();
  #nextQueryId = 1;
  readonly #queries = new Set<BackendQuery>();
  #flushScheduled = false;
  #closed = false;
  #handshakeTimer: NodeJS.Timeout | undefined;

  readonly #warnLimited: (key: string, message: string) => void;

  constructor(
    socket: Socket,
    name: string,
    backend: AgentBackend,
    logger: Logger,
    maxRequestBytes: number,
    warnLimited: (key: string, message: string) => void,
  ) {
    this.#warnLimited = warnLimited;
    this.#socket = socket;
    this.#name = name;
    this.#backend = backend;
    this.#logger = logger;
    this.#reader = new RpcObjectReader(socket, { maxObjectBytes: maxRequestBytes });
    socket.setNoDelay(true);
    socket.on('close', () => this.close());
    // A client that never completes the handshake would hold a connection slot forever. The Go
    // CLI sends it right after connecting, so a few seconds are plenty.
    this.#handshakeTimer = setTimeout(() => {
      if (this.#version !== 0 || this.#closed) return;
      this.#warnLimited(
        'no-handshake',
        `Closing client ${this.#name}: no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`,
      );
      this.close();
    }, HANDSHAKE_TIMEOUT_MS);
    this.#handshakeTimer.unref();
  }

  /** Serves requests until the client goes away or breaks the protocol, then cleans up. */
  async run(): Promise<void> {
    try {
      for (;;) {
        const next = await this.#reader.next();
        if (next.done) break;
        this.#header = parseRequestHeader(next.value, this.#header);
        await this.#handle(this.#header);
        if (this.#socket.writableNeedDrain) await this.#waitForDrain();
      }
    } catch (err) {
      if (this.#closed) {
        // The agent closed the connection itself, so there is nothing to report.
      } else if (err instanceof DecodeError) {
        this.#logger.error(`failed to decode request from ${this.#name}: ${err.message}`);
      } else if (err instanceof CloseConnection) {
        this.#logger.error(`Failed to evaluate request from ${this.#name}: ${err.message}`);
      } else {
        this.#logger.error(`closing client ${this.#name} after an error: ${errorMessage(err)}`);
      }
    } finally {
      this.close();
    }
  }

  /** Closes the socket and ends every subscription and query of this connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    this.#monitor?.unsubscribe();
    this.#monitor = undefined;
    for (const stream of this.#streams.values()) stream.unsubscribe();
    this.#streams.clear();
    for (const query of this.#queries) query.close();
    this.#queries.clear();
    this.#pendingQueries.clear();
    // end() flushes replies already written (such as "Handshake required") before closing.
    this.#socket.end();
    this.#socket.destroySoon();
  }

  async #handle(header: RequestHeader): Promise<void> {
    const { Command: command, Seq: seq } = header;
    if (command !== RpcCommand.handshake && this.#version === 0) {
      this.#reply(seq, RpcErrorText.handshakeRequired);
      throw new CloseConnection(RpcErrorText.handshakeRequired);
    }
    if (
      this.#backend.authKey !== '' &&
      !this.#authenticated &&
      command !== RpcCommand.auth &&
      command !== RpcCommand.handshake
    ) {
      // Like the reference agent, the request body is left unread: it becomes the next header,
      // which keeps this Command and Seq, so a Go client sees this error twice for one request.
      this.#logger.warn(`Client ${this.#name} sending commands before auth`);
      this.#reply(seq, RpcErrorText.authRequired);
      return;
    }

    switch (command) {
      case RpcCommand.handshake:
        return this.#handshake(seq);
      case RpcCommand.auth:
        return this.#auth(seq);
      case RpcCommand.event:
        return this.#event(seq);
      case RpcCommand.members:
        return this.#members(seq, false);
      case RpcCommand.membersFiltered:
        return this.#members(seq, true);
      case RpcCommand.stream:
        return this.#stream(seq);
      case RpcCommand.monitor:
        return this.#monitorCommand(seq);
      case RpcCommand.stop:
        return this.#stop(seq);
      case RpcCommand.forceLeave:
        return this.#forceLeave(seq);
      case RpcCommand.join:
        return this.#join(seq);
      case RpcCommand.leave:
        return this.#leave(seq);
      case RpcCommand.installKey:
      case RpcCommand.useKey:
      case RpcCommand.removeKey:
      case RpcCommand.listKeys:
        return this.#keyOperation(seq, command);
      case RpcCommand.tags:
        return this.#tags(seq);
      case RpcCommand.query:
        return this.#query(seq);
      case RpcCommand.respond:
        return this.#respond(seq);
      case RpcCommand.stats:
        this.#reply(seq, '', this.#backend.stats());
        return;
      case RpcCommand.getCoordinate:
        return this.#getCoordinate(seq);
      default:
        this.#reply(seq, RpcErrorText.unsupportedCommand);
        throw new CloseConnection(`command ${JSON.stringify(command)} is not recognized`);
    }
  }

  async #body(): Promise<unknown> {
    const next = await this.#reader.next();
    if (next.done) throw new DecodeError('connection ended before the request body');
    return next.value;
  }

  async #handshake(seq: number): Promise<void> {
    const request = parseHandshakeRequest(await this.#body());
    let error = '';
    if (request.Version < RPC_VERSION || request.Version > RPC_VERSION) {
      error = RpcErrorText.unsupportedVersion;
    } else if (this.#version !== 0) {
      error = RpcErrorText.duplicateHandshake;
    } else {
      this.#version = request.Version;
    }
    this.#reply(seq, error);
  }

  async #auth(seq: number): Promise<void> {
    const request = parseAuthRequest(await this.#body());
    // An agent without a key compares against '', so any non-empty token is rejected, as in Go.
    if (request.AuthKey === this.#backend.authKey) {
      this.#authenticated = true;
      this.#reply(seq, '');
    } else {
      this.#reply(seq, RpcErrorText.invalidAuthToken);
    }
  }

  async #event(seq: number): Promise<void> {
    const request = parseEventRequest(await this.#body());
    const error = await errorText(() =>
      this.#backend.userEvent(request.Name, request.Payload, request.Coalesce),
    );
    this.#reply(seq, error);
  }

  async #members(seq: number, filtered: boolean): Promise<void> {
    let members = this.#backend.members();
    if (filtered) {
      const request = parseMembersFilteredRequest(await this.#body());
      // An invalid expression closes the connection without a reply, as the reference does.
      members = filterMembers(members, request.Tags ?? {}, request.Status, request.Name);
    }
    this.#reply(seq, '', { Members: members.map(memberToRecord) });
  }

  async #stream(seq: number): Promise<void> {
    const request = parseStreamRequest(await this.#body());
    const filters = parseEventFilter(request.Type);
    if (!filters.every((filter) => VALID_FILTER_EVENTS.has(filter.event))) {
      this.#reply(seq, RpcErrorText.invalidFilter);
      return;
    }
    if (this.#streams.has(seq)) {
      this.#reply(seq, RpcErrorText.streamExists);
      return;
    }
    // Each subscription may queue 512 encoded records: cap them so one client cannot make the
    // agent hold gigabytes (the Go CLI opens one or two per connection).
    if (this.#streams.size >= MAX_STREAMS_PER_CONNECTION) {
      this.#reply(seq, `Too many event streams on this connection (limit ${MAX_STREAMS_PER_CONNECTION})`);
      return;
    }
    const subscription: Subscription = { seq, kind: 'event', queue: [], dropped: 0, unsubscribe: () => {} };
    this.#streams.set(seq, subscription);
    // Reply before subscribing so that no record can precede the stream's own reply.
    this.#reply(seq, '');
    const unsubscribe = this.#backend.subscribeEvents((event) => {
      if (!filters.some((filter) => filterMatches(filter, event))) return;
      this.#enqueueEvent(subscription, event);
    });
    if (this.#closed || this.#streams.get(seq) !== subscription) {
      unsubscribe();
    } else {
      subscription.unsubscribe = unsubscribe;
    }
  }

  async #monitorCommand(seq: number): Promise<void> {
    const request = parseMonitorRequest(await this.#body());
    const level = request.LogLevel.toUpperCase();
    if (!MONITOR_LEVELS.has(level)) {
      this.#reply(seq, unknownLogLevelError(level));
      return;
    }
    if (this.#monitor !== undefined) {
      this.#reply(seq, RpcErrorText.monitorExists);
      return;
    }
    const subscription: Subscription = { seq, kind: 'log', queue: [], dropped: 0, unsubscribe: () => {} };
    this.#monitor = subscription;
    this.#reply(seq, '');
    const unsubscribe = this.#backend.subscribeLogs(level.toLowerCase(), (line) => {
      this.#enqueue(subscription, [encodeRpc({ Error: '', Seq: seq }), encodeRpc({ Log: line })]);
    });
    if (this.#closed || this.#monitor !== subscription) {
      unsubscribe();
    } else {
      subscription.unsubscribe = unsubscribe;
    }
  }

  async #stop(seq: number): Promise<void> {
    const request = parseStopRequest(await this.#body());
    if (this.#monitor !== undefined && this.#monitor.seq === request.Stop) {
      this.#monitor.unsubscribe();
      this.#monitor.queue.length = 0;
      this.#monitor = undefined;
    }
    const stream = this.#streams.get(request.Stop);
    if (stream !== undefined) {
      stream.unsubscribe();
      stream.queue.length = 0;
      this.#streams.delete(request.Stop);
    }
    this.#reply(seq, '');
  }

  async #forceLeave(seq: number): Promise<void> {
    const request = parseForceLeaveRequest(await this.#body());
    const error = await errorText(() => this.#backend.forceLeave(request.Node, request.Prune));
    this.#reply(seq, error);
  }

  async #join(seq: number): Promise<void> {
    const request = parseJoinRequest(await this.#body());
    let num = 0;
    const error = await errorText(async () => {
      num = await this.#backend.join(request.Existing ?? [], request.Replay);
    });
    // The reply body is always sent, and after a failed join the reference reports 0 nodes.
    this.#reply(seq, error, { Num: num });
  }

  async #leave(seq: number): Promise<void> {
    this.#logger.info('Graceful leave triggered');
    const error = await errorText(() => this.#backend.leave());
    if (error !== '') this.#logger.error(`leave failed: ${error}`);
    this.#reply(seq, error);
  }

  async #keyOperation(seq: number, command: string): Promise<void> {
    let response: KeyResponseRecord = { Keys: null, Messages: {}, NumErr: 0, NumNodes: 0, NumResp: 0 };
    let error: string;
    const backend = this.#backend;
    if (command === RpcCommand.listKeys) {
      error = await errorText(async () => {
        const result = await backend.listKeys();
        response = keyResponseFrom(result, true);
        return result.error ?? '';
      });
    } else {
      const { Key: key } = parseKeyRequest(await this.#body());
      const run =
        command === RpcCommand.installKey
          ? () => backend.installKey(key)
          : command === RpcCommand.useKey
            ? () => backend.useKey(key)
            : () => backend.removeKey(key);
      error = await errorText(async () => {
        const result = await run();
        response = keyResponseFrom(result, false);
        return result.error ?? '';
      });
    }
    this.#reply(seq, error, response);
  }

  async #tags(seq: number): Promise<void> {
    const request = parseTagsRequest(await this.#body());
    const error = await errorText(() => this.#backend.setTags(request.Tags ?? {}, request.DeleteTags ?? []));
    this.#reply(seq, error);
  }

  async #query(seq: number): Promise<void> {
    const request = parseQueryRequest(await this.#body());
    // Only the reachability ping (with no payload) may use the internal prefix.
    if (
      request.Name.startsWith(INTERNAL_QUERY_PREFIX) &&
      (request.Name !== `${INTERNAL_QUERY_PREFIX}ping` || request.Payload !== null)
    ) {
      this.#reply(seq, RpcErrorText.internalQueryName);
      return;
    }
    const params: BackendQueryParams = {
      name: request.Name,
      payload: request.Payload,
      filterNodes: request.FilterNodes ?? [],
      filterTags: request.FilterTags ?? {},
      requestAck: request.RequestAck,
      relayFactor: request.RelayFactor,
      timeoutMs: request.Timeout / 1e6,
    };
    let query: BackendQuery | undefined;
    const error = await errorText(async () => {
      query = await this.#backend.query(params);
    });
    this.#reply(seq, error);
    if (query !== undefined) {
      if (this.#closed) {
        query.close();
      } else {
        this.#queries.add(query);
        void this.#forwardQuery(seq, query);
      }
    }
  }

  /** Writes the query's acks and responses as records, then the `done` record at its deadline. */
  async #forwardQuery(seq: number, query: BackendQuery): Promise<void> {
    try {
      for await (const reply of query) {
        if (this.#closed) break;
        const record: QueryResultRecord =
          reply.type === 'ack'
            ? { From: reply.from, Payload: null, Type: 'ack' }
            : { From: reply.from, Payload: reply.payload, Type: 'response' };
        this.#reply(seq, '', record);
      }
      if (!this.#closed) this.#reply(seq, '', { From: '', Payload: null, Type: 'done' });
    } catch (err) {
      this.#logger.error(`Failed to stream query results to ${this.#name}: ${errorMessage(err)}`);
    } finally {
      this.#queries.delete(query);
      query.close();
    }
  }

  async #respond(seq: number): Promise<void> {
    const request = parseRespondRequest(await this.#body());
    const query = this.#pendingQueries.get(request.ID);
    if (query === undefined) {
      this.#reply(seq, RpcErrorText.invalidQueryId);
      return;
    }
    const error = await errorText(() => query.respond(request.Payload ?? new Uint8Array(0)));
    this.#reply(seq, error);
  }

  async #getCoordinate(seq: number): Promise<void> {
    const request = parseCoordinateRequest(await this.#body());
    const coordinate = this.#backend.getCoordinate(request.Node);
    const response: CoordinateResponse =
      coordinate === undefined
        ? { Coord: { Adjustment: 0, Error: 0, Height: 0, Vec: null }, Ok: false }
        : {
            Coord: {
              Adjustment: coordinate.adjustment,
              Error: coordinate.error,
              Height: coordinate.height,
              Vec: coordinate.vec,
            },
            Ok: true,
          };
    this.#write(concatFrames([encodeRpc({ Error: '', Seq: seq }), encodeRpcFloats(response)]));
  }

  // -------------------------------------------------------------------------------------------
  // Output

  /** Writes a response header and, when given, its body in one socket write. */
  #reply(seq: number, error: string, body?: unknown): void {
    const header = encodeRpc({ Error: error, Seq: seq });
    this.#write(body === undefined ? header : concatFrames([header, encodeRpc(body)]));
  }

  #write(bytes: Uint8Array): void {
    if (this.#closed || this.#socket.destroyed) return;
    this.#socket.write(bytes);
  }

  #waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  #enqueueEvent(subscription: Subscription, event: SerfEvent): void {
    let record: StreamEventRecord;
    let query: QueryEvent | undefined;
    if (event.type === 'user') {
      record = {
        Coalesce: event.coalesce,
        Event: 'user',
        LTime: event.ltime,
        Name: event.name,
        Payload: nilIfEmpty(event.payload),
      };
    } else if (event.type === 'query') {
      query = event;
      record = {
        Event: 'query',
        ID: 0,
        LTime: event.ltime,
        Name: event.name,
        Payload: nilIfEmpty(event.payload),
      };
    } else {
      record = { Event: event.type, Members: event.members.map(memberToRecord) };
    }
    if (subscription.queue.length >= SUBSCRIPTION_QUEUE_LIMIT) {
      this.#noteDrop(subscription);
      return;
    }
    if (query !== undefined && record.Event === 'query') {
      record.ID = this.#registerQuery(query);
    }
    this.#enqueue(subscription, [encodeRpc({ Error: '', Seq: subscription.seq }), encodeRpc(record)]);
  }

  /** Hands out the next per-connection query ID for `respond`. */
  #registerQuery(query: QueryEvent): number {
    const id = this.#nextQueryId++;
    this.#pendingQueries.set(id, query);
    // NOTE: entries do not expire at the query deadline, because that deadline is in the backend's
    // clock. A late respond gets the backend's "past the deadline" error, not "No pending queries".
    if (this.#pendingQueries.size > PENDING_QUERY_LIMIT) {
      const oldest = this.#pendingQueries.keys().next().value;
      if (oldest !== undefined) this.#pendingQueries.delete(oldest);
    }
    return id;
  }

  #enqueue(subscription: Subscription, parts: Uint8Array[]): void {
    if (this.#closed) return;
    if (subscription.queue.length >= SUBSCRIPTION_QUEUE_LIMIT) {
      this.#noteDrop(subscription);
      return;
    }
    subscription.queue.push(concatFrames(parts));
    this.#flush();
  }

  #noteDrop(subscription: Subscription): void {
    subscription.dropped += 1;
    // Log the first drop and then one line per full queue's worth, so a stuck client cannot flood the log.
    if (subscription.dropped % SUBSCRIPTION_QUEUE_LIMIT === 1) {
      const what = subscription.kind === 'event' ? 'event' : 'logs';
      this.#logger.warn(`Dropping ${what} to ${this.#name} (${subscription.dropped} dropped so far)`);
    }
  }

  /** Writes queued subscription records while the socket accepts them without buffering up. */
  #flush(): void {
    if (this.#closed) return;
    const subscriptions = [...(this.#monitor ? [this.#monitor] : []), ...this.#streams.values()];
    let wrote = true;
    while (wrote && !this.#socket.writableNeedDrain) {
      wrote = false;
      for (const subscription of subscriptions) {
        const next = subscription.queue.shift();
        if (next !== undefined) {
          this.#write(next);
          wrote = true;
        }
      }
    }
    const pending = subscriptions.some((subscription) => subscription.queue.length > 0);
    if (pending && !this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#socket.once('drain', () => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }
}

/** Runs `action` and returns the error text for the response header ('' on success). */
async function errorText(action: () => Promise<unknown> | unknown): Promise<string> {
  try {
    const result = await action();
    return typeof result === 'string' ? result : '';
  } catch (err) {
    return errorMessage(err);
  }
}

function keyResponseFrom(
  result: Awaited<ReturnType<AgentBackend['listKeys']>>,
  withKeys: boolean,
): KeyResponseRecord {
  return {
    Keys: withKeys ? (result.keys ?? {}) : null,
    Messages: result.messages,
    NumErr: result.numErr,
    NumNodes: result.numNodes,
    NumResp: result.numResp,
  };
}

function nilIfEmpty(payload: Uint8Array | null | undefined): Uint8Array | null {
  // A Go node that receives an event without payload keeps a nil slice and streams nil.
  return payload === null || payload === undefined || payload.length === 0 ? null : payload;
}

interface EventFilter {
  event: string;
  name: string;
}

/** Parses a stream `Type` such as `member-join,user:deploy`. '' means every event. */
export function parseEventFilter(spec: string): EventFilter[] {
  return (spec === '' ? '*' : spec).split(',').map((entry) => {
    if (entry.startsWith('user:')) return { event: 'user', name: entry.slice('user:'.length) };
    if (entry.startsWith('query:')) return { event: 'query', name: entry.slice('query:'.length) };
    return { event: entry, name: '' };
  });
}

function filterMatches(filter: EventFilter, event: SerfEvent): boolean {
  if (filter.event === '*') return true;
  if (filter.event !== event.type) return false;
  if ((event.type === 'user' || event.type === 'query') && filter.name !== '')
    return event.name === filter.name;
  return true;
}

/**
 * Applies the `members-filtered` criteria. Each expression is anchored as `^expr$`, literally as
 * the reference does (so `a|b` means "starts with a or ends with b"). Throws CloseConnection when
 * an expression does not compile.
 */
function filterMembers(
  members: Member[],
  tags: Record<string, string>,
  status: string,
  name: string,
): Member[] {
  const tagPatterns = Object.entries(tags).map(([tag, expr]) => [tag, compileAnchored(expr)] as const);
  const statusPattern = compileAnchored(status);
  const namePattern = compileAnchored(name);
  return members.filter((member) => {
    for (const [tag, pattern] of tagPatterns) {
      if (!pattern.test(member.tags[tag] ?? '')) return false;
    }
    if (status !== '' && !statusPattern.test(member.status)) return false;
    if (name !== '' && !namePattern.test(member.name)) return false;
    return true;
  });
}

/**
 * Builds a matcher for a Go RE2 expression anchored at both ends, as the reference anchors
 * `members-filtered` patterns: literally `^expr$`. Matching runs in time linear in the text, so a
 * pathological pattern from a client cannot stall the agent.
 */
function compileAnchored(expr: string): { test(text: string): boolean } {
  const anchored = `^${expr}$`;
  try {
    matchGoRegexp(anchored, '');
  } catch (err) {
    throw new CloseConnection(`Failed to compile regex: ${errorMessage(err)}`);
  }
  return { test: (text: string) => matchGoRegexp(anchored, text) };
}

function formatRemote(socket: Socket): string {
  let host = socket.remoteAddress ?? 'unknown';
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice('::ffff:'.length);
  const port = socket.remotePort ?? 0;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
