import type { Logger } from '../core/logger.js';
import type { AgonesAgent } from './agones-agent.js';
import type { GameServerMetrics } from '../core/metrics.js';
import { ArenaGame } from './arena/arena-game.js';
import { warmUpArena, type ArenaWarmUpOptions } from './arena/arena-warm-up.js';
import { rulesFor, type MatchResult } from './arena/arena-world.js';
import { collectAllGarbage, IDLE_COLLECTION_MS, IdleCollector, YoungGenerationPacer } from './exposed-gc.js';
import type { NetworkFailure, NetworkPath } from './net/network-path.js';
import { applyCounters } from './net/packet-counters.js';
import { TickLoop } from './tick-loop.js';

// The arena served over the network at a fixed tick rate: the game, its network path and its tick
// loop, with hooks for whoever hosts it (gameserver/main.ts connects them to Agones; tests drive
// them directly). One match at a time; `nextMatch` starts a fresh one on the same sockets.

// Collecting garbage at the server's own moments (exposed-gc.ts; the arena fleet runs node with
// --expose-gc). Between ticks: every datagram in and out leaves young garbage (its buffer and
// views); left to V8, a scavenge comes whenever the young generation fills, and a tick due
// meanwhile starts that late (every ~200 ms for 5-14 ms at 800 players, measured when node:crypto's
// cipher objects, since replaced, were most of that garbage). Collected at the end of a tick, just
// before it would fill, the young generation costs a short pause at a time no tick is due. Before
// listening: the warm-ups' survivors are garbage by then, and an idle server may go minutes without
// a full collection, holding them. Once nobody has been connected for some seconds: one scavenge,
// so that V8 gives back the young generation start-up grew (IdleCollector).

export interface ArenaServerSettings {
  tickRate: number;
  /** The tick loop's last stretch on event-loop turns while players are connected (TickLoopOptions.spinMs); default the loop's. */
  tickSpinMs?: number;
  matchSeconds: number;
  scoreLimit: number;
  /** Players at once. */
  capacity: number;
  viewRadius: number;
  maxVisible: number;
  /** Phantom players the game rehearses with before the server listens (arena/arena-warm-up.ts); default none. */
  warmUpPlayers?: number;
}

export interface ArenaServerHooks {
  /** Whether a new player may join now (Agones: not while draining or shutting down). */
  mayAccept(): boolean;
  playerConnected(playerId: string): void;
  playerDisconnected(playerId: string): void;
  onMatchEnd(result: MatchResult): void;
  /** A network thread stopped (logged and counted already; its players are gone): the server is to retire. */
  networkFailed(failure: NetworkFailure): void;
}

/**
 * The hooks of a game server that Agones runs (gameserver/main.ts): who may join and who is here go
 * through its agent (the players List, player tracking), and a network thread that stopped retires
 * the server through its admin port.
 */
export function agonesHooks(
  agent: Pick<AgonesAgent, 'mayAcceptPlayer' | 'playerConnected' | 'playerDisconnected'>,
  o: { onMatchEnd: (result: MatchResult) => void; retire: (reason: string) => void },
): ArenaServerHooks {
  return {
    mayAccept: () => agent.mayAcceptPlayer(),
    playerConnected: (id) => agent.playerConnected(id),
    playerDisconnected: (id) => agent.playerDisconnected(id),
    onMatchEnd: o.onMatchEnd,
    networkFailed: () => o.retire('a network worker failed'),
  };
}

export interface ArenaServerOptions {
  settings: ArenaServerSettings;
  network: NetworkPath;
  hooks: ArenaServerHooks;
  log: Logger;
  metrics?: GameServerMetrics;
}

/**
 * The phases of an arena tick, as the tick loop's metrics and slow-tick log line name them. Inputs
 * have none of their own: inline they are applied as their datagrams are read, between ticks; from
 * network workers they are taken at the tick's start, inside 'simulate'.
 */
const PHASES = ['simulate', 'snapshots', 'send', 'collect'];

export class ArenaServer {
  readonly loop: TickLoop;
  private game: ArenaGame;
  private readonly players = new Map<number, string>();
  /** When each player of this match first connected, ms since the epoch. */
  private readonly arrivals = new Map<string, number>();
  private listening = false;
  private networkFailures = 0;

  constructor(private readonly options: ArenaServerOptions) {
    this.game = this.newGame();
    const { settings, network, metrics } = options;
    const youngGeneration = new YoungGenerationPacer();
    const idle = new IdleCollector(Math.ceil((IDLE_COLLECTION_MS / 1000) * settings.tickRate));
    const simulated = () => this.loop.endPhase('simulate');
    this.loop = new TickLoop({
      rateHz: settings.tickRate,
      spinMs: settings.tickSpinMs,
      // With nobody connected a late tick is late for no one: no spin, and V8 collects as it likes.
      precise: () => this.players.size > 0,
      received: network.datagramsReceived === undefined ? undefined : () => network.datagramsReceived!,
      sent: network.datagramsSent === undefined ? undefined : () => network.datagramsSent!,
      players: () => this.players.size,
      phases: PHASES,
      metrics,
      log: options.log,
      onTick: (tick, dt) => {
        network.deliver();
        this.game.tick(tick, dt, simulated);
        this.loop.endPhase('snapshots');
        network.flush();
        this.loop.endPhase('send');
        if (this.players.size > 0) youngGeneration.endOfTick();
        idle.endOfTick(this.players.size > 0);
        this.loop.endPhase('collect');
        if (metrics && tick % settings.tickRate === 0) {
          applyCounters(metrics, network.drainCounters());
          metrics.connectionCount.set(network.connectionCount);
        }
      },
    });
  }

  get isListening(): boolean {
    return this.listening;
  }

  get playerCount(): number {
    return this.players.size;
  }

  /** False once a network thread has stopped: some of the server's ports are dead. */
  get isNetworkWhole(): boolean {
    return this.networkFailures === 0;
  }

  get matchPhase(): ArenaGame['matchPhase'] {
    return this.game.matchPhase;
  }

  async start(): Promise<void> {
    const { network, hooks, metrics } = this.options;
    warmUpArena(this.matchOptions(), this.options.settings.warmUpPlayers ?? 0);
    await network.start({
      onConnect: (client, playerId) => {
        if (!hooks.mayAccept() || !this.game.connect(client, playerId)) return false;
        this.players.set(client, playerId);
        if (!this.arrivals.has(playerId)) this.arrivals.set(playerId, Date.now());
        hooks.playerConnected(playerId);
        return true;
      },
      onDisconnect: (client) => {
        this.game.disconnect(client);
        const playerId = this.players.get(client);
        this.players.delete(client);
        if (playerId !== undefined) hooks.playerDisconnected(playerId);
      },
      onMessage: (client, _channel, payload) => this.game.message(client, payload),
      onNetworkFailed: (failure) => {
        this.networkFailures++;
        metrics?.errors.inc({ error_type: 'network_worker' });
        this.options.log.error(
          { err: failure.error, worker: failure.worker, port: failure.port, connectionsDropped: failure.clientsDropped, playersLeft: this.players.size },
          'network worker failed: its players were dropped and its port is closed',
        );
        hooks.networkFailed(failure);
      },
    });
    collectAllGarbage();
    this.listening = true;
    this.loop.start();
  }

  /** When each player of this match first connected (ISO times): who came, and when, for the match record. */
  get connectedAt(): Record<string, string> {
    return Object.fromEntries([...this.arrivals].map(([playerId, ms]) => [playerId, new Date(ms).toISOString()]));
  }

  /** Drops every player (they were told the match ended) and opens a fresh match. */
  nextMatch(): void {
    this.disconnectAll();
    this.arrivals.clear();
    this.game = this.newGame();
  }

  disconnectAll(): void {
    for (const client of [...this.players.keys()]) this.options.network.disconnect(client);
    this.options.network.flush();
  }

  async stop(): Promise<void> {
    this.loop.stop();
    this.disconnectAll();
    await this.options.network.close();
    this.listening = false;
  }

  /** The match as the settings make it, for the real game and for the warm-up alike. */
  private matchOptions(): ArenaWarmUpOptions {
    const { settings } = this.options;
    return {
      rules: rulesFor(settings.capacity, { matchSeconds: settings.matchSeconds, scoreLimit: settings.scoreLimit }),
      tickRate: settings.tickRate,
      maxPlayers: settings.capacity,
      viewRadius: settings.viewRadius,
      maxVisible: settings.maxVisible,
      seed: Date.now() & 0xffffffff,
    };
  }

  private newGame(): ArenaGame {
    const { log } = this.options;
    return new ArenaGame({
      ...this.matchOptions(),
      network: this.options.network,
      onMatchEnd: (result) => this.options.hooks.onMatchEnd(result),
      onDrop: (reason) => {
        this.options.metrics?.packetsRejected.inc({ reason: `game-${reason}` });
        log.debug({ reason }, 'client message dropped');
      },
    });
  }
}
