import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS, topLevelUsage } from '../../src/cli/main.js';
import { FakeClient, runCli } from './fake-client.js';

/** Exact top-level usage of the reference binary (Serf 0.9.4), which serf-ts keeps for scripts. */
const REFERENCE_USAGE = `Usage: serf [--version] [--help] <command> [<args>]

Available commands are:
    agent           Runs a Serf agent
    event           Send a custom event through the Serf cluster
    force-leave     Forces a member of the cluster to enter the "left" state
    info            Provides debugging information for operators
    join            Tell Serf agent to join cluster
    keygen          Generates a new encryption key
    keys            Manipulate the internal encryption keyring used by Serf
    leave           Gracefully leaves the Serf cluster and shuts down
    members         Lists the members of a Serf cluster
    monitor         Stream logs from a Serf agent
    query           Send a query to the Serf cluster
    reachability    Test network reachability
    rtt             Estimates network round trip time between nodes
    tags            Modify tags of a running Serf agent
    version         Prints the Serf version

`;

describe('serf top level', () => {
  it('usage text matches the reference', () => {
    assert.equal(`${topLevelUsage()}\n`, REFERENCE_USAGE);
  });

  it('no arguments exits 127 with usage on stderr', async () => {
    const result = await runCli([]);
    assert.equal(result.code, 127);
    assert.equal(result.stderr, REFERENCE_USAGE);
    assert.equal(result.stdout, '');
  });

  it('unknown command exits 127', async () => {
    const result = await runCli(['bogus']);
    assert.equal(result.code, 127);
    assert.equal(result.stderr, REFERENCE_USAGE);
  });

  it('-h alone exits 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, REFERENCE_USAGE);
  });

  it('-v anywhere prints the version', async () => {
    for (const argv of [['-v'], ['--version'], ['members', '-v'], ['event', 'x', '-v']]) {
      const result = await runCli(argv);
      assert.equal(result.code, 0, argv.join(' '));
      assert.match(result.stdout, /^\d+\.\d+\.\d+\S*\nAgent Protocol: 5 \(Understands back to: 2\)\n$/);
    }
  });

  it('flags before the subcommand exit 1', async () => {
    const result = await runCli(['-x', 'members']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /-x/);
    assert.match(result.stderr, /Usage: serf members/);
  });
});

describe('command help', () => {
  for (const name of COMMANDS.keys()) {
    if (name === 'agent') continue;
    it(`${name} -h exits 0 with help on stderr`, async () => {
      const client = new FakeClient({});
      const result = await runCli([name, '-h'], client);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, '');
      assert.ok(result.stderr.startsWith(`Usage: serf ${name}`), result.stderr);
      assert.ok(result.stderr.endsWith('\n'));
      assert.deepEqual(client.calls, []);
    });
  }

  it('-help after positional arguments still shows help', async () => {
    const result = await runCli(['event', 'deploy', '-help']);
    assert.equal(result.code, 0);
    assert.match(result.stderr, /^Usage: serf event/);
  });

  it('-h after -- is an argument', async () => {
    const client = new FakeClient({});
    const result = await runCli(['members', '--', '-h'], client);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, '');
    assert.equal(client.calls[0]?.method, 'membersFiltered');
  });

  it('-help=false prints help on stdout and exits 1', async () => {
    const result = await runCli(['members', '-help=false']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^Usage: serf members/);
  });
});

describe('argument errors', () => {
  it('unknown flag: Go message on stderr, help on stdout', async () => {
    const result = await runCli(['members', '-bogus']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'flag provided but not defined: -bogus\n');
    assert.match(result.stdout, /^Usage: serf members \[options\]\n/);
  });

  const usageErrors: Array<[string[], string]> = [
    [['event'], 'An event name must be specified.'],
    [['event', 'a', 'b', 'c'], 'Too many command line arguments. Only a name and payload must be specified.'],
    [['query'], 'A query name must be specified.'],
    [['query', 'a', 'b', 'c'], 'Too many command line arguments. Only a name and payload must be specified.'],
    [['join'], 'At least one address to join must be specified.'],
    [['force-leave'], 'A node name must be specified to force leave.'],
    [['force-leave', 'a', 'b'], 'A node name must be specified to force leave.'],
    [['rtt'], 'One or two node names must be specified'],
    [['rtt', 'a', 'b', 'c'], 'One or two node names must be specified'],
  ];
  for (const [argv, message] of usageErrors) {
    it(`${argv.join(' ')} prints "${message}"`, async () => {
      const result = await runCli(argv);
      assert.equal(result.code, 1);
      assert.ok(result.stdout.startsWith(`${message}\n\nUsage: serf ${argv[0]}`), result.stdout);
    });
  }

  const simpleErrors: Array<[string[], string]> = [
    [['query', '-relay-factor=256', 'q'], 'Relay factor must be between 0 and 255\n'],
    [['query', '-relay-factor=-1', 'q'], 'Relay factor must be between 0 and 255\n'],
    [['query', '-format=xml', 'q'], 'Invalid format: xml\n'],
    [['query', '-tag', 'x', 'q'], "Error: Invalid tag: 'x'\n"],
    [['members', '-tag', '=x'], "Error: Invalid tag: '=x'\n"],
    [['members', '-format=xml'], 'Encoding error: Invalid output format "xml"\n'],
    [['info', '-format=xml'], 'Encoding error: Invalid output format "xml"\n'],
    [['tags', '-set', 'foo'], "Error: Invalid tag: 'foo'\n"],
  ];
  for (const [argv, output] of simpleErrors) {
    it(`${argv.join(' ')} exits 1`, async () => {
      const result = await runCli(argv);
      assert.equal(result.stdout, output);
      assert.equal(result.code, 1);
    });
  }

  it('keys and tags without an operation print help on stdout', async () => {
    for (const name of ['keys', 'tags']) {
      const result = await runCli([name]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, new RegExp(`^Usage: serf ${name}`));
    }
  });

  it('role filter prints the deprecation warning', async () => {
    const client = new FakeClient({});
    const result = await runCli(['members', '-role=web'], client);
    assert.equal(result.stdout, "Deprecation warning: 'Role' has been replaced with 'Tags'\n\n");
    assert.deepEqual(client.calls[0]?.args, [{ tags: { role: 'web' }, status: '', name: '' }]);
  });
});

describe('rpc address and connection errors', () => {
  it('defaults to 127.0.0.1:7373', async () => {
    const result = await runCli(['leave']);
    assert.deepEqual(result.connectedTo, { address: '127.0.0.1:7373', authKey: '' });
  });

  it('reads SERF_RPC_ADDR and SERF_RPC_AUTH', async () => {
    const result = await runCli(['leave'], new FakeClient({}), {
      env: { SERF_RPC_ADDR: '127.0.0.2:1234', SERF_RPC_AUTH: 'secret' },
    });
    assert.deepEqual(result.connectedTo, { address: '127.0.0.2:1234', authKey: 'secret' });
  });

  it('flags override the environment', async () => {
    const result = await runCli(['leave', '-rpc-addr=127.0.0.3:1', '-rpc-auth='], new FakeClient({}), {
      env: { SERF_RPC_ADDR: '127.0.0.2:1234', SERF_RPC_AUTH: 'secret' },
    });
    assert.deepEqual(result.connectedTo, { address: '127.0.0.3:1', authKey: '' });
  });

  it('connection refused reads like Go', async () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const result = await runCli(['members', '-rpc-addr=127.0.0.1:1'], new Error('cannot connect', { cause }));
    assert.equal(
      result.stdout,
      'Error connecting to Serf agent: dial tcp 127.0.0.1:1: connect: connection refused\n',
    );
    assert.equal(result.code, 1);
  });

  it('address without port is rejected before dialing', async () => {
    const result = await runCli(['members', '-rpc-addr=nohostport']);
    assert.equal(
      result.stdout,
      'Error connecting to Serf agent: dial tcp: address nohostport: missing port in address\n',
    );
    assert.equal(result.connectedTo, undefined);
    assert.equal(result.code, 1);
  });

  it('agent errors keep their text', async () => {
    const result = await runCli(['members'], new Error('Invalid authentication token'));
    assert.equal(result.stdout, 'Error connecting to Serf agent: Invalid authentication token\n');
  });

  it('every command closes its client', async () => {
    const client = new FakeClient({});
    await runCli(['event', 'x'], client);
    assert.equal(client.closed, true);
  });
});
