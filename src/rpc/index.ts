export * from './address.js';
export * from './codec.js';
export * from './commands.js';
export * from './socket-reader.js';
