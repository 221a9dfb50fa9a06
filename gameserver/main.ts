import { pino } from 'pino';
import { ConfigError } from '../core/errors.js';
import { loadSecrets } from '../core/secrets.js';
import { MATCH_ID_ANNOTATION, MATCH_RESULT_SDK_KEY, REUSABLE_LABEL } from '../core/hangar-metadata.js';
import { createLogger } from '../core/logger.js';
import { onStackGone } from '../core/stack-pipe.js';
import { createGameServerMetrics, createRegistry } from '../core/metrics.js';
import type { MatchResult } from './arena/arena-world.js';
import { agonesHooks, ArenaServer } from './arena-server.js';
import { AgonesAgent } from './agones-agent.js';
import { bindAddressFor } from './bind-address.js';
import { startGameServerAdmin, type GameServerAdmin } from './game-server-admin.js';
import { gamePortNames, loadGameServerConfig, type GameServerConfig } from './game-server-config.js';
import { InlineNetwork } from './net/inline-network.js';
import type { NetworkPath, NetworkPathOptions } from './net/network-path.js';
import { WorkerNetwork } from './net/worker-network.js';
import { HANGAR_PROTOCOL_ID } from './protocol/protocol-constants.js';

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

  // Set as they start, so a Shutdown that arrives during start-up stops what exists.
  let server: ArenaServer | undefined;
  let admin: GameServerAdmin | undefined;
  let stopping: Promise<void> | undefined;
  const agent = await AgonesAgent.connect({
    log,
    metrics,
    noShowSeconds: config.NO_SHOW_SECONDS,
    connectTimeoutMs: config.SDK_LOST_SECONDS * 1000,
    onSdkLost: (err) => {
      log.error({ err }, 'lost the SDK server (err says how): nothing manages this game server any more, stopping');
      void stop(1);
    },
    // Health pings stop if the simulation stops making progress, so Agones notices a hung server.
    isHealthy: () => !server || server.loop.isProgressing(),
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
    warmUpConnections: config.WARM_UP_PLAYERS,
  };
  const network: NetworkPath = config.NETWORK_WORKERS > 0 ? new WorkerNetwork(pathOptions) : new InlineNetwork(pathOptions);

  const arena = new ArenaServer({
    settings: { tickRate: config.TICK_RATE, tickSpinMs: config.TICK_SPIN_MS, matchSeconds: config.MATCH_SECONDS, scoreLimit: config.SCORE_LIMIT, capacity, viewRadius: config.VIEW_RADIUS, maxVisible: config.MAX_VISIBLE, warmUpPlayers: config.WARM_UP_PLAYERS },
    network,
    log,
    metrics,
    hooks: agonesHooks(agent, { onMatchEnd: (result) => void endMatch(result), retire: (reason) => void admin?.retire(reason) }),
  });
  server = arena;
  await arena.start();

  admin = await startGameServerAdmin({
    agent,
    registry,
    metrics,
    log,
    host: bindAddress,
    fallbackPort: config.ADMIN_PORT,
    adminToken: secrets.adminToken,
    isListening: () => arena.isListening,
    isNetworkWhole: () => arena.isNetworkWhole,
  });
  // A worker that failed before the admin port existed.
  if (!arena.isNetworkWhole) void admin.retire('a network worker failed');
  await agent.ready();
  admin.markStarted();
  log.info({ serverId, ports: pathOptions.ports, bindAddress, capacity, tickRate: config.TICK_RATE, networkWorkers: config.NETWORK_WORKERS, adminPort: admin.port }, 'game server ready');

  async function endMatch(result: MatchResult): Promise<void> {
    log.info({ result }, 'match ended');
    // An ended match takes nobody new: while the server stays Allocated (the grace below) a backfill
    // would send players whom it refuses, their tickets spent. A reusable server's ready() reopens them.
    agent.stopAcceptingPlayers();
    // The match id goes with the result: a reusable server still carries it when its next match is allocated.
    await agent.setAnnotation(MATCH_RESULT_SDK_KEY, JSON.stringify({ matchId: agent.annotations[MATCH_ID_ANNOTATION], ...result, connectedAt: arena.connectedAt })).catch((err: unknown) => log.warn({ err }, 'could not record the match result'));
    await new Promise((r) => setTimeout(r, MATCH_END_GRACE_MS));
    if (agent.labels[REUSABLE_LABEL] === 'true' && !admin?.retiring) {
      arena.nextMatch();
      await agent.ready();
      log.info('ready for the next match');
    } else {
      arena.disconnectAll();
      await agent.shutdown();
    }
  }

  function stop(code: number): Promise<void> {
    stopping ??= (async () => {
      await server?.stop();
      await admin?.close();
      await agent.close();
      log.info({ code }, 'game server stopped');
      log.flush();
      process.exit(code);
    })();
    return stopping;
  }
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));
  onStackGone(process.env, () => {
    log.error('the local stack that ran this game server is gone (its process ended): nothing manages this server any more, stopping');
    void stop(1);
  });
}

/** The UDP port of each network thread. */
function gamePorts(config: Readonly<GameServerConfig>, portOf: (name: string) => number | undefined): number[] {
  const names = gamePortNames(config);
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
