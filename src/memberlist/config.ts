/**
 * memberlist settings and the three reference profiles (LAN, WAN, Local) with memberlist 0.2.2's
 * values. Durations are in milliseconds.
 */

import { InvalidArgumentError } from '../util/errors.js';

export interface MemberlistOptions {
  /** Unique node name in the cluster. */
  name: string;
  /** Address to bind UDP and TCP to. @default '0.0.0.0' */
  bindAddr: string;
  /** Port for both UDP and TCP; 0 picks a free one. @default 7946 */
  bindPort: number;
  /** Address announced to peers; empty means derive it from the bind address. @default '' */
  advertiseAddr: string;
  /** Port announced to peers; 0 means the bound port. @default 0 */
  advertisePort: number;

  /** memberlist protocol spoken (pcur). Serf always runs 2. @default 2 */
  protocolVersion: number;
  /** Delegate (Serf) protocol range and version carried in the version vector. */
  delegateProtocolMin: number;
  delegateProtocolMax: number;
  delegateProtocolVersion: number;

  /** Stream dial and exchange deadline. LAN 10 s, WAN 30 s, Local 1 s. */
  tcpTimeoutMs: number;
  /** Helpers asked to ping a node that missed a direct probe. LAN 3, Local 1. */
  indirectChecks: number;
  /** Broadcast retransmit limit factor: limit = mult × ceil(log10(n + 1)). LAN 4, Local 2. */
  retransmitMult: number;
  /** Suspicion timeout factor: min = mult × max(1, log10(n)) × probe interval. LAN 4, WAN 6, Local 3. */
  suspicionMult: number;
  /** Upper suspicion timeout as a multiple of the minimum (Lifeguard). @default 6 */
  suspicionMaxTimeoutMult: number;
  /** Anti-entropy period, scaled up above 32 nodes; 0 disables. LAN 30 s, WAN 60 s, Local 15 s. */
  pushPullIntervalMs: number;
  /** Failure detector period; 0 disables probing. LAN 1 s, WAN 5 s. */
  probeIntervalMs: number;
  /** Wait for a direct ack before indirect probes. LAN 500 ms, WAN 3 s, Local 200 ms. */
  probeTimeoutMs: number;
  /** Skip the TCP fallback ping. @default false */
  disableTcpPings: boolean;
  /** Lifeguard local health range is [0, max - 1]. @default 8 */
  awarenessMaxMultiplier: number;
  /** Random peers per gossip tick. LAN 3, WAN 4. */
  gossipNodes: number;
  /** Gossip period; 0 disables gossip. LAN 200 ms, WAN 500 ms, Local 100 ms. */
  gossipIntervalMs: number;
  /** How long dead nodes still receive gossip and stay listed. LAN 30 s, WAN 60 s, Local 15 s. */
  gossipToTheDeadTimeMs: number;
  /** Drop unencrypted input while a keyring is set. @default true */
  gossipVerifyIncoming: boolean;
  /** Encrypt output while a keyring is set. @default true */
  gossipVerifyOutgoing: boolean;
  /** LZW-compress packets (when smaller) and streams. @default true */
  enableCompression: boolean;
  /** Packing budget for piggybacked broadcasts in one UDP packet. @default 1400 */
  udpBufferSize: number;
  /** After this long dead, a node may come back under a new address; 0 never. @default 0 */
  deadNodeReclaimTimeMs: number;
  /** Concurrent inbound push/pull exchanges before new ones are refused. @default 128 */
  maxConcurrentPushPulls: number;
}

export type ProfileName = 'lan' | 'wan' | 'local';

const COMMON = {
  bindAddr: '0.0.0.0',
  bindPort: 7946,
  advertiseAddr: '',
  advertisePort: 0,
  protocolVersion: 2,
  delegateProtocolMin: 0,
  delegateProtocolMax: 0,
  delegateProtocolVersion: 0,
  suspicionMaxTimeoutMult: 6,
  disableTcpPings: false,
  awarenessMaxMultiplier: 8,
  gossipVerifyIncoming: true,
  gossipVerifyOutgoing: true,
  enableCompression: true,
  udpBufferSize: 1400,
  deadNodeReclaimTimeMs: 0,
  maxConcurrentPushPulls: 128,
};

/** Settings for nodes on one local network (memberlist's DefaultLANConfig). */
export function lanDefaults(name: string): MemberlistOptions {
  return {
    ...COMMON,
    name,
    tcpTimeoutMs: 10_000,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 4,
    pushPullIntervalMs: 30_000,
    probeIntervalMs: 1_000,
    probeTimeoutMs: 500,
    gossipNodes: 3,
    gossipIntervalMs: 200,
    gossipToTheDeadTimeMs: 30_000,
  };
}

/** Settings for nodes spread over a WAN: slower probes, more patience (DefaultWANConfig). */
export function wanDefaults(name: string): MemberlistOptions {
  return {
    ...lanDefaults(name),
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3_000,
    probeIntervalMs: 5_000,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    gossipToTheDeadTimeMs: 60_000,
  };
}

/** Settings for nodes on one host or a very fast network (DefaultLocalConfig). */
export function localDefaults(name: string): MemberlistOptions {
  return {
    ...lanDefaults(name),
    tcpTimeoutMs: 1_000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    gossipIntervalMs: 100,
    gossipToTheDeadTimeMs: 15_000,
  };
}

export function profileDefaults(profile: ProfileName, name: string): MemberlistOptions {
  switch (profile) {
    case 'lan':
      return lanDefaults(name);
    case 'wan':
      return wanDefaults(name);
    case 'local':
      return localDefaults(name);
  }
}

/** memberlist protocol versions this implementation understands (see the version table in vsn.ts). */
export const PROTOCOL_VERSION_MIN = 1;
export const PROTOCOL_VERSION_MAX = 5;

/** Checks option values once, at construction, so a bad value fails early with its name. */
export function validateOptions(o: MemberlistOptions): void {
  if (!o.name) throw new InvalidArgumentError('node name must not be empty');
  if (o.protocolVersion < PROTOCOL_VERSION_MIN || o.protocolVersion > PROTOCOL_VERSION_MAX) {
    throw new InvalidArgumentError(
      `protocolVersion ${o.protocolVersion} is outside the supported range [${PROTOCOL_VERSION_MIN}, ${PROTOCOL_VERSION_MAX}]`,
    );
  }
  if (!Number.isInteger(o.bindPort) || o.bindPort < 0 || o.bindPort > 65535) {
    throw new InvalidArgumentError(`bindPort ${o.bindPort} is not a port number (0..65535)`);
  }
  if (!Number.isInteger(o.advertisePort) || o.advertisePort < 0 || o.advertisePort > 65535) {
    throw new InvalidArgumentError(`advertisePort ${o.advertisePort} is not a port number (0..65535)`);
  }
  const positive: (keyof MemberlistOptions)[] = [
    'tcpTimeoutMs',
    'probeTimeoutMs',
    'suspicionMult',
    'suspicionMaxTimeoutMult',
    'retransmitMult',
    'awarenessMaxMultiplier',
    'udpBufferSize',
  ];
  for (const key of positive) {
    const v = o[key];
    if (typeof v !== 'number' || !(v > 0))
      throw new InvalidArgumentError(`${key} must be a positive number, got ${v}`);
  }
  const nonNegative: (keyof MemberlistOptions)[] = [
    'indirectChecks',
    'pushPullIntervalMs',
    'probeIntervalMs',
    'gossipNodes',
    'gossipIntervalMs',
    'gossipToTheDeadTimeMs',
    'deadNodeReclaimTimeMs',
  ];
  for (const key of nonNegative) {
    const v = o[key];
    if (typeof v !== 'number' || !(v >= 0)) {
      throw new InvalidArgumentError(`${key} must be zero or a positive number, got ${v}`);
    }
  }
}
