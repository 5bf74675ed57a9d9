/**
 * Compliance tests every `Transport` implementation must pass. A test file calls
 * `transportSuite(name, factory)` once per implementation and address family.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { StreamReader } from '../../src/transport/stream-reader.js';
import type { Address, Stream, Transport } from '../../src/transport/types.js';
import { NetworkError, NotRunningError, TimeoutError } from '../../src/util/errors.js';
import { waitFor } from '../helpers/wait.js';

export interface TransportFactory {
  /** Creates an unstarted transport bound to `port` (0 = pick one) on the suite's host. */
  create(port: number): Transport;
}

interface Received {
  packet: Uint8Array;
  from: Address;
  receivedAt: number;
}

/** A started transport plus everything it received. */
export interface Peer {
  transport: Transport;
  packets: Received[];
  streams: Stream[];
}

const waitOptions = { timeoutMs: 5000, intervalMs: 5 };

export function transportSuite(name: string, factory: TransportFactory): void {
  describe(`${name} transport compliance`, () => {
    const open: Transport[] = [];

    afterEach(async () => {
      await Promise.all(open.splice(0).map((t) => t.close()));
    });

    /** Starts a transport that records packets and, with `echo`, echoes every stream until EOF. */
    async function startPeer(port = 0, echo = false): Promise<Peer> {
      const transport = factory.create(port);
      open.push(transport);
      const peer: Peer = { transport, packets: [], streams: [] };
      await transport.start(
        (packet, from, receivedAt) => peer.packets.push({ packet, from, receivedAt }),
        (stream) => {
          peer.streams.push(stream);
          if (echo) void echoUntilEof(stream);
        },
      );
      return peer;
    }

    it('port 0 binds a real port', async () => {
      const a = await startPeer();
      assert.notEqual(a.transport.boundAddress.port, 0);
      assert.ok(a.transport.boundAddress.port > 0);
      assert.ok(a.transport.boundAddress.port < 65536);
    });

    it('packet round trip with sender address', async () => {
      const a = await startPeer();
      const b = await startPeer();
      const payload = Uint8Array.from([1, 2, 3, 250, 0, 7]);
      await a.transport.sendPacket(b.transport.boundAddress, payload);

      const got = await waitFor(() => b.packets[0], { ...waitOptions, message: 'packet not received' });
      assert.deepEqual(got.packet, payload);
      assert.deepEqual(got.from, a.transport.boundAddress);
      assert.equal(typeof got.receivedAt, 'number');

      await b.transport.sendPacket(got.from, Uint8Array.of(9));
      const reply = await waitFor(() => a.packets[0], { ...waitOptions, message: 'reply not received' });
      assert.deepEqual(reply.packet, Uint8Array.of(9));
      assert.deepEqual(reply.from, b.transport.boundAddress);
    });

    it('packets and streams share the port', async () => {
      const b = await startPeer(0, true);
      const a = await startPeer();
      const to = b.transport.boundAddress;
      await a.transport.sendPacket(to, Uint8Array.of(1));
      await waitFor(() => b.packets.length === 1, { ...waitOptions, message: 'packet not received' });
      const stream = await a.transport.dial(to, 5000);
      await stream.write(Uint8Array.of(2));
      assert.deepEqual(await new StreamReader(stream).readExactly(1), Uint8Array.of(2));
      stream.close();
    });

    it('stream echo both ways', async () => {
      const a = await startPeer(0, true);
      const b = await startPeer(0, true);
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const stream = await from.transport.dial(to.transport.boundAddress, 5000);
        assert.deepEqual(stream.remote, to.transport.boundAddress);
        const reader = new StreamReader(stream);
        const message = new TextEncoder().encode(`hello from ${from.transport.boundAddress.port}`);
        await stream.write(message);
        assert.deepEqual(await reader.readExactly(message.length), message);
        await stream.write(Uint8Array.of(42));
        assert.equal(await reader.readByte(), 42);
        stream.close();
      }
      assert.equal(a.streams.length, 1);
      assert.equal(b.streams.length, 1);
    });

    it('accepted stream reports the dialer host', async () => {
      const a = await startPeer();
      const b = await startPeer();
      const stream = await a.transport.dial(b.transport.boundAddress, 5000);
      const accepted = await waitFor(() => b.streams[0], { ...waitOptions, message: 'stream not accepted' });
      assert.equal(accepted.remote.host, a.transport.boundAddress.host);
      assert.ok(accepted.remote.port > 0);
      stream.close();
    });

    it('one megabyte through a stream intact', async () => {
      const a = await startPeer();
      const b = await startPeer(0, true);
      const data = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
      const stream = await a.transport.dial(b.transport.boundAddress, 5000);
      const reader = new StreamReader(stream);
      const [echoed] = await Promise.all([reader.readExactly(data.length), stream.write(data)]);
      assert.ok(Buffer.from(echoed).equals(Buffer.from(data)), 'echoed bytes differ');
      stream.close();
    });

    it('close gives the peer EOF', async () => {
      const a = await startPeer();
      const b = await startPeer();
      const stream = await a.transport.dial(b.transport.boundAddress, 5000);
      await stream.write(Uint8Array.of(5, 6));
      stream.close();

      const accepted = await waitFor(() => b.streams[0], { ...waitOptions, message: 'stream not accepted' });
      const reader = new StreamReader(accepted);
      assert.deepEqual(await reader.readExactly(2), Uint8Array.of(5, 6));
      assert.equal(await reader.fill(), false);
      assert.equal(await accepted.read(), null);
      accepted.close();
    });

    it('accepting side close gives the dialer EOF', async () => {
      const a = await startPeer();
      const b = await startPeer();
      const stream = await a.transport.dial(b.transport.boundAddress, 5000);
      const accepted = await waitFor(() => b.streams[0], { ...waitOptions, message: 'stream not accepted' });
      await accepted.write(Uint8Array.of(8));
      accepted.close();
      const reader = new StreamReader(stream);
      assert.equal(await reader.readByte(), 8);
      assert.equal(await stream.read(), null);
      stream.close();
    });

    it('read and write after close reject', async () => {
      const a = await startPeer();
      const b = await startPeer();
      const stream = await a.transport.dial(b.transport.boundAddress, 5000);
      const pending = stream.read();
      stream.close();
      stream.close();
      await assert.rejects(pending, NetworkError);
      await assert.rejects(stream.read(), NetworkError);
      await assert.rejects(stream.write(Uint8Array.of(1)), NetworkError);
    });

    it('dial to a closed port fails', async () => {
      const a = await startPeer();
      const closed = await startPeer();
      const address = closed.transport.boundAddress;
      await closed.transport.close();
      await assert.rejects(a.transport.dial(address, 2000), (err: unknown) => {
        assert.ok(err instanceof NetworkError || err instanceof TimeoutError, `unexpected ${String(err)}`);
        assert.ok((err as Error).message.includes(String(address.port)), (err as Error).message);
        return true;
      });
    });

    it('close is idempotent and releases the port', async () => {
      const a = await startPeer();
      const port = a.transport.boundAddress.port;
      const first = a.transport.close();
      const second = a.transport.close();
      await Promise.all([first, second]);
      await a.transport.close();

      await assert.rejects(
        a.transport.sendPacket({ ...a.transport.boundAddress }, Uint8Array.of(1)),
        NotRunningError,
      );
      await assert.rejects(a.transport.dial(a.transport.boundAddress, 1000), NotRunningError);

      const again = await startPeer(port);
      assert.equal(again.transport.boundAddress.port, port);
    });

    it('close ends open streams', async () => {
      const a = await startPeer();
      const b = await startPeer();
      const stream = await a.transport.dial(b.transport.boundAddress, 5000);
      const accepted = await waitFor(() => b.streams[0], { ...waitOptions, message: 'stream not accepted' });
      const pendingRead = stream.read();
      await a.transport.close();
      await assert.rejects(pendingRead, NetworkError);
      // The accepting side reads the end of the connection as EOF or as a reset.
      const outcome = await accepted.read().then(
        (chunk) => chunk,
        (err: unknown) => err,
      );
      assert.ok(outcome === null || outcome instanceof NetworkError, `unexpected ${String(outcome)}`);
    });

    it('binding a port in use fails', async () => {
      const a = await startPeer();
      const clash = factory.create(a.transport.boundAddress.port);
      open.push(clash);
      await assert.rejects(
        clash.start(
          () => {},
          () => {},
        ),
        NetworkError,
      );
    });
  });
}

async function echoUntilEof(stream: Stream): Promise<void> {
  try {
    for (;;) {
      const chunk = await stream.read();
      if (chunk === null) break;
      await stream.write(chunk);
    }
  } catch {
    // The dialer closed or reset the connection; nothing left to echo.
  } finally {
    stream.close();
  }
}
