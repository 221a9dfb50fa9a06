import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { removeRedisKeys } from '../test/helpers/redis-keys.js';
import { benchJourney, formatJourney, MATCHMAKER_NODE_FLAGS } from './matchmaking-journey.js';
import type { ServicePlan, ServiceResult } from './matchmaking-service-main.js';

// Matchmaking (issue 6), every figure beside a baseline measured in the same run:
//
//   throughput  tickets a second formed into matches through the whole MatchmakingService
//               (submit → `matched` with a connect token, a real Allocator over a memory store of
//               Ready servers), each process in a fresh child: the memory queue; Redis queue and
//               events (one process, then two sharing them); and the memory queue fed at a fixed
//               rate. Baseline: makeMatches alone over the same tickets in one call (its ceiling).
//   journey     `hangar up` with an arena fleet, then `hangar bots --matchmake`: time to match
//               and to UDP-connected (bench/matchmaking-journey.ts).
//
//   npx tsc -p tsconfig.json && node dist/bench/matchmaking.js
// Knobs: BENCH_MM_PARTS=throughput,journey · BENCH_MM_QUEUE (team-deathmatch, a queue of
// config/matchmaking.yaml) · BENCH_MM_TICKETS (30000) · BENCH_MM_RATE (10000, tickets/s of the
// fixed-rate run) · BENCH_MM_REDIS_RATE (3000, the same over Redis) · BENCH_MM_RATE_SECONDS (10) ·
// BENCH_MM_PLAYERS (200, journey bots) · BENCH_MM_JOURNEY_ROUNDS (3) · BENCH_REDIS_URL ·
// BENCH_MM_BACKENDS=memory,redis (the throughput runs' queues; the baseline always runs) ·
// BENCH_MM_PROFILE=DIR (each throughput child runs with --cpu-prof, writing its profile into DIR as it exits).

const ROOT = process.cwd();
const env = process.env;

/** A comma-separated knob; a misspelt entry would silently run nothing, so it is refused by name. */
function listKnob(name: string, allowed: readonly string[]): string[] {
  const values = (env[name] ?? allowed.join(',')).split(',');
  const unknown = values.filter((v) => !allowed.includes(v));
  if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(', ')} (expected a comma-separated list of ${allowed.join(', ')})`);
  return values;
}

export const settings = {
  parts: listKnob('BENCH_MM_PARTS', ['throughput', 'journey']),
  backends: listKnob('BENCH_MM_BACKENDS', ['memory', 'redis']),
  queue: env.BENCH_MM_QUEUE ?? 'team-deathmatch',
  tickets: Number(env.BENCH_MM_TICKETS ?? 30_000),
  rate: Number(env.BENCH_MM_RATE ?? 10_000),
  rateSeconds: Number(env.BENCH_MM_RATE_SECONDS ?? 10),
  redisRate: Number(env.BENCH_MM_REDIS_RATE ?? 3000),
  redis: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  intervalMs: 250,
  seed: 7,
  profileDir: env.BENCH_MM_PROFILE,
};

const f = (n: number) => Math.round(n).toLocaleString('en');
const log = (line: string) => process.stderr.write(`[matchmaking bench] ${line}\n`);

interface Child {
  ready: Promise<void>;
  result: Promise<ServiceResult>;
  go(): void;
}


function profileFlags(): string[] {
  return settings.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(settings.profileDir)}`] : [];
}

function child(plan: ServicePlan): Child {
  const proc = fork(path.join(ROOT, 'dist/bench/matchmaking-service-main.js'), [JSON.stringify(plan)], { cwd: ROOT, execArgv: ['--expose-gc', ...MATCHMAKER_NODE_FLAGS, ...profileFlags()], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const result = new Promise<ServiceResult>((resolve, reject) => {
    proc.on('message', (m: { type: string }) => (m.type === 'ready' ? ready() : resolve(m as ServiceResult)));
    proc.once('exit', (code) => reject(new Error(`matchmaking bench child exited with ${code} before its result`)));
  });
  return { ready: readyP, result, go: () => proc.send('go') };
}

/** Runs `processes` children over one workload (split between them) and merges what they saw. */
async function measure(base: Omit<ServicePlan, 'part' | 'prefix'>, processes = 1): Promise<ServiceResult> {
  const prefix = `hangar-bench-mm-${randomUUID()}`;
  const children = Array.from({ length: processes }, (_, index) => child({ ...base, prefix, part: { index, of: processes } }));
  try {
    if (base.mode === 'service') {
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.go();
    }
    const results = await Promise.all(children.map((c) => c.result));
    return merge(results);
  } finally {
    if (base.backend === 'redis') {
      const redis = new Redis(settings.redis);
      await removeRedisKeys(redis, prefix);
      await redis.quit();
    }
  }
}

function merge(results: ServiceResult[]): ServiceResult {
  if (results.length === 1) return results[0]!;
  const sum = (pick: (r: ServiceResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  const worst = (pick: (r: ServiceResult) => number) => Math.max(...results.map(pick));
  return {
    type: 'result',
    submitted: sum((r) => r.submitted),
    matchedTickets: sum((r) => r.matchedTickets),
    matchedPlayers: sum((r) => r.matchedPlayers),
    matchIds: [...new Set(results.flatMap((r) => r.matchIds))],
    startedAt: Math.min(...results.map((r) => r.startedAt)),
    submittedAt: worst((r) => r.submittedAt),
    lastMatchedAt: worst((r) => r.lastMatchedAt),
    cpuMs: sum((r) => r.cpuMs),
    heapKept: sum((r) => r.heapKept),
    // Per-process percentiles: the worse of the two is reported.
    timeToMatch: { p50: worst((r) => r.timeToMatch.p50), p99: worst((r) => r.timeToMatch.p99), max: worst((r) => r.timeToMatch.max) },
    badTokens: sum((r) => r.badTokens),
    submitErrors: sum((r) => r.submitErrors),
  };
}

export interface ThroughputRow {
  name: string;
  result: ServiceResult;
  /** Fed at this many tickets a second (its tickets/s is that at best, not a ceiling); 0: all at once. */
  rate: number;
  /** Matched tickets a second: from the first submit to the last `matched` (the ceiling: per call). */
  perSecond: number;
}

export async function benchThroughput(): Promise<ThroughputRow[]> {
  const base = { queue: settings.queue, tickets: settings.tickets, seed: settings.seed, redisUrl: settings.redis, intervalMs: settings.intervalMs, rate: 0, warmupTickets: 3000 } as const;
  const atRate = (backend: 'memory' | 'redis', rate: number) => ({
    name: `MatchmakingService, ${backend === 'memory' ? 'memory queue' : 'Redis queue + events'}, 1 process, ${f(rate)} tickets/s arriving for ${settings.rateSeconds} s`,
    plan: { ...base, mode: 'service' as const, backend, rate, tickets: rate * settings.rateSeconds },
  });
  const runs: Array<{ name: string; plan: Omit<ServicePlan, 'part' | 'prefix'>; processes?: number }> = [
    { name: 'match function alone, one call (baseline)', plan: { ...base, mode: 'function', backend: 'memory' } },
    { name: 'MatchmakingService, memory queue, 1 process, all at once', plan: { ...base, mode: 'service', backend: 'memory' } },
    atRate('memory', settings.rate),
    { name: 'MatchmakingService, Redis queue + events, 1 process, all at once', plan: { ...base, mode: 'service', backend: 'redis' } },
    { name: 'MatchmakingService, Redis queue + events, 2 processes, all at once', plan: { ...base, mode: 'service', backend: 'redis' }, processes: 2 },
    atRate('redis', settings.redisRate),
  ];
  const rows: ThroughputRow[] = [];
  for (const r of runs.filter((r) => r.plan.mode === 'function' || settings.backends.includes(r.plan.backend))) {
    log(r.name);
    const result = await measure(r.plan, r.processes);
    const seconds = r.plan.mode === 'function' ? result.cpuMs / 1000 : (result.lastMatchedAt - result.startedAt) / 1000;
    rows.push({ name: r.name, result, perSecond: result.matchedTickets / seconds, rate: r.plan.rate });
  }
  return rows;
}

/** The ratio to the match function; for a fixed-rate run whether it kept up with the arrivals instead. */
function vsCeiling(ratio: number, rate: number, r: ServiceResult): string {
  if (!rate) return `${ratio.toFixed(3)}×`;
  const planned = r.submitted / rate;
  const took = (r.lastMatchedAt - r.startedAt) / 1000;
  // The submitter shares the service's thread: a saturated service slows the arrivals themselves.
  return took <= planned * 1.05 ? 'kept up' : `**fell behind**: ${planned.toFixed(0)} s of arrivals took ${took.toFixed(0)} s`;
}

export function formatThroughput(rows: ThroughputRow[]): string {
  const ceiling = rows[0]!.perSecond;
  const out = [
    `Queue \`${settings.queue}\` of config/matchmaking.yaml; ${f(settings.tickets)} tickets unless stated (matchmaker/ticket-workload.ts: five regions, skill 1500 ± 350, parties up to the queue's largest); interval ${settings.intervalMs} ms.\n`,
    '| run | tickets/s formed into matches | vs match function | tickets (players) matched | matches | time to match p50 / p99 | CPU per 1,000 tickets | heap the service keeps per matched ticket |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const { name, result: r, perSecond, rate } of rows) {
    const service = r.startedAt !== 0;
    const ttm = service ? `${r.timeToMatch.p50.toFixed(0)} / ${r.timeToMatch.p99.toFixed(0)} ms` : '–';
    const faults = r.badTokens || r.submitErrors ? ` (${r.badTokens} bad tokens, ${r.submitErrors} submits refused)` : '';
    const heap = service ? `${f(r.heapKept / r.matchedTickets)} B` : '–';
    out.push(`| ${name} | ${f(perSecond)} | ${vsCeiling(perSecond / ceiling, rate, r)} | ${f(r.matchedTickets)} of ${f(r.submitted)} (${f(r.matchedPlayers)})${faults} | ${f(r.matchIds.length)} | ${ttm} | ${((r.cpuMs / r.matchedTickets) * 1000).toFixed(0)} ms | ${heap} |`);
  }
  return out.join('\n');
}

export async function benchMatchmaking(): Promise<string> {
  const out: string[] = [];
  if (settings.parts.includes('throughput')) out.push(formatThroughput(await benchThroughput()));
  if (settings.parts.includes('journey')) out.push(formatJourney(await benchJourney()));
  return out.join('\n\n');
}

// Run only as a script, so bench/run.ts can import benchMatchmaking.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`# matchmaking · ${new Date().toISOString()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? '?'}\n`);
  benchMatchmaking().then(
    (text) => console.log(text),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
