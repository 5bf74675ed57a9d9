// RPC interop in both directions: the Go `serf` CLI against RpcServer (with a stub backend), and
// RpcClient against reference Go agents.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { RpcServer } from '../../src/agent/rpc-server.js';
import { KeyOperationError, RpcClient, RpcError, type StreamRecord } from '../../src/client/rpc-client.js';
import { createLogger, formatLogLine } from '../../src/util/logger.js';
import { loopbackHost } from '../helpers/ports.js';
import { cleanupAgents, ReferenceAgent, referenceBinary, runReferenceCli } from '../helpers/reference.js';
import { loadVectors } from '../helpers/vectors.js';
import { waitFor } from '../helpers/wait.js';
import { JOIN_REFUSED, StubBackend, stubMember } from '../rpc/stub-backend.js';

const K1 = 'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=';
const K2 = 'CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0=';
const text = (s: string) => new TextEncoder().encode(s);
const decodeText = (b: Uint8Array) => new TextDecoder().decode(b);

after(cleanupAgents);

describe('Go CLI against RpcServer', () => {
  let backend: StubBackend;
  let server: RpcServer;
  let rpcAddr: string;
  const logs: string[] = [];

  before(async () => {
    backend = new StubBackend();
    backend.members_ = [
      stubMember('node-a', '127.0.0.11', { role: 'web' }),
      stubMember('node-b', '127.0.0.12', { role: 'db' }),
      stubMember('node-c', '127.0.0.13', { role: 'cache' }, 'failed'),
    ];
    server = new RpcServer({
      backend,
      address: '127.0.0.1:0',
      logger: createLogger((record) => logs.push(formatLogLine(record)), 'debug'),
    });
    await server.start();
    rpcAddr = `-rpc-addr=127.0.0.1:${server.address.port}`;
  });
  after(() => server.close());

  /** Runs `serf <command> -rpc-addr=... <args>`. */
  const cli = (command: string, ...args: string[]) => runReferenceCli([command, rpcAddr, ...args]);

  test('members prints the reference columns', async () => {
    const result = await cli('members');
    assert.equal(result.code, 0, result.stdout);
    assert.equal(
      result.stdout,
      'node-a  127.0.0.11:7946  alive   role=web\n' +
        'node-b  127.0.0.12:7946  alive   role=db\n' +
        'node-c  127.0.0.13:7946  failed  role=cache\n',
    );
    // Same layout as a reference agent's reply (captured): name, ip:port, status, tags.
    const captured = loadVectors('files').entries.find(
      (e: { kind: string; cli_argv?: string[] }) => e.kind === 'cli-stdout' && e.cli_argv?.[1] === 'members',
    );
    assert.match(captured.text.split('\n')[0], /^\S+ {2}\S+:\d+ {2}\S+ +\S+$/);
  });

  test('members -status filters on the agent', async () => {
    const result = await cli('members', '-status=failed');
    assert.equal(result.code, 0);
    assert.equal(result.stdout, 'node-c  127.0.0.13:7946  failed  role=cache\n');
  });

  test('members -detailed prints protocol versions', async () => {
    const result = await cli('members', '-detailed');
    assert.equal(result.code, 0);
    const first = result.stdout.split('\n')[0] ?? '';
    assert.match(
      first,
      /^node-a {2}127\.0\.0\.11:7946 {2}alive {3}role=web\s+Protocol Version: 5 {2}Available Protocol Range: \[2, 5\]$/,
    );
  });

  test('members -format=json', async () => {
    const result = await cli('members', '-format=json');
    assert.equal(result.code, 0);
    const parsed = JSON.parse(result.stdout) as {
      members: { name: string; addr: string; status: string; tags: object; protocol: object }[];
    };
    assert.deepEqual(parsed.members[1], {
      name: 'node-b',
      addr: '127.0.0.12:7946',
      port: 7946,
      tags: { role: 'db' },
      status: 'alive',
      protocol: { max: 5, min: 2, version: 5 },
    });
  });

  test('join success and failure', async () => {
    const ok = await cli('join', '127.0.0.1:7000', '127.0.0.2:7000');
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, 'Successfully joined cluster by contacting 2 nodes.\n');
    const failed = await cli('join', '127.0.0.1:1');
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, `Error joining the cluster: ${JOIN_REFUSED}\n`);
  });

  test('event, force-leave and tags', async () => {
    const event = await cli('event', 'deploy', 'build-1');
    assert.equal(event.code, 0);
    assert.equal(event.stdout, "Event 'deploy' dispatched! Coalescing enabled: true\n");
    assert.deepEqual(backend.calls.at(-1), { method: 'userEvent', args: ['deploy', text('build-1'), true] });

    const forced = await cli('force-leave', 'node-c');
    assert.equal(forced.code, 0);
    assert.equal(forced.stdout, '');
    assert.deepEqual(backend.calls.at(-1), { method: 'forceLeave', args: ['node-c', false] });

    const tags = await cli('tags', '-set', 'version=2', '-delete', 'role');
    assert.equal(tags.code, 0);
    assert.equal(tags.stdout, 'Successfully updated agent tags\n');
    assert.deepEqual(backend.calls.at(-1), { method: 'setTags', args: [{ version: '2' }, ['role']] });
  });

  test('query prints acks, responses and totals', async () => {
    const result = await cli('query', '-timeout=1s', 'ping', 'data');
    assert.equal(result.code, 0, result.stdout);
    assert.equal(
      result.stdout,
      "Query 'ping' dispatched\n" +
        "Ack from 'node-a'\n" +
        "Response from 'node-a': pong from node-a\n" +
        "Ack from 'node-b'\n" +
        'Total Acks: 2\n' +
        'Total Responses: 1\n',
    );
    const params = backend.calls.findLast((c) => c.method === 'query')?.args[0] as { timeoutMs: number };
    assert.equal(params.timeoutMs, 1000);
  });

  test('reachability counts acks of live members', async () => {
    const result = await cli('reachability');
    assert.equal(result.code, 0, result.stdout);
    assert.equal(
      result.stdout,
      'Total members: 3, live members: 2\nStarting reachability test...\nSuccessfully contacted all live nodes\n',
    );
  });

  test('keys list, install, use and remove', async () => {
    const list = await cli('keys', '-list');
    assert.equal(list.code, 0);
    const lines = list.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      '==> Asking all members for installed keys...',
      '==> Keys gathered, listing cluster keys...',
      '',
    ]);
    assert.deepEqual(lines.slice(3, 5).sort(), [`${K2}  [3/3]`, `${K1}  [3/3]`].sort());

    const install = await cli('keys', '-install', K2);
    assert.equal(install.code, 0);
    assert.equal(install.stdout, '==> Installing key on all members...\n==> Successfully installed key!\n');
    const use = await cli('keys', '-use', K2);
    assert.equal(
      use.stdout,
      '==> Changing primary key on all members...\n==> Successfully changed primary key!\n',
    );
    const remove = await cli('keys', '-remove', K1);
    assert.equal(remove.stdout, '==> Removing key on all members...\n==> Successfully removed key!\n');
    assert.deepEqual(
      backend.calls.filter((c) => c.method.endsWith('Key') || c.method === 'listKeys').map((c) => c.method),
      ['listKeys', 'installKey', 'useKey', 'removeKey'],
    );
  });

  test('keys partial failure exits 1', async () => {
    backend.keyFailure = 'Removing the primary key is not allowed';
    try {
      const result = await cli('keys', '-remove', K2);
      assert.equal(result.code, 1);
      assert.equal(
        result.stdout,
        '==> Removing key on all members...\n' +
          'failed:  node-b  Removing the primary key is not allowed\n' +
          '\nError removing key: 1/3 nodes reported failure\n',
      );
    } finally {
      backend.keyFailure = undefined;
    }
  });

  test('info in text and json', async () => {
    const result = await cli('info');
    assert.equal(result.code, 0);
    assert.ok(
      result.stdout.startsWith('agent:\n\tname = node-a\nevent_handlers:\nruntime:\n\tarch = x64\n'),
      result.stdout,
    );
    const json = await cli('info', '-format=json');
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as Record<string, Record<string, string>>;
    assert.deepEqual(parsed.agent, { name: 'node-a' });
    assert.equal(parsed.serf?.members, '3');
  });

  test('rtt computes from both coordinates', async () => {
    const result = await cli('rtt', 'node-a', 'node-b');
    assert.equal(result.code, 0, result.stdout);
    assert.equal(result.stdout, 'Estimated node-a <-> node-b rtt: 1.200 ms\n');
    const missing = await cli('rtt', 'node-a', 'nobody');
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /Could not find a coordinate for node "?nobody"?/);
  });

  test('monitor streams logs until SIGINT', async () => {
    const child = spawn(referenceBinary(), ['monitor', rpcAddr, '-log-level=info'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => backend.logListenerCount === 1 && stdout.includes('Serf agent starting'), {
        timeoutMs: 10_000,
        message: 'monitor did not print the replayed log line',
      });
      backend.log('2026/01/01 00:00:02 [INFO] agent: live from test');
      backend.emit({
        type: 'user',
        ltime: 1,
        name: 'ignored-by-monitor',
        payload: text('x'),
        coalesce: true,
      });
      await waitFor(() => stdout.includes('live from test'), {
        timeoutMs: 5000,
        message: 'live line not printed',
      });
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      await waitFor(() => backend.logListenerCount === 0 && backend.eventListenerCount === 0, {
        timeoutMs: 5000,
        message: 'monitor and stream were not stopped',
      });
    } finally {
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    }
  });

  test('leave reports completion', async () => {
    const result = await cli('leave');
    assert.equal(result.code, 0);
    assert.equal(result.stdout, 'Graceful leave complete\n');
    assert.equal(backend.calls.at(-1)?.method, 'leave');
  });

  test('auth required and accepted', async () => {
    backend.authKey = 'tok-9';
    try {
      const refused = await cli('members');
      assert.equal(refused.code, 1);
      assert.equal(refused.stdout, 'Error retrieving members: Authentication required\n');
      const accepted = await runReferenceCli(['members', rpcAddr, '-rpc-auth=tok-9']);
      assert.equal(accepted.code, 0);
      assert.equal(accepted.stdout.split('\n').length, 4);
    } finally {
      backend.authKey = '';
    }
  });

  test('server logged each accepted CLI client', () => {
    assert.ok(
      logs.filter((l) => /\[INFO\] agent\.ipc: Accepted client: 127\.0\.0\.1:\d+$/.test(l)).length >= 10,
    );
  });
});

describe('RpcClient against reference agents', () => {
  let first: ReferenceAgent;
  let second: ReferenceAgent;
  let client: RpcClient;
  let secondClient: RpcClient;

  before(async () => {
    [first, second] = await Promise.all([
      ReferenceAgent.start({
        name: 'ref-a',
        bindHost: loopbackHost(40),
        encryptKey: K1,
        tags: { role: 'web' },
      }),
      ReferenceAgent.start({ name: 'ref-b', bindHost: loopbackHost(41), encryptKey: K1, rpcAuth: 'tok-b' }),
    ]);
    client = await RpcClient.connect(first.rpcAddr);
    secondClient = await RpcClient.connect(second.rpcAddr, { authKey: 'tok-b' });
  });
  after(async () => {
    await client?.close();
    await secondClient?.close();
  });

  test('join, members and members-filtered', async () => {
    assert.equal(await client.join([second.gossipAddr], false), 1);
    await first.waitForMember('ref-b', 'alive');
    const members = await client.members();
    const b = members.find((m) => m.name === 'ref-b');
    assert.equal(b?.addr, loopbackHost(41));
    assert.equal(b?.status, 'alive');
    assert.equal(b?.delegateCur, 5);
    const filtered = await client.membersFiltered({ tags: { role: 'web' } });
    assert.deepEqual(
      filtered.map((m) => m.name),
      ['ref-a'],
    );
  });

  test('join failure carries the agent text', async () => {
    const err = await client.join(['127.0.0.1:1'], false).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.match(err.message, /^1 error occurred:\n\t\* Failed to join 127\.0\.0\.1/);
    assert.deepEqual(err.details, { num: 0 });
  });

  test('auth is required by the second agent', async () => {
    const anonymous = await RpcClient.connect(second.rpcAddr);
    try {
      await assert.rejects(anonymous.membersFiltered({}), { message: 'Authentication required' });
      // The Go agent repeats the error for the unread body. The client skips it and stays usable.
      await assert.rejects(anonymous.stats(), { message: 'Authentication required' });
    } finally {
      await anonymous.close();
    }
    assert.equal((await secondClient.members()).length, 2);
  });

  test('user event reaches a stream', async () => {
    const records: StreamRecord[] = [];
    const subscription = await secondClient.stream('user', (r) => records.push(r));
    await client.userEvent('deploy', text('v9'), false);
    await waitFor(() => records.some((r) => r.event === 'user' && r.name === 'deploy'), {
      timeoutMs: 10_000,
      message: 'user event not streamed',
    });
    const record = records.find((r) => r.event === 'user');
    assert.deepEqual(record && { ...record, ltime: 0 }, {
      event: 'user',
      ltime: 0,
      name: 'deploy',
      payload: text('v9'),
      coalesce: false,
    });
    await subscription.stop();
    await subscription.done;
  });

  test('query answered by the second agent', async () => {
    const subscription = await secondClient.stream('query:ask', (r) => {
      if (r.event === 'query')
        void secondClient.respond(r.id, text(`answer to ${decodeText(r.payload ?? new Uint8Array())}`));
    });
    const records: unknown[] = [];
    await client.query({ name: 'ask', payload: text('q1'), requestAck: true, timeoutMs: 1500 }, (r) =>
      records.push(r),
    );
    assert.deepEqual(records.at(-1), { type: 'done' });
    assert.ok(records.some((r) => JSON.stringify(r) === JSON.stringify({ type: 'ack', from: 'ref-b' })));
    const response = records.find((r) => (r as { type: string }).type === 'response') as {
      from: string;
      payload: Uint8Array;
    };
    assert.equal(response.from, 'ref-b');
    assert.equal(decodeText(response.payload), 'answer to q1');
    await subscription.stop();
  });

  test('monitor receives log lines', async () => {
    const lines: string[] = [];
    const subscription = await client.monitor('info', (line) => lines.push(line));
    await waitFor(() => lines.some((l) => l.includes('[INFO] agent.ipc: Accepted client:')), {
      timeoutMs: 5000,
      message: 'no log lines',
    });
    assert.ok(lines.every((l) => !l.includes('[DEBUG]')));
    await subscription.stop();
    await assert.rejects(
      client.monitor('chatty', () => {}),
      { message: 'Unknown log level: CHATTY' },
    );
  });

  test('stats, coordinates and tags', async () => {
    const stats = await client.stats();
    assert.equal(stats.agent?.name, 'ref-a');
    assert.equal(stats.serf?.encrypted, 'true');
    const own = await client.getCoordinate('ref-a');
    assert.equal(own?.vec.length, 8);
    assert.equal(await client.getCoordinate('nobody'), undefined);
    await client.updateTags({ zone: 'z1' }, ['role']);
    const self = (await client.members()).find((m) => m.name === 'ref-a');
    assert.deepEqual(self?.tags, { zone: 'z1' });
    await client.forceLeave('no-such-node');
  });

  test('key operations on the encrypted pair', async () => {
    const listed = await client.listKeys();
    assert.deepEqual(listed.keys, { [K1]: 2 });
    assert.equal(listed.numNodes, 2);
    const installed = await client.installKey(K2);
    assert.deepEqual(installed, { messages: {}, keys: null, numNodes: 2, numResp: 2, numErr: 0 });
    await client.useKey(K2);
    const err = await client.removeKey(K2).catch((e: unknown) => e);
    assert.ok(err instanceof KeyOperationError);
    assert.equal(err.message, '2/2 nodes reported failure');
    assert.deepEqual(err.response.messages, {
      'ref-a': 'Removing the primary key is not allowed',
      'ref-b': 'Removing the primary key is not allowed',
    });
    await client.removeKey(K1);
    assert.deepEqual((await client.listKeys()).keys, { [K2]: 2 });
  });

  test('leave shuts the agent down', async () => {
    await secondClient.leave();
    assert.equal(await second.exited, 0);
  });
});
