import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { redisKeyPrefix, type PlayerAuthConfig, type RedisConfig, type ServiceConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { retryUntilDone } from '../core/retry.js';
import { LogField, type Logger } from '../core/logger.js';
import { createMatchmakerMetrics, type RecordsMetrics, type Registry } from '../core/metrics.js';
import type { Database } from '../records/database.js';
import { MatchRecords, type OrphanSweep } from '../records/match-records.js';
import type { GameServerStore } from '../store/game-server-store.js';
import type { AllocatorClient } from './allocator-client.js';
import { startLobbyServer, type LobbyServer } from './lobby/lobby-server.js';
import { recordMatchNews } from './match-news.js';
import { MatchmakingService } from './matchmaking-service.js';
import { PlayerAuth } from './player-auth.js';
import type { MatchEvents } from './queue/match-events.js';
import { MemoryMatchEvents } from './queue/memory-match-events.js';
import { MemoryTicketQueue } from './queue/memory-ticket-queue.js';
import { RedisMatchEvents } from './queue/redis-match-events.js';
import { RedisTicketQueue } from './queue/redis-ticket-queue.js';
import type { TicketQueue } from './queue/ticket-queue.js';
import type { QueueRules } from './ticket.js';
import { loadMatchmakingRules } from './rules.js';

// The matchmaker as a whole: the queues and rules designers wrote, the matchmaking loop, the lobby
// players connect to, and the records of every match: when its first player reached the server,
// and the result each game server reports at its end (the match-result annotation it writes through the Agones SDK). The local
// stack runs it in process beside the allocator; matchmaker/main.ts runs it alone.

export interface MatchmakerOptions {
  config: Readonly<ServiceConfig>;
  auth: Readonly<PlayerAuthConfig>;
  /** The key shared with the game servers, for connect tokens. */
  tokenKey: Buffer;
  allocator: AllocatorClient;
  /** With matchmaker.queue redis. */
  redis?: RedisConfig;
  database: Pick<Database, 'query'>;
  recordsMetrics: RecordsMetrics;
  /** Game servers as they change, to record the results they report; listed once to end matches whose server is gone. */
  gameServers?: Pick<GameServerStore, 'watch' | 'list'>;
  /** The site of those game servers (gameServerSite): its matches are recorded under it, and only its matches are swept. */
  site: string;
  cwd: string;
  clock: Clock;
  log: Logger;
  registry: Registry;
}

export interface Matchmaker {
  readonly lobby: LobbyServer;
  readonly service: MatchmakingService;
  /** The rules file's queues, as loaded at start, and the file. */
  readonly queues: readonly QueueRules[];
  readonly rulesFile: string;
  /** Whether the ticket queue can be reached (always, in memory): a readiness check. */
  queueUp(): boolean;
  /**
   * Ends as abandoned the open matches of its site made over `minAgeMs` ago whose game server no
   * longer exists (their end happened while no matchmaker watched); call once the game servers are
   * listed (an Agones view started). Tries again, backing off, until the sweep is done or the
   * matchmaker closes. What it ended; nothing without `gameServers`.
   */
  endOrphanMatches(minAgeMs: number): Promise<OrphanSweep>;
  close(): Promise<void>;
}

const ORPHAN_SWEEP_MAX_RETRY_MS = 30_000;

export async function startMatchmaker(options: MatchmakerOptions): Promise<Matchmaker> {
  const { config, clock, registry } = options;
  const log = options.log.child({ [LogField.component]: 'matchmaker' });
  const rulesFile = path.resolve(options.cwd, config.matchmaker.rules_file);
  const { queues, warnings } = await loadMatchmakingRules(rulesFile);
  for (const w of warnings) log.warn({ problem: w }, 'matchmaking rules');
  const metrics = createMatchmakerMetrics(registry);
  const { tickets, events, queueUp } = ticketStore(config, options.redis, log);
  const records = new MatchRecords(options.database, log, options.recordsMetrics, options.site);
  const service = new MatchmakingService({
    queues,
    tickets,
    events,
    allocator: options.allocator,
    tokenKey: options.tokenKey,
    records,
    clock,
    // Parts that name their own component get the unbound logger (pino would repeat the key).
    log: options.log,
    metrics,
    intervalMs: config.matchmaker.interval_ms,
    ticketGraceSeconds: config.lobby.ticket_grace_seconds,
    claimLeaseSeconds: config.matchmaker.claim_lease_seconds,
  });
  const stopResults = options.gameServers && recordMatchNews(options.gameServers, records, clock, log);
  await events.subscribed();
  let lobby: LobbyServer;
  try {
    lobby = await startLobbyServer({
      host: config.lobby.host,
      port: config.lobby.port,
      matchmaking: service,
      auth: new PlayerAuth({ config: options.auth, clock, log: options.log }),
      settings: config.lobby,
      queueUp,
      clock,
      metrics,
      log: options.log,
    });
  } catch (err) {
    stopResults?.();
    await service.close();
    throw err;
  }
  service.start();
  let closed = false;
  log.info({ port: lobby.port, queues: queues.map((q) => q.name), site: records.site }, 'matchmaker started');
  return {
    lobby,
    service,
    queues,
    rulesFile,
    queueUp,
    endOrphanMatches: async (minAgeMs) => {
      const { gameServers } = options;
      if (!gameServers) return { site: records.site, ended: 0 };
      // The database, or the game servers' view, may come up after this process: sweep once they do.
      return retryUntilDone(
        async () => {
          const existing = (await gameServers.list()).map((gs) => gs.metadata.name);
          return records.endOrphans(existing, new Date(clock.now()), minAgeMs);
        },
        {
          clock,
          stopped: () => closed,
          onFailure: (err, attempts, retryInMs) => {
            if (attempts === 1 || retryInMs === ORPHAN_SWEEP_MAX_RETRY_MS) log.warn({ err, attempts, retryInMs, site: records.site }, 'could not yet end the matches whose game server is gone; trying again');
          },
          maxDelayMs: ORPHAN_SWEEP_MAX_RETRY_MS,
        },
      );
    },
    close: async () => {
      closed = true;
      stopResults?.();
      // The service first, while players' sockets are open: matches being made reach them, and
      // so does the news of tickets a process-local queue cannot keep.
      await service.close();
      await lobby.close();
      await records.close();
      await tickets.close();
      await events.close();
      await options.allocator.close();
    },
  };
}

/** The tickets' queue and the players' events as matchmaker.queue says (the matchmaking bench builds them here too, so it pays what the service pays). */
export function ticketStore(config: Readonly<ServiceConfig>, redis: RedisConfig | undefined, log: Logger): { tickets: TicketQueue; events: MatchEvents; queueUp: () => boolean } {
  if (config.matchmaker.queue === 'memory') return { tickets: new MemoryTicketQueue(), events: new MemoryMatchEvents(), queueUp: () => true };
  if (!redis) throw new ConfigError(['matchmaker.queue is redis: set REDIS_URL, or REDIS_HOST (with REDIS_PORT and REDIS_PASSWORD as needed)']);
  const prefix = redisKeyPrefix(config.matchmaker.redis_prefix);
  const commandTimeoutMs = config.matchmaker.redis_command_timeout_seconds * 1000;
  const tickets = new RedisTicketQueue({ connection: redis.url, prefix, log, commandTimeoutMs });
  const events = new RedisMatchEvents({ connection: redis.url, prefix, log, commandTimeoutMs });
  return { tickets, events, queueUp: () => tickets.isUp() && events.isUp() };
}
