/**
 * In-memory stand-in for RpcClient, for running CLI commands without an agent. Each test sets the
 * data it needs; `calls` records every method call with its arguments.
 */

import type {
  CliClient,
  CliCoordinate,
  CliKeyResponse,
  CliMember,
  CliQueryParams,
  CliQueryRecord,
  CliStreamRecord,
  CliSubscription,
} from '../../src/cli/client.js';
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';

export interface FakeData {
  members?: CliMember[];
  joinResult?: number;
  stats?: Record<string, Record<string, string>>;
  coordinates?: Record<string, CliCoordinate>;
  keyResponse?: CliKeyResponse;
  /** Records a query delivers; a final `done` is added automatically. */
  queryRecords?: CliQueryRecord[];
  streamRecords?: CliStreamRecord[];
  logLines?: string[];
  /** Method name → error it throws. */
  errors?: Partial<Record<keyof CliClient, Error>>;
}

export class FakeClient implements CliClient {
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  closed = false;
  /** Ends open stream and monitor subscriptions, as when the agent closes the connection. */
  endSubscriptions: () => void = () => undefined;

  constructor(private readonly data: FakeData) {}

  #record(method: keyof CliClient, args: unknown[]): void {
    this.calls.push({ method, args });
    const error = this.data.errors?.[method];
    if (error !== undefined) throw error;
  }

  async members() {
    this.#record('members', []);
    return this.data.members ?? [];
  }
  async membersFiltered(filter: { tags?: Record<string, string>; status?: string; name?: string }) {
    this.#record('membersFiltered', [filter]);
    return this.data.members ?? [];
  }
  async join(addresses: string[], replay: boolean) {
    this.#record('join', [addresses, replay]);
    return this.data.joinResult ?? addresses.length;
  }
  async leave() {
    this.#record('leave', []);
  }
  async forceLeave(node: string, options?: { prune?: boolean }) {
    this.#record('forceLeave', [node, options]);
  }
  async userEvent(name: string, payload: Uint8Array | null, coalesce: boolean) {
    this.#record('userEvent', [name, payload, coalesce]);
  }
  async updateTags(set: Record<string, string>, remove: string[]) {
    this.#record('updateTags', [set, remove]);
  }
  async installKey(key: string) {
    this.#record('installKey', [key]);
    return this.#keyResponse();
  }
  async useKey(key: string) {
    this.#record('useKey', [key]);
    return this.#keyResponse();
  }
  async removeKey(key: string) {
    this.#record('removeKey', [key]);
    return this.#keyResponse();
  }
  async listKeys() {
    this.#record('listKeys', []);
    return this.#keyResponse();
  }
  #keyResponse(): CliKeyResponse {
    return this.data.keyResponse ?? { messages: {}, keys: null, numNodes: 0, numResp: 0, numErr: 0 };
  }
  async stats() {
    this.#record('stats', []);
    return this.data.stats ?? {};
  }
  async getCoordinate(node: string) {
    this.#record('getCoordinate', [node]);
    return this.data.coordinates?.[node];
  }
  /** Delivers the records asynchronously and resolves after `done`, like RpcClient. */
  async query(params: CliQueryParams, onRecord: (record: CliQueryRecord) => void) {
    this.#record('query', [params]);
    for (const record of this.data.queryRecords ?? []) {
      await Promise.resolve();
      onRecord(record);
    }
    onRecord({ type: 'done' });
  }
  async stream(filter: string, onRecord: (record: CliStreamRecord) => void): Promise<CliSubscription> {
    this.#record('stream', [filter]);
    const subscription = this.#subscription();
    queueMicrotask(() => {
      for (const record of this.data.streamRecords ?? []) onRecord(record);
    });
    return subscription;
  }
  async monitor(logLevel: string, onLine: (line: string) => void): Promise<CliSubscription> {
    this.#record('monitor', [logLevel]);
    const subscription = this.#subscription();
    queueMicrotask(() => {
      for (const line of this.data.logLines ?? []) onLine(line);
    });
    return subscription;
  }
  #subscription(): CliSubscription {
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const previous = this.endSubscriptions;
    this.endSubscriptions = () => {
      previous();
      finish();
    };
    return {
      done,
      stop: async () => {
        this.calls.push({ method: 'stop', args: [] });
        finish();
      },
    };
  }
  async close() {
    this.closed = true;
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Address and token the command connected with, if it connected. */
  connectedTo?: { address: string; authKey: string };
}

/** Collects written chunks (strings or bytes) as UTF-8 text. */
export class Capture {
  readonly chunks: Buffer[] = [];
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    return true;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
}

/** Runs `serf <argv>` in-process against `client` (or a connection error when it is an Error). */
export async function runCli(
  argv: string[],
  client: FakeClient | Error = new FakeClient({}),
  options: { env?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<RunResult & { stdoutBytes: Buffer }> {
  const stdout = new Capture();
  const stderr = new Capture();
  let connectedTo: RunResult['connectedTo'];
  const io: CliIo = {
    stdout,
    stderr,
    env: options.env ?? {},
    connect: async (address, authKey) => {
      connectedTo = { address, authKey };
      if (client instanceof Error) throw client;
      return client;
    },
  };
  if (options.signal !== undefined) io.signal = options.signal;
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text, stdoutBytes: stdout.bytes, connectedTo };
}

/** Builds a member with the protocol numbers the reference agents report. */
export function member(
  name: string,
  addr: string,
  port: number,
  tags: Record<string, string>,
  status = 'alive',
): CliMember {
  return {
    name,
    addr,
    port,
    tags,
    status,
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 5,
  };
}
