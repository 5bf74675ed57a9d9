/**
 * Client of the agent RPC protocol, compatible with the Go agent (Serf 0.9.4) and with RpcServer.
 *
 * One TCP connection carries every call. Requests are numbered from 1 (the handshake) and replies
 * and subscription records are routed back by their `Seq`. Like the Go client, calls have no read
 * timeout: a join or a key operation takes as long as the cluster needs.
 */

import { connect as netConnect, type Socket } from 'node:net';
import { DEFAULT_RPC_PORT, parseRpcAddress } from '../rpc/address.js';
import { concatFrames, encodeRpc } from '../rpc/codec.js';
import {
  type KeyResponseRecord,
  parseCoordinateResponse,
  parseJoinResponse,
  parseKeyResponse,
  parseLogRecord,
  parseMembersResponse,
  parseQueryResultRecord,
  parseResponseHeader,
  parseStatsResponse,
  parseStreamEventRecord,
  RPC_VERSION,
  RpcCommand,
  RpcErrorText,
  type RpcMember,
  recordToMember,
} from '../rpc/commands.js';
import { RpcObjectReader } from '../rpc/socket-reader.js';
import { errorMessage, NetworkError, RemoteError, TimeoutError } from '../util/errors.js';

export type { RpcMember } from '../rpc/commands.js';

export interface KeyResponse {
  /** Node name → error or warning text. */
  messages: Record<string, string>;
  /** Base64 key → number of nodes that reported it, for list-keys. Null for the other key commands. */
  keys: Record<string, number> | null;
  numNodes: number;
  numResp: number;
  numErr: number;
}

export interface QueryParams {
  name: string;
  payload?: Uint8Array | null;
  /** Only these nodes respond. */
  filterNodes?: string[];
  /** Tag name → Go regular expression (unanchored) the responder's tag must match. */
  filterTags?: Record<string, string>;
  requestAck?: boolean;
  relayFactor?: number;
  /** Query timeout in ms. 0 or absent lets the agent pick its cluster-size default. */
  timeoutMs?: number;
}

export type QueryRecord =
  | { type: 'ack'; from: string }
  | { type: 'response'; from: string; payload: Uint8Array }
  | { type: 'done' };

export type StreamRecord =
  | { event: 'user'; ltime: number; name: string; payload: Uint8Array | null; coalesce: boolean }
  | { event: 'query'; id: number; ltime: number; name: string; payload: Uint8Array | null }
  | {
      event: 'member-join' | 'member-leave' | 'member-failed' | 'member-update' | 'member-reap';
      members: RpcMember[];
    };

/** A running `stream` or `monitor` subscription. */
export interface Subscription {
  /** Sends `stop` for this subscription and resolves when the agent confirmed it. Idempotent. */
  stop(): Promise<void>;
  /**
   * Resolves when the subscription ends by `stop()` or `close()`, and rejects with a NetworkError
   * when the connection drops. An unobserved rejection is not reported as unhandled.
   */
  readonly done: Promise<void>;
}

/** Error reply of the agent: `message` is the reply's non-empty `Error` text, verbatim. */
export class RpcError extends RemoteError {
  /** The command that failed. */
  readonly command: string;
  /**
   * Reply body values that remain meaningful after the error. `join` sets `{ num }`, the number
   * of nodes contacted (0 after a total failure from a Go agent).
   */
  readonly details: Record<string, unknown> | undefined;

  constructor(command: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.command = command;
    this.details = details;
  }
}

/** Failure of a key command on some nodes. `response` contains the per-node messages and counts. */
export class KeyOperationError extends RpcError {
  readonly response: KeyResponse;

  constructor(command: string, message: string, response: KeyResponse) {
    super(command, message, { response });
    this.response = response;
  }
}

export interface RpcClientOptions {
  /** RPC auth token sent after the handshake when non-empty. */
  authKey?: string;
  /** Limit on connecting, handshake and auth, in ms. @default 10000 */
  timeoutMs?: number;
}

/** Largest reply object accepted from an agent. A members list of a big cluster can be several MiB. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

interface PendingCall {
  command: string;
  /** Whether a body follows the reply header (for every error text except "Authentication required"). */
  hasBody: boolean;
  /** Subscription that takes over this Seq after a successful reply, if any. */
  subscription?: SubscriptionState;
  resolve(reply: { error: string; body: unknown }): void;
  reject(err: Error): void;
}

interface SubscriptionState {
  /** Queries never end without `done`, so closing the client rejects them, while streams just end. */
  kind: 'query' | 'stream';
  onRecord(body: unknown): void;
  /** Ended subscriptions keep their Seq so that late records are still read and discarded. */
  active: boolean;
  finish(err?: Error): void;
}

export class RpcClient {
  readonly #address: string;
  readonly #socket: Socket;
  readonly #reader: RpcObjectReader;
  readonly #pending = new Map<number, PendingCall>();
  readonly #subscriptions = new Map<number, SubscriptionState>();
  #nextSeq = 1;
  #closedError: NetworkError | undefined;

  private constructor(address: string, socket: Socket) {
    this.#address = address;
    this.#socket = socket;
    this.#reader = new RpcObjectReader(socket, { maxObjectBytes: MAX_REPLY_BYTES });
    void this.#readLoop();
  }

  /**
   * Connects to an agent at `host:port` (port 7373 when absent), performs the version 1 handshake
   * and, when `authKey` is non-empty, authenticates. Rejects with NetworkError when the agent is
   * unreachable, TimeoutError past `timeoutMs`, or RpcError when the agent refuses the handshake
   * or the token.
   */
  static async connect(address: string, options: RpcClientOptions = {}): Promise<RpcClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const { host, port } = parseRpcAddress(address, DEFAULT_RPC_PORT);
    const socket = netConnect({ host, port });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TimeoutError(`connecting to the agent RPC at ${address} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    let client: RpcClient | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('error', (err) =>
            reject(
              new NetworkError(`cannot connect to the agent RPC at ${address}: ${err.message}`, {
                cause: err,
              }),
            ),
          );
        }),
        timeout,
      ]);
      socket.setNoDelay(true);
      client = new RpcClient(address, socket);
      const ready = client.#simple(RpcCommand.handshake, { Version: RPC_VERSION });
      await Promise.race([ready, timeout]);
      if (options.authKey !== undefined && options.authKey !== '') {
        await Promise.race([client.#simple(RpcCommand.auth, { AuthKey: options.authKey }), timeout]);
      }
      return client;
    } catch (err) {
      if (client !== undefined) await client.close();
      else socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every member in the agent's member list, in any status. */
  async members(): Promise<RpcMember[]> {
    const body = await this.#call(RpcCommand.members, undefined, true);
    return parseMembersResponse(body).Members.map(recordToMember);
  }

  /** Returns the members that match every given filter. Each value is a Go regular expression matched in full. */
  async membersFiltered(filter: {
    tags?: Record<string, string>;
    status?: string;
    name?: string;
  }): Promise<RpcMember[]> {
    const body = await this.#call(
      RpcCommand.membersFiltered,
      { Name: filter.name ?? '', Status: filter.status ?? '', Tags: filter.tags ?? {} },
      true,
    );
    return parseMembersResponse(body).Members.map(recordToMember);
  }

  /**
   * Asks the agent to join `addresses` and resolves with the number of nodes contacted. On failure
   * rejects with RpcError whose `details.num` is the count the agent still reported.
   */
  async join(addresses: string[], replay: boolean): Promise<number> {
    const { error, body } = await this.#request(
      RpcCommand.join,
      { Existing: addresses, Replay: replay },
      true,
    );
    const num = parseJoinResponse(body).Num;
    if (error !== '') throw new RpcError(RpcCommand.join, error, { num });
    return num;
  }

  /** Makes the agent leave the cluster gracefully. The agent shuts down afterwards. */
  async leave(): Promise<void> {
    await this.#call(RpcCommand.leave, undefined, false);
  }

  /** Forces a failed node into the left state. `prune` also removes it from the member list. */
  async forceLeave(node: string, options: { prune?: boolean } = {}): Promise<void> {
    await this.#call(RpcCommand.forceLeave, { Node: node, Prune: options.prune ?? false }, false);
  }

  async userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): Promise<void> {
    await this.#call(RpcCommand.event, { Coalesce: coalesce, Name: name, Payload: payload }, false);
  }

  /** Sets the tags in `set` and deletes the tags named in `remove`. */
  async updateTags(set: Record<string, string>, remove: string[]): Promise<void> {
    await this.#call(RpcCommand.tags, { DeleteTags: remove, Tags: set }, false);
  }

  installKey(key: string): Promise<KeyResponse> {
    return this.#keyCall(RpcCommand.installKey, key);
  }

  useKey(key: string): Promise<KeyResponse> {
    return this.#keyCall(RpcCommand.useKey, key);
  }

  removeKey(key: string): Promise<KeyResponse> {
    return this.#keyCall(RpcCommand.removeKey, key);
  }

  listKeys(): Promise<KeyResponse> {
    return this.#keyCall(RpcCommand.listKeys, undefined);
  }

  /** Returns the agent's `stats` sections (agent, runtime, serf, tags, event_handlers), every value a string. */
  async stats(): Promise<Record<string, Record<string, string>>> {
    return parseStatsResponse(await this.#call(RpcCommand.stats, undefined, true));
  }

  /** The agent's cached Vivaldi coordinate of `node`, or undefined when it has none. */
  async getCoordinate(
    node: string,
  ): Promise<{ adjustment: number; error: number; height: number; vec: number[] } | undefined> {
    const reply = parseCoordinateResponse(await this.#call(RpcCommand.getCoordinate, { Node: node }, true));
    if (!reply.Ok) return undefined;
    return {
      adjustment: reply.Coord.Adjustment,
      error: reply.Coord.Error,
      height: reply.Coord.Height,
      vec: reply.Coord.Vec ?? [],
    };
  }

  /**
   * Starts a query and passes every ack, response and the final `done` record to `onRecord`.
   * Resolves after `done` (at the query deadline). Rejects with RpcError when the agent refuses the
   * query, or NetworkError when the connection drops first.
   */
  query(params: QueryParams, onRecord: (record: QueryRecord) => void): Promise<void> {
    const body = {
      FilterNodes: params.filterNodes ?? null,
      FilterTags: params.filterTags ?? null,
      Name: params.name,
      Payload: params.payload ?? null,
      RelayFactor: params.relayFactor ?? 0,
      RequestAck: params.requestAck ?? false,
      Timeout: Math.round((params.timeoutMs ?? 0) * 1e6),
    };
    return new Promise<void>((resolve, reject) => {
      const state: SubscriptionState = {
        kind: 'query',
        active: true,
        onRecord: (raw) => {
          const record = parseQueryResultRecord(raw);
          if (record.Type === 'done') {
            onRecord({ type: 'done' });
            state.finish();
          } else if (record.Type === 'ack') {
            onRecord({ type: 'ack', from: record.From });
          } else {
            onRecord({ type: 'response', from: record.From, payload: record.Payload ?? new Uint8Array(0) });
          }
        },
        finish: (err) => {
          if (!state.active) return;
          state.active = false;
          if (err) reject(err);
          else resolve();
        },
      };
      this.#request(RpcCommand.query, body, false, state).then(
        ({ error }) => {
          if (error !== '') state.finish(new RpcError(RpcCommand.query, error));
        },
        (err: Error) => state.finish(err),
      );
    });
  }

  /**
   * Subscribes to agent events matching `filter` (`*`, `member-join`, `user:NAME`, `query`, ...
   * comma-separated). Resolves once the agent accepted the filter.
   */
  stream(filter: string, onRecord: (record: StreamRecord) => void): Promise<Subscription> {
    return this.#subscribe(RpcCommand.stream, { Type: filter }, (raw) => {
      const record = parseStreamEventRecord(raw);
      if (record.Event === 'user') {
        onRecord({
          event: 'user',
          ltime: record.LTime,
          name: record.Name,
          payload: record.Payload,
          coalesce: record.Coalesce,
        });
      } else if (record.Event === 'query') {
        onRecord({
          event: 'query',
          id: record.ID,
          ltime: record.LTime,
          name: record.Name,
          payload: record.Payload,
        });
      } else {
        onRecord({ event: record.Event, members: record.Members.map(recordToMember) });
      }
    });
  }

  /** Subscribes to agent log lines at `logLevel` (trace, debug, info, warn, err) or above. */
  monitor(logLevel: string, onLine: (line: string) => void): Promise<Subscription> {
    return this.#subscribe(RpcCommand.monitor, { LogLevel: logLevel }, (raw) =>
      onLine(parseLogRecord(raw).Log),
    );
  }

  /** Responds to a query received on a stream of this connection, by its per-connection `id`. */
  async respond(id: number, payload: Uint8Array | null): Promise<void> {
    await this.#call(RpcCommand.respond, { ID: id, Payload: payload }, false);
  }

  /** Closes the connection. Pending calls reject with NetworkError and subscriptions end. Idempotent. */
  async close(): Promise<void> {
    this.#shutDown(new NetworkError(`RPC connection to ${this.#address} was closed by the client`), true);
    if (!this.#socket.destroyed) {
      await new Promise<void>((resolve) => {
        this.#socket.once('close', () => resolve());
        this.#socket.destroy();
      });
    }
  }

  // -------------------------------------------------------------------------------------------

  async #keyCall(command: string, key: string | undefined): Promise<KeyResponse> {
    const { error, body } = await this.#request(command, key === undefined ? undefined : { Key: key }, true);
    const response = toKeyResponse(parseKeyResponse(body));
    if (error !== '') throw new KeyOperationError(command, error, response);
    return response;
  }

  async #subscribe(command: string, body: unknown, handle: (raw: unknown) => void): Promise<Subscription> {
    let resolveDone!: () => void;
    let rejectDone!: (err: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    done.catch(() => {});
    const state: SubscriptionState = {
      kind: 'stream',
      active: true,
      onRecord: handle,
      finish: (err) => {
        if (!state.active) return;
        state.active = false;
        if (err) rejectDone(err);
        else resolveDone();
      },
    };
    const seq = this.#nextSeq;
    const { error } = await this.#request(command, body, false, state);
    if (error !== '') {
      state.finish();
      throw new RpcError(command, error);
    }
    let stopping: Promise<void> | undefined;
    return {
      done,
      stop: () => {
        stopping ??= (async () => {
          if (!state.active) return;
          await this.#call(RpcCommand.stop, { Stop: seq }, false);
          state.finish();
        })();
        return stopping;
      },
    };
  }

  /** Sends a request that expects a plain reply and rejects with RpcError on a non-empty Error. */
  async #simple(command: string, body: unknown): Promise<void> {
    await this.#call(command, body, false);
  }

  async #call(command: string, body: unknown, hasBody: boolean): Promise<unknown> {
    const reply = await this.#request(command, body, hasBody);
    if (reply.error !== '') throw new RpcError(command, reply.error);
    return reply.body;
  }

  #request(
    command: string,
    body: unknown,
    hasBody: boolean,
    subscription?: SubscriptionState,
  ): Promise<{ error: string; body: unknown }> {
    if (this.#closedError !== undefined) return Promise.reject(this.#closedError);
    const seq = this.#nextSeq++;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { command, hasBody, subscription, resolve, reject });
      const header = encodeRpc({ Command: command, Seq: seq });
      this.#socket.write(body === undefined ? header : concatFrames([header, encodeRpc(body)]));
    });
  }

  async #readLoop(): Promise<void> {
    let failure: NetworkError;
    try {
      for (;;) {
        const next = await this.#reader.next();
        if (next.done) break;
        const header = parseResponseHeader(next.value);
        const pending = this.#pending.get(header.Seq);
        if (pending !== undefined) {
          this.#pending.delete(header.Seq);
          let body: unknown;
          if (pending.hasBody && header.Error !== RpcErrorText.authRequired) body = await this.#readBody();
          if (pending.subscription !== undefined && header.Error === '') {
            this.#subscriptions.set(header.Seq, pending.subscription);
          }
          pending.resolve({ error: header.Error, body });
          continue;
        }
        const subscription = this.#subscriptions.get(header.Seq);
        if (subscription !== undefined) {
          const body = await this.#readBody();
          if (subscription.active) this.#deliver(subscription, body);
        }
        // Any other Seq (such as the repeated "Authentication required" of a Go agent) carries no body.
      }
      failure = new NetworkError(`RPC connection to ${this.#address} was closed by the agent`);
    } catch (err) {
      failure =
        err instanceof NetworkError
          ? new NetworkError(`RPC connection to ${this.#address} failed: ${err.message}`, { cause: err })
          : new NetworkError(
              `RPC connection to ${this.#address} dropped after an invalid reply: ${errorMessage(err)}`,
              {
                cause: err,
              },
            );
    }
    this.#shutDown(failure, false);
    this.#socket.destroy();
  }

  async #readBody(): Promise<unknown> {
    const next = await this.#reader.next();
    if (next.done) throw new NetworkError('the agent closed the connection before sending a reply body');
    return next.value;
  }

  #deliver(subscription: SubscriptionState, body: unknown): void {
    try {
      subscription.onRecord(body);
    } catch (err) {
      // A record that does not parse, or a throwing callback, ends this subscription only.
      subscription.finish(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #shutDown(error: NetworkError, byClient: boolean): void {
    if (this.#closedError !== undefined) return;
    this.#closedError = error;
    const endOf = (subscription: SubscriptionState) =>
      subscription.finish(byClient && subscription.kind === 'stream' ? undefined : error);
    for (const pending of this.#pending.values()) {
      pending.reject(error);
      if (pending.subscription !== undefined) endOf(pending.subscription);
    }
    this.#pending.clear();
    for (const subscription of this.#subscriptions.values()) endOf(subscription);
  }
}

function toKeyResponse(record: KeyResponseRecord): KeyResponse {
  return {
    messages: record.Messages,
    keys: record.Keys,
    numNodes: record.NumNodes,
    numResp: record.NumResp,
    numErr: record.NumErr,
  };
}
