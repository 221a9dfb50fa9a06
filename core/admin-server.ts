import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendError, sendJson } from './http-errors.js';
import { listenOn } from './listen.js';
import type { Logger } from './logger.js';
import { registerReadinessMetric, type Registry } from './metrics.js';
import { mayAdminister, secretDigest } from './request-auth.js';

/** The admin port as errors name it (a ListenError's `what`), unless a server names its own. */
export const ADMIN_PORT_NAME = 'the admin port (admin.port)';

// Probes, metrics and drain on the admin port (9090), as the deployment guide names them:
//   /health/live     200 while the process can serve at all
//   /health/startup  503 until start-up has finished, then 200
//   /health/ready    200 when started, every readiness check passes and not draining
//   /metrics         Prometheus text format
//   POST /admin/drain  stop taking new work (readiness goes 503), run the drain hooks
//
// Plain node:http rather than express: these are five fixed routes, and every game server serves
// them; express would add ~5.6 MiB to each idle game server's RSS for nothing it uses.

export type ReadinessCheck = () => boolean | Promise<boolean>;
export type DrainHook = () => void | Promise<void>;

export interface Readiness {
  ready: boolean;
  status: 'starting' | 'ready' | 'not ready' | 'draining';
  checks: Record<string, boolean>;
  /** The checks that are reported but do not decide `ready`; absent when there are none. */
  advisory?: string[];
  /** When a drain began (ISO 8601); absent until one does. */
  drainingSince?: string;
}

export class HealthState {
  /** `drainDelayMs`: how long a drain serves on, not ready, before its hooks close anything. */
  constructor(private readonly options: { drainDelayMs?: number } = {}) {}

  private started = false;
  private drainStartedAt: string | undefined;
  private readonly checks = new Map<string, { check: ReadinessCheck; gates: boolean }>();
  private readonly drainHooks: DrainHook[] = [];
  private drainDone: Promise<void> | undefined;

  markStarted(): void {
    this.started = true;
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** When the drain began (ISO 8601); undefined until one does. */
  get drainingSince(): string | undefined {
    return this.drainStartedAt;
  }

  /**
   * `gates: false` reports the check (in /health/ready and hangar_readiness_check) without making
   * the service unready: for what degrades only a side of it, which taking it out of its Service
   * would not mend.
   */
  addReadinessCheck(name: string, check: ReadinessCheck, options: { gates?: boolean } = {}): void {
    this.checks.set(name, { check, gates: options.gates ?? true });
  }

  onDrain(hook: DrainHook): void {
    this.drainHooks.push(hook);
  }

  /** Idempotent: a second drain waits for the first. */
  drain(): Promise<void> {
    this.drainStartedAt ??= new Date().toISOString();
    this.drainDone ??= new Promise((r) => setTimeout(r, this.options.drainDelayMs ?? 0)).then(() => Promise.all(this.drainHooks.map((h) => h()))).then(() => undefined);
    return this.drainDone;
  }

  async readiness(): Promise<Readiness> {
    const checks: Record<string, boolean> = {};
    const advisory: string[] = [];
    for (const [name, { check, gates }] of this.checks) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
      if (!gates) advisory.push(name);
    }
    const draining = this.drainStartedAt !== undefined;
    const ready = this.started && !draining && Object.entries(checks).every(([name, passing]) => passing || advisory.includes(name));
    const status = ready ? 'ready' : draining ? 'draining' : this.started ? 'not ready' : 'starting';
    return { ready, status, checks, ...(advisory.length > 0 && { advisory }), ...(draining ? { drainingSince: this.drainStartedAt } : {}) };
  }
}

export interface AdminServerOptions {
  host: string;
  port: number;
  /** What the port is and which setting gives it, for a failure to listen; `the admin port (admin.port)` by default. */
  portName?: string;
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

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function replyJson(res: ServerResponse, status: number, body: unknown): void {
  sendJson(res, status, JSON.stringify(body));
}

/** The admin port's request handler: a route per "METHOD path" (HEAD answers as GET), else a JSON 404. */
function adminRequestHandler(options: Omit<AdminServerOptions, 'host' | 'port'>): (req: IncomingMessage, res: ServerResponse) => void {
  const { health, registry, log, adminToken } = options;
  const adminTokenDigest = adminToken ? secretDigest(adminToken) : undefined;
  const routes = new Map<string, Route>(Object.entries({
    'GET /health/live': (_req, res) => replyJson(res, 200, { status: 'ok' }),
    'GET /health/startup': (_req, res) => replyJson(res, health.isStarted ? 200 : 503, { status: health.isStarted ? 'started' : 'starting' }),
    'GET /health/ready': async (_req, res) => {
      const { ready, ...report } = await health.readiness();
      replyJson(res, ready ? 200 : 503, report);
    },
    'GET /metrics': async (_req, res) => {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    },
    'POST /admin/drain': async (req, res) => {
      if (!mayAdminister(req, adminTokenDigest)) {
        if (adminToken) sendError(res, 401, 'UNAUTHENTICATED', 'POST /admin/drain needs Authorization: Bearer <ADMIN_TOKEN>');
        else sendError(res, 403, 'FORBIDDEN', 'drain is allowed from loopback only when ADMIN_TOKEN is not set');
        return;
      }
      log.info({ from: req.socket.remoteAddress }, 'drain requested');
      // preStop hooks wait for the answer: reply once the hooks have run.
      await health.drain();
      replyJson(res, 200, { status: 'drained' });
    },
  }));
  return (req, res) => {
    // Express's leniency, which probes written against it may rely on: a trailing slash, a query.
    const path = (req.url ?? '/').replace(/\?.*$/s, '').replace(/(.)\/$/, '$1');
    const route = routes.get(`${req.method === 'HEAD' ? 'GET' : req.method} ${path}`);
    if (!route) {
      sendError(res, 404, 'NOT_FOUND', `no route ${req.method} ${path}`);
      return;
    }
    Promise.resolve()
      .then(() => route(req, res))
      .catch((err: unknown) => {
        log.error({ err, method: req.method, path }, 'admin request failed');
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
        else res.destroy();
      });
  };
}

/** How long closing waits for requests in flight to be answered before it cuts their connections. */
const CLOSE_GRACE_MS = 2000;

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  registerReadinessMetric(options.registry, () => options.health.readiness());
  const handle = adminRequestHandler(options);
  // A drain can end the process: a game server with nobody on it shuts down through the SDK, and
  // its stop closes this server while the drain's answer is still on its way. Closing lets the
  // requests in flight be answered first, so the caller (a preStop hook, curl) hears 200, not a reset.
  let inFlight = 0;
  let closing: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) closing?.();
    });
    handle(req, res);
  });
  await listenOn(server, options.host, options.port, options.portName ?? ADMIN_PORT_NAME);
  const port = (server.address() as AddressInfo).port;
  options.log.info({ host: options.host, port }, 'admin server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        closing = () => server.closeAllConnections();
        if (inFlight === 0) closing();
        else setTimeout(() => closing!(), CLOSE_GRACE_MS).unref();
      }),
  };
}
