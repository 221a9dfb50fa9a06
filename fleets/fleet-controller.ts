import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { FleetNotFoundError } from '../core/errors.js';
import { GameServerState as S, generateName, isInUse, newGameServer, type GameServer, type GameServerState } from '../core/game-server.js';
import { LogField, type Logger } from '../core/logger.js';
import type { FleetResource, GameServerResource } from '../core/resources.js';
import { KeyedWorkQueue } from '../core/work-queue.js';
import { FLEET_LABEL, type GameServerStore } from '../store/game-server-store.js';
import type { FleetRuntime } from './runtime/fleet-runtime.js';

// Keeps each Fleet at its replica count, the way Agones' fleet and GameServerSet controllers do:
// reconcile by fleet name, re-reading the game servers every time, so running it twice is harmless.
// Unhealthy and Error servers are deleted and replaced. Scale-down never touches Allocated or
// Reserved servers and removes the least advanced ones first.

/** States that count toward a fleet's replicas (everything alive and not on its way out). */
const COUNTED: readonly GameServerState[] = [S.PortAllocation, S.Creating, S.Starting, S.Scheduled, S.RequestReady, S.Ready, S.Reserved, S.Allocated];

/** Scale-down order: servers nobody can be playing on, least far along first. */
const DELETE_FIRST: readonly GameServerState[] = [S.PortAllocation, S.Creating, S.Starting, S.Scheduled, S.RequestReady, S.Ready];

export interface FleetStatus {
  replicas: number;
  readyReplicas: number;
  reservedReplicas: number;
  allocatedReplicas: number;
}

export interface FleetView {
  name: string;
  spec: FleetResource['spec'];
  status: FleetStatus;
}

export interface FleetControllerOptions {
  store: GameServerStore;
  runtime: FleetRuntime;
  clock: Clock;
  log: Logger;
  namespace: string;
}

export class FleetController {
  private readonly fleets = new Map<string, FleetResource>();
  private readonly queue: KeyedWorkQueue;
  private readonly log: Logger;
  private readonly unwatch: () => void;

  constructor(private readonly options: FleetControllerOptions) {
    this.log = options.log.child({ [LogField.component]: 'fleet-controller' });
    this.queue = new KeyedWorkQueue({ handler: (name) => this.reconcileFleet(name), clock: options.clock, log: this.log });
    // Any change to a fleet's server may call for action (a death to replace, a scale to finish).
    this.unwatch = options.store.watch((e) => {
      const fleet = e.object.metadata.labels[FLEET_LABEL];
      if (fleet && this.fleets.has(fleet) && (e.type !== 'modified' || !COUNTED.includes(e.object.status.state))) this.queue.enqueue(fleet);
    });
  }

  /** Adds or replaces a fleet's spec and reconciles it. */
  applyFleet(fleet: FleetResource): void {
    this.fleets.set(fleet.metadata.name, fleet);
    this.queue.enqueue(fleet.metadata.name);
  }

  /** Creates a standalone GameServer; like Agones, nobody replaces it when it dies. */
  async createGameServer(resource: GameServerResource): Promise<GameServer> {
    const meta = resource.metadata;
    const name = meta.name ?? generateName(meta.generateName ?? 'gameserver-');
    return this.options.runtime.create(
      newGameServer({
        name,
        namespace: meta.namespace ?? this.options.namespace,
        labels: meta.labels,
        annotations: meta.annotations,
        spec: resource.spec,
        now: isoTime(this.options.clock),
      }),
    );
  }

  fleetNames(): string[] {
    return [...this.fleets.keys()].sort();
  }

  async view(name: string): Promise<FleetView> {
    const fleet = this.fleets.get(name);
    if (!fleet) throw new FleetNotFoundError(name);
    const servers = await this.options.store.list({ fleet: name });
    const count = (state: GameServerState) => servers.filter((gs) => gs.status.state === state).length;
    return {
      name,
      spec: fleet.spec,
      status: {
        replicas: servers.filter((gs) => COUNTED.includes(gs.status.state)).length,
        readyReplicas: count(S.Ready),
        reservedReplicas: count(S.Reserved),
        allocatedReplicas: count(S.Allocated),
      },
    };
  }

  /** Resolves once every queued reconcile has run. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  async close(): Promise<void> {
    this.unwatch();
    await this.queue.close();
  }

  /** Brings the fleet's servers to spec.replicas; safe to run any number of times. */
  async reconcileFleet(name: string): Promise<void> {
    const fleet = this.fleets.get(name);
    if (!fleet) return;
    const servers = await this.options.store.list({ fleet: name });

    const broken = servers.filter((gs) => gs.status.state === S.Unhealthy || gs.status.state === S.Error);
    for (const gs of broken) this.log.info({ [LogField.gameServer]: gs.metadata.name, [LogField.state]: gs.status.state }, 'replacing failed game server');
    await Promise.all(broken.map((gs) => this.options.runtime.delete(gs.metadata.name)));

    const counted = servers.filter((gs) => COUNTED.includes(gs.status.state));
    const want = fleet.spec.replicas;
    if (counted.length < want) {
      const missing = want - counted.length;
      this.log.info({ [LogField.fleet]: name, have: counted.length, want }, `creating ${missing} game server(s)`);
      await Promise.all(Array.from({ length: missing }, () => this.options.runtime.create(this.newServer(fleet))));
    } else if (counted.length > want) {
      const victims = pickForScaleDown(counted, counted.length - want);
      if (victims.length) this.log.info({ [LogField.fleet]: name, have: counted.length, want }, `deleting ${victims.length} game server(s)`);
      await Promise.all(victims.map((gs) => this.options.runtime.delete(gs.metadata.name)));
    }
  }

  private newServer(fleet: FleetResource): GameServer {
    const name = fleet.metadata.name;
    const template = fleet.spec.template;
    return newGameServer({
      name: generateName(`${name}-`),
      namespace: fleet.metadata.namespace ?? this.options.namespace,
      labels: { ...template.metadata.labels, [FLEET_LABEL]: name },
      annotations: { ...template.metadata.annotations },
      spec: template.spec,
      now: isoTime(this.options.clock),
    });
  }
}

/** Up to `n` servers to delete, never one in use: not-yet-Ready ones first, then the newest Ready. */
export function pickForScaleDown(servers: readonly GameServer[], n: number): GameServer[] {
  return servers
    .filter((gs) => !isInUse(gs.status.state))
    .sort(
      (a, b) =>
        DELETE_FIRST.indexOf(a.status.state) - DELETE_FIRST.indexOf(b.status.state) ||
        b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp),
    )
    .slice(0, n);
}
