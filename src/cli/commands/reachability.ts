import { type CliMember, errorText } from '../client.js';
import { abortPromise, addRpcFlags, type Command, parseFlags, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

/** Name of Serf's internal ping query. Every member acknowledges it, and no member sends a response. */
const PING_QUERY = '_serf_ping';

const DUPLICATE_EXPLANATION = `
Several acknowledgements came from the same node name. Node names must be
unique in a cluster: check that no two agents were started with the same
-node value.`;

const TOO_MANY_EXPLANATION = `
Nodes that this agent does not consider alive acknowledged the query. The
member lists of the cluster disagree, which usually settles within a few
gossip rounds; run the test again shortly.`;

const TOO_FEW_EXPLANATION = `
Some members that this agent considers alive did not acknowledge the query
before it timed out.`;

const TROUBLESHOOTING = `
To troubleshoot:
  - Check that every agent can reach every other agent on the gossip port,
    over both TCP and UDP.
  - Check firewalls and security groups between the hosts.
  - Check that each agent advertises an address the others can reach
    (-advertise).
  - Run the test again with -verbose to see which nodes answered.`;

export const reachabilityCommand: Command = {
  synopsis: 'Test network reachability',
  help: `Usage: serf reachability [options]

  Sends a ping query to the whole cluster and checks that every member the
  agent considers alive acknowledges it. Use it to find members that cannot
  be reached over the gossip network.

Options:

  -verbose                  Print each acknowledgement and the timing.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const verbose = flags.bool('verbose', false);
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    return withClient(rpc, context, async (client) => {
      let members: CliMember[];
      try {
        members = await client.members();
      } catch (error) {
        context.ui.error(`Error getting members: ${errorText(error)}`);
        return 1;
      }
      const live = new Set(
        members.filter((member) => member.status === 'alive').map((member) => member.name),
      );
      context.ui.output(`Total members: ${members.length}, live members: ${live.size}`);

      const acksFrom = new Set<string>();
      let ackCount = 0;
      let duplicates = false;
      const startMs = performance.now();
      let lastMs = startMs;
      let finishDone: () => void = () => undefined;
      const done = new Promise<'done'>((resolve) => {
        finishDone = () => resolve('done');
      });
      // query() resolves only after the final record, so the first record also shows the query started.
      let started = false;
      const start = () => {
        if (!started) {
          started = true;
          context.ui.output('Starting reachability test...');
        }
      };

      try {
        await client.query({ name: PING_QUERY, requestAck: true }, (record) => {
          start();
          if (record.type === 'done') {
            finishDone();
            return;
          }
          if (record.type !== 'ack') return;
          if (verbose.value) context.ui.output(`\tAck from '${record.from}'`);
          ackCount++;
          if (acksFrom.has(record.from)) {
            duplicates = true;
            context.ui.output(`Duplicate response from '${record.from}'`);
          }
          acksFrom.add(record.from);
          lastMs = performance.now();
        });
      } catch (error) {
        if (!started) {
          context.ui.error(`Error sending query: ${errorText(error)}`);
          return 1;
        }
        finishDone();
      }
      start();

      const outcome = await Promise.race([done, abortPromise(context.io.signal)]);
      if (outcome === 'aborted') {
        context.ui.error('Test interrupted');
        return 1;
      }

      if (verbose.value) {
        const totalSec = (performance.now() - startMs) / 1000;
        const lastSec = (lastMs - startMs) / 1000;
        context.ui.output(
          `Query time: ${totalSec.toFixed(2)} sec, time to last response: ${lastSec.toFixed(2)} sec`,
        );
      }
      if (duplicates) {
        context.ui.output(DUPLICATE_EXPLANATION);
      }

      if (ackCount === live.size) {
        context.ui.output('Successfully contacted all live nodes');
        return duplicates ? 1 : 0;
      }
      if (ackCount > live.size) {
        context.ui.output('Received more acks than live nodes! Acks from non-live nodes:');
        for (const name of acksFrom) {
          if (!live.has(name)) context.ui.output(`\t${name}`);
        }
        context.ui.output(TOO_MANY_EXPLANATION);
      } else {
        context.ui.output('Received less acks than live nodes! Missing acks from:');
        for (const name of live) {
          if (!acksFrom.has(name)) context.ui.output(`\t${name}`);
        }
        context.ui.output(TOO_FEW_EXPLANATION);
      }
      context.ui.output(TROUBLESHOOTING);
      return 1;
    });
  },
};
