/**
 * Memberlist message type numbers: the first byte of every gossip message and stream message.
 *
 * These numbers are part of the wire protocol shared with Go memberlist 0.2.2. The table is
 * append-only: never renumber or reuse an entry. Newer upstream memberlist also defines 244
 * (`hasLabel`, an outermost label header), which 0.2.2 peers do not understand, so it is left out.
 */
export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
} as const;
export type MessageTypeName = keyof typeof MessageType;
export type MessageTypeNumber = (typeof MessageType)[MessageTypeName];

const namesByNumber = new Map<number, MessageTypeName>(
  Object.entries(MessageType).map(([name, number]) => [number, name as MessageTypeName]),
);

/** Returns the name of a message type byte, or undefined for a byte no memberlist version defines. */
export function messageTypeName(byte: number): MessageTypeName | undefined {
  return namesByNumber.get(byte);
}

/**
 * Node states as sent in push/pull node states (`State`). Also part of the protocol: a remote
 * `left` is merged as a leave, `suspect` and `dead` as a suspicion.
 */
export const NodeState = {
  alive: 0,
  suspect: 1,
  dead: 2,
  left: 3,
} as const;
export type NodeStateName = keyof typeof NodeState;
export type NodeStateNumber = (typeof NodeState)[NodeStateName];
