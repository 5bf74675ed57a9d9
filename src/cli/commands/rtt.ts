import { type CliCoordinate, errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, usageError, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { goQuote } from '../format.js';
import { coordinateDistanceSeconds, formatRtt } from '../output.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const rttCommand: Command = {
  synopsis: 'Estimates network round trip time between nodes',
  help: `Usage: serf rtt [options] node1 [node2]

  Estimates the round trip time between two members from their network
  coordinates. Without node2, the agent's own node is used. Nodes are given
  by name, as "serf members" lists them.

Options:

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    // The reference connects before checking the node arguments.
    return withClient(rpc, context, async (client) => {
      const nodes = [...rest];
      if (nodes.length === 1) {
        try {
          const stats = await client.stats();
          nodes.push(stats.agent?.name ?? '');
        } catch (error) {
          context.ui.error(`Error querying agent: ${errorText(error)}`);
          return 1;
        }
      } else if (nodes.length !== 2) {
        return usageError(context, 'One or two node names must be specified');
      }

      const coordinates: CliCoordinate[] = [];
      for (const node of nodes) {
        let coordinate: CliCoordinate | undefined;
        try {
          coordinate = await client.getCoordinate(node);
        } catch (error) {
          context.ui.error(`Error getting coordinates: ${errorText(error)}`);
          return 1;
        }
        if (coordinate === undefined) {
          context.ui.error(`Could not find a coordinate for node ${goQuote(node)}`);
          return 1;
        }
        coordinates.push(coordinate);
      }

      const [nodeA = '', nodeB = ''] = nodes;
      const [first, second] = coordinates as [CliCoordinate, CliCoordinate];
      context.ui.output(formatRtt(nodeA, nodeB, coordinateDistanceSeconds(first, second)));
      return 0;
    });
  },
};
