/**
 * Runs every CLI command against a fake client fed the data of the captured reference run, and
 * compares stdout and the exit code byte for byte with what the reference CLI printed.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CliKeyResponse, CliMember, CliQueryRecord } from '../../src/cli/client.js';
import { KeyOperationError, RpcError } from '../../src/client/rpc-client.js';
import { loadVectors } from '../helpers/vectors.js';
import { FakeClient, member, runCli } from './fake-client.js';

interface CliEntry {
  id: string;
  kind: string;
  exit_code: number;
  text: string;
  cli_argv?: string[];
  stderr_text?: string;
}

const entries = new Map<string, CliEntry>(
  (loadVectors('files').entries as CliEntry[]).map((entry) => [entry.id, entry]),
);

function entry(id: string): CliEntry {
  const found = entries.get(id);
  assert.ok(found, `vector entry ${id} is missing from files.json`);
  return found;
}

/** Runs the captured argv (minus the program name) against `client` and checks stdout, stderr and exit code. */
async function assertMatchesCapture(id: string, client: FakeClient): Promise<void> {
  const captured = entry(id);
  assert.ok(captured.cli_argv, `${id} has no cli_argv`);
  const result = await runCli(captured.cli_argv.slice(1), client);
  assert.equal(result.stdout, captured.text, `${id} stdout`);
  assert.equal(result.stderr, captured.stderr_text ?? '', `${id} stderr`);
  assert.equal(result.code, captured.exit_code, `${id} exit code`);
}

const nodeA = (tags: Record<string, string>, status = 'alive') =>
  member('node-a', '127.0.0.11', 21946, tags, status);
const nodeB = (tags: Record<string, string>, status = 'alive') =>
  member('node-b', '127.0.0.12', 21946, tags, status);
const nodeC = (tags: Record<string, string>, status = 'alive') =>
  member('node-c', '127.0.0.13', 21946, tags, status);

describe('captured members output', () => {
  it('plain listing in agent order', async () => {
    const members: CliMember[] = [
      nodeB({ role: 'db', rack: 'r1' }),
      nodeC({ role: 'cache' }),
      nodeA({ dc: 'lab-east', 'zone-id': 'z1', role: 'web' }),
    ];
    await assertMatchesCapture('file-23-cli-stdout', new FakeClient({ members }));
  });

  it('detailed listing pads every column', async () => {
    const members = [
      nodeA({ dc: 'lab-east', 'zone-id': 'z1', role: 'web' }),
      nodeB({ rack: 'r1', role: 'db' }),
      nodeC({ role: 'cache' }),
    ];
    await assertMatchesCapture('file-24-cli-stdout', new FakeClient({ members }));
  });

  it('json sorts tags and keeps field order', async () => {
    const client = new FakeClient({
      members: [
        nodeA({ role: 'web', 'zone-id': 'z1', dc: 'lab-east' }),
        nodeB({ role: 'db', rack: 'r1' }),
        nodeC({ role: 'cache' }),
      ],
    });
    await assertMatchesCapture('file-25-cli-stdout', client);
  });

  it('filters are sent to members-filtered', async () => {
    const client = new FakeClient({ members: [nodeB({ rack: 'r1', role: 'db' })] });
    await assertMatchesCapture('file-26-cli-stdout', client);
    assert.deepEqual(client.calls[0], {
      method: 'membersFiltered',
      args: [{ tags: { role: 'db' }, status: 'alive', name: '' }],
    });
  });

  it('name filter', async () => {
    const client = new FakeClient({
      members: [
        nodeA({ 'zone-id': 'z1', role: 'web', dc: 'lab-east' }),
        nodeB({ role: 'db', rack: 'r1' }),
        nodeC({ role: 'cache' }),
      ],
    });
    await assertMatchesCapture('file-27-cli-stdout', client);
    assert.deepEqual(client.calls[0]?.args, [{ tags: {}, status: '', name: 'node-.*' }]);
  });

  it('authentication required error', async () => {
    const client = new FakeClient({
      errors: { membersFiltered: new RpcError('members-filtered', 'Authentication required') },
    });
    await assertMatchesCapture('file-28-cli-stdout', client);
  });

  it('auth token reaches the connector', async () => {
    const client = new FakeClient({
      members: [
        nodeC({ role: 'cache' }),
        nodeA({ 'zone-id': 'z1', role: 'web', dc: 'lab-east' }),
        nodeB({ rack: 'r1', role: 'db' }),
      ],
    });
    const captured = entry('file-29-cli-stdout');
    const result = await runCli((captured.cli_argv ?? []).slice(1), client);
    assert.equal(result.stdout, captured.text);
    assert.deepEqual(result.connectedTo, { address: '127.0.0.13:21373', authKey: 'tok-shared-5150' });
  });

  it('failed and left statuses widen the column', async () => {
    await assertMatchesCapture(
      'file-46-cli-stdout',
      new FakeClient({
        members: [
          nodeA({ dc: 'lab-east', 'zone-id': 'z1', role: 'web' }),
          nodeB({ version: '1.0.1', role: 'db' }),
          nodeC({ role: 'cache' }, 'failed'),
        ],
      }),
    );
    await assertMatchesCapture(
      'file-48-cli-stdout',
      new FakeClient({
        members: [
          nodeA({ dc: 'lab-east', 'zone-id': 'z1', role: 'web' }),
          nodeB({ role: 'db', version: '1.0.1' }),
          nodeC({ role: 'cache' }, 'left'),
        ],
      }),
    );
  });
});

const statsPlain = {
  agent: { name: 'node-a' },
  event_handlers: { '*:': './handler.py' },
  runtime: {
    os: 'linux',
    arch: 'amd64',
    version: 'go1.19.8',
    max_procs: '2',
    goroutines: '25',
    cpu_count: '2',
  },
  serf: {
    failed: '0',
    left: '0',
    event_time: '1',
    query_time: '1',
    event_queue: '0',
    members: '3',
    member_time: '3',
    intent_queue: '0',
    query_queue: '0',
    encrypted: 'false',
    coordinate_resets: '0',
    health_score: '0',
  },
  tags: { role: 'web', dc: 'lab-east', 'zone-id': 'z1' },
};

describe('captured info and rtt output', () => {
  it('info text sorts sections and keys', async () => {
    await assertMatchesCapture('file-30-cli-stdout', new FakeClient({ stats: statsPlain }));
  });

  it('info json', async () => {
    await assertMatchesCapture('file-31-cli-stdout', new FakeClient({ stats: statsPlain }));
  });

  it('rtt between two named nodes', async () => {
    const client = new FakeClient({
      coordinates: {
        'node-a': { adjustment: 0, error: 0.5, height: 0.0001, vec: [0.0005, 0, 0, 0, 0, 0, 0, 0] },
        'node-b': {
          adjustment: 0.00001,
          error: 0.5,
          height: 0.0001,
          vec: [0.0001, 0.0003, 0, 0, 0, 0, 0, 0],
        },
      },
    });
    // sqrt(0.0004² + 0.0003²) = 0.0005, + heights 0.0002, + adjustment 0.00001 = 0.00071 s.
    const result = await runCli(['rtt', '-rpc-addr=127.0.0.11:21373', 'node-a', 'node-b'], client);
    assert.equal(result.stdout, 'Estimated node-a <-> node-b rtt: 0.710 ms\n');
    assert.equal(result.code, 0);

    const capturedClient = new FakeClient({
      coordinates: {
        'node-a': { adjustment: 0, error: 0.5, height: 0, vec: [0.001061, 0] },
        'node-b': { adjustment: 0, error: 0.5, height: 0, vec: [0, 0] },
      },
    });
    await assertMatchesCapture('file-32-cli-stdout', capturedClient);
  });

  it('rtt with one node uses the agent name', async () => {
    const client = new FakeClient({
      stats: { agent: { name: 'node-a' } },
      coordinates: {
        'node-a': { adjustment: 0, error: 0.5, height: 0, vec: [0.002, 0] },
        'node-b': { adjustment: 0, error: 0.5, height: 0, vec: [0, 0] },
      },
    });
    const result = await runCli(['rtt', 'node-b'], client);
    assert.equal(result.stdout, 'Estimated node-b <-> node-a rtt: 2.000 ms\n');
    assert.equal(result.code, 0);
  });

  it('rtt unknown node exits 1', async () => {
    const result = await runCli(['rtt', 'nX', 'node-a'], new FakeClient({ coordinates: {} }));
    assert.equal(result.stdout, 'Could not find a coordinate for node "nX"\n');
    assert.equal(result.code, 1);
  });
});

describe('captured event, join, leave, force-leave, tags output', () => {
  it('event with payload', async () => {
    const client = new FakeClient({});
    await assertMatchesCapture('file-33-cli-stdout', client);
    assert.deepEqual(client.calls[0], {
      method: 'userEvent',
      args: ['deploy', Buffer.from('build-1234'), true],
    });
  });

  it('event without coalescing', async () => {
    const client = new FakeClient({});
    await assertMatchesCapture('file-34-cli-stdout', client);
    assert.equal(client.calls[0]?.args[2], false);
  });

  it('event without payload sends null', async () => {
    const client = new FakeClient({});
    await assertMatchesCapture('file-35-cli-stdout', client);
    assert.equal(client.calls[0]?.args[1], null);
  });

  it('join', async () => {
    const client = new FakeClient({ joinResult: 1 });
    await assertMatchesCapture('file-22-cli-stdout', client);
    assert.deepEqual(client.calls[0]?.args, [['127.0.0.13:21946'], false]);
  });

  it('join failure prints the multi-line error', async () => {
    const message =
      '1 error occurred:\n\t* Failed to join 127.0.0.1: dial tcp 127.0.0.1:1: connect: connection refused\n\n';
    const client = new FakeClient({ errors: { join: new RpcError('join', message) } });
    const result = await runCli(['join', '127.0.0.1:1'], client);
    assert.equal(result.stdout, `Error joining the cluster: ${message}\n`);
    assert.equal(result.code, 1);
  });

  it('leave', async () => {
    await assertMatchesCapture('file-50-cli-stdout', new FakeClient({}));
  });

  it('force-leave prints nothing', async () => {
    const client = new FakeClient({});
    await assertMatchesCapture('file-44-cli-stdout', client);
    assert.deepEqual(client.calls[0]?.args, ['no-such-node', {}]);
  });

  it('force-leave prune', async () => {
    const client = new FakeClient({});
    const result = await runCli(['force-leave', '-prune', 'node-c'], client);
    assert.equal(result.code, 0);
    assert.deepEqual(client.calls[0]?.args, ['node-c', { prune: true }]);
  });

  it('tags set and delete', async () => {
    const client = new FakeClient({});
    await assertMatchesCapture('file-41-cli-stdout', client);
    assert.deepEqual(client.calls[0]?.args, [{ version: '1.0.1' }, ['rack']]);
  });
});

describe('captured query and reachability output', () => {
  it('filtered query', async () => {
    const records: CliQueryRecord[] = [
      { type: 'ack', from: 'node-b' },
      { type: 'response', from: 'node-b', payload: Buffer.from('ok-from node-b\n') },
    ];
    const client = new FakeClient({ queryRecords: records });
    await assertMatchesCapture('file-36-cli-stdout', client);
    assert.deepEqual(client.calls[0]?.args, [
      {
        name: 'uptime',
        payload: Buffer.from('check-now'),
        filterNodes: ['node-b'],
        filterTags: { role: 'db' },
        requestAck: true,
        relayFactor: 0,
        timeoutMs: 3000,
      },
    ]);
  });

  const healthRecords: CliQueryRecord[] = [
    { type: 'ack', from: 'node-a' },
    { type: 'response', from: 'node-a', payload: Buffer.from('ok-from node-a\n') },
    { type: 'ack', from: 'node-b' },
    { type: 'ack', from: 'node-c' },
    { type: 'response', from: 'node-c', payload: Buffer.from('ok-from node-c\n') },
    { type: 'response', from: 'node-b', payload: Buffer.from('ok-from node-b\n') },
  ];

  it('unfiltered query', async () => {
    await assertMatchesCapture('file-37-cli-stdout', new FakeClient({ queryRecords: healthRecords }));
  });

  it('json query keeps payload newlines', async () => {
    const records: CliQueryRecord[] = [
      { type: 'ack', from: 'node-a' },
      { type: 'response', from: 'node-a', payload: Buffer.from('ok-from node-a') },
      { type: 'ack', from: 'node-c' },
      { type: 'ack', from: 'node-b' },
      { type: 'response', from: 'node-c', payload: Buffer.from('ok-from node-c') },
      { type: 'response', from: 'node-b', payload: Buffer.from('ok-from node-b') },
    ];
    await assertMatchesCapture('file-38-cli-stdout', new FakeClient({ queryRecords: records }));

    const withNewline = await runCli(
      ['query', '-format=json', 'q'],
      new FakeClient({ queryRecords: [{ type: 'response', from: 'n3', payload: Buffer.from('a<b>&\n') }] }),
    );
    assert.equal(
      withNewline.stdout,
      '{\n  "Acks": null,\n  "Responses": {\n    "n3": "a\\u003cb\\u003e\\u0026\\n"\n  }\n}\n',
    );
  });

  it('no-ack query omits the ack total', async () => {
    const records: CliQueryRecord[] = [
      { type: 'response', from: 'node-b', payload: Buffer.from('ok-from node-b') },
      { type: 'response', from: 'node-c', payload: Buffer.from('ok-from node-c') },
      { type: 'response', from: 'node-a', payload: Buffer.from('ok-from node-a') },
    ];
    const client = new FakeClient({ queryRecords: records });
    await assertMatchesCapture('file-39-cli-stdout', client);
    const params = client.calls[0]?.args[0] as { requestAck: boolean; relayFactor: number };
    assert.equal(params.requestAck, false);
    assert.equal(params.relayFactor, 1);
  });

  it('response payload bytes are written raw', async () => {
    const payload = Buffer.from([0xff, 0x00, 0x41, 0x0a]);
    const result = await runCli(
      ['query', 'q'],
      new FakeClient({ queryRecords: [{ type: 'response', from: 'n1', payload }] }),
    );
    const expected = Buffer.concat([
      Buffer.from("Query 'q' dispatched\nResponse from 'n1': "),
      Buffer.from([0xff, 0x00, 0x41]),
      Buffer.from('\nTotal Acks: 0\nTotal Responses: 1\n'),
    ]);
    assert.deepEqual(result.stdoutBytes, expected);
  });

  it('reachability with all nodes answering', async () => {
    const client = new FakeClient({
      members: [nodeA({}), nodeB({}), nodeC({})],
      queryRecords: [
        { type: 'ack', from: 'node-a' },
        { type: 'ack', from: 'node-b' },
        { type: 'ack', from: 'node-c' },
      ],
    });
    await assertMatchesCapture('file-40-cli-stdout', client);
    assert.deepEqual(client.calls[1]?.args, [{ name: '_serf_ping', requestAck: true }]);
  });

  it('reachability reports missing acks', async () => {
    const client = new FakeClient({
      members: [nodeA({}), nodeB({}), nodeC({}, 'failed')],
      queryRecords: [{ type: 'ack', from: 'node-a' }],
    });
    const result = await runCli(['reachability'], client);
    assert.equal(result.code, 1);
    const lines = result.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 5), [
      'Total members: 3, live members: 2',
      'Starting reachability test...',
      'Received less acks than live nodes! Missing acks from:',
      '\tnode-b',
      '',
    ]);
  });
});

function keyResponse(partial: Partial<CliKeyResponse>): CliKeyResponse {
  return { messages: {}, keys: null, numNodes: 3, numResp: 3, numErr: 0, ...partial };
}

const K1 = 'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=';
const K2 = 'CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0=';

describe('captured keys output', () => {
  it('list on an unencrypted cluster fails per node', async () => {
    const response = keyResponse({
      numErr: 3,
      messages: {
        'node-a': 'Keyring is empty (encryption not enabled)',
        'node-c': 'Keyring is empty (encryption not enabled)',
        'node-b': 'Keyring is empty (encryption not enabled)',
      },
    });
    const client = new FakeClient({
      errors: { listKeys: new KeyOperationError('list-keys', '3/3 nodes reported failure', response) },
    });
    await assertMatchesCapture('file-43-cli-stdout', client);
  });

  it('list with one and two keys', async () => {
    await assertMatchesCapture(
      'file-55-cli-stdout',
      new FakeClient({ keyResponse: keyResponse({ keys: { [K1]: 3 } }) }),
    );
    await assertMatchesCapture(
      'file-59-cli-stdout',
      new FakeClient({ keyResponse: keyResponse({ keys: { [K1]: 3, [K2]: 3 } }) }),
    );
  });

  it('install, use and remove succeed', async () => {
    for (const id of [
      'file-58-cli-stdout',
      'file-61-cli-stdout',
      'file-66-cli-stdout',
      'file-69-cli-stdout',
    ]) {
      await assertMatchesCapture(id, new FakeClient({ keyResponse: keyResponse({}) }));
    }
  });

  it('removing the primary key fails on every node', async () => {
    const response = keyResponse({
      numErr: 3,
      messages: {
        'node-b': 'Removing the primary key is not allowed',
        'node-a': 'Removing the primary key is not allowed',
        'node-c': 'Removing the primary key is not allowed',
      },
    });
    const client = new FakeClient({
      errors: { removeKey: new KeyOperationError('remove-key', '3/3 nodes reported failure', response) },
    });
    await assertMatchesCapture('file-65-cli-stdout', client);
    assert.deepEqual(client.calls[0], { method: 'removeKey', args: [K2] });
  });

  it('using a missing key fails on every node', async () => {
    const response = keyResponse({
      numErr: 3,
      messages: {
        'node-c': 'Requested key is not in the keyring',
        'node-b': 'Requested key is not in the keyring',
        'node-a': 'Requested key is not in the keyring',
      },
    });
    const client = new FakeClient({
      errors: { useKey: new KeyOperationError('use-key', '3/3 nodes reported failure', response) },
    });
    await assertMatchesCapture('file-68-cli-stdout', client);
  });

  it('more than one operation is rejected', async () => {
    const result = await runCli(['keys', '-list', `-use=${K1}`], new FakeClient({}));
    assert.equal(result.stdout, 'Only one of -install, -use, -remove, or -list allowed\n');
    assert.equal(result.code, 1);
  });
});

describe('captured keygen and monitor output', () => {
  it('keygen prints 32 random bytes in base64', async () => {
    const captured = entry('file-01-keygen-stdout');
    const first = await runCli(['keygen']);
    const second = await runCli(['keygen']);
    assert.equal(first.code, 0);
    assert.match(first.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
    assert.equal(first.stdout.length, captured.text.length);
    assert.equal(Buffer.from(first.stdout.trim(), 'base64').length, 32);
    assert.notEqual(first.stdout, second.stdout);
  });

  it('monitor prints log lines until aborted', async () => {
    const captured = entry('file-45-cli-stdout');
    const logLines = captured.text.split('\n').filter((line) => line !== '');
    const client = new FakeClient({ logLines });
    const controller = new AbortController();
    const running = runCli(['monitor', '-rpc-addr=127.0.0.11:21373', '-log-level=info'], client, {
      signal: controller.signal,
    });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const result = await running;
    assert.equal(result.stdout, captured.text);
    assert.equal(result.code, 0);
    assert.deepEqual(
      client.calls.map((call) => call.method),
      ['stream', 'monitor', 'stop', 'stop'],
    );
    assert.deepEqual(client.calls[1]?.args, ['info']);
    assert.equal(client.closed, true);
  });

  it('monitor formats events in Go notation', async () => {
    const client = new FakeClient({
      streamRecords: [
        { event: 'user', ltime: 3, name: 'hello', payload: Buffer.from('world'), coalesce: false },
        { event: 'query', id: 200, ltime: 1, name: 'qq', payload: null },
        {
          event: 'member-update',
          members: [member('xb', '127.0.0.1', 27947, { x: '1', role: 'db' })],
        },
      ],
    });
    const controller = new AbortController();
    const running = runCli(['monitor'], client, { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const result = await running;
    assert.equal(
      result.stdout,
      [
        'Event Info:',
        '\tEvent: "user"',
        '\tLTime: 3',
        '\tName: "hello"',
        '\tPayload: []byte{0x77, 0x6f, 0x72, 0x6c, 0x64}',
        '\tCoalesce: false',
        'Event Info:',
        '\tEvent: "query"',
        '\tID: 0xc8',
        '\tLTime: 1',
        '\tName: "qq"',
        '\tPayload: <nil>',
        'Event Info:',
        '\tEvent: "member-update"',
        '\tMembers: []interface {}{map[interface {}]interface {}{"Addr":[]uint8{0x7f, 0x0, 0x0, 0x1}, "DelegateCur":5, "DelegateMax":5, "DelegateMin":2, "Name":"xb", "Port":0x6d2b, "ProtocolCur":2, "ProtocolMax":5, "ProtocolMin":1, "Status":"alive", "Tags":map[interface {}]interface {}{"role":"db", "x":"1"}}}',
        '',
      ].join('\n'),
    );
  });

  it('monitor reports a closed connection', async () => {
    const client = new FakeClient({});
    const running = runCli(['monitor'], client);
    await new Promise((resolve) => setImmediate(resolve));
    client.endSubscriptions();
    const result = await running;
    assert.equal(
      result.stdout,
      '\nRemote side ended the monitor! This usually means that the\nremote side has exited or crashed.\n',
    );
    assert.equal(result.code, 1);
  });
});
