import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LogWriter, linePassesLevel, parseLogLevel, REDACTED } from '../../src/agent/log-writer.js';
import { ErrorCode, InvalidArgumentError } from '../../src/util/errors.js';
import { waitFor } from '../helpers/wait.js';

const stamp = '2026/12/04 19:18:49';
const line = (level: string, msg: string) => `${stamp} [${level}] agent: ${msg}`;

function writerWithConsole(
  level = 'INFO',
  options: { holdConsole?: boolean; syslog?: { facility: string; command?: string[] } } = {},
) {
  const consoleLines: string[] = [];
  const writer = new LogWriter({ level, console: (l) => consoleLines.push(l), ...options });
  return { writer, consoleLines };
}

describe('log levels', () => {
  it('accepts Go names in any case', () => {
    assert.equal(parseLogLevel('trace'), 'TRACE');
    assert.equal(parseLogLevel('Debug'), 'DEBUG');
    assert.equal(parseLogLevel('INFO'), 'INFO');
    assert.equal(parseLogLevel('warn'), 'WARN');
    assert.equal(parseLogLevel('err'), 'ERR');
    assert.equal(parseLogLevel('error'), 'ERR');
  });

  it('rejects an unknown level with the Go text', () => {
    assert.throws(
      () => parseLogLevel('VERBOSE'),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.code === ErrorCode.invalidArgument &&
        err.message === 'Invalid log level: VERBOSE. Valid log levels are: [TRACE DEBUG INFO WARN ERR]',
    );
  });

  it('filters by the first bracket token', () => {
    assert.equal(linePassesLevel(line('DEBUG', 'x'), 'INFO'), false);
    assert.equal(linePassesLevel(line('INFO', 'x'), 'INFO'), true);
    assert.equal(linePassesLevel(line('ERR', 'x'), 'WARN'), true);
    assert.equal(linePassesLevel(line('ERROR', 'x'), 'ERR'), true, 'unknown token passes');
    assert.equal(linePassesLevel('no token at all', 'ERR'), true);
    assert.equal(
      linePassesLevel(`${stamp} [TRACE] a [ERR] b`, 'DEBUG'),
      false,
      'only the first token counts',
    );
  });

  it('filters the console and prefixes four spaces', () => {
    const { writer, consoleLines } = writerWithConsole('warn');
    writer.write(line('DEBUG', 'hidden'));
    writer.write(line('INFO', 'hidden'));
    writer.write(`${line('WARN', 'shown')}\n`);
    writer.write(line('ERR', 'shown'));
    writer.write('plain line');
    assert.deepEqual(consoleLines, [
      `    ${line('WARN', 'shown')}`,
      `    ${line('ERR', 'shown')}`,
      '    plain line',
    ]);
  });

  it('filters a multi-line entry as one', () => {
    const { writer, consoleLines } = writerWithConsole('INFO');
    writer.write(line('DEBUG', "Event 'user' script output: a\nb\n"));
    assert.deepEqual(consoleLines, []);
    assert.deepEqual(
      writer.history(),
      [line('DEBUG', "Event 'user' script output: a\nb")],
      'one trailing newline removed',
    );
  });

  it('changes level and keeps the old one on error', () => {
    const { writer, consoleLines } = writerWithConsole('INFO');
    writer.setLevel('debug');
    assert.equal(writer.level, 'DEBUG');
    assert.throws(() => writer.setLevel('loud'), /Invalid log level: loud/);
    assert.equal(writer.level, 'DEBUG');
    writer.write(line('DEBUG', 'now shown'));
    assert.deepEqual(consoleLines, [`    ${line('DEBUG', 'now shown')}`]);
  });

  it('holds console lines until released', () => {
    const { writer, consoleLines } = writerWithConsole('INFO', { holdConsole: true });
    writer.write(line('INFO', 'early'));
    writer.write(line('DEBUG', 'filtered'));
    assert.deepEqual(consoleLines, []);
    writer.releaseConsole();
    writer.write(line('INFO', 'late'));
    assert.deepEqual(consoleLines, [`    ${line('INFO', 'early')}`, `    ${line('INFO', 'late')}`]);
  });

  it('feeds a Logger in the reference format', () => {
    const { writer, consoleLines } = writerWithConsole('INFO');
    const logger = writer.logger().child({ component: 'agent' });
    logger.debug('not on console');
    logger.info('Serf agent starting');
    logger.error('broken');
    assert.equal(consoleLines.length, 2);
    assert.match(
      consoleLines[0] ?? '',
      /^ {4}\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[INFO\] agent: Serf agent starting$/,
    );
    assert.match(consoleLines[1] ?? '', /\[ERR\] agent: broken$/);
    assert.match(writer.history()[0] ?? '', /\[DEBUG\] agent: not on console$/);
  });

  it('forwards lines to syslog with priorities', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serf-syslog-'));
    const out = join(dir, 'syslog.txt');
    try {
      const { writer } = writerWithConsole('INFO', {
        syslog: { facility: 'LOCAL0', command: ['sh', '-c', `cat > '${out}'`] },
      });
      writer.write(line('INFO', 'hello'));
      writer.write(line('ERR', 'broken'));
      writer.write(line('DEBUG', 'filtered out'));
      writer.closeSyslog();
      await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').includes('broken'), {
        timeoutMs: 5_000,
        message: 'the syslog helper received the lines',
      });
      const text = readFileSync(out, 'utf8');
      assert.match(text, /^<134>2026\/12\/04 19:18:49 \[INFO\] agent: hello$/m);
      assert.match(text, /^<131>.*\[ERR\] agent: broken$/m);
      assert.doesNotMatch(text, /filtered out/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns once when the syslog helper cannot run', async () => {
    const { writer, consoleLines } = writerWithConsole('INFO', {
      syslog: { facility: 'LOCAL0', command: ['/nonexistent/logger-helper'] },
    });
    await waitFor(() => consoleLines.some((l) => l.includes('syslog output stopped')), {
      timeoutMs: 5_000,
      message: 'a warning about the missing helper',
    });
    writer.write(line('INFO', 'next'));
    assert.equal(consoleLines.filter((l) => l.includes('syslog')).length, 1);
  });
});

describe('replay ring and subscribers', () => {
  it('keeps the last 512 lines', () => {
    const { writer } = writerWithConsole('ERR');
    for (let i = 0; i < 600; i++) writer.write(line('INFO', `n${i}`));
    const history = writer.history();
    assert.equal(history.length, 512);
    assert.equal(history[0], line('INFO', 'n88'));
    assert.equal(history[511], line('INFO', 'n599'));
  });

  it('replays the ring then live lines at the subscriber level', async () => {
    const { writer } = writerWithConsole('ERR');
    writer.write(line('DEBUG', 'old-debug'));
    writer.write(line('INFO', 'old-info'));
    const received: string[] = [];
    const unsubscribe = writer.subscribe('info', (l) => {
      received.push(l);
    });
    writer.write(line('TRACE', 'new-trace'));
    writer.write(line('WARN', 'new-warn'));
    await waitFor(() => received.length === 2, { timeoutMs: 2000, message: 'subscriber lines' });
    assert.deepEqual(received, [line('INFO', 'old-info'), line('WARN', 'new-warn')]);

    unsubscribe();
    writer.write(line('ERR', 'after'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(received.length, 2);
  });

  it('gives each subscriber its own level', async () => {
    const { writer } = writerWithConsole('ERR');
    const debug: string[] = [];
    const err: string[] = [];
    writer.subscribe('debug', (l) => {
      debug.push(l);
    });
    writer.subscribe('err', (l) => {
      err.push(l);
    });
    writer.write(line('DEBUG', 'd'));
    writer.write(line('ERR', 'e'));
    await waitFor(() => debug.length === 2 && err.length === 1, {
      timeoutMs: 2000,
      message: 'per-level lines',
    });
    assert.deepEqual(err, [line('ERR', 'e')]);
  });

  it('drops lines when a subscriber falls behind', async () => {
    const { writer } = writerWithConsole('ERR');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const received: string[] = [];
    let dropped = 0;
    writer.subscribe(
      'trace',
      async (l) => {
        received.push(l);
        await gate;
      },
      { queueSize: 4, onDrop: (total) => (dropped = total) },
    );
    for (let i = 0; i < 10; i++) writer.write(line('INFO', `n${i}`));
    await waitFor(() => received.length === 1, { timeoutMs: 2000, message: 'first line delivered' });
    assert.equal(dropped, 6);
    writer.write(line('INFO', 'later'));
    release();
    await waitFor(() => received.length === 5, { timeoutMs: 2000, message: 'queued lines delivered' });
    assert.deepEqual(
      received,
      ['n0', 'n1', 'n2', 'n3', 'later'].map((m) => line('INFO', m)),
    );
  });

  it('survives a throwing listener', async () => {
    const { writer } = writerWithConsole('ERR');
    const received: string[] = [];
    writer.subscribe('trace', (l) => {
      received.push(l);
      throw new Error('connection closed');
    });
    writer.write(line('INFO', 'a'));
    writer.write(line('INFO', 'b'));
    await waitFor(() => received.length === 2, { timeoutMs: 2000, message: 'both lines' });
  });
});

describe('redaction', () => {
  it('masks secrets everywhere', async () => {
    const secret = 'mLcA7wSKEU8tt8zgKXbO0x+GaSqbIo1bMS67lz8+zA4=';
    const { writer, consoleLines } = writerWithConsole('INFO');
    writer.redact(secret, '');
    const received: string[] = [];
    writer.subscribe('trace', (l) => {
      received.push(l);
    });
    writer.write(line('INFO', `key ${secret} and again ${secret}`));
    const expected = line('INFO', `key ${REDACTED} and again ${REDACTED}`);
    assert.deepEqual(consoleLines, [`    ${expected}`]);
    assert.deepEqual(writer.history(), [expected]);
    await waitFor(() => received.length === 1, { timeoutMs: 2000, message: 'subscriber line' });
    assert.deepEqual(received, [expected]);
  });

  it('masks records from logger()', () => {
    const { writer, consoleLines } = writerWithConsole('INFO');
    writer.redact('hunter2');
    writer.logger().info({ token: 'hunter2' }, 'auth with hunter2');
    assert.equal(consoleLines.length, 1);
    assert.ok(!(consoleLines[0] ?? '').includes('hunter2'));
    assert.match(consoleLines[0] ?? '', /auth with \[redacted\] token=\[redacted\]$/);
  });
});
