/**
 * `-syslog`: forwards agent log lines to the local syslog daemon through util-linux's `logger`
 * command (Debian's essential bsdutils package), which reads lines from stdin and, with
 * `--prio-prefix`, takes each line's priority from a leading `<PRI>`. Node.js has no Unix
 * datagram sockets for /dev/log, so a helper process is the portable way.
 */

import { type ChildProcess, spawn } from 'node:child_process';

/** Syslog facility codes (RFC 5424) for the names the agent accepts. */
const FACILITIES: Record<string, number> = {
  KERN: 0,
  USER: 1,
  MAIL: 2,
  DAEMON: 3,
  AUTH: 4,
  SYSLOG: 5,
  LPR: 6,
  NEWS: 7,
  UUCP: 8,
  CRON: 9,
  AUTHPRIV: 10,
  FTP: 11,
  LOCAL0: 16,
  LOCAL1: 17,
  LOCAL2: 18,
  LOCAL3: 19,
  LOCAL4: 20,
  LOCAL5: 21,
  LOCAL6: 22,
  LOCAL7: 23,
};

/** Syslog severities for the agent's level tags. */
const SEVERITIES: Record<string, number> = { ERR: 3, WARN: 4, INFO: 6, DEBUG: 7, TRACE: 7 };

export interface SyslogOptions {
  /** Facility name such as LOCAL0. @default 'LOCAL0' */
  facility?: string;
  /** @default 'serf' */
  tag?: string;
  /** Command that reads `<PRI>line` records from stdin. @default logger --prio-prefix -t TAG */
  command?: string[];
  /** Called once if the helper cannot run, with the reason. */
  onError?: (message: string) => void;
}

export class SyslogWriter {
  readonly #facility: number;
  #child: ChildProcess | undefined;
  #failed = false;
  readonly #onError: (message: string) => void;

  constructor(options: SyslogOptions = {}) {
    this.#facility = FACILITIES[(options.facility ?? 'LOCAL0').toUpperCase()] ?? FACILITIES.LOCAL0!;
    this.#onError = options.onError ?? (() => {});
    const command = options.command ?? ['logger', '--prio-prefix', '-t', options.tag ?? 'serf'];
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', (err) => this.#fail(`syslog helper '${command[0]}' failed: ${err.message}`));
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) this.#fail(`syslog helper '${command[0]}' exited with code ${code}`);
    });
    child.stdin?.on('error', () => {});
    child.unref();
    this.#child = child;
  }

  /** Sends one formatted log line; its `[LEVEL]` tag picks the severity. */
  write(line: string): void {
    if (this.#failed || !this.#child?.stdin?.writable) return;
    const level = /\[(TRACE|DEBUG|INFO|WARN|ERR)\]/.exec(line)?.[1] ?? 'INFO';
    const pri = this.#facility * 8 + (SEVERITIES[level] ?? 6);
    this.#child.stdin.write(`<${pri}>${line}\n`);
  }

  close(): void {
    this.#child?.stdin?.end();
    this.#child = undefined;
  }

  #fail(message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#onError(message);
  }
}
