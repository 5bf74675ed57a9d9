/**
 * Telemetry for `statsd_addr` (UDP) and `statsite_addr` (TCP), in the statsd line format both
 * servers read: `name:value|c` for counters, `name:value|g` for gauges. Names follow the Go agent's
 * (`serf-agent.serf.member.join`, ...), so existing dashboards keep working.
 *
 * Sending is best effort: a failed send is logged once per minute and never affects the agent.
 */

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { splitHostPort } from './config.js';

/** Prefix the Go agent gives every metric (go-metrics service name). */
export const METRICS_PREFIX = 'serf-agent';

/** Lines are batched and flushed at this period, in ms, as go-metrics' sinks do. */
const FLUSH_INTERVAL_MS = 1_000;

/** A statsd UDP datagram stays below a typical MTU. */
const MAX_DATAGRAM = 1400;

const ERROR_LOG_INTERVAL_MS = 60_000;

export interface MetricsSinkOptions {
  statsdAddr: string;
  statsiteAddr: string;
  logger: Logger;
}

export class MetricsSink {
  readonly #logger: Logger;
  readonly #statsd: { host: string; port: number } | undefined;
  readonly #statsite: { host: string; port: number } | undefined;
  #udp: UdpSocket | undefined;
  #tcp: TcpSocket | undefined;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastErrorAt = 0;
  #closed = false;

  constructor(options: MetricsSinkOptions) {
    this.#logger = options.logger;
    this.#statsd = options.statsdAddr ? splitHostPort(options.statsdAddr, 8125) : undefined;
    this.#statsite = options.statsiteAddr ? splitHostPort(options.statsiteAddr, 8125) : undefined;
    if (this.enabled) {
      this.#timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  get enabled(): boolean {
    return this.#statsd !== undefined || this.#statsite !== undefined;
  }

  /** Adds `value` to counter `name` (dot-separated, without the prefix). */
  incr(name: string, value = 1): void {
    if (this.enabled) this.#pending.push(`${METRICS_PREFIX}.${name}:${value}|c`);
  }

  /** Sets gauge `name` to `value`. */
  gauge(name: string, value: number): void {
    if (this.enabled) this.#pending.push(`${METRICS_PREFIX}.${name}:${value}|g`);
  }

  /** Sends the batched lines now. */
  flush(): void {
    if (this.#closed || this.#pending.length === 0) return;
    const lines = this.#pending;
    this.#pending = [];
    if (this.#statsd) this.#sendUdp(this.#statsd, lines);
    if (this.#statsite) this.#sendTcp(this.#statsite, lines);
  }

  #sendUdp(to: { host: string; port: number }, lines: string[]): void {
    if (!this.#udp) {
      this.#udp = createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
      this.#udp.on('error', (err) => this.#reportError('statsd', err));
      this.#udp.unref();
    }
    let batch = '';
    const send = (text: string) => {
      this.#udp?.send(text, to.port, to.host, (err) => {
        if (err) this.#reportError('statsd', err);
      });
    };
    for (const line of lines) {
      if (batch.length + line.length + 1 > MAX_DATAGRAM && batch !== '') {
        send(batch);
        batch = '';
      }
      batch += `${line}\n`;
    }
    if (batch !== '') send(batch);
  }

  #sendTcp(to: { host: string; port: number }, lines: string[]): void {
    if (!this.#tcp || this.#tcp.destroyed) {
      const socket = connect({ host: to.host, port: to.port });
      socket.on('error', (err) => {
        this.#reportError('statsite', err);
        socket.destroy();
      });
      socket.unref();
      this.#tcp = socket;
    }
    this.#tcp.write(`${lines.join('\n')}\n`);
  }

  #reportError(sink: string, err: unknown): void {
    const now = Date.now();
    if (now - this.#lastErrorAt < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorAt = now;
    this.#logger.warn(`Failed to send metrics to ${sink}: ${errorMessage(err)}`);
  }

  /** Flushes and closes the sockets. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#tcp?.end();
    const udp = this.#udp;
    if (udp) setTimeout(() => udp.close(), 100).unref();
  }
}
