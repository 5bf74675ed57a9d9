// Runs the serf-ts CLI (main() in-process, with the real RPC client) and the reference Go CLI with
// the same arguments against the same reference agents, and compares what they print. Values
// that legitimately differ between two runs (map order, timings, counters) are normalized.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { Capture } from '../cli/fake-client.js';
import { type CliResult, cleanupAgents, ReferenceAgent } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

/** Runs serf-ts `serf <args>` against `agent`, with `-rpc-addr` inserted after the subcommand. */
async function ours(agent: ReferenceAgent, args: string[], signal?: AbortSignal): Promise<CliResult> {
  const [command = '', ...rest] = args;
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main([command, `-rpc-addr=${agent.rpcAddr}`, ...rest], {
    stdout,
    stderr,
    env: {},
    ...(signal === undefined ? {} : { signal }),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Runs both CLIs with the same arguments (concurrently, since queries wait for their timeout). */
async function both(agent: ReferenceAgent, args: string[]): Promise<{ ts: CliResult; go: CliResult }> {
  const [ts, go] = await Promise.all([ours(agent, args), agent.cli(args)]);
  return { ts, go };
}

/** Sorts the comma-separated tags of each member row in place (same length, so alignment holds) and sorts the rows. */
function normalizeMemberRows(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/(\S+=\S*(?:,\S+=\S*)*)/, (tags) => tags.split(',').sort().join(',')))
    .sort();
}

/** Sorts the lines between the first line and the totals, where acks and responses arrive in any order. */
function normalizeQueryText(text: string): string[] {
  return text.split('\n').sort();
}

/** Replaces `info` values with a placeholder, keeping the sections and keys. */
function infoShape(text: string): string {
  return text.replace(/ = .*$/gm, ' = <value>');
}

function assertSameResult(ts: CliResult, go: CliResult, label: string): void {
  assert.equal(ts.code, go.code, `${label}: exit code`);
  assert.equal(ts.stderr, go.stderr, `${label}: stderr`);
}

const K1 = 'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=';
const K2 = 'CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0=';

after(cleanupAgents);

describe('serf-ts CLI against reference agents', { timeout: 90_000 }, () => {
  let alpha: ReferenceAgent;
  let beta: ReferenceAgent;
  let gamma: ReferenceAgent;
  let delta: ReferenceAgent;

  before(async () => {
    [alpha, gamma] = await Promise.all([
      ReferenceAgent.start({ profile: 'lan', name: 'alpha', tags: { role: 'web', dc: 'east' } }),
      ReferenceAgent.start({ profile: 'lan', name: 'gamma', encryptKey: K1 }),
    ]);
    [beta, delta] = await Promise.all([
      ReferenceAgent.start({ profile: 'lan', name: 'beta', tags: { role: 'db' } }),
      ReferenceAgent.start({ profile: 'lan', name: 'delta', encryptKey: K1, join: [gamma.gossipAddr] }),
    ]);
  });

  it('join', async () => {
    const ts = await ours(alpha, ['join', beta.gossipAddr]);
    assert.equal(ts.stdout, 'Successfully joined cluster by contacting 1 nodes.\n');
    assert.equal(ts.code, 0);
    const go = await alpha.cli(['join', beta.gossipAddr]);
    assert.equal(ts.stdout, go.stdout);
    await alpha.waitForMember('beta', 'alive');
    await beta.waitForMember('alpha', 'alive');
  });

  it('join failure', async () => {
    const { ts, go } = await both(alpha, ['join', '127.0.0.1:1']);
    assertSameResult(ts, go, 'join');
    assert.equal(ts.stdout, go.stdout);
    assert.equal(ts.code, 1);
  });

  it('members in every form', async () => {
    const forms = [
      [],
      ['-detailed'],
      ['-status=alive', '-tag', 'role=db'],
      ['-name=al.*'],
      ['-name=nobody'],
      ['-role=web'],
      ['-tag', 'role'],
      ['-format=xml'],
    ];
    for (const form of forms) {
      const { ts, go } = await both(alpha, ['members', ...form]);
      assertSameResult(ts, go, `members ${form.join(' ')}`);
      assert.deepEqual(
        normalizeMemberRows(ts.stdout),
        normalizeMemberRows(go.stdout),
        `members ${form.join(' ')}`,
      );
    }

    const { ts, go } = await both(alpha, ['members', '-format=json']);
    assertSameResult(ts, go, 'members -format=json');
    const byName = (text: string) =>
      (JSON.parse(text) as { members: Array<{ name: string }> }).members.sort((a, b) =>
        a.name.localeCompare(b.name),
      );
    assert.deepEqual(byName(ts.stdout), byName(go.stdout));
    const emptyJson = await both(alpha, ['members', '-format=json', '-name=nobody']);
    assert.equal(emptyJson.ts.stdout, emptyJson.go.stdout);
  });

  it('event', async () => {
    for (const args of [
      ['event', 'deploy', 'build-1'],
      ['event', '-coalesce=false', 'restart', 'svc'],
      ['event', 'noop'],
    ]) {
      const { ts, go } = await both(alpha, args);
      assertSameResult(ts, go, args.join(' '));
      assert.equal(ts.stdout, go.stdout);
    }
  });

  it('query text, json, filters and no-ack', async () => {
    const text = await both(alpha, ['query', '-timeout=400ms', 'q1', 'payload']);
    assertSameResult(text.ts, text.go, 'query');
    assert.deepEqual(normalizeQueryText(text.ts.stdout), normalizeQueryText(text.go.stdout));
    assert.match(text.ts.stdout, /^Query 'q1' dispatched\n/);
    assert.match(text.ts.stdout, /Total Acks: 2\nTotal Responses: 0\n$/);

    const json = await both(alpha, ['query', '-format=json', '-timeout=400ms', 'q2']);
    const parse = (out: string) => {
      const parsed = JSON.parse(out) as { Acks: string[] | null; Responses: Record<string, string> };
      return { acks: [...(parsed.Acks ?? [])].sort(), responses: parsed.Responses };
    };
    assert.deepEqual(parse(json.ts.stdout), parse(json.go.stdout));
    assert.deepEqual(parse(json.ts.stdout).acks, ['alpha', 'beta']);

    const byNode = await both(alpha, ['query', '-node=beta', '-timeout=400ms', 'q3']);
    assert.equal(byNode.ts.stdout, byNode.go.stdout);
    assert.equal(
      byNode.ts.stdout,
      "Query 'q3' dispatched\nAck from 'beta'\nTotal Acks: 1\nTotal Responses: 0\n",
    );

    const byTag = await both(alpha, ['query', '-tag', 'role=w.b', '-timeout=400ms', 'q4']);
    assert.equal(byTag.ts.stdout, byTag.go.stdout);
    assert.match(byTag.ts.stdout, /Ack from 'alpha'/);

    const noAck = await both(alpha, ['query', '-no-ack', '-timeout=400ms', 'q5']);
    assert.equal(noAck.ts.stdout, noAck.go.stdout);
    assert.equal(noAck.ts.stdout, "Query 'q5' dispatched\nTotal Responses: 0\n");
  });

  it('info', async () => {
    const text = await both(alpha, ['info']);
    assertSameResult(text.ts, text.go, 'info');
    assert.equal(infoShape(text.ts.stdout), infoShape(text.go.stdout));
    assert.match(text.ts.stdout, /^agent:\n\tname = alpha\n/);

    const json = await both(alpha, ['info', '-format=json']);
    const shape = (out: string) =>
      Object.entries(JSON.parse(out) as Record<string, Record<string, string>>).map(([section, values]) => [
        section,
        Object.keys(values),
      ]);
    assert.deepEqual(shape(json.ts.stdout), shape(json.go.stdout));
  });

  it('rtt with one and two nodes', async () => {
    for (const args of [
      ['rtt', 'beta'],
      ['rtt', 'alpha', 'beta'],
      ['rtt', 'nobody'],
    ]) {
      const { ts, go } = await both(alpha, args);
      assertSameResult(ts, go, args.join(' '));
      const pattern = /(\d+\.\d{3}) ms/;
      assert.equal(ts.stdout.replace(pattern, 'N ms'), go.stdout.replace(pattern, 'N ms'), args.join(' '));
    }
  });

  it('tags set and delete', async () => {
    const ts = await ours(beta, ['tags', '-set', 'version=1.0.1', '-set', 'zone=z1', '-delete', 'role']);
    assert.equal(ts.stdout, 'Successfully updated agent tags\n');
    assert.equal(ts.code, 0);
    await waitFor(
      async () => {
        const member = (await alpha.members()).find((m) => m.name === 'beta');
        return (
          member?.tags.version === '1.0.1' && member.tags.zone === 'z1' && member.tags.role === undefined
        );
      },
      { timeoutMs: 10_000, message: 'alpha did not see the new tags of beta' },
    );
    const go = await beta.cli(['tags', '-delete', 'zone']);
    assert.equal(go.stdout, ts.stdout);

    const bad = await both(beta, ['tags', '-set', 'novalue']);
    assertSameResult(bad.ts, bad.go, 'tags -set novalue');
    assert.equal(bad.ts.stdout, bad.go.stdout);
  });

  it('reachability', async () => {
    const { ts, go } = await both(alpha, ['reachability']);
    assertSameResult(ts, go, 'reachability');
    assert.equal(ts.stdout, go.stdout);
    assert.equal(
      ts.stdout,
      'Total members: 2, live members: 2\nStarting reachability test...\nSuccessfully contacted all live nodes\n',
    );

    const verbose = await ours(alpha, ['reachability', '-verbose']);
    assert.match(verbose.stdout, /\tAck from 'beta'\n/);
    assert.match(verbose.stdout, /Query time: \d+\.\d{2} sec, time to last response: \d+\.\d{2} sec\n/);
  });

  it('monitor until aborted', async () => {
    const controller = new AbortController();
    const stdout = new Capture();
    const running = main(['monitor', `-rpc-addr=${alpha.rpcAddr}`, '-log-level=debug'], {
      stdout,
      stderr: new Capture(),
      env: {},
      signal: controller.signal,
    });
    await waitFor(() => /\[(DEBUG|INFO)\] /.test(stdout.text), {
      timeoutMs: 5_000,
      message: 'no log line streamed',
    });
    const sent = await beta.cli(['event', 'mon-evt', 'hi']);
    assert.equal(sent.code, 0);
    await waitFor(() => stdout.text.includes('\tName: "mon-evt"'), {
      timeoutMs: 10_000,
      message: `monitor printed no event:\n${stdout.text}`,
    });
    controller.abort();
    assert.equal(await running, 0);
    assert.match(stdout.text, /Event Info:\n(\t\w+: .*\n)*\tPayload: \[\]byte\{0x68, 0x69\}\n/);
  });

  it('keys on an encrypted pair', async () => {
    const listed = await both(gamma, ['keys', '-list']);
    assertSameResult(listed.ts, listed.go, 'keys -list');
    assert.equal(listed.ts.stdout, listed.go.stdout);
    assert.equal(
      listed.ts.stdout,
      `==> Asking all members for installed keys...\n==> Keys gathered, listing cluster keys...\n\n${K1}  [2/2]\n`,
    );

    const install = await ours(gamma, ['keys', '-install', K2]);
    assert.equal(install.stdout, '==> Installing key on all members...\n==> Successfully installed key!\n');
    const twoKeys = await both(gamma, ['keys', '-list']);
    assert.deepEqual(twoKeys.ts.stdout.split('\n').sort(), twoKeys.go.stdout.split('\n').sort());

    const use = await ours(gamma, ['keys', '-use', K2]);
    assert.equal(
      use.stdout,
      '==> Changing primary key on all members...\n==> Successfully changed primary key!\n',
    );
    assert.equal(use.code, 0);

    const removePrimary = await both(gamma, ['keys', '-remove', K2]);
    assertSameResult(removePrimary.ts, removePrimary.go, 'keys -remove primary');
    assert.equal(removePrimary.ts.code, 1);
    assert.deepEqual(removePrimary.ts.stdout.split('\n').sort(), removePrimary.go.stdout.split('\n').sort());
    assert.match(removePrimary.ts.stdout, /\n\nError removing key: 2\/2 nodes reported failure\n$/);
    assert.match(removePrimary.ts.stdout, /failed: {2}gamma {2}Removing the primary key is not allowed\n/);

    const remove = await ours(gamma, ['keys', '-remove', K1]);
    assert.equal(remove.stdout, '==> Removing key on all members...\n==> Successfully removed key!\n');
    const finalList = await both(gamma, ['keys', '-list']);
    assert.equal(finalList.ts.stdout, finalList.go.stdout);
    assert.match(finalList.ts.stdout, new RegExp(`\n${K2.replace(/[+/]/g, '\\$&')}  \\[2/2\\]\n$`));

    const plain = await both(alpha, ['keys', '-list']);
    assertSameResult(plain.ts, plain.go, 'keys -list unencrypted');
    assert.deepEqual(plain.ts.stdout.split('\n').sort(), plain.go.stdout.split('\n').sort());
  });

  it('force-leave of a failed member', async () => {
    const unknown = await both(alpha, ['force-leave', 'nobody']);
    assertSameResult(unknown.ts, unknown.go, 'force-leave nobody');
    assert.equal(unknown.ts.stdout, '');

    await beta.kill();
    await alpha.waitForMember('beta', 'failed');
    const ts = await ours(alpha, ['force-leave', 'beta']);
    assert.equal(ts.code, 0);
    assert.equal(ts.stdout, '');
    await alpha.waitForMember('beta', 'left');
  });

  it('connection refused', async () => {
    const stdout = new Capture();
    const code = await main(['members', '-rpc-addr=127.0.0.1:1'], { stdout, stderr: new Capture(), env: {} });
    const go = await alpha.cli(['members', '-rpc-addr=127.0.0.1:1']);
    assert.equal(code, go.code);
    assert.equal(stdout.text, go.stdout);
  });

  it('leave', async () => {
    const ts = await ours(gamma, ['leave']);
    const go = await delta.cli(['leave']);
    assert.equal(ts.stdout, 'Graceful leave complete\n');
    assert.equal(ts.stdout, go.stdout);
    assert.equal(ts.code, 0);
    assert.equal(await gamma.exited, 0);
  });
});
