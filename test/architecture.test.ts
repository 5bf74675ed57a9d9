/**
 * Keeps the layering honest: a module may import only from its own layer or lower ones.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

/** Layer rank: an import must point at a folder of the same or lower rank. */
const RANK: Record<string, number> = {
  util: 0,
  codec: 1,
  security: 1,
  transport: 2,
  memberlist: 3,
  serf: 4,
  rpc: 5,
  agent: 6,
  client: 6,
  cli: 7,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

describe('architecture', () => {
  it('lower layers never import higher ones', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(src)) {
      const rel = relative(src, file);
      const layer = rel.split('/')[0]!;
      if (!(layer in RANK)) continue;
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/from '(\.\.?\/[^']+)'/g)) {
        const target = relative(src, resolve(dirname(file), match[1]!));
        const targetLayer = target.split('/')[0]!;
        if (!(targetLayer in RANK)) continue;
        if (RANK[targetLayer]! > RANK[layer]!) violations.push(`${rel} imports ${target}`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('only the socket transport and metrics import node:dgram', () => {
    const users = sourceFiles(src)
      .filter((f) => /from 'node:dgram'/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(src, f));
    assert.deepEqual(users.sort(), ['agent/metrics.ts', 'transport/udp-tcp.ts']);
  });
});
