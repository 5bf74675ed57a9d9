/**
 * Polling helper for tests. Tests wait for an observable condition through `waitFor` instead of
 * sleeping for a fixed time.
 */

export interface WaitForOptions {
  /** Deadline for the whole wait, in ms. */
  timeoutMs: number;
  /** Pause between two probes, in ms. @default 100 */
  intervalMs?: number;
  /** Start of the error message when the deadline passes. */
  message: string;
}

const noResult = Symbol('no result');

/**
 * Calls `probe` until it returns (or resolves to) a truthy value and returns that value.
 *
 * A probe that throws counts as "not yet". When the deadline passes, the returned promise rejects
 * with an Error whose message is `options.message` followed by the last value or error the probe
 * produced. The last error is also attached as `cause`. A probe still running at the deadline is
 * abandoned (its result is ignored), so a hung probe cannot stretch the wait.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<NonNullable<T>> {
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + options.timeoutMs;
  let lastValue: unknown = noResult;
  let lastError: unknown;
  let probes = 0;

  for (;;) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      break;
    }

    probes += 1;
    try {
      const value = await withDeadline(Promise.resolve().then(probe), remainingMs);
      if (value !== timedOut) {
        if (value) {
          return value as NonNullable<T>;
        }
        lastValue = value;
        lastError = undefined;
      }
    } catch (error) {
      lastError = error;
      lastValue = noResult;
    }

    const pauseMs = Math.min(intervalMs, deadline - Date.now());
    if (pauseMs <= 0) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }

  throw new Error(
    `${options.message} (timed out after ${options.timeoutMs} ms and ${probes} probes; ${describeLast(lastValue, lastError)})`,
    lastError === undefined ? undefined : { cause: lastError },
  );
}

const timedOut = Symbol('timed out');

/** Resolves with the promise's value, or with `timedOut` if it has not settled after `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function describeLast(lastValue: unknown, lastError: unknown): string {
  if (lastError !== undefined) {
    const text = lastError instanceof Error ? lastError.message : String(lastError);
    return `last probe error: ${text}`;
  }
  if (lastValue === noResult) {
    return 'no probe finished before the deadline';
  }
  return `last probe value: ${formatValue(lastValue)}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
