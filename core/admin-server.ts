import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { notFoundHandler, sendError } from './http-errors.js';
import { listenOn } from './listen.js';
import type { Logger } from './logger.js';
import type { Registry } from './metrics.js';

// Probes, metrics and drain on the admin port (9090), as the deployment guide names them:
//   /health/live     200 while the process can serve at all
//   /health/startup  503 until start-up has finished, then 200
//   /health/ready    200 when started, every readiness check passes and not draining
//   /metrics         Prometheus text format
//   POST /admin/drain  stop taking new work (readiness goes 503), run the drain hooks

export type ReadinessCheck = () => boolean | Promise<boolean>;
export type DrainHook = () => void | Promise<void>;

export class HealthState {
  /** `drainDelayMs`: how long a drain serves on, not ready, before its hooks close anything. */
  constructor(private readonly options: { drainDelayMs?: number } = {}) {}

  private started = false;
  private draining = false;
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly drainHooks: DrainHook[] = [];
  private drainDone: Promise<void> | undefined;

  markStarted(): void {
    this.started = true;
  }

  get isStarted(): boolean {
    return this.started;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  onDrain(hook: DrainHook): void {
    this.drainHooks.push(hook);
  }

  /** Idempotent: a second drain waits for the first. */
  drain(): Promise<void> {
    this.draining = true;
    this.drainDone ??= new Promise((r) => setTimeout(r, this.options.drainDelayMs ?? 0)).then(() => Promise.all(this.drainHooks.map((h) => h()))).then(() => undefined);
    return this.drainDone;
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    const ready = this.started && !this.draining && Object.values(checks).every(Boolean);
    return { ready, checks };
  }
}

export interface AdminServerOptions {
  host: string;
  port: number;
  health: HealthState;
  registry: Registry;
  log: Logger;
  /** When set, POST /admin/drain requires `Authorization: Bearer <token>`; when not, only loopback callers may drain. */
  adminToken?: string;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export function createAdminApp(options: Omit<AdminServerOptions, 'host' | 'port'>): express.Express {
  const { health, registry, log, adminToken } = options;
  const app = express();
  app.disable('x-powered-by');

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/startup', (_req, res) => {
    res.status(health.isStarted ? 200 : 503).json({ status: health.isStarted ? 'started' : 'starting' });
  });
  app.get('/health/ready', async (_req, res) => {
    const { ready, checks } = await health.readiness();
    const status = ready ? 'ready' : health.isDraining ? 'draining' : health.isStarted ? 'not ready' : 'starting';
    res.status(ready ? 200 : 503).json({ status, checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });
  app.post('/admin/drain', async (req: Request, res: Response) => {
    if (!mayDrain(req, adminToken)) {
      if (adminToken) sendError(res, 401, 'UNAUTHORIZED', 'POST /admin/drain needs Authorization: Bearer <ADMIN_TOKEN>');
      else sendError(res, 403, 'FORBIDDEN', 'drain is allowed from loopback only when ADMIN_TOKEN is not set');
      return;
    }
    log.info({ from: req.socket.remoteAddress }, 'drain requested');
    const done = health.drain();
    // preStop hooks wait for the answer: reply once the hooks have run.
    await done;
    res.status(200).json({ status: 'drained' });
  });
  app.use(notFoundHandler);
  return app;
}

function mayDrain(req: Request, adminToken: string | undefined): boolean {
  if (adminToken) return req.get('authorization') === `Bearer ${adminToken}`;
  const from = req.socket.remoteAddress ?? '';
  return from === '127.0.0.1' || from === '::1' || from === '::ffff:127.0.0.1';
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const app = createAdminApp(options);
  const server: Server = createServer(app);
  await listenOn(server, options.host, options.port, 'the admin port (admin.port)');
  const port = (server.address() as AddressInfo).port;
  options.log.info({ host: options.host, port }, 'admin server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
