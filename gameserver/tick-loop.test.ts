import { describe, expect, it } from '@jest/globals';
import { createGameServerMetrics, Registry } from '../core/metrics.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { TickLoop, type TickLoopOptions } from './tick-loop.js';

// Scheduling is checked on a FakeClock (exact); one real-time test runs the default path
// (timer + event-loop turns) and checks only counts and order, never the machine's speed.

/** A FakeClock whose monotonic time can also jump without firing timers: a blocked event loop. */
class StallClock extends FakeClock {
  private stalled = 0;

  /** The process does nothing for `ms` (a GC pause, a long tick): time passes, no timer fires. */
  stall(ms: number): void {
    this.stalled += ms;
  }

  override now(): number {
    return super.now() + this.stalled;
  }

  override monotonic(): number {
    return super.monotonic() + this.stalled;
  }
}

interface Run {
  clock: StallClock;
  loop: TickLoop;
  ticks: Array<{ tick: number; dt: number; at: number }>;
}

function fakeLoop(options: Partial<TickLoopOptions> & { work?: (tick: number, clock: StallClock) => void } = {}): Run {
  const clock = new StallClock();
  const ticks: Run['ticks'] = [];
  const { work, ...rest } = options;
  const loop = new TickLoop({
    clock,
    monitorEventLoop: false,
    onTick: (tick, dt) => {
      ticks.push({ tick, dt, at: clock.monotonic() });
      work?.(tick, clock);
    },
    ...rest,
  });
  return { clock, loop, ticks };
}

describe('TickLoop', () => {
  it('runs exactly rate × seconds ticks over a long span, each at its scheduled time (no drift)', () => {
    const { clock, loop, ticks } = fakeLoop({ rateHz: 30 });
    const t0 = clock.monotonic();
    loop.start();
    clock.advance(10 * 60 * 1000); // ten minutes
    expect(ticks).toHaveLength(18_000);
    expect(ticks.map((t) => t.tick)).toEqual(Array.from({ length: 18_000 }, (_, i) => i + 1));
    // Tick n runs at start + n·period, not at the sum of n rounded periods.
    const worst = Math.max(...ticks.map((t) => Math.abs(t.at - (t0 + (t.tick * 1000) / 30))));
    expect(worst).toBeLessThan(0.01);
    const stats = loop.stats();
    expect(stats).toMatchObject({ ticks: 18_000, lastTick: 18_000, skipped: 0, overruns: 0 });
    expect(Math.abs(stats.driftMs)).toBeLessThan(0.01);
    loop.stop();
  });

  it('passes the fixed period as dt, at any rate', () => {
    for (const rateHz of [30, 60, 20]) {
      const { clock, loop, ticks } = fakeLoop({ rateHz });
      loop.start();
      clock.advance(1000);
      loop.stop();
      expect(ticks).toHaveLength(rateHz);
      expect(new Set(ticks.map((t) => t.dt))).toEqual(new Set([1 / rateHz]));
    }
  });

  it('catches up at most maxCatchUpTicks back to back after a stall, skips and counts the rest', async () => {
    const registry = new Registry();
    const metrics = createGameServerMetrics(registry);
    const { clock, loop, ticks } = fakeLoop({ rateHz: 10, maxCatchUpTicks: 3, metrics }); // 100 ms period
    const t0 = clock.monotonic();
    loop.start();
    clock.advance(200);
    expect(ticks.map((t) => t.tick)).toEqual([1, 2]);
    clock.stall(1000); // the event loop is blocked for a second between ticks 2 and 3
    clock.advance(100); // it wakes at 1300: ticks 3..13 are due, only the newest 3 run
    expect(ticks.map((t) => t.tick)).toEqual([1, 2, 11, 12, 13]);
    expect(ticks.slice(2).map((t) => t.at - t0)).toEqual([1300, 1300, 1300]);
    clock.advance(100);
    expect(ticks.map((t) => t.tick)).toEqual([1, 2, 11, 12, 13, 14]); // back on schedule
    expect(ticks.at(-1)!.at - t0).toBeCloseTo(1400, 6);
    const stats = loop.stats();
    expect(stats).toMatchObject({ skipped: 8, overruns: 0, ticks: 6, lastTick: 14 });
    expect(stats.latenessMs.max).toBeCloseTo(200, 6); // tick 11 was due at 1100 and ran at 1300
    loop.stop();
    expect(await registry.getSingleMetricAsString('game_server_ticks_skipped_total')).toMatch(/^game_server_ticks_skipped_total 8$/m);
  });

  it('runs the ticks that fell due during an overrun back to back, then keeps the schedule', () => {
    const { clock, loop, ticks } = fakeLoop({
      rateHz: 10,
      maxCatchUpTicks: 5,
      work: (tick, c) => tick === 1 && c.stall(250), // tick 1 takes 250 ms: 2 and 3 are due when it ends
    });
    const t0 = clock.monotonic();
    loop.start();
    clock.advance(100);
    expect(ticks.map((t) => t.tick)).toEqual([1, 2, 3]);
    expect(ticks.map((t) => t.at - t0)).toEqual([100, 350, 350]);
    expect(loop.stats()).toMatchObject({ skipped: 0, overruns: 1 });
    clock.advance(400);
    expect(ticks.map((t) => t.tick)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(ticks.slice(3).map((t) => Math.round(t.at - t0))).toEqual([400, 500, 600, 700]);
    loop.stop();
  });

  it('stop() stops: no tick after it and no timer left behind; start() resumes the numbering', () => {
    const { clock, loop, ticks } = fakeLoop({ rateHz: 30 });
    loop.start();
    clock.advance(1000);
    expect(ticks).toHaveLength(30);
    loop.stop();
    expect(loop.running).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(ticks).toHaveLength(30);
    loop.start();
    clock.advance(1000);
    expect(ticks).toHaveLength(60);
    expect(ticks[30]!.tick).toBe(31);
    loop.stop();
  });

  it('stop() from inside onTick ends the loop after that tick', () => {
    let loop: TickLoop | undefined;
    const { clock, loop: l, ticks } = fakeLoop({ rateHz: 10, work: (tick) => tick === 3 && loop!.stop() });
    loop = l;
    loop.start();
    clock.advance(10_000);
    expect(ticks.map((t) => t.tick)).toEqual([1, 2, 3]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps ticking when onTick throws, and counts the errors', async () => {
    const registry = new Registry();
    const metrics = createGameServerMetrics(registry);
    const clock = new FakeClock();
    const loop = new TickLoop({
      clock,
      rateHz: 10,
      metrics,
      monitorEventLoop: false,
      onTick: (tick) => {
        if (tick % 2 === 0) throw new Error('boom');
      },
    });
    loop.start();
    clock.advance(1000);
    loop.stop();
    expect(loop.stats()).toMatchObject({ ticks: 10, errors: 5 });
    expect(await registry.getSingleMetricAsString('game_server_errors_total')).toMatch(/error_type="tick"} 5$/m);
  });

  it('records work and lateness in the metrics, overruns when work exceeds the period', async () => {
    const registry = new Registry();
    const metrics = createGameServerMetrics(registry);
    const { clock, loop } = fakeLoop({ rateHz: 10, metrics, work: (tick, c) => c.stall(tick === 5 ? 150 : 2) });
    loop.start();
    clock.advance(1000);
    loop.stop();
    const stats = loop.stats();
    expect(stats.workMs.p50).toBeCloseTo(2, 6);
    expect(stats.workMs.max).toBeCloseTo(150, 6);
    expect(stats.overruns).toBe(1);
    expect(await registry.getSingleMetricAsString('game_server_tick_overruns_total')).toMatch(/ 1$/m);
    expect(await registry.getSingleMetricAsString('game_server_tick_duration_seconds')).toMatch(/game_server_tick_duration_seconds_count \d+$/m);
    expect(await registry.getSingleMetricAsString('game_server_tick_lateness_seconds')).toMatch(/game_server_tick_lateness_seconds_count \d+$/m);
  });

  it('is progressing while ticks run, not after a stall or stop()', () => {
    const { clock, loop } = fakeLoop({ rateHz: 30 });
    expect(loop.isProgressing()).toBe(false);
    loop.start();
    expect(loop.isProgressing()).toBe(true);
    clock.advance(5000);
    expect(loop.isProgressing()).toBe(true);
    clock.stall(1500); // no tick for 1.5 s: more than the default 1 s at 30 Hz
    expect(loop.isProgressing()).toBe(false);
    expect(loop.isProgressing(2000)).toBe(true);
    clock.advance(40);
    expect(loop.isProgressing()).toBe(true);
    loop.stop();
    expect(loop.isProgressing()).toBe(false);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new TickLoop({ rateHz: 0, onTick: () => undefined })).toThrow(RangeError);
    expect(() => new TickLoop({ rateHz: Number.NaN, onTick: () => undefined })).toThrow(RangeError);
  });

  it('ticks in real time with the default timer and event-loop turns (counts and order only)', async () => {
    const ticks: number[] = [];
    const times: number[] = [];
    const done = new Promise<void>((resolve) => {
      const loop = new TickLoop({
        rateHz: 100,
        onTick: (tick) => {
          ticks.push(tick);
          times.push(performance.now());
          if (ticks.length === 30) {
            loop.stop();
            resolve();
          }
        },
      });
      loop.start();
    });
    await done;
    // Skipped ticks (a loaded machine) jump the numbers; order is what must hold.
    expect(ticks).toHaveLength(30);
    expect(ticks.every((t, i) => i === 0 || t > ticks[i - 1]!)).toBe(true);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(ticks).toHaveLength(30);
  });

  it('spins on event-loop turns only while precision is asked for (an idle server waits on the timer alone)', async () => {
    let precise = false;
    let ticks = 0;
    const loop = new TickLoop({ rateHz: 100, precise: () => precise, onTick: () => void ticks++ });
    const until = async (n: number) => {
      while (ticks < n) await new Promise((r) => setTimeout(r, 5));
    };
    loop.start();
    await until(10);
    expect(loop.stats().spinTurns).toBe(0);
    precise = true;
    await until(20);
    loop.stop();
    expect(loop.stats().spinTurns).toBeGreaterThan(0);
  });

  /** 20 ticks at 100 Hz on the system clock: event-loop turns a tick, and the lateness. */
  const turnsPerTick = async (options: Partial<TickLoopOptions>) => {
    const loop = new TickLoop({ rateHz: 100, monitorEventLoop: false, onTick: () => undefined, ...options });
    loop.start();
    while (loop.stats().ticks < 20) await new Promise((r) => setTimeout(r, 5));
    loop.stop();
    const stats = loop.stats();
    return { turnsPerTick: stats.spinTurns / stats.ticks, latenessMs: stats.latenessMs };
  };

  it('sleeps between the turns of its last stretch, turning a fraction as often, and stays on time', async () => {
    const backToBack = await turnsPerTick({ spinSleepMs: 0 });
    const asleep = await turnsPerTick({ spinSleepMs: 0.25 });
    expect(asleep.turnsPerTick).toBeLessThan(backToBack.turnsPerTick / 3);
    expect(asleep.latenessMs.p50).toBeLessThan(1);
  });

  it('batches a wait that takes datagrams in: asleep between turns, but not after a turn that read any', async () => {
    // Nothing comes in: 1 ms asleep at a time, the last 2 ms in quarter-milliseconds, the last 0.15 ms back to back.
    const drained = await turnsPerTick({ received: () => 0 });
    // Something came in at every turn: the socket may hold more, so the loop turns again at once.
    let n = 0;
    const busy = await turnsPerTick({ received: () => n++ });
    expect(drained.turnsPerTick).toBeGreaterThan(4);
    expect(busy.turnsPerTick).toBeGreaterThan(drained.turnsPerTick * 5);
    expect(drained.latenessMs.p50).toBeLessThan(1);
  });

  /** A node timer: it counts whole milliseconds of the event loop's cached clock, so it fires up to a millisecond early, and none waits under 1 ms. */
  class NodeTimerClock extends StallClock {
    override setTimeout(fn: () => void, ms: number) {
      return super.setTimeout(fn, Math.max(1, ms) - 0.3);
    }
  }

  it('on the timer alone, sleeps out the rest of a wait its timer ended early, instead of a timer that waits a whole millisecond', () => {
    const clock = new NodeTimerClock();
    let precise = true;
    const sleeps: number[] = [];
    const at: number[] = [];
    const loop = new TickLoop({ clock, rateHz: 10, spinMs: 0, monitorEventLoop: false, precise: () => precise, sleep: (ms) => (sleeps.push(ms), clock.stall(ms)), onTick: () => void at.push(clock.monotonic()) });
    const t0 = clock.monotonic();
    loop.start();
    clock.advance(300);
    // Each timer fired 0.3 ms early; the tick ran at its due time, after a 0.3 ms sleep.
    expect(at.map((t) => t - t0)).toEqual([100, 200, 300].map((ms) => expect.closeTo(ms, 3)));
    expect(sleeps.map((ms) => ms.toFixed(3))).toEqual(['0.300', '0.300', '0.300']);
    // An idle server (nobody to be late for) keeps to timers: the one armed for the last 0.3 ms waits a millisecond less 0.3.
    precise = false;
    clock.advance(100);
    loop.stop();
    expect(sleeps).toHaveLength(3);
    expect(at.at(-1)! - t0).toBeCloseTo(400.4, 3);
  });

  it('sleeps to the due time, without a turn, once it is nearer than the longest turn of the wait', async () => {
    // The socket is never empty: each event-loop turn first runs 0.6 ms of datagram callbacks (a
    // check-phase callback queued before the loop's own stands in for the poll phase), so the loop
    // never sleeps between turns. A turn begun 0.4 ms before the due time would start the tick 0.2 ms late.
    const sleeps: number[] = [];
    let clock!: StallClock;
    let datagrams = 0;
    let reading = true;
    const io = () => {
      if (!reading) return;
      clock.stall(0.6);
      datagrams += 32;
      setImmediate(io);
    };
    const run = fakeLoop({ rateHz: 100, spinMs: 2, batchSleepMs: 1, received: () => datagrams, sleep: (ms) => (sleeps.push(ms), clock.stall(ms)) });
    clock = run.clock;
    const t0 = clock.monotonic();
    setImmediate(io);
    run.loop.start();
    while (run.ticks.length < 3) await new Promise((r) => setImmediate(r));
    run.loop.stop();
    reading = false;
    const at = run.ticks.map((t) => t.at - t0);
    [10, 20, 30].forEach((ms, i) => expect(at[i]).toBeCloseTo(ms, 3));
    expect(run.loop.stats().latenessMs.max).toBeCloseTo(0, 3);
    // The last stretch of each wait is one sleep, shorter than a turn: 16 turns take 9.6 ms of the 10.
    expect(sleeps).toHaveLength(3);
    for (const ms of sleeps) expect(ms).toBeCloseTo(0.4, 3);
  });
});
