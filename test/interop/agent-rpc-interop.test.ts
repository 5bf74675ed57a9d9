/**
 * HashiCorp's `serf` CLI pointed at serf-ts agents prints what it prints against Go agents. Two
 * pairs of agents, one of each implementation, run the same commands; outputs are compared after
 * normalizing values that differ between any two runs (addresses, ports, timings, map order).
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CliResult, cleanupAgents, ReferenceAgent } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

after(cleanupAgents);

const KEY = 'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=';
const NEW_KEY = 'CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0=';

interface Pair {
  a: ReferenceAgent;
  b: ReferenceAgent;
}

/** Replaces addresses, ports and numbers that legitimately differ between the two clusters. */
function normalize(text: string): string {
  return text
    .replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR')
    .replace(/\d+\.\d+ ?(ms|sec)/g, 'N $1')
    .replace(/\b(ts|go)-/g, 'X-')
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .sort()
    .join('\n');
}

function same(ts: CliResult, go: CliResult, label: string): void {
  assert.equal(
    ts.code,
    go.code,
    `${label}: exit code (serf-ts ${ts.code}, Go ${go.code})\n${ts.stdout}\n---\n${go.stdout}`,
  );
  assert.equal(normalize(ts.stdout), normalize(go.stdout), `${label}: stdout`);
}

async function startPair(prefix: 'ts' | 'go'): Promise<Pair> {
  const implementation = prefix === 'ts' ? 'serf-ts' : 'reference';
  const a = await ReferenceAgent.start({
    name: `${prefix}-a`,
    implementation,
    profile: 'lan',
    encryptKey: KEY,
    tags: { role: 'web' },
  });
  const b = await ReferenceAgent.start({
    name: `${prefix}-b`,
    implementation,
    profile: 'lan',
    encryptKey: KEY,
    tags: { role: 'db' },
    join: [a.gossipAddr],
  });
  await a.waitForMember(`${prefix}-b`, 'alive');
  return { a, b };
}

describe('Go CLI against serf-ts agents', { timeout: 120_000 }, () => {
  let ts: Pair;
  let go: Pair;

  before(async () => {
    [ts, go] = await Promise.all([startPair('ts'), startPair('go')]);
  });

  async function both(args: string[], who: (p: Pair) => ReferenceAgent = (p) => p.a) {
    const [t, g] = await Promise.all([who(ts).cli(args), who(go).cli(args)]);
    return { t, g };
  }

  it('members in every form', async () => {
    for (const args of [
      ['members'],
      ['members', '-detailed'],
      ['members', '-status=alive'],
      ['members', '-tag', 'role=w.*'],
      ['members', '-name=.*-b'],
    ]) {
      const { t, g } = await both(args);
      same(t, g, args.join(' '));
    }
    const { t, g } = await both(['members', '-format=json']);
    assert.equal(t.code, 0);
    const shape = (out: string) =>
      (JSON.parse(out) as { members: Record<string, unknown>[] }).members.map((m) =>
        Object.keys(m).join(','),
      );
    assert.deepEqual(shape(t.stdout), shape(g.stdout));
  });

  it('info, rtt and reachability', async () => {
    const info = await both(['info']);
    assert.equal(info.t.code, 0, info.t.stdout);
    const sections = (out: string) => out.split('\n').filter((l) => /^\S.*:$/.test(l));
    assert.deepEqual(sections(info.t.stdout), sections(info.g.stdout));
    const keys = (out: string) =>
      out
        .split('\n')
        .filter((l) => l.startsWith('\t') && !l.includes('runtime'))
        .map((l) => l.split('=')[0]!.trim())
        .filter((k) => !['goroutines', 'version', 'max_procs', 'os', 'arch', 'cpu_count'].includes(k))
        .sort();
    assert.deepEqual(keys(info.t.stdout), keys(info.g.stdout));

    await waitFor(async () => (await ts.a.cli(['rtt', 'ts-b'])).code === 0, {
      timeoutMs: 20_000,
      message: 'serf-ts agent has a coordinate for its peer',
    });
    await waitFor(async () => (await go.a.cli(['rtt', 'go-b'])).code === 0, {
      timeoutMs: 20_000,
      message: 'Go agent has a coordinate for its peer',
    });
    const rtt = await Promise.all([ts.a.cli(['rtt', 'ts-b']), go.a.cli(['rtt', 'go-b'])]);
    same(rtt[0], rtt[1], 'rtt');

    const reach = await both(['reachability']);
    same(reach.t, reach.g, 'reachability');
  });

  it('event, query and tags', async () => {
    const ev = await both(['event', 'deploy', 'v1']);
    same(ev.t, ev.g, 'event');
    const q = await both(['query', '-timeout=2s', 'nobody-answers']);
    same(q.t, q.g, 'query');
    const qj = await both(['query', '-format=json', '-timeout=2s', '-no-ack', 'nobody-answers']);
    assert.equal(qj.t.code, 0, qj.t.stdout);
    assert.deepEqual(Object.keys(JSON.parse(qj.t.stdout)), Object.keys(JSON.parse(qj.g.stdout)));
    const tags = await both(['tags', '-set', 'zone=z1', '-delete', 'role']);
    same(tags.t, tags.g, 'tags');
    await waitFor(async () => (await ts.b.members()).find((m) => m.name === 'ts-a')?.tags.zone === 'z1', {
      timeoutMs: 15_000,
      message: 'the tag change spreads in the serf-ts pair',
    });
  });

  it('keys list, install, use, remove and errors', async () => {
    for (const args of [
      ['keys', '-list'],
      ['keys', '-install', NEW_KEY],
      ['keys', '-use', NEW_KEY],
      ['keys', '-remove', NEW_KEY],
      ['keys', '-use', KEY],
      ['keys', '-remove', NEW_KEY],
      ['keys', '-use', 'bm90LWEta2V5'],
    ]) {
      const { t, g } = await both(args);
      same(t, g, args.join(' '));
    }
  });

  it('force-leave, join and leave', async () => {
    const fl = await both(['force-leave', 'nosuch']);
    same(fl.t, fl.g, 'force-leave');
    const badJoin = await both(['join', '127.0.0.1:1']);
    assert.equal(badJoin.t.code, badJoin.g.code);
    const leave = await both(['leave'], (p) => p.b);
    same(leave.t, leave.g, 'leave');
    await ts.a.waitForMember('ts-b', 'left', 20_000);
    assert.equal(await ts.b.exited, 0);
  });
});
