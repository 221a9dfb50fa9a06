import { systemClock, type Cancel, type Clock } from '../core/clock.js';
import { HealthState, startAdminServer, type AdminServer } from '../core/admin-server.js';
import { GameServerState as S } from '../core/game-server.js';
import { LogField, type Logger } from '../core/logger.js';
import type { GameServerMetrics, Registry } from '../core/metrics.js';
import { METRICS_PORT_NAMES } from '../fleets/prometheus-targets.js';
import { readMemoryLimit, type MemoryLimitSources } from './memory-limit.js';

// A game server's admin port: core/admin-server.ts's probes, /metrics and POST /admin/drain, with
// the game server's meaning of them:
//   ready  = the game is listening and the SDK says Ready, Allocated or Reserved, and not draining
//   drain  = refuse new players (the players List kept full, so no backfill comes); shut down
//            through the SDK now if nobody is connected, else when the last player leaves (the
//            match is allowed to finish)
//   retire = the same without a drain request: the game found itself unfit for another match (a
//            network worker stopped, so `network` fails readiness). Health pings go on: Agones
//            would delete an Unhealthy server at once, with the match its other players are in.
// and the memory gauges (RSS, cgroup limit) kept current.

/** What the admin port needs from the Agones side (AgonesAgent has all of it). */
export interface GameServerAdminAgent {
  readonly state: string;
  readonly playerCount: number;
  port(name: string): number | undefined;
  stopAcceptingPlayers(): void;
  onPlayersEmpty(listener: () => void): Cancel;
  shutdown(): Promise<void>;
}

export interface GameServerAdminOptions {
  agent: GameServerAdminAgent;
  registry: Registry;
  metrics: GameServerMetrics;
  log: Logger;
  clock?: Clock;
  /** Bind address, from the caller's config. */
  host: string;
  /** ADMIN_PORT, used when the GameServer has no port named `metrics`; default 9090 (the deployment guide's). */
  fallbackPort?: number;
  /** When set, POST /admin/drain needs it as a Bearer token; when not, loopback callers only. */
  adminToken?: string;
  /** The game accepts player traffic (its socket is bound). */
  isListening: () => boolean;
  /** Every network thread still runs; given, it is the readiness check `network`. */
  isNetworkWhole?: () => boolean;
  /** The game's own drain step (e.g. refuse handshakes, tell lobbies); runs before the shutdown decision. */
  onDrain?: () => void | Promise<void>;
  /** How often the memory gauges are refreshed; default 5000 ms. */
  memoryRefreshMs?: number;
  /** Where the memory limit is read from (tests point these at fixtures). */
  memoryLimitSources?: MemoryLimitSources;
}

export interface GameServerAdmin {
  readonly port: number;
  readonly health: HealthState;
  /** Call once the game listens and has called Ready: /health/startup turns 200. */
  markStarted(): void;
  /**
   * New players are refused (the players List kept full) and the server shuts down through the
   * SDK once its last player leaves, or now if nobody is connected (resolving once it is asked
   * for). Idempotent; a drain retires the server too.
   */
  retire(reason: string): Promise<void>;
  /** Drained or retired: when its match ends the server shuts down rather than going Ready again. */
  readonly retiring: boolean;
  close(): Promise<void>;
}

export const DEFAULT_ADMIN_PORT = 9090;

/** States in which Agones may send players (Reserved: a matchmaker is about to). */
const SERVING_STATES: readonly string[] = [S.Ready, S.Allocated, S.Reserved];

/**
 * The GameServer port named `metrics` (or `metrics-tcp`, as Hangar's Prometheus targets accept),
 * else `fallback`. On a cluster that port must be Passthrough: the status holds the host port.
 */
export function adminPortOf(agent: Pick<GameServerAdminAgent, 'port'>, fallback = DEFAULT_ADMIN_PORT): number {
  for (const name of METRICS_PORT_NAMES) {
    const port = agent.port(name);
    if (port !== undefined) return port;
  }
  return fallback;
}

export async function startGameServerAdmin(options: GameServerAdminOptions): Promise<GameServerAdmin> {
  const { agent, metrics } = options;
  const log = options.log.child({ [LogField.component]: 'game-server-admin' });
  const clock = options.clock ?? systemClock;
  const health = new HealthState();

  health.addReadinessCheck('listening', () => options.isListening());
  health.addReadinessCheck('sdk', () => SERVING_STATES.includes(agent.state));
  const networkWhole = options.isNetworkWhole;
  if (networkWhole) health.addReadinessCheck('network', () => networkWhole());

  let shuttingDown = false;
  const shutDown = async (reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ reason }, 'shutting down through the SDK');
    try {
      await agent.shutdown();
    } catch (err) {
      metrics.errors.inc({ error_type: 'sdk_call' });
      log.error({ err }, 'SDK shutdown failed');
    }
  };
  let retiring = false;
  const retire = async (reason: string): Promise<void> => {
    if (retiring) return;
    retiring = true;
    agent.stopAcceptingPlayers();
    if (agent.playerCount === 0) return shutDown(`${reason}, with no player connected`);
    log.info({ reason, players: agent.playerCount }, 'retiring: shutting down when the last player leaves');
    const stop = agent.onPlayersEmpty(() => {
      stop();
      void shutDown(`the last player left (${reason})`);
    });
  };
  health.onDrain(async () => {
    agent.stopAcceptingPlayers();
    await options.onDrain?.();
    await retire('drained');
  });

  const sources = options.memoryLimitSources;
  const limit = readMemoryLimit(sources);
  log.info({ memoryLimitBytes: limit.bytes, source: limit.source }, 'memory limit');
  const refreshMemory = () => {
    metrics.memoryUsage.set(process.memoryUsage.rss());
    // Re-read: a pod's limits can be resized in place.
    metrics.memoryLimit.set(readMemoryLimit(sources).bytes);
  };
  refreshMemory();
  const stopRefresh = clock.every(options.memoryRefreshMs ?? 5000, refreshMemory);

  const port = adminPortOf(agent, options.fallbackPort);
  // Game servers sharing a host (hangar up) collide on the fixed fallback; a metrics port gives each its own.
  const portName = adminPortOf(agent, -1) === -1
    ? `the game server's admin port (ADMIN_PORT, as the GameServer has no port named ${METRICS_PORT_NAMES.join(' or ')}: give its fleet one, protocol TCP, portPolicy Passthrough, so each server has its own)`
    : `the game server's admin port (its GameServer port named ${METRICS_PORT_NAMES.find((name) => agent.port(name) !== undefined)!})`;
  let admin: AdminServer;
  try {
    admin = await startAdminServer({ host: options.host, port, portName, health, registry: options.registry, log, adminToken: options.adminToken });
  } catch (err) {
    stopRefresh();
    throw err;
  }
  return {
    port: admin.port,
    health,
    markStarted: () => health.markStarted(),
    retire,
    get retiring() {
      return retiring;
    },
    close: async () => {
      stopRefresh();
      await admin.close();
    },
  };
}
