/**
 * The agent's log sink. Every line goes to a ring of the most recent lines (replayed to new
 * `monitor` subscribers), to each subscriber filtered by its own level, and to the console
 * filtered by the agent's `-log-level`, as in Go Serf 0.9.4.
 *
 * Lines are in Go Serf's format, `2026/12/04 19:18:49 [INFO] agent: message`. A line is filtered
 * by its first `[...]` token; a line without one or with an unknown token (memberlist's `[ERROR]`)
 * always passes.
 */

import { InvalidArgumentError } from '../util/errors.js';
import { createLogger, formatLogLine, type Logger } from '../util/logger.js';
import { SyslogWriter } from './syslog.js';

/** Levels from most to least verbose, in Go Serf's spelling. */
export const LOG_WRITER_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERR'] as const;
export type LogWriterLevel = (typeof LOG_WRITER_LEVELS)[number];

/** Lines kept for replay to new subscribers, and the default per-subscriber queue size. */
export const LOG_RING_SIZE = 512;

/** Text that replaces each secret in a line. */
export const REDACTED = '[redacted]';

/**
 * Parses a level name: Go Serf's names in any case, plus `error` for `ERR`.
 * Throws InvalidArgumentError with Go Serf's text for anything else.
 */
export function parseLogLevel(level: string): LogWriterLevel {
  const upper = level.toUpperCase();
  if (upper === 'ERROR') return 'ERR';
  if ((LOG_WRITER_LEVELS as readonly string[]).includes(upper)) return upper as LogWriterLevel;
  throw new InvalidArgumentError(
    `Invalid log level: ${level}. Valid log levels are: [${LOG_WRITER_LEVELS.join(' ')}]`,
  );
}

/** Returns the level token of a line (the text inside its first `[...]`), or undefined. */
function levelToken(line: string): string | undefined {
  const open = line.indexOf('[');
  if (open === -1) return undefined;
  const close = line.indexOf(']', open);
  if (close === -1) return undefined;
  return line.slice(open + 1, close);
}

/** Returns true when `line` passes a filter at `minimum` (unknown or missing tokens pass). */
export function linePassesLevel(line: string, minimum: LogWriterLevel): boolean {
  const token = levelToken(line);
  const index = LOG_WRITER_LEVELS.indexOf(token as LogWriterLevel);
  return index === -1 || index >= LOG_WRITER_LEVELS.indexOf(minimum);
}

export interface LogWriterOptions {
  /** Console level. @default "INFO" */
  level?: string;
  /** Receives each console line, already prefixed with four spaces; null disables the console. @default stdout */
  console?: ((line: string) => void) | null;
  /** Hold console lines until `releaseConsole()`, as the agent does until its banner is printed. */
  holdConsole?: boolean;
  /** Lines kept for replay. @default 512 */
  ringSize?: number;
  /** `-syslog`: also forward every line to syslog with this facility (and optional helper command). */
  syslog?: { facility: string; command?: string[] };
}

export interface SubscribeOptions {
  /** Lines waiting for this subscriber beyond this many are dropped. @default 512 */
  queueSize?: number;
  /** Called with the running total each time a line is dropped for this subscriber. */
  onDrop?: (droppedTotal: number) => void;
}

/** Receives one line (no trailing newline, no console prefix); a returned promise is awaited before the next. */
export type LogListener = (line: string) => void | Promise<void>;

class Subscriber {
  private readonly queue: string[] = [];
  private delivering = false;
  private closed = false;
  dropped = 0;

  constructor(
    readonly level: LogWriterLevel,
    private readonly listener: LogListener,
    private readonly queueSize: number,
    private readonly onDrop: ((droppedTotal: number) => void) | undefined,
  ) {}

  push(line: string): void {
    if (this.closed || !linePassesLevel(line, this.level)) return;
    if (this.queue.length >= this.queueSize) {
      this.dropped++;
      this.onDrop?.(this.dropped);
      return;
    }
    this.queue.push(line);
    if (!this.delivering) {
      this.delivering = true;
      // Delivery starts on a later tick, so a slow listener never runs inside the logging call.
      setImmediate(() => void this.deliver());
    }
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async deliver(): Promise<void> {
    try {
      for (let line = this.queue.shift(); line !== undefined && !this.closed; line = this.queue.shift()) {
        try {
          await this.listener(line);
        } catch {
          // A failing listener (a closed monitor connection) must not break logging; its owner unsubscribes.
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

/** Fans agent log lines out to the console, a replay ring and `monitor` subscribers. */
export class LogWriter {
  private minimum: LogWriterLevel;
  private readonly ring: string[] = [];
  private readonly ringSize: number;
  private readonly subscribers = new Set<Subscriber>();
  private readonly secrets = new Set<string>();
  private readonly console: ((line: string) => void) | null;
  private heldConsoleLines: string[] | undefined;
  private readonly syslog: SyslogWriter | undefined;

  constructor(options: LogWriterOptions = {}) {
    this.minimum = parseLogLevel(options.level ?? 'INFO');
    this.ringSize = options.ringSize ?? LOG_RING_SIZE;
    this.console =
      options.console === undefined ? (line) => process.stdout.write(`${line}\n`) : options.console;
    this.heldConsoleLines = options.holdConsole ? [] : undefined;
    if (options.syslog) {
      this.syslog = new SyslogWriter({
        facility: options.syslog.facility,
        ...(options.syslog.command ? { command: options.syslog.command } : {}),
        onError: (message) =>
          this.logger().child({ component: 'agent' }).warn(`${message}; syslog output stopped`),
      });
    }
  }

  /** Console level. */
  get level(): LogWriterLevel {
    return this.minimum;
  }

  /** Changes the console level (SIGHUP reload). Throws InvalidArgumentError and keeps the old level on a bad name. */
  setLevel(level: string): void {
    this.minimum = parseLogLevel(level);
  }

  /** Masks every occurrence of these strings in all later lines. Empty strings are ignored. */
  redact(...secrets: string[]): void {
    for (const secret of secrets) {
      if (secret !== '') this.secrets.add(secret);
    }
  }

  /**
   * Writes one log entry; one trailing newline is removed. An entry with embedded newlines (script
   * output) stays one entry, filtered by its first line's level as in Go Serf.
   */
  write(text: string): void {
    const line = this.mask(text.endsWith('\n') ? text.slice(0, -1) : text);
    this.ring.push(line);
    if (this.ring.length > this.ringSize) this.ring.shift();
    for (const subscriber of this.subscribers) subscriber.push(line);
    if (this.console !== null && linePassesLevel(line, this.minimum)) {
      if (this.heldConsoleLines !== undefined) this.heldConsoleLines.push(line);
      else this.console(`    ${line}`);
    }
    if (this.syslog && linePassesLevel(line, this.minimum)) this.syslog.write(line);
  }

  /** Stops the syslog helper, if any. */
  closeSyslog(): void {
    this.syslog?.close();
  }

  /** Prints the console lines held so far and stops holding (after the start-up banner). */
  releaseConsole(): void {
    const lines = this.heldConsoleLines ?? [];
    this.heldConsoleLines = undefined;
    for (const line of lines) {
      if (linePassesLevel(line, this.minimum)) this.console?.(`    ${line}`);
    }
  }

  /** Returns the lines in the replay ring, oldest first. */
  history(): string[] {
    return [...this.ring];
  }

  /**
   * Adds a subscriber that first receives the replay ring and then live lines, each filtered by
   * `level`. Lines are delivered asynchronously through a bounded queue that drops on overflow.
   * Returns a function that removes the subscriber.
   */
  subscribe(level: string, listener: LogListener, options: SubscribeOptions = {}): () => void {
    const subscriber = new Subscriber(
      parseLogLevel(level),
      listener,
      options.queueSize ?? LOG_RING_SIZE,
      options.onDrop,
    );
    for (const line of this.ring) subscriber.push(line);
    this.subscribers.add(subscriber);
    return () => {
      subscriber.close();
      this.subscribers.delete(subscriber);
    };
  }

  /** Returns a Logger whose records, at every level, are formatted and written here. */
  logger(): Logger {
    return createLogger((record) => this.write(formatLogLine(record)), 'trace');
  }

  private mask(line: string): string {
    let masked = line;
    for (const secret of this.secrets) masked = masked.replaceAll(secret, REDACTED);
    return masked;
  }
}
