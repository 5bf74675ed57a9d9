/**
 * The runnable example from the README's library section works as documented.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('examples', () => {
  it('two-nodes example runs end to end', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(dist, 'examples', 'two-nodes.js')],
      {
        timeout: 60_000,
      },
    );
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], 'web-2 joined through 1 node(s)');
    assert.ok(lines.includes('web-2 got event deploy: v42'), stdout);
    assert.ok(lines.includes('ack from web-2'), stdout);
    assert.ok(lines.includes('response from web-2: pong'), stdout);
    assert.equal(lines.at(-1), 'web-1 alive, web-2 left');
    assert.doesNotMatch(stderr, /ERR/);
  });
});
