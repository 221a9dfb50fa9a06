import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import express from 'express';
import { ADMIN_PORT_NAME, startAdminServer, HealthState, type AdminServer } from '../core/admin-server.js';
import type { Clock } from '../core/clock.js';
import { loadPlayerAuthConfig, redisKeyPrefix, type DatabaseConfig, type PlayerAuthConfig, type RedisConfig, type ServiceConfig } from '../core/config.js';
import { requireKey, type Secrets } from '../core/secrets.js';
import { displayPath } from '../core/display-path.js';
import { InProcessAllocatorClient } from '../matchmaker/allocator-client.js';
import { LOBBY_PORT_NAME } from '../matchmaker/lobby/lobby-server.js';
import { startMatchmaker, type Matchmaker } from '../matchmaker/matchmaker.js';
import { checkRulesEdit, fleetSeatWarnings, type RulesEdit } from '../matchmaker/rules.js';
import { ConfigError } from '../core/errors.js';
import { RedisGameServerStore } from '../store/redis-game-server-store.js';
import { errorHandler, notFoundHandler } from '../core/http-errors.js';
import { checkPortsFree, listenOn } from '../core/listen.js';
import { LogField, type Logger } from '../core/logger.js';
import { createAutoscalerMetrics, createControllerMetrics, createRecordsMetrics, createRegistry, type Registry } from '../core/metrics.js';
import { openRecordsDatabase, type DeferredDatabase } from '../records/deferred-database.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import type { GameServerStore } from '../store/game-server-store.js';
import { StoreAllocationBackend } from '../allocator/allocation-backend.js';
import { gameServerSite } from '../allocator/game-server-source.js';
import { startAllocationService, type AllocationService } from '../allocator/allocation-service.js';
import { FleetAutoscalerController } from './autoscaler/autoscaler-controller.js';
import { autoscaledFleets, FleetController } from './fleet-controller.js';
import { ENCRYPTION_KEY_SECRET, HANGAR_SECRET, LocalSecrets } from './local-secrets.js';
import { watchFleetDirectory } from './fleet-directory-watcher.js';
import { recordGameServerMetrics } from './game-server-metrics.js';
import { createFleetApi } from './http-api.js';
import { writePrometheusTargets } from './prometheus-targets.js';
import { ResourceApplier, type ApplyResult } from './resource-applier.js';
import { keepGameServerLogs } from './runtime/log-retention.js';
import { LocalProcessRuntime } from './runtime/local-process-runtime.js';
import { PortAllocator } from './runtime/port-allocator.js';
import { ProcessRecords } from './runtime/process-records.js';
import { boundsCeiling, loadBesides, type ServerBounds } from './runtime/server-bounds.js';
import { startLocalSdkServer } from './sdk-server/local-sdk-server.js';

// The whole local Agones in one process: a game-server store, the port allocator, the process
// runtime with one SDK server per game server, the fleet and autoscaler controllers fed from the
// fleets directory (and kept in step with its edits), the HTTP API, the admin server, Agones'
// metrics and a Prometheus target file. `hangar up` runs it; end-to-end tests and benchmarks start
// it on ephemeral ports.

export interface LocalStackOptions {
  config: Readonly<ServiceConfig>;
  log: Logger;
  clock: Clock;
  /** Base for relative paths in the config and for game-server working directories. */
  cwd: string;
  /**
   * From the environment: the admin token, the allocator's API keys and TLS files, and
   * ENCRYPTION_KEY, which when set is the stack's connect-token key (kept as its local Secret).
   */
  secrets?: Secrets;
  /** Where allocation records go; default an embedded PGlite in <state_dir>/pglite. */
  database?: DatabaseConfig;
  /** With allocator.backend redis: the Redis the game servers' records live in, shared with standalone allocators. */
  redis?: RedisConfig;
  /** Player tokens of the matchmaker's lobby; default: development's (a random secret, guests allowed). */
  playerAuth?: PlayerAuthConfig;
}

export interface LocalStack {
  readonly apiPort: number;
  readonly adminPort: number;
  readonly store: GameServerStore;
  readonly controller: FleetController;
  readonly registry: Registry;
  readonly autoscalers: FleetAutoscalerController;
  readonly allocation: AllocationService;
  readonly matchmaker: Matchmaker;
  /** The records database (opening in the background). */
  readonly database: DeferredDatabase;
  readonly applier: ResourceApplier;
  /** Where the Prometheus file_sd target list is kept. */
  readonly targetsFile: string;
  /** The local stand-in for Kubernetes Secrets (the connect-token key lives here). */
  readonly secrets: LocalSecrets;
  /** Calls `listener` with the outcome of every reload of the fleets directory after the first, and of every YAML POST /v1/apply applied. */
  onReload(listener: (results: Map<string, ApplyResult>) => void): void;
  /** Hears each edit of the matchmaking rules file, which the matchmaker reads only at start: what a restart would run, or why it would fail. */
  onRulesEdit(listener: (edit: RulesEdit) => void): void;
  /** Stops every game server and closes every port; safe to call more than once. */
  stop(): Promise<void>;
  /** SIGKILLs every game-server process now (a stop that cannot wait); returns how many. */
  killGameServers(): number;
}

const API_PORT_NAME = 'the API (api.port)';

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config, log, clock, cwd } = options;
  const local = config.local;
  const registry = createRegistry();
  const metrics = createControllerMetrics(registry);
  const health = new HealthState();
  // The API port here is plain HTTP: with ALLOCATOR_TLS_* the allocator would ask every caller,
  // loopback too, for a client certificate no one can present, and refuse every allocation.
  if (options.secrets?.allocatorTls) {
    throw new ConfigError(['ALLOCATOR_TLS_CERT_FILE, ALLOCATOR_TLS_KEY_FILE, ALLOCATOR_TLS_CA_FILE: the local stack serves its API over plain HTTP, without mutual TLS (the standalone allocator, node dist/allocator/main.js, serves it); unset them, and use ALLOCATOR_API_KEYS for keys']);
  }
  // A port someone else holds fails now, not after the records database's first start (seconds)
  // and a store cleared for nothing.
  await checkPortsFree([
    { host: config.api.host, port: config.api.port, what: API_PORT_NAME },
    { host: config.lobby.host, port: config.lobby.port, what: LOBBY_PORT_NAME },
    { host: config.admin.host, port: config.admin.port, what: ADMIN_PORT_NAME },
  ]);
  // Before anything opens: a key file that holds no key stops the stack here, naming the file.
  const secrets = new LocalSecrets(path.resolve(cwd, local.state_dir, 'secrets'));
  const tokenKey = connectTokenKey(secrets, options.secrets?.encryptionKey, log);
  const { store, up: storeUp, site } = gameServerStore(config, options.redis, path.resolve(cwd, local.state_dir), log);
  health.addReadinessCheck('store', storeUp);
  // The stack owns the game servers under its store: records left by an earlier run have no process.
  try {
    await Promise.all((await store.list()).map((gs) => store.delete(gs.metadata.name)));
  } catch (err) {
    // A Redis store left open would keep reconnecting, and the process alive, after the failure.
    await store.close();
    throw err;
  }
  // Before any port is assigned: a stack killed outright left its servers holding theirs.
  const records = new ProcessRecords(path.resolve(cwd, local.state_dir, 'processes'), log);
  await records.stopLeftovers(local.termination_grace_seconds * 1000);
  const bounds: ServerBounds = { portRange: local.port_range, maxServers: local.max_servers };
  const ports = new PortAllocator({ range: local.port_range, host: local.bind_address });
  const logDir = path.resolve(cwd, local.state_dir, 'logs');
  const runtime = new LocalProcessRuntime({
    store,
    ports,
    startSdkServer: startLocalSdkServer,
    clock,
    log,
    metrics,
    advertiseAddress: local.advertise_address,
    nodeName: hostname(),
    logDir,
    records,
    cwd,
    terminationGraceSeconds: local.termination_grace_seconds,
    startConcurrency: local.start_concurrency,
    secrets,
  });
  const namespace = config.server.cluster.discovery.namespace;
  // Each needs the other: the autoscalers scale fleets, and a fleet's reconcile waits for its autoscaler.
  const controller: FleetController = new FleetController({ store, runtime, clock, log, metrics, namespace, settleReplicas: (fleet) => autoscalers.settle(fleet) });
  const autoscalers: FleetAutoscalerController = new FleetAutoscalerController({
    fleets: autoscaledFleets(controller),
    clock,
    log,
    metrics: createAutoscalerMetrics(registry),
    // An autoscaler asking for more servers than the ports or memory hold would wedge the stack as a scale to 100,000 did.
    replicaCeiling: async (name, fleet, replicas) => boundsCeiling(replicas, fleet.spec.template.spec.ports, bounds, loadBesides(await controller.running(), [name]), fleet.spec.replicas),
    boundedChange: (change) => controller.boundedChange(change),
  });
  const applier = new ResourceApplier({
    controller,
    autoscalers,
    store,
    runtime,
    log,
    bounds,
    fleetWarnings: (fleet) => (matchmaker ? fleetSeatWarnings(fleet, matchmaker.queues, displayPath(cwd, matchmaker.rulesFile)) : []),
  });
  const stopMetrics = recordGameServerMetrics(store, metrics, clock);
  const stopLogRetention = keepGameServerLogs({ dir: logDir, store, clock, log });
  const targetsFile = path.resolve(cwd, local.state_dir, 'prometheus', 'gameservers.json');
  const stopTargets = writePrometheusTargets({ store, file: targetsFile, clock, log });

  const secretsFromEnv: Secrets = options.secrets ?? { allocatorApiKeys: [] };
  // One records database for the process; it opens in the background (PGlite's first start takes seconds).
  const database = openRecordsDatabase({ config: options.database ?? { kind: 'pglite' }, log, pgliteDir: path.resolve(cwd, local.state_dir, 'pglite'), schema: config.records.schema });
  const recordsMetrics = createRecordsMetrics(registry);
  const allocation = await startAllocationService({
    backend: new StoreAllocationBackend(store, clock),
    config: config.allocator,
    secrets: secretsFromEnv,
    database,
    recordsMetrics,
    clock,
    log,
    registry,
  });


  const reloadListeners: Array<(results: Map<string, ApplyResult>) => void> = [];
  const rulesListeners: Array<(edit: RulesEdit) => void> = [];
  const app = express();
  app.disable('x-powered-by');
  app.use(
    createFleetApi({
      store,
      runtime,
      controller,
      autoscalers,
      applier,
      health,
      bounds,
      adminToken: secretsFromEnv.adminToken,
      queues: async () => (matchmaker ? matchmaker.service.queueStats() : []),
      applied: (file, result) => {
        for (const listener of reloadListeners) listener(new Map([[file, result]]));
      },
    }),
  );
  app.use(notFoundHandler);
  app.use(errorHandler(log));

  const fleetsDir = path.resolve(cwd, local.fleets_dir);
  let stopWatching = (): void => undefined;
  let api: Server | undefined;
  let matchmaker: Matchmaker | undefined;
  let admin: AdminServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      stopWatching();
      await health.drain();
      await autoscalers.close();
      await controller.close();
      // The game servers go now, not after the records database: one still starting (PGlite's
      // first start takes tens of seconds on a busy machine; a PostgreSQL that does not answer, its
      // connect timeout) would keep them running, and starting, while Ctrl-C seemed to do nothing.
      const serversStopped = runtime.close();
      await matchmaker?.close();
      await allocation.close();
      await database.close();
      await serversStopped;
      stopMetrics();
      stopLogRetention();
      stopTargets();
      await new Promise<void>((resolve) => (api ? (api.closeAllConnections(), api.close(() => resolve())) : resolve()));
      await admin?.close();
      await store.close();
    })());

  try {
    matchmaker = await startMatchmaker({
      config,
      auth: options.playerAuth ?? loadPlayerAuthConfig(config, {}),
      tokenKey,
      allocator: new InProcessAllocatorClient(allocation.allocator),
      redis: options.redis,
      database,
      recordsMetrics,
      gameServers: store,
      site,
      cwd,
      clock,
      log,
      registry,
    });
    health.addReadinessCheck('queue', matchmaker.queueUp);
    // A stack stopped mid-match left its matches open: their servers went with it (the store was
    // cleared above, so every match of its site made before now is one of those).
    matchmaker.endOrphanMatches(0).catch((err: unknown) => log.warn({ err, site }, 'gave up ending the matches whose game server is gone'));
    api = createServer(allocation.listener(app));
    await listenOn(api, config.api.host, config.api.port, API_PORT_NAME);
    allocation.attach(api);
    admin = await startAdminServer({ host: config.admin.host, port: config.admin.port, health, registry, log, adminToken: secretsFromEnv.adminToken });
    // Draining stops the controllers from acting; the game servers keep running until stop().
    health.onDrain(async () => {
      stopWatching();
      await autoscalers.close();
      await controller.close();
    });
    await applier.syncDirectory(fleetsDir);
    const stopFleets = watchFleetDirectory({
      dir: fleetsDir,
      clock,
      log,
      onChange: async () => {
        const results = await applier.syncDirectory(fleetsDir);
        for (const listener of reloadListeners) listener(results);
      },
    });
    const running = matchmaker;
    const stopRules = watchFleetDirectory({
      dir: path.dirname(running.rulesFile),
      file: path.basename(running.rulesFile),
      clock,
      log,
      onChange: async () => {
        const edit = await checkRulesEdit(running.rulesFile, running.queues);
        if (edit.changed) for (const listener of rulesListeners) listener(edit);
      },
    });
    stopWatching = () => {
      stopFleets();
      stopRules();
    };
    health.markStarted();
  } catch (err) {
    await stop();
    throw err;
  }
  const apiPort = (api.address() as AddressInfo).port;
  log.child({ [LogField.component]: 'local-stack' }).info({ apiPort, adminPort: admin.port, fleets: controller.fleetNames() }, 'local stack started');
  return {
    apiPort,
    adminPort: admin.port,
    store,
    controller,
    autoscalers,
    allocation,
    matchmaker,
    database,
    applier,
    registry,
    targetsFile,
    secrets,
    onReload: (listener) => void reloadListeners.push(listener),
    onRulesEdit: (listener) => void rulesListeners.push(listener),
    stop,
    killGameServers: () => runtime.killAll(),
  };
}

/**
 * The key of the stack's connect tokens: ENCRYPTION_KEY when it is set, else the one the stack made
 * on its first start. Either way it is the local Secret hangar/encryption-key, which the fleets'
 * game servers get through secretKeyRef and `hangar token` and `hangar bots` read: a key set for
 * standalone services (a matchmaker) and the stack's own must never differ, or every token fails.
 */
function connectTokenKey(secrets: LocalSecrets, fromEnvironment: Buffer | undefined, log: Logger): Buffer {
  if (!fromEnvironment) return requireKey(secrets.ensureEncryptionKey(), `the local stack's key in ${secrets.dir}/${HANGAR_SECRET}/${ENCRYPTION_KEY_SECRET}`);
  if (secrets.setEncryptionKey(fromEnvironment)) {
    log.warn({ secret: `${HANGAR_SECRET}/${ENCRYPTION_KEY_SECRET}` }, "ENCRYPTION_KEY replaced the local stack's previous connect-token key: tokens minted with that key no longer verify");
  } else {
    log.info({ secret: `${HANGAR_SECRET}/${ENCRYPTION_KEY_SECRET}` }, 'connect tokens are signed with ENCRYPTION_KEY');
  }
  return fromEnvironment;
}

/**
 * The stack's own memory, or a Redis shared with allocator processes (allocator/main.ts); `up` for
 * readiness; `site` names it in the match records.
 */
function gameServerStore(config: Readonly<ServiceConfig>, redis: RedisConfig | undefined, stateDir: string, log: Logger): { store: GameServerStore; up: () => boolean; site: string } {
  switch (config.allocator.backend) {
    case 'memory':
      return { store: new MemoryGameServerStore(), up: () => true, site: gameServerSite(config, { backend: 'memory', stateDir }).name };
    case 'redis': {
      if (!redis) throw new ConfigError(['allocator.backend is redis: set REDIS_URL, or REDIS_HOST (with REDIS_PORT and REDIS_PASSWORD as needed)']);
      const store = new RedisGameServerStore({ connection: redis.url, prefix: redisKeyPrefix(config.allocator.redis_prefix), log });
      return { store, up: () => store.isUp(), site: gameServerSite(config, { backend: 'redis', redis }).name };
    }
    case 'agones':
      throw new ConfigError(['allocator.backend agones allocates from a Kubernetes cluster; the local stack runs its own game servers (use memory or redis)']);
  }
}
