import express, { type Request, type Response, type Router } from 'express';
import { ALL_GAME_SERVER_STATES, type GameServer, type GameServerState } from '../core/game-server.js';
import { GameServerNotFoundError } from '../core/errors.js';
import { sendError } from '../core/http-errors.js';
import type { SourceProblem } from '../core/yaml-source.js';
import { FLEET_LABEL, type GameServerStore } from '../store/game-server-store.js';
import type { FleetController, FleetView } from './fleet-controller.js';
import type { FleetRuntime } from './runtime/fleet-runtime.js';

// The local stack's read API (port 8000, beside the allocator):
//   GET /v1/gameservers[?fleet=NAME&state=STATE]   { items: GameServerSummary[] }
//   GET /v1/gameservers/NAME                      GameServerSummary
//   GET /v1/fleets                                { items: FleetSummary[], problems: SourceProblem[] }
//   GET /v1/fleets/NAME                           FleetSummary

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
  sdkPort: number | null;
  logFile: string | null;
}

export interface FleetSummary extends FleetView {
  /** The file the fleet was loaded from. */
  source: string | null;
}

export interface FleetApiOptions {
  store: GameServerStore;
  runtime: FleetRuntime;
  controller: FleetController;
  /** Where each fleet came from, and what is wrong with fleet files that could not be applied. */
  sources: () => { fleetFiles: ReadonlyMap<string, string>; problems: readonly SourceProblem[] };
}

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
      sdkPort: info?.sdkPort ?? null,
      logFile: info?.logFile ?? null,
    };
  };

  const fleetSummary = async (name: string): Promise<FleetSummary> => ({
    ...(await controller.view(name)),
    source: options.sources().fleetFiles.get(name) ?? null,
  });

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
    const items = await Promise.all(controller.fleetNames().map(fleetSummary));
    res.json({ items, problems: options.sources().problems });
  });

  router.get('/v1/fleets/:name', async (req: Request<{ name: string }>, res: Response) => {
    res.json(await fleetSummary(req.params.name));
  });

  return router;
}

/** A query value given once, undefined when absent, null when repeated or nested. */
function single(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}
