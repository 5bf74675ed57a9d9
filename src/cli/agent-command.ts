/**
 * The `serf agent` subcommand. The agent lives in src/agent/command.ts; it is loaded only when
 * this subcommand runs, so the client commands start without loading the agent.
 */

import type { Command } from './command.js';

/** Kept in a variable so the CLI compiles and runs its other commands while that module is missing. */
const agentModule = '../agent/command.js';

type AgentModule = typeof import('../agent/command.js');

export const agentCommand: Command = {
  synopsis: 'Runs a Serf agent',
  help: `Usage: serf agent [options]

  Starts a Serf agent and runs it until it is interrupted. Run "serf agent -h"
  for its options.`,

  /** Passes the arguments after "agent" (help flags included) to runAgent, which parses them itself. */
  async run(args, context) {
    let module: AgentModule;
    try {
      module = (await import(agentModule)) as AgentModule;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_MODULE_NOT_FOUND') {
        context.ui.error(
          `The agent is not available in this build: ${agentModule} (relative to src/cli) was not found. Rebuild serf-ts with src/agent/command.ts.`,
        );
        return 1;
      }
      throw error;
    }
    return module.runAgent(args, context.io);
  },
};
