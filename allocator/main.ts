import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { pino } from 'pino';
import { HealthState, startAdminServer } from '../core/admin-server.js';
import { systemClock } from '../core/clock.js';
import { loadConfig, loadDatabaseConfig } from '../core/config.js';
import { loadSecrets } from '../core/secrets.js';
import { ConfigError } from '../core/errors.js';
import { runService } from '../core/service-main.js';
import { listenOn } from '../core/listen.js';
import { createLogger } from '../core/logger.js';
import { createRecordsMetrics, createRegistry } from '../core/metrics.js';
import { openRecordsDatabase } from '../records/deferred-database.js';
import { AgonesAllocationBackend } from './agones/agones-allocation-backend.js';
import { AgonesBackend } from './agones/agones-backend.js';
import { StoreAllocationBackend, type AllocationBackend } from './allocation-backend.js';
import { standaloneAllocatorListener, startAllocationService } from './allocation-service.js';
import { addGameServerSourceCheck, openGameServerSource } from './game-server-source.js';

// The allocator as its own service, for a cluster or for several allocator processes: the backend
// named by allocator.backend in config/<GAME_SERVER_ENV>.yaml — `redis` (a Redis store the local
// controller and every allocator share) or `agones` (GameServerAllocations through the Kubernetes
// API) — the API on api.port (HTTPS with client certificates when ALLOCATOR_TLS_* are set), probes
// and metrics on admin.port. (`memory` lives only inside the local stack, `npm start`.)

runService('allocator', async () => {
  const env = process.env;
  const config = loadConfig({ env });
  const secrets = loadSecrets(env);
  const database = loadDatabaseConfig(env);
  const log = createLogger({ level: config.logging.level, destination: pino.destination({ dest: 1, sync: false }) });
  const clock = systemClock;
  const registry = createRegistry();
  const health = new HealthState({ drainDelayMs: config.admin.drain_delay_seconds * 1000 });

  let backend: AllocationBackend;
  let closeBackend: () => Promise<void>;
  const source = openGameServerSource(config, env, log, clock);
  if (source) addGameServerSourceCheck(health, source);
  switch (source?.backend) {
    case 'redis': {
      const { store } = source;
      backend = new StoreAllocationBackend(store, clock);
      closeBackend = () => store.close();
      log.info({ redis: source.target }, 'allocating from the Redis store');
      break;
    }
    case 'agones': {
      const { view, kubeConfig, namespace } = source;
      await view.start();
      backend = new AgonesBackend(new AgonesAllocationBackend({ kubeConfig, namespace, log, clock }), view, { clock, log });
      closeBackend = () => backend.close();
      log.info({ namespace }, 'allocating through Agones');
      break;
    }
    case undefined:
      throw new ConfigError(['allocator.backend memory runs only inside the local stack (npm start); a standalone allocator needs redis or agones']);
  }

  const records = openRecordsDatabase({ config: database, log, pgliteDir: `${config.local.state_dir}/pglite`, schema: config.records.schema });
  const service = await startAllocationService({
    backend,
    config: config.allocator,
    secrets,
    database: records,
    recordsMetrics: createRecordsMetrics(registry),
    clock,
    log,
    registry,
  });
  const listener = standaloneAllocatorListener(service, log);
  const tls = secrets.allocatorTls;
  const server: Server = tls
    ? createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: false }, listener)
    : createHttpServer(listener);
  await listenOn(server, config.api.host, config.api.port, 'the allocator API (api.port)');
  service.attach(server);
  const admin = await startAdminServer({ host: config.admin.host, port: config.admin.port, health, registry, log, adminToken: secrets.adminToken });
  health.markStarted();
  log.info({ port: config.api.port, tls: Boolean(tls), backend: config.allocator.backend }, 'allocator ready');

  // Draining (POST /admin/drain, Kubernetes' preStop) stops new connections; requests in flight
  // finish, and the streams (a matchmaker's lasts as long as it runs) close once theirs are
  // answered: server.close alone waited on them for ever, and the drain and SIGTERM with it.
  health.onDrain(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await service.drainStreams();
    server.closeIdleConnections();
    // A keep-alive connection that had a request in flight idles once answered: cut it after a grace.
    const cut = setTimeout(() => server.closeAllConnections(), 5000);
    await closed;
    clearTimeout(cut);
  });
  return async () => {
    await health.drain();
    await service.close();
    await records.close();
    await closeBackend();
    await admin.close();
    log.flush();
  };
});
