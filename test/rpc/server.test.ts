// RpcServer with a stub backend, driven in-process through RpcClient and through raw sockets for
// the protocol corner cases and hostile input.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RpcServer } from '../../src/agent/rpc-server.js';
import { KeyOperationError, RpcClient, RpcError, type StreamRecord } from '../../src/client/rpc-client.js';
import { concatFrames, encodeRpc } from '../../src/rpc/codec.js';
import { RpcObjectReader } from '../../src/rpc/socket-reader.js';
import { NetworkError } from '../../src/util/errors.js';
import { createLogger, formatLogLine } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';
import { JOIN_REFUSED, StubBackend, stubMember } from './stub-backend.js';

const text = (s: string) => new TextEncoder().encode(s);

interface Harness {
  backend: StubBackend;
  server: RpcServer;
  logs: string[];
  address: string;
}

async function startServer(configure?: (backend: StubBackend) => void): Promise<Harness> {
  const backend = new StubBackend();
  configure?.(backend);
  const logs: string[] = [];
  const logger = createLogger((record) => logs.push(formatLogLine(record)), 'debug');
  const server = new RpcServer({ backend, address: '127.0.0.1:0', logger });
  await server.start();
  return { backend, server, logs, address: `127.0.0.1:${server.address.port}` };
}

/** A raw connection for byte-level exchanges. */
class RawClient {
  readonly socket: Socket;
  readonly reader: RpcObjectReader;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.reader = new RpcObjectReader(socket);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  send(...objects: unknown[]): void {
    this.socket.write(concatFrames(objects.map((o) => encodeRpc(o))));
  }

  async read(): Promise<unknown> {
    const next = await this.reader.next();
    if (next.done) throw new Error('connection ended');
    return next.value;
  }

  async handshake(): Promise<void> {
    this.send({ Command: 'handshake', Seq: 1 }, { Version: 1 });
    assert.deepEqual(await this.read(), { Error: '', Seq: 1 });
  }

  /** Resolves true once the server has closed the connection. */
  async waitClosed(): Promise<boolean> {
    for (;;) {
      const next = await this.reader.next().catch(() => ({ done: true as const }));
      if (next.done) return true;
    }
  }
}

describe('rpc server commands', () => {
  let h: Harness;
  let client: RpcClient;

  before(async () => {
    h = await startServer();
    client = await RpcClient.connect(h.address);
  });
  after(async () => {
    await client.close();
    await h.server.close();
  });

  test('members lists every member', async () => {
    const members = await client.members();
    assert.deepEqual(
      members.map((m) => [m.name, m.addr, m.port, m.status]),
      [
        ['node-a', '127.0.0.11', 7946, 'alive'],
        ['node-b', '127.0.0.12', 7946, 'alive'],
        ['node-c', '127.0.0.13', 7946, 'failed'],
      ],
    );
    assert.deepEqual(members[0]?.tags, { role: 'web', dc: 'east' });
    assert.equal(members[0]?.delegateCur, 5);
    assert.equal(members[0]?.protocolMax, 5);
  });

  test('members-filtered anchors expressions', async () => {
    assert.deepEqual(
      (await client.membersFiltered({ status: 'alive' })).map((m) => m.name),
      ['node-a', 'node-b'],
    );
    assert.deepEqual((await client.membersFiltered({ name: 'node-.' })).length, 3);
    assert.deepEqual((await client.membersFiltered({ name: 'node' })).length, 0);
    assert.deepEqual(
      (await client.membersFiltered({ tags: { role: 'web|db' } })).map((m) => m.name),
      ['node-a', 'node-b'],
    );
    assert.deepEqual((await client.membersFiltered({ tags: { dc: '.*' } })).length, 3);
    assert.deepEqual(
      (await client.membersFiltered({ tags: { dc: '.+' } })).map((m) => m.name),
      ['node-a'],
    );
  });

  test('join returns the count', async () => {
    assert.equal(await client.join(['127.0.0.1:7946', '127.0.0.2'], true), 2);
    assert.deepEqual(h.backend.calls.at(-1), {
      method: 'join',
      args: [['127.0.0.1:7946', '127.0.0.2'], true],
    });
  });

  test('join failure carries the text and count', async () => {
    const err = await client.join(['127.0.0.1:1'], false).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.message, JOIN_REFUSED);
    assert.equal(err.code, 'SERF_ERR_REMOTE');
    assert.deepEqual(err.details, { num: 0 });
    // The connection stays in sync after an error reply with a body.
    assert.equal((await client.members()).length, 3);
  });

  test('event, force-leave and tags reach the backend', async () => {
    await client.userEvent('deploy', text('v1'), true);
    assert.deepEqual(h.backend.calls.at(-1), { method: 'userEvent', args: ['deploy', text('v1'), true] });
    await client.userEvent('noop', null, false);
    assert.deepEqual(h.backend.calls.at(-1), { method: 'userEvent', args: ['noop', null, false] });
    await client.forceLeave('node-c', { prune: true });
    assert.deepEqual(h.backend.calls.at(-1), { method: 'forceLeave', args: ['node-c', true] });
    await client.updateTags({ version: '2' }, ['dc']);
    assert.deepEqual(h.backend.tags, { role: 'web', version: '2' });
  });

  test('event error text passes through', async () => {
    await assert.rejects(client.userEvent('big', new Uint8Array(600), true), {
      name: 'RpcError',
      message: 'user event exceeds configured limit of 512 bytes before encoding',
    });
  });

  test('key operations return the response', async () => {
    const installed = await client.installKey('CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0=');
    assert.deepEqual(installed, { messages: {}, keys: null, numNodes: 3, numResp: 3, numErr: 0 });
    const listed = await client.listKeys();
    assert.equal(listed.keys?.['CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0='], 3);
    h.backend.keyFailure = 'Removing the primary key is not allowed';
    try {
      const err = await client
        .removeKey('l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=')
        .catch((e: unknown) => e);
      assert.ok(err instanceof KeyOperationError);
      assert.equal(err.message, '1/3 nodes reported failure');
      assert.deepEqual(err.response.messages, { 'node-b': 'Removing the primary key is not allowed' });
      assert.equal(err.response.numErr, 1);
      assert.equal(err.response.keys, null);
    } finally {
      h.backend.keyFailure = undefined;
    }
  });

  test('stats and coordinates', async () => {
    const stats = await client.stats();
    assert.equal(stats.agent?.name, 'node-a');
    assert.equal(stats.serf?.members, '3');
    const coordinate = await client.getCoordinate('node-b');
    assert.deepEqual(coordinate, {
      adjustment: 0,
      error: 1.5,
      height: 0.0001,
      vec: [0.001, 0, 0, 0, 0, 0, 0, 0],
    });
    assert.equal(await client.getCoordinate('nobody'), undefined);
  });

  test('query streams acks, responses and done', async () => {
    const records: unknown[] = [];
    await client.query(
      { name: 'ping', payload: text('x'), requestAck: true, timeoutMs: 500, filterTags: { role: 'web' } },
      (r) => records.push(r),
    );
    assert.deepEqual(records, [
      { type: 'ack', from: 'node-a' },
      { type: 'response', from: 'node-a', payload: text('pong from node-a') },
      { type: 'ack', from: 'node-b' },
      { type: 'done' },
    ]);
    const params = h.backend.calls.findLast((c) => c.method === 'query')?.args[0];
    assert.deepEqual(params, {
      name: 'ping',
      payload: text('x'),
      filterNodes: [],
      filterTags: { role: 'web' },
      requestAck: true,
      relayFactor: 0,
      timeoutMs: 500,
    });
  });

  test('query with the internal prefix is refused', async () => {
    await assert.rejects(
      client.query({ name: '_serf_x' }, () => {}),
      {
        message: "Queries cannot contain the '_serf_' prefix",
      },
    );
    const records: unknown[] = [];
    await client.query({ name: '_serf_ping', requestAck: true }, (r) => records.push(r));
    assert.deepEqual(records.at(-1), { type: 'done' });
  });

  test('stream delivers events and respond answers queries', async () => {
    const records: StreamRecord[] = [];
    const subscription = await client.stream('user:deploy,member-join,query', (r) => records.push(r));
    h.backend.emit({ type: 'user', ltime: 3, name: 'other', payload: text('skip'), coalesce: true });
    h.backend.emit({ type: 'user', ltime: 4, name: 'deploy', payload: new Uint8Array(0), coalesce: false });
    h.backend.emit({ type: 'member-join', members: [stubMember('node-d', '127.0.0.14', {})] });
    h.backend.emit({ type: 'member-leave', members: [stubMember('node-d', '127.0.0.14', {})] });
    h.backend.emit(h.backend.queryEvent(99, 'health', 'ping?'));
    await waitFor(() => records.length >= 3, { timeoutMs: 5000, message: 'stream records did not arrive' });
    assert.deepEqual(records[0], { event: 'user', ltime: 4, name: 'deploy', payload: null, coalesce: false });
    assert.equal(records[1]?.event, 'member-join');
    assert.deepEqual(records[2], { event: 'query', id: 1, ltime: 7, name: 'health', payload: text('ping?') });

    await client.respond(1, text('ok'));
    assert.deepEqual(h.backend.responses, [{ id: 99, payload: text('ok') }]);
    await assert.rejects(client.respond(1, text('again')), {
      message: 'failed to respond to key query: response already sent',
    });
    await assert.rejects(client.respond(42, null), { message: 'No pending queries matching ID' });

    await subscription.stop();
    await subscription.done;
    await waitFor(() => h.backend.eventListenerCount === 0, {
      timeoutMs: 2000,
      message: 'stream not removed',
    });
  });

  test('stream with an invalid filter is refused', async () => {
    await assert.rejects(
      client.stream('member-join,bogus', () => {}),
      { message: 'Invalid event filter' },
    );
  });

  test('too many streams on one connection are refused', async () => {
    const own = await RpcClient.connect(h.address);
    try {
      const subs = [];
      for (let i = 0; i < 16; i++) subs.push(await own.stream('user', () => {}));
      await assert.rejects(
        own.stream('user', () => {}),
        /Too many event streams on this connection \(limit 16\)/,
      );
      await subs[0]!.stop();
      const again = await own.stream('user', () => {});
      await again.stop();
    } finally {
      await own.close();
    }
  });

  test('monitor replays and streams log lines', async () => {
    const lines: string[] = [];
    const subscription = await client.monitor('debug', (line) => lines.push(line));
    h.backend.log('2026/01/01 00:00:01 [INFO] agent: live line');
    await waitFor(() => lines.length >= 2, { timeoutMs: 5000, message: 'log lines did not arrive' });
    assert.deepEqual(lines.slice(0, 2), [
      '2026/01/01 00:00:00 [INFO] agent: Serf agent starting',
      '2026/01/01 00:00:01 [INFO] agent: live line',
    ]);
    await assert.rejects(
      client.monitor('info', () => {}),
      { message: 'Monitor already exists' },
    );
    await subscription.stop();
    assert.equal(h.backend.logListenerCount, 0);
  });

  test('monitor with an unknown level is refused', async () => {
    await assert.rejects(
      client.monitor('loud', () => {}),
      { message: 'Unknown log level: LOUD' },
    );
  });

  test('leave calls the backend', async () => {
    await client.leave();
    assert.equal(h.backend.calls.at(-1)?.method, 'leave');
    assert.ok(h.logs.some((l) => l.includes('[INFO] agent.ipc: Graceful leave triggered')));
  });

  test('accept is logged with the client address', async () => {
    assert.ok(
      h.logs.some((l) => /\[INFO\] agent\.ipc: Accepted client: 127\.0\.0\.1:\d+$/.test(l)),
      h.logs.join('\n'),
    );
  });
});

describe('rpc server authentication', () => {
  let h: Harness;

  before(async () => {
    h = await startServer((backend) => {
      backend.authKey = 'tok-1';
    });
  });
  after(() => h.server.close());

  test('command without auth is refused', async () => {
    const client = await RpcClient.connect(h.address);
    try {
      await assert.rejects(client.members(), { message: 'Authentication required' });
      assert.ok(
        h.logs.some(
          (l) => l.includes('[WARN] agent.ipc: Client') && l.includes('sending commands before auth'),
        ),
      );
    } finally {
      await client.close();
    }
  });

  test('correct key is accepted', async () => {
    const client = await RpcClient.connect(h.address, { authKey: 'tok-1' });
    try {
      assert.equal((await client.members()).length, 3);
    } finally {
      await client.close();
    }
  });

  test('wrong key is rejected', async () => {
    await assert.rejects(RpcClient.connect(h.address, { authKey: 'nope' }), {
      name: 'RpcError',
      message: 'Invalid authentication token',
    });
  });

  test('unread body repeats the error like the Go agent', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await raw.handshake();
    raw.send({ Command: 'members-filtered', Seq: 2 }, { Name: '', Status: '', Tags: {} });
    assert.deepEqual(await raw.read(), { Error: 'Authentication required', Seq: 2 });
    assert.deepEqual(await raw.read(), { Error: 'Authentication required', Seq: 2 });
    raw.send({ Command: 'auth', Seq: 3 }, { AuthKey: 'tok-1' });
    assert.deepEqual(await raw.read(), { Error: '', Seq: 3 });
    raw.socket.destroy();
  });

  test('token sent to an agent without a key is rejected', async () => {
    const open = await startServer();
    try {
      await assert.rejects(RpcClient.connect(open.address, { authKey: 'x' }), {
        message: 'Invalid authentication token',
      });
    } finally {
      await open.server.close();
    }
  });
});

describe('rpc server hostile input', () => {
  let h: Harness;

  before(async () => {
    h = await startServer();
  });
  after(() => h.server.close());

  async function expectClosedAndServing(raw: RawClient, logPattern: RegExp): Promise<void> {
    assert.equal(await raw.waitClosed(), true);
    const port = raw.socket.localPort;
    await waitFor(() => h.logs.some((l) => logPattern.test(l) && l.includes(`127.0.0.1:${port}`)), {
      timeoutMs: 2000,
      message: `no log line matching ${logPattern} naming the client`,
    });
    const client = await RpcClient.connect(h.address);
    assert.equal((await client.members()).length, 3);
    await client.close();
  }

  test('client without handshake is closed after a timeout', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await expectClosedAndServing(raw, /\[WARN\] agent\.ipc: Closing client .*: no handshake within 5000 ms/);
  });

  test('garbage bytes close the connection', async () => {
    const raw = await RawClient.open(h.server.address.port);
    raw.socket.write(Uint8Array.of(0xc1, 0xff, 0x00));
    await expectClosedAndServing(raw, /\[ERR\] agent\.ipc: failed to decode request/);
  });

  test('huge declared length closes the connection', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await raw.handshake();
    raw.socket.write(Uint8Array.of(0x82, 0xa7, ...text('Command'), 0xdb, 0x7f, 0xff, 0xff, 0xff));
    await expectClosedAndServing(raw, /exceeds the 1048576-byte limit/);
  });

  test('deep nesting closes the connection', async () => {
    const raw = await RawClient.open(h.server.address.port);
    raw.socket.write(new Uint8Array(5000).fill(0x91));
    await expectClosedAndServing(raw, /nests deeper/);
  });

  test('wrong field types close the connection', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await raw.handshake();
    raw.send({ Command: 'event', Seq: 2 }, { Name: text('bin-name'), Payload: null, Coalesce: true });
    await expectClosedAndServing(raw, /event request\.Name must be a msgpack str/);
  });

  test('command before handshake is refused then closed', async () => {
    const raw = await RawClient.open(h.server.address.port);
    raw.send({ Command: 'members', Seq: 1 });
    assert.deepEqual(await raw.read(), { Error: 'Handshake required', Seq: 1 });
    await expectClosedAndServing(raw, /Handshake required/);
  });

  test('unknown command is refused then closed', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await raw.handshake();
    raw.send({ Command: 'explode', Seq: 2 });
    assert.deepEqual(await raw.read(), { Error: 'Unsupported command', Seq: 2 });
    await expectClosedAndServing(raw, /not recognized/);
  });

  test('invalid member regexp closes without a reply', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await raw.handshake();
    raw.send({ Command: 'members-filtered', Seq: 2 }, { Name: '(', Status: '', Tags: {} });
    await expectClosedAndServing(raw, /Failed to compile regex/);
  });

  test('handshake version checks', async () => {
    const raw = await RawClient.open(h.server.address.port);
    raw.send({ Command: 'handshake', Seq: 1 }, { Version: 2 });
    assert.deepEqual(await raw.read(), { Error: 'Unsupported IPC version', Seq: 1 });
    raw.send({ Command: 'handshake', Seq: 2 }, { Version: 1 });
    assert.deepEqual(await raw.read(), { Error: '', Seq: 2 });
    raw.send({ Command: 'handshake', Seq: 3 }, { Version: 1 });
    assert.deepEqual(await raw.read(), { Error: 'Handshake already performed', Seq: 3 });
    raw.send({ Command: 'stream', Seq: 4 }, { Type: '*' });
    assert.deepEqual(await raw.read(), { Error: '', Seq: 4 });
    raw.send({ Command: 'stream', Seq: 4 }, { Type: '*' });
    assert.deepEqual(await raw.read(), { Error: 'Stream with given sequence exists', Seq: 4 });
    raw.socket.destroy();
  });

  test('slow client loses events but never blocks the agent', async () => {
    const raw = await RawClient.open(h.server.address.port);
    await raw.handshake();
    raw.send({ Command: 'stream', Seq: 2 }, { Type: 'user' });
    assert.deepEqual(await raw.read(), { Error: '', Seq: 2 });
    raw.socket.pause();
    const payload = new Uint8Array(8 * 1024).fill(0x61);
    const started = Date.now();
    for (let i = 0; i < 4000; i++)
      h.backend.emit({ type: 'user', ltime: i, name: 'flood', payload, coalesce: false });
    assert.ok(Date.now() - started < 5000, 'emitting blocked');
    await waitFor(
      () => h.logs.some((l) => /\[WARN\] agent\.ipc: Dropping event to 127\.0\.0\.1:\d+/.test(l)),
      {
        timeoutMs: 5000,
        message: 'no drop warning',
      },
    );
    raw.socket.destroy();
  });

  test('dropped connection rejects pending calls', async () => {
    const h2 = await startServer();
    h2.backend.queryReplyDelayMs = 10_000;
    const client = await RpcClient.connect(h2.address);
    const pending = client.query({ name: 'slow', timeoutMs: 10_000 }, () => {});
    await waitFor(() => h2.backend.calls.some((c) => c.method === 'query'), {
      timeoutMs: 2000,
      message: 'query did not reach the backend',
    });
    await h2.server.close();
    const err = await pending.catch((e: unknown) => e);
    assert.ok(err instanceof NetworkError, String(err));
    assert.match(err.message, new RegExp(h2.address.replace(/\./g, '\\.')));
    await client.close();
  });
});
