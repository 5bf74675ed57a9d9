import { type CliSubscription, errorText } from '../client.js';
import { abortPromise, addRpcFlags, type Command, parseFlags, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { formatStreamRecord } from '../output.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const monitorCommand: Command = {
  synopsis: 'Stream logs from a Serf agent',
  help: `Usage: serf monitor [options]

  Prints the agent's log lines and every event it sees as they happen,
  starting with the recent log lines the agent has buffered. Runs until
  interrupted (Ctrl-C) or until the agent closes the connection.

Options:

  -log-level=info           Lowest level of log lines to print: trace, debug,
                            info, warn or err.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const logLevel = flags.string('log-level', 'INFO');
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    return withClient(rpc, context, async (client) => {
      const subscriptions: CliSubscription[] = [];
      const stopAll = async () => {
        await Promise.all(subscriptions.map((subscription) => subscription.stop().catch(() => undefined)));
      };

      try {
        subscriptions.push(
          await client.stream('*', (record) => {
            for (const line of formatStreamRecord(record)) context.ui.output(line);
          }),
        );
      } catch (error) {
        context.ui.error(`Error starting stream: ${errorText(error)}`);
        return 1;
      }
      try {
        subscriptions.push(await client.monitor(logLevel.value, (line) => context.ui.output(line)));
      } catch (error) {
        await stopAll();
        context.ui.error(`Error starting monitor: ${errorText(error)}`);
        return 1;
      }

      // A dropped connection rejects `done`; either way the agent has ended the subscription.
      const ended = Promise.race(subscriptions.map((subscription) => subscription.done)).then(
        () => 'ended' as const,
        () => 'ended' as const,
      );
      const outcome = await Promise.race([ended, abortPromise(context.io.signal)]);
      await stopAll();
      if (outcome === 'aborted') {
        return 0;
      }
      context.ui.output('');
      context.ui.output(
        'Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.',
      );
      return 1;
    });
  },
};
