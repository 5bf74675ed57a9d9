/**
 * A bare serf-ts memberlist node in a cluster of reference Go Serf agents, plain and encrypted:
 * the Go side must list it alive, detect its failure and its leave, and the serf-ts side must
 * detect a Go agent's failure.
 *
 * The Serf layer is not used here. A small delegate supplies what a Go Serf peer expects from
 * memberlist's delegate hooks: empty tags in the node metadata (`ff 80`), Serf protocol versions in
 * the version vector, and a Serf leave intent before the graceful leave (Go Serf reports a node
 * as "left" only after that intent, otherwise as "failed").
 */

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { encodeGossip } from '../../src/codec/msgpack.js';
import type { Delegate } from '../../src/memberlist/delegate.js';
import { localDefaults, Memberlist } from '../../src/memberlist/index.js';
import { decodeKey, Keyring } from '../../src/security/keyring.js';
import { freePort } from '../helpers/ports.js';
import { cleanupAgents, ReferenceAgent, runReferenceCli } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

const nodes: Memberlist[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.shutdown()));
  await cleanupAgents();
});

/** Minimal Serf-shaped delegate: empty tags and an optional queued leave intent. */
class BareSerfDelegate implements Delegate {
  readonly pending: Uint8Array[] = [];
  nodeMeta(): Uint8Array {
    return Uint8Array.of(0xff, 0x80);
  }
  notifyMsg(): void {}
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let used = 0;
    for (const m of this.pending) {
      if (used + m.length + overhead > limit) break;
      used += m.length + overhead;
      out.push(m);
    }
    return out;
  }
  localState(): Uint8Array {
    return new Uint8Array(0);
  }
  mergeRemoteState(): void {}
  queueLeaveIntent(name: string): void {
    const body = encodeGossip({ LTime: 1, Node: name, Prune: false });
    this.pending.push(Uint8Array.from([0x00, ...body]));
  }
}

async function startNode(
  name: string,
  keyB64?: string,
): Promise<{ node: Memberlist; delegate: BareSerfDelegate }> {
  const delegate = new BareSerfDelegate();
  const keyring = keyB64 ? new Keyring([decodeKey(keyB64)], decodeKey(keyB64)) : undefined;
  const port = await freePort('127.0.0.1');
  const node = await Memberlist.create(
    {
      ...localDefaults(name),
      bindAddr: '127.0.0.1',
      bindPort: port,
      delegateProtocolMin: 2,
      delegateProtocolMax: 5,
      delegateProtocolVersion: 5,
    },
    { delegates: { delegate }, keyring },
  );
  nodes.push(node);
  return { node, delegate };
}

for (const encrypted of [false, true]) {
  describe(`memberlist interop with reference agents (${encrypted ? 'encrypted' : 'plain'})`, () => {
    it('joins, detects failures both ways, leaves as left', async () => {
      let key: string | undefined;
      if (encrypted) {
        const gen = await runReferenceCli(['keygen']);
        key = gen.stdout.trim();
      }
      const refA = await ReferenceAgent.start({ name: 'ref-a', encryptKey: key });
      const refB = await ReferenceAgent.start({ name: 'ref-b', encryptKey: key, join: [refA.gossipAddr] });
      await refA.waitForMember('ref-b', 'alive');

      const ts1 = await startNode('ts-1', key);
      const ts2 = await startNode('ts-2', key);
      assert.equal(await ts1.node.join([refA.gossipAddr]), 1);
      assert.equal(await ts2.node.join([refB.gossipAddr]), 1);

      await refA.waitForMember('ts-1', 'alive');
      await refB.waitForMember('ts-1', 'alive');
      await refA.waitForMember('ts-2', 'alive');
      const entry = (await refA.members()).find((m) => m.name === 'ts-1');
      assert.ok(entry);
      assert.equal(entry.addr, `127.0.0.1:${ts1.node.advertiseAddress.port}`);
      assert.deepEqual(entry.tags, {});
      await waitFor(() => ts1.node.members().length === 4, {
        timeoutMs: 30_000,
        message: 'ts-1 sees 4 members',
      });

      // A Go agent crashes: the serf-ts nodes must declare it dead.
      await refB.kill();
      await waitFor(() => ts1.node.getNode('ref-b')?.state === 'dead', {
        timeoutMs: 30_000,
        message: 'ts-1 marks ref-b dead',
      });

      // A serf-ts node stops without leaving: the Go agent must report it failed.
      await ts1.node.shutdown();
      await refA.waitForMember('ts-1', 'failed', 30_000);

      // A serf-ts node leaves gracefully: the Go agent must report it left.
      ts2.delegate.queueLeaveIntent('ts-2');
      await ts2.node.leave(5_000);
      await refA.waitForMember('ts-2', 'left', 20_000);
      await ts2.node.shutdown();

      // Errors the Go agent logs about traffic it could not read would point at a wire mismatch.
      const wireErrors = refA.output.filter((l) =>
        /\[ERR\] memberlist: (Decrypt|Failed to decode|msg type)/.test(l),
      );
      assert.deepEqual(wireErrors, [], 'the Go agent logged no decrypt or decode errors');
    });
  });
}
