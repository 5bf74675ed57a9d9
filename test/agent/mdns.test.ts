import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
// dns-packet is the encoder multicast-dns uses; encoding our records with it shows a real socket could send them.
import dnsPacket from 'dns-packet';
import { MdnsDiscovery, type MdnsPacket, type MdnsRecord, mdnsServiceName } from '../../src/agent/mdns.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';

/** Stands in for a multicast-dns socket: records what is sent and lets tests inject packets. */
class FakeMdns extends EventEmitter {
  readonly queries: MdnsPacket[] = [];
  readonly responses: MdnsPacket[] = [];
  destroyed = false;
  /** Where sent packets go, to connect two fakes like a shared network. */
  peer: FakeMdns | undefined;

  query(packet: MdnsPacket): void {
    this.queries.push(packet);
    this.peer?.emit('query', packet);
  }

  respond(packet: MdnsPacket): void {
    this.responses.push(packet);
    this.peer?.emit('response', packet);
  }

  destroy(callback?: () => void): void {
    this.destroyed = true;
    callback?.();
  }
}

function discovery(fake: FakeMdns, overrides: Partial<ConstructorParameters<typeof MdnsDiscovery>[0]> = {}) {
  const batches: string[][] = [];
  const mdns = new MdnsDiscovery({
    cluster: 'prod',
    nodeName: 'node-a',
    host: '10.0.0.1',
    port: 7946,
    hostName: 'host-a',
    logger: silentLogger,
    onPeers: (addrs) => batches.push(addrs),
    mdns: fake,
    quietIntervalMs: 20,
    ...overrides,
  });
  return { mdns, batches };
}

function peerRecords(node: string, host: string, ip: string, port: number): MdnsRecord[] {
  const service = mdnsServiceName('prod');
  return [
    { name: service, type: 'PTR', data: `${node}.${service}` },
    { name: `${node}.${service}`, type: 'SRV', data: { priority: 10, weight: 1, port, target: host } },
    { name: `${node}.${service}`, type: 'TXT', data: ["Serf 'prod' cluster"] },
    { name: host, type: ip.includes(':') ? 'AAAA' : 'A', data: ip },
  ];
}

describe('MdnsDiscovery', () => {
  it('names the service like Go Serf', () => {
    assert.equal(mdnsServiceName('prod'), '_serf_prod._tcp.local');
  });

  it('announces and browses at start', async () => {
    const fake = new FakeMdns();
    const { mdns } = discovery(fake);
    await mdns.start();
    assert.deepEqual(fake.queries, [{ questions: [{ name: '_serf_prod._tcp.local', type: 'PTR' }] }]);
    assert.equal(fake.responses.length, 1);
    await mdns.stop();
  });

  it('answers a query for the service', async () => {
    const fake = new FakeMdns();
    const { mdns } = discovery(fake);
    await mdns.start();
    fake.responses.length = 0;

    fake.emit('query', { questions: [{ name: '_serf_prod._tcp.local', type: 'PTR' }] });
    assert.equal(fake.responses.length, 1);
    const answers = fake.responses[0]?.answers ?? [];
    assert.deepEqual(
      answers.map((r) => [r.name, r.type, r.data]),
      [
        ['_serf_prod._tcp.local', 'PTR', 'node-a._serf_prod._tcp.local'],
        ['node-a._serf_prod._tcp.local', 'SRV', { priority: 10, weight: 1, port: 7946, target: 'host-a' }],
        ['node-a._serf_prod._tcp.local', 'TXT', ["Serf 'prod' cluster"]],
        ['host-a', 'A', '10.0.0.1'],
      ],
    );
    assert.ok(answers.every((r) => r.ttl === 120));

    const encoded = dnsPacket.encode({ type: 'response', answers: answers as dnsPacket.Answer[] });
    const decoded = dnsPacket.decode(encoded);
    assert.equal(decoded.answers?.length, 4);
    await mdns.stop();
  });

  it('answers instance and host questions and ignores others', async () => {
    const fake = new FakeMdns();
    const { mdns } = discovery(fake, { host: 'fe80::1' });
    await mdns.start();
    fake.responses.length = 0;

    fake.emit('query', { questions: [{ name: 'node-a._serf_prod._tcp.local', type: 'SRV' }] });
    assert.deepEqual(
      fake.responses[0]?.answers?.map((r) => r.type),
      ['SRV', 'AAAA'],
    );
    fake.emit('query', { questions: [{ name: 'HOST-A', type: 'AAAA' }] });
    assert.deepEqual(fake.responses[1]?.answers, [
      { name: 'host-a', type: 'AAAA', ttl: 120, data: 'fe80::1' },
    ]);
    fake.emit('query', { questions: [{ name: '_services._dns-sd._udp.local', type: 'PTR' }] });
    assert.equal(fake.responses[2]?.answers?.[0]?.data, '_serf_prod._tcp.local');

    fake.emit('query', { questions: [{ name: '_serf_other._tcp.local', type: 'PTR' }] });
    fake.emit('query', { questions: [{ name: 'host-a', type: 'A' }] });
    assert.equal(fake.responses.length, 3);
    await mdns.stop();
  });

  it('reports peers in one batch after a quiet period', async () => {
    const fake = new FakeMdns();
    const { mdns, batches } = discovery(fake);
    await mdns.start();

    fake.emit('response', { answers: peerRecords('node-b', 'host-b', '10.0.0.2', 7946) });
    fake.emit('response', {
      answers: peerRecords('node-c', 'host-c', '10.0.0.3', 8000).slice(0, 1),
      additionals: peerRecords('node-c', 'host-c', '10.0.0.3', 8000).slice(1),
    });
    fake.emit('response', { answers: peerRecords('node-d', 'host-d', 'fd00::4', 7946) });
    await waitFor(() => batches.length === 1, { timeoutMs: 2000, message: 'peer batch' });
    assert.deepEqual(batches[0], ['10.0.0.2:7946', '10.0.0.3:8000', '[fd00::4]:7946']);

    // Known peers and this node itself are not reported again.
    fake.emit('response', { answers: peerRecords('node-b', 'host-b', '10.0.0.2', 7946) });
    fake.emit('response', { answers: peerRecords('node-a', 'host-a', '10.0.0.1', 7946) });
    fake.emit('response', { answers: peerRecords('node-e', 'host-e', '10.0.0.5', 7946) });
    await waitFor(() => batches.length === 2, { timeoutMs: 2000, message: 'second batch' });
    assert.deepEqual(batches[1], ['10.0.0.5:7946']);
    await mdns.stop();
  });

  it('combines records from separate packets', async () => {
    const fake = new FakeMdns();
    const { mdns, batches } = discovery(fake);
    await mdns.start();
    const records = peerRecords('node-b', 'host-b', '10.0.0.2', 7946);
    fake.emit('response', { answers: [records[3]] });
    fake.emit('response', { answers: [records[1]] });
    await waitFor(() => batches.length === 1, { timeoutMs: 2000, message: 'peer batch' });
    assert.deepEqual(batches[0], ['10.0.0.2:7946']);
    await mdns.stop();
  });

  it('ignores other clusters', async () => {
    const fake = new FakeMdns();
    const { mdns, batches } = discovery(fake, { quietIntervalMs: 1 });
    await mdns.start();
    fake.emit('response', {
      answers: [
        { name: '_serf_other._tcp.local', type: 'PTR', data: 'x._serf_other._tcp.local' },
        { name: 'x._serf_other._tcp.local', type: 'SRV', data: { port: 1, target: 'hx' } },
        { name: 'hx', type: 'A', data: '10.9.9.9' },
      ],
    });
    await mdns.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(batches, []);
  });

  it('polls again after the interval', async () => {
    const fake = new FakeMdns();
    const { mdns } = discovery(fake, { pollIntervalMs: 20 });
    await mdns.start();
    await waitFor(() => fake.queries.length >= 3, {
      timeoutMs: 2000,
      intervalMs: 10,
      message: 'repeated polls',
    });
    await mdns.stop();
    const count = fake.queries.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(fake.queries.length, count, 'no polls after stop');
  });

  it('detaches from an injected socket without closing it', async () => {
    const fake = new FakeMdns();
    const { mdns } = discovery(fake);
    await mdns.start();
    assert.equal(fake.listenerCount('query'), 1);
    await mdns.stop();
    assert.equal(fake.listenerCount('query'), 0);
    assert.equal(fake.listenerCount('response'), 0);
    assert.equal(fake.destroyed, false);
  });

  it('lets two nodes find each other', async () => {
    const fakeA = new FakeMdns();
    const fakeB = new FakeMdns();
    fakeA.peer = fakeB;
    fakeB.peer = fakeA;
    const a = discovery(fakeA);
    const b = discovery(fakeB, { nodeName: 'node-b', host: '10.0.0.2', hostName: 'host-b', port: 7000 });
    await a.mdns.start();
    await b.mdns.start();
    await waitFor(() => a.batches.length === 1 && b.batches.length === 1, {
      timeoutMs: 2000,
      message: 'mutual discovery',
    });
    assert.deepEqual(a.batches[0], ['10.0.0.2:7000']);
    assert.deepEqual(b.batches[0], ['10.0.0.1:7946']);
    await a.mdns.stop();
    await b.mdns.stop();
  });
});
