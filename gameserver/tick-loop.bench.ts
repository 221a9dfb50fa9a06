import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { percentiles, TickLoop, type Percentiles, type TickLoopOptions, type TickStats } from './tick-loop.js';

// Tick timing: TickLoop against a plain setInterval at the same rate, in the same run.
//
//   npm run build && node dist/gameserver/tick-loop.bench.js [--seconds 20] [--rate 30]
//     [--work-ms 0] [--busy] [--strategies]
//
// By default TickLoop (as configured by default) and setInterval run side by side for the same
// seconds, so both see the same machine noise. --strategies compares the ways to wait instead, one
// after the other with each one's CPU time: timers only (spinMs 0), a timer then event-loop turns
// for the last 1 ms, the same for the last 2 ms back to back, and with sleeps between the turns (the
// default), and setInterval. --busy keeps
// another core busy (a worker thread spinning), as a game server shares its machine. --work-ms
// burns that long in every tick (side by side, setInterval's work delays TickLoop's and the other
// way round: use it with --strategies).
// Lateness is the start of each tick minus its fixed-schedule time (start + n·period); setInterval's
// is measured against the same schedule, so negative values mean it ran early (it drifts both ways).

interface VariantResult {
  name: string;
  ticks: number;
  lateness: Percentiles;
  /** Actual time of the last tick minus its scheduled time. */
  driftEndMs: number;
  /** The largest |actual − scheduled| of any tick in the run. */
  driftMaxMs: number;
  /** CPU time of the whole process during the run (per variant only with --strategies). */
  cpuPercent: number;
  eventLoopDelayMs?: TickStats['eventLoopDelayMs'];
}

interface Variant {
  name: string;
  start(): void;
  stop(): Omit<VariantResult, 'name' | 'cpuPercent'>;
}

function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function tickLoopVariant(name: string, options: Omit<TickLoopOptions, 'onTick'>, workMs: number): Variant {
  const loop = new TickLoop({ ...options, onTick: () => burn(workMs) });
  return {
    name,
    start: () => loop.start(),
    stop() {
      loop.stop();
      const s = loop.stats();
      // TickLoop never runs a tick early, so its largest drift is its largest lateness.
      return { ticks: s.ticks, lateness: s.latenessMs, driftEndMs: s.driftMs, driftMaxMs: s.latenessMs.max, eventLoopDelayMs: s.eventLoopDelayMs };
    },
  };
}

/** The naive loop: setInterval(period). Its callbacks are measured against the same fixed schedule. */
function setIntervalVariant(rateHz: number, workMs: number): Variant {
  const period = 1000 / rateHz;
  const lateness: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let start = 0;
  return {
    name: 'setInterval',
    start() {
      start = performance.now();
      timer = setInterval(() => {
        lateness.push(performance.now() - (start + (lateness.length + 1) * period));
        burn(workMs);
      }, period);
    },
    stop() {
      clearInterval(timer);
      return { ticks: lateness.length, lateness: percentiles(lateness), driftEndMs: lateness.at(-1) ?? 0, driftMaxMs: Math.max(0, ...lateness.map(Math.abs)) };
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(variants: Variant[], seconds: number): Promise<VariantResult[]> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const v of variants) v.start();
  await sleep(seconds * 1000);
  const results = variants.map((v) => ({ name: v.name, ...v.stop() }));
  const cpu = process.cpuUsage(cpu0);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  return results.map((r) => ({ ...r, cpuPercent }));
}

function busyCore(): Worker {
  return new Worker('for (;;) {}', { eval: true });
}

export async function benchTickLoop(options: { seconds: number; rateHz: number; workMs: number; busy: boolean; strategies: boolean }): Promise<VariantResult[]> {
  const { seconds, rateHz, workMs } = options;
  const worker = options.busy ? busyCore() : undefined;
  try {
    if (!options.strategies) return await run([tickLoopVariant('TickLoop (defaults)', { rateHz }, workMs), setIntervalVariant(rateHz, workMs)], seconds);
    const results: VariantResult[] = [];
    for (const v of [
      tickLoopVariant('TickLoop, timer only (spinMs 0)', { rateHz, spinMs: 0, monitorEventLoop: false }, workMs),
      tickLoopVariant('TickLoop, timer + last 1 ms on turns', { rateHz, spinMs: 1, spinSleepMs: 0, monitorEventLoop: false }, workMs),
      tickLoopVariant('TickLoop, timer + last 2 ms on turns back to back', { rateHz, spinMs: 2, spinSleepMs: 0, monitorEventLoop: false }, workMs),
      tickLoopVariant('TickLoop, timer + last 2 ms on turns, asleep between them (default)', { rateHz, spinMs: 2, monitorEventLoop: false }, workMs),
      setIntervalVariant(rateHz, workMs),
    ]) {
      results.push(...(await run([v], seconds)));
    }
    return results;
  } finally {
    await worker?.terminate();
  }
}

function formatTable(results: VariantResult[], withCpu: boolean): string {
  const f = (x: number) => x.toFixed(3);
  const head = `| variant | ticks | lateness p50 ms | p99 ms | max ms | drift at end ms | max abs drift ms |${withCpu ? ' process CPU % |' : ''}`;
  const rule = `|---|---|---|---|---|---|---|${withCpu ? '---|' : ''}`;
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.ticks} | ${f(r.lateness.p50)} | ${f(r.lateness.p99)} | ${f(r.lateness.max)} | ${f(r.driftEndMs)} | ${f(r.driftMaxMs)} |${withCpu ? ` ${r.cpuPercent.toFixed(1)} |` : ''}`,
  );
  const eld = results
    .filter((r) => r.eventLoopDelayMs)
    .map((r) => `${r.name}: event-loop delay p50 ${f(r.eventLoopDelayMs!.p50)} ms, p99 ${f(r.eventLoopDelayMs!.p99)} ms, max ${f(r.eventLoopDelayMs!.max)} ms`);
  return [head, rule, ...rows, ...(eld.length ? ['', ...eld] : [])].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      rate: { type: 'string', default: '30' },
      'work-ms': { type: 'string', default: '0' },
      busy: { type: 'boolean', default: false },
      strategies: { type: 'boolean', default: false },
    },
  });
  const options = {
    seconds: Number(values.seconds),
    rateHz: Number(values.rate),
    workMs: Number(values['work-ms']),
    busy: values.busy,
    strategies: values.strategies,
  };
  console.log(
    `# tick timing · ${new Date().toISOString()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? '?'} · ` +
      `${options.rateHz} Hz · ${options.seconds} s · work ${options.workMs} ms/tick · ${options.busy ? 'other core busy' : 'no extra load'} · ${options.strategies ? 'strategies, one after the other' : 'side by side'}`,
  );
  console.log(formatTable(await benchTickLoop(options), options.strategies));
}

// Run only as a script, so bench/run.ts can import benchTickLoop.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
