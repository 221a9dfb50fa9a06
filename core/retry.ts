import type { Clock } from './clock.js';

/** The wait after the `failures`-th failure in a row: `initialMs` after the first, doubling each time, never past `maxMs`. */
export function backoffDelay(initialMs: number, maxMs: number, failures: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
}

export interface RetryOptions {
  clock: Clock;
  /** The wait after the first failure, doubling after each one up to maxDelayMs (defaults 1 s, 30 s). */
  delayMs?: number;
  maxDelayMs?: number;
  /** Asked after each failure: true gives up, rejecting with that failure. */
  stopped: () => boolean;
  /** Each failure, with the attempts so far and the wait before the next. */
  onFailure?: (err: unknown, attempts: number, retryInMs: number) => void;
}

/** Runs `task` until it resolves, backing off between attempts, for work that must happen once whenever its dependency comes back. */
export async function retryUntilDone<T>(task: () => Promise<T>, options: RetryOptions): Promise<T> {
  const first = options.delayMs ?? 1000;
  const max = Math.max(first, options.maxDelayMs ?? 30_000);
  for (let attempts = 1; ; attempts++) {
    try {
      return await task();
    } catch (err) {
      if (options.stopped()) throw err;
      const delay = backoffDelay(first, max, attempts);
      options.onFailure?.(err, attempts, delay);
      await new Promise<void>((resolve) => options.clock.setTimeout(resolve, delay));
    }
  }
}
