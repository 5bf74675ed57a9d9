/**
 * Serf message type numbers, query flags and query filter types.
 *
 * All three tables are part of the wire protocol shared with Go Serf 0.9.4, so they are
 * append-only: never renumber or reuse an entry.
 */

/**
 * The first byte of every Serf message (carried after the memberlist user message byte 8, in
 * push/pull user state, or inside query and query response payloads).
 */
export const SerfMessageType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;
export type SerfMessageTypeName = keyof typeof SerfMessageType;
export type SerfMessageTypeNumber = (typeof SerfMessageType)[SerfMessageTypeName];

const namesByNumber = new Map<number, SerfMessageTypeName>(
  Object.entries(SerfMessageType).map(([name, number]) => [number, name as SerfMessageTypeName]),
);

/** Returns the name of a Serf message type byte, or undefined for a byte Serf 0.9.4 does not define. */
export function serfMessageTypeName(byte: number): SerfMessageTypeName | undefined {
  return namesByNumber.get(byte);
}

/** Bits of a query's `Flags` field, and of a query response's (where only `ack` is used). */
export const QueryFlag = {
  /**
   * On a query, the origin requests an ack from every node that passes the filters. On a
   * response, it marks an ack.
   */
  ack: 1,
  /** Receivers must not gossip the query further. */
  noBroadcast: 2,
} as const;

/** The first byte of each encoded query filter. */
export const FilterType = {
  node: 0,
  tag: 1,
} as const;
