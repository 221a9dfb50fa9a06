import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { backoffDelay, retryUntilDone } from './retry.js';

describe('retryUntilDone', () => {
  /** Lets the promise chain run between clock moves. */
  const settle = () => new Promise((r) => setImmediate(r));

  it('tries again after each failure, the wait doubling up to its cap, until the task succeeds', async () => {
    const clock = new FakeClock();
    const tried: number[] = [];
    const waits: number[] = [];
    const done = retryUntilDone(
      async () => {
        tried.push(clock.monotonic() - Date.UTC(2026, 0, 1));
        if (tried.length < 5) throw new Error(`down (${tried.length})`);
        return 'swept';
      },
      { clock, delayMs: 100, maxDelayMs: 300, stopped: () => false, onFailure: (_err, _n, retryInMs) => void waits.push(retryInMs) },
    );
    for (let i = 0; i < 20; i++) {
      await settle();
      clock.advance(50);
    }
    await expect(done).resolves.toBe('swept');
    expect(waits).toEqual([100, 200, 300, 300]);
    expect(tried).toEqual([0, 100, 300, 600, 900]);
  });

  it('gives up with the failure once stopped', async () => {
    let stopped = false;
    const clock = new FakeClock();
    let attempts = 0;
    const done = retryUntilDone(
      async () => {
        attempts++;
        throw new Error('still down');
      },
      { clock, delayMs: 100, stopped: () => stopped },
    );
    await settle();
    stopped = true;
    clock.advance(100);
    await expect(done).rejects.toThrow('still down');
    expect(attempts).toBe(2);
  });
});

describe('backoffDelay', () => {
  it('starts at the initial wait, doubles with each failure in a row, and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(100, 1000, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    // A count of 0 (nothing failed yet) waits as the first failure does; a huge count does not overflow past the cap.
    expect(backoffDelay(100, 1000, 0)).toBe(100);
    expect(backoffDelay(100, 1000, 10_000)).toBe(1000);
  });
});
