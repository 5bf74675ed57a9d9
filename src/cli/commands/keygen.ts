import { randomBytes } from 'node:crypto';
import type { Command } from '../command.js';

/** Gossip keys are AES-256 keys; the agent also accepts 16 and 24 bytes, but keygen always makes 32. */
const KEY_BYTES = 32;

export const keygenCommand: Command = {
  synopsis: 'Generates a new encryption key',
  help: `Usage: serf keygen

  Prints a new random 32-byte gossip encryption key in base64, ready for the
  agent's -encrypt flag, the encrypt_key setting or "serf keys -install".
  Arguments are ignored.`,

  async run(_args, context) {
    let key: Buffer;
    try {
      key = randomBytes(KEY_BYTES);
    } catch (error) {
      context.ui.error(
        `Error reading random data: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 1;
    }
    context.ui.output(key.toString('base64'));
    return 0;
  },
};
