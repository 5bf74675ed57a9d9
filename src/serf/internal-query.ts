/**
 * Handlers for Serf's internal `_serf_*` queries: the name-conflict vote and the cluster-wide
 * key operations. They run on every node that receives such a query (the origin included) and are
 * never shown to event handlers or RPC streams.
 */

import { decodeKey, encodeKey, type Keyring } from '../security/keyring.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { QueryEvent } from './events.js';
import {
  type ConflictMember,
  decodeKeyRequest,
  encodeConflictResponse,
  encodeKeyResponse,
  type KeyResponse,
} from './messages.js';

export const INTERNAL_QUERY_PREFIX = '_serf_';

export const InternalQuery = {
  ping: '_serf_ping',
  conflict: '_serf_conflict',
  installKey: '_serf_install-key',
  useKey: '_serf_use-key',
  removeKey: '_serf_remove-key',
  listKeys: '_serf_list-keys',
} as const;

export function isInternalQuery(name: string): boolean {
  return name.startsWith(INTERNAL_QUERY_PREFIX);
}

/** Average size of one base64 key in a list-keys response, used to pick the first truncation. */
const KEY_RESPONSE_BYTES_PER_KEY = 25;

export interface InternalQueryHost {
  readonly nodeName: string;
  readonly keyring: Keyring | undefined;
  readonly logger: Logger;
  readonly queryResponseSizeLimit: number;
  /** Persists the keyring after a change; rejects when the file cannot be written. */
  readonly persistKeyring: ((keys: string[]) => Promise<void>) | undefined;
  /** This node's view of member `name` for a conflict vote, or null when unknown. */
  conflictView(name: string): ConflictMember | null;
}

/** Responds to one internal query. Never throws: failures become error responses or log lines. */
export async function handleInternalQuery(host: InternalQueryHost, q: QueryEvent): Promise<void> {
  try {
    switch (q.name) {
      case InternalQuery.ping:
        return;
      case InternalQuery.conflict:
        await answerConflict(host, q);
        return;
      case InternalQuery.installKey:
      case InternalQuery.useKey:
      case InternalQuery.removeKey:
        await answerKeyChange(host, q);
        return;
      case InternalQuery.listKeys:
        await answerListKeys(host, q);
        return;
      default:
        host.logger.warn(`Unhandled internal query '${q.name}'`);
    }
  } catch (err) {
    host.logger.error(`Failed to respond to internal query '${q.name}': ${errorMessage(err)}`);
  }
}

async function answerConflict(host: InternalQueryHost, q: QueryEvent): Promise<void> {
  const name = new TextDecoder().decode(q.payload);
  // The nodes claiming the name do not vote on it.
  if (name === host.nodeName) return;
  host.logger.debug(`Got conflict resolution query for '${name}'`);
  await q.respond(encodeConflictResponse(host.conflictView(name)));
}

async function answerKeyChange(host: InternalQueryHost, q: QueryEvent): Promise<void> {
  const response: KeyResponse = { result: false, message: '', keys: null, primaryKey: '' };
  const keyring = host.keyring;
  if (!keyring || keyring.size === 0) {
    response.message = 'No keyring to modify (encryption not enabled)';
    await q.respond(encodeKeyResponse(response));
    return;
  }

  let key: Uint8Array;
  try {
    const req = decodeKeyRequest(q.payload);
    key = req.key ?? new Uint8Array(0);
  } catch (err) {
    host.logger.error(`Failed to decode key request: ${errorMessage(err)}`);
    await q.respond(encodeKeyResponse(response));
    return;
  }

  try {
    if (q.name === InternalQuery.installKey) {
      host.logger.info(`Received install-key query`);
      keyring.addKey(key);
    } else if (q.name === InternalQuery.useKey) {
      host.logger.info(`Received use-key query`);
      keyring.useKey(key);
    } else {
      host.logger.info(`Received remove-key query`);
      keyring.removeKey(key);
    }
  } catch (err) {
    response.message = errorMessage(err);
    host.logger.error(`Failed to apply ${q.name.slice(INTERNAL_QUERY_PREFIX.length)}: ${response.message}`);
    await q.respond(encodeKeyResponse(response));
    return;
  }

  if (host.persistKeyring) {
    try {
      await host.persistKeyring(keyring.getKeys().map(encodeKey));
    } catch (err) {
      response.message = `Failed to write keyring file: ${errorMessage(err)}`;
      host.logger.error(response.message);
      await q.respond(encodeKeyResponse(response));
      return;
    }
  }

  response.result = true;
  await q.respond(encodeKeyResponse(response));
}

async function answerListKeys(host: InternalQueryHost, q: QueryEvent): Promise<void> {
  const keyring = host.keyring;
  if (!keyring || keyring.size === 0) {
    const response: KeyResponse = {
      result: false,
      message: 'Keyring is empty (encryption not enabled)',
      keys: null,
      primaryKey: '',
    };
    await q.respond(encodeKeyResponse(response));
    return;
  }
  host.logger.info('Received list-keys query');

  const all = keyring.getKeys().map(encodeKey);
  const primary = encodeKey(keyring.getPrimaryKey()!);
  try {
    await q.respond(encodeKeyResponse({ result: true, message: '', keys: all, primaryKey: primary }));
    return;
  } catch (err) {
    if (!isSizeError(err)) throw err;
  }

  // The whole response (type byte and query-response envelope included) must fit the size limit:
  // cut the key list until it does, and say so in the message.
  const start = Math.min(all.length, Math.floor(host.queryResponseSizeLimit / KEY_RESPONSE_BYTES_PER_KEY));
  for (let i = start; i >= 0; i--) {
    const truncated = encodeKeyResponse({
      result: true,
      message: `truncated key list response, showing first ${i} of ${all.length} keys`,
      keys: all.slice(0, i),
      primaryKey: primary,
    });
    try {
      await q.respond(truncated);
      return;
    } catch (err) {
      if (!isSizeError(err)) throw err;
    }
  }
  host.logger.error('Key list response does not fit the query response size limit, even with no keys');
}

function isSizeError(err: unknown): boolean {
  return /exceeds limit/.test(errorMessage(err));
}

/** Checks a base64 key the way the origin does before sending a key query. */
export function parseKeyArgument(key: string): Uint8Array {
  return decodeKey(key);
}
