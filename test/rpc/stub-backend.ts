/**
 * A scripted AgentBackend for RPC server tests: fixed members, canned key results and query
 * replies, and hooks to emit events and log lines. Every call is recorded in `calls`.
 */

import type {
  AgentBackend,
  BackendCoordinate,
  BackendKeyResult,
  BackendQuery,
  BackendQueryParams,
  BackendQueryReply,
} from '../../src/agent/rpc-backend.js';
import type { Member, QueryEvent, SerfEvent } from '../../src/serf/events.js';

export function stubMember(
  name: string,
  addr: string,
  tags: Record<string, string>,
  status: Member['status'] = 'alive',
): Member {
  return {
    name,
    addr,
    port: 7946,
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

/** The text a Go agent returns when a join contacts nobody. */
export const JOIN_REFUSED =
  '1 error occurred:\n\t* Failed to join 127.0.0.1: dial tcp 127.0.0.1:1: connect: connection refused\n\n';

export class StubBackend implements AgentBackend {
  authKey = '';
  readonly calls: { method: string; args: unknown[] }[] = [];
  members_: Member[] = [
    stubMember('node-a', '127.0.0.11', { role: 'web', dc: 'east' }),
    stubMember('node-b', '127.0.0.12', { role: 'db' }),
    stubMember('node-c', '127.0.0.13', { role: 'cache' }, 'failed'),
  ];
  tags: Record<string, string> = { role: 'web', dc: 'east' };
  /** Replies a query yields, each after `queryReplyDelayMs`, before it ends. */
  queryReplies: BackendQueryReply[] = [
    { type: 'ack', from: 'node-a' },
    { type: 'response', from: 'node-a', payload: new TextEncoder().encode('pong from node-a') },
    { type: 'ack', from: 'node-b' },
  ];
  queryReplyDelayMs = 5;
  /** Error raised by key operations on some nodes, or undefined for success. */
  keyFailure: string | undefined;
  readonly recentLogs: string[] = ['2026/01/01 00:00:00 [INFO] agent: Serf agent starting'];
  readonly #eventListeners = new Set<(event: SerfEvent) => void>();
  readonly #logListeners = new Set<{ level: string; listener: (line: string) => void }>();
  readonly responses: { id: number; payload: Uint8Array }[] = [];

  get eventListenerCount(): number {
    return this.#eventListeners.size;
  }

  get logListenerCount(): number {
    return this.#logListeners.size;
  }

  #record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  members(): Member[] {
    this.#record('members');
    return this.members_;
  }

  async join(addresses: string[], replay: boolean): Promise<number> {
    this.#record('join', addresses, replay);
    if (addresses.includes('127.0.0.1:1')) throw new Error(JOIN_REFUSED);
    return addresses.length;
  }

  async leave(): Promise<void> {
    this.#record('leave');
  }

  async forceLeave(node: string, prune: boolean): Promise<void> {
    this.#record('forceLeave', node, prune);
  }

  async userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): Promise<void> {
    this.#record('userEvent', name, payload, coalesce);
    if ((payload?.length ?? 0) > 512)
      throw new Error('user event exceeds configured limit of 512 bytes before encoding');
  }

  async query(params: BackendQueryParams): Promise<BackendQuery> {
    this.#record('query', params);
    const replies = [...this.queryReplies];
    const delay = this.queryReplyDelayMs;
    let closed = false;
    return {
      close: () => {
        closed = true;
      },
      async *[Symbol.asyncIterator]() {
        for (const reply of replies) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          if (closed) return;
          yield reply;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      },
    };
  }

  async setTags(set: Record<string, string>, remove: string[]): Promise<void> {
    this.#record('setTags', set, remove);
    for (const key of remove) delete this.tags[key];
    Object.assign(this.tags, set);
  }

  #keyResult(withKeys: boolean): BackendKeyResult {
    const total = 3;
    if (this.keyFailure !== undefined) {
      return {
        error: `1/${total} nodes reported failure`,
        messages: { 'node-b': this.keyFailure },
        numNodes: total,
        numResp: total,
        numErr: 1,
        ...(withKeys ? { keys: { 'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=': 2 } } : {}),
      };
    }
    return {
      messages: {},
      numNodes: total,
      numResp: total,
      numErr: 0,
      ...(withKeys
        ? {
            keys: {
              'l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=': 3,
              'CfYYOh33q5TLIdSKTX0pNimxuAR8EhTEPRQmlMflAo0=': 3,
            },
          }
        : {}),
    };
  }

  async installKey(key: string): Promise<BackendKeyResult> {
    this.#record('installKey', key);
    return this.#keyResult(false);
  }

  async useKey(key: string): Promise<BackendKeyResult> {
    this.#record('useKey', key);
    return this.#keyResult(false);
  }

  async removeKey(key: string): Promise<BackendKeyResult> {
    this.#record('removeKey', key);
    return this.#keyResult(false);
  }

  async listKeys(): Promise<BackendKeyResult> {
    this.#record('listKeys');
    return this.#keyResult(true);
  }

  stats(): Record<string, Record<string, string>> {
    return {
      agent: { name: 'node-a' },
      runtime: {
        os: 'linux',
        arch: 'x64',
        version: 'node-test',
        max_procs: '2',
        goroutines: '0',
        cpu_count: '2',
      },
      serf: { members: '3', failed: '1', left: '0', encrypted: 'false', health_score: '0' },
      tags: { ...this.tags },
      event_handlers: {},
    };
  }

  getCoordinate(node: string): BackendCoordinate | undefined {
    if (node === 'node-a')
      return { adjustment: 0, error: 1.5, height: 0.0001, vec: [0, 0, 0, 0, 0, 0, 0, 0] };
    if (node === 'node-b')
      return { adjustment: 0, error: 1.5, height: 0.0001, vec: [0.001, 0, 0, 0, 0, 0, 0, 0] };
    return undefined;
  }

  subscribeEvents(listener: (event: SerfEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  subscribeLogs(level: string, listener: (line: string) => void): () => void {
    const entry = { level, listener };
    this.#logListeners.add(entry);
    for (const line of this.recentLogs) listener(line);
    return () => this.#logListeners.delete(entry);
  }

  /** Delivers `event` to every stream subscriber. */
  emit(event: SerfEvent): void {
    for (const listener of this.#eventListeners) listener(event);
  }

  /** Delivers a log line to every monitor. */
  log(line: string): void {
    this.recentLogs.push(line);
    for (const { listener } of this.#logListeners) listener(line);
  }

  /** Builds a query event whose responses are recorded in `responses`. */
  queryEvent(id: number, name: string, payload: string): QueryEvent {
    let answered = false;
    return {
      type: 'query',
      ltime: 7,
      name,
      payload: new TextEncoder().encode(payload),
      id,
      deadline: Number.MAX_SAFE_INTEGER,
      sourceNode: 'node-b',
      respond: async (body) => {
        if (answered) throw new Error('failed to respond to key query: response already sent');
        answered = true;
        this.responses.push({ id, payload: body });
      },
    };
  }
}
