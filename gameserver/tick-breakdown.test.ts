import { describe, expect, it } from '@jest/globals';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { createGameServerMetrics, Registry } from '../core/metrics.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { GcPauseLog, ThreadSchedule, TickBreakdown } from './tick-breakdown.js';
import { TickLoop, type TickLoopOptions } from './tick-loop.js';

// The phases are driven on a fake clock whose time jumps inside a tick (a slow phase), so every
// figure is exact and nothing depends on the machine's speed.

/** A FakeClock whose time can also jump without firing timers: work inside a tick, or a blocked event loop. */
class StallClock extends FakeClock {
  private stalled = 0;

  stall(ms: number): void {
    this.stalled += ms;
  }

  override monotonic(): number {
    return super.monotonic() + this.stalled;
  }
}

type Line = Record<string, unknown> & { msg: string; phasesMs: Record<string, number>; workMs: number };

function run(options: Partial<TickLoopOptions> & { work: (tick: number, clock: StallClock, loop: TickLoop) => void }) {
  const clock = new StallClock();
  const lines: Line[] = [];
  const registry = new Registry();
  const metrics = createGameServerMetrics(registry);
  const { work, ...rest } = options;
  const loop: TickLoop = new TickLoop({
    clock,
    rateHz: 10, // 100 ms budget
    monitorEventLoop: false,
    metrics,
    log: pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) }),
    onTick: (tick) => work(tick, clock, loop),
    ...rest,
  });
  return { clock, loop, lines, registry };
}

/** A histogram's sample line's name (prom-client's typings leave it off). */
const nameOf = (v: object) => (v as { metricName?: string }).metricName ?? '';

/** Each phase's summed seconds and count from the histogram. */
async function phaseSums(registry: Registry): Promise<Record<string, { sum: number; count: number }>> {
  const metric = await registry.getSingleMetric('game_server_tick_phase_duration_seconds')!.get();
  const out: Record<string, { sum: number; count: number }> = {};
  for (const v of metric.values) {
    const phase = String(v.labels.phase);
    out[phase] ??= { sum: 0, count: 0 };
    if (nameOf(v).endsWith('_sum')) out[phase].sum = v.value;
    if (nameOf(v).endsWith('_count')) out[phase].count = v.value;
  }
  return out;
}

describe('tick phase breakdown', () => {
  it('times each marked phase into the histogram, the rest as "other", adding up to the tick', async () => {
    const { clock, loop, registry } = run({
      phases: ['simulate', 'send'],
      work: (tick, c, l) => {
        c.stall(3);
        l.endPhase('simulate');
        c.stall(tick % 2 === 0 ? 5 : 0);
        if (tick % 2 === 0) l.endPhase('send'); // unmarked on odd ticks: nothing goes to it
        c.stall(1);
      },
    });
    loop.start();
    clock.advance(1000);
    loop.stop();
    const sums = await phaseSums(registry);
    expect(Object.keys(sums).sort()).toEqual(['other', 'send', 'simulate']);
    for (const phase of Object.values(sums)) expect(phase.count).toBe(10);
    expect(sums.simulate!.sum).toBeCloseTo(10 * 0.003, 9);
    expect(sums.send!.sum).toBeCloseTo(5 * 0.005, 9);
    expect(sums.other!.sum).toBeCloseTo(10 * 0.001, 9);
    const total = (await registry.getSingleMetric('game_server_tick_duration_seconds')!.get()).values.find((v) => nameOf(v).endsWith('_sum'))!.value;
    expect(sums.simulate!.sum + sums.send!.sum + sums.other!.sum).toBeCloseTo(total, 9);
  });

  it('logs one line for a tick that overran, with its phases, players and datagrams', () => {
    let sent = 0;
    let received = 0;
    const { clock, loop, lines } = run({
      phases: ['simulate', 'send'],
      players: () => 42,
      sent: () => sent,
      received: () => received,
      work: (tick, c, l) => {
        c.stall(2);
        l.endPhase('simulate');
        c.stall(tick === 3 ? 120 : 1); // a slow send phase on tick 3
        sent += 7;
        l.endPhase('send');
        received += 5; // read "between ticks": counted for the next tick
      },
    });
    loop.start();
    clock.advance(1000);
    loop.stop();
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({ level: 40, msg: 'tick overran its budget', tick: 3, overran: true, late: false, budgetMs: 100, players: 42, datagramsOut: 7, datagramsIn: 5, suppressed: 0 });
    expect(line.phasesMs).toEqual({ simulate: 2, send: 120, other: 0 });
    expect(line.workMs).toBe(122);
    expect(line.phasesMs.simulate! + line.phasesMs.send! + line.phasesMs.other!).toBe(line.workMs);
    // The thread's own schedule counts (Linux): real time, so only their presence is checked.
    for (const field of ['cpuMs', 'runQueueMs', 'waitRunQueueMs']) expect(typeof line[field]).toBe('number');
  });

  it('logs a tick that started late, with the event-loop delay of the wait before it', () => {
    const { clock, loop, lines } = run({
      phases: [],
      lateReportMs: 4,
      work: () => undefined,
    });
    loop.start();
    clock.advance(250); // ticks 1, 2
    clock.stall(10); // the event loop blocked for 10 ms during the wait: tick 3 starts that late
    clock.advance(200);
    loop.stop();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'tick started late', tick: 3, overran: false, late: true, latenessMs: 10, eventLoopDelayMs: 10, phasesMs: { other: 0 } });
  });

  it('writes a slow tick\'s line in the slack after it, not as the next tick falls due', () => {
    // Written as the next tick fell due, the line's write (a slow pipe, a big object) started that tick late.
    let clock!: StallClock;
    const written: number[] = [];
    const started: number[] = [];
    const r = run({
      work: (tick, c) => (started.push(c.monotonic()), c.stall(tick === 3 ? 120 : 0)),
      log: pino({ level: 'warn' }, { write: (s: string) => void written.push(clock.monotonic(), (JSON.parse(s) as Line).tick as number) }),
    });
    clock = r.clock;
    r.loop.start();
    r.clock.advance(600);
    r.loop.stop();
    const t0 = started[0]! - 100;
    // Tick 3 (due at 300) took 120 ms; tick 4, due meanwhile, ran straight after it, and the line a millisecond after that.
    expect(started.slice(0, 5).map((t) => t - t0)).toEqual([100, 200, 300, 420, 500]);
    expect(written).toEqual([t0 + 421, 3]);
  });

  it('rate-limits the lines and counts the ticks it held back', () => {
    // Every odd tick overruns (120 ms of a 100 ms budget) and the even one after it starts late.
    const { clock, loop, lines } = run({ work: (tick, c) => c.stall(tick % 2 === 1 ? 120 : 0), reportIntervalMs: 1000 });
    const t0 = clock.monotonic();
    loop.start();
    clock.advance(3000);
    loop.stop();
    const seconds = (clock.monotonic() - t0) / 1000; // the ticks' own time included
    expect(loop.stats().overruns).toBeGreaterThan(10);
    expect(lines.length).toBeGreaterThanOrEqual(3); // one at once, then one a second
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    for (const line of lines.slice(1)) expect(line.suppressed).toBeGreaterThan(5);
  });

  it('refuses a phase it was not told of, and the reserved name', () => {
    const breakdown = new TickBreakdown({ phases: ['simulate'], periodMs: 100, lateReportMs: 4, reportIntervalMs: 1000, log: pino({ level: 'silent' }) });
    expect(() => breakdown.endPhase('send', 0)).toThrow("TickBreakdown: no phase 'send' (phases: simulate)");
    expect(() => new TickBreakdown({ phases: ['other'], periodMs: 100, lateReportMs: 4, reportIntervalMs: 1000, log: pino({ level: 'silent' }) })).toThrow(RangeError);
  });
});

describe('ThreadSchedule', () => {
  it("reads the thread's time on its core and waiting for it, and says when the kernel keeps none", () => {
    const schedule = new ThreadSchedule();
    expect(schedule.open()).toBe(true);
    const before = schedule.cpuNs;
    let x = 0;
    for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(schedule.read()).toBe(true);
    expect(schedule.cpuNs).toBeGreaterThan(before);
    expect(schedule.waitingNs).toBeGreaterThanOrEqual(0);
    schedule.close();
    expect(schedule.read()).toBe(false);
    expect(new ThreadSchedule().open('/proc/no-such-file')).toBe(false);
  });
});

describe('GcPauseLog', () => {
  it('keeps the collections PerformanceObserver reports, with their kind and whether they were asked for', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' }) => void;
    const log = new GcPauseLog(4);
    log.start();
    const from = performance.now();
    gc(); // a full collection (V8 11's gc({ type: 'major' }) scavenges only)
    gc({ type: 'minor' });
    const to = performance.now();
    // Entries are handed over on a later event-loop turn.
    for (let i = 0; i < 5 && log.between(from, to).length < 2; i++) await nextTurn();
    log.stop();
    const pauses = log.between(from, to);
    expect(pauses.map((p) => [p.kind, p.forced])).toEqual([
      ['major', true],
      ['minor', true],
    ]);
    for (const p of pauses) expect(p.durationMs).toBeGreaterThan(0);
    expect(log.between(to, to + 1000)).toEqual([]);
  });
});
