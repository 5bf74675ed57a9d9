/**
 * Shared plumbing for `serf` subcommands: the I/O seam, printing, flag errors and connecting.
 *
 * Like the reference CLI (Serf 0.9.4), commands print results and their own errors on stdout;
 * only flag-parser messages and `-h` help go to stderr.
 */

import {
  type CliClient,
  type ClientConnector,
  connectRpcClient,
  describeConnectError,
  validateDialAddress,
} from './client.js';
import { FlagHelpRequested, FlagParseError, type FlagRef, type FlagSet } from './flags.js';

/** Anything with a Node-stream-like `write`, such as `process.stdout`. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown;
}

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Environment variables, read for SERF_RPC_ADDR and SERF_RPC_AUTH. */
  env: Record<string, string | undefined>;
  /** Aborted on SIGINT: long-running commands (monitor, query, reachability) stop. */
  signal?: AbortSignal;
  /** Replaces the RPC client factory, so tests can run commands against a fake client. */
  connect?: ClientConnector;
}

/** Prints lines the way the reference CLI's UI does: each message followed by a newline. */
export class Ui {
  constructor(private readonly io: CliIo) {}

  output(message: string): void {
    this.io.stdout.write(`${message}\n`);
  }

  /** Writes bytes as they are (query payloads are printed raw, not decoded). */
  outputBytes(message: Uint8Array): void {
    this.io.stdout.write(Buffer.concat([message, Buffer.from('\n')]));
  }

  /** Prints an error. The reference build sends these to stdout too. */
  error(message: string): void {
    this.io.stdout.write(`${message}\n`);
  }
}

export interface CommandContext {
  io: CliIo;
  ui: Ui;
  /** The command's help text, without a final newline. */
  help: string;
}

export interface Command {
  /** One-line description shown in the top-level usage. */
  synopsis: string;
  /** Help text without a final newline. */
  help: string;
  run(args: string[], context: CommandContext): Promise<number>;
}

/**
 * Parses `args` with `flags` and returns the positional arguments. On a flag error it prints Go's
 * message on stderr and the help on stdout and returns exit code 1, as the reference does.
 * `-help=<anything>` prints only the help and also returns 1.
 */
export function parseFlags(flags: FlagSet, args: string[], context: CommandContext): string[] | number {
  try {
    return flags.parse(args);
  } catch (error) {
    if (error instanceof FlagParseError) {
      context.io.stderr.write(`${error.message}\n`);
      context.ui.output(context.help);
      return 1;
    }
    if (error instanceof FlagHelpRequested) {
      context.ui.output(context.help);
      return 1;
    }
    throw error;
  }
}

export interface RpcFlags {
  address: FlagRef<string>;
  auth: FlagRef<string>;
}

export const DEFAULT_RPC_ADDRESS = '127.0.0.1:7373';

/** Adds `-rpc-addr` and `-rpc-auth`, defaulting to SERF_RPC_ADDR / SERF_RPC_AUTH from the environment. */
export function addRpcFlags(flags: FlagSet, env: CliIo['env']): RpcFlags {
  const envAddress = env.SERF_RPC_ADDR;
  return {
    address: flags.string(
      'rpc-addr',
      envAddress === undefined || envAddress === '' ? DEFAULT_RPC_ADDRESS : envAddress,
    ),
    auth: flags.string('rpc-auth', env.SERF_RPC_AUTH ?? ''),
  };
}

/**
 * Connects to the agent, or prints `Error connecting to Serf agent: <reason>` and returns
 * undefined. The caller must close the returned client.
 */
export async function connectAgent(rpc: RpcFlags, context: CommandContext): Promise<CliClient | undefined> {
  const address = rpc.address.value;
  const malformed = validateDialAddress(address);
  if (malformed !== undefined) {
    context.ui.error(`Error connecting to Serf agent: ${malformed}`);
    return undefined;
  }
  try {
    const connect = context.io.connect ?? connectRpcClient;
    return await connect(address, rpc.auth.value);
  } catch (error) {
    context.ui.error(`Error connecting to Serf agent: ${describeConnectError(address, error)}`);
    return undefined;
  }
}

/** Runs `body` with a connected client and closes the client afterwards, even when `body` throws. */
export async function withClient(
  rpc: RpcFlags,
  context: CommandContext,
  body: (client: CliClient) => Promise<number>,
): Promise<number> {
  const client = await connectAgent(rpc, context);
  if (client === undefined) {
    return 1;
  }
  try {
    return await body(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Prints the argument error, an empty line and the help, as the reference does; returns 1. */
export function usageError(context: CommandContext, message: string): number {
  context.ui.error(message);
  context.ui.error('');
  context.ui.error(context.help);
  return 1;
}

/** Result of parsing `key=value` tag arguments. */
export type TagPairsResult = { ok: true; tags: Record<string, string> } | { ok: false; invalid: string };

/** Splits `key=value` pairs at the first `=`; a pair without `=` or with an empty key is invalid. */
export function parseTagPairs(pairs: readonly string[]): TagPairsResult {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) {
      return { ok: false, invalid: pair };
    }
    tags[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return { ok: true, tags };
}

/** Resolves when `signal` aborts; never resolves without a signal. */
export function abortPromise(signal: AbortSignal | undefined): Promise<'aborted'> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) {
      resolve('aborted');
      return;
    }
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
}
