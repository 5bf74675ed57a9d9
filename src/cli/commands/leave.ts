import { errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const leaveCommand: Command = {
  synopsis: 'Gracefully leaves the Serf cluster and shuts down',
  help: `Usage: serf leave [options]

  Asks the agent to announce its departure to the cluster and then shut down.

Options:

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    return withClient(rpc, context, async (client) => {
      try {
        await client.leave();
      } catch (error) {
        context.ui.error(`Error leaving: ${errorText(error)}`);
        return 1;
      }
      context.ui.output('Graceful leave complete');
      return 0;
    });
  },
};
