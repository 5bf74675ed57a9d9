export { formatAddress, normalizeHost } from './address.js';
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryNetworkStats,
  MemoryTransport,
} from './memory.js';
export { DEFAULT_MAX_BUFFERED_BYTES, StreamReader, type StreamReaderOptions } from './stream-reader.js';
export type { Address, PacketHandler, Stream, StreamHandler, Transport } from './types.js';
export { UdpTcpTransport, type UdpTcpTransportOptions } from './udp-tcp.js';
