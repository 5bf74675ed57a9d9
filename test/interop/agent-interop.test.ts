/**
 * A mixed cluster started from the command line: two reference Go agents and two serf-ts agents,
 * all with `-encrypt` and an event handler. Members agree; user events and queries flow both ways
 * through the handlers; SIGINT on a serf-ts agent shows it left everywhere, SIGKILL failed.
 */

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAgents, ReferenceAgent, runReferenceCli } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
after(async () => {
  await cleanupAgents();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function writeHandler(path: string, log: string): Promise<void> {
  await writeFile(
    path,
    [
      '#!/bin/sh',
      'payload=$(cat | tr "\\n" " ")',
      `echo "$SERF_SELF_NAME|$SERF_EVENT|$SERF_USER_EVENT$SERF_QUERY_NAME|$payload" >> ${log}`,
      'if [ "$SERF_EVENT" = "query" ]; then printf "pong-%s" "$SERF_SELF_NAME"; fi',
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
}

async function lines(log: string): Promise<string[]> {
  return (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
}

describe('mixed cluster of Go and serf-ts agents', () => {
  it('agrees on members, events, queries, leave and failure', async () => {
    dir = await mkdtemp(join(tmpdir(), 'serf-mixed-'));
    const key = (await runReferenceCli(['keygen'])).stdout.trim();
    const log = join(dir, 'events.log');
    const handler = join(dir, 'handler.sh');
    await writeHandler(handler, log);

    const common = { encryptKey: key, eventHandlers: [handler] };
    const go1 = await ReferenceAgent.start({ name: 'go-1', ...common });
    const ts1 = await ReferenceAgent.start({
      name: 'ts-1',
      implementation: 'serf-ts',
      ...common,
      join: [go1.gossipAddr],
    });
    const go2 = await ReferenceAgent.start({ name: 'go-2', ...common, join: [ts1.gossipAddr] });
    const ts2 = await ReferenceAgent.start({
      name: 'ts-2',
      implementation: 'serf-ts',
      ...common,
      join: [go2.gossipAddr],
    });
    const all = [go1, ts1, go2, ts2];
    const names = all.map((a) => a.name).sort();

    assert.ok(
      ts1.output.some((l) => l.includes('Encrypted: true')),
      'serf-ts banner says Encrypted: true',
    );
    for (const agent of all) {
      await waitFor(
        async () => {
          const members = await agent.members();
          return (
            members
              .filter((m) => m.status === 'alive')
              .map((m) => m.name)
              .sort()
              .join(',') === names.join(',')
          );
        },
        { timeoutMs: 30_000, message: `${agent.name} lists all four members alive` },
      );
    }

    // User events both ways, each handled once per node.
    assert.equal((await ts1.cli(['event', '-coalesce=false', 'from-ts', 'p1'])).code, 0);
    assert.equal((await go1.cli(['event', '-coalesce=false', 'from-go', 'p2'])).code, 0);
    for (const event of ['from-ts', 'from-go']) {
      // Gossip is probabilistic: a member that missed every relay gets the event from the next
      // push/pull (every 15 s under the Local profile), so allow a few of those.
      await waitFor(
        async () => (await lines(log)).filter((l) => l.includes(`|user|${event}|`)).length === 4,
        {
          timeoutMs: 45_000,
          message: `${event} handled on all four nodes`,
        },
      );
    }

    // Queries both ways, answered by every node's handler.
    for (const origin of [ts2, go2]) {
      const q = await origin.cli(['query', '-format=json', '-timeout=4s', 'ping-all']);
      assert.equal(q.code, 0, q.stdout);
      const parsed = JSON.parse(q.stdout) as { Responses: Record<string, string> };
      for (const n of names)
        assert.equal(parsed.Responses[n], `pong-${n}`, `${origin.name} got ${n}'s answer`);
    }

    // SIGINT on a serf-ts agent: a graceful leave, seen as left everywhere.
    ts2.signal('SIGINT');
    assert.equal(await ts2.exited, 0);
    for (const agent of [go1, ts1, go2]) await agent.waitForMember('ts-2', 'left', 20_000);

    // SIGKILL on a serf-ts agent: seen as failed everywhere.
    await ts1.kill();
    for (const agent of [go1, go2]) await agent.waitForMember('ts-1', 'failed', 30_000);

    const dupes = (await lines(log)).filter((l) => l.includes('|user|from-ts|'));
    assert.equal(dupes.length, 4, 'no event ran twice on a node');
  });
});
