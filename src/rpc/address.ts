/** Parsing of RPC listen and dial addresses. */

import { InvalidArgumentError } from '../util/errors.js';

/** Port of the agent RPC listener when an address names none. */
export const DEFAULT_RPC_PORT = 7373;

/**
 * Splits `host:port` or `[v6]:port`. With `defaultPort`, a bare host or `[v6]` is accepted too.
 * Throws InvalidArgumentError for anything else.
 */
export function parseRpcAddress(address: string, defaultPort?: number): { host: string; port: number } {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(address) ?? /^([^:[\]]*)(?::(\d+))?$/.exec(address);
  const portText = match?.[2];
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!match || port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(
      `RPC address ${JSON.stringify(address)} is invalid; expected host:port such as 127.0.0.1:7373 or [::1]:7373`,
    );
  }
  return { host: match[1] === '' ? '0.0.0.0' : (match[1] as string), port };
}
