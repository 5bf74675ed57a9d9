/**
 * The agent's snapshot file: an append-only text log of the members this node has seen alive and
 * of its three Lamport clocks, so a restarted agent can rejoin its cluster and ignore old events.
 *
 * One record per `\n`-terminated line, in the format Serf 0.9.4 writes:
 *
 *     alive: <name> <ip:port>      member joined (IPv6 as [v6]:port)
 *     not-alive: <name>            member left or failed
 *     clock: <n>                   member clock − 1, when it grew
 *     event-clock: <n>             highest user event LTime seen
 *     query-clock: <n>             highest query LTime seen
 *     leave                        graceful leave started
 *
 * `coordinate: ...` lines (written by older versions) and `#` comments are ignored on replay.
 */

import { type FileHandle, open, readFile, rename, rm } from 'node:fs/promises';
import { bytesToIp, ipToBytes } from '../codec/ip.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { errorMessage, InvalidArgumentError } from '../util/errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { Member, SerfEvent } from './events.js';

export interface SnapshotState {
  /** Node name → address in Go's host:port form (`[v6]:port` for IPv6). */
  aliveNodes: Map<string, string>;
  /** Last recorded member clock. */
  lastClock: number;
  /** Last recorded user event clock. */
  lastEventClock: number;
  /** Last recorded query clock. */
  lastQueryClock: number;
}

export interface ParseSnapshotOptions {
  /** Keeps nodes and clocks across a `leave` line (the agent's `-rejoin`). */
  rejoinAfterLeave: boolean;
  /** Receives one message per line that cannot be used. */
  onWarning?: (msg: string) => void;
}

export interface SnapshotterOptions {
  path: string;
  clock: Clock;
  logger?: Logger;
  /** Keeps nodes and clocks across a `leave` line on replay, and keeps the alive nodes at leave. */
  rejoinAfterLeave: boolean;
  /** Returns the current member Lamport clock. It is read every 500 ms and after member events. */
  memberClock: () => number;
  /** Compaction threshold floor in bytes (default 128 KiB). */
  minCompactSize?: number;
  /** Interval between flushes of buffered lines to the file, in ms (default 500). */
  flushIntervalMs?: number;
}

/** Compaction threshold floor when `minCompactSize` is not given. */
export const DEFAULT_MIN_COMPACT_SIZE = 128 * 1024;
/** Flush interval when `flushIntervalMs` is not given. */
export const DEFAULT_FLUSH_INTERVAL_MS = 500;
/** Interval between reads of the member clock. */
export const CLOCK_RECORD_INTERVAL_MS = 500;
/** Estimated bytes of file per alive node, used in the compaction threshold. */
const BYTES_PER_NODE = 128;
/** The file may grow to this many times its estimated compacted size before compaction. */
const COMPACTION_FACTOR = 2;
/** Minimum time between compactions started to recover from a failed append. */
const ERROR_RECOVERY_INTERVAL_MS = 30_000;
const COMPACT_SUFFIX = '.compact';

function emptyState(): SnapshotState {
  return { aliveNodes: new Map(), lastClock: 0, lastEventClock: 0, lastQueryClock: 0 };
}

function copyState(state: SnapshotState): SnapshotState {
  return { ...state, aliveNodes: new Map(state.aliveNodes) };
}

/** Parses a decimal Lamport time, or returns undefined when it is not one. */
function parseLamport(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

const CLOCK_PREFIXES = [
  ['clock: ', 'lastClock'],
  ['event-clock: ', 'lastEventClock'],
  ['query-clock: ', 'lastQueryClock'],
] as const;

/**
 * Applies one line (without its newline) to `state`, as a replay does. Returns a warning for a
 * line that cannot be used, and undefined otherwise.
 */
function applyLine(state: SnapshotState, line: string, rejoinAfterLeave: boolean): string | undefined {
  if (line.startsWith('alive: ')) {
    const info = line.slice('alive: '.length);
    const space = info.lastIndexOf(' ');
    if (space < 0) return `Failed to parse address: ${line}`;
    state.aliveNodes.set(info.slice(0, space), info.slice(space + 1));
    return undefined;
  }
  if (line.startsWith('not-alive: ')) {
    state.aliveNodes.delete(line.slice('not-alive: '.length));
    return undefined;
  }
  for (const [prefix, field] of CLOCK_PREFIXES) {
    if (!line.startsWith(prefix)) continue;
    const value = parseLamport(line.slice(prefix.length));
    if (value === undefined) return `Failed to convert ${prefix.slice(0, -2)} time: ${line}`;
    state[field] = value;
    return undefined;
  }
  if (line === 'leave') {
    if (rejoinAfterLeave) return undefined;
    state.aliveNodes = new Map();
    state.lastClock = 0;
    state.lastEventClock = 0;
    state.lastQueryClock = 0;
    return undefined;
  }
  if (line.startsWith('coordinate: ') || line.startsWith('#')) return undefined;
  return `Unrecognized snapshot line: ${line}`;
}

/**
 * Replays snapshot text into the state it describes. A final line without its newline (a write
 * cut short) is ignored with a warning. Lines after a `leave` line still apply.
 */
export function parseSnapshot(text: string, options: ParseSnapshotOptions): SnapshotState {
  const state = emptyState();
  const lines = text.split('\n');
  const partial = lines.pop();
  for (const line of lines) {
    const warning = applyLine(state, line, options.rejoinAfterLeave);
    if (warning !== undefined) options.onWarning?.(warning);
  }
  if (partial !== undefined && partial !== '') {
    options.onWarning?.(`Ignoring incomplete last snapshot line: ${partial}`);
  }
  return state;
}

/** Formats a member address as Go's `net.TCPAddr.String` does: `ip:port` or `[ipv6]:port`. */
function formatAddress(member: Member): string {
  let host = member.addr;
  try {
    host = bytesToIp(ipToBytes(member.addr));
  } catch {
    // Not a parseable IP (a zone or a host name): keep the text as given.
  }
  return host.includes(':') ? `[${host}]:${member.port}` : `${host}:${member.port}`;
}

function renderState(state: SnapshotState): string {
  let text = '';
  for (const [name, addr] of state.aliveNodes) text += `alive: ${name} ${addr}\n`;
  text += `clock: ${state.lastClock}\n`;
  text += `event-clock: ${state.lastEventClock}\n`;
  text += `query-clock: ${state.lastQueryClock}\n`;
  return text;
}

/**
 * Records Serf events into the snapshot file. Lines are buffered in memory and written through one
 * append-mode file handle every `flushIntervalMs` and on leave and close. File operations run one
 * at a time in the order they were requested.
 */
export class Snapshotter {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #rejoinAfterLeave: boolean;
  readonly #memberClock: () => number;
  readonly #minCompactSize: number;

  #fh: FileHandle | undefined;
  /**
   * The state a replay of the file plus the buffer would give. Compaction writes it, so a
   * compacted file replays to the same state.
   */
  #fileState: SnapshotState;
  /** Last values written to the file. A clock line is written only when its value grows. */
  #lastClock: number;
  #lastEventClock: number;
  #lastQueryClock: number;

  /** Lines recorded but not yet handed to the file. */
  #buffer = '';
  /** Bytes in the file plus the buffer, compared with the compaction threshold. */
  #offset: number;
  /** Tail of the queue of file operations. Each one starts after the previous one settles. */
  #io: Promise<void> = Promise.resolve();
  #compactionQueued = false;
  #lastRecoveryAttempt = Number.NEGATIVE_INFINITY;

  #leaving = false;
  #leavePromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;
  readonly #timers: TimerHandle[] = [];

  private constructor(options: SnapshotterOptions, fh: FileHandle, state: SnapshotState, size: number) {
    this.#path = options.path;
    this.#clock = options.clock;
    this.#logger = options.logger ?? silentLogger;
    this.#rejoinAfterLeave = options.rejoinAfterLeave;
    this.#memberClock = options.memberClock;
    this.#minCompactSize = options.minCompactSize ?? DEFAULT_MIN_COMPACT_SIZE;
    this.#fh = fh;
    this.#fileState = copyState(state);
    this.#lastClock = state.lastClock;
    this.#lastEventClock = state.lastEventClock;
    this.#lastQueryClock = state.lastQueryClock;
    this.#offset = size;

    const flushInterval = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    // The clock timer is created first so that, when both fire at the same time, the clock line
    // goes out with that flush.
    this.#timers.push(this.#clock.setInterval(() => this.#updateClock(), CLOCK_RECORD_INTERVAL_MS));
    this.#timers.push(this.#clock.setInterval(() => this.#scheduleFlush(false), flushInterval));
  }

  /**
   * Opens (creating it if missing) and replays the snapshot file at `options.path`. Returns the
   * snapshotter, which appends to the file from then on, and the replayed state.
   */
  static async open(
    options: SnapshotterOptions,
  ): Promise<{ snapshotter: Snapshotter; state: SnapshotState }> {
    const logger = options.logger ?? silentLogger;
    if (options.minCompactSize !== undefined && !(options.minCompactSize >= 0)) {
      throw new InvalidArgumentError(
        `minCompactSize is ${options.minCompactSize}; expected a byte count of at least 0`,
      );
    }
    if (options.flushIntervalMs !== undefined && !(options.flushIntervalMs > 0)) {
      throw new InvalidArgumentError(
        `flushIntervalMs is ${options.flushIntervalMs}; expected a positive number of ms`,
      );
    }

    const fh = await open(options.path, 'a', 0o644);
    let bytes: Buffer;
    try {
      bytes = await readFile(options.path);
    } catch (err) {
      await fh.close();
      throw err;
    }
    const text = bytes.toString('utf8');
    const state = parseSnapshot(text, {
      rejoinAfterLeave: options.rejoinAfterLeave,
      onWarning: (msg) => logger.warn(msg),
    });
    if (options.rejoinAfterLeave && text.split('\n').includes('leave')) {
      logger.info('Ignoring previous leave in snapshot');
    }

    // A last line without its newline is a write cut short. The replay ignored it, so cut it off
    // the file too: appending after it would merge it with the next record.
    const completeBytes = bytes.lastIndexOf(0x0a) + 1;
    if (completeBytes < bytes.length) {
      try {
        await fh.truncate(completeBytes);
      } catch (err) {
        await fh.close();
        throw err;
      }
    }
    const snapshotter = new Snapshotter(options, fh, state, completeBytes);
    return { snapshotter, state: copyState(state) };
  }

  /** Returns a copy of the nodes last recorded alive, for rejoining after a restart. */
  aliveNodes(): Map<string, string> {
    return new Map(this.#fileState.aliveNodes);
  }

  /**
   * Records one event. Member joins add `alive:` lines, leaves and failures `not-alive:` lines,
   * user events and queries raise the event and query clocks. Ignored after `leave()` or
   * `close()`. Never throws: file errors are logged.
   */
  record(event: SerfEvent): void {
    if (this.#leaving || this.#closePromise !== undefined) return;
    try {
      switch (event.type) {
        case 'member-join':
          for (const member of event.members) {
            this.#append(`alive: ${member.name} ${formatAddress(member)}\n`);
          }
          this.#updateClock();
          // Membership changes are rare and are what a restart needs to rejoin, so they go to the
          // file at once instead of waiting for the periodic flush (a crash right after a join
          // would otherwise lose the peer list).
          void this.#scheduleFlush(false);
          break;
        case 'member-leave':
        case 'member-failed':
          for (const member of event.members) this.#append(`not-alive: ${member.name}\n`);
          this.#updateClock();
          void this.#scheduleFlush(false);
          break;
        case 'member-update':
        case 'member-reap':
          this.#updateClock();
          break;
        case 'user':
          if (event.ltime > this.#lastEventClock) {
            this.#lastEventClock = event.ltime;
            this.#append(`event-clock: ${event.ltime}\n`);
          }
          break;
        case 'query':
          if (event.ltime > this.#lastQueryClock) {
            this.#lastQueryClock = event.ltime;
            this.#append(`query-clock: ${event.ltime}\n`);
          }
          break;
      }
    } catch (err) {
      this.#logger.error({ error: errorMessage(err) }, 'Failed to record event in snapshot');
    }
  }

  /**
   * Writes the `leave` line, then flushes and fsyncs the file. Unless `rejoinAfterLeave` is set,
   * the alive nodes are cleared. Events recorded afterwards are ignored. The member clock is
   * still recorded every 500 ms until `close()`, as Serf 0.9.4 does.
   */
  leave(): Promise<void> {
    if (this.#leavePromise !== undefined) return this.#leavePromise;
    if (this.#closePromise !== undefined) return Promise.resolve();
    this.#leaving = true;
    this.#append('leave\n');
    this.#leavePromise = this.#scheduleFlush(true);
    return this.#leavePromise;
  }

  /**
   * Records the member clock, stops the timers, flushes and fsyncs what is buffered and closes the
   * file. Safe to call more than once: every call returns the same promise. Errors are logged.
   * Serf 0.9.4 spends at most 250 ms on events still queued for its writer. `record()` writes into
   * the buffer at once, so nothing is queued here, and close waits for the whole buffer to be written.
   */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#updateClock();
    for (const timer of this.#timers) timer.cancel();
    this.#closePromise = (async () => {
      await this.#scheduleFlush(true);
      await this.#enqueue(async () => {
        const fh = this.#fh;
        this.#fh = undefined;
        await fh?.close();
      }, 'close snapshot');
    })();
    return this.#closePromise;
  }

  /** Resolves once every file operation requested so far (flush, fsync, compaction) has finished. */
  settled(): Promise<void> {
    return this.#io;
  }

  /** Writes a `clock:` line when the member clock − 1 exceeds the last written value. */
  #updateClock(): void {
    let lastSeen: number;
    try {
      lastSeen = this.#memberClock() - 1;
    } catch (err) {
      this.#logger.error({ error: errorMessage(err) }, 'Failed to read the member clock for the snapshot');
      return;
    }
    if (lastSeen > this.#lastClock) {
      this.#lastClock = lastSeen;
      this.#append(`clock: ${lastSeen}\n`);
    }
  }

  #append(line: string): void {
    const warning = applyLine(this.#fileState, line.slice(0, -1), this.#rejoinAfterLeave);
    if (warning !== undefined) this.#logger.warn(warning);
    this.#buffer += line;
    this.#offset += Buffer.byteLength(line);
    if (this.#offset > this.#compactionThreshold()) this.#scheduleCompaction();
  }

  #compactionThreshold(): number {
    const estimate = this.#fileState.aliveNodes.size * BYTES_PER_NODE * COMPACTION_FACTOR;
    return Math.max(estimate, this.#minCompactSize);
  }

  /** Runs `task` after every file operation queued before it. The promise never rejects. */
  #enqueue(task: () => Promise<void>, what: string): Promise<void> {
    const run = this.#io.then(task).catch((err: unknown) => {
      this.#logger.error({ error: errorMessage(err), path: this.#path }, `Failed to ${what}`);
    });
    this.#io = run;
    return run;
  }

  /** Queues a write of the buffer (taken when the write starts), followed by an fsync when `sync`. */
  #scheduleFlush(sync: boolean): Promise<void> {
    if (!sync && this.#buffer === '') return this.#io;
    return this.#enqueue(async () => {
      if (this.#fh === undefined && this.#closePromise === undefined) {
        // A failed compaction could not reopen the file: try again now.
        this.#fh = await open(this.#path, 'a', 0o644);
      }
      const fh = this.#fh;
      if (fh === undefined) return;
      const data = this.#buffer;
      this.#buffer = '';
      if (data !== '') {
        try {
          await fh.appendFile(data, 'utf8');
        } catch (err) {
          this.#recoverFromWriteError(err);
          return;
        }
      }
      if (sync) await fh.sync();
    }, 'flush snapshot');
  }

  /**
   * Logs a failed append and, at most every 30 s, queues a compaction: it rewrites the file from
   * the recorded state, so the lost lines are recovered.
   */
  #recoverFromWriteError(err: unknown): void {
    this.#logger.error({ error: errorMessage(err), path: this.#path }, 'Failed to update snapshot');
    const now = this.#clock.now();
    if (now - this.#lastRecoveryAttempt <= ERROR_RECOVERY_INTERVAL_MS) return;
    this.#lastRecoveryAttempt = now;
    this.#logger.info('Attempting compaction to recover from error...');
    this.#scheduleCompaction();
  }

  #scheduleCompaction(): void {
    if (this.#compactionQueued) return;
    this.#compactionQueued = true;
    void this.#enqueue(async () => {
      this.#compactionQueued = false;
      await this.#compact();
    }, 'compact snapshot');
  }

  /**
   * Writes the current state to `<path>.compact`, fsyncs it and renames it over the snapshot, then
   * reopens the snapshot for appending. Lines buffered before this point are covered by the state,
   * so the buffer is dropped. Lines recorded while it runs are flushed afterwards. On failure the
   * old file stays in place and the dropped lines go back into the buffer.
   */
  async #compact(): Promise<void> {
    if (this.#fh === undefined) return;
    const text = renderState(this.#fileState);
    const textBytes = Buffer.byteLength(text);
    const pending = this.#buffer;
    const previousOffset = this.#offset;
    this.#buffer = '';
    this.#offset = textBytes;

    const compactPath = this.#path + COMPACT_SUFFIX;
    let replaced = false;
    try {
      const out = await open(compactPath, 'w', 0o644);
      try {
        await out.writeFile(text, 'utf8');
        await out.sync();
      } finally {
        await out.close();
      }
      const old = this.#fh;
      this.#fh = undefined;
      await old.close();
      await rename(compactPath, this.#path);
      replaced = true;
    } finally {
      if (!replaced) {
        this.#buffer = pending + this.#buffer;
        this.#offset = previousOffset + (this.#offset - textBytes);
        await rm(compactPath, { force: true }).catch(() => {});
      }
      if (this.#fh === undefined) this.#fh = await open(this.#path, 'a', 0o644);
    }
    this.#logger.info({ path: this.#path, bytes: textBytes }, 'Compacted snapshot');
  }
}
