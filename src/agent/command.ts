/**
 * `serf agent`: loads the configuration, starts the agent, prints the reference's start-up banner
 * and runs until a signal, an RPC `leave` or a lost name conflict stops it. Returns the exit code.
 */

import type { EventEmitter } from 'node:events';
import { errorMessage } from '../util/errors.js';
import { Agent, AgentStartError } from './agent.js';
import { type AgentConfig, agentUsage, loadAgentConfig, splitHostPort } from './config.js';
import { keyFilePermissionsWarning } from './files.js';
import { LogWriter } from './log-writer.js';

export interface AgentIo {
  stdout: { write(chunk: string | Uint8Array): unknown };
  stderr: { write(chunk: string | Uint8Array): unknown };
  env: Record<string, string | undefined>;
  /** Source of SIGINT, SIGTERM and SIGHUP; defaults to the process. */
  signals?: Pick<EventEmitter, 'on' | 'off'>;
  /** Receives the running agent once started (tests use it to find the bound ports). */
  onStarted?: (agent: Agent) => void;
}

/** How long a graceful leave may take on a signal before the agent gives up and exits 1. */
const GRACEFUL_TIMEOUT_MS = 3_000;

export async function runAgent(argv: string[], io: AgentIo): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const env = io.env as NodeJS.ProcessEnv;

  let loaded: ReturnType<typeof loadAgentConfig>;
  try {
    loaded = loadAgentConfig(argv, env);
  } catch (err) {
    out(`==> ${errorMessage(err)}`);
    return 1;
  }
  if (loaded.help) {
    io.stderr.write(`${agentUsage()}\n`);
    return 0;
  }
  const config = loaded.config;
  for (const w of loaded.warnings) out(`==> ${w}`);

  const logWriter = new LogWriter({
    level: config.logLevel,
    console: (line) => out(line),
    holdConsole: true,
    ...(config.enableSyslog ? { syslog: { facility: config.syslogFacility } } : {}),
  });
  // The gossip key never reaches a log line, whatever prints it.
  logWriter.redact(config.encryptKey);

  out('==> Starting Serf agent...');
  // loadAgentConfig already checked an -encrypt-file; the keyring file is checked here.
  if (config.keyringFile) {
    const warning = await keyFilePermissionsWarning(config.keyringFile).catch(() => undefined);
    if (warning) out(`==> ${warning}`);
  }

  let agent: Agent;
  try {
    agent = await Agent.create(config, logWriter);
  } catch (err) {
    out(
      `==> ${err instanceof AgentStartError ? err.message : `Failed to start the Serf agent: ${errorMessage(err)}`}`,
    );
    logWriter.releaseConsole();
    return 1;
  }
  for (const k of agent.keyringKeys()) logWriter.redact(k);

  out('==> Starting Serf agent RPC...');
  try {
    await agent.startRpc();
  } catch (err) {
    out(`==> ${errorMessage(err)}`);
    await agent.shutdown();
    return 1;
  }

  printBanner(out, config, agent);

  if (config.startJoin.length > 0) {
    out(`==> Joining cluster...(replay: ${config.replayOnJoin})`);
    try {
      const n = await agent.join(config.startJoin, config.replayOnJoin);
      out(`    Join completed. Synced with ${n} initial agents`);
    } catch (err) {
      out(`==> ${errorMessage(err)}`);
      logWriter.releaseConsole();
      await agent.shutdown();
      return 1;
    }
  }

  out('');
  out('==> Log data will now stream in as it occurs:');
  out('');
  logWriter.releaseConsole();
  io.onStarted?.(agent);

  return waitForExit(agent, config, argv, io, out, logWriter);
}

function printBanner(out: (line: string) => void, config: AgentConfig, agent: Agent): void {
  // The bind address as resolved (an -iface choice replaces 0.0.0.0).
  const configured = splitHostPort(config.bind, 7946);
  const bind = {
    host: agent.serf.options.memberlist.bindAddr ?? configured.host,
    port: agent.serf.options.memberlist.bindPort ?? configured.port,
  };
  const row = (label: string, value: string) => out(`${label.padStart(31)}: ${value}`);
  const hostPort = (h: string, p: number) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);
  const rpc = agent.rpcAddress;
  out('==> Serf agent running!');
  row('Node name', `'${config.nodeName}'`);
  row('Bind addr', `'${hostPort(bind.host, bind.port)}'`);
  if (config.advertise) {
    const adv = splitHostPort(config.advertise, bind.port);
    out(`    Advertise addr: '${hostPort(adv.host, adv.port)}'`);
  }
  row('RPC addr', `'${rpc ? hostPort(rpc.host, rpc.port) : config.rpcAddr}'`);
  row('Encrypted', String(agent.serf.encrypted));
  row('Snapshot', String(config.snapshotPath !== ''));
  row('Profile', config.profile);
  row('Message Compression Enabled', String(config.enableCompression));
  if (config.discover) row('mDNS cluster', config.discover);
}

function waitForExit(
  agent: Agent,
  config: AgentConfig,
  argv: string[],
  io: AgentIo,
  out: (line: string) => void,
  logWriter: LogWriter,
): Promise<number> {
  const signals = io.signals ?? process;
  const logger = logWriter.logger().child({ component: 'agent' });

  return new Promise<number>((resolve) => {
    let finishing = false;
    const finish = (code: number) => {
      logWriter.closeSyslog();
      signals.off('SIGINT', onInt);
      signals.off('SIGTERM', onTerm);
      signals.off('SIGHUP', onHup);
      resolve(code);
    };

    const gracefulExit = async () => {
      out('==> Gracefully shutting down agent...');
      logger.info('requesting graceful leave from Serf');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), GRACEFUL_TIMEOUT_MS);
      });
      const left = agent.serf.leave().then(
        () => 'left' as const,
        (err: unknown) => {
          out(`==> Error: ${errorMessage(err)}`);
          return 'error' as const;
        },
      );
      const result = await Promise.race([left, timedOut]);
      clearTimeout(timer);
      await agent.shutdown();
      finish(result === 'left' ? 0 : 1);
    };

    const onSignal = (name: string, graceful: boolean) => {
      out(`==> Caught signal: ${name}`);
      if (finishing) {
        // A second signal while leaving: stop waiting.
        void agent.shutdown().finally(() => finish(1));
        return;
      }
      finishing = true;
      if (graceful) {
        void gracefulExit();
      } else {
        void agent.shutdown().finally(() => finish(1));
      }
    };
    const onInt = () => onSignal('interrupt', !config.skipLeaveOnInterrupt);
    const onTerm = () => onSignal('terminated', config.leaveOnTerminate);
    const onHup = () => {
      out('==> Caught signal: hangup');
      out('==> Reloading configuration...');
      let next: AgentConfig;
      try {
        next = loadAgentConfig(argv, io.env as NodeJS.ProcessEnv).config;
      } catch (err) {
        out(`==> Failed to reload configs: ${errorMessage(err)}`);
        return;
      }
      agent.reload(next).catch((err) => out(`==> Failed to reload configs: ${errorMessage(err)}`));
    };
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
    signals.on('SIGHUP', onHup);

    agent.startRetryJoin(() => {
      finishing = true;
      void agent.shutdown().finally(() => finish(1));
    });
    agent.startDiscovery().catch((err) => logger.error(`mDNS discovery failed: ${errorMessage(err)}`));

    // RPC leave, or Serf stopping on its own (a lost name conflict), ends the agent with 0.
    void agent.serf.closed().then(async () => {
      if (finishing) return;
      finishing = true;
      if (!agent.isShutdown) logger.warn('Serf shutdown detected, quitting');
      await agent.shutdown();
      finish(0);
    });
  });
}
