/**
 * Output formatting for the `serf` subcommands, kept apart from fetching so it can be checked
 * byte for byte against output captured from the reference CLI (Serf 0.9.4).
 */

import type { CliCoordinate, CliMember, CliStreamRecord } from './client.js';
import { columnize, goJsonIndent, goQuote, JsonObject, type JsonValue } from './format.js';

/** Formats `ip:port` as Go's net.TCPAddr does: IPv6 in brackets, IPv4-mapped IPv6 as dotted IPv4. */
export function formatHostPort(ip: string, port: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] !== undefined) {
    return `${mapped[1]}:${port}`;
  }
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Text of `serf members`: one columnized row per member, tags as `k=v` joined with commas, and
 * with `detailed` the Serf protocol version and range. No members gives an empty string.
 */
export function formatMembersText(members: readonly CliMember[], detailed: boolean): string {
  const rows = members.map((member) => {
    const tags = Object.entries(member.tags)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    let row = `${member.name}|${formatHostPort(member.addr, member.port)}|${member.status}|${tags}`;
    if (detailed) {
      row += `|Protocol Version: ${member.delegateCur}|Available Protocol Range: [${member.delegateMin}, ${member.delegateMax}]`;
    }
    return row;
  });
  return columnize(rows).trim();
}

/** Formats `serf members -format=json`: fixed field order, sorted tag and protocol keys, `null` for no members. */
export function formatMembersJson(members: readonly CliMember[]): string {
  const list: JsonValue =
    members.length === 0
      ? null
      : members.map(
          (member) =>
            new JsonObject([
              ['name', member.name],
              ['addr', formatHostPort(member.addr, member.port)],
              ['port', member.port],
              ['tags', JsonObject.sortedMap(member.tags)],
              ['status', member.status],
              [
                'protocol',
                new JsonObject([
                  ['max', member.delegateMax],
                  ['min', member.delegateMin],
                  ['version', member.delegateCur],
                ]),
              ],
            ]),
        );
  return goJsonIndent(new JsonObject([['members', list]]));
}

/** Sorts by UTF-8 bytes, the order Go's sort.Strings gives. */
function sortedKeys(record: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(record).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Formats `serf info` text: sections and keys sorted, each entry as `\t<key> = <value>`. */
export function formatStatsText(stats: Readonly<Record<string, Record<string, string>>>): string {
  let text = '';
  for (const section of sortedKeys(stats)) {
    text += `${section}:\n`;
    const values = stats[section] ?? {};
    for (const key of sortedKeys(values)) {
      text += `\t${key} = ${values[key]}\n`;
    }
  }
  return text.trim();
}

export function formatStatsJson(stats: Readonly<Record<string, Record<string, string>>>): string {
  const sections: Record<string, JsonValue> = {};
  for (const [section, values] of Object.entries(stats)) {
    sections[section] = JsonObject.sortedMap(values);
  }
  return goJsonIndent(JsonObject.sortedMap(sections));
}

/** Formats rows of `failed:  <node>  <message>` for a key operation that failed on some nodes. */
export function formatKeyFailures(messages: Readonly<Record<string, string>>): string {
  return columnize(Object.entries(messages).map(([node, message]) => `failed: | ${node} | ${message}`));
}

/** Formats rows of `<key>  [<count>/<total>]` for `serf keys -list`. */
export function formatKeyList(keys: Readonly<Record<string, number>>, total: number): string {
  return columnize(Object.entries(keys).map(([key, count]) => `${key} | [${count}/${total}]`));
}

/** Formats the JSON of `serf query -format=json`: `Acks` (null when none), then `Responses` sorted by node. */
export function formatQueryJson(acks: readonly string[], responses: ReadonlyMap<string, Uint8Array>): string {
  const decoded = new Map<string, JsonValue>();
  for (const [from, payload] of responses) {
    // NOTE: invalid UTF-8 becomes U+FFFD per WHATWG rules, which can differ from Go's per-byte replacement.
    decoded.set(from, Buffer.from(payload).toString('utf8'));
  }
  return goJsonIndent(
    new JsonObject([
      ['Acks', acks.length === 0 ? null : [...acks]],
      ['Responses', JsonObject.sortedMap(decoded)],
    ]),
  );
}

/**
 * Computes the estimated round trip time between two Vivaldi coordinates in seconds: Euclidean
 * distance plus both heights, plus both adjustments when that sum stays positive. The result is
 * truncated to whole nanoseconds, as Go's time.Duration conversion does.
 */
export function coordinateDistanceSeconds(a: CliCoordinate, b: CliCoordinate): number {
  if (a.vec.length !== b.vec.length) {
    throw new RangeError(`coordinate dimensions differ: ${a.vec.length} and ${b.vec.length}`);
  }
  let sumSquares = 0;
  a.vec.forEach((value, i) => {
    const diff = value - (b.vec[i] as number);
    sumSquares += diff * diff;
  });
  const raw = Math.sqrt(sumSquares) + a.height + b.height;
  const adjusted = raw + a.adjustment + b.adjustment;
  const seconds = adjusted > 0 ? adjusted : raw;
  return Math.trunc(seconds * 1e9) / 1e9;
}

/** Formats the `serf rtt` line, e.g. `Estimated a <-> b rtt: 0.656 ms`. */
export function formatRtt(nodeA: string, nodeB: string, seconds: number): string {
  return `Estimated ${nodeA} <-> ${nodeB} rtt: ${(seconds * 1000).toFixed(3)} ms`;
}

/** Formats a byte slice as Go `%#v` does: `[]byte{0x77, 0x0}`, or `<nil>` for a missing payload. */
function goBytes(bytes: Uint8Array | null, typeName = 'byte'): string {
  if (bytes === null) return '<nil>';
  return `[]${typeName}{${Array.from(bytes, (b) => `0x${b.toString(16)}`).join(', ')}}`;
}

/**
 * Go `%#v` of an integer decoded from msgpack into an interface: the reference decodes positive
 * fixints (0..127) as int64 (printed in decimal) and wider unsigned encodings as uint64 (printed
 * as hex).
 */
function goDecodedInt(value: number): string {
  if (value <= 127) {
    return String(value);
  }
  return `0x${value.toString(16)}`;
}

/** Packs a textual IP into the bytes the agent sends: 4 for IPv4, 16 for IPv6. */
function ipBytes(ip: string): Uint8Array {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    return Uint8Array.from(ip.split('.').map(Number));
  }
  const bytes = new Uint8Array(16);
  const [head = '', tail = ''] = ip.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = ip.includes('::') && tail !== '' ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
    : headGroups;
  groups.slice(0, 8).forEach((group, i) => {
    const value = Number.parseInt(group, 16) || 0;
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** Formats one member of a member event as Go `%#v` prints the decoded map, keys sorted. */
function goMember(member: CliMember): string {
  const tags = sortedKeys(member.tags)
    .map((key) => `${goQuote(key)}:${goQuote(member.tags[key] as string)}`)
    .join(', ');
  const fields: Array<[string, string]> = [
    ['Addr', goBytes(ipBytes(member.addr), 'uint8')],
    ['DelegateCur', goDecodedInt(member.delegateCur)],
    ['DelegateMax', goDecodedInt(member.delegateMax)],
    ['DelegateMin', goDecodedInt(member.delegateMin)],
    ['Name', goQuote(member.name)],
    ['Port', goDecodedInt(member.port)],
    ['ProtocolCur', goDecodedInt(member.protocolCur)],
    ['ProtocolMax', goDecodedInt(member.protocolMax)],
    ['ProtocolMin', goDecodedInt(member.protocolMin)],
    ['Status', goQuote(member.status)],
    ['Tags', `map[interface {}]interface {}{${tags}}`],
  ];
  return `map[interface {}]interface {}{${fields.map(([key, value]) => `${goQuote(key)}:${value}`).join(', ')}}`;
}

/**
 * Lines printed by `serf monitor` for one event record: `Event Info:` then `\t<Key>: <value>` in
 * Go `%#v` notation. The reference prints the keys in Go's random map order; this uses a fixed one.
 */
export function formatStreamRecord(record: CliStreamRecord): string[] {
  const fields: Array<[string, string]> = [['Event', goQuote(record.event)]];
  if (record.event === 'user') {
    fields.push(
      ['LTime', goDecodedInt(record.ltime)],
      ['Name', goQuote(record.name)],
      ['Payload', goBytes(record.payload)],
      ['Coalesce', String(record.coalesce)],
    );
  } else if (record.event === 'query') {
    fields.push(
      ['ID', goDecodedInt(record.id)],
      ['LTime', goDecodedInt(record.ltime)],
      ['Name', goQuote(record.name)],
      ['Payload', goBytes(record.payload)],
    );
  } else {
    fields.push(['Members', `[]interface {}{${record.members.map(goMember).join(', ')}}`]);
  }
  return ['Event Info:', ...fields.map(([key, value]) => `\t${key}: ${value}`)];
}
