export * from './framing.js';
export * from './ip.js';
export * from './lzw.js';
export * from './message-types.js';
export * from './messages.js';
export * from './msgpack.js';
