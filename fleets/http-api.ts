import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { HealthState } from '../core/admin-server.js';
import { ALL_GAME_SERVER_STATES, type GameServer, type GameServerState } from '../core/game-server.js';
import { ErrorCode, FleetNotFoundError, GameServerNotFoundError, StackDrainingError } from '../core/errors.js';
import { sendError } from '../core/http-errors.js';
import { mayAdminister, secretDigest } from '../core/request-auth.js';
import { FLEET_LABEL, type GameServerStore } from '../store/game-server-store.js';
import { z } from 'zod';
import type { FleetAutoscalerStatus } from '../core/resources.js';
import { formatProblem } from '../core/yaml-source.js';
import type { AutoscalerEntry, AutoscalerProblem, FleetAutoscalerController } from './autoscaler/autoscaler-controller.js';
import type { FleetController, FleetDetail } from './fleet-controller.js';
import type { ApplyResult, ResourceApplier } from './resource-applier.js';
import type { FleetRuntime } from './runtime/fleet-runtime.js';
import { loadBesides, replicasPastBounds, type ServerBounds } from './runtime/server-bounds.js';
import type { QueueStats } from '../matchmaker/matchmaking-service.js';

// The local stack's API (port 8000, beside the allocator):
//   GET  /v1/gameservers[?fleet=NAME&state=STATE]  { items: GameServerSummary[] }
//   GET  /v1/gameservers/NAME                      GameServerSummary
//   GET  /v1/fleets                                { items: FleetSummary[], problems: SourceProblem[] }
//   GET  /v1/fleets/NAME                           FleetSummary
//   POST /v1/fleets/NAME/scale  {"replicas": N}    FleetSummary
//   POST /v1/apply?file=NAME    (YAML body)        { applied: [...], warnings: SourceProblem[] }, or 422 with every problem, or 409 when a fleets-directory file holds one
//   DELETE /v1/fleets/NAME                         DeleteResult; 409 when a fleets-directory file holds it
//   POST /v1/delete?file=NAME   (YAML body)        DeleteResult for each document's kind and name (kubectl delete -f)
//   GET  /v1/stack                                 Readiness: the stack's state and checks, as its /health/ready
//   GET  /v1/queues                                { items: QueueStats[] }: the matchmaker's queues, what waits in each
// Once the stack is drained its controllers no longer act, so the changes answer 503 STACK_DRAINING.

export interface GameServerSummary {
  name: string;
  fleet: string | null;
  state: GameServerState;
  address: string;
  ports: GameServer['status']['ports'];
  players: GameServer['status']['players'];
  counters: GameServer['status']['counters'];
  lists: GameServer['status']['lists'];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  nodeName: string;
  createdAt: string;
  reservedUntil: string | null;
  pid: number | null;
  restarts: number;
  lastExit: string | null;
  restartBackoffMs: number;
  sdkPort: number | null;
  logFile: string | null;
}

export interface FleetSummary extends FleetDetail {
  /** The file the fleet was applied from (a path, or the name given to `hangar fleet apply`). */
  source: string | null;
  /** Its autoscaler, with why its last sync could not scale (null once one succeeds). */
  autoscaler: AutoscalerSummary | null;
}

export interface AutoscalerSummary {
  name: string;
  policy: string;
  status: FleetAutoscalerStatus | null;
  problem: AutoscalerProblem | null;
}

/** An autoscaler whose fleet is not there (deleted, or never applied): its problem says so. */
export interface StrayAutoscalerSummary extends AutoscalerSummary {
  fleetName: string;
}

export interface FleetApiOptions {
  store: GameServerStore;
  runtime: FleetRuntime;
  controller: FleetController;
  autoscalers: FleetAutoscalerController;
  applier: ResourceApplier;
  health: HealthState;
  /** The matchmaker's queues (none before it has started). */
  queues: () => Promise<QueueStats[]>;
  /** How many game servers fit here (ports, memory): a scale past them is refused. */
  bounds: ServerBounds;
  /** ADMIN_TOKEN: when set, changes need it as a Bearer token; when not, they are taken from loopback callers only. Reads are open. */
  adminToken?: string;
  /** Hears each YAML that POST /v1/apply applied, so the stack's terminal shows it as it shows a file's edit. */
  applied?: (file: string, result: ApplyResult) => void;
}

const ScaleRequest = z.strictObject({ replicas: z.number().int().min(0).max(100_000) });

export function createFleetApi(options: FleetApiOptions): Router {
  const { store, runtime, controller } = options;
  const router = express.Router();

  const summarize = (gs: GameServer): GameServerSummary => {
    const info = runtime.processInfo(gs.metadata.name);
    return {
      name: gs.metadata.name,
      fleet: gs.metadata.labels[FLEET_LABEL] ?? null,
      state: gs.status.state,
      address: gs.status.address,
      ports: gs.status.ports,
      players: gs.status.players,
      counters: gs.status.counters,
      lists: gs.status.lists,
      labels: gs.metadata.labels,
      annotations: gs.metadata.annotations,
      nodeName: gs.status.nodeName,
      createdAt: gs.metadata.creationTimestamp,
      reservedUntil: gs.status.reservedUntil,
      pid: info?.pid ?? null,
      restarts: info?.restarts ?? 0,
      lastExit: info?.lastExit ?? null,
      restartBackoffMs: info?.restartBackoffMs ?? 0,
      sdkPort: info?.sdkPort ?? null,
      logFile: info?.logFile ?? null,
    };
  };

  const fleetSummary = async (name: string): Promise<FleetSummary> => {
    const autoscaler = options.autoscalers.list().find((a) => a.resource.spec.fleetName === name);
    return {
      ...(await controller.view(name)),
      source: options.applier.fleetSource(name) ?? null,
      autoscaler: autoscaler ? autoscalerSummary(autoscaler) : null,
    };
  };

  router.get('/v1/gameservers', async (req: Request, res: Response) => {
    const unknown = Object.keys(req.query).filter((k) => k !== 'fleet' && k !== 'state');
    if (unknown.length) return sendError(res, 400, 'BAD_REQUEST', `unknown query parameter ${unknown.join(', ')}: use fleet and state`);
    const fleet = single(req.query.fleet);
    const state = single(req.query.state);
    if (fleet === null || state === null) return sendError(res, 400, 'BAD_REQUEST', 'fleet and state may each be given once');
    if (state !== undefined && !ALL_GAME_SERVER_STATES.includes(state as GameServerState)) {
      return sendError(res, 400, 'BAD_REQUEST', `state ${JSON.stringify(state)} is not a GameServer state: one of ${ALL_GAME_SERVER_STATES.join(', ')}`);
    }
    const items = await store.list({ fleet, states: state ? [state as GameServerState] : undefined });
    items.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
    res.json({ items: items.map(summarize) });
  });

  router.get('/v1/gameservers/:name', async (req: Request<{ name: string }>, res: Response) => {
    const gs = await store.get(req.params.name);
    if (!gs) throw new GameServerNotFoundError(req.params.name);
    res.json(summarize(gs));
  });

  router.get('/v1/fleets', async (_req: Request, res: Response) => {
    const names = controller.fleetNames();
    const items = await Promise.all(names.map(fleetSummary));
    const strayAutoscalers: StrayAutoscalerSummary[] = options.autoscalers
      .list()
      .filter((a) => !names.includes(a.resource.spec.fleetName))
      .map((a) => ({
        ...autoscalerSummary(a),
        fleetName: a.resource.spec.fleetName,
        // Until its next sync sees the fleet gone, its problem may still be an older one, or none.
        problem: a.problem?.code === ErrorCode.FLEET_NOT_FOUND ? a.problem : { code: ErrorCode.FLEET_NOT_FOUND, message: new FleetNotFoundError(a.resource.spec.fleetName).message },
      }));
    res.json({ items, problems: await options.applier.problems(), strayAutoscalers });
  });

  router.get('/v1/fleets/:name', async (req: Request<{ name: string }>, res: Response) => {
    res.json(await fleetSummary(req.params.name));
  });

  router.get('/v1/queues', async (_req: Request, res: Response) => {
    res.json({ items: await options.queues() });
  });

  router.get('/v1/stack', async (_req: Request, res: Response) => {
    res.json(await options.health.readiness());
  });

  const adminTokenDigest = options.adminToken ? secretDigest(options.adminToken) : undefined;
  // A fleet's command runs on this machine once applied: only an operator may change fleets, and
  // nobody while the stack drains.
  const mayChange = (req: Request, res: Response, next: NextFunction) => {
    if (!mayAdminister(req, adminTokenDigest)) {
      const what = `${req.method} ${req.path} changes fleets`;
      if (adminTokenDigest) return sendError(res, 401, 'UNAUTHENTICATED', `${what}: it needs Authorization: Bearer <ADMIN_TOKEN>`);
      return sendError(res, 403, 'FORBIDDEN', `${what}, which only callers on this machine may do while ADMIN_TOKEN is not set`);
    }
    const since = options.health.drainingSince;
    next(since === undefined ? undefined : new StackDrainingError(since));
  };

  router.post('/v1/fleets/:name/scale', mayChange, express.json({ limit: '16kb' }), async (req: Request<{ name: string }>, res: Response) => {
    const body = ScaleRequest.safeParse(req.body);
    if (!body.success) {
      const issue = body.error.issues[0]!;
      const where = issue.path.length ? issue.path.join('.') : 'body';
      return sendError(res, 400, 'BAD_REQUEST', `${where}: ${issue.message} (send {"replicas": N} with N a whole number from 0)`);
    }
    const past = await controller.boundedChange(async () => {
      const running = await controller.running();
      const { replicas, template } = controller.spec(req.params.name);
      const past = replicasPastBounds(body.data.replicas, template.spec.ports, options.bounds, loadBesides(running, [req.params.name]), replicas);
      if (!past) await controller.scale(req.params.name, body.data.replicas);
      return past;
    });
    if (past) return sendError(res, 400, 'BAD_REQUEST', `replicas: fleet ${req.params.name}: ${past}`);
    res.json(await fleetSummary(req.params.name));
  });

  router.delete('/v1/fleets/:name', mayChange, async (req: Request<{ name: string }>, res: Response) => {
    const result = await options.applier.delete([{ kind: 'Fleet', name: req.params.name }]);
    if (result.notFound.length) throw new FleetNotFoundError(req.params.name);
    res.json(result);
  });

  router.post('/v1/delete', mayChange, express.text({ type: () => true, limit: '1mb' }), async (req: Request, res: Response) => {
    const file = single(req.query.file) ?? 'request';
    if (file === null) return sendError(res, 400, 'BAD_REQUEST', 'file may be given once');
    if (typeof req.body !== 'string' || req.body.trim() === '') return sendError(res, 400, 'BAD_REQUEST', 'the request body must be the YAML naming what to delete');
    const { problems, ...result } = await options.applier.deleteText(req.body, file);
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length) {
      res.status(422).json({ error: { code: 'RESOURCE_INVALID', message: `${errors.length} problem(s) in ${file}; nothing was deleted`, problems } });
      return;
    }
    res.json({ ...result, warnings: [...problems.map(formatProblem), ...result.warnings] });
  });

  router.post('/v1/apply', mayChange, express.text({ type: () => true, limit: '1mb' }), async (req: Request, res: Response) => {
    const file = single(req.query.file) ?? 'request';
    if (file === null) return sendError(res, 400, 'BAD_REQUEST', 'file may be given once');
    if (typeof req.body !== 'string' || req.body.trim() === '') return sendError(res, 400, 'BAD_REQUEST', 'the request body must be the YAML to apply');
    const result = await options.applier.applyText(req.body, file);
    const errors = result.problems.filter((p) => p.severity === 'error');
    if (errors.length) {
      res.status(422).json({ error: { code: 'RESOURCE_INVALID', message: `${errors.length} problem(s) in ${file}; nothing was applied`, problems: result.problems } });
      return;
    }
    options.applied?.(file, result);
    res.json({ applied: result.applied, warnings: result.problems });
  });

  return router;
}

function autoscalerSummary(a: AutoscalerEntry): AutoscalerSummary {
  return { name: a.resource.metadata.name, policy: a.resource.spec.policy.type, status: a.status, problem: a.problem };
}

/** A query value given once, undefined when absent, null when repeated or nested. */
function single(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}
