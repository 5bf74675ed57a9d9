import { randomBytes } from 'node:crypto';
import { type CliClient, type CliKeyResponse, errorText, keyFailureMessages } from '../client.js';
import { addRpcFlags, type Command, type CommandContext, parseFlags, withClient } from '../command.js';
import { FlagSet } from '../flags.js';
import { formatKeyFailures, formatKeyList } from '../output.js';
import { RPC_OPTIONS_HELP } from './help-common.js';

/** Progress and result texts of the three key-changing operations. */
const KEY_CHANGES = {
  install: {
    start: 'Installing key on all members...',
    success: 'Successfully installed key!',
    failure: 'Error installing key',
  },
  use: {
    start: 'Changing primary key on all members...',
    success: 'Successfully changed primary key!',
    failure: 'Error changing primary key',
  },
  remove: {
    start: 'Removing key on all members...',
    success: 'Successfully removed key!',
    failure: 'Error removing key',
  },
} as const;

export const keysCommand: Command = {
  synopsis: 'Manipulate the internal encryption keyring used by Serf',
  help: `Usage: serf keys [options]...

  Changes or lists the gossip encryption keys on every member of the cluster.
  Each member encrypts with its primary key and decrypts with any installed
  key, so a key is rotated by installing the new key, making it primary and
  then removing the old one. Repeating an operation is harmless.

  The command exits with 0 when every member answered without an error, and
  with 1 otherwise, after listing the failing members.

Options:

  -install=<key>            Install a base64 key (16, 24 or 32 bytes) on every
                            member as a secondary key.

  -use=<key>                Make an installed key the primary key everywhere.

  -remove=<key>             Remove a key everywhere. The primary key cannot be
                            removed.

  -list                     List every installed key and how many members
                            have it.

  -rotate [<key>]           Rotate to a new key (generated when omitted):
                            install it, make it primary once every member
                            holds it, then remove every older key. Stops at
                            the first step that does not reach every member.
                            Not in HashiCorp's serf.

${RPC_OPTIONS_HELP}`,

  async run(args, context) {
    const flags = new FlagSet();
    const install = flags.string('install', '');
    const use = flags.string('use', '');
    const remove = flags.string('remove', '');
    const list = flags.bool('list', false);
    const rotate = flags.bool('rotate', false);
    const rpc = addRpcFlags(flags, context.io.env);
    const rest = parseFlags(flags, args, context);
    if (typeof rest === 'number') return rest;

    const chosen = [
      list.value,
      install.value !== '',
      use.value !== '',
      remove.value !== '',
      rotate.value,
    ].filter(Boolean).length;
    if (chosen > 1) {
      // The reference's text, extended only when the serf-ts-only -rotate is part of the mix.
      context.ui.error(
        rotate.value
          ? 'Only one of -install, -use, -remove, -list or -rotate allowed'
          : 'Only one of -install, -use, -remove, or -list allowed',
      );
      return 1;
    }
    if (chosen === 0) {
      context.ui.error(context.help);
      return 1;
    }

    if (rotate.value && rest.length > 1) {
      context.ui.error('-rotate takes at most one key argument');
      return 1;
    }

    return withClient(rpc, context, async (client) => {
      if (rotate.value) return rotateKey(context, client, rest[0] ?? randomBytes(32).toString('base64'));
      if (list.value) {
        context.ui.output('==> Asking all members for installed keys...');
        let response: CliKeyResponse;
        try {
          response = await client.listKeys();
        } catch (error) {
          return reportKeyFailure(context, 'Failed to gather member keys', error);
        }
        context.ui.output('==> Keys gathered, listing cluster keys...');
        context.ui.output('');
        context.ui.output(formatKeyList(response.keys ?? {}, response.numNodes));
        return 0;
      }

      const [operation, key] =
        install.value !== ''
          ? (['install', install.value] as const)
          : use.value !== ''
            ? (['use', use.value] as const)
            : (['remove', remove.value] as const);
      const texts = KEY_CHANGES[operation];
      context.ui.output(`==> ${texts.start}`);
      try {
        if (operation === 'install') await client.installKey(key);
        else if (operation === 'use') await client.useKey(key);
        else await client.removeKey(key);
      } catch (error) {
        return reportKeyFailure(context, texts.failure, error);
      }
      context.ui.output(`==> ${texts.success}`);
      return 0;
    });
  },
};

/**
 * Rotates the cluster to `newKey`: install, check that every member has it, make it primary, then
 * remove the keys that were installed before. The new key is not printed: `-list` shows it.
 */
async function rotateKey(context: CommandContext, client: CliClient, newKey: string): Promise<number> {
  const ui = context.ui;
  ui.output('==> Rotating the gossip encryption key on all members...');

  let before: CliKeyResponse;
  try {
    before = await client.listKeys();
  } catch (error) {
    return reportKeyFailure(context, 'Rotation stopped: failed to list the current keys', error);
  }
  const oldKeys = Object.keys(before.keys ?? {}).filter((k) => k !== newKey);

  ui.output('==> Step 1/3: installing the new key...');
  try {
    await client.installKey(newKey);
  } catch (error) {
    return reportKeyFailure(
      context,
      'Rotation stopped at step 1 (install); no member uses the new key yet',
      error,
    );
  }
  let check: CliKeyResponse;
  try {
    check = await client.listKeys();
  } catch (error) {
    return reportKeyFailure(context, 'Rotation stopped after step 1: failed to confirm the new key', error);
  }
  const holders = check.keys?.[newKey] ?? 0;
  if (holders < check.numNodes) {
    ui.error('');
    ui.error(`Rotation stopped after step 1: only ${holders}/${check.numNodes} members hold the new key`);
    return 1;
  }

  ui.output('==> Step 2/3: making the new key primary...');
  try {
    await client.useKey(newKey);
  } catch (error) {
    return reportKeyFailure(
      context,
      'Rotation stopped at step 2 (use); members listed above may still encrypt with the old key',
      error,
    );
  }

  ui.output(`==> Step 3/3: removing ${oldKeys.length} old key(s)...`);
  for (const [i, key] of oldKeys.entries()) {
    try {
      await client.removeKey(key);
    } catch (error) {
      return reportKeyFailure(
        context,
        `Rotation stopped at step 3 (remove old key ${i + 1} of ${oldKeys.length})`,
        error,
      );
    }
  }
  ui.output(`==> Successfully rotated the key on ${check.numNodes} members!`);
  return 0;
}

/** Prints the failing members (if the agent named any), an empty line and `<headline>: <error>`; returns 1. */
function reportKeyFailure(context: CommandContext, headline: string, error: unknown): number {
  const messages = keyFailureMessages(error);
  if (Object.keys(messages).length > 0) {
    context.ui.error(formatKeyFailures(messages));
  }
  context.ui.error('');
  context.ui.error(`${headline}: ${errorText(error)}`);
  return 1;
}
