import { LobbyClient, type MatchedEvent } from '../../matchmaker/lobby/lobby-client.js';
import { isFailed, pause, percentile, Swarm, type SwarmProgress, type SwarmSummary } from './bot-swarm.js';
import type { Bot } from './bot.js';

// The player's whole journey, many times over: each bot logs in to the lobby as a guest and opens
// its WebSocket; then every bot submits its ticket at once (a burst, as when a playlist opens),
// accepts when asked, and on `matched` connects over UDP to its server with the connect token it
// was given, and plays until its match ends. Time to match and time to connected are measured per
// player from the moment their ticket was submitted.

export interface MatchmadeSwarmOptions {
  /** The lobby, http://host:8080. */
  lobbyUrl: string;
  players: number;
  queue: string;
  /** Each bot's measured latency per region, ms. */
  latencies: Record<string, number>;
  tickRate: number;
  /** The longest the run lasts; it ends sooner once every bot's match is over (or it failed). */
  durationSeconds: number;
  /** Logins per second while the bots come online. */
  loginRate?: number;
  bindAddress?: string;
  onProgress?: (p: MatchmadeProgress) => void;
  /** Ends the run early (Ctrl-C): the summary is then of what ran until it, tickets still queued counted as waiting. */
  signal?: AbortSignal;
}

export interface MatchmadeProgress extends SwarmProgress {
  matched: number;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface MatchmadeSummary extends SwarmSummary {
  /** Bots whose ticket ended in a match. */
  matched: number;
  /** Distinct matches (and game servers) the bots were put in. */
  matches: number;
  /** Why bots never got to play: a lobby error code, or the ticket's end (FAILED, TIMED-OUT). */
  lobbyFailures: Record<string, number>;
  /** Bots whose ticket was still queued when the run ended (too few players left to form a match). */
  stillWaiting: number;
  timeToMatchMs: Percentiles;
  timeToConnectedMs: Percentiles;
}

interface Journey {
  lobby?: LobbyClient;
  submittedAt?: number;
  matched?: MatchedEvent;
  matchedAt?: number;
  bot?: Bot;
  /** The lobby said no, or the ticket ended without a match. */
  refused?: boolean;
}

/** Nothing more will happen to this player: refused, or their bot's match (or connection) is over. */
function settled(j: Journey): boolean {
  if (!j.lobby || j.refused) return true;
  const bot = j.bot;
  return Boolean(bot && (bot.stats.matchEnded || isFailed(bot.stats) || (bot.stats.connectedAtMs !== null && bot.state !== 'connected')));
}

export async function runMatchmadeSwarm(options: MatchmadeSwarmOptions): Promise<MatchmadeSummary> {
  const journeys: Journey[] = Array.from({ length: options.players }, () => ({}));
  const lobbyFailures: Record<string, number> = {};
  const fail = (err: unknown) => {
    const code = (err as { code?: string }).code ?? (err as Error).message ?? String(err);
    lobbyFailures[code] = (lobbyFailures[code] ?? 0) + 1;
  };
  let matched = 0;
  const swarm = new Swarm({
    tickRate: options.tickRate,
    bindAddress: options.bindAddress,
    planned: () => options.players,
    onProgress: (p) => options.onProgress?.({ ...p, matched }),
  });
  const deadline = Date.now() + options.durationSeconds * 1000;

  // Online first, so the tickets below measure matchmaking and not logins.
  const perTenth = Math.max(1, (options.loginRate ?? 200) / 10);
  const signal = options.signal;
  for (let i = 0; i < journeys.length && !signal?.aborted; i += perTenth) {
    await Promise.all(
      journeys.slice(i, i + perTenth).map(async (j, k) => {
        j.lobby = await LobbyClient.connectAsGuest(options.lobbyUrl, `bot-${i + k}`).catch((err: unknown) => (fail(err), undefined));
      }),
    );
    if (i + perTenth < journeys.length) await pause(100, signal);
  }

  const playing = journeys.map(async (j) => {
    if (!j.lobby) return;
    try {
      j.submittedAt = Date.now();
      const { ticketId } = await j.lobby.submit({ queue: options.queue, latencies: options.latencies });
      j.matched = await j.lobby.awaitMatch(ticketId);
      j.matchedAt = Date.now();
      matched++;
      j.bot = await swarm.join(Buffer.from(j.matched.connectToken, 'base64'));
    } catch (err) {
      // A ticket cut short by the interruption (its lobby closed below) is still waiting, not refused.
      if (signal?.aborted) return;
      j.refused = true;
      fail(err);
    }
  });
  const timeUp = new AbortController();
  const ended = signal ? AbortSignal.any([signal, timeUp.signal]) : timeUp.signal;
  // A pending timer would keep `hangar bots` alive until --duration after every match has ended.
  await Promise.race([Promise.all(playing).then(() => timeUp.abort()), pause(Math.max(0, deadline - Date.now()), ended)]);
  timeUp.abort();

  // Play on until every match is over (each bot's or its server's end), or the time is up.
  while (Date.now() < deadline && !signal?.aborted && !journeys.every(settled)) await pause(100, signal);
  // Lobby sockets stay open while the bots play, as a game client's would: closing each on
  // `matched` put a WebSocket close handshake per bot, in this process and the lobby's, in the
  // middle of the other bots' UDP handshakes.
  for (const j of journeys) j.lobby?.close();

  const summary = await swarm.stop();
  const times = (pick: (j: Journey) => number | undefined) => stats(journeys.map(pick).filter((t): t is number => t !== undefined));
  return {
    ...summary,
    players: options.players,
    failed: options.players - summary.connected,
    matched,
    matches: new Set(journeys.map((j) => j.matched?.matchId).filter(Boolean)).size,
    lobbyFailures,
    stillWaiting: journeys.filter((j) => j.lobby && !j.matched && !j.refused).length,
    timeToMatchMs: times((j) => (j.matchedAt !== undefined ? j.matchedAt - j.submittedAt! : undefined)),
    timeToConnectedMs: times((j) => (j.bot?.stats.connectedAtMs != null ? j.bot.stats.connectedAtMs - j.submittedAt! : undefined)),
  };
}

function stats(values: number[]): Percentiles {
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: values.length ? Math.max(...values) : 0 };
}
