import { type CliMember, errorText } from '../client.js';
import { addRpcFlags, type Command, parseFlags, parseTagPairs, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { formatMembersJson, formatMembersText } from '../output.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

export const membersCommand: Command = {
  synopsis: 'Lists the members of a Serf cluster',
  help: `Usage: serf members [options]

  Lists the members the agent knows about, including failed and left ones.
  Every filter is a regular expression that must match the whole value.

Options:

  -detailed                 Add each member's Serf protocol version and range
                            (text format only).

  -format=text              Output format: text or json.

  -name=<regexp>            Only list members whose name matches.

  -role=<regexp>            Deprecated: same as -tag role=<regexp>.

  -status=<regexp>          Only list members whose status (alive, leaving,
                            left, failed) matches.

  -tag <key>=<regexp>       Only list members whose tag <key> matches. Repeat
                            to filter on several tags; all must match.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const detailed = flags.bool('detailed', false);
    const role = flags.string('role', '');
    const status = flags.string('status', '');
    const format = flags.string('format', 'text');
    const tagPairs = flags.list('tag');
    const name = flags.string('name', '');
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    if (role.value !== '') {
      context.ui.output("Deprecation warning: 'Role' has been replaced with 'Tags'");
      tagPairs.value.push(`role=${role.value}`);
    }
    const parsedTags = parseTagPairs(tagPairs.value);
    if (!parsedTags.ok) {
      context.ui.error(`Error: Invalid tag: '${parsedTags.invalid}'`);
      return 1;
    }
    const tags = parsedTags.tags;

    return withClient(rpc, context, async (client) => {
      let members: CliMember[];
      try {
        members = await client.membersFiltered({ tags, status: status.value, name: name.value });
      } catch (error) {
        context.ui.error(`Error retrieving members: ${errorText(error)}`);
        return 1;
      }
      if (format.value === 'text') {
        context.ui.output(formatMembersText(members, detailed.value));
      } else if (format.value === 'json') {
        context.ui.output(formatMembersJson(members));
      } else {
        context.ui.error(`Encoding error: Invalid output format "${format.value}"`);
        return 1;
      }
      return 0;
    });
  },
};
