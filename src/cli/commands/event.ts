import { errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, usageError, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const eventCommand: Command = {
  synopsis: 'Send a custom event through the Serf cluster',
  help: `Usage: serf event [options] name [payload]

  Sends a user event with an optional payload to every member of the cluster.
  Event handlers on each agent receive the name and the payload.

Options:

  -coalesce=true/false      Whether agents may merge events of this name that
                            arrive close together and deliver only the last one.
                            Default: true.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const coalesce = flags.bool('coalesce', true);
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    if (rest.length < 1) {
      return usageError(context, 'An event name must be specified.');
    }
    if (rest.length > 2) {
      return usageError(
        context,
        'Too many command line arguments. Only a name and payload must be specified.',
      );
    }
    const [name = '', payloadText] = rest;
    const payload = payloadText === undefined ? null : Buffer.from(payloadText, 'utf8');

    return withClient(rpc, context, async (client) => {
      try {
        await client.userEvent(name, payload, coalesce.value);
      } catch (error) {
        context.ui.error(`Error sending event: ${errorText(error)}`);
        return 1;
      }
      context.ui.output(`Event '${name}' dispatched! Coalescing enabled: ${coalesce.value}`);
      return 0;
    });
  },
};
