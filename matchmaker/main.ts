import path from 'node:path';
import { pino } from 'pino';
import { HealthState, startAdminServer } from '../core/admin-server.js';
import { systemClock } from '../core/clock.js';
import { loadConfig, loadDatabaseConfig, loadPlayerAuthConfig, loadRedisConfig } from '../core/config.js';
import { loadSecrets, requireKey } from '../core/secrets.js';
import { ConfigError } from '../core/errors.js';
import { runService } from '../core/service-main.js';
import { createLogger } from '../core/logger.js';
import { createRecordsMetrics, createRegistry } from '../core/metrics.js';
import { openRecordsDatabase } from '../records/deferred-database.js';
import { ORPHAN_MIN_AGE_MS } from '../records/match-records.js';
import { addGameServerSourceCheck, gameServerSite, openGameServerSource } from '../allocator/game-server-source.js';
import { StreamAllocatorClient } from './allocator-client.js';
import { startMatchmaker } from './matchmaker.js';

// The matchmaker as its own service (the deployment guide's gateway): the lobby on lobby.port, the
// queues of config/matchmaking.yaml in memory or (several replicas) in Redis, allocations over the
// allocator's stream at ALLOCATOR_URL with ALLOCATOR_API_KEY, connect tokens with ENCRYPTION_KEY,
// player tokens with JWT_SECRET, records in PostgreSQL (matches end as the game servers of
// allocator.backend report: Redis, or Agones' GameServers through the Kubernetes API); probes and
// metrics on admin.port.

runService('matchmaker', async () => {
  const env = process.env;
  const config = loadConfig({ env });
  // Every missing or malformed secret at once, before anything opens.
  const problems: string[] = [];
  const settle = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      return undefined;
    }
  };
  const secrets = settle(() => loadSecrets(env));
  // loadSecrets has read a set ENCRYPTION_KEY; requireKey names it when it is not set.
  const tokenKey = secrets && settle(() => secrets.encryptionKey ?? requireKey(env.ENCRYPTION_KEY, 'ENCRYPTION_KEY'));
  const auth = settle(() => loadPlayerAuthConfig(config, env));
  if (problems.length || !secrets || !tokenKey || !auth) throw new ConfigError(problems);

  const log = createLogger({ level: config.logging.level, destination: pino.destination({ dest: 1, sync: false }) });
  const clock = systemClock;
  const registry = createRegistry();
  const health = new HealthState({ drainDelayMs: config.admin.drain_delay_seconds * 1000 });
  const records = openRecordsDatabase({ config: loadDatabaseConfig(env), log, pgliteDir: `${config.local.state_dir}/pglite`, schema: config.records.schema });
  // The game servers the allocator allocates from: their changes say when each match started and
  // how it ended (matchmaker.ts). Watched before the Agones view lists them, so the list counts.
  const source = openGameServerSource(config, env, log, clock);
  if (!source) log.warn('allocator.backend is memory: this matchmaker sees no game servers, so its matches get no start, end or result in the records; set it to redis or agones, as the allocator has it');
  const gameServers = source && (source.backend === 'redis' ? source.store : source.view);
  const site = source?.site ?? gameServerSite(config, { backend: 'memory', stateDir: path.resolve(config.local.state_dir) });
  if (site.caveat) log.warn({ site: site.name }, site.caveat);
  const matchmaker = await startMatchmaker({
    config,
    auth,
    tokenKey,
    allocator: new StreamAllocatorClient({ url: config.matchmaker.allocator_url, apiKey: secrets.allocatorApiKey, log }),
    redis: loadRedisConfig(env),
    database: records,
    recordsMetrics: createRecordsMetrics(registry),
    cwd: process.cwd(),
    clock,
    log,
    registry,
    gameServers,
    site: site.name,
  });
  // Not the newest matches: a server allocated a moment ago may not be in the view's list yet.
  const sweep = () => matchmaker.endOrphanMatches(ORPHAN_MIN_AGE_MS).catch((err: unknown) => log.warn({ err, site: site.name }, 'gave up ending the matches whose game server is gone'));
  // The view only feeds the records: a matchmaker that cannot list the GameServers yet (the API
  // server down, its Role missing) matches players meanwhile, and sweeps once it has them.
  if (source?.backend === 'agones') void source.view.startRetrying().then(sweep);
  else void sweep();
  health.addReadinessCheck('queue', () => matchmaker.queueUp());
  // Reported, not gating: the view only feeds the records, and a matchmaker taken out of its
  // Service would stop matching players without mending them (every replica sees the same outage).
  if (source) addGameServerSourceCheck(health, source, { gates: false });
  const admin = await startAdminServer({ host: config.admin.host, port: config.admin.port, health, registry, log, adminToken: secrets.adminToken });
  health.markStarted();
  log.info({ port: matchmaker.lobby.port, allocator: config.matchmaker.allocator_url, queue: config.matchmaker.queue }, 'matchmaker ready');

  // Draining (POST /admin/drain, Kubernetes' preStop): no new tickets, matches in flight finish,
  // then sockets are told to reconnect elsewhere (1001); tickets stay in the shared queue for the
  // other replicas (an in-memory queue's players are told to submit again).
  health.onDrain(() => matchmaker.close());
  return async () => {
    await health.drain();
    await gameServers?.close();
    await records.close();
    await admin.close();
    log.flush();
  };
});
