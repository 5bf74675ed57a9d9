/**
 * Harness for interop tests: starts reference HashiCorp Serf agents (the Go `serf` binary, Serf
 * 0.9.4 as packaged by Debian) on loopback, runs `serf` client commands against them and stops
 * them again.
 *
 * Every agent runs in its own temporary directory with `-log-level=debug`, and all of its stdout
 * and stderr lines are kept in `output`, so a failing test can show what the agent saw. Call
 * `cleanupAgents()` from an `after` hook. Agents left running are SIGKILLed by PID when the test
 * process exits or receives SIGTERM or SIGHUP. NOTE: if the test process is itself SIGKILLed, its
 * agents keep running.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, existsSync, constants as fsConstants, rmSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { assertLoopback, freePort, joinHostPort } from './ports.js';
import { waitFor } from './wait.js';

/** Number of output lines appended to errors when a wait or a start-up fails. */
const errorTailLines = 100;

/** Time allowed for the helper script to print (and, on a fresh machine, build) the binary. */
const binaryLookupTimeoutMs = 15 * 60_000;

let cachedBinary: string | undefined;

/**
 * Returns the path of the reference `serf` binary.
 *
 * Uses the environment variable `SERF_REFERENCE_BIN` when set. Otherwise runs
 * `<repo root>/../shared/tools/reference-serf`, which prints the path (building the binary first
 * if needed). Throws when neither yields an executable file, because interop tests must fail
 * rather than skip when the reference agent is missing.
 */
/** Path of serf-ts's own CLI shim, which runs the compiled dist/ build. */
export function serfTsBinary(): string {
  return join(findRepoRoot(), 'bin', 'serf');
}

export function referenceBinary(): string {
  if (cachedBinary !== undefined) {
    return cachedBinary;
  }

  const fromEnv = process.env.SERF_REFERENCE_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    assertExecutable(fromEnv, 'SERF_REFERENCE_BIN');
    cachedBinary = fromEnv;
    return fromEnv;
  }

  const tool = resolve(findRepoRoot(), '..', 'shared', 'tools', 'reference-serf');
  if (!existsSync(tool)) {
    throw new Error(
      `reference serf binary not found: SERF_REFERENCE_BIN is not set and the helper script ${tool} ` +
        'does not exist. Set SERF_REFERENCE_BIN to a Serf 0.9.4 binary or check out shared/ beside the repository.',
    );
  }

  let printed: string;
  try {
    printed = execFileSync(tool, [], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: binaryLookupTimeoutMs,
    });
  } catch (error) {
    throw new Error(
      `reference serf binary not found: ${tool} failed (${(error as Error).message}). ` +
        'Fix the script or set SERF_REFERENCE_BIN.',
      { cause: error },
    );
  }

  const path = printed.trim().split('\n').at(-1)?.trim() ?? '';
  assertExecutable(path, `the output of ${tool}`);
  cachedBinary = path;
  return path;
}

/** Walks up from this file to the first directory with a package.json (works from dist/ and src). */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no package.json found above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

function assertExecutable(path: string, source: string): void {
  try {
    if (!statSync(path).isFile()) {
      throw new Error('not a regular file');
    }
    accessSync(path, fsConstants.X_OK);
  } catch (error) {
    throw new Error(
      `reference serf binary ${JSON.stringify(path)} from ${source} is not an executable file: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment variables for the command. */
  env?: Record<string, string>;
  /** The command is SIGKILLed and the call rejects after this many ms. @default 15000 */
  timeoutMs?: number;
  cwd?: string;
}

/** PIDs of `serf` client commands still running, so the exit handler can kill them. */
const runningCliPids = new Set<number>();

/**
 * Runs the reference binary with `args` exactly as given and returns its exit code and output.
 *
 * `SERF_RPC_ADDR` and `SERF_RPC_AUTH` inherited from the test process are removed so that they
 * cannot redirect a command, but `options.env` may set them. Rejects when the command cannot be
 * started, times out or is killed by a signal.
 */
export function runReferenceCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SERF_RPC_ADDR;
  delete env.SERF_RPC_AUTH;
  Object.assign(env, options.env);

  const child = spawn(referenceBinary(), args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid !== undefined) {
    runningCliPids.add(pid);
  }

  return new Promise<CliResult>((resolvePromise, rejectPromise) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });

    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) {
        killQuietly(pid, 'SIGKILL');
      }
    }, timeoutMs);

    const describe = () => `serf ${args.join(' ')}`;
    child.once('error', (error) => {
      clearTimeout(timer);
      if (pid !== undefined) {
        runningCliPids.delete(pid);
      }
      rejectPromise(new Error(`${describe()} could not be run: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (pid !== undefined) {
        runningCliPids.delete(pid);
      }
      if (timedOut) {
        rejectPromise(
          new Error(`${describe()} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
        );
      } else if (code === null) {
        rejectPromise(
          new Error(`${describe()} was killed by ${signal}\nstdout: ${stdout}\nstderr: ${stderr}`),
        );
      } else {
        resolvePromise({ code, stdout, stderr });
      }
    });
  });
}

export interface ReferenceAgentOptions {
  /** Node name (`-node`). */
  name: string;
  /** Gossip bind IP, which must be a loopback address. Also used for the RPC listener. @default '127.0.0.1' */
  bindHost?: string;
  /** Gossip port (TCP and UDP). @default a port from `freePort(bindHost)` */
  bindPort?: number;
  /** RPC port on `bindHost`. @default a port from `freePort(bindHost)` */
  rpcPort?: number;
  /** Base64 gossip key (`-encrypt`). */
  encryptKey?: string;
  /** Keyring file path (`-keyring-file`). */
  keyringFile?: string;
  /** Tags (`-tag key=value` each). */
  tags?: Record<string, string>;
  /** Addresses to join at start-up (`-join`), all on loopback. A failed join stops the agent. */
  join?: string[];
  /** Event handler specs (`-event-handler`), e.g. `user:deploy=./handler.sh`. */
  eventHandlers?: string[];
  /** Timing profile. @default 'local' (fastest failure detection) */
  profile?: 'lan' | 'wan' | 'local';
  /** @default 'debug' */
  logLevel?: string;
  /** Extra agent flags, appended after all others. */
  extraArgs?: string[];
  /** RPC auth token: written to the config file as `rpc_auth` and passed by `cli()` as `-rpc-auth`. */
  rpcAuth?: string;
  /**
   * Keys for a JSON config file (for settings without a flag, such as `tombstone_timeout`). The file
   * is written to the agent's temporary directory and passed with `-config-file`.
   */
  config?: Record<string, unknown>;
  /** Working directory of the agent (and of its event handlers). @default the agent's temporary directory */
  cwd?: string;
  /**
   * Which agent to run: the reference Go binary, or serf-ts's own `bin/serf` (built into dist/)
   * with the same flags, for mixed clusters. @default 'reference'
   */
  implementation?: 'reference' | 'serf-ts';
  /** Deadline for the RPC listener to respond after spawning, in ms. @default 20000 */
  startTimeoutMs?: number;
}

export interface ReferenceMember {
  name: string;
  /** `ip:port` exactly as `serf members -format=json` prints it (IPv6 as `[ip]:port`). */
  addr: string;
  port: number;
  tags: Record<string, string>;
  /** alive, leaving, left or failed */
  status: string;
  /** Serf (delegate) protocol versions. */
  protocol: { min: number; max: number; version: number };
}

/** Client commands that take no `-rpc-addr` flag because they never contact an agent. */
const commandsWithoutRpc = new Set(['agent', 'keygen', 'version']);

/** Agents started in this process and not yet cleaned up. */
const liveAgents = new Set<ReferenceAgent>();

/** Temporary directories created for agents, removed by `cleanupAgents()` and at exit. */
const agentDirs = new Set<string>();

/** A running (or exited) reference `serf agent` process. */
export class ReferenceAgent {
  readonly name: string;
  readonly pid: number;
  /** Gossip address as `host:port`. */
  readonly gossipAddr: string;
  /** RPC address as `host:port`. */
  readonly rpcAddr: string;
  /** Temporary directory created for this agent, removed by `cleanupAgents()`. */
  readonly dir: string;
  /** Every stdout and stderr line the agent has printed so far, in arrival order. */
  readonly output: string[] = [];
  /** Resolves with the exit code, or null when a signal ended the process. */
  readonly exited: Promise<number | null>;

  readonly #rpcAuth: string | undefined;
  /** Resolves once the process has exited and both output streams are drained. */
  readonly #closed: Promise<void>;
  #hasExited = false;

  private constructor(
    child: ChildProcess,
    pid: number,
    fields: { name: string; gossipAddr: string; rpcAddr: string; dir: string; rpcAuth: string | undefined },
  ) {
    this.name = fields.name;
    this.pid = pid;
    this.gossipAddr = fields.gossipAddr;
    this.rpcAddr = fields.rpcAddr;
    this.dir = fields.dir;
    this.#rpcAuth = fields.rpcAuth;

    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) {
        createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
          this.output.push(line);
        });
      }
    }

    this.exited = new Promise((resolvePromise) => {
      child.once('exit', (code) => {
        this.#hasExited = true;
        resolvePromise(code);
      });
    });
    this.#closed = new Promise((resolvePromise) => {
      child.once('close', () => resolvePromise());
    });
  }

  /**
   * Spawns `serf agent` and waits until its RPC listener responds to `serf members`.
   *
   * Rejects with the agent's captured output if the agent exits first or does not respond within
   * `startTimeoutMs`. When the ports were picked automatically and the agent failed because one
   * was already taken, it retries with new ports (up to three attempts).
   */
  static async start(options: ReferenceAgentOptions): Promise<ReferenceAgent> {
    if (options.name === '') {
      throw new TypeError('reference agent name must not be empty');
    }
    const bindHost = options.bindHost ?? '127.0.0.1';
    assertLoopback(bindHost);
    for (const address of options.join ?? []) {
      assertLoopback(hostOf(address));
    }

    const [binary, prefixArgs] =
      options.implementation === 'serf-ts' ? [process.execPath, [serfTsBinary()]] : [referenceBinary(), []];
    const dir = await mkdtemp(join(tmpdir(), `serf-ref-${options.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
    agentDirs.add(dir);
    installExitHandlers();

    const configPath = await writeConfigFile(dir, options);
    const portsArePicked = options.bindPort === undefined || options.rpcPort === undefined;
    const attempts = portsArePicked ? 3 : 1;

    for (let attempt = 1; ; attempt++) {
      const bindPort = options.bindPort ?? (await freePort(bindHost));
      const rpcPort = options.rpcPort ?? (await freePort(bindHost));
      const gossipAddr = joinHostPort(bindHost, bindPort);
      const rpcAddr = joinHostPort(bindHost, rpcPort);
      const args = buildAgentArgs(options, gossipAddr, rpcAddr, configPath);

      const child = spawn(binary, [...prefixArgs, ...args], {
        cwd: options.cwd ?? dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (child.pid === undefined) {
        const error = await new Promise<Error>((resolvePromise) => child.once('error', resolvePromise));
        throw new Error(`reference agent ${options.name} could not be spawned: ${error.message}`, {
          cause: error,
        });
      }

      const agent = new ReferenceAgent(child, child.pid, {
        name: options.name,
        gossipAddr,
        rpcAddr,
        dir,
        rpcAuth: options.rpcAuth,
      });
      liveAgents.add(agent);

      try {
        await agent.#waitUntilReady(options.startTimeoutMs ?? 20_000, args);
        return agent;
      } catch (error) {
        const portTaken = agent.output.some((line) => /address already in use/i.test(line));
        if (agent.#hasExited && portTaken && portsArePicked && attempt < attempts) {
          liveAgents.delete(agent);
          continue;
        }
        throw error;
      }
    }
  }

  async #waitUntilReady(timeoutMs: number, args: string[]): Promise<void> {
    let outcome: 'ready' | 'exited';
    try {
      outcome = await waitFor(
        async () => {
          if (this.#hasExited) {
            return 'exited' as const;
          }
          const result = await this.cli(['members'], { timeoutMs: 5_000 });
          if (result.code !== 0) {
            throw new Error(`serf members exited with ${result.code}: ${result.stdout.trim()}`);
          }
          return 'ready' as const;
        },
        { timeoutMs, message: `reference agent ${this.name} did not respond to RPC on ${this.rpcAddr}` },
      );
    } catch (error) {
      await this.kill();
      throw this.#withOutput(error as Error);
    }

    if (outcome === 'exited') {
      const code = await this.exited;
      await this.#drainOutput();
      throw new Error(
        `reference agent ${this.name} exited with code ${code} before its RPC listener responded ` +
          `(serf ${args.join(' ')})\n${this.#formatTail()}`,
      );
    }
  }

  /**
   * Runs `serf <args>` against this agent. `-rpc-addr` (and `-rpc-auth` when the agent has one) is
   * inserted right after the subcommand, because Go flag parsing stops at the first positional
   * argument. A later `-rpc-addr` in `args` overrides it. `agent`, `keygen` and `version` run
   * unchanged.
   */
  cli(args: string[], options?: CliOptions): Promise<CliResult> {
    const [command, ...rest] = args;
    if (command === undefined) {
      throw new TypeError('cli() needs a subcommand, e.g. ["members"]');
    }
    if (commandsWithoutRpc.has(command)) {
      return runReferenceCli(args, options);
    }
    const rpcFlags = [`-rpc-addr=${this.rpcAddr}`];
    if (this.#rpcAuth !== undefined) {
      rpcFlags.push(`-rpc-auth=${this.#rpcAuth}`);
    }
    return runReferenceCli([command, ...rpcFlags, ...rest], options);
  }

  /** Lists the members in this agent's member list, parsed from `serf members -format=json`. */
  async members(): Promise<ReferenceMember[]> {
    const result = await this.cli(['members', '-format=json']);
    if (result.code !== 0) {
      throw new Error(
        `serf members on ${this.name} failed with exit code ${result.code}: ${result.stdout}${result.stderr}`,
      );
    }
    const parsed = JSON.parse(result.stdout) as { members?: ReferenceMember[] | null };
    if (parsed.members !== null && !Array.isArray(parsed.members)) {
      throw new Error(`serf members on ${this.name} printed unexpected JSON: ${result.stdout}`);
    }
    // The agent prints `"members": null` when the filter matches no member.
    return parsed.members ?? [];
  }

  /** Returns the status of member `name` as this agent reports it, or undefined if it is not listed. */
  async memberStatus(name: string): Promise<string | undefined> {
    const members = await this.members();
    return members.find((member) => member.name === name)?.status;
  }

  /** Waits until this agent lists member `name` with `status`. */
  async waitForMember(name: string, status: string, timeoutMs = 20_000): Promise<void> {
    try {
      await waitFor(
        async () => {
          const current = await this.memberStatus(name);
          if (current !== status) {
            throw new Error(`${name} is ${current ?? 'not listed'}`);
          }
          return true;
        },
        { timeoutMs, message: `${this.name} did not see member ${name} as ${status}` },
      );
    } catch (error) {
      throw this.#withOutput(error as Error);
    }
  }

  /**
   * Waits until an output line contains `pattern` (a substring or a regular expression) and
   * returns that line. Only lines at index `since` or later are searched, so a test can record
   * `output.length` before an action and look only at what follows.
   */
  async waitForOutput(
    pattern: string | RegExp,
    options: { timeoutMs?: number; since?: number } = {},
  ): Promise<string> {
    const matches = (line: string) =>
      typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line);
    try {
      return await waitFor(() => this.output.slice(options.since ?? 0).find(matches), {
        timeoutMs: options.timeoutMs ?? 15_000,
        intervalMs: 50,
        message: `${this.name} printed no line matching ${String(pattern)}`,
      });
    } catch (error) {
      throw this.#withOutput(error as Error);
    }
  }

  /**
   * Returns the last `lines` output lines joined with newlines, leaving out the RPC accept lines
   * that the harness's own polling produces, so the lines that explain a failure stay visible.
   */
  outputTail(lines = errorTailLines): string {
    return this.output
      .filter((l) => !l.includes('agent.ipc: Accepted client'))
      .slice(-lines)
      .join('\n');
  }

  /** Sends `sig` to the agent's PID. Does nothing once the agent has exited. */
  signal(sig: NodeJS.Signals): void {
    if (!this.#hasExited) {
      killQuietly(this.pid, sig);
    }
  }

  /** SIGKILLs the agent and waits for it to exit. Other members see it fail, not leave. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /**
   * Stops the agent gracefully with SIGINT: it broadcasts a leave, then exits (code 0 when the
   * leave completes within 3 s, else 1). SIGTERM would skip the leave in the reference agent.
   * Sends SIGKILL if the agent is still running after `timeoutMs`.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.signal('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolvePromise) => {
      timer = setTimeout(() => resolvePromise('deadline'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      await this.kill();
    }
  }

  /** Waits (at most 2 s) for the output streams to drain after exit, so the last lines are captured. */
  async #drainOutput(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolvePromise) => {
      timer = setTimeout(resolvePromise, 2_000);
    });
    await Promise.race([this.#closed, deadline]);
    clearTimeout(timer);
  }

  #formatTail(): string {
    const lineCount = Math.min(errorTailLines, this.output.length);
    return `--- last ${lineCount} output lines of reference agent ${this.name} ---\n${this.outputTail()}`;
  }

  #withOutput(error: Error): Error {
    return new Error(`${error.message}\n${this.#formatTail()}`, { cause: error });
  }
}

/**
 * Kills every agent started in this process (SIGKILL, no leave) and removes their temporary
 * directories. Meant for `after` hooks.
 */
export async function cleanupAgents(): Promise<void> {
  const agents = [...liveAgents];
  liveAgents.clear();
  await Promise.all(agents.map((agent) => agent.kill()));

  const dirs = [...agentDirs];
  agentDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

function buildAgentArgs(
  options: ReferenceAgentOptions,
  gossipAddr: string,
  rpcAddr: string,
  configPath: string | undefined,
): string[] {
  const args = [
    'agent',
    `-node=${options.name}`,
    `-bind=${gossipAddr}`,
    `-rpc-addr=${rpcAddr}`,
    `-profile=${options.profile ?? 'local'}`,
    `-log-level=${options.logLevel ?? 'debug'}`,
  ];
  if (options.encryptKey !== undefined) {
    args.push(`-encrypt=${options.encryptKey}`);
  }
  if (options.keyringFile !== undefined) {
    args.push(`-keyring-file=${options.keyringFile}`);
  }
  for (const [key, value] of Object.entries(options.tags ?? {})) {
    args.push(`-tag=${key}=${value}`);
  }
  for (const address of options.join ?? []) {
    args.push(`-join=${address}`);
  }
  for (const handler of options.eventHandlers ?? []) {
    args.push(`-event-handler=${handler}`);
  }
  if (configPath !== undefined) {
    args.push(`-config-file=${configPath}`);
  }
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** Writes `config` (plus `rpc_auth`) to `<dir>/config.json`, or returns undefined when there is nothing to write. */
async function writeConfigFile(dir: string, options: ReferenceAgentOptions): Promise<string | undefined> {
  const config: Record<string, unknown> = { ...options.config };
  if (options.rpcAuth !== undefined) {
    config.rpc_auth = options.rpcAuth;
  }
  if (Object.keys(config).length === 0) {
    return undefined;
  }
  const path = join(dir, 'config.json');
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/** Extracts the host from `host`, `host:port`, `[v6]` or `[v6]:port`. */
function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1] !== undefined) {
    return bracketed[1];
  }
  const colon = address.lastIndexOf(':');
  if (colon !== -1 && address.indexOf(':') === colon) {
    return address.slice(0, colon);
  }
  return address;
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: the process has already exited.
  }
}

let exitHandlersInstalled = false;

/**
 * Makes sure agents die with the test process. On a normal exit the `exit` handler SIGKILLs them
 * by PID. On SIGTERM or SIGHUP, which would end the process without running `exit` handlers, the
 * agents are killed first and the signal is raised again when no other listener handles it.
 */
function installExitHandlers(): void {
  if (exitHandlersInstalled) {
    return;
  }
  exitHandlersInstalled = true;

  process.once('exit', killEverythingNow);

  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killEverythingNow();
      if (process.listenerCount(sig) === 0) {
        process.kill(process.pid, sig);
      }
    };
    process.once(sig, onSignal);
  }
}

function killEverythingNow(): void {
  for (const agent of liveAgents) {
    agent.signal('SIGKILL');
  }
  for (const pid of runningCliPids) {
    killQuietly(pid, 'SIGKILL');
  }
  for (const dir of agentDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
}
