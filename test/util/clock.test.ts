import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { afterPendingIo, ManualClock, SystemClock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';

function blockFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy wait: simulates a stalled event loop.
  }
}

describe('clocks', () => {
  it('manual clock fires due timers in order', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const every = clock.setInterval(() => fired.push('i'), 15);
    await clock.advance(30);
    every.cancel();
    await clock.advance(100);
    assert.deepEqual(fired, ['a', 'i', 'b', 'i']);
  });

  it('deadline after a stall still sees packets that arrived in time', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const order: string[] = [];
    socket.on('message', () => order.push('packet'));
    const clock = new SystemClock();
    clock.setTimeout(() => afterPendingIo(() => order.push('deadline')), 20);
    const sender = createSocket('udp4');
    await new Promise<void>((resolve) =>
      sender.send('ack', socket.address().port, '127.0.0.1', () => resolve()),
    );
    // Both the packet and the timer are due when the loop wakes up from this stall.
    blockFor(60);
    await waitFor(() => order.length === 2, {
      timeoutMs: 5_000,
      message: 'packet and deadline both handled',
    });
    sender.close();
    socket.close();
    assert.deepEqual(order, ['packet', 'deadline']);
  });

  it('system clock clamps delays beyond the 32-bit limit', async () => {
    const clock = new SystemClock();
    let fired = false;
    // Unclamped, Node turns a delay above 2^31 - 1 ms into 1 ms.
    const timer = clock.setTimeout(() => {
      fired = true;
    }, 3e12);
    // A plain (ref'd) timer keeps the process alive; SystemClock timers are unref'd on purpose.
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    timer.cancel();
    assert.equal(fired, false);
  });
});
