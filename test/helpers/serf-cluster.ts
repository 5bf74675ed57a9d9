/**
 * Serf nodes on the in-memory network with a manual clock: deterministic tests of clocks,
 * intents, events, queries, coalescing and reaping in simulated time.
 */

import type { Keyring } from '../../src/security/keyring.js';
import type { SerfOptions } from '../../src/serf/config.js';
import type { SerfEvent } from '../../src/serf/events.js';
import { Serf } from '../../src/serf/serf.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger, formatLogLine } from '../../src/util/logger.js';
import { SeededRng } from '../../src/util/rng.js';
import { hostFor } from './memory-cluster.js';

export interface SerfCluster {
  clock: ManualClock;
  network: MemoryNetwork;
  nodes: Serf[];
  /** Every event each node delivered, by node index. */
  events: SerfEvent[][];
  /** Starts one more node (not joined); `memberlist.bindAddr` picks its host (to restart a node in place). */
  add(options?: Partial<SerfOptions>, keyring?: Keyring): Promise<Serf>;
  /** Runs `promise` to completion while advancing the clock in small steps. */
  settle<T>(promise: Promise<T>, limitMs?: number): Promise<T>;
  /** Advances the clock until `cond` holds; throws past `limitMs` of simulated time. */
  until(cond: () => boolean, limitMs?: number, stepMs?: number): Promise<number>;
  shutdown(): Promise<void>;
}

export async function createSerfCluster(
  size: number,
  options: {
    seed?: number;
    serf?: Partial<SerfOptions>;
    keyring?: (i: number) => Keyring | undefined;
    join?: boolean;
    /** Receives every log line of node i (reference format). */
    log?: (i: number, line: string) => void;
  } = {},
): Promise<SerfCluster> {
  const clock = new ManualClock(1_000_000);
  const seed = options.seed ?? 1;
  const network = new MemoryNetwork({ clock, rng: new SeededRng(seed), latencyMs: 1, jitterMs: 1 });
  const nodes: Serf[] = [];
  const events: SerfEvent[][] = [];

  const settle = async <T>(promise: Promise<T>, limitMs = 60_000): Promise<T> => {
    let done = false;
    promise.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    const start = clock.now();
    while (!done) {
      if (clock.now() - start > limitMs)
        throw new Error(`operation did not finish within ${limitMs} ms of simulated time`);
      await clock.advance(10);
    }
    return promise;
  };

  const until = async (cond: () => boolean, limitMs = 60_000, stepMs = 50): Promise<number> => {
    const start = clock.now();
    while (!cond()) {
      if (clock.now() - start > limitMs)
        throw new Error(`condition not reached within ${limitMs} ms of simulated time`);
      await clock.advance(stepMs);
    }
    return clock.now() - start;
  };

  const add = async (extra: Partial<SerfOptions> = {}, keyring?: Keyring): Promise<Serf> => {
    const i = nodes.length;
    const host = extra.memberlist?.bindAddr ?? hostFor(i);
    const log: SerfEvent[] = [];
    events.push(log);
    const serf = await Serf.create(
      {
        profile: 'lan',
        ...options.serf,
        ...extra,
        nodeName: extra.nodeName ?? `node-${i}`,
        memberlist: { bindAddr: host, bindPort: 7946, ...options.serf?.memberlist, ...extra.memberlist },
      },
      {
        transport: network.createTransport(host, 7946),
        clock,
        rng: new SeededRng(seed * 1000 + i),
        onEvent: (e) => log.push(e),
        ...(options.log ? { logger: createLogger((r) => options.log?.(i, formatLogLine(r)), 'debug') } : {}),
        ...(keyring ? { keyring } : options.keyring?.(i) ? { keyring: options.keyring(i)! } : {}),
      },
    );
    nodes.push(serf);
    return serf;
  };

  for (let i = 0; i < size; i++) await add();
  if (options.join !== false) {
    for (let i = 1; i < size; i++) await settle(nodes[i]!.join([`${hostFor(0)}:7946`]));
  }

  return {
    clock,
    network,
    nodes,
    events,
    add,
    settle,
    until,
    shutdown: async () => {
      await Promise.all(nodes.map((n) => n.shutdown()));
    },
  };
}
