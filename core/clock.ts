// Time is injected wherever it matters (health checks, reserve timers, back-off, token expiry), so
// tests drive it with a fake clock instead of sleeping.

export interface Cancel {
  (): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch (for timestamps people read). */
  now(): number;
  /** Monotonic milliseconds with sub-millisecond resolution (for measuring intervals). */
  monotonic(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  setTimeout(fn: () => void, ms: number): Cancel;
  /** Runs `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Cancel;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

// Formatting a time costs a microsecond or two, and an allocator's thousands of allocations a
// second share milliseconds: the last one formatted is kept (a pure function of the millisecond).
let lastMs = Number.NaN;
let lastIso = '';

export function isoTime(clock: Clock): string {
  const ms = clock.now();
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
