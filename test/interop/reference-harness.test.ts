// Checks the interop harness with reference Go agents only: start-up, join through the CLI, user
// event delivery and failure detection, in plain and encrypted clusters.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loopbackHost } from '../helpers/ports.js';
import { cleanupAgents, ReferenceAgent, referenceBinary, runReferenceCli } from '../helpers/reference.js';

after(cleanupAgents);

test('reference binary prints version', async () => {
  const result = await runReferenceCli(['version']);

  assert.equal(result.code, 0);
  const [versionLine, protocolLine] = result.stdout.split('\n');
  // The Debian build of Serf 0.9.4 reports itself as 0.8.2-dev.
  assert.match(versionLine ?? '', /^\d+\.\d+\.\d+(-dev)?$/);
  assert.equal(protocolLine, 'Agent Protocol: 5 (Understands back to: 2)');
  assert.ok(referenceBinary().length > 0);
});

test('keygen prints a 32-byte base64 key', async () => {
  const key = await generateKey();

  assert.equal(Buffer.from(key, 'base64').length, 32);
});

test('plain cluster joins, delivers events, detects failure', async () => {
  await exerciseCluster({ prefix: 'plain', firstHost: loopbackHost(0), secondHost: loopbackHost(1) });
});

test('encrypted cluster joins, delivers events, detects failure', async () => {
  const encryptKey = await generateKey();

  const first = await exerciseCluster({
    prefix: 'enc',
    firstHost: loopbackHost(2),
    secondHost: loopbackHost(3),
    encryptKey,
  });

  assert.ok(first.output.includes('                      Encrypted: true'));
});

test('agent without the key cannot join encrypted agent', async () => {
  const encryptKey = await generateKey();
  const secured = await ReferenceAgent.start({ name: 'keyed', bindHost: loopbackHost(4), encryptKey });
  const plain = await ReferenceAgent.start({ name: 'keyless', bindHost: loopbackHost(5) });

  const join = await plain.cli(['join', secured.gossipAddr]);

  assert.equal(join.code, 1);
  assert.match(join.stdout, /^Error joining the cluster: /);
  const members = await secured.members();
  assert.deepEqual(
    members.map((member) => member.name),
    ['keyed'],
  );
  await plain.kill();
  await secured.kill();
});

async function generateKey(): Promise<string> {
  const result = await runReferenceCli(['keygen']);
  assert.equal(result.code, 0);
  const key = result.stdout.trim();
  assert.match(key, /^[A-Za-z0-9+/]{43}=$/);
  return key;
}

interface ClusterCase {
  prefix: string;
  firstHost: string;
  secondHost: string;
  encryptKey?: string;
}

/**
 * Starts two agents, joins the second to the first with `serf join`, sends a user event from the
 * first to the second, then SIGKILLs the second and waits for the first to mark it failed.
 * Returns the first agent.
 */
async function exerciseCluster(options: ClusterCase): Promise<ReferenceAgent> {
  const firstName = `${options.prefix}-a`;
  const secondName = `${options.prefix}-b`;
  const first = await ReferenceAgent.start({
    name: firstName,
    bindHost: options.firstHost,
    encryptKey: options.encryptKey,
    tags: { role: 'web' },
  });
  const second = await ReferenceAgent.start({
    name: secondName,
    bindHost: options.secondHost,
    encryptKey: options.encryptKey,
  });

  const join = await second.cli(['join', first.gossipAddr]);
  assert.equal(join.code, 0, join.stdout);
  assert.equal(join.stdout, 'Successfully joined cluster by contacting 1 nodes.\n');

  await first.waitForMember(secondName, 'alive');
  await second.waitForMember(firstName, 'alive');

  const seenBySecond = await second.members();
  const firstEntry = seenBySecond.find((member) => member.name === firstName);
  assert.deepEqual(firstEntry, {
    name: firstName,
    addr: first.gossipAddr,
    port: Number(first.gossipAddr.split(':')[1]),
    tags: { role: 'web' },
    status: 'alive',
    protocol: { max: 5, min: 2, version: 5 },
  });

  const since = second.output.length;
  const event = await first.cli(['event', 'harness-check', 'payload-1']);
  assert.equal(event.code, 0, event.stdout);
  assert.equal(event.stdout, "Event 'harness-check' dispatched! Coalescing enabled: true\n");
  const received = await second.waitForOutput('[INFO] agent: Received event: user-event: harness-check', {
    since,
  });
  assert.match(
    received,
    /^ {4}\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[INFO\] agent: Received event: user-event: /,
  );

  await second.kill();
  assert.equal(await second.exited, null);

  await first.waitForMember(secondName, 'failed', 20_000);
  await first.waitForOutput(`[INFO] serf: EventMemberFailed: ${secondName} ${options.secondHost}`, {
    timeoutMs: 5_000,
  });

  await first.stop();
  assert.equal(await first.exited, 0);
  return first;
}
