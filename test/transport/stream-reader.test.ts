import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { StreamReader } from '../../src/transport/stream-reader.js';
import type { Stream } from '../../src/transport/types.js';
import { DecodeError, NetworkError } from '../../src/util/errors.js';

/** A stream that returns the given chunks in order, then EOF (or `failure`). */
function chunkStream(chunks: Uint8Array[], failure?: Error): Stream & { reads: number } {
  const queue = [...chunks];
  const stream = {
    remote: { host: '127.0.0.1', port: 1 },
    reads: 0,
    read(): Promise<Uint8Array | null> {
      stream.reads++;
      const next = queue.shift();
      if (next !== undefined) return Promise.resolve(next);
      if (failure !== undefined) return Promise.reject(failure);
      return Promise.resolve(null);
    },
    write: () => Promise.resolve(),
    close: () => {},
  };
  return stream;
}

function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, data.length]) {
    chunks.push(data.slice(last, p));
    last = p;
  }
  return chunks;
}

describe('StreamReader', () => {
  it('same bytes for any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.array(fc.nat(400), { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }),
        async (data, cuts, reads) => {
          const reader = new StreamReader(chunkStream(split(data, cuts)));
          const out: number[] = [];
          let i = 0;
          while (out.length < data.length) {
            const n = Math.min(Math.max(1, reads[i++ % reads.length]!), data.length - out.length);
            const bytes = await reader.readExactly(n);
            assert.equal(bytes.length, n);
            out.push(...bytes);
          }
          assert.deepEqual(Uint8Array.from(out), data);
          // Remaining chunks can only be empty ones; after them comes EOF.
          while (await reader.fill()) assert.equal(reader.length, 0);
          assert.equal(reader.ended, true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returned views stay valid after later reads', async () => {
    const reader = new StreamReader(
      chunkStream([Uint8Array.of(1, 2), Uint8Array.of(3, 4), Uint8Array.of(5, 6, 7)]),
    );
    const first = await reader.readExactly(3);
    const second = await reader.readExactly(3);
    const third = await reader.readExactly(1);
    assert.deepEqual(first, Uint8Array.of(1, 2, 3));
    assert.deepEqual(second, Uint8Array.of(4, 5, 6));
    assert.deepEqual(third, Uint8Array.of(7));
  });

  it('readByte and EOF error', async () => {
    const reader = new StreamReader(chunkStream([Uint8Array.of(9, 8)]));
    assert.equal(await reader.readByte(), 9);
    await assert.rejects(reader.readExactly(2), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.equal(err.message, 'unexpected end of stream: needed 2 bytes, got 1');
      return true;
    });
    assert.equal(await reader.readByte(), 8);
    await assert.rejects(reader.readByte(), DecodeError);
  });

  it('buffered and consume', async () => {
    const reader = new StreamReader(chunkStream([Uint8Array.of(1, 2, 3), Uint8Array.of(4)]));
    assert.equal(reader.buffered().length, 0);
    assert.equal(await reader.fill(), true);
    assert.deepEqual(reader.buffered(), Uint8Array.of(1, 2, 3));
    reader.consume(2);
    assert.deepEqual(reader.buffered(), Uint8Array.of(3));
    assert.equal(await reader.fill(), true);
    assert.deepEqual(reader.buffered(), Uint8Array.of(3, 4));
    assert.equal(reader.length, 2);
    assert.throws(() => reader.consume(3), RangeError);
    reader.consume(2);
    assert.equal(reader.length, 0);
    assert.equal(await reader.fill(), false);
    assert.equal(await reader.fill(), false);
  });

  it('zero-length read needs no data', async () => {
    const stream = chunkStream([]);
    const reader = new StreamReader(stream);
    assert.deepEqual(await reader.readExactly(0), new Uint8Array(0));
    assert.equal(stream.reads, 0);
  });

  it('cap on buffered bytes', async () => {
    const reader = new StreamReader(chunkStream([new Uint8Array(8), new Uint8Array(8)]), {
      maxBufferedBytes: 10,
    });
    await assert.rejects(reader.readExactly(11), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.equal(err.message, 'cannot read 11 bytes: exceeds the stream reader limit of 10 buffered bytes');
      return true;
    });
    await assert.rejects(reader.readExactly(10), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.equal(err.message, 'stream sent more than 10 unread bytes (8 buffered + 8 received)');
      return true;
    });
  });

  it('cap allows exactly the limit', async () => {
    const reader = new StreamReader(chunkStream([new Uint8Array(6), new Uint8Array(4).fill(1)]), {
      maxBufferedBytes: 10,
    });
    const all = await reader.readExactly(10);
    assert.deepEqual(all, Uint8Array.of(0, 0, 0, 0, 0, 0, 1, 1, 1, 1));
  });

  it('stream errors pass through', async () => {
    const failure = new NetworkError('connection reset');
    const reader = new StreamReader(chunkStream([Uint8Array.of(1)], failure));
    await assert.rejects(reader.readExactly(2), failure);
  });

  it('rejects a bad cap', () => {
    assert.throws(() => new StreamReader(chunkStream([]), { maxBufferedBytes: 0 }), RangeError);
  });
});
