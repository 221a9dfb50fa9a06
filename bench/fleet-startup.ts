import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';

// Fleet start-up and memory, each measured against its bare baseline in the same run:
//   1. `hangar up` → N Ready game servers (the example SDK game server), against starting N bare
//      `node` processes that each bind a UDP socket, with the same concurrency.
//   2. RSS of one idle game server against one idle bare `node` process with a UDP socket.
//   3. RSS of the control plane (the `hangar up` process) while it runs N servers.
//   4. A running stack scaled from 0 to SCALE_TO Ready through the API, against the same baselines
//      with SCALE_TO processes.

/** Servers `hangar up` starts with (the issue's "npm start to 50 Ready"). */
const N = Number(process.env.BENCH_REPLICAS ?? 50);
/** Servers a running stack scales to from 0. */
const SCALE_TO = Number(process.env.BENCH_SCALE_TO ?? 100);
const CONCURRENCY = 32;
const ROOT = process.cwd();

interface Result {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}

/** A bare node process that binds a UDP socket and says so on stdout (one JSON line). */
export const BARE = `const s=require('node:dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>process.stdout.write('{"type":"up"}\\n'));setInterval(()=>{},1e6);`;
/** The same, after loading the Agones SDK: the floor for any game server that uses the SDK, with or without Hangar. */
export const BARE_WITH_SDK = `require('@google-cloud/agones-sdk');${BARE}`;

async function startBare(n: number, script: string): Promise<{ ms: number; children: ChildProcess[] }> {
  const limit = pLimit(CONCURRENCY);
  const children: ChildProcess[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, () =>
      limit(
        () =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
            children.push(child);
            child.once('error', reject);
            child.stdout!.once('data', () => resolve());
          }),
      ),
    ),
  );
  return { ms: performance.now() - t0, children };
}

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Summary {
  name: string;
  state: string;
  pid: number | null;
}

/** The Ready servers, or undefined while the API does not answer yet. */
export async function readyServers(api: string): Promise<Summary[] | undefined> {
  const res = await fetch(`${api}/v1/gameservers?state=Ready`).catch(() => undefined);
  if (!res?.ok) return undefined;
  return ((await res.json()) as { items: Summary[] }).items;
}

/** The simple example fleet, `n` replicas. */
const simpleFleet = (n: number) => readFileSync(path.join(ROOT, 'examples/simple-game-server/fleet.yaml'), 'utf8').replace(/replicas: \d+/, `replicas: ${n}`);

/**
 * `hangar up` on a temporary config whose only fleet is `fleetYaml`; resolves once `n` servers are
 * Ready. `portRange` keeps its game servers off the default 7000–8000 (another stack may be there).
 */
export async function startStack(n: number, fleetYaml = simpleFleet(n), portRange?: { min: number; max: number }): Promise<{ ms: number; stack: ChildProcess; api: string; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-bench-'));
  const fleets = path.join(dir, 'fleets');
  mkdirSync(fleets);
  writeFileSync(path.join(fleets, 'bench.yaml'), fleetYaml);
  const apiPort = 18000 + Math.floor(Math.random() * 1000);
  const config = path.join(dir, 'config.yaml');
  const ports = portRange ? `\n  port_range:\n    min: ${portRange.min}\n    max: ${portRange.max}` : '';
  writeFileSync(
    config,
    [
      'logging:\n  level: warn',
      `api:\n  port: ${apiPort}`,
      'admin:\n  port: 0',
      // Any free port: another stack on this machine may hold the lobby's default 8080.
      'lobby:\n  port: 0',
      `local:\n  fleets_dir: ${fleets}\n  state_dir: ${path.join(dir, 'state')}\n  start_concurrency: ${CONCURRENCY}\n  termination_grace_seconds: 2${ports}`,
    ].join('\n'),
  );
  const api = `http://127.0.0.1:${apiPort}`;
  const t0 = performance.now();
  // Records in the machine's PostgreSQL: an embedded PGlite's first start (seconds of CPU) would
  // be measured along with the fleet otherwise.
  const env = { ...process.env, DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test' };
  const stack = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'up', '--config', config], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  await untilReady(api, n, stack);
  return { ms: performance.now() - t0, stack, api, dir };
}

async function untilReady(api: string, n: number, stack: ChildProcess): Promise<void> {
  for (;;) {
    if (((await readyServers(api))?.length ?? -1) >= n) return;
    if (stack.exitCode !== null) throw new Error(`hangar up exited with ${stack.exitCode}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A running stack with an empty fleet, scaled to `n` through the API: ms until n are Ready. */
async function scaleFromZero(n: number): Promise<number> {
  const { stack, api, dir } = await startStack(0);
  try {
    const t0 = performance.now();
    const res = await fetch(`${api}/v1/fleets/simple/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas: n }) });
    if (!res.ok) throw new Error(`scale failed: ${res.status} ${await res.text()}`);
    await untilReady(api, n, stack);
    return performance.now() - t0;
  } finally {
    await stopStack(stack);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function stopStack(stack: ChildProcess): Promise<void> {
  const exited = new Promise((r) => stack.once('exit', r));
  stack.kill('SIGINT');
  await exited;
}

async function measureBare(script: string, n: number): Promise<{ ms: number; rss: number }> {
  const run = await startBare(n, script);
  await new Promise((r) => setTimeout(r, 1000));
  const rss = median(run.children.map((c) => rssKb(c.pid!)));
  for (const c of run.children) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  return { ms: run.ms, rss };
}

export async function benchFleetStartup(): Promise<Result[]> {
  // Baselines first, then Hangar, so none pays for another's leftovers.
  const bare = await measureBare(BARE, N);
  const sdk = await measureBare(BARE_WITH_SDK, N);

  const { ms, stack, api, dir } = await startStack(N);
  await new Promise((r) => setTimeout(r, 3000)); // idle: let start-up garbage be collected
  const servers = (await readyServers(api)) ?? [];
  const gsRss = median(servers.flatMap((s) => (s.pid ? [rssKb(s.pid)] : [])));
  const controlRss = rssKb(stack.pid!);
  await stopStack(stack);
  rmSync(dir, { recursive: true, force: true });

  return [
    { name: `hangar up → ${N} Ready game servers, vs ${N} bare node + UDP`, value: ms / 1000, unit: 's', baseline: bare.ms / 1000, ratio: ms / bare.ms },
    { name: `hangar up → ${N} Ready game servers, vs ${N} node + Agones SDK + UDP`, value: ms / 1000, unit: 's', baseline: sdk.ms / 1000, ratio: ms / sdk.ms },
    { name: 'RSS of one idle game server (median), vs bare node + UDP', value: gsRss / 1024, unit: 'MiB', baseline: bare.rss / 1024, ratio: gsRss / bare.rss },
    { name: 'RSS of one idle game server (median), vs node + Agones SDK + UDP', value: gsRss / 1024, unit: 'MiB', baseline: sdk.rss / 1024, ratio: gsRss / sdk.rss },
    { name: `RSS of the control plane with ${N} servers`, value: controlRss / 1024, unit: 'MiB' },
  ];
}

export async function benchScaleUp(): Promise<Result[]> {
  const bare = await measureBare(BARE, SCALE_TO);
  const sdk = await measureBare(BARE_WITH_SDK, SCALE_TO);
  const ms = await scaleFromZero(SCALE_TO);
  return [
    { name: `scale 0 → ${SCALE_TO} Ready, vs ${SCALE_TO} bare node + UDP`, value: ms / 1000, unit: 's', baseline: bare.ms / 1000, ratio: ms / bare.ms },
    { name: `scale 0 → ${SCALE_TO} Ready, vs ${SCALE_TO} node + Agones SDK + UDP`, value: ms / 1000, unit: 's', baseline: sdk.ms / 1000, ratio: ms / sdk.ms },
  ];
}

export function formatResults(results: Result[]): string {
  const rows = results.map((r) => `| ${r.name} | ${r.value.toFixed(2)} ${r.unit} | ${r.baseline === undefined ? '–' : `${r.baseline.toFixed(2)} ${r.unit}`} | ${r.ratio === undefined ? '–' : `${r.ratio.toFixed(2)}×`} |`);
  return ['| measure | Hangar | baseline (same run) | ratio |', '|---|---|---|---|', ...rows].join('\n');
}
