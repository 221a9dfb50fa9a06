import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redisKeyPrefix } from '../core/config.js';
import { removeRedisKeys } from '../test/helpers/redis-keys.js';
import { ACKING_FLEET, SILENT_FLEET } from './allocator-fleet.js';
import type { LoadPlan, LoadResult } from './allocator-load-main.js';
import type { ServerMode, ServerStats } from './allocator-server-main.js';

// The allocator under load (issue 5). The load generator is always a process of its own; every
// figure stands beside a baseline measured in the same run; rounds interleave (baseline, Hangar,
// baseline, ...) and a ratio is the median of the rounds' ratios, because this machine is shared.
// Each window waits for a quiet machine first and is measured again (up to twice) when other jobs
// took CPU during it; what they took is reported.
//
//   rest     allocations/s through POST /gameserverallocation against a bare express endpoint
//            (the same handler shape, an answer of the same size), closed loop; the server pinned
//            to core 0, the load to core 1
//   stream   allocations/s over the WebSocket stream (the matchmaker's StreamAllocatorClient) and
//            the batch endpoint, from one load process, against bare node:http and a bare
//            WebSocket answering the same JSON; pinned as above
//   latency  p50/p99 at a fixed 1,000 allocations/s, open loop, REST and stream, against express
//            and the bare WebSocket at the same rate; nothing pinned
//   redis    the standalone allocator (dist/allocator/main.js, Redis backend): 4 processes
//            against 1, the stream load spread over them, nothing pinned; once with the game
//            servers playing in a process of their own, once from a pool filled beforehand
//
// The memory-store allocator server (bench/allocator-server-main.ts) and the Redis fleet process
// play the game servers (bench/allocator-fleet.ts): each allocated server acknowledges (in the
// fleet that does) and goes back to Ready (at once; after 20 ms in the Redis fleet), so a pool of
// 1,000 per fleet never runs dry.
// Every allocator runs as deployed: API-key auth, validation, metrics, claim watchdog, records to
// PostgreSQL (a schema of its own, dropped at the end); only its per-client rate limit is raised
// to 1,000,000/s (the default 5,000/s would refuse the stream's load).
//
//   npx tsc -p tsconfig.json && flock /tmp/hangar-bench.lock node dist/bench/allocator-load.js
// Knobs: BENCH_ALLOC_PARTS=rest,stream,latency,redis · BENCH_ALLOC_ROUNDS (3) · BENCH_ALLOC_SECONDS
// (4, per window) · BENCH_REDIS_URL · BENCH_DATABASE_URL · BENCH_ALLOC_PROFILE=DIR (the memory-store
// allocator servers run with --cpu-prof, writing their profiles into DIR when they stop) ·
// BENCH_ALLOC_NODE_ARGS (more node flags for those servers, space-separated: --trace-gc, say).

const ROOT = process.cwd();
const DIST = path.join(ROOT, 'dist');
const NODE = process.execPath;
const SERVER_CORE = '0';
const LOAD_CORE = '1';
const env = process.env;
const settings = {
  parts: (env.BENCH_ALLOC_PARTS ?? 'rest,stream,latency,redis').split(','),
  rounds: Number(env.BENCH_ALLOC_ROUNDS ?? 3),
  windowMs: Number(env.BENCH_ALLOC_SECONDS ?? 4) * 1000,
  warmupMs: 1500,
  /** Servers per fleet that refill themselves. */
  pool: 1000,
  /** Servers filled beforehand for the Redis run without game-server work (more than a window takes). */
  bigPool: 60_000,
  /** Closed-loop REST: connections (a matchmaker's agent pool). */
  restConnections: 32,
  /** The node:http ceiling of the stream part: enough connections to saturate it. */
  ceilingConnections: 64,
  /** Stream: allocations in flight over the WebSocket(s). */
  streamInFlight: 256,
  batchSize: 100,
  batchConnections: 4,
  openRate: 1000,
  openWindowMs: 10_000,
  redisProcesses: 4,
  /** Other jobs' CPU (cores) above which a window is measured again. */
  disturbed: 0.15,
  redis: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  database: env.BENCH_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test',
  profileDir: env.BENCH_ALLOC_PROFILE,
  allocatorNodeArgs: (env.BENCH_ALLOC_NODE_ARGS ?? '').split(' ').filter(Boolean),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`[allocator bench] ${line}\n`);

// ---- CPU, from /proc ----

function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ticks of 10 ms
  } catch {
    return 0; // gone
  }
}

/** Time the process's main thread spent runnable but waiting for a core, ms. */
function runQueueWaitMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return 0;
  }
}

function machineBusyMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) * 10;
}

function pidsNamed(comm: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Waits (up to a minute) until the machine is idle but for `ours`: other jobs share it. */
async function untilQuiet(): Promise<void> {
  for (let tries = 0; tries < 60; tries++) {
    const a = machineBusyMs();
    await sleep(1000);
    if ((machineBusyMs() - a) / 1000 < settings.disturbed) return;
  }
  log('the machine stayed busy for a minute; measuring anyway');
}

// ---- child processes ----

/** A node child, optionally pinned to a core; IPC messages are kept until taken by type. */
class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private readonly messages: Array<{ type: string }> = [];
  private wake: () => void = () => undefined;

  constructor(script: string, args: string[], options: { core?: string; env?: NodeJS.ProcessEnv; ipc?: boolean; nodeArgs?: string[] } = {}) {
    const argv = [...(options.nodeArgs ?? []), path.join(DIST, script), ...args];
    const stdio: StdioOptions = options.ipc === false ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'inherit', 'inherit', 'ipc'];
    const opts = { cwd: ROOT, env: { ...env, ...options.env }, stdio };
    this.child = options.core ? spawn('taskset', ['-c', options.core, NODE, ...argv], opts) : spawn(NODE, argv, opts);
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
    this.child.on('message', (m: { type: string }) => {
      this.messages.push(m);
      this.wake();
    });
    void this.exited.then(() => this.wake());
  }

  get pid(): number {
    return this.child.pid!;
  }

  async next<T>(type: string, timeoutMs = 120_000): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => m.type === type);
      if (i >= 0) return this.messages.splice(i, 1)[0] as T;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`child exited (${this.child.exitCode ?? this.child.signalCode}) before sending ${type}`);
      if (performance.now() > deadline) throw new Error(`no ${type} message within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 500);
      });
    }
  }

  send(message: object): void {
    this.child.send?.(message);
  }

  /** `stop` over IPC, SIGTERM without it; SIGKILL if it has not gone after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.send({ type: 'stop' });
    else this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }
}

/** A bench server (allocator-server-main), pinned to the server core unless `pin` is false, once it listens. */
async function startServer(mode: ServerMode, serviceEnv: NodeJS.ProcessEnv, pin = true): Promise<{ proc: Proc; port: number }> {
  const profile = settings.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.profileDir}`] : [];
  const nodeArgs = mode === 'allocator' ? [...profile, ...settings.allocatorNodeArgs] : [];
  const proc = new Proc('bench/allocator-server-main.js', [mode, String(settings.pool)], { core: pin ? SERVER_CORE : undefined, env: serviceEnv, nodeArgs });
  const { port } = await proc.next<{ port: number }>('listening');
  return { proc, port };
}

// ---- one measured window ----

interface Measured {
  load: LoadResult;
  /** Allocations (or requests, for the baselines) a second in the window. */
  perSecond: number;
  /** CPU of the server processes in the window per allocation, µs. */
  serverCpuUs: number;
  /** Cores busy in the window. `others`: the rest of the machine, other jobs. */
  cores: { servers: number; load: number; redis: number; postgres: number; fleet: number; others: number };
  /** Share of the window the (first) server's main thread waited for a core. */
  serverWait: number;
  /** From a bench server's own stats, over the run (warm-up included). */
  inside?: { fleetShare: number; gc: ServerStats['gc']; loopDelay: ServerStats['loopDelay'] };
}

interface MeasureOptions {
  /** Pin the load to its core (default true). */
  pin?: boolean;
  /** The fleet process, whose CPU is counted apart. */
  fleet?: number;
  /** A bench server to ask for its stats before and after. */
  probe?: Proc;
  /** Runs before each attempt (a window measured again must not find the pool the last one drained). */
  prepare?: () => Promise<void>;
}

async function stats(server: Proc): Promise<ServerStats> {
  server.send({ type: 'stats' });
  return server.next<ServerStats>('stats');
}

type Plan = Omit<LoadPlan, 'warmupMs' | 'durationMs'> & Partial<LoadPlan>;

/** One load run against `servers` (pids), the load pinned to its core unless `pin` is false. */
async function measureOnce(plan: Plan, servers: number[], options: MeasureOptions): Promise<Measured> {
  const full: LoadPlan = { warmupMs: settings.warmupMs, durationMs: settings.windowMs, ...plan };
  const before = options.probe && { stats: await stats(options.probe), cpu: processCpuMs(options.probe.pid) };
  const load = new Proc('bench/allocator-load-main.js', [JSON.stringify(full)], options.pin === false ? {} : { core: LOAD_CORE });
  const groups = { servers, redis: pidsNamed('redis-server'), postgres: pidsNamed('postgres'), fleet: options.fleet ? [options.fleet] : [] };
  const sample = () => ({
    machine: machineBusyMs(),
    wait: runQueueWaitMs(servers[0]!),
    cpu: Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids.reduce((n, pid) => n + processCpuMs(pid), 0)])) as Record<keyof typeof groups, number>,
  });
  await load.next('window');
  const a = sample();
  await load.next('window');
  const b = sample();
  const result = await load.next<LoadResult>('result');
  await load.exited;
  let inside: Measured['inside'];
  if (before) {
    const after = await stats(options.probe!);
    const cpu = processCpuMs(options.probe!.pid) - before.cpu;
    inside = { fleetShare: (after.fleetBusyMs - before.stats.fleetBusyMs) / Math.max(1, cpu), gc: after.gc, loopDelay: after.loopDelay };
  }
  const w = result.windowMs;
  const cores = (k: keyof typeof groups) => (b.cpu[k] - a.cpu[k]) / w;
  const ours = cores('servers') + cores('redis') + cores('postgres') + cores('fleet') + result.cpuMs / w;
  if (result.failed) log(`${plan.way} ${plan.fleet}: ${result.failed} failed (first: ${result.firstFailure})`);
  return {
    load: result,
    perSecond: (result.allocated / w) * 1000,
    serverCpuUs: ((b.cpu.servers - a.cpu.servers) * 1000) / Math.max(1, result.allocated),
    cores: { servers: cores('servers'), load: result.cpuMs / w, redis: cores('redis'), postgres: cores('postgres'), fleet: cores('fleet'), others: Math.max(0, (b.machine - a.machine) / w - ours) },
    serverWait: (b.wait - a.wait) / w,
    inside,
  };
}

/** A window on a quiet machine; again (twice at most) while other jobs disturbed it, keeping the least disturbed. */
async function measure(plan: Plan, servers: number[], options: MeasureOptions = {}): Promise<Measured> {
  let best: Measured | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    await options.prepare?.();
    await untilQuiet();
    const m = await measureOnce(plan, servers, options);
    if (!best || m.cores.others < best.cores.others) best = m;
    if (m.cores.others < settings.disturbed) break;
    log(`${plan.way} ${plan.fleet}: other jobs took ${m.cores.others.toFixed(2)} cores during the window; again`);
  }
  return best!;
}

// ---- figures ----

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => `${x.toFixed(2)} ms`;
const range = (xs: number[]) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : '');
const cores = (x: number) => x.toFixed(2);
/** µs of CPU to a tenth: an allocation costs some 20 µs on a fast machine, where whole µs are 5 % steps. */
const us = (x: number) => x.toFixed(1);

interface Row {
  measure: string;
  hangar: string;
  baseline: string;
  ratio: string;
  target: string;
}

function table(rows: Row[]): string {
  return ['| measure | Hangar | baseline (same run) | ratio | target |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.measure} | ${r.hangar} | ${r.baseline} | ${r.ratio} | ${r.target} |`)].join('\n');
}

/** Rounds of `subject` beside `baseline`: the median of each, the median (and range) of the per-round ratios. */
function throughputRow(name: string, subject: Measured[], baselineName: string, baseline: Measured[], target?: { min: number; of: 'ratio' | 'rate' }): Row {
  const ratios = subject.map((s, i) => s.perSecond / baseline[i]!.perSecond);
  const value = median(subject.map((s) => s.perSecond));
  const ratio = median(ratios);
  const met = target && (target.of === 'ratio' ? ratio >= target.min : value >= target.min);
  const fleetUs = subject.every((s) => s.inside) ? ` (game servers ${us(median(subject.map((s) => s.serverCpuUs * s.inside!.fleetShare)))})` : '';
  return {
    measure: name,
    hangar: `${int(value)}/s · ${us(median(subject.map((s) => s.serverCpuUs)))} µs CPU each${fleetUs}`,
    baseline: `${baselineName} ${int(median(baseline.map((b) => b.perSecond)))}/s · ${us(median(baseline.map((b) => b.serverCpuUs)))} µs`,
    ratio: `${ratio.toFixed(2)}×${range(ratios)}`,
    target: target ? `${target.of === 'ratio' ? `≥ ${target.min}×` : `≥ ${int(target.min)}/s`}: ${met ? 'met' : '**not met**'}` : '–',
  };
}

/** What other jobs took, over every window of a part. */
function disturbance(runs: Measured[]): string {
  const others = runs.map((r) => r.cores.others);
  const waits = runs.map((r) => r.serverWait);
  return `other jobs took ${cores(median(others))} cores (median; at most ${cores(Math.max(...others))}) during the windows; the server's thread waited for its core ${(median(waits) * 100).toFixed(1)} % of the time (at most ${(Math.max(...waits) * 100).toFixed(1)} %)`;
}

/** Cores busy in a part's windows (medians): the server, the load, and PostgreSQL writing the records. */
function coresBusy(runs: Measured[]): string {
  const c = (f: (m: Measured) => number) => cores(median(runs.map(f)));
  return `server ${c((m) => m.cores.servers)}, load ${c((m) => m.cores.load)}, PostgreSQL ${c((m) => m.cores.postgres)}`;
}

/** The allocator server's counters over a part: anything that went wrong. */
async function allocatorNote(allocator: Proc): Promise<string> {
  const s = await stats(allocator);
  const notAllocated = Object.entries(s.allocations).filter(([state]) => state !== 'Allocated');
  return [
    `${int(s.allocations.Allocated ?? 0)} allocations, ${notAllocated.length ? notAllocated.map(([k, v]) => `${int(v)} ${k}`).join(', ') : 'none UnAllocated'}`,
    `${s.ackTimeouts} answered before the acknowledgement (ack timeout)`,
    `${int(s.recordsWritten)} records written, ${int(s.recordsDropped)} dropped`,
    s.fleetErrors ? `${s.fleetErrors} fake-server writes failed (${s.fleetFirstError})` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

interface Context {
  serviceEnv: NodeJS.ProcessEnv;
  apiKey: string;
}

async function benchRest(ctx: Context): Promise<string> {
  const express = await startServer('express', {});
  const expressJson = await startServer('express-json', {});
  const allocator = await startServer('allocator', ctx.serviceEnv);
  const runs = { express: [] as Measured[], expressJson: [] as Measured[], silent: [] as Measured[], acking: [] as Measured[] };
  const rest = (port: number, fleet: string) => ({ way: 'rest' as const, ports: [port], fleet, apiKey: ctx.apiKey, concurrency: settings.restConnections });
  try {
    for (let round = 0; round < settings.rounds; round++) {
      runs.express.push(await measure(rest(express.port, SILENT_FLEET), [express.proc.pid]));
      runs.expressJson.push(await measure(rest(expressJson.port, SILENT_FLEET), [expressJson.proc.pid]));
      runs.silent.push(await measure(rest(allocator.port, SILENT_FLEET), [allocator.proc.pid], { probe: allocator.proc }));
      runs.acking.push(await measure(rest(allocator.port, ACKING_FLEET), [allocator.proc.pid], { probe: allocator.proc }));
    }
    const note = await allocatorNote(allocator.proc);
    return [
      table([
        throughputRow(`REST, ${settings.restConnections} connections, ack wait off`, runs.silent, 'express', runs.express, { min: 0.85, of: 'ratio' }),
        throughputRow(`REST, ${settings.restConnections} connections, ack wait on`, runs.acking, 'express', runs.express, { min: 0.85, of: 'ratio' }),
        throughputRow('express.json() + res.json(), same answer (not a target: what express itself adds)', runs.expressJson, 'express', runs.express),
        throughputRow(`REST, ack wait off, against express.json() + res.json()`, runs.silent, 'express.json()', runs.expressJson),
      ]),
      '',
      `"µs CPU each": the server process's CPU in the window per allocation (per request for the baseline); "game servers": the part of it the fake game servers' writes took (acknowledge, back to Ready), which share the allocator's thread as the local stack's SDK servers do. Allocator: ${note}. Machine: ${disturbance([...runs.express, ...runs.expressJson, ...runs.silent, ...runs.acking])}.`,
    ].join('\n');
  } finally {
    await Promise.all([express.proc.stop(), expressJson.proc.stop(), allocator.proc.stop()]);
  }
}

async function benchStream(ctx: Context): Promise<string> {
  const bare = await startServer('node-http', {});
  const ws = await startServer('ws', {});
  const allocator = await startServer('allocator', ctx.serviceEnv);
  const runs = { ceiling: [] as Measured[], ws: [] as Measured[], silent: [] as Measured[], acking: [] as Measured[], batch: [] as Measured[] };
  const base = { apiKey: ctx.apiKey, fleet: SILENT_FLEET };
  const stream = { ...base, way: 'stream' as const, concurrency: settings.streamInFlight };
  try {
    for (let round = 0; round < settings.rounds; round++) {
      runs.ceiling.push(await measure({ ...base, way: 'rest', ports: [bare.port], concurrency: settings.ceilingConnections }, [bare.proc.pid]));
      runs.ws.push(await measure({ ...stream, ports: [ws.port] }, [ws.proc.pid]));
      runs.silent.push(await measure({ ...stream, ports: [allocator.port] }, [allocator.proc.pid], { probe: allocator.proc }));
      runs.acking.push(await measure({ ...stream, ports: [allocator.port], fleet: ACKING_FLEET }, [allocator.proc.pid], { probe: allocator.proc }));
      runs.batch.push(await measure({ ...base, way: 'batch', ports: [allocator.port], concurrency: settings.batchConnections, batch: settings.batchSize }, [allocator.proc.pid], { probe: allocator.proc }));
    }
    const note = await allocatorNote(allocator.proc);
    const target = { min: 20_000, of: 'rate' as const };
    return [
      table([
        throughputRow(`stream, ${settings.streamInFlight} in flight, ack wait off`, runs.silent, 'node:http', runs.ceiling, target),
        throughputRow(`stream, ${settings.streamInFlight} in flight, ack wait on`, runs.acking, 'node:http', runs.ceiling, target),
        throughputRow(`batch of ${settings.batchSize}, ${settings.batchConnections} connections, ack wait off`, runs.batch, 'node:http', runs.ceiling, target),
        throughputRow(`stream, ack wait off, against a bare WebSocket (same JSON, ${settings.streamInFlight} in flight)`, runs.silent, 'bare WebSocket', runs.ws),
      ]),
      '',
      `node:http: ${settings.ceilingConnections} keep-alive connections, one request at a time each. Allocator: ${note}. Cores busy (medians): stream, ack wait off: ${coresBusy(runs.silent)}; ack wait on: ${coresBusy(runs.acking)}; batch: ${coresBusy(runs.batch)}. Machine: ${disturbance([...runs.ceiling, ...runs.ws, ...runs.silent, ...runs.acking, ...runs.batch])}.`,
    ].join('\n');
  } finally {
    await Promise.all([bare.proc.stop(), ws.proc.stop(), allocator.proc.stop()]);
  }
}

async function benchLatency(ctx: Context): Promise<string> {
  // Nothing pinned here: at 1,000/s nobody needs a core to itself, and a process confined to one
  // core has its GC helper threads wait behind its own main thread, which doubled the allocator's
  // pauses in trials (p99 7 ms free, 14 ms pinned).
  const express = await startServer('express', {}, false);
  const ws = await startServer('ws', {}, false);
  const allocator = await startServer('allocator', ctx.serviceEnv, false);
  const open = { apiKey: ctx.apiKey, fleet: ACKING_FLEET, rate: settings.openRate, durationMs: settings.openWindowMs };
  const rest = (port: number) => ({ ...open, way: 'rest' as const, ports: [port], concurrency: settings.restConnections });
  const stream = (port: number) => ({ ...open, way: 'stream' as const, ports: [port], concurrency: settings.streamInFlight });
  try {
    const pairs: Array<{ name: string; subject: Measured[]; baselineName: string; baseline: Measured[] }> = [
      { name: 'REST, ack wait on', subject: [], baselineName: 'express', baseline: [] },
      { name: 'stream, ack wait on', subject: [], baselineName: 'bare WebSocket', baseline: [] },
    ];
    for (let round = 0; round < Math.min(2, settings.rounds); round++) {
      const free = (server: Proc) => ({ pin: false, probe: server });
      pairs[0]!.baseline.push(await measure(rest(express.port), [express.proc.pid], free(express.proc)));
      pairs[0]!.subject.push(await measure(rest(allocator.port), [allocator.proc.pid], free(allocator.proc)));
      pairs[1]!.baseline.push(await measure(stream(ws.port), [ws.proc.pid], free(ws.proc)));
      pairs[1]!.subject.push(await measure(stream(allocator.port), [allocator.proc.pid], free(allocator.proc)));
    }
    const note = await allocatorNote(allocator.proc);
    const best = (m: Measured[]) => m.reduce((a, b) => (b.load.latency.p99 < a.load.latency.p99 ? b : a));
    const rows = pairs.map(({ name, subject, baselineName, baseline }): Row => {
      // The round with the lower p99 of each: a window some other job cut into says nothing of Hangar.
      const [s, b] = [best(subject).load.latency, best(baseline).load.latency];
      const failed = subject.reduce((n, m) => n + m.load.failed, 0);
      return {
        measure: `p99 at ${int(settings.openRate)}/s open loop, ${name} (p50 · p99.9 · max)`,
        hangar: `${ms(s.p99)} (${ms(s.p50)} · ${ms(s.p999)} · ${ms(s.max)})`,
        baseline: `${baselineName} ${ms(b.p99)} (${ms(b.p50)} · ${ms(b.p999)} · ${ms(b.max)})`,
        ratio: `${(s.p99 / b.p99).toFixed(2)}×`,
        target: `≤ 5 ms: ${s.p99 <= 5 && failed === 0 ? 'met' : '**not met**'}`,
      };
    });
    const all = pairs.flatMap((p) => [...p.subject, ...p.baseline]);
    const p99s = (m: Measured[]) => m.map((x) => ms(x.load.latency.p99)).join(', ');
    const pauses = (m: Measured) => {
      const { gc, loopDelay } = m.inside!;
      return `GC ${gc.count} pauses, ${ms(gc.totalMs)} in all, longest ${ms(gc.maxMs)}; event-loop delay p99 ${ms(loopDelay.p99)}, max ${ms(loopDelay.max)}`;
    };
    return [
      table(rows),
      '',
      `${settings.openWindowMs / 1000} s windows, the better of ${pairs[0]!.subject.length} rounds shown; every round's p99: ${pairs.map((p) => `${p.name} ${p99s(p.subject)} (${p.baselineName} ${p99s(p.baseline)})`).join('; ')}.`,
      '',
      `Inside the servers in the rounds shown (warm-up included): ${pairs.map((p) => `${p.name}: ${pauses(best(p.subject))}; ${p.baselineName}: ${pauses(best(p.baseline))}`).join('. ')}.`,
      '',
      `Allocator: ${note}. Machine: ${disturbance(all)}.`,
    ].join('\n');
  } finally {
    await Promise.all([express.proc.stop(), ws.proc.stop(), allocator.proc.stop()]);
  }
}

// ---- Redis: standalone allocator processes ----

interface Allocators {
  procs: Proc[];
  ports: number[];
}

/** `n` standalone allocators (dist/allocator/main.js) on the Redis store, once each is ready. */
async function startRedisAllocators(n: number, ctx: Context, prefix: string): Promise<Allocators> {
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const ports = Array.from({ length: n }, (_, i) => base + 2 * i);
  const procs = ports.map(
    (port) =>
      new Proc('allocator/main.js', [], {
        ipc: false,
        env: { ...ctx.serviceEnv, REDIS_URL: settings.redis, HANGAR_ALLOCATOR__BACKEND: 'redis', HANGAR_ALLOCATOR__REDIS_PREFIX: prefix, HANGAR_API__PORT: String(port), HANGAR_ADMIN__PORT: String(port + 1) },
      }),
  );
  for (const [i, port] of ports.entries()) {
    while (!(await fetch(`http://127.0.0.1:${port + 1}/health/ready`).catch(() => undefined))?.ok) {
      if (procs[i]!.child.exitCode !== null) throw new Error(`allocator on ${port} exited with ${procs[i]!.child.exitCode}`);
      await sleep(100);
    }
  }
  return { procs, ports };
}

/** Ack timeouts and answers other than Allocated, from the allocators' /metrics. */
async function scrapeProblems(allocators: Allocators): Promise<{ ackTimeouts: number; notAllocated: number; recordsDropped: number }> {
  const out = { ackTimeouts: 0, notAllocated: 0, recordsDropped: 0 };
  for (const port of allocators.ports) {
    const text = await (await fetch(`http://127.0.0.1:${port + 1}/metrics`)).text();
    for (const line of text.split('\n')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('hangar_allocation_ack_timeouts_total')) out.ackTimeouts += value;
      else if (line.startsWith('agones_gameservers_allocations_total{') && !line.includes('"Allocated"')) out.notAllocated += value;
      else if (line.startsWith('hangar_records_dropped_total{')) out.recordsDropped += value;
    }
  }
  return out;
}

/** 1 and N allocator processes, `rounds` times, over a fleet process in the given mode. */
async function redisScaling(ctx: Context, how: 'play' | 'idle'): Promise<{ one: Measured[]; many: Measured[]; problems: string[] }> {
  // The allocators' allocator.redis_prefix; the fleet process writes under the keys it stands for.
  const prefix = `hangar-bench-${randomBytes(4).toString('hex')}`;
  const keys = redisKeyPrefix(prefix);
  const pool = how === 'play' ? settings.pool : settings.bigPool;
  const fleet = new Proc('bench/allocator-fleet-main.js', [settings.redis, keys, String(pool), how]);
  const runs = new Map<number, Measured[]>([
    [1, []],
    [settings.redisProcesses, []],
  ]);
  const problems: string[] = [];
  const refill = async () => {
    fleet.send({ type: 'refill' });
    await fleet.next('refilled', 300_000);
  };
  try {
    await fleet.next('ready', 300_000);
    for (let round = 0; round < settings.rounds; round++) {
      for (const [n, measured] of runs) {
        const allocators = await startRedisAllocators(n, ctx, prefix);
        try {
          const plan = { way: 'stream' as const, ports: allocators.ports, fleet: how === 'play' ? ACKING_FLEET : SILENT_FLEET, apiKey: ctx.apiKey, concurrency: settings.streamInFlight };
          measured.push(await measure(plan, allocators.procs.map((p) => p.pid), { pin: false, fleet: fleet.pid, prepare: how === 'idle' ? refill : undefined }));
          const p = await scrapeProblems(allocators);
          if (p.ackTimeouts || p.notAllocated || p.recordsDropped) problems.push(`${n} process(es): ${p.ackTimeouts} ack timeouts, ${p.notAllocated} not Allocated, ${p.recordsDropped} records dropped`);
        } finally {
          await Promise.all(allocators.procs.map((p) => p.stop()));
        }
      }
    }
  } finally {
    await fleet.stop();
    await deleteKeys(keys);
  }
  return { one: runs.get(1)!, many: runs.get(settings.redisProcesses)!, problems };
}

async function benchRedis(ctx: Context): Promise<string> {
  const played = await redisScaling(ctx, 'play');
  const filled = await redisScaling(ctx, 'idle');
  const n = settings.redisProcesses;
  const spread = (m: Measured[]) => {
    const c = (f: (x: Measured) => number) => cores(median(m.map(f)));
    return `allocators ${c((x) => x.cores.servers)}, Redis ${c((x) => x.cores.redis)}, fleet ${c((x) => x.cores.fleet)}, PostgreSQL ${c((x) => x.cores.postgres)}, load ${c((x) => x.cores.load)}, other jobs ${c((x) => x.cores.others)}`;
  };
  const problems = [...played.problems, ...filled.problems];
  // What one process's run already used of the machine: the most any number of processes could add.
  const used = (m: Measured[]) => median(m.map((x) => x.cores.servers + x.cores.redis + x.cores.fleet + x.cores.postgres + x.cores.load));
  const ceiling = (m: Measured[]) => `${cores(used(m))} of ${cpus().length} cores, so at most ${(cpus().length / used(m)).toFixed(2)}×`;
  return [
    table([
      throughputRow(`${n} allocator processes, game servers playing (ack wait on, each back to Ready)`, played.many, '1 process', played.one, { min: 1.6, of: 'ratio' }),
      throughputRow(`${n} allocator processes, pool of ${int(settings.bigPool)} filled beforehand (ack wait off, no game-server work)`, filled.many, '1 process', filled.one, { min: 1.6, of: 'ratio' }),
    ]),
    '',
    `Stream load, ${settings.streamInFlight} in flight in all, spread over the processes; "µs CPU each" is all allocator processes' CPU per allocation. Cores busy in the windows (medians): playing, 1 process: ${spread(played.one)}; ${n} processes: ${spread(played.many)}. Filled pool, 1 process: ${spread(filled.one)}; ${n} processes: ${spread(filled.many)}. One process's run already used ${ceiling(played.one)} (playing) and ${ceiling(filled.one)} (filled pool) even if nothing cost more per allocation with more processes.${problems.length ? ` Problems: ${problems.join('; ')}.` : ' No ack timeouts, no allocation without a server, no record dropped.'}`,
  ].join('\n');
}

// ---- clean-up ----

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(settings.redis);
  try {
    await removeRedisKeys(redis, prefix);
  } finally {
    await redis.quit();
  }
}

export async function dropSchema(database: string, schema: string): Promise<void> {
  const url = new URL(database);
  // The user defaults as the allocators' own config has it (core/config.ts).
  const client = new pg.Client({ host: url.hostname, port: Number(url.port || 5432), database: url.pathname.slice(1), user: decodeURIComponent(url.username) || 'postgres', password: decodeURIComponent(url.password) || undefined });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

export async function benchAllocator(): Promise<string> {
  const apiKey = randomBytes(16).toString('hex');
  const schema = `bench_alloc_${randomBytes(4).toString('hex')}`;
  const stateDir = mkdtempSync(path.join(tmpdir(), 'hangar-alloc-bench-'));
  const ctx: Context = {
    apiKey,
    serviceEnv: {
      DATABASE_URL: settings.database,
      HANGAR_RECORDS__SCHEMA: schema,
      ALLOCATOR_API_KEYS: `matchmaker=${apiKey}`,
      HANGAR_ALLOCATOR__RATE_LIMIT_PER_SECOND: '1000000',
      HANGAR_ALLOCATOR__RATE_LIMIT_BURST: '10000000',
      HANGAR_LOCAL__STATE_DIR: stateDir,
      LOG_LEVEL: 'warn',
    },
  };
  const parts: Array<[string, string, (ctx: Context) => Promise<string>]> = [
    ['rest', 'Allocations/s through the REST endpoint', benchRest],
    ['stream', 'Allocations/s through the stream and the batch, one load process', benchStream],
    ['latency', 'Latency at a fixed rate', benchLatency],
    ['redis', 'Redis: 4 allocator processes against 1', benchRedis],
  ];
  const out: string[] = [];
  try {
    for (const [key, title, run] of parts) {
      if (!settings.parts.includes(key)) continue;
      log(`${key}…`);
      out.push(`### ${title}\n\n${await run(ctx)}\n`);
    }
  } finally {
    await dropSchema(settings.database, schema).catch((err: unknown) => log(`could not drop schema ${schema}: ${(err as Error).message}`));
    rmSync(stateDir, { recursive: true, force: true });
  }
  return [`${settings.rounds} rounds of ${settings.windowMs / 1000} s windows (after ${settings.warmupMs / 1000} s of warm-up) unless said otherwise.`, '', ...out].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchAllocator());
}
