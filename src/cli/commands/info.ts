import { errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { formatStatsJson, formatStatsText } from '../output.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const infoCommand: Command = {
  synopsis: 'Provides debugging information for operators',
  help: `Usage: serf info [options]

  Prints the agent's runtime statistics, grouped by section (agent, runtime,
  serf, tags, event handlers).

Options:

  -format=text              Output format: text or json.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const format = flags.string('format', 'text');
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    return withClient(rpc, context, async (client) => {
      let stats: Record<string, Record<string, string>>;
      try {
        stats = await client.stats();
      } catch (error) {
        context.ui.error(`Error querying agent: ${errorText(error)}`);
        return 1;
      }
      if (format.value === 'text') {
        context.ui.output(formatStatsText(stats));
      } else if (format.value === 'json') {
        context.ui.output(formatStatsJson(stats));
      } else {
        context.ui.error(`Encoding error: Invalid output format "${format.value}"`);
        return 1;
      }
      return 0;
    });
  },
};
