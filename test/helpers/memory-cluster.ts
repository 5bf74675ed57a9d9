/**
 * Builds memberlist clusters on the in-memory network with a manual clock, for deterministic
 * protocol tests that simulate minutes of cluster time in seconds.
 */

import { type MemberlistOptions, type ProfileName, profileDefaults } from '../../src/memberlist/config.js';
import type { EventDelegate } from '../../src/memberlist/delegate.js';
import { Memberlist } from '../../src/memberlist/memberlist.js';
import type { NodeInfo } from '../../src/memberlist/node.js';
import type { Keyring } from '../../src/security/keyring.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger, formatLogLine } from '../../src/util/logger.js';
import { SeededRng } from '../../src/util/rng.js';

export interface RecordedEvent {
  at: number;
  observer: string;
  kind: 'join' | 'leave' | 'update';
  node: string;
  state: NodeInfo['state'];
}

export interface MemoryCluster {
  clock: ManualClock;
  network: MemoryNetwork;
  nodes: Memberlist[];
  events: RecordedEvent[];
  /** The join error of each node (undefined when its join succeeded; node 0 never joins). */
  joinErrors: unknown[];
  hostOf(i: number): string;
  shutdown(): Promise<void>;
}

export interface MemoryClusterOptions {
  size: number;
  seed?: number;
  profile?: ProfileName;
  lossRate?: number;
  latencyMs?: number;
  overrides?: Partial<MemberlistOptions>;
  keyring?: (i: number) => Keyring | undefined;
  /** Receives every log line of node i (reference format). */
  log?: (i: number, line: string) => void;
}

/** Loopback-range names keep the in-memory hosts recognisable as local even in logs. */
export function hostFor(i: number): string {
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** Starts `size` nodes, each joined to node 0, without advancing time. */
export async function createMemoryCluster(opts: MemoryClusterOptions): Promise<MemoryCluster> {
  const clock = new ManualClock(1_000_000);
  const rng = new SeededRng(opts.seed ?? 1);
  const network = new MemoryNetwork({
    clock,
    rng,
    latencyMs: opts.latencyMs ?? 1,
    jitterMs: 1,
    lossRate: 0,
  });
  const events: RecordedEvent[] = [];
  const nodes: Memberlist[] = [];
  const joinErrors: unknown[] = [undefined];

  for (let i = 0; i < opts.size; i++) {
    const name = `node-${i}`;
    const host = hostFor(i);
    const record =
      (kind: RecordedEvent['kind']) =>
      (n: NodeInfo): void => {
        events.push({ at: clock.now(), observer: name, kind, node: n.name, state: n.state });
      };
    const delegateEvents: EventDelegate = {
      notifyJoin: record('join'),
      notifyLeave: record('leave'),
      notifyUpdate: record('update'),
    };
    const m = await Memberlist.create(
      {
        ...profileDefaults(opts.profile ?? 'lan', name),
        bindAddr: host,
        bindPort: 7946,
        ...opts.overrides,
        name,
      },
      {
        transport: network.createTransport(host, 7946),
        clock,
        rng: new SeededRng((opts.seed ?? 1) * 1000 + i),
        keyring: opts.keyring?.(i),
        delegates: { events: delegateEvents },
        ...(opts.log ? { logger: createLogger((r) => opts.log?.(i, formatLogLine(r)), 'debug') } : {}),
      },
    );
    nodes.push(m);
  }

  // Joins run with the clock advancing in small steps so their streams can complete.
  for (let i = 1; i < nodes.length; i++) {
    const joined = nodes[i]!.join([`${hostFor(0)}:7946`]);
    let done = false;
    joined.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    while (!done) await clock.advance(5);
    joinErrors[i] = await joined.then(
      () => undefined,
      (err: unknown) => err,
    );
  }
  network.setLossRate(opts.lossRate ?? 0);

  return {
    clock,
    network,
    nodes,
    events,
    joinErrors,
    hostOf: hostFor,
    shutdown: async () => {
      await Promise.all(nodes.map((n) => n.shutdown()));
    },
  };
}

/** Advances the clock in steps until `cond` holds; returns the simulated ms it took, or throws. */
export async function advanceUntil(
  clock: ManualClock,
  cond: () => boolean,
  limitMs: number,
  stepMs = 100,
): Promise<number> {
  const start = clock.now();
  while (!cond()) {
    if (clock.now() - start > limitMs) {
      throw new Error(`condition not reached within ${limitMs} ms of simulated time`);
    }
    await clock.advance(stepMs);
  }
  return clock.now() - start;
}
