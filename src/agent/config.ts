/**
 * `serf agent` configuration: the settings, their defaults, command-line flags with Go `flag`
 * package semantics, JSON configuration files, the merge rules between them, and validation.
 *
 * The flags, JSON keys, defaults and merge rules are those of HashiCorp Serf 0.9.4, so an operator
 * can swap the Go binary for this one without changing scripts or configuration files. Durations
 * are held in milliseconds. Error texts that operators may already grep for follow the Go agent's
 * wording. Validation is stricter than Go Serf's where that only rejects values that would fail
 * later anyway (bad key size, protocol out of range, bad addresses).
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { decodeKey } from '../security/index.js';
import { InvalidArgumentError } from '../util/errors.js';
import { permissionsWarningForMode } from './files.js';
import { parseEventHandlerSpec } from './handlers.js';

/** Origin of the gossip encryption key, recorded so the agent can warn about keys visible in `ps`. */
export type KeySource = 'flag' | 'config' | 'file' | 'env';

export interface AgentConfig {
  /** Node name, unique in the cluster. @default the host name */
  nodeName: string;
  /** Deprecated role; copied into `tags.role` by `finalizeAgentConfig`. */
  role: string;
  tags: Record<string, string>;
  /** File that persists tags across restarts. Excludes `tags` and `role`. */
  tagsFile: string;
  /** Gossip bind address, `host[:port]`. @default "0.0.0.0" (port 7946) */
  bind: string;
  /** Address advertised to peers, `host[:port]`. Empty means the bind address. */
  advertise: string;
  /** Base64 gossip key (16, 24 or 32 bytes once decoded). Never logged. */
  encryptKey: string;
  /** Origin of `encryptKey`, or undefined without a key. */
  keySource: KeySource | undefined;
  /** File holding the base64 gossip key (`-encrypt-file`, not in Go Serf). */
  encryptFile: string;
  /** JSON keyring file. It must exist at start and excludes `encryptKey`. */
  keyringFile: string;
  /** Console log level: trace, debug, info, warn or err (any case). @default "INFO" */
  logLevel: string;
  /** RPC listener, `host:port`. @default "127.0.0.1:7373" */
  rpcAddr: string;
  /** Token RPC clients must send with `auth`. Empty disables authentication. */
  rpcAuth: string;
  /** Serf protocol version, 2 to 5. @default 5 */
  protocol: number;
  /** Replay old user events on start-up joins. */
  replayOnJoin: boolean;
  /** Encoded query response limit in bytes. @default 1024 */
  queryResponseSizeLimit: number;
  /** Encoded query limit in bytes. @default 1024 */
  querySizeLimit: number;
  /** User event name + payload limit in bytes, at most 9216. @default 512 */
  userEventSizeLimit: number;
  /** Addresses joined at start. The agent exits when it joins none of them. */
  startJoin: string[];
  /** Event handler specifications, `[filter[,filter]=]command`. */
  eventHandlers: string[];
  /** Timing profile: lan, wan or local. @default "lan" */
  profile: string;
  snapshotPath: string;
  /** Leave gracefully on SIGTERM. */
  leaveOnTerminate: boolean;
  /** Skip the graceful leave on SIGINT. */
  skipLeaveOnInterrupt: boolean;
  /** mDNS cluster name. Empty disables discovery. */
  discover: string;
  /** Network interface for the bind address and mDNS. */
  interface: string;
  /** @default 30000 */
  reconnectIntervalMs: number;
  /** @default 86400000 (24 h) */
  reconnectTimeoutMs: number;
  /** @default 86400000 (24 h) */
  tombstoneTimeoutMs: number;
  disableNameResolution: boolean;
  enableSyslog: boolean;
  /** @default "LOCAL0" */
  syslogFacility: string;
  /** Addresses joined in the background until one join succeeds. */
  retryJoin: string[];
  /** Retry-join attempts before the agent exits, or 0 for no limit. */
  retryMaxAttempts: number;
  /** Pause between retry-join attempts, raised to 1 s if lower. @default 30000 */
  retryIntervalMs: number;
  /** Ignore a leave recorded in the snapshot. */
  rejoinAfterLeave: boolean;
  /** Gossip message compression, decided only by `-disable-compression` (see `mergeAgentConfig`). @default true */
  enableCompression: boolean;
  statsiteAddr: string;
  statsdAddr: string;
  /** Wait for leave, force-leave and tag broadcasts, raised to 1 s if lower. @default 5000 */
  broadcastTimeoutMs: number;
  disableCoordinates: boolean;
}

/** Default gossip port, added to `bind` and `advertise` values without a port. */
export const DEFAULT_BIND_PORT = 7946;
/** Largest `user_event_size_limit` the Serf library accepts. */
export const USER_EVENT_SIZE_LIMIT_MAX = 9216;
export const MIN_RETRY_INTERVAL_MS = 1000;
export const MIN_BROADCAST_TIMEOUT_MS = 1000;
/** Serf protocol versions this implementation speaks. */
export const PROTOCOL_MIN = 2;
export const PROTOCOL_MAX = 5;
/** Log levels in Go Serf's order and spelling. */
export const AGENT_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERR'] as const;
export const PROFILES = ['lan', 'wan', 'local'] as const;
/** Environment variable that may hold the base64 gossip key, keeping it out of `ps` output. */
export const ENCRYPT_KEY_ENV = 'SERF_ENCRYPT_KEY';

/** Returns the settings the Go agent starts from before files and flags are applied. */
export function defaultAgentConfig(): AgentConfig {
  return {
    nodeName: '',
    role: '',
    tags: {},
    tagsFile: '',
    bind: '0.0.0.0',
    advertise: '',
    encryptKey: '',
    keySource: undefined,
    encryptFile: '',
    keyringFile: '',
    logLevel: 'INFO',
    rpcAddr: '127.0.0.1:7373',
    rpcAuth: '',
    protocol: PROTOCOL_MAX,
    replayOnJoin: false,
    queryResponseSizeLimit: 1024,
    querySizeLimit: 1024,
    userEventSizeLimit: 512,
    startJoin: [],
    eventHandlers: [],
    profile: 'lan',
    snapshotPath: '',
    leaveOnTerminate: false,
    skipLeaveOnInterrupt: false,
    discover: '',
    interface: '',
    reconnectIntervalMs: 30_000,
    reconnectTimeoutMs: 24 * 3600_000,
    tombstoneTimeoutMs: 24 * 3600_000,
    disableNameResolution: false,
    enableSyslog: false,
    syslogFacility: 'LOCAL0',
    retryJoin: [],
    retryMaxAttempts: 0,
    retryIntervalMs: 30_000,
    rejoinAfterLeave: false,
    enableCompression: true,
    statsiteAddr: '',
    statsdAddr: '',
    broadcastTimeoutMs: 5000,
    disableCoordinates: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Go durations

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 MICRO SIGN
  μs: 1e-3, // U+03BC GREEK SMALL LETTER MU
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration (`300ms`, `-1.5h`, `2h45m`, `0`) into milliseconds, possibly fractional.
 * Throws InvalidArgumentError with Go's `time: ...` texts, which name the input.
 */
export function parseGoDuration(text: string): number {
  const invalid = () => new InvalidArgumentError(`time: invalid duration ${JSON.stringify(text)}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();

  let totalMs = 0;
  while (rest !== '') {
    const number = /^(\d*)(\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? '';
    const fraction = number?.[3] ?? '';
    if (whole === '' && fraction === '') throw invalid();
    rest = rest.slice(number?.[0].length ?? 0);

    const unitMatch = /^[^\d.]+/.exec(rest);
    if (unitMatch === null) {
      throw new InvalidArgumentError(`time: missing unit in duration ${JSON.stringify(text)}`);
    }
    const unit = unitMatch[0];
    const unitMs = DURATION_UNITS_MS[unit];
    if (unitMs === undefined) {
      throw new InvalidArgumentError(
        `time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`,
      );
    }
    rest = rest.slice(unit.length);
    totalMs += Number(`${whole === '' ? '0' : whole}.${fraction === '' ? '0' : fraction}`) * unitMs;
  }
  return sign * totalMs;
}

/** Formats milliseconds the way Go prints a time.Duration for whole units (`1s`, `1m30s`, `500ms`). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

// ---------------------------------------------------------------------------------------------
// Command-line flags

type FlagKind = 'string' | 'bool' | 'int' | 'duration' | 'list' | 'tag' | 'path' | 'negbool';

interface FlagDefinition {
  kind: FlagKind;
  /** Setting the flag fills; `configFiles` for -config-file/-config-dir. */
  key: keyof AgentConfig | 'configFiles';
}

const FLAGS: Record<string, FlagDefinition> = {
  bind: { kind: 'string', key: 'bind' },
  advertise: { kind: 'string', key: 'advertise' },
  iface: { kind: 'string', key: 'interface' },
  'config-file': { kind: 'path', key: 'configFiles' },
  'config-dir': { kind: 'path', key: 'configFiles' },
  discover: { kind: 'string', key: 'discover' },
  encrypt: { kind: 'string', key: 'encryptKey' },
  'encrypt-file': { kind: 'string', key: 'encryptFile' },
  'keyring-file': { kind: 'string', key: 'keyringFile' },
  'event-handler': { kind: 'list', key: 'eventHandlers' },
  join: { kind: 'list', key: 'startJoin' },
  replay: { kind: 'bool', key: 'replayOnJoin' },
  'log-level': { kind: 'string', key: 'logLevel' },
  node: { kind: 'string', key: 'nodeName' },
  protocol: { kind: 'int', key: 'protocol' },
  role: { kind: 'string', key: 'role' },
  'rpc-addr': { kind: 'string', key: 'rpcAddr' },
  profile: { kind: 'string', key: 'profile' },
  snapshot: { kind: 'string', key: 'snapshotPath' },
  tag: { kind: 'tag', key: 'tags' },
  'tags-file': { kind: 'string', key: 'tagsFile' },
  syslog: { kind: 'bool', key: 'enableSyslog' },
  'retry-join': { kind: 'list', key: 'retryJoin' },
  'retry-max': { kind: 'int', key: 'retryMaxAttempts' },
  'retry-interval': { kind: 'duration', key: 'retryIntervalMs' },
  rejoin: { kind: 'bool', key: 'rejoinAfterLeave' },
  'disable-compression': { kind: 'negbool', key: 'enableCompression' },
  'broadcast-timeout': { kind: 'duration', key: 'broadcastTimeoutMs' },
};

export interface ParsedAgentFlags {
  /** Settings given on the command line; `enableCompression` is always present. */
  flags: Partial<AgentConfig>;
  /** `-config-file` and `-config-dir` values in command-line order. */
  configFiles: string[];
  /** Arguments after the first non-flag word (Go stops parsing there). */
  args: string[];
  /** True when `-h`, `-help` or `--help` was given. */
  help: boolean;
}

/** Parses a Go `strconv.ParseBool` value. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  return undefined;
}

/** Parses an integer as Go's `flag.IntVar` does (decimal, or 0x/0o/0b/0 prefixes, `_` separators). */
function parseGoInt(value: string): number | undefined {
  const match = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(value);
  if (match === null) return undefined;
  const sign = match[1] === '-' ? -1 : 1;
  let digits = (match[2] ?? '').replaceAll('_', '');
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const parsed = Number(digits);
  return Number.isSafeInteger(parsed) ? sign * parsed : undefined;
}

/**
 * Parses `serf agent` flags with Go `flag` package semantics. A flag is `-x=v`, `-x v` or `--x`,
 * and a boolean is only `-x` or `-x=false`. Repeatable flags append. Parsing stops at the first
 * non-flag word or after `--`. Errors use the Go flag package's texts, such as
 * `flag provided but not defined: -x`.
 */
export function parseAgentFlags(argv: string[]): ParsedAgentFlags {
  const flags: Partial<AgentConfig> = {};
  const configFiles: string[] = [];
  let disableCompression = false;
  let help = false;
  let i = 0;

  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.length < 2 || !arg.startsWith('-')) break;
    if (arg === '--') {
      i++;
      break;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('=')) {
      throw new InvalidArgumentError(`bad flag syntax: ${arg}`);
    }
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    let value = eq === -1 ? undefined : body.slice(eq + 1);

    const definition = FLAGS[name];
    if (definition === undefined) {
      if (name === 'h' || name === 'help') {
        help = true;
        continue;
      }
      throw new InvalidArgumentError(
        `flag provided but not defined: -${name} (run 'serf agent -help' for the list of flags)`,
      );
    }

    if (definition.kind === 'bool' || definition.kind === 'negbool') {
      const parsed = value === undefined ? true : parseGoBool(value);
      if (parsed === undefined) {
        throw new InvalidArgumentError(
          `invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`,
        );
      }
      if (definition.kind === 'negbool') disableCompression = parsed;
      else (flags as Record<string, unknown>)[definition.key] = parsed;
      continue;
    }

    if (value === undefined) {
      if (i + 1 >= argv.length) throw new InvalidArgumentError(`flag needs an argument: -${name}`);
      i++;
      value = argv[i] ?? '';
    }
    applyFlagValue(flags, configFiles, name, definition, value);
  }

  flags.enableCompression = !disableCompression;
  return { flags, configFiles, args: argv.slice(i), help };
}

function applyFlagValue(
  flags: Partial<AgentConfig>,
  configFiles: string[],
  name: string,
  definition: FlagDefinition,
  value: string,
): void {
  const target = flags as Record<string, unknown>;
  switch (definition.kind) {
    case 'string':
      target[definition.key] = value;
      return;
    case 'int': {
      const parsed = parseGoInt(value);
      if (parsed === undefined) {
        throw new InvalidArgumentError(
          `invalid value ${JSON.stringify(value)} for flag -${name}: parse error`,
        );
      }
      target[definition.key] = parsed;
      return;
    }
    case 'duration':
      // Go Serf reads these flags as strings and treats an empty one as not given.
      if (value === '') return;
      target[definition.key] = parseDurationSetting(value, `-${name}`);
      return;
    case 'list': {
      const list = (target[definition.key] as string[] | undefined) ?? [];
      list.push(value);
      target[definition.key] = list;
      return;
    }
    case 'tag': {
      const [key, tagValue] = splitTag(value);
      flags.tags = { ...flags.tags, [key]: tagValue };
      return;
    }
    case 'path':
      configFiles.push(value);
      return;
    default:
      throw new Error(`unhandled flag kind ${definition.kind}`);
  }
}

/** Splits a `-tag` value at its first `=`; the key must be non-empty, the value may be empty. */
function splitTag(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`Error: Invalid tag: '${value}'`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** Parses a duration setting, naming the flag or key and the expected syntax on failure. */
function parseDurationSetting(value: string, setting: string): number {
  try {
    return parseGoDuration(value);
  } catch (err) {
    throw new InvalidArgumentError(
      `Error: invalid duration ${JSON.stringify(value)} for ${setting}: expected a number with a unit (ns, us, ms, s, m, h), such as 500ms, 30s or 1h30m`,
      { cause: err },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// JSON configuration files

type JsonKind = 'string' | 'bool' | 'int' | 'duration' | 'strings' | 'tags';

/** JSON keys of Go Serf 0.9.4's agent configuration and the setting each one fills. */
const JSON_KEYS: Record<string, { kind: JsonKind; key: keyof AgentConfig }> = {
  node_name: { kind: 'string', key: 'nodeName' },
  role: { kind: 'string', key: 'role' },
  disable_coordinates: { kind: 'bool', key: 'disableCoordinates' },
  tags: { kind: 'tags', key: 'tags' },
  tags_file: { kind: 'string', key: 'tagsFile' },
  bind: { kind: 'string', key: 'bind' },
  advertise: { kind: 'string', key: 'advertise' },
  encrypt_key: { kind: 'string', key: 'encryptKey' },
  keyring_file: { kind: 'string', key: 'keyringFile' },
  log_level: { kind: 'string', key: 'logLevel' },
  rpc_addr: { kind: 'string', key: 'rpcAddr' },
  rpc_auth: { kind: 'string', key: 'rpcAuth' },
  protocol: { kind: 'int', key: 'protocol' },
  replay_on_join: { kind: 'bool', key: 'replayOnJoin' },
  query_response_size_limit: { kind: 'int', key: 'queryResponseSizeLimit' },
  query_size_limit: { kind: 'int', key: 'querySizeLimit' },
  user_event_size_limit: { kind: 'int', key: 'userEventSizeLimit' },
  start_join: { kind: 'strings', key: 'startJoin' },
  event_handlers: { kind: 'strings', key: 'eventHandlers' },
  profile: { kind: 'string', key: 'profile' },
  snapshot_path: { kind: 'string', key: 'snapshotPath' },
  leave_on_terminate: { kind: 'bool', key: 'leaveOnTerminate' },
  skip_leave_on_interrupt: { kind: 'bool', key: 'skipLeaveOnInterrupt' },
  discover: { kind: 'string', key: 'discover' },
  interface: { kind: 'string', key: 'interface' },
  reconnect_interval: { kind: 'duration', key: 'reconnectIntervalMs' },
  reconnect_timeout: { kind: 'duration', key: 'reconnectTimeoutMs' },
  tombstone_timeout: { kind: 'duration', key: 'tombstoneTimeoutMs' },
  disable_name_resolution: { kind: 'bool', key: 'disableNameResolution' },
  enable_syslog: { kind: 'bool', key: 'enableSyslog' },
  syslog_facility: { kind: 'string', key: 'syslogFacility' },
  retry_join: { kind: 'strings', key: 'retryJoin' },
  retry_max_attempts: { kind: 'int', key: 'retryMaxAttempts' },
  retry_interval: { kind: 'duration', key: 'retryIntervalMs' },
  rejoin_after_leave: { kind: 'bool', key: 'rejoinAfterLeave' },
  enable_compression: { kind: 'bool', key: 'enableCompression' },
  statsite_addr: { kind: 'string', key: 'statsiteAddr' },
  statsd_addr: { kind: 'string', key: 'statsdAddr' },
  broadcast_timeout: { kind: 'duration', key: 'broadcastTimeoutMs' },
};

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Decodes the text of one JSON configuration file. Keys match case-insensitively; unknown keys
 * and wrong types are errors; `null` counts as absent. Throws InvalidArgumentError with one line
 * that names the key.
 */
export function decodeConfigJson(text: string): Partial<AgentConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`invalid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(`expected a JSON object at the top level, got ${jsonTypeName(raw)}`);
  }

  const result: Partial<AgentConfig> = {};
  const target = result as Record<string, unknown>;
  const unknownKeys: string[] = [];
  for (const [jsonKey, value] of Object.entries(raw)) {
    const definition = JSON_KEYS[jsonKey.toLowerCase()];
    if (definition === undefined) {
      unknownKeys.push(jsonKey);
      continue;
    }
    if (value === null) continue;
    const name = jsonKey.toLowerCase();
    const wrongType = (expected: string) =>
      new InvalidArgumentError(
        `'${name}' expected type '${expected}', got ${jsonTypeName(value)} ${JSON.stringify(value)}`,
      );

    switch (definition.kind) {
      case 'string':
        if (typeof value !== 'string') throw wrongType('string');
        target[definition.key] = value;
        break;
      case 'bool':
        if (typeof value !== 'boolean') throw wrongType('bool');
        target[definition.key] = value;
        break;
      case 'int':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrongType('int');
        target[definition.key] = value;
        break;
      case 'duration':
        if (typeof value !== 'string') throw wrongType('duration string');
        // An empty duration string means "not set", as in Go Serf.
        if (value !== '') target[definition.key] = parseDurationSetting(value, `'${name}'`);
        break;
      case 'strings':
        if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
          throw wrongType('array of strings');
        }
        target[definition.key] = [...value];
        break;
      case 'tags': {
        if (typeof value !== 'object' || Array.isArray(value)) throw wrongType('object of strings');
        const tags: Record<string, string> = {};
        for (const [tagKey, tagValue] of Object.entries(value as Record<string, unknown>)) {
          if (typeof tagValue !== 'string') {
            throw new InvalidArgumentError(
              `'tags[${tagKey}]' expected type 'string', got ${jsonTypeName(tagValue)} ${JSON.stringify(tagValue)}`,
            );
          }
          tags[tagKey] = tagValue;
        }
        target[definition.key] = tags;
        break;
      }
    }
  }
  if (unknownKeys.length > 0) {
    throw new InvalidArgumentError(`'' has invalid keys: ${unknownKeys.join(', ')}`);
  }
  return result;
}

function describeFsError(err: unknown): string {
  const error = err as NodeJS.ErrnoException;
  if (error.code === 'ENOENT') return `open ${error.path ?? ''}: no such file or directory`;
  if (error.code === 'EACCES') return `open ${error.path ?? ''}: permission denied`;
  return error.message;
}

/**
 * Reads configuration files and directories in the given order and merges them (later over
 * earlier). A directory contributes its regular `*.json` files in byte order of their names,
 * without recursion. Errors read `Error reading '<path>': ...` or `Error decoding '<path>': ...`.
 */
export function loadConfigFiles(paths: string[]): Partial<AgentConfig> {
  let merged: Partial<AgentConfig> = {};
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (err) {
      throw new InvalidArgumentError(`Error reading '${path}': ${describeFsError(err)}`, { cause: err });
    }

    const files: string[] = [];
    if (isDirectory) {
      let names: string[];
      try {
        names = readdirSync(path);
      } catch (err) {
        throw new InvalidArgumentError(`Error reading '${path}': ${describeFsError(err)}`, { cause: err });
      }
      names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const name of names) {
        const file = join(path, name);
        if (!name.endsWith('.json')) continue;
        try {
          if (statSync(file).isDirectory()) continue;
        } catch (err) {
          throw new InvalidArgumentError(`Error reading '${file}': ${describeFsError(err)}`, { cause: err });
        }
        files.push(file);
      }
    } else {
      files.push(path);
    }

    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new InvalidArgumentError(`Error reading '${file}': ${describeFsError(err)}`, { cause: err });
      }
      let decoded: Partial<AgentConfig>;
      try {
        decoded = decodeConfigJson(text);
      } catch (err) {
        throw new InvalidArgumentError(`Error decoding '${file}': ${(err as Error).message}`, { cause: err });
      }
      merged = mergePartial(merged, decoded);
    }
  }
  return merged;
}

const LIST_KEYS = new Set<keyof AgentConfig>(['startJoin', 'eventHandlers', 'retryJoin']);
const STICKY_BOOL_KEYS = new Set<keyof AgentConfig>([
  'disableCoordinates',
  'replayOnJoin',
  'leaveOnTerminate',
  'skipLeaveOnInterrupt',
  'disableNameResolution',
  'enableSyslog',
  'rejoinAfterLeave',
]);

/**
 * Merges `later` over `earlier` with Go Serf's rules: non-empty strings and non-zero numbers win
 * (protocol only when > 0), true booleans stick, tags merge key by key, lists append.
 * `enableCompression` is copied whenever `later` has it, which, because the command line always
 * supplies it, lets only `-disable-compression` decide compression.
 */
function mergePartial<T extends Partial<AgentConfig>>(earlier: T, later: Partial<AgentConfig>): T {
  const result: Record<string, unknown> = { ...earlier };
  for (const [name, value] of Object.entries(later) as [keyof AgentConfig, unknown][]) {
    if (value === undefined) continue;
    if (name === 'enableCompression') {
      result[name] = value;
    } else if (name === 'tags') {
      result.tags = {
        ...(result.tags as Record<string, string> | undefined),
        ...(value as Record<string, string>),
      };
    } else if (LIST_KEYS.has(name)) {
      result[name] = [...((result[name] as string[] | undefined) ?? []), ...(value as string[])];
    } else if (STICKY_BOOL_KEYS.has(name)) {
      if (value === true) result[name] = true;
    } else if (name === 'protocol') {
      if ((value as number) > 0) result[name] = value;
    } else if (typeof value === 'string') {
      if (value !== '') result[name] = value;
    } else if (typeof value === 'number') {
      if (value !== 0) result[name] = value;
    } else {
      result[name] = value;
    }
  }
  return result as T;
}

/** Merges `later` settings over a full configuration with Go Serf's rules (see above). */
export function mergeAgentConfig(earlier: AgentConfig, later: Partial<AgentConfig>): AgentConfig {
  return mergePartial(earlier, later);
}

// ---------------------------------------------------------------------------------------------
// Loading, adjustments and validation

export interface LoadedAgentConfig {
  config: AgentConfig;
  configFiles: string[];
  /** Lines the agent prints with `==> ` before starting (low intervals, deprecations, key on the command line). */
  warnings: string[];
  /** True when `-h`/`-help` was given; the caller prints `agentUsage()` and exits 0. */
  help: boolean;
}

/**
 * Builds the agent configuration from the command line the way `serf agent` does. Files are merged
 * over the defaults and flags over files. The gossip key may then come from `-encrypt-file` or the
 * environment, and `finalizeAgentConfig` and `validateAgentConfig` run last. Errors are
 * InvalidArgumentError with one line.
 *
 * Key precedence: `-encrypt` or `-encrypt-file` (not both), then env `SERF_ENCRYPT_KEY`, then
 * `encrypt_key` from a configuration file.
 */
export function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): LoadedAgentConfig {
  const parsed = parseAgentFlags(argv);
  if (parsed.help) {
    return { config: defaultAgentConfig(), configFiles: parsed.configFiles, warnings: [], help: true };
  }
  const fromFiles = parsed.configFiles.length > 0 ? loadConfigFiles(parsed.configFiles) : {};
  let config = mergeAgentConfig(mergeAgentConfig(defaultAgentConfig(), fromFiles), parsed.flags);
  const warnings: string[] = [];

  config.keySource = undefined;
  if (parsed.flags.encryptKey && parsed.flags.encryptFile) {
    throw new InvalidArgumentError(
      '-encrypt and -encrypt-file both set the gossip key: give only one of them',
    );
  }
  if (parsed.flags.encryptKey) {
    config.keySource = 'flag';
  } else if (parsed.flags.encryptFile) {
    config.encryptKey = readEncryptKeyFile(parsed.flags.encryptFile);
    config.keySource = 'file';
    const permissionsWarning = permissionsWarningForMode(
      parsed.flags.encryptFile,
      statSync(parsed.flags.encryptFile).mode,
    );
    if (permissionsWarning !== undefined) warnings.push(permissionsWarning);
  } else if (env[ENCRYPT_KEY_ENV]) {
    config.encryptKey = env[ENCRYPT_KEY_ENV]?.trim() ?? '';
    config.keySource = 'env';
  } else if (fromFiles.encryptKey) {
    config.keySource = 'config';
  }
  if (config.keySource === 'flag') {
    warnings.push(
      `Warning: the gossip key given with -encrypt is visible to other local users in the process list; use -encrypt-file or ${ENCRYPT_KEY_ENV} instead`,
    );
  }

  const finalized = finalizeAgentConfig(config);
  config = finalized.config;
  warnings.push(...finalized.warnings);
  validateAgentConfig(config);
  return { config, configFiles: parsed.configFiles, warnings, help: false };
}

/** Reads a file holding one base64 gossip key; surrounding white space is ignored. */
export function readEncryptKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new InvalidArgumentError(`Error reading encryption key file '${path}': ${describeFsError(err)}`, {
      cause: err,
    });
  }
}

/**
 * Applies Go Serf's post-merge adjustments: the node name defaults to the host name, `role` is
 * copied into `tags.role`, the retry interval and broadcast timeout are raised to 1 s. Returns the
 * adjusted copy and the warnings the Go agent prints for them.
 */
export function finalizeAgentConfig(input: AgentConfig): { config: AgentConfig; warnings: string[] } {
  const config: AgentConfig = { ...input, tags: { ...input.tags } };
  const warnings: string[] = [];
  if (config.nodeName === '') config.nodeName = hostname();
  if (config.role !== '') {
    warnings.push("Deprecation warning: 'Role' has been replaced with 'Tags'");
    config.tags.role = config.role;
  }
  if (config.retryIntervalMs < MIN_RETRY_INTERVAL_MS) {
    config.retryIntervalMs = MIN_RETRY_INTERVAL_MS;
    warnings.push(
      `Warning: 'RetryInterval' is too low. Setting to ${formatGoDuration(MIN_RETRY_INTERVAL_MS)}`,
    );
  }
  if (config.broadcastTimeoutMs < MIN_BROADCAST_TIMEOUT_MS) {
    config.broadcastTimeoutMs = MIN_BROADCAST_TIMEOUT_MS;
    warnings.push(
      `Warning: 'BroadcastTimeout' is too low. Setting to ${formatGoDuration(MIN_BROADCAST_TIMEOUT_MS)}`,
    );
  }
  if (config.rejoinAfterLeave && config.snapshotPath === '') {
    warnings.push("Warning: 'RejoinAfterLeave' enabled without snapshot file");
  }
  return { config, warnings };
}

/** Splits `host[:port]` (IPv6 in brackets) as Go's net.SplitHostPort, adding `defaultPort` when missing. */
export function splitHostPort(address: string, defaultPort?: number): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    if (end === -1) throw new InvalidArgumentError(`address ${address}: missing ']' in address`);
    host = address.slice(1, end);
    const after = address.slice(end + 1);
    if (after === '') portText = undefined;
    else if (after.startsWith(':')) portText = after.slice(1);
    else throw new InvalidArgumentError(`address ${address}: unexpected text after ']'`);
  } else {
    const colons = address.split(':').length - 1;
    if (colons > 1) throw new InvalidArgumentError(`address ${address}: too many colons in address`);
    const colon = address.lastIndexOf(':');
    host = colon === -1 ? address : address.slice(0, colon);
    portText = colon === -1 ? undefined : address.slice(colon + 1);
  }
  if (portText === undefined) {
    if (defaultPort === undefined)
      throw new InvalidArgumentError(`address ${address}: missing port in address`);
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new InvalidArgumentError(`address ${address}: invalid port ${JSON.stringify(portText)}`);
  }
  return { host, port: Number(portText) };
}

const SYSLOG_FACILITIES = [
  'KERN',
  'USER',
  'MAIL',
  'DAEMON',
  'AUTH',
  'SYSLOG',
  'LPR',
  'NEWS',
  'UUCP',
  'CRON',
  'AUTHPRIV',
  'FTP',
  ...['LOCAL0', 'LOCAL1', 'LOCAL2', 'LOCAL3', 'LOCAL4', 'LOCAL5', 'LOCAL6', 'LOCAL7'],
];

/**
 * Checks a merged configuration and throws InvalidArgumentError with one line naming the bad flag
 * or key. Texts printed by the Go agent are kept where operators may know them (`Unknown profile:`,
 * `Invalid log level:`, `Invalid event script:`, `Invalid encryption key:`, ...). Key material is
 * never part of a message.
 */
export function validateAgentConfig(cfg: AgentConfig): void {
  if (!AGENT_LOG_LEVELS.includes(cfg.logLevel.toUpperCase() as (typeof AGENT_LOG_LEVELS)[number])) {
    throw new InvalidArgumentError(
      `Invalid log level: ${cfg.logLevel}. Valid log levels are: [${AGENT_LOG_LEVELS.join(' ')}]`,
    );
  }
  if (!PROFILES.includes(cfg.profile as (typeof PROFILES)[number])) {
    throw new InvalidArgumentError(`Unknown profile: ${cfg.profile}`);
  }
  for (const spec of cfg.eventHandlers) {
    for (const handler of parseEventHandlerSpec(spec)) {
      if (!handler.valid) throw new InvalidArgumentError(`Invalid event script: ${handler.description}`);
    }
  }
  if (cfg.interface !== '' && networkInterfaces()[cfg.interface] === undefined) {
    throw new InvalidArgumentError(
      `Invalid network interface: route ip+net: no such network interface (-iface / interface '${cfg.interface}')`,
    );
  }
  for (const [setting, value, defaultPort] of [
    ['bind', cfg.bind, DEFAULT_BIND_PORT],
    ['advertise', cfg.advertise, DEFAULT_BIND_PORT],
    ['RPC', cfg.rpcAddr, undefined],
  ] as const) {
    if (setting !== 'bind' && value === '') continue;
    try {
      splitHostPort(value, defaultPort);
    } catch (err) {
      throw new InvalidArgumentError(`Invalid ${setting} address: ${(err as Error).message}`, { cause: err });
    }
  }

  if (cfg.encryptKey !== '') {
    try {
      decodeKey(cfg.encryptKey);
    } catch (err) {
      throw new InvalidArgumentError(
        `Invalid encryption key: ${(err as Error).message} (expected the base64 text of a 16, 24 or 32-byte key, as printed by 'serf keygen')`,
      );
    }
    if (cfg.keyringFile !== '') {
      throw new InvalidArgumentError(
        'Failed to setup the Serf agent: Encryption key not allowed while using a keyring',
      );
    }
  }
  if (cfg.tagsFile !== '' && Object.keys(cfg.tags).length > 0) {
    throw new InvalidArgumentError(
      'Failed to setup the Serf agent: Tags config not allowed while using tag files',
    );
  }
  if (cfg.protocol < PROTOCOL_MIN || cfg.protocol > PROTOCOL_MAX) {
    const side = cfg.protocol < PROTOCOL_MIN ? 'low' : 'high';
    throw new InvalidArgumentError(
      `Failed to start the Serf agent: Error creating Serf: Protocol version '${cfg.protocol}' too ${side}. Must be in range: [${PROTOCOL_MIN}, ${PROTOCOL_MAX}]`,
    );
  }
  if (cfg.userEventSizeLimit > USER_EVENT_SIZE_LIMIT_MAX) {
    throw new InvalidArgumentError(
      `Failed to start the Serf agent: Error creating Serf: user event size limit exceeds limit of ${USER_EVENT_SIZE_LIMIT_MAX} bytes`,
    );
  }
  for (const [key, value] of [
    ['user_event_size_limit', cfg.userEventSizeLimit],
    ['query_size_limit', cfg.querySizeLimit],
    ['query_response_size_limit', cfg.queryResponseSizeLimit],
  ] as const) {
    if (value <= 0)
      throw new InvalidArgumentError(`Invalid ${key}: ${value} (expected a positive number of bytes)`);
  }
  for (const [key, value] of [
    ['reconnect_interval', cfg.reconnectIntervalMs],
    ['reconnect_timeout', cfg.reconnectTimeoutMs],
    ['tombstone_timeout', cfg.tombstoneTimeoutMs],
  ] as const) {
    if (value <= 0) {
      throw new InvalidArgumentError(
        `Invalid ${key}: ${formatGoDuration(value)} (expected a positive duration)`,
      );
    }
  }
  if (cfg.enableSyslog && !SYSLOG_FACILITIES.includes(cfg.syslogFacility.toUpperCase())) {
    throw new InvalidArgumentError(
      `Invalid syslog_facility: '${cfg.syslogFacility}' (expected one of ${SYSLOG_FACILITIES.join(', ')})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Help text

/** Returns the `serf agent -help` text (printed with a trailing newline by the caller). */
export function agentUsage(): string {
  return `Usage: serf agent [options]

  Runs a Serf agent: one cluster member that gossips with its peers, runs
  event handlers and serves RPC clients until it is interrupted.

Options:

  -bind=0.0.0.0:7946       Gossip bind address. The port is optional (default
                           7946). Write IPv6 addresses as [::1] or [::1]:7946.
  -iface=NAME              Network interface to take the bind address from when
                           -bind is 0.0.0.0; otherwise the interface must carry
                           the bind address. Also the -discover interface.
  -advertise=ADDR          Address (and optional port) announced to the other
                           members, for example behind NAT.
  -config-file=FILE        JSON configuration file. Repeatable.
  -config-dir=DIR          Directory whose *.json files are read in file name
                           order. Repeatable, and mixed with -config-file in
                           command-line order.
  -discover=CLUSTER        Find and join peers of this cluster name with mDNS
                           on networks that allow multicast.
  -encrypt=KEY             Base64 gossip encryption key (16, 24 or 32 bytes).
                           Other local users can read it in the process list;
                           prefer -encrypt-file or SERF_ENCRYPT_KEY.
  -encrypt-file=FILE       File holding the base64 gossip encryption key.
  -keyring-file=FILE       JSON keyring file. It must exist at start and is
                           rewritten whenever the keyring changes.
  -event-handler=SPEC      Command run for events, as [FILTER[,FILTER]=]COMMAND.
                           Repeatable. See "Event handlers" below.
  -join=ADDR               Member to join at start; the agent exits when no
                           join succeeds. Repeatable.
  -replay                  Replay past user events for the -join joins.
  -log-level=info          Console log level: trace, debug, info, warn or err.
  -node=NAME               Node name, unique in the cluster (default: host name).
  -profile=lan             Timing profile: lan, wan or local.
  -protocol=5              Serf protocol version, 2 to 5. Lower it only while
                           upgrading a cluster of older agents.
  -rejoin                  Rejoin the cluster after a leave recorded in the
                           snapshot. Needs -snapshot.
  -retry-join=ADDR         Member to join in the background, retrying until a
                           join succeeds. Repeatable.
  -retry-interval=30s      Pause between -retry-join attempts (at least 1s).
  -retry-max=0             Retry-join attempts before the agent exits; 0 means
                           no limit.
  -disable-compression     Send gossip messages uncompressed.
  -role=ROLE               Deprecated: use -tag role=ROLE.
  -rpc-addr=127.0.0.1:7373 Address of the RPC listener used by serf commands.
  -snapshot=FILE           Snapshot file that records members and event clocks
                           so a restarted agent can rejoin without replaying
                           old events.
  -tag key=value           Tag of this node. Repeatable. Not allowed together
                           with -tags-file.
  -tags-file=FILE          JSON file that stores this node's tags across
                           restarts. Tags set at run time are written to it.
  -syslog                  Also send log lines to syslog.
  -broadcast-timeout=5s    Time to wait for leave, force-leave and tag change
                           broadcasts (at least 1s).

Environment:

  SERF_ENCRYPT_KEY         Base64 gossip encryption key, used when neither
                           -encrypt nor -encrypt-file is given.

Event handlers:

  An event handler is a shell command (run with /bin/sh -c) that receives
  the event in SERF_* environment variables and on standard input.

  - "handler.sh" runs for every event; the script reads SERF_EVENT to tell
    events apart.
  - "member-join=join.sh" runs only for that event type. The types are
    member-join, member-leave, member-failed, member-update, member-reap,
    user, query and *. Several types are separated by commas.
  - "user:deploy=deploy.sh" runs only for user events named "deploy", and
    "query:load=uptime" only for queries named "load". The output of a
    query handler that exits with status 0 is sent as this node's response.
`;
}
