/**
 * Entry point of the `serf` command line, a drop-in for HashiCorp's `serf` (0.9.4): the same
 * subcommands, Go-style flags, output layouts and exit codes. Only bin/serf calls process.exit.
 */

import { agentCommand } from './agent-command.js';
import { type CliIo, type Command, Ui } from './command.js';
import { eventCommand } from './commands/event.js';
import { forceLeaveCommand } from './commands/force-leave.js';
import { infoCommand } from './commands/info.js';
import { joinCommand } from './commands/join.js';
import { keygenCommand } from './commands/keygen.js';
import { keysCommand } from './commands/keys.js';
import { leaveCommand } from './commands/leave.js';
import { membersCommand } from './commands/members.js';
import { monitorCommand } from './commands/monitor.js';
import { queryCommand } from './commands/query.js';
import { reachabilityCommand } from './commands/reachability.js';
import { rttCommand } from './commands/rtt.js';
import { tagsCommand } from './commands/tags.js';
import { versionCommand } from './commands/version.js';

export type { CliIo, OutputStream } from './command.js';

/** Exit code for a missing or unknown subcommand, as the reference uses. */
export const EXIT_UNKNOWN_COMMAND = 127;

export const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ['agent', agentCommand],
  ['event', eventCommand],
  ['force-leave', forceLeaveCommand],
  ['info', infoCommand],
  ['join', joinCommand],
  ['keygen', keygenCommand],
  ['keys', keysCommand],
  ['leave', leaveCommand],
  ['members', membersCommand],
  ['monitor', monitorCommand],
  ['query', queryCommand],
  ['reachability', reachabilityCommand],
  ['rtt', rttCommand],
  ['tags', tagsCommand],
  ['version', versionCommand],
]);

/** Builds the top-level usage: sorted command names, padded to the longest plus four spaces. */
export function topLevelUsage(): string {
  const names = [...COMMANDS.keys()].sort();
  const width = Math.max(...names.map((name) => name.length)) + 4;
  const lines = names.map((name) => `    ${name.padEnd(width)}${COMMANDS.get(name)?.synopsis ?? ''}`);
  return `Usage: serf [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n${lines.join('\n')}\n`;
}

/** Subcommand and global flags found before `--`, scanned the way the reference's CLI framework does. */
interface ArgumentScan {
  subcommand: string;
  subcommandIndex: number;
  help: boolean;
  /** Flags seen before the subcommand (other than help and version flags). */
  topFlags: string[];
}

function scanArguments(args: readonly string[]): ArgumentScan {
  const scan: ArgumentScan = { subcommand: '', subcommandIndex: -1, help: false, topFlags: [] };
  for (const [index, arg] of args.entries()) {
    if (arg === '--') break;
    if (arg === '-h' || arg === '-help' || arg === '--help') {
      scan.help = true;
      continue;
    }
    if (scan.subcommand !== '') continue;
    if (arg === '-version') continue;
    if (arg.startsWith('-')) {
      scan.topFlags.push(arg);
    } else if (arg !== '') {
      scan.subcommand = arg;
      scan.subcommandIndex = index;
    }
  }
  return scan;
}

/**
 * Runs the `serf` command line with `argv` (the arguments after the program name) and returns the
 * exit code: 0 on success, 1 on any error, 127 for a missing or unknown subcommand.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // `-v` or `--version` anywhere (even after `--`) turns any invocation into `serf version`.
  const args = argv.some((arg) => arg === '-v' || arg === '--version') ? ['version', ...argv] : [...argv];
  const scan = scanArguments(args);

  if (scan.help && scan.subcommand === '') {
    io.stderr.write(`${topLevelUsage()}\n`);
    return 0;
  }
  const command = COMMANDS.get(scan.subcommand);
  if (command === undefined) {
    io.stderr.write(`${topLevelUsage()}\n`);
    return EXIT_UNKNOWN_COMMAND;
  }

  const ui = new Ui(io);
  const context = { io, ui, help: command.help };
  const commandArgs = args.slice(scan.subcommandIndex + 1);

  if (scan.help) {
    // The agent prints its own help, listing its flags.
    if (command === agentCommand) return command.run(commandArgs, context);
    io.stderr.write(`${command.help}\n`);
    return 0;
  }
  if (scan.topFlags.length > 0) {
    io.stderr.write(
      `Flags given before the subcommand are not accepted: ${scan.topFlags.join(' ')}. Put them after "${scan.subcommand}".\n\n${command.help}\n`,
    );
    return 1;
  }
  return command.run(commandArgs, context);
}
