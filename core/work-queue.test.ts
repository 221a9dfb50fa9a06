import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { createLogger, silentLogger } from './logger.js';
import { KeyedWorkQueue } from './work-queue.js';

describe('KeyedWorkQueue', () => {
  it('never runs one key twice at once, and runs it again if enqueued meanwhile', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const queue = new KeyedWorkQueue({
      clock: new FakeClock(),
      log: silentLogger,
      handler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        runs++;
        active--;
      },
    });
    queue.enqueue('fleet-a');
    while (active === 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) queue.enqueue('fleet-a');
    await queue.idle();
    expect(maxActive).toBe(1);
    // The first run, then one more for all the enqueues that arrived while it ran.
    expect(runs).toBe(2);
  });

  it('starts a handler on a later turn, once for all the enqueues of one turn', async () => {
    const calls: string[] = [];
    const queue = new KeyedWorkQueue({ clock: new FakeClock(), log: silentLogger, handler: async (k) => void calls.push(k) });
    queue.enqueue('a');
    queue.enqueue('a');
    queue.enqueue('b');
    // Nothing runs inside enqueue: whoever enqueued (a store event's listener) finishes first.
    await Promise.resolve();
    expect(calls).toEqual([]);
    await queue.idle();
    expect(calls).toEqual(['a', 'b']);
  });

  it("done(key) waits for that key's queued run and its rerun, not for other keys", async () => {
    const finished: string[] = [];
    let releaseB!: () => void;
    const bHeld = new Promise<void>((r) => (releaseB = r));
    const queue = new KeyedWorkQueue({
      clock: new FakeClock(),
      log: silentLogger,
      handler: async (k) => {
        if (k === 'b') await bHeld;
        await new Promise((r) => setTimeout(r, 2));
        finished.push(k);
      },
    });
    await queue.done('a'); // nothing queued: at once
    queue.enqueue('a');
    queue.enqueue('b');
    await new Promise((r) => setImmediate(r));
    queue.enqueue('a'); // while a runs: one more run, which done('a') waits for too
    await queue.done('a');
    expect(finished).toEqual(['a', 'a']);
    releaseB();
    await queue.idle();
    expect(finished).toEqual(['a', 'a', 'b']);
  });

  it('runs different keys concurrently', async () => {
    const seen: string[] = [];
    const queue = new KeyedWorkQueue({ clock: new FakeClock(), log: silentLogger, handler: async (k) => void seen.push(k) });
    queue.enqueue('a');
    queue.enqueue('b');
    await queue.idle();
    expect(seen.sort()).toEqual(['a', 'b']);
  });

  it('retries a failing key with doubling back-off', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const queue = new KeyedWorkQueue({
      clock,
      log: silentLogger,
      retryMinMs: 100,
      handler: async () => {
        calls++;
        if (calls < 3) throw new Error('not yet');
      },
    });
    queue.enqueue('k');
    await queue.idle();
    expect(calls).toBe(1);
    clock.advance(99);
    await queue.idle();
    expect(calls).toBe(1);
    clock.advance(1);
    await queue.idle();
    expect(calls).toBe(2);
    clock.advance(199);
    await queue.idle();
    expect(calls).toBe(2);
    clock.advance(1);
    await queue.idle();
    expect(calls).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('warns of a failure once, and again only when it changes; the retries of the same failure log at debug', async () => {
    const clock = new FakeClock();
    const lines: Array<{ level: number; msg: string; attempt: number; err: { message: string } }> = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const errors = ['no counter "rooms"', 'no counter "rooms"', 'no counter "rooms"', 'fleet gone', 'fleet gone'];
    let calls = 0;
    const queue = new KeyedWorkQueue({
      clock,
      log,
      retryMinMs: 100,
      handler: async () => {
        const message = errors[calls++];
        if (message) throw new Error(message);
      },
    });
    queue.enqueue('k');
    for (let i = 0; i < 6; i++) {
      await queue.idle();
      clock.advance(10_000);
    }
    await queue.idle();
    expect(calls).toBe(6);
    expect(lines.map((l) => [l.level, l.msg, l.attempt, l.err.message])).toEqual([
      [40, 'reconcile failed; will retry', 1, 'no counter "rooms"'],
      [40, 'reconcile failed; will retry', 4, 'fleet gone'],
    ]);
  });

  it('drops pending retries, and keys not started yet, on close', async () => {
    const clock = new FakeClock();
    const queue = new KeyedWorkQueue({ clock, log: silentLogger, handler: async () => Promise.reject(new Error('x')) });
    queue.enqueue('k');
    await queue.idle();
    expect(clock.pendingTimers).toBe(1);
    queue.enqueue('other');
    await queue.close();
    expect(clock.pendingTimers).toBe(0);
    queue.enqueue('k');
    await queue.idle();
  });
});
