import { errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, usageError, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const joinCommand: Command = {
  synopsis: 'Tell Serf agent to join cluster',
  help: `Usage: serf join [options] address ...

  Asks a running agent to join a cluster through one or more existing
  members, given as host or host:port (port 7946 when omitted).

Options:

  -replay                   Also deliver user events that happened before the
                            join to this agent's event handlers.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const replay = flags.bool('replay', false);
    const rpc = addRpcFlags(flags, context.io.env);
    const addresses = parseFlags(flags, args, context);
    if (typeof addresses === 'number') return addresses;

    if (addresses.length === 0) {
      return usageError(context, 'At least one address to join must be specified.');
    }

    return withClient(rpc, context, async (client) => {
      let joined: number;
      try {
        joined = await client.join(addresses, replay.value);
      } catch (error) {
        context.ui.error(`Error joining the cluster: ${errorText(error)}`);
        return 1;
      }
      context.ui.output(`Successfully joined cluster by contacting ${joined} nodes.`);
      return 0;
    });
  },
};
