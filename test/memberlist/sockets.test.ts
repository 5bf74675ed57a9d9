/**
 * serf-ts nodes on real UDP and TCP sockets on loopback: IPv4 and IPv6 clusters, joins by host
 * name, and an encrypted cluster.
 */

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { localDefaults, Memberlist } from '../../src/memberlist/index.js';
import { Keyring } from '../../src/security/keyring.js';
import { waitFor } from '../helpers/wait.js';

const nodes: Memberlist[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.shutdown()));
});

async function start(name: string, bindAddr: string, keyring?: Keyring): Promise<Memberlist> {
  const node = await Memberlist.create(
    { ...localDefaults(name), bindAddr, bindPort: 0 },
    keyring ? { keyring } : {},
  );
  nodes.push(node);
  return node;
}

async function converge(group: Memberlist[]): Promise<void> {
  await waitFor(
    () => group.every((n) => n.members().filter((m) => m.state === 'alive').length === group.length),
    {
      timeoutMs: 15_000,
      message: `${group.length} nodes see each other alive`,
    },
  );
}

describe('memberlist on loopback sockets', () => {
  it('IPv4 cluster joined by host name', async () => {
    const a = await start('v4-a', '127.0.0.1');
    const b = await start('v4-b', '127.0.0.1');
    const c = await start('v4-c', '127.0.0.1');
    // localhost may also resolve to ::1, where nothing listens: one contact is enough.
    assert.ok((await b.join([`localhost:${a.advertiseAddress.port}`])) >= 1);
    assert.equal(await c.join([`127.0.0.1:${b.advertiseAddress.port}`]), 1);
    await converge([a, b, c]);
    assert.equal(a.getNode('v4-c')?.addr, '127.0.0.1');
  });

  it('IPv6 cluster on ::1', async () => {
    const a = await start('v6-a', '::1');
    const b = await start('v6-b', '::1');
    assert.equal(await b.join([`[::1]:${a.advertiseAddress.port}`]), 1);
    await converge([a, b]);
    assert.equal(a.getNode('v6-b')?.addr, '::1');
  });

  it('encrypted cluster with a 16-byte key', async () => {
    const key = new Uint8Array(16).fill(0x42);
    const a = await start('enc-a', '127.0.0.1', new Keyring([key], key));
    const b = await start('enc-b', '127.0.0.1', new Keyring([key], key));
    assert.equal(await b.join([`127.0.0.1:${a.advertiseAddress.port}`]), 1);
    await converge([a, b]);
  });

  it('unknown host name fails with a resolve error', async () => {
    const a = await start('dns-a', '127.0.0.1');
    await assert.rejects(
      a.join(['no-such-host.invalid:7946']),
      /Failed to resolve no-such-host\.invalid:7946/,
    );
    await assert.rejects(a.join(['bad host!:7946']), /invalid host "bad host!"/);
  });
});
