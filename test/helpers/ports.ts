/**
 * Port and address helpers for tests that open real sockets. Everything here stays on loopback.
 */

import { createSocket, type SocketType } from 'node:dgram';
import { createServer as createTcpServer, isIPv4, isIPv6 } from 'node:net';

/** Ports already returned in this process, so two calls never return the same port. */
const handedOut = new Set<string>();

const maxAttempts = 50;

/**
 * Finds a port that is free for both TCP and UDP on `host`.
 *
 * The kernel picks a free TCP port, then a UDP socket is bound to the same number to prove UDP is
 * free too. Both sockets are closed before returning. NOTE: another process can still take the
 * port between this check and its use, so callers that start servers should retry on
 * "address already in use".
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  assertLoopback(host);

  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const port = await bindTcp(host);
    const key = `${host}|${port}`;
    if (handedOut.has(key)) {
      continue;
    }
    if (await udpPortIsFree(host, port)) {
      handedOut.add(key);
      return port;
    }
  }
  throw new Error(`no port free for both TCP and UDP found on ${host} after ${maxAttempts} attempts`);
}

/**
 * Returns a distinct loopback IPv4 address for index `i`: 127.0.0.10, 127.0.0.11, and so on.
 * Linux routes all of 127.0.0.0/8 to the loopback interface, so no setup is needed there.
 */
export function loopbackHost(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > 244) {
    throw new RangeError(`loopback host index must be an integer from 0 to 244, got ${i}`);
  }
  return `127.0.0.${10 + i}`;
}

/** Returns true for IPv4 addresses in 127.0.0.0/8 and for the IPv6 address ::1. */
export function isLoopback(host: string): boolean {
  if (isIPv4(host)) {
    return host.startsWith('127.');
  }
  if (isIPv6(host)) {
    return host === '::1' || host === '0:0:0:0:0:0:0:1';
  }
  return false;
}

/** Throws unless `host` is a loopback IP address, so tests never send traffic off the machine. */
export function assertLoopback(host: string): void {
  if (!isLoopback(host)) {
    throw new RangeError(`test traffic must stay on loopback, but got host ${JSON.stringify(host)}`);
  }
}

/** Formats `host:port`, with brackets around an IPv6 host. */
export function joinHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

async function bindTcp(host: string): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error(`TCP listener on ${host} did not report a port`);
  }
  return address.port;
}

async function udpPortIsFree(host: string, port: number): Promise<boolean> {
  const type: SocketType = isIPv6(host) ? 'udp6' : 'udp4';
  const socket = createSocket({ type, reuseAddr: false });
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind({ address: host, port, exclusive: true }, () => resolve(true));
  });
  await new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // close() throws when the socket never finished binding, and then nothing is left to release.
      resolve();
    }
  });
  return bound;
}
