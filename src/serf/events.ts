/**
 * Members and the events a Serf node delivers to its embedder (and the agent to its handlers).
 */

/** Member status as Serf reports it (numbers are the wire and RPC values). */
export const MemberStatus = { none: 0, alive: 1, leaving: 2, left: 3, failed: 4 } as const;
export type MemberStatusName = keyof typeof MemberStatus;

export interface Member {
  name: string;
  /** Textual IP address. */
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: MemberStatusName;
  /** memberlist protocol range and version spoken. */
  protocolMin: number;
  protocolMax: number;
  protocolCur: number;
  /** Serf protocol range and version spoken. */
  delegateMin: number;
  delegateMax: number;
  delegateCur: number;
}

export type MemberEventType =
  | 'member-join'
  | 'member-leave'
  | 'member-failed'
  | 'member-update'
  | 'member-reap';

export interface MemberEvent {
  type: MemberEventType;
  members: Member[];
}

export interface UserEvent {
  type: 'user';
  /** Event Lamport time. */
  ltime: number;
  name: string;
  payload: Uint8Array;
  /** Whether the sender allowed coalescing of this event with newer ones of the same name. */
  coalesce: boolean;
}

export interface QueryEvent {
  type: 'query';
  /** Query Lamport time. */
  ltime: number;
  name: string;
  payload: Uint8Array;
  id: number;
  /** Clock time (ms) after which a response is refused. */
  deadline: number;
  /** Name of the node that started the query. */
  sourceNode: string;
  /** Sends this node's one response to the origin. Rejects when already responded or past deadline. */
  respond(payload: Uint8Array): Promise<void>;
}

export type SerfEvent = MemberEvent | UserEvent | QueryEvent;

export function isMemberEvent(e: SerfEvent): e is MemberEvent {
  return e.type !== 'user' && e.type !== 'query';
}
