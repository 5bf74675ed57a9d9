import { errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, usageError, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const forceLeaveCommand: Command = {
  synopsis: 'Forces a member of the cluster to enter the "left" state',
  help: `Usage: serf force-leave [options] name

  Marks a failed member as left, so the cluster stops trying to reconnect to
  it and forgets it after the tombstone period. A member that is still alive
  rejoins by refuting the leave.

Options:

  -prune                    Remove the member from the member list right away
                            instead of waiting for the tombstone period.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const prune = flags.bool('prune', false);
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    if (rest.length !== 1) {
      return usageError(context, 'A node name must be specified to force leave.');
    }
    const node = rest[0] as string;

    return withClient(rpc, context, async (client) => {
      try {
        await client.forceLeave(node, prune.value ? { prune: true } : {});
      } catch (error) {
        context.ui.error(`Error force leaving: ${errorText(error)}`);
        return 1;
      }
      return 0;
    });
  },
};
