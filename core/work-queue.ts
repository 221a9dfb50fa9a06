import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

// Agones' reconcile pattern: events only enqueue a key; one handler per key runs at a time and
// re-reads state itself. A key enqueued while its handler runs is run once more afterwards (never
// twice concurrently, never dropped). A handler that throws is retried with back-off.

export type KeyHandler = (key: string) => Promise<void>;

export interface KeyedWorkQueueOptions {
  handler: KeyHandler;
  clock: Clock;
  log: Logger;
  /** Retry delays double from `retryMinMs` up to `retryMaxMs`. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class KeyedWorkQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly retryTimers = new Map<string, () => void>();
  private closed = false;

  constructor(private readonly options: KeyedWorkQueueOptions) {}

  enqueue(key: string): void {
    if (this.closed) return;
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    const run = this.run(key).finally(() => {
      this.running.delete(key);
      if (this.again.delete(key)) this.enqueue(key);
    });
    this.running.set(key, run);
  }

  /** Resolves when no handler is running or queued (retries waiting on a timer do not count). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const cancel of this.retryTimers.values()) cancel();
    this.retryTimers.clear();
    this.again.clear();
    await this.idle();
  }

  private async run(key: string): Promise<void> {
    this.retryTimers.get(key)?.();
    this.retryTimers.delete(key);
    try {
      await this.options.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const min = this.options.retryMinMs ?? 100;
      const delay = Math.min(min * 2 ** (n - 1), this.options.retryMaxMs ?? 10_000);
      this.options.log.warn({ err, key, attempt: n, retryInMs: delay }, 'reconcile failed; will retry');
      if (!this.closed) {
        this.retryTimers.set(
          key,
          this.options.clock.setTimeout(() => {
            this.retryTimers.delete(key);
            this.enqueue(key);
          }, delay),
        );
      }
    }
  }
}
