/**
 * Cluster-wide keyring operations: each one is an internal query answered by every member, and
 * the answers are tallied into one result that says how many nodes took the change and which
 * failed, with their reasons.
 */

import { decodeStdBase64 } from '../security/keyring.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { InternalQuery } from './internal-query.js';
import { SerfMessageType } from './message-types.js';
import { decodeKeyResponse, encodeKeyRequest } from './messages.js';
import type { QueryHandle, QueryOptions } from './query.js';

export interface KeyOperationResult {
  /** Members counted when the operation started (alive and suspect, this node included). */
  numNodes: number;
  numResp: number;
  numErr: number;
  /** Node name → error or warning text. */
  messages: Record<string, string>;
  /** list only: base64 key → number of nodes holding it. */
  keys: Record<string, number>;
  /** list only: base64 primary key → number of nodes using it. */
  primaryKeys: Record<string, number>;
  /** Set when a node failed or did not respond, e.g. "1/3 nodes reported failure". */
  error?: string;
}

export interface KeyManagerHost {
  query(name: string, payload: Uint8Array, options: QueryOptions): QueryHandle;
  numMembers(): number;
  /** Names of the alive and suspect members, the ones expected to respond. */
  liveMemberNames(): string[];
  readonly logger: Logger;
}

export class KeyManager {
  readonly #host: KeyManagerHost;
  /** Only one key operation runs at a time on this node. */
  #lock: Promise<unknown> = Promise.resolve();

  constructor(host: KeyManagerHost) {
    this.#host = host;
  }

  /** Adds `key` (base64) to every member's keyring as a secondary key. */
  installKey(key: string): Promise<KeyOperationResult> {
    return this.#change(InternalQuery.installKey, key);
  }

  /** Makes `key` (base64, already installed) the primary key on every member. */
  useKey(key: string): Promise<KeyOperationResult> {
    return this.#change(InternalQuery.useKey, key);
  }

  /** Removes `key` (base64) from every member; the primary key is refused per node. */
  removeKey(key: string): Promise<KeyOperationResult> {
    return this.#change(InternalQuery.removeKey, key);
  }

  /** Lists the keys installed on every member, with how many members hold each. */
  listKeys(): Promise<KeyOperationResult> {
    return this.#serialized(() => this.#run(InternalQuery.listKeys, new Uint8Array(0)));
  }

  #change(name: string, key: string): Promise<KeyOperationResult> {
    // Only the base64 is checked here, as the reference does: a key of the wrong size is still
    // sent, and every member reports the size error itself.
    let raw: Uint8Array;
    try {
      raw = decodeStdBase64(key);
    } catch (err) {
      return Promise.resolve(emptyResult(errorMessage(err)));
    }
    return this.#serialized(() => this.#run(name, raw));
  }

  #serialized(fn: () => Promise<KeyOperationResult>): Promise<KeyOperationResult> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #run(name: string, key: Uint8Array): Promise<KeyOperationResult> {
    const result = emptyResult(undefined);
    result.numNodes = this.#host.numMembers();
    const expected = this.#host.liveMemberNames();
    const answered = new Set<string>();
    const handle = this.#host.query(name, encodeKeyRequest({ key }), { requestAck: false });

    for await (const reply of handle) {
      if (reply.type !== 'response') continue;
      answered.add(reply.from);
      result.numResp++;
      this.#tally(result, reply.from, reply.payload);
      if (result.numResp >= result.numNodes) break;
    }
    handle.close();

    // Beyond the reference: name the members that never answered, so a partial failure says
    // which node to look at (the Go CLI prints these like any other per-node message).
    for (const name of expected) {
      if (!answered.has(name) && !(name in result.messages)) {
        result.messages[name] = 'no response before the query timed out';
      }
    }

    if (result.numErr > 0) result.error = `${result.numErr}/${result.numNodes} nodes reported failure`;
    else if (result.numResp !== result.numNodes)
      result.error = `${result.numResp}/${result.numNodes} nodes reported success`;
    return result;
  }

  #tally(result: KeyOperationResult, from: string, payload: Uint8Array): void {
    if (payload.length === 0 || payload[0] !== SerfMessageType.keyResponse) {
      result.messages[from] = `Invalid key query response type: [${[...payload].join(' ')}]`;
      result.numErr++;
      return;
    }
    let resp: ReturnType<typeof decodeKeyResponse>;
    try {
      resp = decodeKeyResponse(payload);
    } catch (err) {
      result.messages[from] = `Failed to decode key query response: ${errorMessage(err)}`;
      result.numErr++;
      return;
    }
    if (!resp.result) {
      result.messages[from] = resp.message;
      result.numErr++;
    } else if (resp.message !== '') {
      result.messages[from] = resp.message;
      this.#host.logger.warn(`Key query response from ${from}: ${resp.message}`);
    }
    for (const k of resp.keys ?? []) result.keys[k] = (result.keys[k] ?? 0) + 1;
    result.primaryKeys[resp.primaryKey] = (result.primaryKeys[resp.primaryKey] ?? 0) + 1;
  }
}

function emptyResult(error: string | undefined): KeyOperationResult {
  const r: KeyOperationResult = {
    numNodes: 0,
    numResp: 0,
    numErr: 0,
    messages: Object.create(null),
    keys: Object.create(null),
    primaryKeys: Object.create(null),
  };
  if (error !== undefined) r.error = error;
  return r;
}
