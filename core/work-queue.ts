import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { backoffDelay } from './retry.js';

// Agones' reconcile pattern: events only enqueue a key; one handler per key runs at a time and
// re-reads state itself. A key enqueued while its handler runs is run once more afterwards (never
// twice concurrently, never dropped). A handler that throws is retried with back-off. Handlers start
// on a later turn of the event loop, never inside enqueue: the event that enqueued a key is news to
// other listeners too (a game server's SDK watch waits on it), and a reconcile may run long (it
// spawns game-server processes). Keys enqueued in the same turn start together.

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
  private readonly failures = new Map<string, { attempts: number; message: string }>();
  private readonly retryTimers = new Map<string, () => void>();
  /** Keys enqueued but not started yet, and the turn that will start them. */
  private readonly pending = new Set<string>();
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: KeyedWorkQueueOptions) {}

  enqueue(key: string): void {
    if (this.closed) return;
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    this.pending.add(key);
    this.starting ??= new Promise((resolve) =>
      setImmediate(() => {
        this.starting = undefined;
        for (const k of this.pending) this.start(k);
        this.pending.clear();
        resolve();
      }),
    );
  }

  /** Resolves when no handler is running or queued (retries waiting on a timer do not count). */
  async idle(): Promise<void> {
    while (this.running.size || this.starting) await Promise.all([this.starting, ...this.running.values()]);
  }

  /** Resolves once `key` is neither queued nor running (a retry waiting on its timer does not count). */
  async done(key: string): Promise<void> {
    for (;;) {
      const run = this.running.get(key);
      if (run) await run;
      else if (this.pending.has(key)) await this.starting;
      else return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const cancel of this.retryTimers.values()) cancel();
    this.retryTimers.clear();
    this.again.clear();
    this.pending.clear();
    await this.idle();
  }

  private start(key: string): void {
    const run = this.run(key).finally(() => {
      this.running.delete(key);
      if (this.again.delete(key)) this.enqueue(key);
    });
    this.running.set(key, run);
  }

  private async run(key: string): Promise<void> {
    this.retryTimers.get(key)?.();
    this.retryTimers.delete(key);
    try {
      await this.options.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const previous = this.failures.get(key);
      const n = (previous?.attempts ?? 0) + 1;
      this.failures.set(key, { attempts: n, message });
      const min = this.options.retryMinMs ?? 100;
      const delay = backoffDelay(min, this.options.retryMaxMs ?? 10_000, n);
      // Warned once per distinct failure: one that lasts (an autoscaler's fleet without the counter
      // its policy names) would otherwise print its stack on the operator's terminal every 10 s.
      const level = previous?.message === message ? 'debug' : 'warn';
      this.options.log[level]({ err, key, attempt: n, retryInMs: delay }, 'reconcile failed; will retry');
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
