import type { RequestListener, Server } from 'node:http';
import express from 'express';
import type { WebSocketServer } from 'ws';
import type { Clock } from '../core/clock.js';
import type { ServiceConfig } from '../core/config.js';
import type { Secrets } from '../core/secrets.js';
import { errorHandler, notFoundHandler } from '../core/http-errors.js';
import { LogField, type Logger } from '../core/logger.js';
import { createAllocatorMetrics, type RecordsMetrics, type Registry } from '../core/metrics.js';
import { AllocationRecords } from '../records/allocation-records.js';
import type { Database } from '../records/database.js';
import type { AllocationBackend } from './allocation-backend.js';
import { Allocator } from './allocator.js';
import { ClaimWatchdog } from './claim-watchdog.js';
import { ClientAuth, reloadApiKeysFile } from './client-auth.js';
import { allocationRequestListener, attachAllocationStream } from './http.js';
import { RateLimiter } from './rate-limiter.js';

// The allocator as a service, over any backend: the Allocator with its claim watchdog, who may call
// it and how often, its HTTP routes and WebSocket stream, and its records (batched, off the
// request path). The local stack mounts it on its API port; allocator/main.ts runs it alone.

export interface AllocationServiceOptions {
  backend: AllocationBackend;
  config: Readonly<ServiceConfig['allocator']>;
  secrets: Secrets;
  /** The process's records database (shared with the matchmaker when they run together). */
  database: Pick<Database, 'query'>;
  recordsMetrics: RecordsMetrics;
  clock: Clock;
  log: Logger;
  registry: Registry;
}

export interface AllocationService {
  readonly allocator: Allocator;
  /** The API server's request listener: the allocation routes, and `others` (an express app) for every other request. */
  listener(others: RequestListener): RequestListener;
  /** Serves the WebSocket stream on the HTTP server the router is mounted on. */
  attach(server: Server): WebSocketServer;
  /** Closes every stream (1001) once its allocations in flight are answered, so clients reconnect to another allocator; resolves when all are closed. */
  drainStreams(): Promise<void>;
  close(): Promise<void>;
}

export async function startAllocationService(options: AllocationServiceOptions): Promise<AllocationService> {
  const { backend, config, secrets, clock, registry } = options;
  const log = options.log.child({ [LogField.component]: 'allocation-service' });
  const metrics = createAllocatorMetrics(registry);
  // Each part names itself as a component of the root logger (core/logger.ts).
  const records = new AllocationRecords({ db: options.database, log: options.log, metrics: options.recordsMetrics, clock });
  const watchdog = new ClaimWatchdog({ backend, clock, log: options.log, metrics, claimTimeoutSeconds: config.claim_timeout_seconds });
  const allocator = new Allocator({ backend, clock, log: options.log, metrics, ackTimeoutMs: config.ack_timeout_ms, recorder: records, watchdog });
  const auth = new ClientAuth({ apiKeys: secrets.allocatorApiKeys, mutualTls: secrets.allocatorTls !== undefined });
  const file = secrets.allocatorApiKeysFile;
  const stopReloadingKeys = file ? reloadApiKeysFile({ file, auth, keys: secrets.allocatorApiKeys, clock, log }) : () => undefined;
  const draining = new AbortController();
  const http = {
    draining: draining.signal,
    allocator,
    auth,
    limiter: new RateLimiter(clock, config.rate_limit_per_second, config.rate_limit_burst),
    metrics,
    log,
  };
  const streams: WebSocketServer[] = [];
  return {
    allocator,
    listener: (others) => allocationRequestListener(http, others),
    attach: (server) => {
      const wss = attachAllocationStream(server, http);
      streams.push(wss);
      return wss;
    },
    drainStreams: async () => {
      draining.abort();
      const open = streams.flatMap((wss) => [...wss.clients]);
      await Promise.all(open.map((ws) => (ws.readyState === ws.CLOSED ? undefined : new Promise((resolve) => ws.once('close', resolve)))));
    },
    close: async () => {
      stopReloadingKeys();
      watchdog.close();
      for (const wss of streams) {
        for (const client of wss.clients) client.terminate();
        wss.close();
      }
      await records.close();
    },
  };
}

/** The allocator alone on an HTTP server, as allocator/main.ts serves it: its routes, then JSON 404s and errors. */
export function standaloneAllocatorListener(service: AllocationService, log: Logger): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.use(notFoundHandler);
  app.use(errorHandler(log));
  return service.listener(app);
}
