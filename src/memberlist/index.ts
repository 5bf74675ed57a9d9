export { Awareness } from './awareness.js';
export { type Broadcast, TransmitLimitedQueue } from './broadcast-queue.js';
export {
  lanDefaults,
  localDefaults,
  type MemberlistOptions,
  type ProfileName,
  profileDefaults,
  wanDefaults,
} from './config.js';
export type * from './delegate.js';
export { META_MAX_SIZE, Memberlist, type MemberlistDeps, parseJoinAddress } from './memberlist.js';
export type { NodeInfo, NodeStateName, VersionVector } from './node.js';
export * from './timing.js';
