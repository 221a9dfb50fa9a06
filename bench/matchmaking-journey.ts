import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { requireKey } from '../core/secrets.js';
import type { GameServerSummary } from '../fleets/http-api.js';
import { ENCRYPTION_KEY_SECRET, HANGAR_SECRET, LocalSecrets } from '../fleets/local-secrets.js';
import { percentile, Swarm } from '../gameserver/bot/bot-swarm.js';
import type { MatchmadeSummary, Percentiles } from '../gameserver/bot/matchmade-swarm.js';
import { mintConnectToken } from '../gameserver/protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../gameserver/protocol/protocol-constants.js';
import { LobbyClient } from '../matchmaker/lobby/lobby-client.js';

// The player's journey as the issue states it, each part a process of its own: `hangar up` on a
// temporary config (its own state dir, game-port range and ports, records in its own PGlite as
// `npm start` keeps them, the matchmaker's default 250 ms interval and config/matchmaking.yaml),
// an arena fleet of REPLICAS servers (config/fleets/arena.yaml's template: a `players` List of
// 100, MAX_PLAYERS 100, MATCH_SECONDS short), then `hangar bots --matchmake --players N --json`:
// guest login, a ticket in `battle` (25 v 25), the matchmaker's server and connect token, UDP,
// play to the match's end. Reported as the bots command reports it: time to match and to
// connected, from each ticket's submit. Round 1 starts once the stack's records database is open
// (a new PGlite creates its cluster, seconds of a core, after the fleet is already Ready).
//
// Baselines in the same stack, after the rounds, from this process (as fresh as the bots'):
//   lobby  as many guests as bots, logged in, each sending one submit at once that the matchmaker
//          refuses (no region within the queue's limit): the WebSocket round trip under the same
//          burst, without queueing or matching;
//   UDP    as many bots joining the Ready servers at once with connect tokens minted here (50 to
//          a server, as the battles were): the handshake's own time under the same load.

const ROOT = process.cwd();
const CLI = path.join(ROOT, 'dist/cli/main.js');
/** The young generation the matchmaker's process is launched with (scripts/docker-entrypoint.sh, `npm start`). */
export const MATCHMAKER_NODE_FLAGS = ['--max-semi-space-size=64'];
const env = process.env;
export const journeySettings = {
  players: Number(env.BENCH_MM_PLAYERS ?? 200),
  rounds: Number(env.BENCH_MM_JOURNEY_ROUNDS ?? 3),
  queue: 'battle',
  replicas: 6,
  matchSeconds: 8,
  intervalMs: 250,
  /** Players a battle server gets: teams.count × teams.size of `battle` in config/matchmaking.yaml. */
  perServer: 50,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`[matchmaking journey] ${line}\n`);

interface Stack {
  proc: ChildProcess;
  api: string;
  lobby: string;
  admin: string;
  dir: string;
  stateDir: string;
}

/** The stack's own view of a round, from its /metrics: means, ms. */
interface StackTimes {
  /** Ticket created → `matched` published (hangar_matchmaker_time_to_match_seconds). */
  toMatch: number;
  /** One allocation, the game server's acknowledgement included. */
  allocation: number;
  /** Of which waiting for the acknowledgement. */
  ackWait: number;
}

export interface JourneyResult {
  /** From the fleet's servers Ready to the stack's records database open and migrated, s. */
  recordsOpenSeconds: number;
  rounds: Array<{ summary: MatchmadeSummary; wallSeconds: number; replacedSeconds: number; stack: StackTimes }>;
  /** Refused submits, ms from sending to the reply. */
  lobby: Percentiles & { answered: number };
  /** Direct connects, ms from join to connected. */
  udp: Percentiles & { connected: number };
}

const percentiles = (values: number[]): Percentiles => ({ p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: values.length ? Math.max(...values) : 0 });

function arenaFleet(): string {
  // The arena fleet as config/fleets/arena.yaml has it (no autoscaler: replicas stay put), short matches.
  return readFileSync(path.join(ROOT, 'config/fleets/arena.yaml'), 'utf8')
    .split(/^---$/m)[0]!
    .replace(/replicas: \d+/, `replicas: ${journeySettings.replicas}`)
    .replace(/(name: MATCH_SECONDS\s+value: )"\d+"/, `$1"${journeySettings.matchSeconds}"`);
}

async function startStack(): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-bench-mm-'));
  const fleets = path.join(dir, 'fleets');
  const stateDir = path.join(dir, 'state');
  mkdirSync(fleets);
  writeFileSync(path.join(fleets, 'arena.yaml'), arenaFleet());
  const portMin = 33_000 + Math.floor(Math.random() * 100) * 60;
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'logging:\n  level: info\n  outputs:\n    console:\n      enabled: false',
      'api:\n  port: 0',
      'admin:\n  port: 0',
      // Every bot comes from 127.0.0.1: the per-address limit (100/s) stands for one player's address.
      'lobby:\n  port: 0\n  rate_limit:\n    address_per_second: 100000\n    address_burst: 100000',
      `matchmaker:\n  interval_ms: ${journeySettings.intervalMs}`,
      `local:\n  fleets_dir: ${fleets}\n  state_dir: ${stateDir}\n  termination_grace_seconds: 2\n  port_range:\n    min: ${portMin}\n    max: ${portMin + 59}`,
    ].join('\n'),
  );
  // No DATABASE_URL: records in PGlite, as `npm start` keeps them.
  const { DATABASE_URL: _, ...childEnv } = env;
  const proc = spawn(process.execPath, [...MATCHMAKER_NODE_FLAGS, CLI, 'up', '--config', config], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  const urls = new Promise<{ api: string; lobby: string; admin: string }>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`hangar up exited with ${code}`)));
    // "Hangar local stack: API http://127.0.0.1:P  lobby http://127.0.0.1:Q  admin http://127.0.0.1:R"; later lines are drained.
    lines.on('line', (line) => {
      const m = /API (http:\/\/\S+)\s+lobby (http:\/\/\S+)\s+admin (http:\/\/\S+)/.exec(line);
      if (m) resolve({ api: m[1]!, lobby: m[2]!, admin: m[3]! });
    });
  });
  const stack = { proc, dir, stateDir, api: '', lobby: '', admin: '' };
  try {
    return { ...stack, ...(await urls) };
  } catch (err) {
    await stopStack(stack);
    throw err;
  }
}

async function stopStack(stack: Stack): Promise<void> {
  if (stack.proc.exitCode === null) {
    const exited = new Promise((r) => stack.proc.once('exit', r));
    stack.proc.kill('SIGINT');
    await exited;
  }
  rmSync(stack.dir, { recursive: true, force: true });
}

async function servers(stack: Stack): Promise<GameServerSummary[]> {
  const res = await fetch(`${stack.api}/v1/gameservers?fleet=arena`);
  return ((await res.json()) as { items: GameServerSummary[] }).items;
}

/**
 * Waits until every server of the fleet is Ready, `replicas` of them, at least `fresh` of which are
 * not in `before` (the finished matches' servers, replaced); seconds waited.
 */
async function untilReady(stack: Stack, before: ReadonlySet<string> = new Set(), fresh = 0, timeoutMs = 90_000): Promise<{ seconds: number; ready: GameServerSummary[] }> {
  const t0 = performance.now();
  for (;;) {
    const all = await servers(stack).catch(() => []);
    const ready = all.filter((g) => g.state === 'Ready');
    if (ready.length === all.length && ready.length >= journeySettings.replicas && ready.filter((g) => !before.has(g.name)).length >= fresh) return { seconds: (performance.now() - t0) / 1000, ready };
    if (performance.now() - t0 > timeoutMs) throw new Error(`the arena fleet had ${ready.length}/${all.length} Ready servers, ${ready.filter((g) => !before.has(g.name)).length} new, after ${timeoutMs / 1000} s`);
    if (stack.proc.exitCode !== null) throw new Error(`hangar up exited with ${stack.proc.exitCode}`);
    await sleep(100);
  }
}

/**
 * Waits until the stack's records database is open and migrated: a new PGlite creates its cluster
 * first, seconds of a core that round 1 would otherwise share; seconds waited.
 */
async function untilRecordsOpen(stack: Stack, timeoutMs = 90_000): Promise<number> {
  const last = readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort().at(-1)!;
  const logFile = path.join(stack.stateDir, 'hangar.log');
  const t0 = performance.now();
  while (!(existsSync(logFile) && readFileSync(logFile, 'utf8').includes(`"migration":"${last}"`))) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`the stack's records database was not migrated to ${last} after ${timeoutMs / 1000} s (${logFile})`);
    if (stack.proc.exitCode !== null) throw new Error(`hangar up exited with ${stack.proc.exitCode}`);
    await sleep(100);
  }
  return (performance.now() - t0) / 1000;
}

type Histograms = Map<string, { sum: number; count: number }>;

/** Sum and count of each histogram and label set, keyed `name{labels}`. */
async function histograms(stack: Stack): Promise<Histograms> {
  const text = await (await fetch(`${stack.admin}/metrics`)).text();
  const out: Histograms = new Map();
  for (const m of text.matchAll(/^(\w+)_(sum|count)(\{[^}]*\})? (\S+)$/gm)) {
    const key = `${m[1]}${m[3] ?? ''}`;
    const h = out.get(key) ?? { sum: 0, count: 0 };
    h[m[2] as 'sum' | 'count'] += Number(m[4]);
    out.set(key, h);
  }
  return out;
}

/** Means over what happened between two /metrics reads, ms. */
function stackTimes(before: Histograms, after: Histograms): StackTimes {
  // Over every label set whose key starts with `prefix`.
  const mean = (prefix: string) => {
    let sum = 0;
    let count = 0;
    for (const [key, a] of after) {
      if (!key.startsWith(prefix)) continue;
      sum += a.sum - (before.get(key)?.sum ?? 0);
      count += a.count - (before.get(key)?.count ?? 0);
    }
    return count ? (sum / count) * 1000 : 0;
  };
  return {
    toMatch: mean('hangar_matchmaker_time_to_match_seconds'),
    // Allocated ones only: a backfill that finds no room answers UnAllocated at once.
    allocation: mean('agones_gameserver_allocations_duration_seconds{status="Allocated"'),
    ackWait: mean('hangar_allocation_ack_wait_seconds'),
  };
}

/** `hangar bots --matchmake` as a process of its own; its --json summary. */
async function matchmadeBots(stack: Stack): Promise<MatchmadeSummary> {
  const args = [CLI, 'bots', '--matchmake', '--players', String(journeySettings.players), '--json', '--lobby', stack.lobby, '--queue', journeySettings.queue, '--duration', String(journeySettings.matchSeconds + 40)];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  // Exit 1 means some bot failed; the summary says which, so it is reported, not thrown.
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  const json = out.trim().split('\n').at(-1);
  if (!json?.startsWith('{')) throw new Error(`hangar bots --matchmake exited with ${code} and no summary`);
  return JSON.parse(json) as MatchmadeSummary;
}

/** The lobby's round trip: one refused submit per guest, all at once. */
async function lobbyRoundTrips(stack: Stack): Promise<JourneyResult['lobby']> {
  const clients = await Promise.all(Array.from({ length: journeySettings.players }, (_, i) => LobbyClient.connectAsGuest(stack.lobby, `probe-${i}`)));
  const times: number[] = [];
  await Promise.all(
    clients.map(async (c) => {
      const t0 = performance.now();
      // Valid for the lobby (at most 10,000 ms), beyond the queue's widest limit: refused before it is queued.
      await c.submit({ queue: journeySettings.queue, latencies: { local: 10_000 } }).catch(() => times.push(performance.now() - t0));
    }),
  );
  for (const c of clients) c.close();
  return { ...percentiles(times), answered: times.length };
}

/** The UDP floor: bots joining Ready servers at once with tokens minted here, `perServer` to a server. */
async function directConnects(stack: Stack, ready: GameServerSummary[]): Promise<JourneyResult['udp']> {
  const key = requireKey(new LocalSecrets(path.join(stack.stateDir, 'secrets')).read(HANGAR_SECRET, ENCRYPTION_KEY_SECRET), 'the stack encryption key');
  const tokens = Array.from({ length: journeySettings.players }, (_, i) => {
    const gs = ready[Math.floor(i / journeySettings.perServer) % ready.length]!;
    const port = gs.ports.find((p) => p.name === 'default')!.port;
    return mintConnectToken({ key, protocolId: HANGAR_PROTOCOL_ID, serverId: gs.name, playerId: `floor-${i}`, addresses: [`${gs.address}:${port}`], expiresInSeconds: 60 });
  });
  const swarm = new Swarm({ tickRate: 30, bindAddress: '127.0.0.1' });
  const t0 = Date.now();
  const bots = await Promise.all(tokens.map((t) => swarm.join(t)));
  for (let i = 0; i < 100 && bots.some((b) => b.stats.connectedAtMs === null); i++) await sleep(50);
  const times = bots.flatMap((b) => (b.stats.connectedAtMs === null ? [] : [b.stats.connectedAtMs - t0]));
  await swarm.stop();
  return { ...percentiles(times), connected: times.length };
}

export async function benchJourney(): Promise<JourneyResult> {
  const stack = await startStack();
  try {
    let { ready } = await untilReady(stack);
    const recordsOpenSeconds = await untilRecordsOpen(stack);
    const rounds: JourneyResult['rounds'] = [];
    for (let r = 0; r < journeySettings.rounds; r++) {
      log(`round ${r + 1}: ${journeySettings.players} bots on ${ready.length} Ready servers`);
      const metricsBefore = await histograms(stack);
      const t0 = performance.now();
      const summary = await matchmadeBots(stack);
      const wallSeconds = (performance.now() - t0) / 1000;
      const times = stackTimes(metricsBefore, await histograms(stack));
      // The finished servers shut down; the fleet replaces them with new Ready ones.
      const replaced = await untilReady(stack, new Set(ready.map((g) => g.name)), summary.matches);
      log(`round ${r + 1}: bots done in ${wallSeconds.toFixed(1)} s (their own clock: ${summary.durationSeconds.toFixed(1)} s), fleet replaced in ${replaced.seconds.toFixed(1)} s`);
      rounds.push({ summary, wallSeconds, replacedSeconds: replaced.seconds, stack: times });
      ready = replaced.ready;
    }
    log('baselines: lobby round trips, direct UDP connects');
    const lobby = await lobbyRoundTrips(stack);
    return { recordsOpenSeconds, rounds, lobby, udp: await directConnects(stack, ready) };
  } finally {
    await stopStack(stack);
  }
}

export function formatJourney(r: JourneyResult): string {
  const s = journeySettings;
  const budget = s.intervalMs + 100;
  const out = [
    `\`hangar up\` (arena fleet, ${s.replicas} replicas, players List 100, MATCH_SECONDS ${s.matchSeconds}; matchmaker interval ${s.intervalMs} ms; queue \`${s.queue}\`, 25 v 25, of config/matchmaking.yaml) and \`hangar bots --matchmake --players ${s.players} --json\`, each its own process; ${s.rounds} round(s) on one stack, from ${r.recordsOpenSeconds.toFixed(1)} s after its servers were Ready, when its records database (a new PGlite) was open.\n`,
    `| round | matched / connected / matches ended (matches) | time to match p50 / p99 / max | ticket → UDP connected p50 / p99 / max | target p99 ≤ ${budget} ms | in the stack: ticket → \`matched\` published, mean | allocation (of which ack wait), mean | bots run | fleet back to ${s.replicas} Ready |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const ms = (p: { p50: number; p99: number; max: number }) => `${p.p50.toFixed(0)} / ${p.p99.toFixed(0)} / ${p.max.toFixed(0)} ms`;
  r.rounds.forEach(({ summary: m, wallSeconds, replacedSeconds, stack: t }, i) => {
    const refused = Object.entries(m.lobbyFailures).map(([why, n]) => `${n} ${why}`);
    out.push(
      `| ${i + 1} | ${m.matched} / ${m.connected} / ${m.matchesEnded} of ${m.players} (${m.matches})${refused.length ? `; ${refused.join(', ')}` : ''} | ${ms(m.timeToMatchMs)} | ${ms(m.timeToConnectedMs)} | ${m.timeToConnectedMs.p99 <= budget ? 'met' : '**NOT met**'} | ${t.toMatch.toFixed(0)} ms | ${t.allocation.toFixed(0)} (${t.ackWait.toFixed(0)}) ms | ${wallSeconds.toFixed(1)} s | +${replacedSeconds.toFixed(1)} s |`,
    );
  });
  out.push(`| baseline: ${s.players} guests send a submit at once that is refused before queueing (${r.lobby.answered} answered) | – | submit → reply ${ms(r.lobby)} | – | – | – | – | – | – |`);
  out.push(`| baseline: ${s.players} bots join Ready servers at once, ${s.perServer} a server, tokens minted locally (no lobby, no matchmaking) | – / ${r.udp.connected} / – | – | join → connected ${ms(r.udp)} | – | – | – | – | – |`);
  return out.join('\n');
}
