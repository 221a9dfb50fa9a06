import { setTimeout as sleep } from 'node:timers/promises';
import { HANGAR_PROTOCOL_ID } from '../protocol/protocol-constants.js';
import { warmUpNetcode } from '../protocol/warm-up.js';
import { TickLoop } from '../tick-loop.js';
import { Bot, type BotStats } from './bot.js';

// Many bots in one process. Each bot sends at the tick rate, but not all at the same instant:
// they are ticked in SLICES groups spread over the tick period, so the server (and this
// process's socket buffers) see a steady stream instead of one burst per tick.

const SLICES = 10;
/**
 * Throwaway connections the swarm's netcode runs first (protocol/warm-up.ts). A player's client
 * makes one connection; a swarm makes hundreds at once, and cold, each would wait behind the
 * others' compiling: the burst would measure this process instead of the servers.
 */
const WARM_UP_CONNECTIONS = 64;

export interface SwarmProgress {
  elapsedSeconds: number;
  bots: number;
  connected: number;
  failed: number;
  /** Snapshots per second per connected bot, over the last second. */
  snapshotRate: number;
  rttP50Ms: number;
}

export interface SwarmSummary {
  players: number;
  /** Bots that connected at some point. */
  connected: number;
  /** Bots still connected at the end (a match that ended disconnects everyone). */
  stillConnected: number;
  /** Bots that connected and then timed out: their server stopped answering during the run. */
  lost: number;
  /** Bots that connected and then were disconnected by their server with no match end before it (turned away, kicked). */
  dropped: number;
  failed: number;
  failures: Record<string, number>;
  durationSeconds: number;
  rttMs: { p50: number; p99: number };
  /** Share of snapshot ticks that never arrived, over every bot. */
  loss: number;
  /** Snapshots per second per connected bot. */
  snapshotsPerSecond: number;
  badMessages: number;
  matchesEnded: number;
}

export interface SwarmOptions {
  /** One token per bot. */
  tokens: Buffer[];
  tickRate: number;
  durationSeconds: number;
  bindAddress?: string;
  /** Bots started per second (a ramp spares the server a thundering herd of handshakes). */
  connectRate?: number;
  onProgress?: (p: SwarmProgress) => void;
  /** Ends the run early (Ctrl-C): the summary is then of what ran until it. */
  signal?: AbortSignal;
}

/**
 * Bots ticking together, joined as their tokens arrive (all at once for `runSwarm`, one by one as
 * the matchmaker hands them out for `runMatchmadeSwarm`), with a progress report every second.
 */
export class Swarm {
  readonly bots: Bot[] = [];
  private readonly started = performance.now();
  private readonly loop: TickLoop;
  private readonly progress: NodeJS.Timeout;
  private seed = 0;

  constructor(private readonly options: { tickRate: number; bindAddress?: string; onProgress?: (p: SwarmProgress) => void; planned?: () => number }) {
    warmUpNetcode(HANGAR_PROTOCOL_ID, WARM_UP_CONNECTIONS);
    let ticks = 0;
    this.loop = new TickLoop({
      rateHz: options.tickRate * SLICES,
      spinMs: 0,
      monitorEventLoop: false,
      onTick: () => {
        const slice = ticks++ % SLICES;
        for (let i = slice; i < this.bots.length; i += SLICES) this.bots[i]!.tick();
      },
    });
    this.loop.start();
    let lastSnapshots = 0;
    this.progress = setInterval(() => {
      const connected = this.bots.filter((b) => b.state === 'connected');
      const snapshots = this.bots.reduce((n, b) => n + b.stats.snapshots, 0);
      options.onProgress?.({
        elapsedSeconds: this.elapsedSeconds,
        bots: options.planned?.() ?? this.bots.length,
        connected: connected.length,
        failed: this.bots.filter((b) => isFailed(b.stats)).length,
        snapshotRate: connected.length ? (snapshots - lastSnapshots) / connected.length : 0,
        rttP50Ms: percentile(connected.map((b) => b.stats.rttMs), 0.5),
      });
      lastSnapshots = snapshots;
    }, 1000);
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** A bot with this token, connecting. */
  async join(token: Buffer): Promise<Bot> {
    const bot = new Bot({ token, seed: ++this.seed, bindAddress: this.options.bindAddress });
    this.bots.push(bot);
    await bot.start();
    return bot;
  }

  /** Stops every bot; each one's figures as they stood, and the summary of all. */
  async stop(): Promise<SwarmSummary> {
    clearInterval(this.progress);
    this.loop.stop();
    const duration = this.elapsedSeconds;
    const stats = this.bots.map((b) => ({ ...b.stats, state: b.state }));
    const endedAtMs = Date.now();
    await Promise.all(this.bots.map((b) => b.stop()));
    return summarize(stats, duration, endedAtMs);
  }
}

export async function runSwarm(options: SwarmOptions): Promise<SwarmSummary> {
  const swarm = new Swarm({ tickRate: options.tickRate, bindAddress: options.bindAddress, onProgress: options.onProgress, planned: () => options.tokens.length });
  const perTenth = (options.connectRate ?? 500) / 10;
  for (let i = 0; i < options.tokens.length && !options.signal?.aborted; i += perTenth) {
    await Promise.all(options.tokens.slice(i, i + perTenth).map((token) => swarm.join(token)));
    await pause(100, options.signal);
  }
  const remaining = options.durationSeconds - swarm.elapsedSeconds;
  await pause(Math.max(0, remaining * 1000), options.signal);
  return swarm.stop();
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, { signal }).catch((err: unknown) => {
    if (!signal?.aborted) throw err;
  });
}

export function isFailed(s: BotStats): boolean {
  return s.state === 'denied' || s.state === 'timed-out' || s.state === 'expired';
}

export function summarize(stats: readonly BotStats[], durationSeconds: number, endedAtMs: number): SwarmSummary {
  const connected = stats.filter((s) => s.connectedAtMs !== null);
  const failures: Record<string, number> = {};
  for (const s of stats) if (s.connectedAtMs === null) failures[s.state] = (failures[s.state] ?? 0) + 1;
  const received = connected.reduce((n, s) => n + s.snapshots, 0);
  const missed = connected.reduce((n, s) => n + s.missedSnapshots, 0);
  const connectedSeconds = connected.reduce((n, s) => n + Math.max(0.001, (endedAtMs - s.connectedAtMs!) / 1000), 0);
  return {
    players: stats.length,
    connected: connected.length,
    stillConnected: stats.filter((s) => s.state === 'connected').length,
    lost: connected.filter((s) => s.state === 'timed-out').length,
    dropped: connected.filter((s) => s.state === 'disconnected' && !s.matchEnded).length,
    failed: stats.length - connected.length,
    failures,
    durationSeconds,
    rttMs: { p50: percentile(connected.map((s) => s.rttMs), 0.5), p99: percentile(connected.map((s) => s.rttMs), 0.99) },
    loss: received + missed ? missed / (received + missed) : 0,
    snapshotsPerSecond: connectedSeconds ? received / connectedSeconds : 0,
    badMessages: stats.reduce((n, s) => n + s.badMessages, 0),
    matchesEnded: stats.filter((s) => s.matchEnded).length,
  };
}

export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
