/**
 * serf-ts agent features an operator relies on, exercised through the real command line: SIGHUP
 * reload of handlers and log level, the tags file, snapshot rejoin after a restart, retry-join
 * giving up, and RPC authentication.
 */

import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { cleanupAgents, ReferenceAgent } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

after(cleanupAgents);

async function readOr(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

describe('serf-ts agent features', () => {
  it('SIGHUP reloads handlers from the config file', async () => {
    const agent = await ReferenceAgent.start({
      name: 'reload-1',
      implementation: 'serf-ts',
      logLevel: 'info',
      config: { event_handlers: ['user=echo first >> first.log'] },
    });
    assert.equal((await agent.cli(['event', '-coalesce=false', 'one'])).code, 0);
    await waitFor(async () => (await readOr(join(agent.dir, 'first.log'))) === 'first\n', {
      timeoutMs: 10_000,
      message: 'the first handler runs',
    });

    await writeFile(
      join(agent.dir, 'config.json'),
      JSON.stringify({ event_handlers: ['user=echo second >> second.log'] }),
    );
    const mark = agent.output.length;
    agent.signal('SIGHUP');
    await agent.waitForOutput(/Reloading configuration/, { timeoutMs: 10_000, since: mark });
    assert.equal((await agent.cli(['event', '-coalesce=false', 'two'])).code, 0);
    await waitFor(async () => (await readOr(join(agent.dir, 'second.log'))) === 'second\n', {
      timeoutMs: 10_000,
      message: 'the reloaded handler runs',
    });
    assert.equal(await readOr(join(agent.dir, 'first.log')), 'first\n', 'the old handler no longer runs');
  });

  it('tags file keeps RPC tag changes across a restart', async () => {
    const first = await ReferenceAgent.start({ name: 'tags-1', implementation: 'serf-ts' });
    const tagsFile = join(first.dir, 'tags.json');
    await first.stop();

    const port = await freePort();
    const args = {
      name: 'tags-1',
      implementation: 'serf-ts' as const,
      bindPort: port,
      extraArgs: [`-tags-file=${tagsFile}`],
    };
    const agent = await ReferenceAgent.start(args);
    assert.equal((await agent.cli(['tags', '-set', 'rack=r9', '-set', 'zone=z3'])).code, 0);
    assert.deepEqual(JSON.parse(await readFile(tagsFile, 'utf8')), { rack: 'r9', zone: 'z3' });
    await agent.stop();

    const again = await ReferenceAgent.start(args);
    const self = (await again.members()).find((m) => m.name === 'tags-1');
    assert.deepEqual(self?.tags, { rack: 'r9', zone: 'z3' });
    assert.ok(again.output.some((l) => l.includes(`Restored 2 tag(s) from ${tagsFile}`)));
    const mode = (await stat(tagsFile)).mode & 0o777;
    assert.equal(mode & 0o077, 0, `tags file mode ${mode.toString(8)}`);
  });

  it('snapshot brings a restarted agent back into its cluster', async () => {
    const peer = await ReferenceAgent.start({ name: 'snap-peer' });
    const port = await freePort();
    const holder = await ReferenceAgent.start({ name: 'snap-holder', implementation: 'serf-ts' });
    const snapshot = join(holder.dir, 'serf.snapshot');
    await holder.kill();

    const args = {
      name: 'snap-1',
      implementation: 'serf-ts' as const,
      bindPort: port,
      extraArgs: [`-snapshot=${snapshot}`],
      join: [peer.gossipAddr],
    };
    const agent = await ReferenceAgent.start(args);
    await peer.waitForMember('snap-1', 'alive');
    await agent.kill();
    await peer.waitForMember('snap-1', 'failed', 30_000);

    // No -join this time: the snapshot alone must lead it back.
    const again = await ReferenceAgent.start({ ...args, join: [] });
    await peer.waitForMember('snap-1', 'alive', 30_000);
    await again.waitForOutput(/Attempting re-join to previously known node: snap-peer/, { timeoutMs: 5_000 });
  });

  it('retry-join gives up after the maximum attempts', async () => {
    const deadPort = await freePort();
    const agent = await ReferenceAgent.start({
      name: 'retry-1',
      implementation: 'serf-ts',
      extraArgs: [`-retry-join=127.0.0.1:${deadPort}`, '-retry-interval=1s', '-retry-max=2'],
    });
    assert.equal(await agent.exited, 1);
    assert.ok(agent.output.some((l) => l.includes('maximum retry join attempts made, exiting')));
  });

  it('RPC auth rejects clients without the token', async () => {
    const agent = await ReferenceAgent.start({
      name: 'auth-1',
      implementation: 'serf-ts',
      rpcAuth: 's3cret',
    });
    const ok = await agent.cli(['members']);
    assert.equal(ok.code, 0, ok.stdout);
    const { runReferenceCli } = await import('../helpers/reference.js');
    const denied = await runReferenceCli(['members', `-rpc-addr=${agent.rpcAddr}`]);
    assert.equal(denied.code, 1);
    assert.match(denied.stdout, /Authentication required/);
  });
});
