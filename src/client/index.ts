export * from './rpc-client.js';
