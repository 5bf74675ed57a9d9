import { type CliQueryRecord, errorText } from '../client.js';
import {
  abortPromise,
  addRpcFlags,
  type Command,
  parseFlags,
  parseTagPairs,
  usageError,
  withClient,
} from '../command.js';
import { durationToMs } from '../duration.js';
import { FlagSet } from '../flags.js';
import { formatQueryJson } from '../output.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const queryCommand: Command = {
  synopsis: 'Send a query to the Serf cluster',
  help: `Usage: serf query [options] name [payload]

  Sends a query to the cluster and prints the acknowledgements and responses
  as they arrive, until the query times out. Agents answer a query through
  their event handlers.

Options:

  -format=text              Output format: text or json. JSON is printed once
                            the query has finished.

  -node=NAME                Only ask the named node; repeat for several nodes.

  -tag key=regexp           Only ask nodes whose tag matches the regular
                            expression (unanchored); repeat for several tags.

  -timeout=0                How long to wait for responses, as a duration such
                            as 500ms or 2s. 0 lets the agent choose a default
                            based on the cluster size.

  -no-ack                   Do not ask nodes to acknowledge receipt.

  -relay-factor=0           Number of other members (0 to 255) each response
                            is also relayed through, for unreliable networks.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const nodes = flags.list('node');
    const tagPairs = flags.list('tag');
    const timeout = flags.duration('timeout', 0n);
    const noAck = flags.bool('no-ack', false);
    const format = flags.string('format', 'text');
    const relayFactor = flags.int('relay-factor', 0);
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    const filterTags = parseTagPairs(tagPairs.value);
    if (!filterTags.ok) {
      context.ui.error(`Error: Invalid tag: '${filterTags.invalid}'`);
      return 1;
    }
    if (rest.length < 1) {
      return usageError(context, 'A query name must be specified.');
    }
    if (rest.length > 2) {
      return usageError(
        context,
        'Too many command line arguments. Only a name and payload must be specified.',
      );
    }
    if (relayFactor.value < 0 || relayFactor.value > 255) {
      context.ui.error('Relay factor must be between 0 and 255');
      return 1;
    }
    const [name = '', payloadText] = rest;

    return withClient(rpc, context, async (client) => {
      if (format.value !== 'text' && format.value !== 'json') {
        context.ui.error(`Invalid format: ${format.value}`);
        return 1;
      }
      const text = format.value === 'text';
      const acks: string[] = [];
      const responses = new Map<string, Uint8Array>();
      let responseCount = 0;
      let started = false;
      let finishDone: () => void = () => undefined;
      const done = new Promise<'done'>((resolve) => {
        finishDone = () => resolve('done');
      });

      // Records can arrive before query() resolves; the first one also proves the query was accepted.
      const start = () => {
        if (!started) {
          started = true;
          if (text) context.ui.output(`Query '${name}' dispatched`);
        }
      };
      const onRecord = (record: CliQueryRecord) => {
        start();
        if (record.type === 'done') {
          finishDone();
        } else if (record.type === 'ack') {
          acks.push(record.from);
          if (text) context.ui.output(`Ack from '${record.from}'`);
        } else {
          responses.set(record.from, record.payload);
          responseCount++;
          if (text) {
            // The reference drops one trailing newline and prints the payload bytes as they are.
            const payload = record.payload.at(-1) === 0x0a ? record.payload.subarray(0, -1) : record.payload;
            context.ui.outputBytes(Buffer.concat([Buffer.from(`Response from '${record.from}': `), payload]));
          }
        }
      };

      try {
        await client.query(
          {
            name,
            payload: payloadText === undefined ? null : Buffer.from(payloadText, 'utf8'),
            filterNodes: nodes.value,
            filterTags: filterTags.tags,
            requestAck: !noAck.value,
            relayFactor: relayFactor.value,
            timeoutMs: durationToMs(timeout.value),
          },
          onRecord,
        );
      } catch (error) {
        if (!started) {
          context.ui.error(`Error sending query: ${errorText(error)}`);
          return 1;
        }
        // The connection failed after the query started: report what arrived, as the reference does.
        finishDone();
      }
      start();

      const outcome = await Promise.race([done, abortPromise(context.io.signal)]);
      if (outcome === 'aborted') {
        return 1;
      }

      if (text) {
        if (!noAck.value) context.ui.output(`Total Acks: ${acks.length}`);
        context.ui.output(`Total Responses: ${responseCount}`);
      } else {
        context.ui.output(formatQueryJson(acks, responses));
      }
      return 0;
    });
  },
};
