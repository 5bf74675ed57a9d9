/**
 * Error classes shared by every layer. Each carries a stable `code` so callers can match on it
 * even when two copies of the library are loaded and `instanceof` fails.
 */

export const ErrorCode = {
  decode: 'SERF_ERR_DECODE',
  crypto: 'SERF_ERR_CRYPTO',
  invalidArgument: 'SERF_ERR_INVALID_ARGUMENT',
  timeout: 'SERF_ERR_TIMEOUT',
  notRunning: 'SERF_ERR_NOT_RUNNING',
  remote: 'SERF_ERR_REMOTE',
  network: 'SERF_ERR_NETWORK',
  protocol: 'SERF_ERR_PROTOCOL',
  aborted: 'SERF_ERR_ABORTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class SerfError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes from a peer (packet, stream, file) that do not form a valid message. */
export class DecodeError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.decode, message, options);
  }
}

/** Encryption or decryption failed: wrong key, tampered data, unsupported version. */
export class CryptoError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.crypto, message, options);
  }
}

/** A caller passed a value that cannot be used (bad key size, bad address, bad option). */
export class InvalidArgumentError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.invalidArgument, message, options);
  }
}

export class TimeoutError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.timeout, message, options);
  }
}

/** The component was shut down or never started. */
export class NotRunningError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.notRunning, message, options);
  }
}

/** The remote side of a stream answered with an error message. */
export class RemoteError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.remote, message, options);
  }
}

/** A socket operation failed (dial refused, connection reset, send failed). */
export class NetworkError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.network, message, options);
  }
}

/** A peer is reachable but speaks an incompatible protocol version or sent an unexpected message. */
export class ProtocolError extends SerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.protocol, message, options);
  }
}

export class AbortError extends SerfError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super(ErrorCode.aborted, message, options);
  }
}

/** Returns the message of any thrown value, for log lines. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
