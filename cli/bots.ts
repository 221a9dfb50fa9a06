import { parseCliArgs } from './args.js';
import { playerPorts } from '../core/player-ports.js';
import { requireKey } from '../core/secrets.js';
import { GameServerNotFoundError, UsageError } from '../core/errors.js';
import { runSwarm, type SwarmProgress, type SwarmSummary } from '../gameserver/bot/bot-swarm.js';
import { runMatchmadeSwarm, type MatchmadeSummary } from '../gameserver/bot/matchmade-swarm.js';
import { fetchQueues, LobbyRequestError } from '../matchmaker/lobby/lobby-client.js';
import type { QueueInfo } from '../matchmaker/lobby/matchmaking.js';
import { mintConnectToken } from '../gameserver/protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../gameserver/protocol/protocol-constants.js';
import { serverAddressProblem } from '../gameserver/protocol/server-address.js';
import { ApiClient, resolveApiUrl } from './api-client.js';
import type { CliIo } from './io.js';
import { ENCRYPTION_KEY_VARIABLE, localStackKey, localStackKeyMismatch } from './token.js';

// `hangar bots`: bot players against a game server. Each bot has its own UDP socket, sends an
// input every tick, and checks every snapshot it gets. The target is a game server of the running
// local stack (`--gameserver NAME`, or the first Ready one of `--fleet NAME`), or any address
// (`--server HOST:PORT --server-id NAME`). Tokens are minted here with the shared key:
// ENCRYPTION_KEY, or the local stack's own (<state dir>/secrets/hangar/encryption-key).
// With `--matchmake` the bots go the players' way instead: the lobby, a ticket, the matchmaker's
// server and connect token, and play until their matches end.

/** The lobby of `hangar up` with the defaults. */
const DEFAULT_LOBBY_URL = 'http://127.0.0.1:8080';

export interface BotsCommandOptions {
  encryptionKey: string | undefined;
  apiUrl: string | undefined;
  cwd: string;
  /** The local stack's state directory, for its key (localStackHere); --state-dir wins, .hangar without either. */
  stateDir?: () => string;
  /** The API and lobby of the stack `hangar up` runs or would run here (localStackHere), when no flag or variable says. */
  localApiUrl?: () => string | undefined;
  localLobbyUrl?: () => string | undefined;
}

interface Target {
  serverId: string;
  addresses: string[];
}

export async function runBots(args: string[], io: CliIo, options: BotsCommandOptions): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      players: { type: 'string' },
      duration: { type: 'string' },
      gameserver: { type: 'string' },
      fleet: { type: 'string' },
      server: { type: 'string', multiple: true },
      'server-id': { type: 'string' },
      'tick-rate': { type: 'string' },
      json: { type: 'boolean' },
      api: { type: 'string' },
      'state-dir': { type: 'string' },
      matchmake: { type: 'boolean' },
      lobby: { type: 'string' },
      queue: { type: 'string' },
      latency: { type: 'string', multiple: true },
    },
    strict: true,
    allowPositionals: false,
  });
  const players = wholeNumber(values.players, '--players', 1, 10_000, 10);
  const tickRate = wholeNumber(values['tick-rate'], '--tick-rate', 1, 128, 30);
  if (values.matchmake) return runMatchmade(values, { players, tickRate }, io, options);
  for (const flag of ['lobby', 'queue', 'latency'] as const) if (values[flag] !== undefined) throw new UsageError(`bots: --${flag} goes with --matchmake`);
  const duration = wholeNumber(values.duration, '--duration', 1, 86_400, 30);
  const targets = [values.gameserver !== undefined, values.fleet !== undefined, values.server !== undefined].filter(Boolean).length;
  if (targets !== 1) throw new UsageError('bots: give exactly one target: --gameserver NAME, --fleet NAME, or --server HOST:PORT with --server-id NAME');

  const stateDir = () => values['state-dir'] ?? options.stateDir?.();
  const target = await resolveTarget(values, options, stateDir);
  if (typeof target === 'string') {
    io.stderr(`hangar: bots: ${target}`);
    return 1;
  }
  const key = values.server !== undefined || options.encryptionKey ? requireKey(options.encryptionKey, ENCRYPTION_KEY_VARIABLE) : localStackKey(options.cwd, stateDir());
  const mismatch = values.server === undefined && options.encryptionKey ? localStackKeyMismatch(key, options.cwd, stateDir()) : undefined;
  if (mismatch) io.stderr(`warning: ${mismatch}`);
  const tokens = Array.from({ length: players }, (_, i) =>
    mintConnectToken({ key, protocolId: HANGAR_PROTOCOL_ID, serverId: target.serverId, playerId: `bot-${i}`, addresses: target.addresses, expiresInSeconds: 60 }),
  );

  if (!values.json) io.stderr(`${players} bots → ${target.serverId} (${target.addresses.join(', ')}) for ${duration} s at ${tickRate} Hz`);
  const interrupt = interruption();
  const summary = await runSwarm({
    tokens,
    tickRate,
    durationSeconds: duration,
    bindAddress: target.addresses[0]!.startsWith('127.') ? '127.0.0.1' : undefined,
    onProgress: (p) => {
      if (!values.json) io.stderr(progressLine(p));
    },
    signal: interrupt.signal,
  }).finally(interrupt.done);
  return report(summary, summaryLines(summary), interrupt.signal.aborted, values.json, io);
}

async function runMatchmade(
  values: { duration?: string; lobby?: string; queue?: string; latency?: string[]; json?: boolean; gameserver?: string; fleet?: string; server?: string[] },
  common: { players: number; tickRate: number },
  io: CliIo,
  options: BotsCommandOptions,
): Promise<number> {
  if (values.gameserver !== undefined || values.fleet !== undefined || values.server !== undefined) {
    throw new UsageError('bots: --matchmake finds servers through the matchmaker: leave out --gameserver, --fleet and --server');
  }
  const lobbyUrl = values.lobby ?? options.localLobbyUrl?.() ?? DEFAULT_LOBBY_URL;
  if (!/^https?:\/\/[^/]+\/?$/.test(lobbyUrl)) throw new UsageError(`bots: --lobby ${JSON.stringify(lobbyUrl)}: give the lobby's base URL, like ${DEFAULT_LOBBY_URL}`);
  const latencies = parseLatencies(values.latency ?? ['local=10']);
  // Long enough for a whole match by default: the run ends when every match has.
  const duration = wholeNumber(values.duration, '--duration', 1, 86_400, 900);
  const queue = values.queue ?? 'battle';
  const refusal = await checkQueue(lobbyUrl, queue, common.players, values.json ? () => undefined : io.stderr);
  if (refusal) {
    io.stderr(`hangar: bots: ${refusal}`);
    return 1;
  }
  if (!values.json) io.stderr(`${common.players} bots → lobby ${lobbyUrl}, queue ${queue}, for at most ${duration} s`);
  const interrupt = interruption();
  const summary = await runMatchmadeSwarm({
    lobbyUrl,
    players: common.players,
    queue,
    latencies,
    tickRate: common.tickRate,
    durationSeconds: duration,
    bindAddress: /^https?:\/\/(127\.|localhost)/.test(lobbyUrl) ? '127.0.0.1' : undefined,
    onProgress: (p) => {
      if (!values.json) io.stderr(`${progressLine(p)}  matched ${p.matched}`);
    },
    signal: interrupt.signal,
  }).finally(interrupt.done);
  return report(summary, matchmadeSummaryLines(summary), interrupt.signal.aborted, values.json, io);
}

/**
 * Ctrl-C ends the run early: the bots stop and the summary of what ran so far is still printed (a
 * load test's figures are not lost to an impatient finger). Once only: a second Ctrl-C kills at once.
 */
function interruption(): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, done: () => process.off('SIGINT', onSigint) };
}

/** The summary (its lines, or the JSON object), marked when Ctrl-C cut the run short; the exit code: 130 then, as for any Ctrl-C. */
function report(summary: SwarmSummary, lines: string[], interrupted: boolean, json: boolean | undefined, io: CliIo): number {
  if (json) io.stdout(JSON.stringify({ ...summary, interrupted }));
  else {
    if (interrupted) io.stdout(`interrupted (Ctrl-C) after ${summary.durationSeconds.toFixed(1)} s: the figures of the run so far`);
    for (const line of lines) io.stdout(line);
  }
  if (interrupted) return 130;
  return succeeded(summary) ? 0 : 1;
}

/**
 * Asks the lobby about `queue` before a thousand bots log in: why the run cannot start (no lobby,
 * no such queue), or undefined; `warn` hears when the bots alone are too few to start a match.
 */
async function checkQueue(lobbyUrl: string, queue: string, players: number, warn: (line: string) => void): Promise<string | undefined> {
  let queues: QueueInfo[];
  try {
    queues = await fetchQueues(lobbyUrl);
  } catch (err) {
    if (err instanceof LobbyRequestError) return `the lobby at ${lobbyUrl} did not list its queues: ${err.message}`;
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    return `no lobby answers at ${lobbyUrl} (${cause}): is the stack running (hangar up), or is --lobby wrong?`;
  }
  const info = queues.find((q) => q.name === queue);
  if (!info) return `the lobby has no queue ${queue}; its queues are ${queues.map((q) => q.name).join(', ') || 'none'} (--queue NAME)`;
  if (players < info.minPlayers) {
    warn(`queue ${queue} starts a match with at least ${info.minPlayers} players: ${players} bots will wait for real players to join them (or give --players ${info.minPlayers})`);
  }
  return undefined;
}

function parseLatencies(written: readonly string[]): Record<string, number> {
  const latencies: Record<string, number> = {};
  for (const w of written) {
    const m = /^([A-Za-z0-9_.-]{1,64})=(\d{1,5})$/.exec(w);
    if (!m || Number(m[2]) > 10_000) throw new UsageError(`bots: --latency ${JSON.stringify(w)}: give REGION=MS, like eu-west=24 (0 to 10000 ms)`);
    latencies[m[1]!] = Number(m[2]);
  }
  return latencies;
}

/** The server the bots play on, or why the stack has none to offer (the arguments were fine). */
async function resolveTarget(values: { gameserver?: string; fleet?: string; server?: string[]; 'server-id'?: string; api?: string }, options: BotsCommandOptions, stateDir: () => string | undefined): Promise<Target | string> {
  if (values.server) {
    if (!values['server-id']) throw new UsageError('bots: --server needs --server-id NAME (the GameServer name its tokens must carry)');
    for (const a of values.server) {
      const problem = serverAddressProblem(a);
      if (problem) throw new UsageError(`bots: --server ${JSON.stringify(a)} ${problem}`);
    }
    return { serverId: values['server-id'], addresses: values.server };
  }
  const api = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrl, options.localApiUrl), stateDir });
  let gs;
  if (values.gameserver !== undefined) {
    gs = (await api.listGameServers()).find((g) => g.name === values.gameserver);
    if (!gs) throw new GameServerNotFoundError(values.gameserver);
  } else {
    gs = (await api.listGameServers({ fleet: values.fleet, state: 'Ready' }))[0];
    if (!gs) {
      // The list is empty for a fleet that does not exist too; that is FLEET_NOT_FOUND, not a busy fleet.
      await api.getFleet(values.fleet!);
      return `fleet ${values.fleet} has no Ready game server (hangar gs list --fleet ${values.fleet} shows its servers)`;
    }
  }
  // The ports a player is sent (the matchmaker's choice): the game port, then one per further network worker.
  const gamePorts = playerPorts(gs.ports, gs.labels);
  if (!gamePorts.length) return `game server ${gs.name} has no port${gs.state === 'Ready' || gs.state === 'Allocated' ? '' : ` (it is ${gs.state})`}`;
  return { serverId: gs.name, addresses: gamePorts.map((p) => `${gs.address}:${p.port}`) };
}

function wholeNumber(text: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`bots: ${flag} ${JSON.stringify(text)}: give a whole number from ${min} to ${max}`);
  return n;
}

/** One line a second on stderr: readable on a terminal and in a CI log alike. */
function progressLine(p: SwarmProgress): string {
  return `${p.elapsedSeconds.toFixed(0).padStart(4)}s  connected ${p.connected}/${p.bots}  failed ${p.failed}  snapshots/s ${p.snapshotRate.toFixed(1)}  rtt p50 ${p.rttP50Ms.toFixed(1)} ms`;
}

export function matchmadeSummaryLines(s: MatchmadeSummary): string[] {
  const unmatched = [...Object.entries(s.lobbyFailures).map(([why, n]) => `${n} ${why}`), ...(s.stillWaiting > 0 ? [`${s.stillWaiting} still waiting at the end`] : [])].join(', ');
  return [
    `matchmaking: ${s.matched}/${s.players} matched into ${s.matches} matches${unmatched ? ` (not matched: ${unmatched})` : ''}`,
    `time to match p50 ${s.timeToMatchMs.p50} ms, p99 ${s.timeToMatchMs.p99} ms; time to connected p50 ${s.timeToConnectedMs.p50} ms, p99 ${s.timeToConnectedMs.p99} ms (from ticket submitted)`,
    ...summaryLines(s),
  ];
}

/** Every bot connected, none lost its server or was dropped by it, and nothing it received was malformed. */
function succeeded(s: SwarmSummary): boolean {
  return s.failed === 0 && s.lost === 0 && s.dropped === 0 && s.badMessages === 0;
}

export function summaryLines(s: SwarmSummary): string[] {
  const failures = Object.entries(s.failures)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  return [
    `bots: ${s.connected}/${s.players} connected${failures ? ` (${failures})` : ''}${s.lost ? `, then ${s.lost} timed out (their server stopped answering)` : ''}${s.dropped ? `, then ${s.dropped} disconnected by their server before their match ended` : ''} over ${s.durationSeconds.toFixed(1)} s`,
    `rtt p50 ${s.rttMs.p50.toFixed(1)} ms, p99 ${s.rttMs.p99.toFixed(1)} ms; snapshot loss ${(s.loss * 100).toFixed(2)} %; ${s.snapshotsPerSecond.toFixed(1)} snapshots/s per bot`,
    `bad messages ${s.badMessages}; matches ended ${s.matchesEnded}`,
  ];
}
