import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  EventHandlerRunner,
  type EventHandlerRunnerOptions,
  handlerMatches,
  parseEventHandlerSpec,
  tagEnvName,
} from '../../src/agent/handlers.js';
import type { Member, MemberEvent, QueryEvent, SerfEvent, UserEvent } from '../../src/serf/events.js';
import { createLogger, formatLogLine } from '../../src/util/logger.js';
import { loadVectors } from '../helpers/vectors.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let fileCounter = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'serf-agent-handlers-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tempPath(label: string): string {
  fileCounter++;
  return join(dir, `${label}-${fileCounter}`);
}

function member(name: string, addr: string, tags: Record<string, string>): Member {
  return {
    name,
    addr,
    port: 7946,
    tags,
    status: 'alive',
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 4,
  };
}

function userEvent(name: string, payload: string, ltime = 1): UserEvent {
  return { type: 'user', ltime, name, payload: new TextEncoder().encode(payload), coalesce: true };
}

interface FakeQuery extends QueryEvent {
  responses: Uint8Array[];
}

function queryEvent(name: string, payload: string, ltime = 1, respondError?: Error): FakeQuery {
  const responses: Uint8Array[] = [];
  return {
    type: 'query',
    ltime,
    name,
    payload: new TextEncoder().encode(payload),
    id: 7,
    deadline: Date.now() + 60_000,
    sourceNode: 'origin',
    responses,
    respond: async (response: Uint8Array) => {
      if (respondError) throw respondError;
      responses.push(Uint8Array.from(response));
    },
  };
}

function capture() {
  const lines: string[] = [];
  const logger = createLogger((record) => lines.push(formatLogLine(record)), 'trace').child({
    component: 'agent',
  });
  return { lines, logger };
}

function makeRunner(
  specs: string[],
  extra: Partial<EventHandlerRunnerOptions> & { self?: string; tags?: Record<string, string> } = {},
) {
  const { lines, logger } = capture();
  const runner = new EventHandlerRunner({
    specs: specs.flatMap(parseEventHandlerSpec),
    selfName: () => extra.self ?? 'n1',
    selfTags: () => extra.tags ?? {},
    logger,
    ...extra,
  });
  return { runner, lines };
}

/** Shell command that stores the SERF_* environment (NUL-separated) and stdin under `base`. */
function dumpCommand(base: string): string {
  return `env -0 > '${base}.env'; cat > '${base}.stdin'`;
}

/**
 * Reads the SERF_* variables a handler saw. Variables the test process itself inherited (CI sets
 * SERF_REFERENCE_BIN, for one) pass through to handlers unchanged and are left out here.
 */
function readEnv(base: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`${base}.env`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || !entry.startsWith('SERF_')) continue;
    const name = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (process.env[name] === value && !name.startsWith('SERF_TEST_')) continue;
    env[name] = value;
  }
  return env;
}

describe('parseEventHandlerSpec', () => {
  it('parses a bare command as every event', () => {
    assert.deepEqual(parseEventHandlerSpec('handler.sh arg'), [
      {
        event: '*',
        name: '',
        command: 'handler.sh arg',
        valid: true,
        description: "Event '*' invoking 'handler.sh arg'",
      },
    ]);
  });

  it('splits filters and keeps = in the command', () => {
    const specs = parseEventHandlerSpec('member-join,member-leave=env X=1 run.sh');
    assert.deepEqual(
      specs.map((s) => [s.event, s.name, s.command, s.valid]),
      [
        ['member-join', '', 'env X=1 run.sh', true],
        ['member-leave', '', 'env X=1 run.sh', true],
      ],
    );
  });

  it('parses named user and query filters', () => {
    const [user] = parseEventHandlerSpec('user:deploy=deploy.sh');
    assert.equal(user?.event, 'user');
    assert.equal(user?.name, 'deploy');
    assert.equal(user?.description, "Event 'user:deploy' invoking 'deploy.sh'");
    const [query] = parseEventHandlerSpec('query:load=uptime');
    assert.equal(query?.event, 'query');
    assert.equal(query?.name, 'load');
  });

  it('treats an empty filter as every event', () => {
    assert.equal(parseEventHandlerSpec('=x')[0]?.event, '*');
    assert.equal(parseEventHandlerSpec('user:=x')[0]?.name, '');
  });

  it('marks unknown filters invalid', () => {
    const specs = parseEventHandlerSpec('member-join,foo,=bar.sh');
    assert.deepEqual(
      specs.map((s) => [s.event, s.valid]),
      [
        ['member-join', true],
        ['foo', false],
        ['', false],
      ],
    );
    assert.equal(specs[1]?.description, "Event 'foo' invoking 'bar.sh'");
  });

  it('matches events by type and name', () => {
    const join: MemberEvent = { type: 'member-join', members: [] };
    const deploy = userEvent('deploy', '');
    const load = queryEvent('load', '');
    const match = (spec: string, event: SerfEvent) => handlerMatches(parseEventHandlerSpec(spec)[0]!, event);
    assert.equal(match('*=x', join), true);
    assert.equal(match('member-join=x', join), true);
    assert.equal(match('member-leave=x', join), false);
    assert.equal(match('user=x', deploy), true);
    assert.equal(match('user:deploy=x', deploy), true);
    assert.equal(match('user:other=x', deploy), false);
    assert.equal(match('user:load=x', load), false);
    assert.equal(match('query:load=x', load), true);
    assert.equal(match('query=x', deploy), false);
  });

  it('sanitises tag names', () => {
    assert.equal(tagEnvName('my-tag.x'), 'SERF_TAG_MY_TAG_X');
    assert.equal(tagEnvName('zone-id'), 'SERF_TAG_ZONE_ID');
    assert.equal(tagEnvName('ümlaut'), 'SERF_TAG__MLAUT');
  });
});

interface HandlerVector {
  id: string;
  event: string;
  node: string;
  env_map: Record<string, string>;
  stdin_text: string;
}

/** Parses a captured stdin line back into a member (tags split at commas, as no value has one). */
function parseMemberLine(line: string): Member {
  const [name = '', addr = '', , tagText = ''] = line.split('\t');
  const tags: Record<string, string> = {};
  for (const pair of tagText === '' ? [] : tagText.split(',')) {
    const eq = pair.indexOf('=');
    tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return member(name, addr, tags);
}

describe('handler environment and stdin against captures', () => {
  const vectors = loadVectors('handlers') as {
    cluster: { nodes: { name: string; initial_tags: Record<string, string> }[] };
    entries: HandlerVector[];
  };

  // Tag sets each node had during the captures: initial tags and every set seen in member lines.
  const tagSets = new Map<string, Record<string, string>[]>();
  for (const node of vectors.cluster.nodes) tagSets.set(node.name, [node.initial_tags]);
  for (const entry of vectors.entries) {
    if (!entry.event.startsWith('member-')) continue;
    for (const line of entry.stdin_text.split('\n').filter((l) => l !== '')) {
      const parsed = parseMemberLine(line);
      tagSets.get(parsed.name)?.push(parsed.tags);
    }
  }

  function selfTagsFor(entry: HandlerVector): Record<string, string> {
    const expectedTagVars = Object.entries(entry.env_map).filter(([k]) => k.startsWith('SERF_TAG_'));
    const found = (tagSets.get(entry.node) ?? []).find((tags) => {
      const vars = Object.entries(tags).map(([k, v]) => [tagEnvName(k), v]);
      return (
        vars.length === expectedTagVars.length &&
        expectedTagVars.every(([k, v]) => vars.some(([k2, v2]) => k2 === k && v2 === v))
      );
    });
    assert.ok(found, `no known tag set of ${entry.node} matches ${entry.id}`);
    return found;
  }

  function eventFor(entry: HandlerVector): SerfEvent {
    const stdin = entry.stdin_text;
    if (entry.event === 'user') {
      return userEvent(
        entry.env_map.SERF_USER_EVENT ?? '',
        stdin.replace(/\n$/, ''),
        Number(entry.env_map.SERF_USER_LTIME),
      );
    }
    if (entry.event === 'query') {
      return queryEvent(
        entry.env_map.SERF_QUERY_NAME ?? '',
        stdin.replace(/\n$/, ''),
        Number(entry.env_map.SERF_QUERY_LTIME),
      );
    }
    const members = stdin
      .split('\n')
      .filter((l) => l !== '')
      .map(parseMemberLine);
    return { type: entry.event as MemberEvent['type'], members };
  }

  for (const entry of vectors.entries) {
    it(`reproduces ${entry.id}`, async () => {
      const base = tempPath(entry.id);
      const { runner, lines } = makeRunner([dumpCommand(base)], {
        self: entry.node,
        tags: selfTagsFor(entry),
      });
      runner.handle(eventFor(entry));
      await runner.idle();
      assert.deepEqual(readEnv(base), entry.env_map);
      assert.equal(readFileSync(`${base}.stdin`, 'utf8'), entry.stdin_text);
      assert.ok(!lines.some((l) => l.includes('[ERR]')), lines.join('\n'));
    });
  }
});

describe('EventHandlerRunner', () => {
  it('escapes tabs and newlines in member lines', async () => {
    const base = tempPath('escape');
    const { runner } = makeRunner([dumpCommand(base)]);
    runner.handle({
      type: 'member-update',
      members: [
        member('we\tird\nname', '10.0.0.1', { role: 'a\tb', note: 'x\ny' }),
        member('plain', '::1', {}),
      ],
    });
    await runner.idle();
    assert.equal(
      readFileSync(`${base}.stdin`, 'utf8'),
      'we\\tird\\nname\t10.0.0.1\ta\\tb\trole=a\\tb,note=x\\ny\nplain\t::1\t\t\n',
    );
  });

  it('passes an empty payload as empty stdin', async () => {
    const base = tempPath('empty');
    const { runner } = makeRunner([dumpCommand(base)]);
    runner.handle(userEvent('noop', ''));
    await runner.idle();
    assert.equal(readFileSync(`${base}.stdin`, 'utf8'), '');
  });

  it('keeps a payload final newline single', async () => {
    const base = tempPath('newline');
    const { runner } = makeRunner([dumpCommand(base)]);
    runner.handle(userEvent('e', 'line\n'));
    await runner.idle();
    assert.equal(readFileSync(`${base}.stdin`, 'utf8'), 'line\n');
  });

  it('passes the parent environment', async () => {
    const base = tempPath('parent-env');
    process.env.SERF_TEST_PARENT_VAR = 'kept';
    try {
      const { runner } = makeRunner([dumpCommand(base)]);
      runner.handle(userEvent('e', ''));
      await runner.idle();
    } finally {
      delete process.env.SERF_TEST_PARENT_VAR;
    }
    assert.equal(readEnv(base).SERF_TEST_PARENT_VAR, 'kept');
  });

  it('runs the handlers the filters choose', async () => {
    const log = tempPath('filters');
    const append = (label: string) => `echo ${label} >> '${log}'`;
    const { runner } = makeRunner([
      `member-join=${append('join')}`,
      `member-leave,member-failed=${append('leave-or-failed')}`,
      `user=${append('any-user')}`,
      `user:deploy=${append('deploy')}`,
      `query=${append('any-query')}`,
      `query:load=${append('load')}`,
      append('star'),
    ]);
    runner.handle({ type: 'member-join', members: [] });
    runner.handle({ type: 'member-failed', members: [] });
    runner.handle({ type: 'member-reap', members: [] });
    runner.handle(userEvent('deploy', ''));
    runner.handle(userEvent('other', ''));
    runner.handle(queryEvent('load', ''));
    await runner.idle();
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      'join',
      'star',
      'leave-or-failed',
      'star',
      'star',
      'any-user',
      'deploy',
      'star',
      'any-user',
      'star',
      'any-query',
      'load',
      'star',
    ]);
  });

  it('ignores invalid filters with a warning', async () => {
    const log = tempPath('invalid');
    const { runner, lines } = makeRunner([`foo,member-join=echo ran >> '${log}'`]);
    assert.ok(
      lines.some((l) => l.includes("[WARN] agent: Ignoring invalid event handler: Event 'foo' invoking")),
      lines.join('\n'),
    );
    runner.handle({ type: 'member-join', members: [] });
    await runner.idle();
    assert.equal(readFileSync(log, 'utf8'), 'ran\n');
  });

  it('uses new specs after updateSpecs', async () => {
    const log = tempPath('reload');
    const { runner } = makeRunner([`echo old >> '${log}'`]);
    runner.handle(userEvent('a', ''));
    await runner.idle();
    runner.updateSpecs(parseEventHandlerSpec(`echo new >> '${log}'`));
    runner.handle(userEvent('b', ''));
    await runner.idle();
    assert.equal(readFileSync(log, 'utf8'), 'old\nnew\n');
  });

  it('responds to a query with the output', async () => {
    const { runner, lines } = makeRunner(['query=echo "resp-from-$SERF_SELF_NAME"; echo err >&2'], {
      self: 'n3',
    });
    const query = queryEvent('health', 'ping?');
    runner.handle(query);
    await runner.idle();
    assert.equal(query.responses.length, 1);
    assert.equal(new TextDecoder().decode(query.responses[0]), 'resp-from-n3\nerr\n');
    assert.ok(
      // Newlines in script output are escaped so the output stays on one log line.
      lines.some((l) => l.endsWith("[DEBUG] agent: Event 'query' script output: resp-from-n3\\nerr\\n")),
      lines.join('\n'),
    );
  });

  it('sends no response without output', async () => {
    const { runner } = makeRunner(['query=true']);
    const query = queryEvent('q', '');
    runner.handle(query);
    await runner.idle();
    assert.equal(query.responses.length, 0);
  });

  it('keeps only the last output bytes', async () => {
    const { runner, lines } = makeRunner(["query=printf '%s' 0123456789abcdefghij"], { outputLimit: 8 });
    const query = queryEvent('q', '');
    runner.handle(query);
    await runner.idle();
    assert.equal(new TextDecoder().decode(query.responses[0]), 'cdefghij');
    assert.ok(
      lines.some((l) =>
        l.endsWith(
          "[WARN] agent: Script 'printf '%s' 0123456789abcdefghij' generated 20 bytes of output, truncated to 8",
        ),
      ),
      lines.join('\n'),
    );
  });

  it('refuses a response over the size limit', async () => {
    const { runner, lines } = makeRunner(["query=printf '%s' 0123456789abcdefghij"], {
      queryResponseSizeLimit: 10,
    });
    const query = queryEvent('big', '');
    runner.handle(query);
    await runner.idle();
    assert.equal(query.responses.length, 0);
    assert.ok(
      lines.some((l) =>
        l.endsWith(
          "[WARN] agent: Failed to respond to query 'query: big': response exceeds limit of 10 bytes",
        ),
      ),
      lines.join('\n'),
    );
  });

  it('logs a rejected response', async () => {
    const { runner, lines } = makeRunner(['query=echo hi']);
    runner.handle(queryEvent('q', '', 1, new Error('response already sent')));
    await runner.idle();
    assert.ok(
      lines.some((l) =>
        l.endsWith("[WARN] agent: Failed to respond to query 'query: q': response already sent"),
      ),
      lines.join('\n'),
    );
  });

  it('logs a failing script with its exit code', async () => {
    const { runner, lines } = makeRunner(['query=echo partial; exit 3']);
    const query = queryEvent('q', '');
    runner.handle(query);
    await runner.idle();
    assert.equal(query.responses.length, 0, 'failed script must not respond');
    assert.ok(
      lines.some((l) =>
        l.endsWith("[ERR] agent: Error invoking script 'echo partial; exit 3': exit status 3"),
      ),
      lines.join('\n'),
    );
  });

  it('logs a shell that cannot start', async () => {
    const { runner, lines } = makeRunner(['true'], { shell: join(dir, 'no-such-shell') });
    runner.handle(userEvent('e', ''));
    await runner.idle();
    assert.ok(
      lines.some(
        (l) => l.includes("[ERR] agent: Error invoking script 'true': spawn ") && l.includes('ENOENT'),
      ),
      lines.join('\n'),
    );
  });

  it('does not block handle on a slow script', async () => {
    const first = tempPath('slow-first');
    const second = tempPath('slow-second');
    const { runner, lines } = makeRunner([`sleep 2; echo "$SERF_USER_EVENT" >> '${first}'`], {
      slowThresholdMs: 200,
    });
    runner.handle(userEvent('one', ''));
    const started = Date.now();
    runner.updateSpecs(parseEventHandlerSpec(`echo "$SERF_USER_EVENT" >> '${second}'`));
    runner.handle(userEvent('two', ''));
    assert.ok(Date.now() - started < 100, 'handle() returned at once');
    assert.equal(existsSync(second), false, 'second event waits for the first');

    await waitFor(
      () =>
        lines.some((l) =>
          l.endsWith(
            '[WARN] agent: Script \'sleep 2; echo "$SERF_USER_EVENT" >> \'' +
              first +
              "'' slow, execution exceeding 200ms",
          ),
        ),
      {
        timeoutMs: 5000,
        message: 'slow warning',
      },
    );
    await waitFor(() => existsSync(second), { timeoutMs: 10_000, message: 'second handler ran' });
    assert.equal(readFileSync(first, 'utf8'), 'one\n');
    assert.equal(readFileSync(second, 'utf8'), 'two\n');
    await runner.idle();
  });

  it('kills a hung script on stop', async () => {
    const { runner, lines } = makeRunner(['exec sleep 30'], { stopGraceMs: 100 });
    runner.handle(userEvent('e', ''));
    await waitFor(() => (runner as unknown as { running?: unknown }).running !== undefined, {
      timeoutMs: 5000,
      message: 'script started',
    });
    const started = Date.now();
    await runner.stop();
    assert.ok(Date.now() - started < 5000);
    assert.ok(
      lines.some((l) => l.includes("[ERR] agent: Error invoking script 'exec sleep 30': signal: SIGKILL")),
      lines.join('\n'),
    );
    runner.handle(userEvent('after-stop', ''));
    await runner.idle();
  });

  it('stop also kills background jobs of a script', async () => {
    const pidFile = tempPath('child-pid');
    // The script leaves a background job holding its stdout, then blocks.
    const { runner } = makeRunner([`sleep 30 & echo $! > '${pidFile}'; wait`], { stopGraceMs: 100 });
    runner.handle(userEvent('e', ''));
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', {
      timeoutMs: 5000,
      message: 'background job started',
    });
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    const started = Date.now();
    await runner.stop();
    assert.ok(Date.now() - started < 5000, 'stop returned without waiting for the background job');
    await waitFor(
      () => {
        try {
          process.kill(childPid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 5000, message: 'the background job was killed with its script' },
    );
  });

  it('drops events beyond the queue limit', async () => {
    const log = tempPath('drops');
    const { runner, lines } = makeRunner([`echo "$SERF_USER_EVENT" >> '${log}'`], { maxQueuedEvents: 2 });
    // 'a' starts at once and leaves the queue, so 'b' and 'c' fill it and 'd' is dropped.
    for (const name of ['a', 'b', 'c', 'd']) runner.handle(userEvent(name, ''));
    await runner.idle();
    assert.equal(readFileSync(log, 'utf8'), 'a\nb\nc\n');
    assert.equal(lines.filter((l) => l.includes('Event handler queue full')).length, 1);
  });
});

describe('handler environment secrets', () => {
  it('gossip key variable is not passed to scripts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serf-handler-key-'));
    const base = join(dir, 'run');
    process.env.SERF_ENCRYPT_KEY = 'c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=';
    try {
      const { runner } = makeRunner([dumpCommand(base)]);
      runner.handle({ type: 'user', ltime: 1, name: 'e', payload: new Uint8Array(0), coalesce: false });
      await runner.idle();
      const seen = readFileSync(`${base}.env`, 'utf8');
      assert.ok(!seen.includes('SERF_ENCRYPT_KEY'), 'the key variable reached the script');
      assert.ok(seen.includes('SERF_USER_EVENT=e'));
      await runner.stop();
    } finally {
      delete process.env.SERF_ENCRYPT_KEY;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
