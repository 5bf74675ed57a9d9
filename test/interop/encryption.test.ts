/**
 * Gossip encryption end to end, with serf-ts and reference Go agents started from the command line.
 * Covers online key rotation under load, clusters with different keys, partial failures during key
 * operations, keyring file persistence across a restart and `keys -rotate`. The last test checks
 * that no key text reaches a log or a CLI output that is not meant to print keys.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  type CliResult,
  cleanupAgents,
  ReferenceAgent,
  type ReferenceAgentOptions,
  serfTsBinary,
} from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

/** Every base64 key used in this file, for the leak check of the last test. */
const usedKeys = new Set<string>();

/** Every serf-ts agent started in this file; their output lines stay readable after they stop. */
const serfTsAgents: ReferenceAgent[] = [];

/** Outputs of serf-ts CLI runs that must not contain key text (all except `keys -list` and `keygen`). */
const keyFreeCliOutputs: { args: string[]; text: string }[] = [];

/** Agents stopped with SIGSTOP, resumed before cleanup so that no frozen process is left behind. */
const frozenAgents = new Set<ReferenceAgent>();

/** Lines that show a member was suspected or declared failed, in either implementation's log. */
const failurePattern = /EventMemberFailed|Suspect .* has failed|Marking .* as failed/;

/** serf-ts logs a stream it cannot decrypt as `Failed to receive: No installed keys could decrypt ...`. */
const decryptFailurePattern = /could decrypt|Decrypt packet failed/i;

let workDir = '';

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'serf-encryption-'));
});

afterEach(async () => {
  resumeFrozenAgents();
  await cleanupAgents();
});

after(async () => {
  resumeFrozenAgents();
  await cleanupAgents();
  if (workDir !== '') await rm(workDir, { recursive: true, force: true });
});

function resumeFrozenAgents(): void {
  for (const agent of frozenAgents) agent.signal('SIGCONT');
  frozenAgents.clear();
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Starts an agent with the LAN timing profile and records serf-ts agents for the leak check. */
async function startAgent(options: ReferenceAgentOptions): Promise<ReferenceAgent> {
  const agent = await ReferenceAgent.start({ profile: 'lan', ...options });
  if (options.implementation === 'serf-ts') serfTsAgents.push(agent);
  return agent;
}

/**
 * Runs serf-ts's `bin/serf` with `args` and returns its exit code and output. The process is
 * SIGKILLed by PID after `timeoutMs`. Outputs of commands other than `keys -list` and `keygen`
 * are kept for the leak check.
 */
function runSerfTsCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SERF_RPC_ADDR;
  delete env.SERF_RPC_AUTH;
  delete env.SERF_ENCRYPT_KEY;
  Object.assign(env, options.env);
  const timeoutMs = options.timeoutMs ?? 30_000;

  const child = spawn(process.execPath, [serfTsBinary(), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise<CliResult>((resolvePromise, rejectPromise) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      rejectPromise(
        new Error(`serf-ts ${args.join(' ')} could not be run: ${error.message}`, { cause: error }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const printsKeys = args[0] === 'keygen' || (args[0] === 'keys' && args.includes('-list'));
      if (!printsKeys) keyFreeCliOutputs.push({ args, text: stdout + stderr });
      if (code === null) {
        rejectPromise(
          new Error(
            `serf-ts ${args.join(' ')} was killed by ${signal}\nstdout: ${stdout}\nstderr: ${stderr}`,
          ),
        );
      } else {
        resolvePromise({ code, stdout, stderr });
      }
    });
  });
}

/** Runs serf-ts `serf <command> -rpc-addr=<agent> <rest>` against `agent`. */
function serfTsCli(agent: ReferenceAgent, args: string[], timeoutMs?: number): Promise<CliResult> {
  const [command = '', ...rest] = args;
  return runSerfTsCli([command, `-rpc-addr=${agent.rpcAddr}`, ...rest], { timeoutMs });
}

/** Generates a key with serf-ts `keygen` and records it as used. */
async function newKey(): Promise<string> {
  const result = await runSerfTsCli(['keygen']);
  assert.equal(result.code, 0, `keygen failed: ${result.stdout}${result.stderr}`);
  const key = result.stdout.trim();
  assert.match(key, /^[A-Za-z0-9+/]{43}=$/, 'keygen prints 32 bytes in padded base64');
  usedKeys.add(key);
  return key;
}

/** Writes an event handler that appends `node|event|name|payload` to `log` and responds to queries. */
async function writeHandler(name: string, log: string): Promise<string> {
  const path = join(workDir, name);
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
  return path;
}

interface HandlerLine {
  node: string;
  event: string;
  name: string;
}

async function readHandlerLog(log: string): Promise<HandlerLine[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [node = '', event = '', name = ''] = line.split('|');
      return { node, event, name };
    });
}

/** Counts how often each node's handler ran for event (or query) `name`. */
function handlerCounts(lines: HandlerLine[], name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    if (line.name === name) counts.set(line.node, (counts.get(line.node) ?? 0) + 1);
  }
  return counts;
}

/** Waits until every handler in `nodes` has run for `name` at least once. */
async function waitForHandlers(
  log: string,
  name: string,
  nodes: string[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => {
      const counts = handlerCounts(await readHandlerLog(log), name);
      const missing = nodes.filter((node) => !counts.has(node));
      if (missing.length > 0) throw new Error(`missing on ${missing.join(', ')}`);
      return true;
    },
    { timeoutMs, message: `${name} did not reach every handler` },
  );
}

/** Waits until each agent lists exactly `agents` as members, all alive. */
async function waitForAllAlive(agents: ReferenceAgent[], timeoutMs = 30_000): Promise<void> {
  const expected = agents.map((agent) => agent.name).sort();
  for (const agent of agents) {
    await waitFor(
      async () => {
        const members = await agent.members();
        const alive = members.filter((member) => member.status === 'alive').map((member) => member.name);
        const listed = alive.sort().join(',');
        if (listed !== expected.join(',')) throw new Error(`alive: ${listed}`);
        return true;
      },
      { timeoutMs, message: `${agent.name} does not list ${expected.join(', ')} as alive` },
    );
  }
}

/** Returns `name:status` for every member `agent` lists, sorted. */
async function memberSummary(agent: ReferenceAgent): Promise<string[]> {
  return (await agent.members()).map((member) => `${member.name}:${member.status}`).sort();
}

/** Parses `keys -list` output into `key → "count/total"`. */
function parseKeyList(stdout: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^(\S+)\s+\[(\d+\/\d+)\]$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) keys.set(match[1], match[2]);
  }
  return keys;
}

/**
 * Runs `keys -list` against each agent (the serf-ts CLI for serf-ts agents, the reference CLI for
 * reference agents) and checks that every one reports exactly `expected`, each on `total` members.
 */
async function assertKeysEverywhere(
  agents: ReferenceAgent[],
  expected: string[],
  total = agents.length,
): Promise<void> {
  for (const agent of agents) {
    const list = () =>
      serfTsAgents.includes(agent) ? serfTsCli(agent, ['keys', '-list']) : agent.cli(['keys', '-list']);
    let result = await list();
    // NOTE: while the event stream saturates both CPU cores, one member now and then misses the
    // 3.2 s list deadline (seen about once in ten CI runs, on serf-ts and Go members alike). A
    // list only reads, so one retry is allowed; the rotation steps themselves are not retried.
    if (
      result.code !== 0 &&
      /no response before the query timed out|nodes reported success/.test(result.stdout)
    ) {
      result = await list();
    }
    assert.equal(result.code, 0, `keys -list on ${agent.name}: ${result.stdout}${result.stderr}`);
    const listed = parseKeyList(result.stdout);
    assert.deepEqual(
      [...listed.keys()].sort(),
      [...expected].sort(),
      `keys -list on ${agent.name} shows exactly the expected keys:\n${result.stdout}`,
    );
    for (const key of expected) {
      assert.equal(listed.get(key), `${total}/${total}`, `${agent.name}: key ${key} on every member`);
    }
  }
}

/** Returns the only key `keys -list` reports through `agent`, failing when there is not exactly one. */
async function singleClusterKey(agent: ReferenceAgent): Promise<string> {
  const result = await agent.cli(['keys', '-list']);
  assert.equal(result.code, 0, result.stdout);
  const keys = [...parseKeyList(result.stdout).keys()];
  assert.equal(keys.length, 1, `one key in the cluster:\n${result.stdout}`);
  return keys[0] ?? '';
}

/** Rotates from `oldKey` to `newKey` with install, use and remove, asserting that each step succeeds everywhere. */
async function rotateStepByStep(
  run: (args: string[]) => Promise<CliResult>,
  oldKey: string,
  newKey: string,
  label: string,
): Promise<void> {
  const steps: [string, RegExp][] = [
    [`-install=${newKey}`, /Successfully installed key!/],
    [`-use=${newKey}`, /Successfully changed primary key!/],
    [`-remove=${oldKey}`, /Successfully removed key!/],
  ];
  for (const [flag, success] of steps) {
    const result = await run(['keys', flag]);
    const step = flag.slice(0, flag.indexOf('='));
    assert.equal(result.code, 0, `${label} keys ${step}: ${result.stdout}${result.stderr}`);
    assert.match(result.stdout, success, `${label} keys ${step}`);
  }
}

/** Fails when any of `agents` logged that a member was suspected or declared failed. */
function assertNoFailureLines(agents: ReferenceAgent[]): void {
  for (const agent of agents) {
    const lines = agent.output.filter((line) => failurePattern.test(line));
    assert.deepEqual(lines, [], `${agent.name} logged no suspect or failed member`);
  }
}

/** Returns the serf-ts agent's decrypt-failure lines that name `host` as the source. */
function decryptFailureLines(agent: ReferenceAgent, host: string): string[] {
  return agent.output.filter((line) => decryptFailurePattern.test(line) && line.includes(`from=${host}:`));
}

/** Sends `count` datagrams that no key decrypts (version byte 1, random nonce and ciphertext). */
async function sendUndecryptablePackets(socket: Socket, target: string, count: number): Promise<void> {
  const [host = '', port = ''] = target.split(':');
  for (let i = 0; i < count; i++) {
    const packet = Buffer.alloc(80);
    packet[0] = 1;
    for (let j = 1; j < packet.length; j++) packet[j] = Math.floor(Math.random() * 256);
    await new Promise<void>((resolvePromise, rejectPromise) => {
      socket.send(packet, Number(port), host, (error) => (error ? rejectPromise(error) : resolvePromise()));
    });
  }
}

async function bindUdp(host: string): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolvePromise, rejectPromise) => {
    socket.once('error', rejectPromise);
    socket.bind({ address: host, port: 0 }, () => resolvePromise());
  });
  return socket;
}

function socketAddress(socket: Socket): string {
  const address = socket.address();
  return `${address.address}:${address.port}`;
}

/**
 * Sends one undecryptable datagram from a fresh socket on `markerHost` to `agent` and waits until
 * the agent logs it. The agent writes its log lines in order, so by then every line about packets
 * and streams it received before the marker has been captured.
 */
async function flushAgentLog(agent: ReferenceAgent, markerHost: string): Promise<void> {
  const marker = await bindUdp(markerHost);
  try {
    await sendUndecryptablePackets(marker, agent.gossipAddr, 1);
    await agent.waitForOutput(`from=${socketAddress(marker)}`, { timeoutMs: 10_000 });
  } finally {
    marker.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

// ---------------------------------------------------------------------------------------------
// Tests

describe('gossip encryption and key rotation', { timeout: 240_000 }, () => {
  it('rotates the key twice under load on a mixed cluster', async () => {
    const key0 = await newKey();
    const key1 = await newKey();
    const key2 = await newKey();
    const log = join(workDir, 'rotation-events.log');
    const handler = await writeHandler('rotation-handler.sh', log);
    const common = { encryptKey: key0, eventHandlers: [handler] };

    const ts1 = await startAgent({ name: 'rot-ts-1', implementation: 'serf-ts', ...common });
    const go1 = await startAgent({ name: 'rot-go-1', ...common, join: [ts1.gossipAddr] });
    const ts2 = await startAgent({
      name: 'rot-ts-2',
      implementation: 'serf-ts',
      ...common,
      join: [go1.gossipAddr],
    });
    const go2 = await startAgent({ name: 'rot-go-2', ...common, join: [ts2.gossipAddr] });
    const ts3 = await startAgent({
      name: 'rot-ts-3',
      implementation: 'serf-ts',
      ...common,
      join: [go2.gossipAddr],
    });
    const cluster = [ts1, go1, ts2, go2, ts3];
    const names = cluster.map((agent) => agent.name);
    await waitForAllAlive(cluster);
    const membersBefore = await Promise.all(cluster.map(memberSummary));

    // A bounded stream of user events (one every ~200 ms, from each node in turn) and queries,
    // running until both rotations are done and five more events went out after them.
    const maxEvents = 150;
    const eventNames: string[] = [];
    const eventFailures: string[] = [];
    const queries: Promise<{ name: string; origin: string; result: CliResult }>[] = [];
    let rotationsDone = false;
    let eventsAfterRotations = 0;
    let eventsDuringRotations = 0;
    let rotating = false;

    const stream = (async () => {
      for (let i = 0; i < maxEvents && eventsAfterRotations < 5; i++) {
        const origin = cluster[i % cluster.length]!;
        const name = `rot-ev-${i}`;
        const result = await origin.cli(['event', '-coalesce=false', name, `payload-${i}`]);
        if (result.code === 0) eventNames.push(name);
        else eventFailures.push(`${name} from ${origin.name}: ${result.stdout}${result.stderr}`);
        if (rotating) eventsDuringRotations++;
        if (rotationsDone) eventsAfterRotations++;

        if (i % 5 === 2) {
          const queryOrigin = cluster[(Math.floor(i / 5) + 1) % cluster.length]!;
          const queryName = `rot-q-${i}`;
          queries.push(
            serfTsCli(queryOrigin, ['query', '-format=json', '-timeout=3s', queryName]).then(
              (queryResult) => ({
                name: queryName,
                origin: queryOrigin.name,
                result: queryResult,
              }),
            ),
          );
        }
        await delay(200);
      }
    })();

    try {
      // Let the stream run for a moment before the first rotation starts.
      await waitFor(() => eventNames.length >= 3, { timeoutMs: 20_000, message: 'first events sent' });
      rotating = true;

      // Each key command waits for one more event, so events go out between all six steps.
      let eventsAtLastStep = eventNames.length;
      const afterNextEvent = async (command: () => Promise<CliResult>): Promise<CliResult> => {
        await waitFor(() => eventNames.length > eventsAtLastStep || eventFailures.length > 0, {
          timeoutMs: 20_000,
          message: 'the event stream sent another event',
        });
        eventsAtLastStep = eventNames.length;
        return command();
      };

      // Rotation 1 with the serf-ts CLI through a serf-ts agent.
      await rotateStepByStep((args) => afterNextEvent(() => serfTsCli(ts2, args)), key0, key1, 'serf-ts CLI');
      await assertKeysEverywhere([ts1], [key1], cluster.length);

      // Rotation 2 with the reference CLI through a reference agent.
      await rotateStepByStep((args) => afterNextEvent(() => go1.cli(args)), key1, key2, 'reference CLI');
    } finally {
      rotating = false;
      rotationsDone = true;
      await stream;
    }

    assert.deepEqual(eventFailures, [], 'every event command succeeded');
    assert.ok(
      eventsDuringRotations >= 6,
      `events were sent while the keys changed: ${eventsDuringRotations}`,
    );
    assert.ok(eventNames.length < maxEvents, 'the rotations finished before the event limit');

    // Every event reaches every handler exactly once.
    const finalEvent = 'rot-ev-final';
    assert.equal((await ts3.cli(['event', '-coalesce=false', finalEvent, 'end'])).code, 0);
    eventNames.push(finalEvent);
    for (const name of eventNames) await waitForHandlers(log, name, names);
    const lines = await readHandlerLog(log);
    for (const name of eventNames) {
      const counts = handlerCounts(lines, name);
      for (const node of names) assert.equal(counts.get(node), 1, `${name} ran once on ${node}`);
    }

    // Every query reached every node, and every node's response came back.
    const queryResults = await Promise.all(queries);
    assert.ok(queryResults.length > 0, 'queries were sent');
    const linesAfterQueries = await readHandlerLog(log);
    for (const { name, origin, result } of queryResults) {
      assert.equal(result.code, 0, `query ${name} from ${origin}: ${result.stdout}${result.stderr}`);
      const parsed = JSON.parse(result.stdout) as { Responses: Record<string, string> };
      for (const node of names) {
        assert.equal(
          parsed.Responses[node],
          `pong-${node}`,
          `query ${name} from ${origin}: response of ${node}`,
        );
      }
      const counts = handlerCounts(linesAfterQueries, name);
      for (const node of names) assert.equal(counts.get(node), 1, `query ${name} ran once on ${node}`);
    }

    assertNoFailureLines(cluster);
    await assertKeysEverywhere(cluster, [key2]);

    // An agent that holds only the old key cannot join, and the member lists stay the same.
    const stale = await startAgent({ name: 'rot-stale', encryptKey: key0 });
    const staleJoin = await stale.cli(['join', ts1.gossipAddr]);
    assert.notEqual(staleJoin.code, 0, `join with the old key must fail: ${staleJoin.stdout}`);
    assert.deepEqual(await memberSummary(stale), ['rot-stale:alive'], 'the stale agent lists only itself');
    const membersAfter = await Promise.all(cluster.map(memberSummary));
    assert.deepEqual(membersAfter, membersBefore, 'member lists unchanged after the rejected join');
    assertNoFailureLines(cluster);
  });

  it('rejects joins between clusters with different keys', async () => {
    const keyA = await newKey();
    const keyB = await newKey();
    const tsA = await startAgent({ name: 'a-ts', implementation: 'serf-ts', encryptKey: keyA });
    const goA = await startAgent({ name: 'a-go', encryptKey: keyA, join: [tsA.gossipAddr] });
    const tsB = await startAgent({ name: 'b-ts', implementation: 'serf-ts', encryptKey: keyB });
    const goB = await startAgent({ name: 'b-go', encryptKey: keyB, join: [tsB.gossipAddr] });
    await waitForAllAlive([tsA, goA]);
    await waitForAllAlive([tsB, goB]);
    const clusterA = ['a-go:alive', 'a-ts:alive'];
    const clusterB = ['b-go:alive', 'b-ts:alive'];

    // Repeated joins in both directions, all well within the 10 s log interval.
    const started = Date.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const fromA = await serfTsCli(tsA, ['join', tsB.gossipAddr]);
      assert.equal(fromA.code, 1, `serf-ts join A→B fails: ${fromA.stdout}`);
      assert.match(fromA.stdout, /keys .*likely differ/, 'serf-ts join explains the key mismatch');

      const fromB = await goB.cli(['join', tsA.gossipAddr]);
      assert.equal(fromB.code, 1, `reference join B→A fails: ${fromB.stdout}`);
      assert.match(fromB.stdout, /Error joining the cluster/);
    }
    const elapsedMs = Date.now() - started;

    for (const agent of [tsA, goA])
      assert.deepEqual(await memberSummary(agent), clusterA, `${agent.name} members`);
    for (const agent of [tsB, goB])
      assert.deepEqual(await memberSummary(agent), clusterB, `${agent.name} members`);

    // Both serf-ts agents rejected streams: each logs the failure with the source address, but
    // only once per peer per 10 s. All joins come from 127.0.0.1 with ephemeral ports.
    await flushAgentLog(tsA, '127.0.0.81');
    await flushAgentLog(tsB, '127.0.0.81');
    const allowed = 1 + Math.floor(elapsedMs / 10_000);
    for (const agent of [tsA, tsB]) {
      const lines = decryptFailureLines(agent, '127.0.0.1');
      assert.ok(lines.length >= 1, `${agent.name} logs the decrypt failure:\n${agent.outputTail(30)}`);
      assert.ok(
        lines.length <= allowed,
        `${agent.name} logs at most ${allowed} decrypt failure(s) from 127.0.0.1 in ${elapsedMs} ms, got:\n${lines.join('\n')}`,
      );
    }

    // A flood of undecryptable datagrams from one address is logged once.
    const flooder = await bindUdp('127.0.0.82');
    try {
      await sendUndecryptablePackets(flooder, tsB.gossipAddr, 1);
      await tsB.waitForOutput(`from=${socketAddress(flooder)}`, { timeoutMs: 10_000 });
      await sendUndecryptablePackets(flooder, tsB.gossipAddr, 30);
      await flushAgentLog(tsB, '127.0.0.83');
      const lines = tsB.output.filter((line) => line.includes(`from=${socketAddress(flooder)}`));
      assert.equal(lines.length, 1, `31 bad datagrams are logged once:\n${lines.join('\n')}`);
      assert.match(lines[0] ?? '', /Decrypt packet failed/);
    } finally {
      flooder.close();
    }

    for (const agent of [tsA, goA])
      assert.deepEqual(await memberSummary(agent), clusterA, `${agent.name} members`);
    for (const agent of [tsB, goB])
      assert.deepEqual(await memberSummary(agent), clusterB, `${agent.name} members`);
  });

  it('reports nodes that miss a key operation', async () => {
    const key0 = await newKey();
    const key1 = await newKey();
    const ts1 = await startAgent({ name: 'part-ts-1', implementation: 'serf-ts', encryptKey: key0 });
    const ts2 = await startAgent({
      name: 'part-ts-2',
      implementation: 'serf-ts',
      encryptKey: key0,
      join: [ts1.gossipAddr],
    });
    const ts3 = await startAgent({
      name: 'part-ts-3',
      implementation: 'serf-ts',
      encryptKey: key0,
      join: [ts1.gossipAddr],
    });
    const go1 = await startAgent({ name: 'part-go-1', encryptKey: key0, join: [ts2.gossipAddr] });
    const cluster = [ts1, ts2, ts3, go1];
    await waitForAllAlive(cluster);

    const freeze = () => {
      frozenAgents.add(ts3);
      ts3.signal('SIGSTOP');
    };
    const resume = async () => {
      ts3.signal('SIGCONT');
      frozenAgents.delete(ts3);
      await waitForAllAlive(cluster, 60_000);
    };

    // Install with one node frozen: the three others respond, and the output names the frozen one.
    freeze();
    const partial = await serfTsCli(ts1, ['keys', `-install=${key1}`]);
    await resume();
    assert.equal(partial.code, 1, `install with a frozen node fails: ${partial.stdout}`);
    assert.match(partial.stdout, /failed:\s+part-ts-3\s+\S/, 'the frozen node is named');
    assert.match(partial.stdout, /3\/4 nodes reported success/, 'the output says how many nodes answered');

    const retry = await serfTsCli(ts1, ['keys', `-install=${key1}`]);
    assert.equal(retry.code, 0, `install after SIGCONT succeeds: ${retry.stdout}`);
    assert.match(retry.stdout, /Successfully installed key!/);

    // Rotation with one node frozen stops before any member changes its primary key. serf-ts stops
    // already at the key listing that precedes step 1, because that query misses the frozen node too.
    freeze();
    const stopped = await serfTsCli(ts1, ['keys', '-rotate']);
    await resume();
    assert.equal(stopped.code, 1, `rotate with a frozen node fails: ${stopped.stdout}`);
    assert.match(stopped.stdout, /failed:\s+part-ts-3\s+\S/, 'the frozen node is named');
    assert.match(stopped.stdout, /Rotation stopped/);
    assert.match(stopped.stdout, /3\/4 nodes reported success/);
    assert.doesNotMatch(stopped.stdout, /Step 2\/3/, 'no member was told to use the new key');

    const rotated = await serfTsCli(ts1, ['keys', '-rotate']);
    assert.equal(rotated.code, 0, `rotate after SIGCONT succeeds: ${rotated.stdout}`);
    assert.match(rotated.stdout, /Successfully rotated the key on 4 members!/);

    const finalKey = await singleClusterKey(go1);
    usedKeys.add(finalKey);
    assert.notEqual(finalKey, key0, 'the rotation generated a new key');
    assert.notEqual(finalKey, key1, 'the rotation generated a new key');
    await assertKeysEverywhere(cluster, [finalKey]);
  });

  it('persists the keyring file across a restart', async () => {
    const key0 = await newKey();
    const key1 = await newKey();
    const keyringPath = join(workDir, 'keyring.json');
    await writeFile(keyringPath, JSON.stringify([key0], null, 2), { mode: 0o600 });
    await chmod(keyringPath, 0o600);
    const log = join(workDir, 'keyring-events.log');
    const handler = await writeHandler('keyring-handler.sh', log);

    const ts = await startAgent({
      name: 'kr-ts',
      implementation: 'serf-ts',
      keyringFile: keyringPath,
      eventHandlers: [handler],
    });
    const go = await startAgent({
      name: 'kr-go',
      encryptKey: key0,
      eventHandlers: [handler],
      join: [ts.gossipAddr],
    });
    await waitForAllAlive([ts, go]);
    assert.ok(
      ts.output.some((line) => line.includes('Encrypted: true')),
      'banner says Encrypted: true',
    );

    for (const flag of [`-install=${key1}`, `-use=${key1}`]) {
      const result = await serfTsCli(ts, ['keys', flag]);
      assert.equal(result.code, 0, `keys ${flag.slice(0, flag.indexOf('='))}: ${result.stdout}`);
    }

    const expectedText = JSON.stringify([key1, key0], null, 2);
    const text = await waitFor(
      async () => {
        const content = await readFile(keyringPath, 'utf8');
        return content === expectedText ? content : undefined;
      },
      { timeoutMs: 10_000, message: 'keyring file lists the new key first' },
    );
    assert.deepEqual(JSON.parse(text), [key1, key0]);
    assert.ok(!text.endsWith('\n'), 'no trailing newline');
    assert.equal((await stat(keyringPath)).mode & 0o777, 0o600, 'keyring file mode stays 0600');

    // Restart on the same ports with the same keyring file.
    const [, bindPort] = ts.gossipAddr.split(':');
    const [, rpcPort] = ts.rpcAddr.split(':');
    ts.signal('SIGINT');
    assert.equal(await ts.exited, 0, 'SIGINT stops the agent cleanly');
    await go.waitForMember('kr-ts', 'left');

    const restarted = await startAgent({
      name: 'kr-ts',
      implementation: 'serf-ts',
      keyringFile: keyringPath,
      eventHandlers: [handler],
      bindPort: Number(bindPort),
      rpcPort: Number(rpcPort),
      join: [go.gossipAddr],
    });
    await restarted.waitForOutput(`Restored keyring with 2 keys from ${keyringPath}`);
    await waitForAllAlive([restarted, go]);
    await assertKeysEverywhere([restarted, go], [key1, key0]);
    assert.equal(await readFile(keyringPath, 'utf8'), expectedText, 'the restart leaves the file unchanged');

    // Removing the old key works only if the restarted agent kept the new key as primary.
    const removed = await serfTsCli(restarted, ['keys', `-remove=${key0}`]);
    assert.equal(removed.code, 0, `keys -remove of the old key: ${removed.stdout}`);
    await waitFor(async () => (await readFile(keyringPath, 'utf8')) === JSON.stringify([key1], null, 2), {
      timeoutMs: 10_000,
      message: 'keyring file holds only the new key',
    });

    const event = await serfTsCli(restarted, ['event', '-coalesce=false', 'kr-after-restart', 'hello']);
    assert.equal(event.code, 0, event.stdout);
    await waitForHandlers(log, 'kr-after-restart', ['kr-go', 'kr-ts']);
  });

  it('rotates a mixed cluster with keys -rotate', async () => {
    const key0 = await newKey();
    const key1 = await newKey();
    const log = join(workDir, 'rotate-events.log');
    const handler = await writeHandler('rotate-handler.sh', log);
    const common = { encryptKey: key0, eventHandlers: [handler] };
    const ts1 = await startAgent({ name: 'rr-ts-1', implementation: 'serf-ts', ...common });
    const go1 = await startAgent({ name: 'rr-go-1', ...common, join: [ts1.gossipAddr] });
    const ts2 = await startAgent({
      name: 'rr-ts-2',
      implementation: 'serf-ts',
      ...common,
      join: [go1.gossipAddr],
    });
    const go2 = await startAgent({ name: 'rr-go-2', ...common, join: [ts2.gossipAddr] });
    const cluster = [ts1, go1, ts2, go2];
    const names = cluster.map((agent) => agent.name);
    await waitForAllAlive(cluster);

    // Through a reference agent, with a given key.
    const first = await serfTsCli(go1, ['keys', '-rotate', key1]);
    assert.equal(first.code, 0, `keys -rotate through ${go1.name}: ${first.stdout}${first.stderr}`);
    assert.match(first.stdout, /Successfully rotated the key on 4 members!/);
    await assertKeysEverywhere(cluster, [key1]);

    // Through a serf-ts agent, with a generated key.
    const second = await serfTsCli(ts2, ['keys', '-rotate']);
    assert.equal(second.code, 0, `keys -rotate through ${ts2.name}: ${second.stdout}${second.stderr}`);
    const key2 = await singleClusterKey(go2);
    usedKeys.add(key2);
    assert.notEqual(key2, key1, 'the second rotation generated a new key');
    await assertKeysEverywhere(cluster, [key2]);

    // Traffic still flows both ways.
    assert.equal((await ts1.cli(['event', '-coalesce=false', 'rr-from-ts'])).code, 0);
    assert.equal((await go2.cli(['event', '-coalesce=false', 'rr-from-go'])).code, 0);
    await waitForHandlers(log, 'rr-from-ts', names);
    await waitForHandlers(log, 'rr-from-go', names);
    await waitForAllAlive(cluster);

    // Failing key operations report the reason per node (and, like every output here, no key).
    const unknown = await newKey();
    const use = await serfTsCli(ts1, ['keys', `-use=${unknown}`]);
    assert.equal(use.code, 1, use.stdout);
    assert.match(use.stdout, /Requested key is not in the keyring/);
    const removePrimary = await serfTsCli(ts1, ['keys', `-remove=${key2}`]);
    assert.equal(removePrimary.code, 1, removePrimary.stdout);
    assert.match(removePrimary.stdout, /Removing the primary key is not allowed/);
    assert.match(removePrimary.stdout, /4\/4 nodes reported failure/);
  });

  it('keeps keys out of logs, outputs and the process list', async () => {
    const key = await newKey();
    const keyFile = join(workDir, 'gossip.key');
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
    await chmod(keyFile, 0o600);

    const fromFile = await startAgent({
      name: 'leak-file',
      implementation: 'serf-ts',
      extraArgs: [`-encrypt-file=${keyFile}`],
    });

    process.env.SERF_ENCRYPT_KEY = key;
    let fromEnv: ReferenceAgent;
    try {
      fromEnv = await startAgent({
        name: 'leak-env',
        implementation: 'serf-ts',
        join: [fromFile.gossipAddr],
      });
    } finally {
      delete process.env.SERF_ENCRYPT_KEY;
    }
    const fromFlag = await startAgent({
      name: 'leak-flag',
      implementation: 'serf-ts',
      encryptKey: key,
      join: [fromFile.gossipAddr],
    });
    const trio = [fromFile, fromEnv, fromFlag];

    // Joining proves that each agent loaded the same key, whatever its source.
    await waitForAllAlive(trio);
    await assertKeysEverywhere(trio, [key]);

    for (const agent of [fromFile, fromEnv]) {
      const cmdline = (await readFile(`/proc/${agent.pid}/cmdline`, 'utf8')).split('\0').join(' ');
      assert.ok(cmdline.includes('agent'), `read the command line of ${agent.name}: ${cmdline}`);
      assert.ok(!cmdline.includes(key), `the key is not in the command line of ${agent.name}`);
      assert.ok(
        !agent.output.some((line) => /visible to other local users/.test(line)),
        `${agent.name} prints no command-line key warning`,
      );
    }
    assert.ok(
      fromFlag.output.some((line) => /Warning: the gossip key given with -encrypt is visible/.test(line)),
      'the agent started with -encrypt=KEY warns about the key on the command line',
    );
    assert.deepEqual(
      fromFlag.output.filter((line) => line.includes(key)),
      [],
      'the agent started with -encrypt=KEY never prints the key',
    );

    for (const agent of trio) {
      assert.ok(
        agent.output.some((line) => line.includes('Encrypted: true')),
        `${agent.name} banner`,
      );
      const serfTsInfo = await serfTsCli(agent, ['info']);
      assert.equal(serfTsInfo.code, 0, serfTsInfo.stdout);
      assert.ok(!serfTsInfo.stdout.includes(key), `serf-ts info of ${agent.name} does not print the key`);
      const referenceInfo = await agent.cli(['info']);
      assert.equal(referenceInfo.code, 0, referenceInfo.stdout);
      assert.ok(
        !referenceInfo.stdout.includes(key),
        `reference info of ${agent.name} does not print the key`,
      );
    }

    // No key used anywhere in this file appears in a serf-ts log or a serf-ts CLI output.
    assert.ok(usedKeys.size >= 1, 'keys were collected');
    for (const usedKey of usedKeys) {
      for (const agent of serfTsAgents) {
        const leaks = agent.output.filter((line) => line.includes(usedKey));
        assert.deepEqual(leaks, [], `${agent.name} output contains key ${usedKey}`);
      }
      for (const { args, text } of keyFreeCliOutputs) {
        assert.ok(!text.includes(usedKey), `serf-ts ${args[0]} output contains key ${usedKey}:\n${text}`);
      }
    }
  });
});
