import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { createMatchmakerMetrics, Registry } from '../../core/metrics.js';
import type { GameServerSummary } from '../../fleets/http-api.js';
import { stackFixture, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';
import { exportedSampleNames, metricNames, sampledNames } from './promql-names.js';
import { freeTcpPort } from '../helpers/free-port.js';

// The monitoring against the real thing: the local stack (`hangar up`, as a process) running the
// real arena fleet of config/fleets/arena.yaml, bot players connected over UDP, and a real
// Prometheus (Debian's, on 127.0.0.1 and an ephemeral port, data in a temp dir) scraping the stack
// and, through the file_sd list the stack writes, each game server. Then:
//   - every metric a Grafana panel or an alert names is one these processes really export
//     (the matchmaker's labelled series, which have no sample before the first ticket, from their
//     declarations in core/metrics.ts);
//   - Prometheus answers the player count and the Ready game-server count;
//   - the Docker HEALTHCHECK and the preStop drain command work against the live admin port.

// A cold stack, two arena servers and a first scrape take a few seconds on two cores.
const TIMEOUT = 90_000;
const CLI = path.resolve('dist/cli/main.js');
const PLAYERS = 3;
/**
 * The fleet's Ready game servers, as Agones' fleet metric reports them. (agones_gameservers_count
 * {type="Ready"} would be the per-state gauge, but the local stack's store delivers watch events
 * re-entrantly, so that gauge ends up counting Ready servers as RequestReady; see the report.)
 */
const READY = 'sum(agones_fleets_replicas_count{name="arena", type="ready"})';
/**
 * A game server's labelled series that appear with their first event (an error, a dropped
 * datagram): a match without one has none. Every other family a game server declares and a panel
 * or an alert reads must have samples once players have played.
 */
const GAME_SERVER_EVENT_ONLY = new Set(['game_server_errors_total', 'game_server_packets_rejected_total']);
/** Series Hangar does not export but alerts may name: Prometheus' own and kube-state-metrics'. */
const EXTERNAL = new Set(['up', 'kube_pod_container_status_restarts_total', 'kube_cronjob_status_last_successful_time']);

let fixture: StackFixture;
let stack: ChildProcess | undefined;
let bots: ChildProcess | undefined;
let prometheus: ChildProcess | undefined;
let promDir: string;
let api = '';
let adminPort = 0;
let promUrl = '';
let promLog = '';

async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
  return body.data.result;
}

const readyServers = async (): Promise<GameServerSummary[]> =>
  ((await (await fetch(`${api}/v1/gameservers?fleet=arena&state=Ready`)).json()) as { items: GameServerSummary[] }).items;

beforeAll(async () => {
  fixture = stackFixture();
  fixture.writeFleet('arena.yaml', readFileSync('config/fleets/arena.yaml', 'utf8'));
  stack = spawn(process.execPath, [CLI, 'up', '--config', fixture.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: fixture.env });
  let stdout = '';
  stack.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const m = await waitFor('the API and admin address line', async () => /API (http:\/\/[\d.]+:\d+) {2}lobby http:\/\/[\d.]+:\d+ {2}admin http:\/\/[\d.]+:(\d+)/.exec(stdout) ?? undefined, 30_000);
  api = m[1]!;
  adminPort = Number(m[2]);
  await waitFor('2 Ready arena servers', async () => (await readyServers()).length >= 2, 40_000);

  promDir = mkdtempSync(path.join(tmpdir(), 'hangar-prometheus-'));
  const config = execFileSync(
    'node',
    ['scripts/prometheus-config.mjs', 'local', '--admin', `127.0.0.1:${adminPort}`, '--targets-file', path.join(fixture.stateDir, 'prometheus', 'gameservers.json'), '--scrape-interval', '1s'],
    { encoding: 'utf8' },
  );
  writeFileSync(path.join(promDir, 'prometheus.yml'), config);
  const port = await freeTcpPort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    'prometheus',
    [`--config.file=${path.join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
  await waitFor('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 30_000).catch((err: unknown) => {
    throw new Error(`${String(err)}\nprometheus said:\n${promLog.slice(-3000)}`);
  });
}, TIMEOUT);

afterAll(async () => {
  for (const child of [bots, prometheus]) if (child && child.exitCode === null) child.kill('SIGKILL');
  if (stack && stack.exitCode === null) {
    const exited = new Promise((resolve) => stack!.once('exit', resolve));
    stack.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (stack.exitCode === null) stack.kill('SIGKILL');
  }
  await fixture?.cleanup();
  if (promDir) rmSync(promDir, { recursive: true, force: true });
}, 30_000);

/** Every metric a Grafana panel or an alert rule reads, with where. */
function namesUsed(): Array<{ where: string; name: string }> {
  const used: Array<{ where: string; name: string }> = [];
  for (const file of readdirSync('monitoring/grafana/dashboards')) {
    const d = JSON.parse(readFileSync(`monitoring/grafana/dashboards/${file}`, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    for (const p of d.panels) for (const t of p.targets ?? []) for (const name of metricNames(t.expr)) used.push({ where: `${file}: ${p.title}`, name });
  }
  const rules = (parse(readFileSync('monitoring/rules/hangar-alerts.yaml', 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
  for (const r of rules) for (const name of metricNames(r.expr)) if (!EXTERNAL.has(name)) used.push({ where: `alert ${r.alert}`, name });
  return used;
}

describe('metrics the dashboards and alerts name', () => {
  it('are all exported by the live stack, a live game server, or (labelled series with no ticket yet) the matchmaker\'s declarations', async () => {
    const stackText = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const [first] = JSON.parse(readFileSync(path.join(fixture.stateDir, 'prometheus', 'gameservers.json'), 'utf8')) as Array<{ targets: string[] }>;
    const gameServerText = await (await fetch(`http://${first!.targets[0]}/metrics`)).text();
    const live = new Set([...exportedSampleNames(stackText), ...exportedSampleNames(gameServerText)]);
    // The deployment guide's names come from the game server and the stack, each from its own process.
    for (const n of ['game_server_player_count', 'game_server_memory_usage_bytes', 'game_server_tick_overruns_total']) expect([n, exportedSampleNames(gameServerText).has(n)]).toEqual([n, true]);
    for (const n of ['agones_gameservers_count', 'agones_fleets_replicas_count', 'agones_gameservers_allocations_total', 'hangar_records_dropped_total']) expect([n, exportedSampleNames(stackText).has(n)]).toEqual([n, true]);

    const registry = new Registry();
    createMatchmakerMetrics(registry);
    const matchmaker = exportedSampleNames(await registry.metrics());

    const used = namesUsed();
    expect(used.length).toBeGreaterThan(60);

    const unknown = used.filter((u) => !live.has(u.name) && !matchmaker.has(u.name)).map((u) => `${u.where}: ${u.name}`);
    expect(unknown).toEqual([]);
    // Only the matchmaker's own names may come from declarations rather than a live process: its
    // series are per queue, and no ticket was queued here.
    const declaredOnly = [...new Set(used.filter((u) => !live.has(u.name)).map((u) => u.name))].sort();
    expect(declaredOnly.every((n) => n.startsWith('hangar_matchmaker_'))).toBe(true);
  }, TIMEOUT);
});

describe('a real Prometheus scraping the local stack through file_sd', () => {
  it('finds every game server through the file Hangar writes, and the stack itself', async () => {
    const ready = await readyServers();
    await waitFor('every target up', async () => {
      const up = await query('up');
      const gameServers = up.filter((s) => s.metric.job === 'hangar-gameservers-local' && s.value[1] === '1');
      const local = up.find((s) => s.metric.job === 'hangar-local' && s.value[1] === '1');
      return local && gameServers.length >= ready.length;
    }, 30_000);
    const series = await query('up{job="hangar-gameservers-local"}');
    // Labels from the file_sd list: each server's name and fleet.
    expect(series.every((s) => s.metric.fleet === 'arena' && /^arena-\w+-\w+$/.test(s.metric.gameserver ?? ''))).toBe(true);
  }, TIMEOUT);

  it('answers the Ready game-server count and the player count while bots play', async () => {
    let seen = '';
    await waitFor('Prometheus to agree with the API on Ready servers', async () => {
      const ready = (await readyServers()).length;
      const [r] = await query(READY);
      seen = `API ${ready}, Prometheus ${r?.value[1]}`;
      return r !== undefined && Number(r.value[1]) === ready && ready >= 1;
    }, 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)} (last: ${seen})`);
    });

    bots = spawn(process.execPath, [CLI, 'bots', '--players', String(PLAYERS), '--duration', '30', '--fleet', 'arena', '--api', api, '--state-dir', fixture.stateDir], { stdio: ['ignore', 'pipe', 'pipe'], env: fixture.env });
    let botOut = '';
    bots.stdout!.on('data', (d: Buffer) => (botOut += d.toString()));
    bots.stderr!.on('data', (d: Buffer) => (botOut += d.toString()));
    const players = await waitFor(
      `Prometheus to see ${PLAYERS} players`,
      async () => {
        const [r] = await query('sum(game_server_player_count{job="hangar-gameservers-local", fleet="arena"})');
        return r && Number(r.value[1]) === PLAYERS ? Number(r.value[1]) : undefined;
      },
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nbots said:\n${botOut.slice(-2000)}`);
    });
    expect(players).toBe(PLAYERS);
    // Per server, from the file_sd labels: all the players are on one game server.
    const perServer = (await query('game_server_player_count{job="hangar-gameservers-local"} > 0')).map((s) => Number(s.value[1]));
    expect(perServer).toEqual([PLAYERS]);

    // The server they play on has a sample of every family it declares that a panel or an alert
    // reads: a family declared but never observed passes the name check above and draws nothing.
    // The packet counters reach the metrics once a second (packet-counters.ts), so a scrape just
    // after the players came may precede them: scraped again until all are there, or 10 s.
    const targets = (JSON.parse(readFileSync(path.join(fixture.stateDir, 'prometheus', 'gameservers.json'), 'utf8')) as Array<{ targets: string[] }>).map((t) => t.targets[0]!);
    let playing: string | undefined;
    let unsampled: string[] = [];
    await waitFor(
      'the playing server to sample every family a panel or an alert reads',
      async () => {
        const texts = await Promise.all(targets.map(async (t) => (await fetch(`http://${t}/metrics`)).text()));
        playing = texts.find((t) => /^game_server_player_count [1-9]/m.test(t));
        if (playing === undefined) return undefined;
        const declared = exportedSampleNames(playing);
        const sampled = sampledNames(playing);
        unsampled = namesUsed()
          .filter((u) => declared.has(u.name) && !sampled.has(u.name) && !GAME_SERVER_EVENT_ONLY.has(u.name))
          .map((u) => `${u.where}: ${u.name}`);
        return unsampled.length === 0 ? true : undefined;
      },
      10_000,
    ).catch(() => undefined);
    expect(playing).toBeDefined();
    expect(unsampled).toEqual([]);

    // And the fleet's Ready count still matches the API's (a server may have been allocated since).
    await waitFor('Prometheus to agree with the API on Ready servers during play', async () => {
      const ready = (await readyServers()).length;
      const [r] = await query(READY);
      return r !== undefined && Number(r.value[1]) === ready;
    }, 30_000);
    bots.kill('SIGINT');
  }, TIMEOUT);
});

describe('the image\'s health check and preStop drain (scripts/admin-request.mjs) against the live admin port', () => {
  const run = (action: string) => spawnSync('node', ['scripts/admin-request.mjs', action], { encoding: 'utf8', env: { ...process.env, ADMIN_PORT: '', HANGAR_ADMIN__PORT: String(adminPort) } });

  it('reports live, and drains: readiness turns 503', async () => {
    expect(run('live').status).toBe(0);
    expect(run('ready').status).toBe(0);
    const drain = run('drain');
    expect([drain.status, drain.stdout]).toEqual([0, expect.stringContaining('/admin/drain: 200')]);
    const ready = run('ready');
    expect([ready.status, ready.stderr]).toEqual([1, expect.stringContaining('503')]);
    expect(run('nonsense').status).toBe(2);
  }, TIMEOUT);
});
