import { errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, parseTagPairs, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const tagsCommand: Command = {
  synopsis: 'Modify tags of a running Serf agent',
  help: `Usage: serf tags [options] ...

  Sets or removes tags of the agent. The change is gossiped to the cluster
  and, when the agent has a tags file, saved there.

Options:

${RPC_OPTIONS_HELP}

  -set key=value            Set a tag; repeat for several tags.

  -delete key               Remove a tag if it exists; repeat for several tags.`,

  async run(args, context) {
    const flags = new FlagSet();
    const setPairs = flags.list('set');
    const deleteKeys = flags.list('delete');
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    if (setPairs.value.length === 0 && deleteKeys.value.length === 0) {
      context.ui.output(context.help);
      return 1;
    }

    // The reference connects before it checks the pairs, so a bad pair against a dead agent reports the connection.
    return withClient(rpc, context, async (client) => {
      const parsed = parseTagPairs(setPairs.value);
      if (!parsed.ok) {
        context.ui.error(`Error: Invalid tag: '${parsed.invalid}'`);
        return 1;
      }
      try {
        await client.updateTags(parsed.tags, deleteKeys.value);
      } catch (error) {
        context.ui.error(`Error setting tags: ${errorText(error)}`);
        return 1;
      }
      context.ui.output('Successfully updated agent tags');
      return 0;
    });
  },
};
