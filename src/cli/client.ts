/**
 * The slice of the RPC client API that the CLI uses, the default way to connect, and the mapping
 * of client errors to the texts the reference CLI prints.
 */

import {
  type KeyResponse,
  type QueryParams,
  type QueryRecord,
  RpcClient,
  type RpcMember,
  type StreamRecord,
  type Subscription,
} from '../client/rpc-client.js';

export type CliMember = RpcMember;
export type CliKeyResponse = KeyResponse;
export type CliQueryParams = QueryParams;
export type CliQueryRecord = QueryRecord;
export type CliStreamRecord = StreamRecord;
export type CliSubscription = Subscription;
export type CliCoordinate = NonNullable<Awaited<ReturnType<RpcClient['getCoordinate']>>>;

/** The RPC client methods the commands call, so tests can pass a fake in place of RpcClient. */
export type CliClient = Pick<
  RpcClient,
  | 'members'
  | 'membersFiltered'
  | 'join'
  | 'leave'
  | 'forceLeave'
  | 'userEvent'
  | 'updateTags'
  | 'installKey'
  | 'useKey'
  | 'removeKey'
  | 'listKeys'
  | 'stats'
  | 'getCoordinate'
  | 'query'
  | 'stream'
  | 'monitor'
  | 'close'
>;

/** Opens a client to the agent at `address` (`host:port`), authenticating when `authKey` is non-empty. */
export type ClientConnector = (address: string, authKey: string) => Promise<CliClient>;

/** Connects with the real RPC client from src/client. */
export const connectRpcClient: ClientConnector = (address, authKey) =>
  RpcClient.connect(address, authKey === '' ? {} : { authKey });

/**
 * Checks `address` the way Go's `net.SplitHostPort` does before dialing and returns Go's dial
 * error text for a malformed one (e.g. `dial tcp: address x: missing port in address`).
 */
export function validateDialAddress(address: string): string | undefined {
  const fail = (reason: string) => `dial tcp: address ${address}: ${reason}`;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close === -1) return fail("missing ']' in address");
    const rest = address.slice(close + 1);
    if (rest === '') return fail('missing port in address');
    if (!rest.startsWith(':')) return fail('missing port in address');
    if (rest.slice(1).includes(':')) return fail('too many colons in address');
    return undefined;
  }
  const colon = address.lastIndexOf(':');
  if (colon === -1) return fail('missing port in address');
  if (address.slice(0, colon).includes(':')) return fail('too many colons in address');
  return undefined;
}

/** Node socket error codes and the text Go's net package uses for the same failure. */
const GO_SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connect: connection refused',
  EHOSTUNREACH: 'connect: no route to host',
  ENETUNREACH: 'connect: network is unreachable',
  ETIMEDOUT: 'i/o timeout',
  ECONNRESET: 'read: connection reset by peer',
  EADDRNOTAVAIL: 'connect: cannot assign requested address',
};

/**
 * Describes a failed connection like the Go client does (`dial tcp 127.0.0.1:1: connect:
 * connection refused`). Errors without a socket error code keep their own message, which for an
 * RPC error is the agent's text (e.g. `Invalid authentication token`).
 */
export function describeConnectError(address: string, error: unknown): string {
  const code = findErrorCode(error);
  if (code !== undefined) {
    const text = GO_SOCKET_ERRORS[code];
    if (text !== undefined) return `dial tcp ${address}: ${text}`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      const host = address.startsWith('[')
        ? address.slice(1, address.indexOf(']'))
        : address.slice(0, address.lastIndexOf(':'));
      return `dial tcp: lookup ${host}: no such host`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** Returns the first Node errno code (e.g. ECONNREFUSED) found on `error` or its `cause` chain. */
function findErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Returns the per-node messages of a failed key operation (a KeyOperationError), or none. */
export function keyFailureMessages(error: unknown): Record<string, string> {
  if (error !== null && typeof error === 'object' && 'response' in error) {
    const response = (error as { response?: Partial<CliKeyResponse> }).response;
    if (response?.messages !== undefined && response.messages !== null) return response.messages;
  }
  return {};
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
