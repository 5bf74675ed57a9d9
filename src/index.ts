/**
 * serf-ts public API: embed a Serf node in a Node.js program.
 *
 *   const serf = await Serf.create({ nodeName: 'web-1', memberlist: { bindAddr: '127.0.0.1', bindPort: 7946 } });
 *   await serf.join(['127.0.0.1:7947']);
 *   for await (const event of serf.events()) console.log(event.type);
 */

export { lanDefaults, localDefaults, type MemberlistOptions, wanDefaults } from './memberlist/index.js';
export { decodeKey, encodeKey, Keyring } from './security/index.js';
export * from './serf/index.js';
export { MemoryNetwork } from './transport/index.js';
export { ErrorCode, SerfError } from './util/errors.js';
export { createLineLogger, type Logger } from './util/logger.js';
