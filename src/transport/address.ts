/** Address helpers shared by the transports. Pure string handling, no sockets. */

import type { Address } from './types.js';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAPPED_PREFIX = '::ffff:';

/** Returns true for a dotted-quad IPv4 address. */
export function isIPv4Text(host: string): boolean {
  return IPV4.test(host);
}

/** Turns an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) into the plain IPv4 address. */
export function normalizeHost(host: string): string {
  if (
    host.length > MAPPED_PREFIX.length &&
    host.slice(0, MAPPED_PREFIX.length).toLowerCase() === MAPPED_PREFIX
  ) {
    const rest = host.slice(MAPPED_PREFIX.length);
    if (isIPv4Text(rest)) return rest;
  }
  return host;
}

/** Formats `host:port` as Go does, with brackets around IPv6 hosts. */
export function formatAddress(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
