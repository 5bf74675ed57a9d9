/**
 * Logger contract used by every layer, in the shape of pino's (`info(msg)` or `info(fields, msg)`,
 * plus `child(bindings)`). Libraries are silent unless the embedder passes a logger.
 *
 * `LineLogger` writes the reference agent's format, `2026/12/04 19:28:20 [INFO] serf: message`,
 * so operators and `serf monitor` users see the lines they know from Go Serf.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** Levels from most to least verbose; Go Serf calls `error` "ERR" and `warn` "WARN". */
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

export type LogFields = Record<string, unknown>;

export interface LogFn {
  (msg: string): void;
  (fields: LogFields, msg: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** Returns a logger that adds `bindings` to every record. `component` becomes the line prefix. */
  child(bindings: LogFields): Logger;
}

/** One log record after the call site's arguments are normalised. */
export interface LogRecord {
  level: LogLevel;
  time: Date;
  component: string | undefined;
  msg: string;
  fields: LogFields;
}

export type LogSink = (record: LogRecord) => void;

const noop = () => {};

export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

/** Builds a logger that hands every record at or above `minLevel` to `sink`. */
export function createLogger(sink: LogSink, minLevel: LogLevel = 'info', bindings: LogFields = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(minLevel);
  const make =
    (level: LogLevel): LogFn =>
    (a: string | LogFields, b?: string) => {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      const fields = typeof a === 'string' ? {} : a;
      const msg = typeof a === 'string' ? a : (b ?? '');
      const { component, ...rest } = { ...bindings, ...fields };
      sink({
        level,
        time: new Date(),
        component: typeof component === 'string' ? component : undefined,
        msg,
        fields: rest,
      });
    };
  return {
    trace: make('trace'),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (more) => createLogger(sink, minLevel, { ...bindings, ...more }),
  };
}

const LEVEL_TAGS: Record<LogLevel, string> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERR',
};

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Formats a record as one line like Go's `log` package with Serf's level tags (no indent, no newline). */
export function formatLogLine(record: LogRecord): string {
  const t = record.time;
  const stamp = `${t.getFullYear()}/${pad(t.getMonth() + 1)}/${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  const prefix = record.component ? `${record.component}: ` : '';
  const extra = Object.entries(record.fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${formatValue(v)}`)
    .join('');
  return `${stamp} [${LEVEL_TAGS[record.level]}] ${prefix}${escapeControl(record.msg)}${escapeControl(extra)}`;
}

/**
 * Escapes control characters (tabs excepted) so text from peers, such as a node name holding a
 * newline, cannot forge a log line of its own.
 */
function escapeControl(text: string): string {
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return String(v);
}

/** Creates a logger writing reference-format lines to a stream (stderr by default). */
export function createLineLogger(
  minLevel: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  return createLogger((record) => write(formatLogLine(record)), minLevel);
}
