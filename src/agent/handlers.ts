/**
 * Event handler scripts of `serf agent -event-handler`: parsing of the `[filters=]command`
 * specifications and a runner that executes matching commands with `/bin/sh -c`, passing the
 * event in SERF_* environment variables and on standard input exactly as Go Serf 0.9.4 does.
 *
 * Go Serf runs handlers one at a time inside its event loop, so a slow script delays every later
 * event and, once its 64-event channel fills, the Serf node itself. This runner keeps the
 * one-at-a-time order but queues events, so `handle()` returns at once.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { isMemberEvent, type Member, type SerfEvent } from '../serf/events.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/** Event types a filter may name; `*` matches every event. */
export const HANDLER_EVENT_TYPES = [
  'member-join',
  'member-leave',
  'member-failed',
  'member-update',
  'member-reap',
  'user',
  'query',
  '*',
] as const;

/** One filter of a handler specification with the command it runs. */
export interface EventHandlerSpec {
  /** Event type from HANDLER_EVENT_TYPES, or the unknown text of an invalid filter. */
  event: string;
  /** User event or query name for `user:NAME` / `query:NAME`; empty matches every name. */
  name: string;
  /** Shell command, run as `/bin/sh -c <command>`. */
  command: string;
  /** False when `event` is not a known type; such a filter never matches. */
  valid: boolean;
  /** Go Serf's description, e.g. `Event 'user:deploy' invoking 'deploy.sh'`, used in messages. */
  description: string;
}

/**
 * Parses `command`, `type=command`, `type1,type2=command`, `user:NAME=command` or
 * `query:NAME=command` into one spec per filter. Everything after the first `=` is the command;
 * an empty filter means `*`. Invalid filters are returned with `valid: false`, because the agent
 * rejects them at start (`validateAgentConfig`) while the runner only skips them.
 */
export function parseEventHandlerSpec(spec: string): EventHandlerSpec[] {
  const eq = spec.indexOf('=');
  const filterText = eq === -1 ? '' : spec.slice(0, eq);
  const command = eq === -1 ? spec : spec.slice(eq + 1);

  return (filterText === '' ? '*' : filterText).split(',').map((filter) => {
    let event = filter;
    let name = '';
    if (filter.startsWith('user:')) {
      event = 'user';
      name = filter.slice('user:'.length);
    } else if (filter.startsWith('query:')) {
      event = 'query';
      name = filter.slice('query:'.length);
    }
    const label = name === '' ? event : `${event}:${name}`;
    return {
      event,
      name,
      command,
      valid: (HANDLER_EVENT_TYPES as readonly string[]).includes(event),
      description: `Event '${label}' invoking '${command}'`,
    };
  });
}

/** Returns true when the handler's filter selects `event`. */
export function handlerMatches(spec: EventHandlerSpec, event: SerfEvent): boolean {
  if (!spec.valid) return false;
  if (spec.event === '*') return true;
  if (spec.event !== event.type) return false;
  if (spec.name === '') return true;
  return (event.type === 'user' || event.type === 'query') && event.name === spec.name;
}

/** Name of the SERF_TAG_ variable for a tag: upper-cased, characters outside A-Z0-9_ become `_`. */
export function tagEnvName(tag: string): string {
  return `SERF_TAG_${tag.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/** Builds the SERF_* variables a handler receives for `event` on the node `selfName`. */
export function handlerEnvironment(
  event: SerfEvent,
  selfName: string,
  selfTags: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {
    SERF_EVENT: event.type,
    SERF_SELF_NAME: selfName,
    SERF_SELF_ROLE: selfTags.role ?? '',
  };
  for (const [tag, value] of Object.entries(selfTags)) {
    env[tagEnvName(tag)] = value;
  }
  if (event.type === 'user') {
    env.SERF_USER_EVENT = event.name;
    env.SERF_USER_LTIME = String(event.ltime);
  } else if (event.type === 'query') {
    env.SERF_QUERY_NAME = event.name;
    env.SERF_QUERY_LTIME = String(event.ltime);
  }
  return env;
}

/** Replaces tabs and newlines by the two-character sequences `\t` and `\n`. */
function escapeField(value: string): string {
  return value.replaceAll('\t', '\\t').replaceAll('\n', '\\n');
}

/** Formats one stdin line of a member event: `name\taddr\trole\tk=v,k=v\n`. */
export function memberStdinLine(member: Member): string {
  const tags = Object.entries(member.tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  return `${escapeField(member.name)}\t${member.addr}\t${escapeField(member.tags.role ?? '')}\t${escapeField(tags)}\n`;
}

/** Returns the bytes a handler reads on stdin for `event`. */
export function handlerStdin(event: SerfEvent): Uint8Array {
  if (isMemberEvent(event)) {
    return new TextEncoder().encode(event.members.map(memberStdinLine).join(''));
  }
  const payload = event.payload;
  // Shell `read` needs a final newline, so one is added to a non-empty payload without one.
  if (payload.length > 0 && payload[payload.length - 1] !== 0x0a) {
    const withNewline = new Uint8Array(payload.length + 1);
    withNewline.set(payload);
    withNewline[payload.length] = 0x0a;
    return withNewline;
  }
  return payload;
}

/** Formats the slow-script threshold as Go prints a duration (`1s`, `1.5s`, `250ms`). */
function formatThreshold(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Go Serf's String() of an event, used in query response failures (`query: NAME`). */
function eventLabel(event: SerfEvent): string {
  if (event.type === 'query') return `query: ${event.name}`;
  if (event.type === 'user') return `user-event: ${event.name}`;
  return event.type;
}

/** Keeps the last `limit` bytes written to it and counts all bytes. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private keptBytes = 0;
  total = 0;

  constructor(private readonly limit: number) {}

  write(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.keptBytes += chunk.length;
    while (this.keptBytes > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const excess = this.keptBytes - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.keptBytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.keptBytes -= excess;
      }
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface EventHandlerRunnerOptions {
  specs: EventHandlerSpec[];
  /** Current node name, read for every event. */
  selfName: () => string;
  /** Current node tags, read for every event. */
  selfTags: () => Record<string, string>;
  /** Logger for the handler lines; pass one with `component: 'agent'` for Go Serf's line format. */
  logger: Logger;
  /** @default "/bin/sh" */
  shell?: string;
  /** Responses longer than this are not sent (the Serf limit also counts message overhead). */
  queryResponseSizeLimit?: number;
  /** Bytes of combined stdout and stderr kept per run (the last ones). @default 8192 */
  outputLimit?: number;
  /** A run taking longer than this logs a warning; the script is not stopped. @default 1000 */
  slowThresholdMs?: number;
  /** Events waiting beyond this many are dropped with a warning. @default 1024 */
  maxQueuedEvents?: number;
  /** Time `stop()` waits for a running script before killing it with SIGKILL. @default 5000 */
  stopGraceMs?: number;
}

/**
 * Runs the matching handler commands for each event, one command at a time in event order.
 * `handle()` only queues, so a slow script delays later handlers but never the caller.
 */
export class EventHandlerRunner {
  private specs: EventHandlerSpec[] = [];
  private readonly queue: SerfEvent[] = [];
  private draining: Promise<void> | undefined;
  private running: ChildProcess | undefined;
  private stopped = false;
  private droppedEvents = 0;
  private readonly shell: string;
  private readonly outputLimit: number;
  private readonly slowThresholdMs: number;
  private readonly maxQueuedEvents: number;
  private readonly stopGraceMs: number;

  constructor(private readonly options: EventHandlerRunnerOptions) {
    this.shell = options.shell ?? '/bin/sh';
    this.outputLimit = options.outputLimit ?? 8 * 1024;
    this.slowThresholdMs = options.slowThresholdMs ?? 1000;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 1024;
    this.stopGraceMs = options.stopGraceMs ?? 5000;
    this.updateSpecs(options.specs);
  }

  /** Replaces the handlers (SIGHUP reload); events not yet started use the new list. */
  updateSpecs(specs: EventHandlerSpec[]): void {
    for (const spec of specs) {
      if (!spec.valid) this.options.logger.warn(`Ignoring invalid event handler: ${spec.description}`);
    }
    this.specs = specs.filter((spec) => spec.valid);
  }

  /** Queues `event` for its matching handlers and returns at once. Never throws. */
  handle(event: SerfEvent): void {
    try {
      if (this.stopped) return;
      if (this.queue.length >= this.maxQueuedEvents) {
        this.droppedEvents++;
        // Log the first drop and then every 100th, so a stuck script cannot flood the log.
        if (this.droppedEvents % 100 === 1) {
          this.options.logger.warn(
            `Event handler queue full (${this.maxQueuedEvents} events), dropped ${this.droppedEvents} event(s) so far: ${eventLabel(event)}`,
          );
        }
        return;
      }
      this.queue.push(event);
      if (this.draining === undefined) {
        this.draining = this.drain().finally(() => {
          this.draining = undefined;
        });
      }
    } catch (err) {
      this.options.logger.error(`Failed to queue event for handlers: ${errorMessage(err)}`);
    }
  }

  /** Resolves once every queued event has been handled (for tests). */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  /**
   * Drops queued events, waits up to `stopGraceMs` for a running script and then kills it.
   * Later `handle()` calls are ignored.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    const draining = this.draining;
    if (draining === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.stopGraceMs);
    });
    const outcome = await Promise.race([draining.then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'timeout' && this.running?.pid !== undefined) {
      this.options.logger.warn(
        `Killing event handler still running after ${this.stopGraceMs} ms at shutdown`,
      );
      const pid = this.running.pid;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        this.running.kill('SIGKILL');
      }
      await draining;
    }
  }

  private async drain(): Promise<void> {
    for (let event = this.queue.shift(); event !== undefined; event = this.queue.shift()) {
      const specs = this.specs;
      for (const spec of specs) {
        if (this.stopped) return;
        if (!handlerMatches(spec, event)) continue;
        try {
          await this.invoke(spec.command, event);
        } catch (err) {
          this.options.logger.error(`Error invoking script '${spec.command}': ${errorMessage(err)}`);
        }
      }
    }
  }

  /** Runs one command for one event and, for a query, sends its output as the response. */
  private async invoke(command: string, event: SerfEvent): Promise<void> {
    const { logger } = this.options;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...handlerEnvironment(event, this.options.selfName(), this.options.selfTags()),
    };
    // A gossip key given through the environment stays with the agent: scripts never need it.
    delete env.SERF_ENCRYPT_KEY;
    const output = new TailBuffer(this.outputLimit);

    const slowTimer = setTimeout(() => {
      logger.warn(`Script '${command}' slow, execution exceeding ${formatThreshold(this.slowThresholdMs)}`);
    }, this.slowThresholdMs);

    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      result = await new Promise((resolve, reject) => {
        // Each script gets its own process group, so stopping it also stops whatever it started
        // (a forgotten background job would otherwise hold the output pipes open).
        const child = spawn(this.shell, ['-c', command], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        });
        this.running = child;
        child.stdout.on('data', (chunk: Buffer) => output.write(chunk));
        child.stderr.on('data', (chunk: Buffer) => output.write(chunk));
        // A script that exits without reading stdin makes the write fail with EPIPE, which is fine.
        child.stdin.on('error', () => {});
        child.once('error', reject);
        child.once('close', (code, signal) => resolve({ code, signal }));
        child.stdin.end(handlerStdin(event));
      });
    } finally {
      clearTimeout(slowTimer);
      this.running = undefined;
    }

    if (output.total > this.outputLimit) {
      logger.warn(
        `Script '${command}' generated ${output.total} bytes of output, truncated to ${this.outputLimit}`,
      );
    }
    const bytes = output.bytes();
    logger.debug(`Event '${event.type}' script output: ${bytes.toString('utf8')}`);

    if (result.code !== 0) {
      const reason = result.signal !== null ? `signal: ${result.signal}` : `exit status ${result.code}`;
      logger.error(`Error invoking script '${command}': ${reason}`);
      return;
    }
    if (event.type === 'query' && output.total > 0) {
      await this.respond(event, bytes);
    }
  }

  private async respond(event: Extract<SerfEvent, { type: 'query' }>, response: Uint8Array): Promise<void> {
    const limit = this.options.queryResponseSizeLimit;
    try {
      if (limit !== undefined && response.length > limit) {
        throw new Error(`response exceeds limit of ${limit} bytes`);
      }
      await event.respond(response);
    } catch (err) {
      this.options.logger.warn(`Failed to respond to query '${eventLabel(event)}': ${errorMessage(err)}`);
    }
  }
}
