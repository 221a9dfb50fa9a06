import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { constants as perfConstants, PerformanceObserver, type NodeGCPerformanceDetail } from 'node:perf_hooks';
import type { Logger } from '../core/logger.js';
import type { GameServerMetrics } from '../core/metrics.js';

// Where a tick's time went, always on: the loop's clock read at each phase's end (a few reads per
// tick, none per player), each phase's time into a labelled histogram, and for a tick that overran
// its budget or started late, one log line that holds what the tick had in common with others like
// it: its phases, the thread's time on its core and waiting for it (the host's share), the players
// and datagrams, the garbage collections around it, and the event-loop delay of the wait before it.

/** A garbage collection as PerformanceObserver reports it, times on performance.now()'s scale. */
export interface GcPause {
  kind: string;
  startMs: number;
  durationMs: number;
  /** Asked for by the process (gc() under --expose-gc), not started by V8 on its own. */
  forced: boolean;
}

const GC_KINDS = new Map<number, string>([
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/** The last few garbage collections of this process, from a PerformanceObserver on 'gc'. */
export class GcPauseLog {
  private readonly ring: GcPause[] = [];
  private next = 0;
  private observer: PerformanceObserver | undefined;

  constructor(private readonly size = 64) {}

  start(): void {
    if (this.observer) return;
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        // A 'gc' entry carries its kind and flags (the typings leave `detail` off the base entry).
        const detail = (entry as unknown as { detail?: NodeGCPerformanceDetail }).detail;
        this.add({
          kind: GC_KINDS.get(detail?.kind ?? 0) ?? 'unknown',
          startMs: entry.startTime,
          durationMs: entry.duration,
          forced: ((detail?.flags ?? 0) & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0,
        });
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.observer?.disconnect();
    this.observer = undefined;
  }

  /** Collections that ran, wholly or partly, between `fromMs` and `toMs`, oldest first. */
  between(fromMs: number, toMs: number): GcPause[] {
    const n = this.ring.length;
    const out: GcPause[] = [];
    for (let i = 0; i < n; i++) {
      const p = this.ring[(this.next + i) % n]!;
      if (p.startMs + p.durationMs > fromMs && p.startMs < toMs) out.push(p);
    }
    return out;
  }

  private add(pause: GcPause): void {
    if (this.ring.length < this.size) this.ring.push(pause);
    else this.ring[this.next] = pause;
    this.next = (this.next + 1) % this.size;
  }
}

/**
 * The calling thread's time on its core and time runnable but waiting for it, from Linux's
 * /proc/thread-self/schedstat through one open descriptor (a pread, a few µs, per read). Waiting
 * is what a neighbour on the core, or a wake-up the scheduler served late, costs the thread.
 */
export class ThreadSchedule {
  cpuNs = 0;
  waitingNs = 0;
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(64);

  /** Opens the file for the calling thread; false where the kernel keeps no such counts. */
  open(path = '/proc/thread-self/schedstat'): boolean {
    if (this.fd !== undefined) return true;
    try {
      this.fd = openSync(path, 'r');
      return this.read();
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Updates cpuNs and waitingNs (the file's first two numbers); false when closed or unreadable. */
  read(): boolean {
    if (this.fd === undefined) return false;
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    let field = 0;
    let value = 0;
    for (let i = 0; i < n && field < 2; i++) {
      const c = this.buf[i]!;
      if (c >= 0x30 && c <= 0x39) {
        value = value * 10 + (c - 0x30);
      } else {
        if (field === 0) this.cpuNs = value;
        else this.waitingNs = value;
        field++;
        value = 0;
      }
    }
    return field === 2;
  }
}

/** The phase that holds whatever of a tick no marked phase took. */
export const OTHER_PHASE = 'other';

export interface TickBreakdownOptions {
  /** The phases onTick marks, in order (TickLoop.endPhase); OTHER_PHASE is added after them. */
  phases: readonly string[];
  periodMs: number;
  /** A tick that starts later than this is reported. */
  lateReportMs: number;
  /** At most one report per this many ms; the ones held back are counted in the next. */
  reportIntervalMs: number;
  /** Players now, for the report. */
  players?: () => number;
  /** Datagrams read and sent by this thread so far (counts that only grow), for the report. */
  datagramsIn?: () => number;
  datagramsOut?: () => number;
  /** Garbage collections to report, on the same time scale as the loop's clock (so only with the system clock). */
  gcPauses?: GcPauseLog;
  /** The ticking thread's schedule counts, opened by whoever runs the ticks; reported while open. */
  schedule?: ThreadSchedule;
  metrics?: GameServerMetrics;
  log: Logger;
}

/** What the report says of one tick (the log line's fields, `msg` aside). */
export interface SlowTickReport {
  tick: number;
  overran: boolean;
  late: boolean;
  budgetMs: number;
  workMs: number;
  latenessMs: number;
  /** Each phase's share of workMs; they add up to it. */
  phasesMs: Record<string, number>;
  /** The thread's time on its core during the tick, and runnable but waiting for it (the host's share); Linux. */
  cpuMs?: number;
  runQueueMs?: number;
  /** The thread's time waiting for its core during the wait before the tick (a late wake-up from a sleep counts). */
  waitRunQueueMs?: number;
  /** The longest the wait's event-loop turns came late (beyond the sleep or timer they asked for): I/O, a GC, the host. */
  eventLoopDelayMs: number;
  players?: number;
  /** Read during the wait before the tick; sent during the tick. */
  datagramsIn?: number;
  datagramsOut?: number;
  /** Collections since the previous tick ended, `atMs` from this tick's start (negative: during the wait). */
  gc?: Array<{ kind: string; atMs: number; ms: number; forced: boolean }>;
  /** Slow ticks not reported since the last report (the rate limit). */
  suppressed: number;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Tick phase times into the metrics, and one log line for a slow tick (see the top of this file). */
export class TickBreakdown {
  readonly phaseNames: readonly string[];
  private readonly phaseEnds: Float64Array;
  private readonly phaseMs: Float64Array;
  private readonly histograms: Array<{ observe(seconds: number): void }> | undefined;
  private startedAt = 0;
  private previousEndedAt = Number.NaN;
  /** The schedule counts at this tick's start and at the previous tick's end, ns. */
  private cpuAtStart = 0;
  private waitingAtStart = 0;
  private waitingAtPreviousEnd = Number.NaN;
  private inAtPreviousEnd = 0;
  private outAtStart = 0;
  private lastReportAt = -Infinity;
  private suppressed = 0;
  /** A report waiting for its GC entries: PerformanceObserver hands them over on a later event-loop turn. */
  private pending: { report: SlowTickReport; fromMs: number; toMs: number } | undefined;

  constructor(private readonly o: TickBreakdownOptions) {
    if (o.phases.includes(OTHER_PHASE)) throw new RangeError(`TickBreakdown: phase name '${OTHER_PHASE}' is reserved for the rest of the tick`);
    this.phaseNames = [...o.phases, OTHER_PHASE];
    this.phaseEnds = new Float64Array(o.phases.length);
    this.phaseMs = new Float64Array(this.phaseNames.length);
    const h = o.metrics?.tickPhaseDuration;
    this.histograms = h && this.phaseNames.map((phase) => h.labels({ phase }));
  }

  /** The tick began at `now` (the loop's clock). */
  start(now: number): void {
    this.startedAt = now;
    this.phaseEnds.fill(Number.NaN);
    const schedule = this.o.schedule;
    if (schedule?.read()) {
      this.cpuAtStart = schedule.cpuNs;
      this.waitingAtStart = schedule.waitingNs;
    }
    this.outAtStart = this.o.datagramsOut?.() ?? 0;
  }

  /** Phase `name` (one of those given) ended at `now`. */
  endPhase(name: string, now: number): void {
    const index = this.o.phases.indexOf(name);
    if (index < 0) throw new RangeError(`TickBreakdown: no phase '${name}' (phases: ${this.o.phases.join(', ') || 'none'})`);
    this.phaseEnds[index] = now;
  }

  /** The tick ended at `now`; `waitDelayMs` is the event-loop delay of the wait before it. */
  end(tick: number, now: number, latenessMs: number, waitDelayMs: number): void {
    const workMs = now - this.startedAt;
    // A phase not marked this tick took nothing; each marked one runs from the previous mark.
    let from = this.startedAt;
    for (let i = 0; i < this.phaseEnds.length; i++) {
      const end = this.phaseEnds[i]!;
      this.phaseMs[i] = end >= from ? end - from : 0;
      if (end >= from) from = end;
    }
    this.phaseMs[this.phaseEnds.length] = now - from;
    if (this.histograms) for (let i = 0; i < this.histograms.length; i++) this.histograms[i]!.observe(this.phaseMs[i]! / 1000);

    const scheduled = this.o.schedule?.read() ?? false;
    const overran = workMs > this.o.periodMs;
    const late = latenessMs > this.o.lateReportMs;
    if (overran || late) this.slow(tick, now, workMs, latenessMs, waitDelayMs, scheduled, overran, late);
    this.previousEndedAt = now;
    this.waitingAtPreviousEnd = scheduled ? this.o.schedule!.waitingNs : Number.NaN;
    this.inAtPreviousEnd = this.o.datagramsIn?.() ?? 0;
  }

  /** A slow tick's report is waiting for flush(). */
  get hasPending(): boolean {
    return this.pending !== undefined;
  }

  /** Logs the report held back for its GC entries, if any: call once the event loop has turned. */
  flush(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    const { report, fromMs, toMs } = pending;
    const gc = this.o.gcPauses;
    if (gc) {
      report.gc = gc
        .between(fromMs, toMs)
        .map((p) => ({ kind: p.kind, atMs: round(p.startMs - (toMs - report.workMs)), ms: round(p.durationMs), forced: p.forced }));
    }
    this.o.log.warn(report, report.overran ? 'tick overran its budget' : 'tick started late');
  }

  private slow(tick: number, now: number, workMs: number, latenessMs: number, waitDelayMs: number, scheduled: boolean, overran: boolean, late: boolean): void {
    if (now - this.lastReportAt < this.o.reportIntervalMs || this.pending) {
      this.suppressed++;
      return;
    }
    this.lastReportAt = now;
    const phasesMs = Object.fromEntries(this.phaseNames.map((name, i) => [name, round(this.phaseMs[i]!)]));
    const report: SlowTickReport = {
      tick,
      overran,
      late,
      budgetMs: round(this.o.periodMs),
      workMs: round(workMs),
      latenessMs: round(latenessMs),
      phasesMs,
      eventLoopDelayMs: round(Math.max(0, waitDelayMs)),
      suppressed: this.suppressed,
    };
    if (scheduled) {
      const { cpuNs, waitingNs } = this.o.schedule!;
      report.cpuMs = round((cpuNs - this.cpuAtStart) / 1e6);
      report.runQueueMs = round((waitingNs - this.waitingAtStart) / 1e6);
      if (!Number.isNaN(this.waitingAtPreviousEnd)) report.waitRunQueueMs = round((this.waitingAtStart - this.waitingAtPreviousEnd) / 1e6);
    }
    if (this.o.players) report.players = this.o.players();
    if (this.o.datagramsIn) report.datagramsIn = this.o.datagramsIn() - this.inAtPreviousEnd;
    if (this.o.datagramsOut) report.datagramsOut = this.o.datagramsOut() - this.outAtStart;
    this.suppressed = 0;
    const fromMs = Number.isNaN(this.previousEndedAt) ? this.startedAt : this.previousEndedAt;
    this.pending = { report, fromMs, toMs: now };
  }
}
