/**
 * Loads the byte captures from reference Go agents that the tests compare against.
 *
 * The vectors folder sits next to the repository: `<repo root>/../shared/vectors`. The
 * `SERF_VECTORS_DIR` environment variable points somewhere else. A missing folder or file is a
 * thrown error, never a skipped test, so a broken checkout cannot pass silently.
 */

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type VectorFamily = 'gossip-plain' | 'gossip-encrypted' | 'stream' | 'rpc' | 'files' | 'handlers';

const cache = new Map<VectorFamily, unknown>();

/** Walks up from this file (which runs from dist/test/helpers) to the folder with package.json. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `vectors: no package.json above ${fileURLToPath(import.meta.url)}; cannot find the repo root`,
      );
    }
    dir = parent;
  }
}

/** Returns the folder that contains the vector JSON files. */
export function vectorsDir(): string {
  const fromEnv = process.env.SERF_VECTORS_DIR;
  const dir = fromEnv ? resolve(fromEnv) : resolve(findRepoRoot(), '..', 'shared', 'vectors');
  if (!existsSync(dir)) {
    throw new Error(
      `vectors: folder ${dir} does not exist; check out the shared vectors next to the repo or set SERF_VECTORS_DIR`,
    );
  }
  return dir;
}

/**
 * Returns the parsed JSON of one vector family (cached). The README in the vectors folder
 * documents the fields; they are typed loosely on purpose.
 */
// biome-ignore lint/suspicious/noExplicitAny: vector files are JSON read field by field in tests.
export function loadVectors(name: VectorFamily): any {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const file = join(vectorsDir(), `${name}.json`);
  if (!existsSync(file)) {
    throw new Error(`vectors: ${file} is missing; the vectors folder is incomplete`);
  }
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  cache.set(name, parsed);
  return parsed;
}

/** Parses hex (whitespace allowed) into a plain Uint8Array. Throws on odd length or non-hex. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new Error(`hex: "${clean.slice(0, 40)}" is not an even-length hex string`);
  }
  // Copy into a plain Uint8Array: assert.deepStrictEqual treats a Buffer and a Uint8Array with
  // the same bytes as different.
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** Formats bytes as lower-case hex, for assertion messages that show where bytes differ. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
