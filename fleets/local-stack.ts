import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import express from 'express';
import { startAdminServer, HealthState, type AdminServer } from '../core/admin-server.js';
import type { Clock } from '../core/clock.js';
import type { ServiceConfig } from '../core/config.js';
import { errorHandler, notFoundHandler } from '../core/http-errors.js';
import { LogField, type Logger } from '../core/logger.js';
import { createControllerMetrics, createRegistry, type Registry } from '../core/metrics.js';
import type { SourceProblem } from '../core/yaml-source.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import type { GameServerStore } from '../store/game-server-store.js';
import { FleetController } from './fleet-controller.js';
import { loadFleetDirectory } from './fleet-files.js';
import { createFleetApi } from './http-api.js';
import { LocalProcessRuntime } from './runtime/local-process-runtime.js';
import { PortAllocator } from './runtime/port-allocator.js';
import { startLocalSdkServer } from './sdk-server/local-sdk-server.js';

// The whole local Agones in one process: a game-server store, the port allocator, the process
// runtime with one SDK server per game server, the fleet controller fed from the fleets directory,
// the HTTP API and the admin server. `hangar up` runs it; end-to-end tests and benchmarks start it
// on ephemeral ports.

export interface LocalStackOptions {
  config: Readonly<ServiceConfig>;
  log: Logger;
  clock: Clock;
  /** Base for relative paths in the config and for game-server working directories. */
  cwd: string;
  adminToken?: string;
}

export interface LocalStack {
  readonly apiPort: number;
  readonly adminPort: number;
  readonly store: GameServerStore;
  readonly controller: FleetController;
  readonly registry: Registry;
  readonly problems: readonly SourceProblem[];
  /** Stops every game server and closes every port; safe to call more than once. */
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config, log, clock, cwd } = options;
  const local = config.local;
  const registry = createRegistry();
  const metrics = createControllerMetrics(registry);
  const health = new HealthState();
  const store = new MemoryGameServerStore();
  const ports = new PortAllocator({ range: local.port_range, host: local.bind_address });
  const runtime = new LocalProcessRuntime({
    store,
    ports,
    startSdkServer: startLocalSdkServer,
    clock,
    log,
    metrics,
    advertiseAddress: local.advertise_address,
    nodeName: hostname(),
    logDir: path.resolve(cwd, local.state_dir, 'logs'),
    cwd,
    terminationGraceSeconds: local.termination_grace_seconds,
    startConcurrency: local.start_concurrency,
  });
  const namespace = config.server.cluster.discovery.namespace;
  const controller = new FleetController({ store, runtime, clock, log, namespace });

  const fleetsDir = path.resolve(cwd, local.fleets_dir);
  const files = await loadFleetDirectory(fleetsDir);
  const fleetFiles = new Map(files.fleets.map((f) => [f.resource.metadata.name, path.relative(cwd, f.file)]));

  const app = express();
  app.disable('x-powered-by');
  app.use(createFleetApi({ store, runtime, controller, sources: () => ({ fleetFiles, problems: files.problems }) }));
  app.use(notFoundHandler);
  app.use(errorHandler(log));

  let api: Server | undefined;
  let admin: AdminServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await health.drain();
      await controller.close();
      await runtime.close();
      await new Promise<void>((resolve) => (api ? (api.closeAllConnections(), api.close(() => resolve())) : resolve()));
      await admin?.close();
      await store.close();
    })());

  try {
    api = await listen(app, config.api.host, config.api.port);
    admin = await startAdminServer({ host: config.admin.host, port: config.admin.port, health, registry, log, adminToken: options.adminToken });
    health.onDrain(() => controller.close());
    for (const { resource } of files.fleets) controller.applyFleet(resource);
    await Promise.all(files.gameServers.map(({ resource }) => controller.createGameServer(resource)));
    health.markStarted();
  } catch (err) {
    await stop();
    throw err;
  }
  const apiPort = (api.address() as AddressInfo).port;
  log.child({ [LogField.component]: 'local-stack' }).info({ apiPort, adminPort: admin.port, fleets: controller.fleetNames() }, 'local stack started');
  return { apiPort, adminPort: admin.port, store, controller, registry, problems: files.problems, stop };
}

function listen(app: express.Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once('error', reject);
  });
}
