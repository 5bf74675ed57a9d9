/**
 * A serf-ts Serf node (the library) in a cluster of reference Go Serf agents, plain and encrypted:
 * user events and queries both ways, filters, tag changes both ways, failure, force-leave and a
 * graceful leave, and (encrypted) key rotation driven from either side.
 */

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeKey, Keyring } from '../../src/security/keyring.js';
import type { QueryEvent, SerfEvent } from '../../src/serf/events.js';
import { Serf } from '../../src/serf/serf.js';
import { freePort } from '../helpers/ports.js';
import { cleanupAgents, ReferenceAgent, runReferenceCli } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

const nodes: Serf[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.shutdown()));
  await cleanupAgents();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** A handler script that appends every event to a log file and responds to queries with its name. */
async function handlerScript(dir: string): Promise<{ script: string; log: string }> {
  const log = join(dir, 'events.log');
  const script = join(dir, 'handler.sh');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      `payload=$(cat)`,
      `echo "$SERF_SELF_NAME $SERF_EVENT $SERF_USER_EVENT$SERF_QUERY_NAME $payload" >> ${log}`,
      'if [ "$SERF_EVENT" = "query" ]; then printf "answer-from-%s" "$SERF_SELF_NAME"; fi',
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  await writeFile(log, '');
  return { script, log };
}

async function logLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
}

async function startSerf(
  name: string,
  key: string | undefined,
  tags: Record<string, string>,
): Promise<{ serf: Serf; events: SerfEvent[] }> {
  const events: SerfEvent[] = [];
  const keyring = key ? new Keyring([decodeKey(key)], decodeKey(key)) : undefined;
  const serf = await Serf.create(
    {
      nodeName: name,
      tags,
      protocolVersion: 5,
      profile: 'local',
      memberlist: { bindAddr: '127.0.0.1', bindPort: await freePort('127.0.0.1') },
    },
    { ...(keyring ? { keyring } : {}), onEvent: (e) => events.push(e) },
  );
  nodes.push(serf);
  return { serf, events };
}

for (const encrypted of [false, true]) {
  describe(`Serf interop with reference agents (${encrypted ? 'encrypted' : 'plain'})`, () => {
    it('events, queries, tags, failure, force-leave and leave agree on both sides', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'serf-interop-'));
      dirs.push(dir);
      const key = encrypted ? (await runReferenceCli(['keygen'])).stdout.trim() : undefined;
      const hA = await handlerScript(await mkdtemp(join(dir, 'a-')));
      const hB = await handlerScript(await mkdtemp(join(dir, 'b-')));
      const refA = await ReferenceAgent.start({
        name: 'ref-a',
        encryptKey: key,
        tags: { role: 'web' },
        eventHandlers: [hA.script],
      });
      const refB = await ReferenceAgent.start({
        name: 'ref-b',
        encryptKey: key,
        tags: { role: 'db' },
        eventHandlers: [hB.script],
        join: [refA.gossipAddr],
      });
      const ts = await startSerf('ts-1', key, { role: 'cache', zone: 'z1' });

      assert.equal(await ts.serf.join([refA.gossipAddr]), 1);
      await refA.waitForMember('ts-1', 'alive');
      await refB.waitForMember('ts-1', 'alive');
      await waitFor(() => ts.serf.members().filter((m) => m.status === 'alive').length === 3, {
        timeoutMs: 20_000,
        message: 'ts-1 sees three alive members',
      });
      const seen = (await refB.members()).find((m) => m.name === 'ts-1');
      assert.deepEqual(seen?.tags, { role: 'cache', zone: 'z1' });
      assert.deepEqual(seen?.protocol, { min: 2, max: 5, version: 5 });
      assert.deepEqual(ts.serf.members().find((m) => m.name === 'ref-b')?.tags, { role: 'db' });

      // A user event from Go reaches serf-ts once.
      const fired = await refA.cli(['event', '-coalesce=false', 'from-go', 'go-payload']);
      assert.equal(fired.code, 0, fired.stdout);
      await waitFor(() => ts.events.some((e) => e.type === 'user' && e.name === 'from-go'), {
        timeoutMs: 15_000,
        message: 'serf-ts receives the Go user event',
      });

      // A user event from serf-ts reaches every Go handler once.
      await ts.serf.userEvent('from-ts', text('ts-payload'), { coalesce: false });
      for (const h of [hA, hB]) {
        await waitFor(
          async () => (await logLines(h.log)).some((l) => l.includes('user from-ts ts-payload')),
          {
            timeoutMs: 15_000,
            message: `Go handler ${h.log} runs for the serf-ts event`,
          },
        );
      }

      // A query from Go gets a serf-ts response, unless a node filter leaves serf-ts out.
      ts.serf.onEvent((e) => {
        if (e.type === 'query' && e.name === 'whoami')
          void (e as QueryEvent).respond(text(`ts-answer:${str(e.payload)}`));
      });
      const q = await refA.cli(['query', '-format=json', '-timeout=3s', 'whoami', 'hi']);
      assert.equal(q.code, 0, q.stdout);
      const qJson = JSON.parse(q.stdout) as { Acks: string[]; Responses: Record<string, string> };
      assert.equal(qJson.Responses['ts-1'], 'ts-answer:hi');
      assert.ok(qJson.Acks.includes('ts-1'));
      const filtered = await refA.cli(['query', '-format=json', '-timeout=2s', '-node=ref-b', 'whoami']);
      const fJson = JSON.parse(filtered.stdout) as { Acks: string[]; Responses: Record<string, string> };
      assert.equal(fJson.Responses['ts-1'], undefined);
      assert.ok(!fJson.Acks.includes('ts-1'));

      // A query from serf-ts gets Go handler responses, and the tag filter keeps only role=db.
      const all = await ts.serf.query('ask', text('p'), { requestAck: true, timeoutMs: 3_000 }).collect();
      assert.equal(str(all.responses.get('ref-a')!), 'answer-from-ref-a');
      assert.equal(str(all.responses.get('ref-b')!), 'answer-from-ref-b');
      assert.deepEqual(all.acks.sort(), ['ref-a', 'ref-b', 'ts-1']);
      const byTag = await ts.serf
        .query('ask', null, { filterTags: { role: '^d' }, timeoutMs: 2_000 })
        .collect();
      assert.deepEqual([...byTag.responses.keys()], ['ref-b']);

      // Tag changes both ways.
      await ts.serf.setTags({ role: 'cache', zone: 'z2' });
      await waitFor(async () => (await refA.members()).find((m) => m.name === 'ts-1')?.tags.zone === 'z2', {
        timeoutMs: 15_000,
        message: 'Go agent sees the new serf-ts tag',
      });
      const tagged = await refA.cli(['tags', '-set', 'rack=r7']);
      assert.equal(tagged.code, 0, tagged.stdout);
      await waitFor(() => ts.serf.members().find((m) => m.name === 'ref-a')?.tags.rack === 'r7', {
        timeoutMs: 15_000,
        message: 'serf-ts sees the new Go tag',
      });

      // A Go agent crashes: failed everywhere; force-leave from serf-ts: left everywhere.
      await refB.kill();
      await waitFor(() => ts.serf.members().find((m) => m.name === 'ref-b')?.status === 'failed', {
        timeoutMs: 30_000,
        message: 'serf-ts marks ref-b failed',
      });
      await refA.waitForMember('ref-b', 'failed', 30_000);
      await ts.serf.forceLeave('ref-b');
      await refA.waitForMember('ref-b', 'left', 15_000);
      assert.equal(ts.serf.members().find((m) => m.name === 'ref-b')?.status, 'left');

      // Each event reached each Go handler exactly once.
      const aLines = await logLines(hA.log);
      assert.equal(aLines.filter((l) => l.includes('user from-ts')).length, 1);
      assert.equal(ts.events.filter((e) => e.type === 'user' && e.name === 'from-go').length, 1);

      // serf-ts leaves gracefully: left on the Go side.
      await ts.serf.leave();
      await refA.waitForMember('ts-1', 'left', 15_000);
      await ts.serf.shutdown();
    });
  });
}

describe('key rotation across serf-ts and Go agents', () => {
  it('keys -install/-use/-remove from Go and the serf-ts key manager reach every node', async () => {
    const oldKey = (await runReferenceCli(['keygen'])).stdout.trim();
    const newKey = (await runReferenceCli(['keygen'])).stdout.trim();
    const refA = await ReferenceAgent.start({ name: 'kref-a', encryptKey: oldKey });
    const refB = await ReferenceAgent.start({ name: 'kref-b', encryptKey: oldKey, join: [refA.gossipAddr] });
    const ts = await startSerf('kts-1', oldKey, {});
    await ts.serf.join([refA.gossipAddr]);
    await refB.waitForMember('kts-1', 'alive');
    await waitFor(() => ts.serf.numMembers() === 3, { timeoutMs: 15_000, message: 'three members' });

    const list = await refA.cli(['keys', '-list']);
    assert.equal(list.code, 0, list.stdout);
    assert.match(list.stdout, new RegExp(`${oldKey.replace(/[+/=]/g, '\\$&')}\\s+\\[3/3\\]`));

    const install = await refA.cli(['keys', '-install', newKey]);
    assert.equal(install.code, 0, install.stdout);
    assert.equal(ts.serf.keyring!.size, 2);

    const use = await ts.serf.keyManager.useKey(newKey);
    assert.equal(use.error, undefined, JSON.stringify(use));
    assert.equal(use.numResp, 3);

    const removePrimary = await refA.cli(['keys', '-remove', newKey]);
    assert.equal(removePrimary.code, 1);
    assert.match(removePrimary.stdout, /kts-1\s+Removing the primary key is not allowed/);

    const remove = await ts.serf.keyManager.removeKey(oldKey);
    assert.equal(remove.error, undefined, JSON.stringify(remove));
    const listed = await ts.serf.keyManager.listKeys();
    assert.deepEqual(Object.entries(listed.keys), [[newKey, 3]]);

    // Traffic still flows with the new key only.
    await ts.serf.userEvent('after-rotation', null, { coalesce: false });
    await refB.waitForOutput(/Received event: user-event: after-rotation/, { timeoutMs: 15_000 });
  });
});
