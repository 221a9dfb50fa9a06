import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setImmediate as onNextTurn } from 'node:timers';
import { systemClock, type Cancel, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { GameServerMetrics } from '../core/metrics.js';
import { GcPauseLog, ThreadSchedule, TickBreakdown } from './tick-breakdown.js';

// A fixed-timestep simulation loop. Tick n is due at start + n·period, computed from the start
// every time (never "last + period"), so lateness never accumulates into drift.
//
// Waiting: a timer toward (due − spinMs), then event-loop turns (setImmediate) until the due time.
// Node timers have whole-millisecond resolution and fire a millisecond or more late under load;
// finishing the last stretch on setImmediate turns puts the tick within microseconds of its due
// time while I/O still runs in between. On the timer alone (spinMs 0), what a timer that fired
// early leaves (under a millisecond) is slept. Measured (tick-loop.bench.ts --strategies, 30 Hz,
// other core busy): timers only p99 lateness 1.3-1.8 ms; last 1 ms on turns 2.0-2.4 ms (the timer
// itself overshoots the window); last 2 ms 0.28-0.31 ms at ~7 % of a core when idle (the default).
// The turns of that stretch are now a quarter of a millisecond apart, the thread asleep in between
// (spinSleepMs), but for the last 0.15 ms. A loop told what its thread reads (`received`, the
// inline network's datagrams) spends the whole wait that way, 1 ms asleep at a time, so datagrams
// are read in batches rather than an event-loop turn for every one or two (BENCHMARKS.md, helper-45).
//
// A batched wait's last stretch is not turned: a turn runs the poll phase's I/O callbacks before
// the check phase hands back to the loop (libuv reads up to 32 datagrams a socket a turn, ~0.6 ms
// at 1,000 players on a slow machine), and a tick due meanwhile starts that late. So within the
// longest turn the wait has seen of the due time, it sleeps to SPIN_SLEEP_MARGIN_MS before it,
// watches the clock for the rest (a sleep wakes ~0.1 ms late, and the turns this replaces kept the
// core busy as long) and ticks in the same turn. Datagrams that arrive meanwhile are read after
// the tick (BENCHMARKS.md, helper-53).
//
// After a stall (a long GC pause, a tick that overran) the loop runs the overdue ticks back to
// back, at most maxCatchUpTicks of them; older ones are skipped and counted, so a long stall costs
// simulated time instead of a burst that would stall the loop again.
//
// Each tick's phases (marked by onTick with endPhase) go to the metrics, and a tick that overruns
// or starts late is logged with what it had in common with others like it (tick-breakdown.ts).

export interface TickLoopOptions {
  /**
   * The simulation step. `tick` is the schedule slot (tick n was due at start + n·period; the first
   * is 1); after skipped ticks it jumps by the number skipped. `dtSeconds` is always the fixed
   * period: skipped time is dropped, not folded into one big step.
   */
  onTick: (tick: number, dtSeconds: number) => void;
  /** Ticks per second; default 30. */
  rateHz?: number;
  /** Default: the system clock. */
  clock?: Clock;
  /** Most ticks run back to back when behind, the due one included; default 5. */
  maxCatchUpTicks?: number;
  /**
   * The last stretch before each due time, in ms, waited on event-loop turns instead of a timer;
   * 0 = timer only. Default 2 on the system clock, 0 on any other (a fake clock's time moves only
   * when advanced, so turns would wait for ever).
   */
  spinMs?: number;
  /**
   * While spinning, the thread sleeps up to this long between turns (I/O waits that long at most
   * for its turn), except in the last SPIN_SLEEP_MARGIN_MS before the due time, which is turned
   * through as before; 0 = turn back to back. Default 0.25 on the system clock, 0 on any other.
   */
  spinSleepMs?: number;
  /**
   * How many datagrams the thread has taken in so far (a count that only grows). Given, a wait
   * that spins (spinMs > 0, and see `precise`) is spent asleep in slices of up to `batchSleepMs`, an event-loop turn after
   * each, for the whole wait rather than its last `spinMs`; and a turn that took anything in is
   * followed by another without sleeping, so the socket is drained before the thread sleeps again.
   * Datagrams are then read in batches: awake on its timer, a server at 1,000 players turned its
   * event loop for every one or two of them (an epoll call, a read that found nothing, and node's
   * buffer for it, each time).
   */
  received?: () => number;
  /** The most a batched wait (see `received`) sleeps at once, ms; default 1 on the system clock, 0 (no batching) on any other. */
  batchSleepMs?: number;
  /** Blocks the thread for `ms` (sub-millisecond); time must pass. Default a sleep (Atomics.wait); a fake clock's tests advance it. */
  sleep?: (ms: number) => void;
  /**
   * Asked before each wait: false waits on the timer alone, skipping the spin. An idle server has
   * nobody to be late for, and the spin costs it ~1 % of a core (~6 % turning back to back). Default: always precise.
   */
  precise?: () => boolean;
  metrics?: GameServerMetrics;
  log?: Logger;
  /** The phases onTick marks with endPhase(), in order; the rest of each tick is 'other'. Default none. */
  phases?: readonly string[];
  /** Players now, for the slow-tick log line. */
  players?: () => number;
  /** Datagrams this thread has sent so far (a count that only grows), for the slow-tick log line. */
  sent?: () => number;
  /** A tick that starts later than this, ms, is logged; default 4 (an eighth of a 30 Hz period). */
  lateReportMs?: number;
  /** At most one slow-tick log line per this many ms; default 1000. */
  reportIntervalMs?: number;
  /** Ticks kept for the percentiles in stats(); default 8192 (4.5 minutes at 30 Hz). */
  statsWindow?: number;
  /** Sample event-loop delay (perf_hooks.monitorEventLoopDelay) while running; default true. */
  monitorEventLoop?: boolean;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/** p50, p99 and max of `samples` by nearest rank (a sorted copy; `samples` is left as it is); zeros for none. */
export function percentiles(samples: ArrayLike<number>): Percentiles {
  const n = samples.length;
  if (n === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[n - 1]! };
}

export interface TickStats {
  rateHz: number;
  periodMs: number;
  /** Ticks run since the loop was created. */
  ticks: number;
  /** The last tick number run (0 before the first). */
  lastTick: number;
  skipped: number;
  /** Ticks whose work took longer than the period. */
  overruns: number;
  /** Event-loop turns spent waiting out the last stretch before ticks: what the precision costs. */
  spinTurns: number;
  /** onTick calls that threw. */
  errors: number;
  /** Start time of each tick minus its due time, over the last `statsWindow` ticks. */
  latenessMs: Percentiles;
  /** Time spent in onTick, over the last `statsWindow` ticks. */
  workMs: Percentiles;
  /** Actual start of the last tick minus its scheduled time: stays near the lateness when nothing drifts. */
  driftMs: number;
  /** Event-loop delay since start() (undefined when monitoring is off). */
  eventLoopDelayMs: (Percentiles & { mean: number }) | undefined;
}

const DEFAULT_RATE_HZ = 30;
const DEFAULT_MAX_CATCH_UP = 5;
const DEFAULT_SPIN_MS = 2;
const DEFAULT_SPIN_SLEEP_MS = 0.25;
const DEFAULT_BATCH_SLEEP_MS = 1;
/** The last stretch before a due time with no sleep: a sleep may wake this late on a loaded machine. */
const SPIN_SLEEP_MARGIN_MS = 0.15;
const DEFAULT_STATS_WINDOW = 8192;
const DEFAULT_LATE_REPORT_MS = 4;
const DEFAULT_REPORT_INTERVAL_MS = 1000;
/** How long after a slow tick its log line is written: time enough for its GC entries to arrive. */
const REPORT_DELAY_MS = 1;
/** Due-time comparisons tolerate float rounding of start + n·period (epoch-sized fake clocks lose ~0.2 µs). */
const DUE_EPSILON_MS = 0.001;
/** Sampling interval of the event-loop delay histogram (prom-client's default metrics use the same). */
const EVENT_LOOP_RESOLUTION_MS = 10;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` (sub-millisecond), sleeping: nothing is ever notified on sleepCell. */
function sleepThread(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** A ring of the last `size` samples, for percentiles on demand (off the hot path). */
class SampleWindow {
  private readonly samples: Float64Array;
  private count = 0;

  constructor(size: number) {
    this.samples = new Float64Array(size);
  }

  add(value: number): void {
    this.samples[this.count % this.samples.length] = value;
    this.count++;
  }

  percentiles(): Percentiles {
    return percentiles(this.samples.subarray(0, Math.min(this.count, this.samples.length)));
  }
}

export class TickLoop {
  readonly rateHz: number;
  readonly periodMs: number;
  private readonly onTick: (tick: number, dtSeconds: number) => void;
  private readonly clock: Clock;
  private readonly maxCatchUp: number;
  private readonly spinMs: number;
  private readonly spinSleepMs: number;
  private readonly received: (() => number) | undefined;
  private readonly batchSleepMs: number;
  private readonly sleep: (ms: number) => void;
  /** The last stretch of a batched wait watched on the clock: a sleep may wake this late. None on a fake clock, whose time a watch cannot see move. */
  private readonly watchMs: number;
  /** A wait on the timer alone sleeps out what is left under a millisecond; not on a fake clock without a `sleep` to move it. */
  private readonly sleepsLastMs: boolean;
  /** `received` at the previous batched turn. */
  private receivedBefore = -1;
  private readonly precise: (() => boolean) | undefined;
  private readonly metrics: GameServerMetrics | undefined;
  private readonly log: Logger;
  private readonly monitorEventLoop: boolean;
  private readonly lateness: SampleWindow;
  private readonly work: SampleWindow;
  private eventLoopDelay: IntervalHistogram | undefined;
  private readonly breakdown: TickBreakdown;
  /** Garbage collections for the slow-tick log line: on the system clock only, whose time scale PerformanceObserver shares. */
  private readonly gcPauses: GcPauseLog | undefined;
  /** The ticking thread's time on and waiting for its core, for the slow-tick log line. */
  private readonly threadSchedule = new ThreadSchedule();
  /** When the previous turn of the wait (or the last tick) ended, and how long it meant to sleep or wait on a timer. */
  private turnEndedAt = 0;
  private turnIdleMs = 0;
  /** The longest a turn of the wait before the next tick came late. */
  private waitDelayMs = 0;

  /** Monotonic time of tick 0 (ticks after a restart continue the numbering). */
  private anchor = 0;
  private nextTick = 1;
  /** Bumped by start() and stop(), so a pending timer or spin of an old run does nothing. */
  private generation = 0;
  private active = false;
  private cancelTimer: Cancel | undefined;
  private ticks = 0;
  private skipped = 0;
  private overruns = 0;
  private spinTurns = 0;
  private errors = 0;
  private driftMs = 0;
  /** Monotonic time of the last tick run, or of start() before the first. */
  private lastTickAt = 0;
  private lastErrorLog = -Infinity;
  private errorsSinceLog = 0;

  constructor(options: TickLoopOptions) {
    this.rateHz = options.rateHz ?? DEFAULT_RATE_HZ;
    if (!(this.rateHz > 0 && Number.isFinite(this.rateHz))) throw new RangeError(`rateHz must be a positive number, got ${this.rateHz}`);
    this.periodMs = 1000 / this.rateHz;
    this.onTick = options.onTick;
    this.clock = options.clock ?? systemClock;
    this.maxCatchUp = Math.max(1, Math.floor(options.maxCatchUpTicks ?? DEFAULT_MAX_CATCH_UP));
    this.spinMs = Math.max(0, options.spinMs ?? (this.clock === systemClock ? DEFAULT_SPIN_MS : 0));
    this.spinSleepMs = Math.max(0, options.spinSleepMs ?? (this.clock === systemClock ? DEFAULT_SPIN_SLEEP_MS : 0));
    this.batchSleepMs = Math.max(0, options.batchSleepMs ?? (this.clock === systemClock ? DEFAULT_BATCH_SLEEP_MS : 0));
    this.received = this.batchSleepMs > 0 ? options.received : undefined;
    this.sleep = options.sleep ?? sleepThread;
    this.watchMs = this.clock === systemClock ? SPIN_SLEEP_MARGIN_MS : 0;
    this.sleepsLastMs = this.clock === systemClock || options.sleep !== undefined;
    this.precise = options.precise;
    this.metrics = options.metrics;
    this.log = options.log ?? silentLogger;
    this.monitorEventLoop = options.monitorEventLoop ?? true;
    const window = options.statsWindow ?? DEFAULT_STATS_WINDOW;
    this.lateness = new SampleWindow(window);
    this.work = new SampleWindow(window);
    this.gcPauses = this.clock === systemClock ? new GcPauseLog() : undefined;
    this.breakdown = new TickBreakdown({
      phases: options.phases ?? [],
      periodMs: this.periodMs,
      lateReportMs: options.lateReportMs ?? DEFAULT_LATE_REPORT_MS,
      reportIntervalMs: options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS,
      players: options.players,
      datagramsIn: options.received,
      datagramsOut: options.sent,
      gcPauses: this.gcPauses,
      schedule: this.threadSchedule,
      metrics: this.metrics,
      log: this.log,
    });
  }

  get running(): boolean {
    return this.active;
  }

  /** Starts ticking: the next tick is due one period from now. No-op when running. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.generation++;
    this.lastTickAt = this.clock.monotonic();
    this.anchor = this.lastTickAt - (this.nextTick - 1) * this.periodMs;
    this.turnEndedAt = this.lastTickAt;
    this.turnIdleMs = 0;
    this.waitDelayMs = 0;
    this.gcPauses?.start();
    this.threadSchedule.open();
    if (this.monitorEventLoop) {
      this.eventLoopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
      this.eventLoopDelay.enable();
    }
    this.schedule();
  }

  /** Stops ticking; no onTick runs after this returns (unless start() is called again). Idempotent. */
  stop(): void {
    this.active = false;
    this.generation++;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.eventLoopDelay?.disable();
    this.breakdown.flush();
    this.gcPauses?.stop();
    this.threadSchedule.close();
  }

  /** Called by onTick when its phase `name` (one of `phases`) ends. */
  endPhase(name: string): void {
    this.breakdown.endPhase(name, this.clock.monotonic());
  }

  /**
   * True while running and a tick has run within `withinMs` (default: 5 periods, at least 1 s). A
   * health gate: pings stop when the simulation stops, so Agones sees a hung game server.
   */
  isProgressing(withinMs = Math.max(1000, 5 * this.periodMs)): boolean {
    return this.active && this.clock.monotonic() - this.lastTickAt <= withinMs;
  }

  stats(): TickStats {
    const eld = this.eventLoopDelay;
    // Node records the time between its sampling timer's runs: the delay is what exceeds the interval.
    const delay = (ns: number) => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS);
    return {
      rateHz: this.rateHz,
      periodMs: this.periodMs,
      ticks: this.ticks,
      lastTick: this.nextTick - 1,
      skipped: this.skipped,
      overruns: this.overruns,
      spinTurns: this.spinTurns,
      errors: this.errors,
      latenessMs: this.lateness.percentiles(),
      workMs: this.work.percentiles(),
      driftMs: this.driftMs,
      eventLoopDelayMs:
        eld && eld.count > 0
          ? { p50: delay(eld.percentile(50)), p99: delay(eld.percentile(99)), max: delay(eld.max), mean: delay(eld.mean) }
          : undefined,
    };
  }

  private dueTime(tick: number): number {
    return this.anchor + tick * this.periodMs;
  }

  /** Waits for the next due tick: a timer for the long part, event-loop turns for the last spinMs. */
  private schedule(): void {
    const generation = this.generation;
    const precise = this.precise?.() ?? true;
    if (precise && this.spinMs > 0 && this.received !== undefined) return this.batchTurn(generation);
    const spinMs = this.spinMs > 0 && precise ? this.spinMs : 0;
    const wait = this.dueTime(this.nextTick) - this.clock.monotonic() - spinMs;
    // Node timers cannot wait less than 1 ms: a shorter wait goes to the event-loop turns too.
    if (spinMs > 0 && wait < 1) {
      this.spinTurns++;
      // Turning back to back cost 6.5 % of a core (2 ms of every 33.3), idle or at 1,000-1,500
      // players alike: by then the tick's inputs have come in, and the turns find no I/O. A short
      // sleep between turns keeps what I/O there is flowing and the tick on time for 1 %
      // (BENCHMARKS.md, 2026-11-27, branch helper-36).
      const sleep = Math.min(this.spinSleepMs, wait + spinMs - SPIN_SLEEP_MARGIN_MS);
      this.turnIdleMs = Math.max(0, sleep);
      if (sleep > 0) this.sleep(sleep);
      onNextTurn(() => generation === this.generation && this.wake(generation));
      return;
    }
    // A node timer counts whole milliseconds of the event loop's cached clock: it fired early (by
    // up to a millisecond, in 61-78 % of ticks here), and one armed for the rest would wait a
    // whole millisecond (ticks p50 0.6 ms late at 1,500 players). The rest is slept instead,
    // unwatched: this wait busy-waits on nothing, for servers packed several to a core
    // (BENCHMARKS.md, helper-56).
    if (precise && wait < 1 && this.sleepsLastMs) return this.sleepToDue(generation, wait, 0);
    this.turnIdleMs = Math.max(0, wait);
    this.cancelTimer = this.clock.setTimeout(() => {
      this.cancelTimer = undefined;
      if (generation === this.generation) this.wake(generation);
    }, this.turnIdleMs);
  }

  /** One turn of a batched wait (see `received`): asleep first unless the last turn took something in. */
  private batchTurn(generation: number): void {
    const toDue = this.dueTime(this.nextTick) - this.clock.monotonic();
    // A turn begun now may hand back as late as the longest of this wait (waitDelayMs), up to spinMs.
    if (toDue <= Math.min(this.spinMs, Math.max(SPIN_SLEEP_MARGIN_MS, this.waitDelayMs))) return this.sleepToDue(generation, toDue);
    this.spinTurns++;
    const received = this.received!();
    this.turnIdleMs = 0;
    if (received === this.receivedBefore) {
      // The last spinMs in shorter sleeps, as an unbatched wait spends them: the tick stays as punctual.
      const sleep = Math.min(toDue > this.spinMs ? this.batchSleepMs : this.spinSleepMs, toDue - SPIN_SLEEP_MARGIN_MS);
      if (sleep > 0) {
        this.turnIdleMs = sleep;
        this.sleep(sleep);
      }
    }
    this.receivedBefore = received;
    onNextTurn(() => generation === this.generation && this.wake(generation));
  }

  /**
   * Waits out the last `toDue` ms and ticks, with no event-loop turn (and its I/O callbacks) in
   * between: asleep, but for the last `watchMs`, spent watching the clock.
   */
  private sleepToDue(generation: number, toDue: number, watchMs = this.watchMs): void {
    this.turnIdleMs = Math.max(0, toDue);
    if (toDue > watchMs) this.sleep(toDue - watchMs);
    const due = this.dueTime(this.nextTick) - DUE_EPSILON_MS;
    while (this.clock.monotonic() < due);
    this.wake(generation);
  }

  private wake(generation: number): void {
    const now = this.clock.monotonic();
    // Beyond the sleep or timer it asked for, the time since the last turn went to I/O callbacks,
    // a GC pause, or the host taking the core: the event-loop delay the tick may start late by.
    const delay = now - this.turnEndedAt - this.turnIdleMs;
    if (delay > this.waitDelayMs) this.waitDelayMs = delay;
    this.turnEndedAt = now;
    this.turnIdleMs = 0;
    if (this.dueTime(this.nextTick) - now <= DUE_EPSILON_MS) {
      this.runDue(generation);
      if (generation !== this.generation) return;
    }
    this.schedule();
  }

  /** Runs the ticks that are due now, at most maxCatchUp of them, skipping older ones beyond that. */
  private runDue(generation: number): void {
    const now = this.clock.monotonic();
    const lastDue = Math.floor((now - this.anchor + DUE_EPSILON_MS) / this.periodMs);
    const behind = lastDue - this.nextTick + 1;
    if (behind > this.maxCatchUp) {
      const skip = behind - this.maxCatchUp;
      this.skipped += skip;
      this.metrics?.ticksSkipped.inc(skip);
      this.log.warn({ skipped: skip, behindMs: now - this.dueTime(this.nextTick) }, 'tick loop stalled: skipped ticks');
      this.nextTick += skip;
    }
    for (let run = 0; run < this.maxCatchUp && generation === this.generation; run++) {
      const tick = this.nextTick;
      const due = this.dueTime(tick);
      const started = this.clock.monotonic();
      if (started < due - DUE_EPSILON_MS) break;
      this.nextTick++;
      this.runTick(tick, Math.max(0, started - due));
    }
    // A slow tick's log line waits for its GC entries (PerformanceObserver hands them over a turn or
    // two later), then goes out in the slack after the tick. Logged as the next tick fell due, as
    // it was, its write started that tick late: 9.6 ms once at 1,000 players (BENCHMARKS.md, helper-53).
    if (this.breakdown.hasPending) this.clock.setTimeout(() => this.breakdown.flush(), REPORT_DELAY_MS);
  }

  private runTick(tick: number, latenessMs: number): void {
    const started = this.clock.monotonic();
    this.lastTickAt = started;
    this.breakdown.start(started);
    try {
      this.onTick(tick, this.periodMs / 1000);
    } catch (err) {
      this.tickFailed(tick, err);
    }
    const ended = this.clock.monotonic();
    const workMs = ended - started;
    this.breakdown.end(tick, ended, latenessMs, this.waitDelayMs);
    this.turnEndedAt = ended;
    this.waitDelayMs = 0;
    this.ticks++;
    this.driftMs = latenessMs;
    this.lateness.add(latenessMs);
    this.work.add(workMs);
    if (workMs > this.periodMs) this.overruns++;
    const m = this.metrics;
    if (m) {
      m.tickLateness.observe(latenessMs / 1000);
      m.tickDuration.observe(workMs / 1000);
      if (workMs > this.periodMs) m.tickOverruns.inc();
    }
  }

  private tickFailed(tick: number, err: unknown): void {
    this.errors++;
    this.metrics?.errors.inc({ error_type: 'tick' });
    // A tick that throws every time would log 30 lines a second: one line a second at most.
    const now = this.clock.monotonic();
    if (now - this.lastErrorLog < 1000) {
      this.errorsSinceLog++;
      return;
    }
    this.log.error({ err, tick, suppressed: this.errorsSinceLog }, 'tick failed');
    this.lastErrorLog = now;
    this.errorsSinceLog = 0;
  }
}
