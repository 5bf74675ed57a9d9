/**
 * Time seam for the protocol layers. Every timer in memberlist and serf goes through a `Clock`,
 * so tests can drive hours of protocol time in milliseconds with `ManualClock`.
 *
 * All times are in milliseconds.
 */

export interface TimerHandle {
  /** Stops the timer. Safe to call more than once and after it fired. */
  cancel(): void;
}

export interface Clock {
  /** Current time in ms. Only differences matter, the epoch is the implementation's. */
  now(): number;
  /** Runs `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Runs `fn` after the packets and stream data that have already arrived are handled.
 *
 * Node runs due timers before it polls sockets, so after a stall (a busy CPU, a long GC) a
 * deadline timer would fire before an ack or response that arrived in time is read. Deadlines that
 * decide about other nodes (probe acks, query replies) wrap their expiry in this.
 */
export function afterPendingIo(fn: () => void): void {
  setImmediate(fn);
}

/** Wall-clock timers backed by Node's event loop. Timers are unref'd so they never keep a process alive. */
export class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, clampDelay(ms, 0));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, clampDelay(ms, 1));
    t.unref();
    return { cancel: () => clearInterval(t) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }
}

/** Node's timers take at most 2^31 − 1 ms (about 24.8 days); longer delays would fire at once. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

function clampDelay(ms: number, min: number): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_DELAY_MS;
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(min, ms));
}

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
  every: number | undefined;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires every due timer in time order,
 * letting promise callbacks settle between timers so async protocol code sees a realistic order.
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: ManualTimer[] = [];
  #nextId = 1;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, Math.max(0, ms), undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, Math.max(1, ms), Math.max(1, ms));
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order and settling microtasks after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#nextDue(target);
      if (next === undefined) break;
      this.#now = next.at;
      if (next.every !== undefined) {
        next.at += next.every;
      } else {
        next.cancelled = true;
      }
      next.fn();
      await settle();
    }
    this.#now = target;
    this.#timers = this.#timers.filter((t) => !t.cancelled);
  }

  #nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.cancelled || t.at > limit) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }

  #add(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const timer: ManualTimer = { id: this.#nextId++, at: this.#now + ms, fn, every, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
}

/** Lets queued promise callbacks (and the microtasks they queue) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      handle.cancel();
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
