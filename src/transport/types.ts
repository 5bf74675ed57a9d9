/**
 * The contract between memberlist and the network. memberlist never imports node:dgram or
 * node:net: it talks to a `Transport`, which is either real sockets (`UdpTcpTransport`) or the
 * in-memory network used by deterministic tests (`MemoryTransport`).
 *
 * Byte ownership: a transport hands each received packet or stream chunk over to the handler,
 * which may keep it. A transport must not reuse a buffer after passing it on.
 */

/** An IP address and port. `host` is a textual IP (IPv4 dotted quad or IPv6), never a DNS name. */
export interface Address {
  host: string;
  port: number;
}

/**
 * Called for every datagram received. `receivedAt` is the transport clock's `now()` at arrival,
 * which memberlist uses for RTT measurement. Must not throw; must not block.
 */
export type PacketHandler = (packet: Uint8Array, from: Address, receivedAt: number) => void;

/** Called for every accepted stream connection. The handler owns the stream and must close it. */
export type StreamHandler = (stream: Stream) => void;

/**
 * One reliable, ordered byte stream (a TCP connection). Reads return whole chunks as they arrive.
 */
export interface Stream {
  readonly remote: Address;
  /** Resolves with the next chunk of bytes, or `null` at end of stream. Rejects on reset or close(). */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `data`. Rejects when the stream is closed or broken. */
  write(data: Uint8Array): Promise<void>;
  /** Closes both directions now. Pending reads reject. Safe to call more than once. */
  close(): void;
}

export interface Transport {
  /**
   * The address this transport is bound to; `port` is the real port even when 0 was requested.
   * Valid after `start()` resolved.
   */
  readonly boundAddress: Address;
  /** Binds the sockets and starts delivering packets and streams to the handlers. */
  start(onPacket: PacketHandler, onStream: StreamHandler): Promise<void>;
  /** Sends one datagram. Resolves when handed to the OS (or the memory network). */
  sendPacket(to: Address, data: Uint8Array): Promise<void>;
  /** Opens a stream to `to`, failing with a NetworkError or TimeoutError after `timeoutMs`. */
  dial(to: Address, timeoutMs: number): Promise<Stream>;
  /** Closes the sockets and every open stream. Safe to call more than once. */
  close(): Promise<void>;
}
