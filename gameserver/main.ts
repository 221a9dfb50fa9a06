import { pino } from 'pino';
import { ConfigError } from '../core/errors.js';
import { loadGameServerConfig, loadSecrets, type GameServerConfig } from '../core/config.js';
import { MATCH_RESULT_SDK_KEY, REUSABLE_LABEL } from '../core/hangar-metadata.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createGameServerMetrics, createRegistry } from '../core/metrics.js';
import { ArenaGame } from './arena/arena-game.js';
import { rulesFor, type MatchResult } from './arena/arena-world.js';
import { AgonesAgent } from './agones-agent.js';
import { bindAddressFor } from './bind-address.js';
import { startGameServerAdmin } from './game-server-admin.js';
import { InlineNetwork } from './net/inline-network.js';
import type { NetworkPath, NetworkPathOptions } from './net/network-path.js';
import { applyCounters } from './net/packet-counters.js';
import { WorkerNetwork } from './net/worker-network.js';
import { HANGAR_PROTOCOL_ID } from './protocol/protocol-constants.js';
import { TickLoop } from './tick-loop.js';

// The dedicated game server: the arena, authoritative, at TICK_RATE, over Hangar's netcode. It talks
// to Agones only through the official SDK, so the same process runs under `npm start` and in a pod.
//
//   connect to the SDK → bind the game ports (inline, or one network worker per port) → admin port
//   → Ready → players connect with tokens bound to this server → the match runs to its time or
//   score limit → the result is written to the GameServer → Shutdown (or Ready again if reusable).

/** Players are told the match ended; these seconds let the reliable event reach them before they are dropped. */
const MATCH_END_GRACE_MS = 2000;

async function main(): Promise<void> {
  const config = loadGameServerConfig(process.env);
  const secrets = loadSecrets(process.env);
  const log = createLogger({ level: config.LOG_LEVEL, destination: pino.destination({ dest: 1, sync: false }) });
  const registry = createRegistry();
  const metrics = createGameServerMetrics(registry);

  let loop: TickLoop | undefined;
  const agent = await AgonesAgent.connect({
    log,
    metrics,
    noShowSeconds: config.NO_SHOW_SECONDS,
    // Health pings stop if the simulation stops making progress, so Agones notices a hung server.
    isHealthy: () => !loop || loop.isProgressing(),
    onAllocated: (a) => log.info({ matchId: a.matchId, expectedPlayers: a.expectedPlayers.length }, 'allocated'),
    onStateChange: (state) => {
      if (state === 'Shutdown') void stop(0);
    },
  });

  const gs = agent.gameServer;
  const serverId = gs.objectMeta.name;
  const capacity = Math.min(config.MAX_PLAYERS, agent.playerCapacity ?? config.MAX_PLAYERS);
  const bindAddress = bindAddressFor(gs.status.address);
  const pathOptions: NetworkPathOptions = {
    protocolId: HANGAR_PROTOCOL_ID,
    tokenKey: config.ENCRYPTION_KEY,
    serverId,
    maxClients: capacity,
    bindAddress,
    ports: gamePorts(config, (name) => agent.port(name)),
  };
  const network: NetworkPath = config.NETWORK_WORKERS > 0 ? new WorkerNetwork(pathOptions) : new InlineNetwork(pathOptions);

  const players = new Map<number, string>();
  let game = newGame(config, capacity, network, log, (result) => void endMatch(result));
  // The agent keeps game_server_player_count; connections are the network's.
  const syncConnections = () => metrics.connectionCount.set(network.connectionCount);

  let listening = false;
  await network.start({
    onConnect: (client, playerId) => {
      if (!agent.mayAcceptPlayer() || !game.connect(client, playerId)) return false;
      players.set(client, playerId);
      agent.playerConnected(playerId);
      syncConnections();
      return true;
    },
    onDisconnect: (client) => {
      game.disconnect(client);
      const playerId = players.get(client);
      players.delete(client);
      if (playerId !== undefined) agent.playerDisconnected(playerId);
      syncConnections();
    },
    onMessage: (client, _channel, payload) => game.message(client, payload),
  });

  listening = true;
  loop = new TickLoop({
    rateHz: config.TICK_RATE,
    metrics,
    log,
    onTick: (tick, dt) => {
      game.tick(tick, dt);
      network.flush();
      if (tick % config.TICK_RATE === 0) {
        applyCounters(metrics, network.drainCounters());
        syncConnections();
      }
    },
  });
  loop.start();

  const admin = await startGameServerAdmin({
    agent,
    registry,
    metrics,
    log,
    host: bindAddress,
    fallbackPort: config.ADMIN_PORT,
    adminToken: secrets.adminToken,
    isListening: () => listening,
  });
  await agent.ready();
  admin.markStarted();
  log.info({ serverId, ports: pathOptions.ports, bindAddress, capacity, tickRate: config.TICK_RATE, networkWorkers: config.NETWORK_WORKERS, adminPort: admin.port }, 'game server ready');

  async function endMatch(result: MatchResult): Promise<void> {
    log.info({ result }, 'match ended');
    await agent.setAnnotation(MATCH_RESULT_SDK_KEY, JSON.stringify(result)).catch((err: unknown) => log.warn({ err }, 'could not record the match result'));
    await new Promise((r) => setTimeout(r, MATCH_END_GRACE_MS));
    for (const client of [...players.keys()]) network.disconnect(client);
    network.flush();
    if (agent.labels[REUSABLE_LABEL] === 'true') {
      game = newGame(config, capacity, network, log, (r) => void endMatch(r));
      await agent.ready();
      log.info('ready for the next match');
    } else {
      await agent.shutdown();
    }
  }

  let stopping: Promise<void> | undefined;
  function stop(code: number): Promise<void> {
    stopping ??= (async () => {
      loop?.stop();
      for (const client of [...players.keys()]) network.disconnect(client);
      network.flush();
      await network.close();
      await admin.close();
      await agent.close();
      log.info({ code }, 'game server stopped');
      log.flush();
      process.exit(code);
    })();
    return stopping;
  }
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));
}

function newGame(config: Readonly<GameServerConfig>, capacity: number, network: NetworkPath, log: Logger, onMatchEnd: (r: MatchResult) => void): ArenaGame {
  return new ArenaGame({
    rules: rulesFor(capacity, { matchSeconds: config.MATCH_SECONDS, scoreLimit: config.SCORE_LIMIT }),
    tickRate: config.TICK_RATE,
    network,
    maxPlayers: capacity,
    viewRadius: config.VIEW_RADIUS,
    maxVisible: config.MAX_VISIBLE,
    seed: Date.now() & 0xffffffff,
    onMatchEnd,
    onDrop: (reason) => log.debug({ reason }, 'client message dropped'),
  });
}

/** The UDP port of each network thread: `GAME_PORT_NAME`, then `<name>-1`, `<name>-2`... */
function gamePorts(config: Readonly<GameServerConfig>, portOf: (name: string) => number | undefined): number[] {
  const threads = Math.max(1, config.NETWORK_WORKERS);
  const names = Array.from({ length: threads }, (_, i) => (i === 0 ? config.GAME_PORT_NAME : `${config.GAME_PORT_NAME}-${i}`));
  const missing = names.filter((n) => portOf(n) === undefined);
  if (missing.length) {
    throw new ConfigError([`the GameServer has no port named ${missing.join(', ')}: NETWORK_WORKERS=${config.NETWORK_WORKERS} needs one UDP port per worker, named ${names.join(', ')}`]);
  }
  return names.map((n) => portOf(n)!);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`game server: ${p}\n`);
  } else {
    process.stderr.write(`game server failed: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
