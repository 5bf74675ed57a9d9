export { Agent, AgentStartError } from './agent.js';
export { type AgentIo, runAgent } from './command.js';
export { type AgentConfig, defaultAgentConfig, loadAgentConfig } from './config.js';
export type { AgentBackend } from './rpc-backend.js';
export { RpcServer, type RpcServerOptions } from './rpc-server.js';
