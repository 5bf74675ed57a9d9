import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.js';

/**
 * Serf protocol range spoken by serf-ts, printed as the reference does. The cli layer may not
 * import src/serf, so these repeat SERF_PROTOCOL_MAX and SERF_PROTOCOL_MIN from src/serf/config.ts.
 */
const PROTOCOL_MAX = 5;
const PROTOCOL_MIN = 2;

/** Reads the version from the serf-ts package.json above this file (works from src/ and dist/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'serf-ts' && typeof parsed.version === 'string') {
        return parsed.version;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      return 'unknown';
    }
    dir = parent;
  }
}

export const versionCommand: Command = {
  synopsis: 'Prints the Serf version',
  help: `Usage: serf version

  Prints the serf-ts version and the range of Serf protocol versions it
  speaks.`,

  async run(_args, context) {
    context.ui.output(packageVersion());
    context.ui.output(`Agent Protocol: ${PROTOCOL_MAX} (Understands back to: ${PROTOCOL_MIN})`);
    return 0;
  },
};
