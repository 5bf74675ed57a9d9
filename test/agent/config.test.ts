import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AgentConfig,
  agentUsage,
  decodeConfigJson,
  defaultAgentConfig,
  finalizeAgentConfig,
  formatGoDuration,
  loadAgentConfig,
  loadConfigFiles,
  mergeAgentConfig,
  parseAgentFlags,
  parseGoDuration,
  splitHostPort,
  validateAgentConfig,
} from '../../src/agent/config.js';
import { ErrorCode, InvalidArgumentError } from '../../src/util/errors.js';

const key32 = 'mLcA7wSKEU8tt8zgKXbO0x+GaSqbIo1bMS67lz8+zA4=';

function assertInvalid(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.invalidArgument);
    assert.ok(!err.message.includes('\n'), `message must be one line: ${JSON.stringify(err.message)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'serf-agent-config-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

const KEY_HINT = " (expected the base64 text of a 16, 24 or 32-byte key, as printed by 'serf keygen')";

describe('parseGoDuration', () => {
  const table: [string, number][] = [
    ['0', 0],
    ['300ms', 300],
    ['5s', 5000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['5.s', 5000],
    ['1h30m', 5_400_000],
    ['2h45m', 9_900_000],
    ['1m1s1ms', 61_001],
    ['-5s', -5000],
    ['+5s', 5000],
    ['1000ns', 0.001],
    ['1us', 0.001],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['24h', 86_400_000],
  ];
  for (const [text, ms] of table) {
    it(`parses ${text}`, () => {
      assert.ok(Math.abs(parseGoDuration(text) - ms) < 1e-9, `${text} → ${parseGoDuration(text)}`);
    });
  }

  const errors: [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['bad', 'time: invalid duration "bad"'],
    ['5', 'time: missing unit in duration "5"'],
    ['1.5x', 'time: unknown unit "x" in duration "1.5x"'],
    ['.s', 'time: invalid duration ".s"'],
    ['-', 'time: invalid duration "-"'],
    ['5s3', 'time: missing unit in duration "5s3"'],
  ];
  for (const [text, message] of errors) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assertInvalid(() => parseGoDuration(text), message);
    });
  }

  it('formats durations like Go', () => {
    assert.equal(formatGoDuration(1000), '1s');
    assert.equal(formatGoDuration(1500), '1.5s');
    assert.equal(formatGoDuration(500), '500ms');
    assert.equal(formatGoDuration(90_000), '1m30s');
    assert.equal(formatGoDuration(86_400_000), '24h0m0s');
    assert.equal(formatGoDuration(0), '0s');
  });
});

describe('parseAgentFlags', () => {
  it('parses every flag', () => {
    const { flags, configFiles, args } = parseAgentFlags([
      '-bind=127.0.0.1:7000',
      '-advertise',
      '10.0.0.1:7001',
      '-iface=lo',
      '-config-file=a.json',
      '-config-dir',
      'conf.d',
      '-config-file=b.json',
      '-discover=prod',
      `-encrypt=${key32}`,
      '-encrypt-file=/k',
      '-keyring-file=/ring.json',
      '-event-handler=a.sh',
      '-event-handler',
      'user:deploy=b.sh',
      '-join=10.0.0.2',
      '-join=10.0.0.3',
      '-replay',
      '-log-level=debug',
      '-node=n1',
      '-protocol=4',
      '-role=web',
      '-rpc-addr=127.0.0.1:7374',
      '-profile=wan',
      '-snapshot=/snap',
      '-tag',
      'a=1',
      '-tag=b=x=y',
      '-tags-file=/tags.json',
      '-syslog',
      '-retry-join=10.0.0.4',
      '-retry-join=10.0.0.5',
      '-retry-max=3',
      '-retry-interval=1m',
      '-rejoin',
      '-disable-compression',
      '-broadcast-timeout=2500ms',
    ]);
    assert.deepEqual(args, []);
    assert.deepEqual(configFiles, ['a.json', 'conf.d', 'b.json']);
    const expected: Partial<AgentConfig> = {
      bind: '127.0.0.1:7000',
      advertise: '10.0.0.1:7001',
      interface: 'lo',
      discover: 'prod',
      encryptKey: key32,
      encryptFile: '/k',
      keyringFile: '/ring.json',
      eventHandlers: ['a.sh', 'user:deploy=b.sh'],
      startJoin: ['10.0.0.2', '10.0.0.3'],
      replayOnJoin: true,
      logLevel: 'debug',
      nodeName: 'n1',
      protocol: 4,
      role: 'web',
      rpcAddr: '127.0.0.1:7374',
      profile: 'wan',
      snapshotPath: '/snap',
      tags: { a: '1', b: 'x=y' },
      tagsFile: '/tags.json',
      enableSyslog: true,
      retryJoin: ['10.0.0.4', '10.0.0.5'],
      retryMaxAttempts: 3,
      retryIntervalMs: 60_000,
      rejoinAfterLeave: true,
      enableCompression: false,
      broadcastTimeoutMs: 2500,
    };
    assert.deepEqual(flags, expected);
  });

  it('always sets enableCompression', () => {
    assert.deepEqual(parseAgentFlags([]).flags, { enableCompression: true });
  });

  it('accepts double dashes and bool values', () => {
    const { flags } = parseAgentFlags(['--node=x', '--replay=false', '-syslog=true', '-rejoin=1']);
    assert.equal(flags.nodeName, 'x');
    assert.equal(flags.replayOnJoin, false);
    assert.equal(flags.enableSyslog, true);
    assert.equal(flags.rejoinAfterLeave, true);
  });

  it('stops at the first positional argument', () => {
    const parsed = parseAgentFlags(['-node=a', 'extra', '-node=b']);
    assert.equal(parsed.flags.nodeName, 'a');
    assert.deepEqual(parsed.args, ['extra', '-node=b']);
  });

  it('treats a bool followed by a word as positional', () => {
    const parsed = parseAgentFlags(['-replay', 'false']);
    assert.equal(parsed.flags.replayOnJoin, true);
    assert.deepEqual(parsed.args, ['false']);
  });

  it('stops after a double dash', () => {
    assert.deepEqual(parseAgentFlags(['--', '-node=x']).args, ['-node=x']);
  });

  it('takes a dash-leading value for a string flag', () => {
    assert.equal(parseAgentFlags(['-node', '-weird']).flags.nodeName, '-weird');
  });

  it('reports help', () => {
    assert.equal(parseAgentFlags(['-h']).help, true);
    assert.equal(parseAgentFlags(['-help']).help, true);
    assert.equal(parseAgentFlags(['--help']).help, true);
  });

  it('accepts Go integer forms', () => {
    assert.equal(parseAgentFlags(['-retry-max=0x10']).flags.retryMaxAttempts, 16);
    assert.equal(parseAgentFlags(['-retry-max=-1']).flags.retryMaxAttempts, -1);
  });

  it('treats an empty duration flag as unset', () => {
    assert.equal(parseAgentFlags(['-retry-interval=']).flags.retryIntervalMs, undefined);
  });

  const errors: [string[], string | RegExp][] = [
    [['-bogus'], "flag provided but not defined: -bogus (run 'serf agent -help' for the list of flags)"],
    [['-node'], 'flag needs an argument: -node'],
    [['-protocol=x'], 'invalid value "x" for flag -protocol: parse error'],
    [['-replay=maybe'], 'invalid boolean value "maybe" for -replay: parse error'],
    [['---node=x'], 'bad flag syntax: ---node=x'],
    [['-=x'], 'bad flag syntax: -=x'],
    [['-tag=novalue'], "Error: Invalid tag: 'novalue'"],
    [['-tag', '=v'], "Error: Invalid tag: '=v'"],
    [['-retry-interval=bad'], /^Error: invalid duration "bad" for -retry-interval: expected/],
    [['-broadcast-timeout=5'], /^Error: invalid duration "5" for -broadcast-timeout: expected/],
  ];
  for (const [argv, message] of errors) {
    it(`rejects ${argv.join(' ')}`, () => {
      assertInvalid(() => parseAgentFlags(argv), message);
    });
  }
});

describe('decodeConfigJson', () => {
  it('decodes every key', () => {
    const decoded = decodeConfigJson(
      JSON.stringify({
        node_name: 'n1',
        role: 'web',
        disable_coordinates: true,
        tags: { dc: 'east' },
        tags_file: '/t',
        bind: '127.0.0.1',
        advertise: '10.0.0.1',
        encrypt_key: key32,
        keyring_file: '/k',
        log_level: 'warn',
        rpc_addr: '127.0.0.1:1',
        rpc_auth: 'secret',
        protocol: 3,
        replay_on_join: true,
        query_response_size_limit: 2048,
        query_size_limit: 4096,
        user_event_size_limit: 1024,
        start_join: ['a'],
        event_handlers: ['h.sh'],
        profile: 'local',
        snapshot_path: '/s',
        leave_on_terminate: true,
        skip_leave_on_interrupt: true,
        discover: 'c',
        interface: 'lo',
        reconnect_interval: '10s',
        reconnect_timeout: '1h',
        tombstone_timeout: '2h',
        disable_name_resolution: true,
        enable_syslog: true,
        syslog_facility: 'LOCAL3',
        retry_join: ['b'],
        retry_max_attempts: 5,
        retry_interval: '15s',
        rejoin_after_leave: true,
        enable_compression: false,
        statsite_addr: '127.0.0.1:8125',
        statsd_addr: '127.0.0.1:8126',
        broadcast_timeout: '7s',
      }),
    );
    assert.deepEqual(decoded, {
      nodeName: 'n1',
      role: 'web',
      disableCoordinates: true,
      tags: { dc: 'east' },
      tagsFile: '/t',
      bind: '127.0.0.1',
      advertise: '10.0.0.1',
      encryptKey: key32,
      keyringFile: '/k',
      logLevel: 'warn',
      rpcAddr: '127.0.0.1:1',
      rpcAuth: 'secret',
      protocol: 3,
      replayOnJoin: true,
      queryResponseSizeLimit: 2048,
      querySizeLimit: 4096,
      userEventSizeLimit: 1024,
      startJoin: ['a'],
      eventHandlers: ['h.sh'],
      profile: 'local',
      snapshotPath: '/s',
      leaveOnTerminate: true,
      skipLeaveOnInterrupt: true,
      discover: 'c',
      interface: 'lo',
      reconnectIntervalMs: 10_000,
      reconnectTimeoutMs: 3_600_000,
      tombstoneTimeoutMs: 7_200_000,
      disableNameResolution: true,
      enableSyslog: true,
      syslogFacility: 'LOCAL3',
      retryJoin: ['b'],
      retryMaxAttempts: 5,
      retryIntervalMs: 15_000,
      rejoinAfterLeave: true,
      enableCompression: false,
      statsiteAddr: '127.0.0.1:8125',
      statsdAddr: '127.0.0.1:8126',
      broadcastTimeoutMs: 7000,
    });
  });

  it('matches keys case-insensitively', () => {
    assert.equal(decodeConfigJson('{"NODE_NAME":"x"}').nodeName, 'x');
  });

  it('treats null as absent', () => {
    assert.deepEqual(decodeConfigJson('{"node_name":null}'), {});
  });

  const errors: [string, string | RegExp][] = [
    ['{"bogus_key":1}', "'' has invalid keys: bogus_key"],
    ['{"protocol":"5"}', `'protocol' expected type 'int', got string "5"`],
    ['{"protocol":1.5}', `'protocol' expected type 'int', got number 1.5`],
    ['{"replay_on_join":"true"}', `'replay_on_join' expected type 'bool', got string "true"`],
    ['{"start_join":"a"}', `'start_join' expected type 'array of strings', got string "a"`],
    ['{"tags":{"a":1}}', `'tags[a]' expected type 'string', got number 1`],
    ['{"reconnect_interval":"bad"}', /^Error: invalid duration "bad" for 'reconnect_interval': expected/],
    ['[]', 'expected a JSON object at the top level, got array'],
    ['not json', /^invalid JSON: /],
  ];
  for (const [text, message] of errors) {
    it(`rejects ${text}`, () => {
      assertInvalid(() => decodeConfigJson(text), message);
    });
  }
});

describe('loadConfigFiles', () => {
  it('merges files and directories in order', () => {
    const conf = join(dir, 'conf.d');
    mkdirSync(conf);
    mkdirSync(join(conf, 'sub.json'));
    writeFileSync(
      join(conf, 'b.json'),
      JSON.stringify({ node_name: 'from-b', start_join: ['b'], tags: { x: 'b' } }),
    );
    writeFileSync(
      join(conf, 'a.json'),
      JSON.stringify({ node_name: 'from-a', start_join: ['a'], tags: { y: 'a' } }),
    );
    writeFileSync(join(conf, 'Z.json'), JSON.stringify({ start_join: ['Z'] }));
    writeFileSync(join(conf, 'ignored.txt'), 'not json');
    writeFileSync(join(conf, 'sub.json', 'deep.json'), JSON.stringify({ node_name: 'deep' }));
    const first = writeJson('first.json', { node_name: 'first', start_join: ['first'], log_level: 'debug' });
    const last = writeJson('last.json', { start_join: ['last'], tags: { x: 'last' }, node_name: '' });

    const merged = loadConfigFiles([first, conf, last]);
    // Byte order puts "Z.json" before "a.json".
    assert.deepEqual(merged.startJoin, ['first', 'Z', 'a', 'b', 'last']);
    assert.equal(merged.nodeName, 'from-b');
    assert.equal(merged.logLevel, 'debug');
    assert.deepEqual(merged.tags, { y: 'a', x: 'last' });
  });

  it('names a missing path', () => {
    const path = join(dir, 'missing.json');
    assertInvalid(
      () => loadConfigFiles([path]),
      `Error reading '${path}': open ${path}: no such file or directory`,
    );
  });

  it('names the file that fails to decode', () => {
    const path = writeJson('bad-key.json', { bogus_key: 1 });
    assertInvalid(() => loadConfigFiles([path]), `Error decoding '${path}': '' has invalid keys: bogus_key`);
  });
});

describe('merge rules', () => {
  it('lets true booleans stick and keeps set strings', () => {
    const base = mergeAgentConfig(defaultAgentConfig(), { replayOnJoin: true, nodeName: 'a', protocol: 3 });
    const merged = mergeAgentConfig(base, {
      replayOnJoin: false,
      nodeName: '',
      protocol: -1,
      retryMaxAttempts: 0,
    });
    assert.equal(merged.replayOnJoin, true);
    assert.equal(merged.nodeName, 'a');
    assert.equal(merged.protocol, 3);
    assert.equal(merged.retryMaxAttempts, 0);
  });

  it('lets flags win over files', () => {
    const path = writeJson('flags-win.json', {
      node_name: 'file',
      log_level: 'debug',
      event_handlers: ['f.sh'],
    });
    const { config } = loadAgentConfig(['-node=flag', `-config-file=${path}`, '-event-handler=g.sh'], {});
    assert.equal(config.nodeName, 'flag');
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.eventHandlers, ['f.sh', 'g.sh']);
  });

  it('ignores enable_compression from files', () => {
    const path = writeJson('compression.json', { enable_compression: false });
    assert.equal(loadAgentConfig([`-config-file=${path}`], {}).config.enableCompression, true);
    assert.equal(
      loadAgentConfig(['-disable-compression', `-config-file=${path}`], {}).config.enableCompression,
      false,
    );
    const on = writeJson('compression-on.json', { enable_compression: true });
    assert.equal(
      loadAgentConfig(['-disable-compression', `-config-file=${on}`], {}).config.enableCompression,
      false,
    );
  });

  it('keeps the reference defaults', () => {
    const { config } = loadAgentConfig([], {});
    assert.equal(config.nodeName, hostname());
    assert.equal(config.bind, '0.0.0.0');
    assert.equal(config.rpcAddr, '127.0.0.1:7373');
    assert.equal(config.logLevel, 'INFO');
    assert.equal(config.protocol, 5);
    assert.equal(config.profile, 'lan');
    assert.equal(config.retryIntervalMs, 30_000);
    assert.equal(config.broadcastTimeoutMs, 5000);
    assert.equal(config.reconnectIntervalMs, 30_000);
    assert.equal(config.reconnectTimeoutMs, 86_400_000);
    assert.equal(config.tombstoneTimeoutMs, 86_400_000);
    assert.equal(config.queryResponseSizeLimit, 1024);
    assert.equal(config.querySizeLimit, 1024);
    assert.equal(config.userEventSizeLimit, 512);
    assert.equal(config.syslogFacility, 'LOCAL0');
    assert.equal(config.enableCompression, true);
    assert.equal(config.keySource, undefined);
  });
});

describe('gossip key sources', () => {
  it('records a key from the command line and warns', () => {
    const loaded = loadAgentConfig([`-encrypt=${key32}`], {});
    assert.equal(loaded.config.keySource, 'flag');
    assert.equal(loaded.config.encryptKey, key32);
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0] ?? '', /-encrypt is visible .* process list/);
    assert.ok(!(loaded.warnings[0] ?? '').includes(key32));
  });

  it('reads -encrypt-file', () => {
    const path = writeJson('gossip.key', `${key32}\n`);
    chmodSync(path, 0o600);
    const { config, warnings } = loadAgentConfig([`-encrypt-file=${path}`], {});
    assert.equal(config.keySource, 'file');
    assert.equal(config.encryptKey, key32);
    assert.deepEqual(warnings, []);
  });

  it('warns about a readable key file', () => {
    const path = writeJson('loose.key', key32);
    chmodSync(path, 0o644);
    const { warnings } = loadAgentConfig([`-encrypt-file=${path}`], {});
    assert.deepEqual(warnings, [
      `Warning: '${path}' holds encryption keys and is readable by group or others (mode 0644); run 'chmod 600 ${path}'`,
    ]);
  });

  it('reads SERF_ENCRYPT_KEY', () => {
    const { config } = loadAgentConfig([], { SERF_ENCRYPT_KEY: key32 });
    assert.equal(config.keySource, 'env');
    assert.equal(config.encryptKey, key32);
  });

  it('records a key from a config file', () => {
    const path = writeJson('key-config.json', { encrypt_key: key32 });
    const { config } = loadAgentConfig([`-config-file=${path}`], {});
    assert.equal(config.keySource, 'config');
  });

  it('prefers the environment over a config file', () => {
    const path = writeJson('key-config-2.json', { encrypt_key: 'AAAAAAAAAAAAAAAAAAAAAA==' });
    const { config } = loadAgentConfig([`-config-file=${path}`], { SERF_ENCRYPT_KEY: key32 });
    assert.equal(config.keySource, 'env');
    assert.equal(config.encryptKey, key32);
  });

  it('rejects -encrypt with -encrypt-file', () => {
    assertInvalid(
      () => loadAgentConfig([`-encrypt=${key32}`, '-encrypt-file=/x'], {}),
      '-encrypt and -encrypt-file both set the gossip key: give only one of them',
    );
  });

  it('names a missing key file', () => {
    const path = join(dir, 'no-such.key');
    assertInvalid(
      () => loadAgentConfig([`-encrypt-file=${path}`], {}),
      `Error reading encryption key file '${path}': open ${path}: no such file or directory`,
    );
  });
});

describe('finalizeAgentConfig', () => {
  it('applies the post-merge adjustments with warnings', () => {
    const input = {
      ...defaultAgentConfig(),
      role: 'lb',
      retryIntervalMs: 10,
      broadcastTimeoutMs: -5000,
      rejoinAfterLeave: true,
    };
    const { config, warnings } = finalizeAgentConfig(input);
    assert.equal(config.nodeName, hostname());
    assert.deepEqual(config.tags, { role: 'lb' });
    assert.equal(config.retryIntervalMs, 1000);
    assert.equal(config.broadcastTimeoutMs, 1000);
    assert.deepEqual(warnings, [
      "Deprecation warning: 'Role' has been replaced with 'Tags'",
      "Warning: 'RetryInterval' is too low. Setting to 1s",
      "Warning: 'BroadcastTimeout' is too low. Setting to 1s",
      "Warning: 'RejoinAfterLeave' enabled without snapshot file",
    ]);
    assert.deepEqual(input.tags, {}, 'input left unchanged');
  });
});

describe('validateAgentConfig', () => {
  const valid = (): AgentConfig => ({ ...defaultAgentConfig(), nodeName: 'n1' });

  it('accepts the defaults', () => {
    validateAgentConfig(valid());
  });

  it('accepts log levels in any case', () => {
    for (const level of ['trace', 'Debug', 'INFO', 'warn', 'err']) {
      validateAgentConfig({ ...valid(), logLevel: level });
    }
  });

  const errors: [Partial<AgentConfig>, string | RegExp][] = [
    [
      { logLevel: 'VERBOSE' },
      'Invalid log level: VERBOSE. Valid log levels are: [TRACE DEBUG INFO WARN ERR]',
    ],
    [{ profile: 'foo' }, 'Unknown profile: foo'],
    [{ eventHandlers: ['foo=bar.sh'] }, "Invalid event script: Event 'foo' invoking 'bar.sh'"],
    [{ eventHandlers: ['member-join,foo=x'] }, "Invalid event script: Event 'foo' invoking 'x'"],
    [
      { interface: 'nosuchif0' },
      /^Invalid network interface: route ip\+net: no such network interface .*nosuchif0/,
    ],
    [{ bind: '127.0.0.1:abc' }, 'Invalid bind address: address 127.0.0.1:abc: invalid port "abc"'],
    [{ advertise: '1:2:3' }, 'Invalid advertise address: address 1:2:3: too many colons in address'],
    [{ rpcAddr: '127.0.0.1' }, 'Invalid RPC address: address 127.0.0.1: missing port in address'],
    [{ encryptKey: 'abc' }, `Invalid encryption key: illegal base64 data at input byte 0${KEY_HINT}`],
    [{ encryptKey: 'AAAA' }, `Invalid encryption key: key size must be 16, 24 or 32 bytes${KEY_HINT}`],
    [
      { encryptKey: key32, keyringFile: '/k' },
      'Failed to setup the Serf agent: Encryption key not allowed while using a keyring',
    ],
    [
      { tagsFile: '/t', tags: { a: 'b' } },
      'Failed to setup the Serf agent: Tags config not allowed while using tag files',
    ],
    [
      { protocol: 1 },
      "Failed to start the Serf agent: Error creating Serf: Protocol version '1' too low. Must be in range: [2, 5]",
    ],
    [
      { protocol: 9 },
      "Failed to start the Serf agent: Error creating Serf: Protocol version '9' too high. Must be in range: [2, 5]",
    ],
    [
      { userEventSizeLimit: 10_000 },
      'Failed to start the Serf agent: Error creating Serf: user event size limit exceeds limit of 9216 bytes',
    ],
    [{ querySizeLimit: -1 }, 'Invalid query_size_limit: -1 (expected a positive number of bytes)'],
    [
      { queryResponseSizeLimit: -5 },
      'Invalid query_response_size_limit: -5 (expected a positive number of bytes)',
    ],
    [{ reconnectTimeoutMs: -5000 }, 'Invalid reconnect_timeout: -5s (expected a positive duration)'],
    [
      { enableSyslog: true, syslogFacility: 'LOCAL9' },
      /^Invalid syslog_facility: 'LOCAL9' \(expected one of /,
    ],
  ];
  for (const [change, message] of errors) {
    it(`rejects ${JSON.stringify(change)}`, () => {
      assertInvalid(() => validateAgentConfig({ ...valid(), ...change }), message);
    });
  }

  it('never prints the key', () => {
    const badSize = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    assert.throws(
      () => validateAgentConfig({ ...valid(), encryptKey: badSize }),
      (err: Error) => !err.message.includes(badSize),
    );
  });
});

describe('splitHostPort', () => {
  it('adds the default port', () => {
    assert.deepEqual(splitHostPort('10.0.0.1', 7946), { host: '10.0.0.1', port: 7946 });
    assert.deepEqual(splitHostPort('[::1]', 7946), { host: '::1', port: 7946 });
    assert.deepEqual(splitHostPort('[::1]:8000', 7946), { host: '::1', port: 8000 });
    assert.deepEqual(splitHostPort('host.example:9'), { host: 'host.example', port: 9 });
  });
});

describe('agentUsage', () => {
  it('lists every flag', () => {
    const usage = agentUsage();
    assert.ok(usage.startsWith('Usage: serf agent [options]\n'));
    for (const flag of [
      'bind',
      'iface',
      'advertise',
      'config-file',
      'config-dir',
      'discover',
      'encrypt',
      'encrypt-file',
      'keyring-file',
      'event-handler',
      'join',
      'replay',
      'log-level',
      'node',
      'profile',
      'protocol',
      'rejoin',
      'retry-join',
      'retry-interval',
      'retry-max',
      'disable-compression',
      'role',
      'rpc-addr',
      'snapshot',
      'tag',
      'tags-file',
      'syslog',
      'broadcast-timeout',
    ]) {
      assert.match(usage, new RegExp(`\\n  -${flag}[= ]`), `-${flag} missing from usage`);
    }
  });
});
