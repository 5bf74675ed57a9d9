/**
 * Serf node settings with the reference library's defaults (Serf 0.9.4). Durations are in ms.
 * The agent overrides a few of them (protocol 5, coalescing on); see `agentSerfDefaults`.
 */

import { type MemberlistOptions, type ProfileName, profileDefaults } from '../memberlist/config.js';
import { InvalidArgumentError } from '../util/errors.js';

/** Serf protocol versions this implementation understands. 4 added queries, 5 relayed responses. */
export const SERF_PROTOCOL_MIN = 2;
export const SERF_PROTOCOL_MAX = 5;

/** Upper bound on `userEventSizeLimit`, the reference's "sane limit". */
export const USER_EVENT_SIZE_HARD_LIMIT = 9216;

export interface SerfOptions {
  /** Unique node name. */
  nodeName: string;
  tags: Record<string, string>;
  /** Serf protocol spoken, 2..5. @default 4 (the agent uses 5) */
  protocolVersion: number;
  /** memberlist profile the timing settings start from. @default 'lan' */
  profile: ProfileName;
  /** memberlist settings over the profile (bind address, ports, timings). */
  memberlist: Partial<MemberlistOptions>;

  /** Wait for leave, force-leave and tag broadcasts. @default 5000 */
  broadcastTimeoutMs: number;
  /** Pause after leaving so probes still get acks while the news spreads. @default 1000 */
  leavePropagateDelayMs: number;
  /** Member-event coalescing; 0 disables. Library 0, agent 3000 / 1000. */
  coalescePeriodMs: number;
  quiescentPeriodMs: number;
  /** User-event coalescing (events sent with coalesce=true); 0 disables. */
  userCoalescePeriodMs: number;
  userQuiescentPeriodMs: number;
  /** Reaper period. @default 15000 */
  reapIntervalMs: number;
  /** Reconnect attempt period for failed members. @default 30000 */
  reconnectIntervalMs: number;
  /** Failed members are erased after this long. @default 24 h */
  reconnectTimeoutMs: number;
  /** Left members are erased after this long. @default 24 h */
  tombstoneTimeoutMs: number;
  /** Buffered intents for unknown members expire after this long. @default 5 min */
  recentIntentTimeoutMs: number;
  /** Slots of the user-event dedup ring (also sent whole in push/pull). @default 512 */
  eventBuffer: number;
  /** Slots of the query dedup ring. @default 512 */
  queryBuffer: number;
  /** Default query timeout = gossipInterval × mult × ceil(log10(n + 1)). @default 16 */
  queryTimeoutMult: number;
  /** Encoded size limits in bytes. @default 1024, 1024, 512 */
  querySizeLimit: number;
  queryResponseSizeLimit: number;
  userEventSizeLimit: number;
  /** Broadcast queue depth check period, warning and prune thresholds. */
  queueCheckIntervalMs: number;
  queueDepthWarning: number;
  maxQueueDepth: number;
  minQueueDepth: number;
  /** Resolve name conflicts by a cluster vote (the minority shuts down). @default true */
  enableNameConflictResolution: boolean;
  disableCoordinates: boolean;
  /** Snapshot file path; empty disables. */
  snapshotPath: string;
  /** Keep clocks and peers from the snapshot even after a graceful leave. @default false */
  rejoinAfterLeave: boolean;
  /** Keyring file rewritten after every key change; empty disables. */
  keyringFile: string;
  /** Events buffered per subscriber before the oldest are dropped. @default 4096 */
  eventSubscriberBuffer: number;
}

export function serfDefaults(nodeName: string): SerfOptions {
  return {
    nodeName,
    tags: {},
    protocolVersion: 4,
    profile: 'lan',
    memberlist: {},
    broadcastTimeoutMs: 5_000,
    leavePropagateDelayMs: 1_000,
    coalescePeriodMs: 0,
    quiescentPeriodMs: 0,
    userCoalescePeriodMs: 0,
    userQuiescentPeriodMs: 0,
    reapIntervalMs: 15_000,
    reconnectIntervalMs: 30_000,
    reconnectTimeoutMs: 24 * 3600_000,
    tombstoneTimeoutMs: 24 * 3600_000,
    recentIntentTimeoutMs: 5 * 60_000,
    eventBuffer: 512,
    queryBuffer: 512,
    queryTimeoutMult: 16,
    querySizeLimit: 1024,
    queryResponseSizeLimit: 1024,
    userEventSizeLimit: 512,
    queueCheckIntervalMs: 30_000,
    queueDepthWarning: 128,
    maxQueueDepth: 4096,
    minQueueDepth: 0,
    enableNameConflictResolution: true,
    disableCoordinates: false,
    snapshotPath: '',
    rejoinAfterLeave: false,
    keyringFile: '',
    eventSubscriberBuffer: 4096,
  };
}

/** Returns the values `serf agent` runs the library with. */
export function agentSerfDefaults(nodeName: string): SerfOptions {
  return {
    ...serfDefaults(nodeName),
    protocolVersion: 5,
    coalescePeriodMs: 3_000,
    quiescentPeriodMs: 1_000,
    userCoalescePeriodMs: 3_000,
    userQuiescentPeriodMs: 1_000,
  };
}

/** The memberlist settings a Serf node runs with: profile, overrides, and Serf's version range. */
export function memberlistOptionsFor(o: SerfOptions): MemberlistOptions {
  return {
    ...profileDefaults(o.profile, o.nodeName),
    ...o.memberlist,
    name: o.nodeName,
    // Serf speaks memberlist protocol 2 for every Serf protocol version.
    protocolVersion: 2,
    delegateProtocolMin: SERF_PROTOCOL_MIN,
    delegateProtocolMax: SERF_PROTOCOL_MAX,
    delegateProtocolVersion: o.protocolVersion,
  };
}

export function validateSerfOptions(o: SerfOptions): void {
  if (!o.nodeName) throw new InvalidArgumentError('nodeName must not be empty');
  if (
    !Number.isInteger(o.protocolVersion) ||
    o.protocolVersion < SERF_PROTOCOL_MIN ||
    o.protocolVersion > SERF_PROTOCOL_MAX
  ) {
    throw new InvalidArgumentError(
      `protocolVersion ${o.protocolVersion} is outside the supported range [${SERF_PROTOCOL_MIN}, ${SERF_PROTOCOL_MAX}]`,
    );
  }
  if (o.userEventSizeLimit > USER_EVENT_SIZE_HARD_LIMIT) {
    throw new InvalidArgumentError(
      `user event size limit exceeds limit of ${USER_EVENT_SIZE_HARD_LIMIT} bytes`,
    );
  }
  for (const key of [
    'eventBuffer',
    'queryBuffer',
    'querySizeLimit',
    'queryResponseSizeLimit',
    'userEventSizeLimit',
  ] as const) {
    if (!Number.isInteger(o[key]) || o[key] <= 0)
      throw new InvalidArgumentError(`${key} must be a positive integer, got ${o[key]}`);
  }
}
