/**
 * `serf agent -discover=CLUSTER`: finds peers with multicast DNS and makes this node findable, in
 * the way Go Serf 0.9.4 does it, so agents of both implementations discover each other.
 *
 * The service is `_serf_<cluster>._tcp.local`; this node's instance is `<node>.<service>` with an
 * SRV record (port = gossip port, target = host name), a TXT record `Serf '<cluster>' cluster` and
 * an A or AAAA record with the advertised address. Peers are browsed with a PTR query at start and
 * every 60 s. New `ip:port` pairs go to `onPeers` in one batch once no new one arrived for 100 ms.
 * Every address is reported once per MdnsDiscovery, whether or not the join succeeded.
 */

import { hostname, networkInterfaces } from 'node:os';
import makeMdns from 'multicast-dns';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/** Seconds a peer may cache our records, as in Go Serf's mDNS library. */
const RECORD_TTL_S = 120;
const SERVICE_ENUMERATION_NAME = '_services._dns-sd._udp.local';

/** A DNS record as multicast-dns (dns-packet) represents it, reduced to the fields used here. */
export interface MdnsRecord {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
}

export interface MdnsQuestion {
  name: string;
  type: string;
}

export interface MdnsPacket {
  questions?: MdnsQuestion[];
  answers?: MdnsRecord[];
  additionals?: MdnsRecord[];
}

/** The part of a multicast-dns instance that MdnsDiscovery uses, so tests can pass a fake. */
export interface MdnsTransport {
  on(event: 'query' | 'response', listener: (packet: MdnsPacket) => void): unknown;
  on(event: 'error' | 'warning', listener: (err: Error) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: matches EventEmitter's own listener type.
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  query(packet: { questions: MdnsQuestion[] }): void;
  respond(packet: { answers: MdnsRecord[] }): void;
  destroy(callback?: () => void): void;
}

export interface MdnsDiscoveryOptions {
  cluster: string;
  nodeName: string;
  /** Advertised IP address of this node. */
  host: string;
  /** Gossip port of this node. */
  port: number;
  /** Network interface name for multicast; default: the system's choice. */
  iface?: string;
  logger: Logger;
  /** Receives newly found peers as `ip:port` (`[ip]:port` for IPv6). */
  onPeers(addrs: string[]): void;
  /** mDNS socket to use instead of a new multicast-dns instance (tests pass a fake). */
  mdns?: MdnsTransport;
  /** Host name in the SRV target and address record. @default os.hostname() */
  hostName?: string;
  /** @default 60000 */
  pollIntervalMs?: number;
  /** @default 100 */
  quietIntervalMs?: number;
}

/** Returns the mDNS service name of a cluster. */
export function mdnsServiceName(cluster: string): string {
  return `_serf_${cluster}._tcp.local`;
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Returns the first IPv4 address of a network interface, which multicast-dns needs to select it. */
function interfaceAddress(name: string): string | undefined {
  const addresses = networkInterfaces()[name] ?? [];
  return addresses.find((address) => address.family === 'IPv4')?.address ?? addresses[0]?.address;
}

export class MdnsDiscovery {
  private readonly service: string;
  private readonly instance: string;
  private readonly hostName: string;
  private readonly logger: Logger;
  private mdns: MdnsTransport | undefined;
  private ownsMdns = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();
  private pending: string[] = [];
  /** SRV data and addresses learned from responses, kept because they may arrive in separate packets. */
  private readonly targets = new Map<string, { target: string; port: number }>();
  private readonly addresses = new Map<string, string>();

  private readonly onQuery = (packet: MdnsPacket) => this.answer(packet);
  private readonly onResponse = (packet: MdnsPacket) => this.learn(packet);
  private readonly onError = (err: Error) => this.logger.error(`mDNS socket error: ${errorMessage(err)}`);

  constructor(private readonly options: MdnsDiscoveryOptions) {
    this.service = mdnsServiceName(options.cluster);
    this.instance = `${options.nodeName}.${this.service}`;
    this.hostName = options.hostName ?? hostname();
    this.logger = options.logger.child({ component: 'agent.mdns' });
  }

  /** Opens the mDNS socket (unless one was injected), announces this node and starts browsing. */
  async start(): Promise<void> {
    if (this.mdns !== undefined) return;
    if (this.options.mdns !== undefined) {
      this.mdns = this.options.mdns;
    } else {
      const address = this.options.iface === undefined ? undefined : interfaceAddress(this.options.iface);
      this.mdns = makeMdns(address === undefined ? {} : { interface: address }) as unknown as MdnsTransport;
      this.ownsMdns = true;
    }
    this.mdns.on('query', this.onQuery);
    this.mdns.on('response', this.onResponse);
    this.mdns.on('error', this.onError);

    // An unsolicited announcement lets running peers learn about us before their next poll.
    this.send(() => this.mdns?.respond({ answers: this.serviceRecords() }));
    this.poll();
    const interval = this.options.pollIntervalMs ?? 60_000;
    this.pollTimer = setInterval(() => this.poll(), interval);
    this.pollTimer.unref();
  }

  /** Stops browsing and responding to queries, and closes the socket if this object opened it. */
  async stop(): Promise<void> {
    clearInterval(this.pollTimer);
    clearTimeout(this.quietTimer);
    this.pollTimer = undefined;
    this.quietTimer = undefined;
    const mdns = this.mdns;
    this.mdns = undefined;
    if (mdns === undefined) return;
    mdns.removeListener('query', this.onQuery);
    mdns.removeListener('response', this.onResponse);
    mdns.removeListener('error', this.onError);
    if (this.ownsMdns) await new Promise<void>((resolve) => mdns.destroy(() => resolve()));
  }

  private send(action: () => void): void {
    try {
      action();
    } catch (err) {
      this.logger.error(`Failed to send mDNS packet: ${errorMessage(err)}`);
    }
  }

  private poll(): void {
    this.send(() => this.mdns?.query({ questions: [{ name: this.service, type: 'PTR' }] }));
  }

  private addressRecord(): MdnsRecord {
    const type = this.options.host.includes(':') ? 'AAAA' : 'A';
    return { name: this.hostName, type, ttl: RECORD_TTL_S, data: this.options.host };
  }

  /** PTR of the service, then the SRV, TXT and address records of this instance. */
  private serviceRecords(): MdnsRecord[] {
    return [
      { name: this.service, type: 'PTR', ttl: RECORD_TTL_S, data: this.instance },
      ...this.instanceRecords(),
    ];
  }

  private instanceRecords(): MdnsRecord[] {
    return [
      {
        name: this.instance,
        type: 'SRV',
        ttl: RECORD_TTL_S,
        data: { priority: 10, weight: 1, port: this.options.port, target: this.hostName },
      },
      {
        name: this.instance,
        type: 'TXT',
        ttl: RECORD_TTL_S,
        data: [`Serf '${this.options.cluster}' cluster`],
      },
      this.addressRecord(),
    ];
  }

  /** Answers questions about our service, instance or host name; ignores everything else. */
  private answer(packet: MdnsPacket): void {
    const answers: MdnsRecord[] = [];
    for (const question of packet.questions ?? []) {
      const type = question.type;
      if (sameName(question.name, this.service) && (type === 'PTR' || type === 'ANY')) {
        answers.push(...this.serviceRecords());
      } else if (sameName(question.name, this.instance) && ['ANY', 'SRV', 'TXT'].includes(type)) {
        // An SRV answer carries the address record too, because the asker needs both to connect.
        const recordTypes =
          type === 'ANY' ? ['SRV', 'TXT', 'A', 'AAAA'] : type === 'SRV' ? ['SRV', 'A', 'AAAA'] : ['TXT'];
        answers.push(...this.instanceRecords().filter((record) => recordTypes.includes(record.type)));
      } else if (
        sameName(question.name, this.hostName) &&
        (type === 'A' || type === 'AAAA' || type === 'ANY')
      ) {
        const record = this.addressRecord();
        if (type === 'ANY' || record.type === type) answers.push(record);
      } else if (sameName(question.name, SERVICE_ENUMERATION_NAME) && (type === 'PTR' || type === 'ANY')) {
        answers.push({ name: SERVICE_ENUMERATION_NAME, type: 'PTR', ttl: RECORD_TTL_S, data: this.service });
      }
    }
    if (answers.length > 0) this.send(() => this.mdns?.respond({ answers }));
  }

  /** Records SRV and address data from a response and queues every newly complete peer. */
  private learn(packet: MdnsPacket): void {
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
    const instances = new Set<string>();
    for (const record of records) {
      const name = record.name.toLowerCase();
      if (record.type === 'PTR' && sameName(record.name, this.service) && typeof record.data === 'string') {
        instances.add(record.data.toLowerCase());
      } else if (record.type === 'SRV' && name.endsWith(`.${this.service.toLowerCase()}`)) {
        const data = record.data as { port?: number; target?: string } | undefined;
        if (typeof data?.port === 'number' && typeof data.target === 'string') {
          this.targets.set(name, { port: data.port, target: data.target.toLowerCase() });
          instances.add(name);
        }
      } else if ((record.type === 'A' || record.type === 'AAAA') && typeof record.data === 'string') {
        this.addresses.set(name, record.data);
      }
    }

    for (const instance of instances) {
      const srv = this.targets.get(instance);
      if (srv === undefined) continue;
      const address = this.addresses.get(srv.target) ?? this.addresses.get(instance);
      if (address === undefined) continue;
      this.found(joinHostPort(address, srv.port));
    }
  }

  private found(peer: string): void {
    if (peer === joinHostPort(this.options.host, this.options.port)) return;
    if (this.seen.has(peer) || this.pending.includes(peer)) return;
    this.pending.push(peer);
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.flush(), this.options.quietIntervalMs ?? 100);
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    for (const peer of batch) this.seen.add(peer);
    this.logger.debug(`Found ${batch.length} new peer(s): ${batch.join(', ')}`);
    try {
      this.options.onPeers(batch);
    } catch (err) {
      this.logger.error(`Failed to join peers found with mDNS: ${errorMessage(err)}`);
    }
  }
}
