/**
 * Conversion between textual IP addresses and the raw bytes carried in gossip messages (4 bytes
 * for IPv4, 16 for IPv6). Hand-parsed because the codec layer must not import node:net.
 */

import { DecodeError, InvalidArgumentError } from '../util/errors.js';

/**
 * Parses an IPv4 dotted quad into 4 bytes or an IPv6 address into 16 bytes. An IPv6 zone
 * (`fe80::1%eth0`) is dropped because the wire format has no room for it. Throws
 * InvalidArgumentError for anything else, including host names.
 */
export function ipToBytes(host: string): Uint8Array {
  const v4 = parseIpv4(host);
  if (v4) return v4;
  const zone = host.indexOf('%');
  const v6 = parseIpv6(zone >= 0 ? host.slice(0, zone) : host);
  if (v6) return v6;
  throw new InvalidArgumentError(
    `"${host}" is not an IP address; expected an IPv4 dotted quad or an IPv6 address (resolve host names first)`,
  );
}

/**
 * Formats address bytes as text. 4 bytes and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) give a dotted
 * quad; other 16-byte values give the RFC 5952 form. Other lengths are a DecodeError.
 */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpv4(bytes, 0);
  if (bytes.length !== 16) {
    throw new DecodeError(`IP address has ${bytes.length} bytes; expected 4 (IPv4) or 16 (IPv6)`);
  }
  if (isIpv4Mapped(bytes)) return formatIpv4(bytes, 12);
  return formatIpv6(bytes);
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function formatIpv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);

  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }

  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** Returns 4 bytes, or undefined when `text` is not a strict dotted quad (no leading zeros). */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    // Leading zeros are rejected because some parsers read them as octal.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out[i] = value;
  }
  return out;
}

/** Returns 16 bytes, or undefined when `text` is not an IPv6 address. */
function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;

  const doubleColon = text.indexOf('::');
  if (doubleColon >= 0 && text.indexOf('::', doubleColon + 1) >= 0) return undefined;
  const headText = doubleColon >= 0 ? text.slice(0, doubleColon) : text;
  const tailText = doubleColon >= 0 ? text.slice(doubleColon + 2) : '';
  const head = headText === '' ? [] : headText.split(':');
  const tail = tailText === '' ? [] : tailText.split(':');

  const groups: number[] = [];
  const parseGroups = (list: string[], allowIpv4Last: boolean): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const part = list[i]!;
      if (allowIpv4Last && i === list.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      out.push(Number.parseInt(part, 16));
    }
    return out;
  };

  // An embedded IPv4 part may only end the address, so it belongs to the tail when "::" is present.
  const headGroups = parseGroups(head, doubleColon < 0);
  const tailGroups = parseGroups(tail, true);
  if (!headGroups || !tailGroups) return undefined;

  if (doubleColon >= 0) {
    const missing = 8 - headGroups.length - tailGroups.length;
    if (missing < 1) return undefined;
    groups.push(...headGroups, ...new Array<number>(missing).fill(0), ...tailGroups);
  } else {
    if (headGroups.length !== 8) return undefined;
    groups.push(...headGroups);
  }

  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}
