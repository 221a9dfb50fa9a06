import type { Clock } from '../core/clock.js';

// Per-client token buckets: `ratePerSecond` allocations a second on average, `burst` at once.
// A batch of n allocations takes n tokens. Buckets of clients that went quiet are dropped, so a
// stream of one-off client names cannot grow memory without bound.

interface Bucket {
  tokens: number;
  at: number;
}

const IDLE_BUCKET_MS = 60_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  /** Takes `n` tokens: 0 when allowed, otherwise the milliseconds until they would be. */
  take(client: string, n = 1): number {
    const now = this.clock.monotonic();
    if (now - this.lastSweep > IDLE_BUCKET_MS) this.sweep(now);
    let b = this.buckets.get(client);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSecond);
    b.at = now;
    if (n > this.burst) return Infinity;
    if (b.tokens >= n) {
      b.tokens -= n;
      return 0;
    }
    return Math.ceil(((n - b.tokens) / this.ratePerSecond) * 1000);
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [client, b] of this.buckets) if (now - b.at > IDLE_BUCKET_MS) this.buckets.delete(client);
  }
}
