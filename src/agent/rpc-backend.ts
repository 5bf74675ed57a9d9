/**
 * What the RPC server needs from a running agent. The agent implements it on top of a Serf node;
 * tests implement it with stubs so the server can be checked in-process and against the Go CLI.
 */

import type { Member, SerfEvent } from '../serf/events.js';

/** Options of a query started over RPC (the RPC `query` command body, in library units). */
export interface BackendQueryParams {
  name: string;
  payload: Uint8Array | null;
  filterNodes: string[];
  /** Tag name → Go regular expression, matched unanchored by each receiving node. */
  filterTags: Record<string, string>;
  requestAck: boolean;
  relayFactor: number;
  /** 0 means the cluster-size-based default. */
  timeoutMs: number;
}

export type BackendQueryReply =
  | { type: 'ack'; from: string }
  | { type: 'response'; from: string; payload: Uint8Array };

/** A running query: yields acks and responses as they arrive and ends at its deadline. */
export interface BackendQuery extends AsyncIterable<BackendQueryReply> {
  /** Stops collecting early (the RPC connection closed). */
  close(): void;
}

/** Result of a cluster-wide key operation, as the RPC key response carries it. */
export interface BackendKeyResult {
  /** Set when the operation failed on some nodes, e.g. "1/3 nodes reported failure". */
  error?: string;
  /** Node name → error or warning text. */
  messages: Record<string, string>;
  /** list-keys only: base64 key → how many nodes reported it. */
  keys?: Record<string, number>;
  numNodes: number;
  numResp: number;
  numErr: number;
}

export interface BackendCoordinate {
  adjustment: number;
  error: number;
  height: number;
  vec: number[];
}

export interface AgentBackend {
  /** Every known member, failed and left ones included. */
  members(): Member[];
  /** Joins the given addresses; resolves with the number contacted, rejects with the joined error text. */
  join(addresses: string[], replay: boolean): Promise<number>;
  /** Leaves the cluster gracefully and shuts the agent down. */
  leave(): Promise<void>;
  forceLeave(node: string, prune: boolean): Promise<void>;
  userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): Promise<void>;
  query(params: BackendQueryParams): Promise<BackendQuery>;
  /** Adds or replaces `set` and removes `remove` from the local tags, then gossips them. */
  setTags(set: Record<string, string>, remove: string[]): Promise<void>;
  installKey(key: string): Promise<BackendKeyResult>;
  useKey(key: string): Promise<BackendKeyResult>;
  removeKey(key: string): Promise<BackendKeyResult>;
  listKeys(): Promise<BackendKeyResult>;
  /** The `stats` sections: agent, runtime, serf, tags, event_handlers; every value a string. */
  stats(): Record<string, Record<string, string>>;
  /** Cached Vivaldi coordinate of a node, undefined when unknown or coordinates are disabled. */
  getCoordinate(node: string): BackendCoordinate | undefined;
  /**
   * Subscribes to Serf events (member, user and non-internal query events, after coalescing).
   * The listener must not block. Returns the unsubscribe function.
   */
  subscribeEvents(listener: (event: SerfEvent) => void): () => void;
  /**
   * Subscribes to agent log lines at or above `level` (trace, debug, info, warn, err). The recent
   * lines kept by the agent are replayed first. Returns the unsubscribe function.
   */
  subscribeLogs(level: string, listener: (line: string) => void): () => void;
  /** The RPC auth token, or '' when none is configured. */
  readonly authKey: string;
}
