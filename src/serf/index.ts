export {
  agentSerfDefaults,
  SERF_PROTOCOL_MAX,
  SERF_PROTOCOL_MIN,
  type SerfOptions,
  serfDefaults,
} from './config.js';
export { type Coordinate, distanceSeconds } from './coordinate.js';
export * from './events.js';
export type { KeyManager, KeyOperationResult } from './key-manager.js';
export { defaultQueryTimeout, QueryHandle, type QueryOptions, type QueryReply } from './query.js';
export { Serf, type SerfDeps, type SerfState } from './serf.js';
export { decodeTags, encodeTags } from './tags.js';
