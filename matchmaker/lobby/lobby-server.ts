import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Clock } from '../../core/clock.js';
import type { ServiceConfig } from '../../core/config.js';
import { errorHandler, notFoundHandler } from '../../core/http-errors.js';
import { listenOn } from '../../core/listen.js';
import type { Logger } from '../../core/logger.js';
import type { MatchmakerMetrics } from '../../core/metrics.js';
import type { PlayerAuth } from '../player-auth.js';
import { LobbyContext } from './lobby-context.js';
import { createLobbyRouter } from './lobby-http.js';
import { LobbyLimits } from './lobby-limits.js';
import { LobbyPresence } from './lobby-presence.js';
import { LobbySocketServer } from './lobby-socket-server.js';
import type { Matchmaking } from './matchmaking.js';

/** The lobby's port as errors name it (a ListenError's `what`). */
export const LOBBY_PORT_NAME = 'the lobby (lobby.port)';

// The lobby on one port (8080 by default): the HTTP routes and the WebSocket share it, so one
// LoadBalancer Service fronts both. The matchmaking loop is reached only through `Matchmaking`.

export type LobbySettings = Pick<ServiceConfig['lobby'], 'rate_limit' | 'max_sockets_per_player' | 'heartbeat_seconds' | 'ticket_grace_seconds'>;

export interface LobbyServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  matchmaking: Matchmaking;
  auth: PlayerAuth;
  settings: LobbySettings;
  /** Whether the ticket queue can be reached from this process: when not, for a third of the grace, the sockets are handed off (LobbyPresence). */
  queueUp: () => boolean;
  clock: Clock;
  metrics: MatchmakerMetrics;
  log: Logger;
}

export interface LobbyServer {
  readonly port: number;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Closes every socket (1001 going away), then the port. */
  close(): Promise<void>;
}

export async function startLobbyServer(options: LobbyServerOptions): Promise<LobbyServer> {
  const log = options.log.child({ component: 'lobby' });
  const context = new LobbyContext({
    matchmaking: options.matchmaking,
    auth: options.auth,
    limits: new LobbyLimits(options.clock, options.settings.rate_limit),
    clock: options.clock,
    metrics: options.metrics,
    log,
  });
  const presence = new LobbyPresence({ matchmaking: options.matchmaking, clock: options.clock, log, graceSeconds: options.settings.ticket_grace_seconds, queueUp: options.queueUp });
  const app = express();
  app.disable('x-powered-by');
  app.use(createLobbyRouter(context, presence));
  app.use(notFoundHandler);
  app.use(errorHandler(log));
  const sockets = new LobbySocketServer({ context, presence, maxSocketsPerPlayer: options.settings.max_sockets_per_player, heartbeatSeconds: options.settings.heartbeat_seconds });
  const server: Server = createServer(app);
  server.on('upgrade', sockets.handleUpgrade);
  try {
    await listenOn(server, options.host, options.port, LOBBY_PORT_NAME);
  } catch (err) {
    await sockets.close();
    presence.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.host, port }, 'lobby listening');
  return {
    port,
    get connections() {
      return sockets.connections;
    },
    async close() {
      await sockets.close();
      presence.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
