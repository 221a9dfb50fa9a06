import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { FleetNotFoundError } from '../core/errors.js';
import { GameServerState as S, generateName, newGameServer, type GameServer } from '../core/game-server.js';
import { LogField, type Logger } from '../core/logger.js';
import type { ControllerMetrics } from '../core/metrics.js';
import type { FleetResource, GameServerResource } from '../core/resources.js';
import { KeyedWorkQueue } from '../core/work-queue.js';
import type { AutoscaledFleets } from './autoscaler/autoscaler-controller.js';
import { FLEET_LABEL, GAME_SERVER_SET_LABEL, type GameServerStore } from '../store/game-server-store.js';
import { computeFleetStatus, isCounted, type FleetView } from './fleet-status.js';
import { overflowing, pickForScaleDown, planRollout, stableJson, templateHash, type GameServerSet, type SetCounts } from './game-server-set.js';
import type { FleetRuntime } from './runtime/fleet-runtime.js';
import type { RunningServers } from './runtime/server-bounds.js';

// Agones' Fleet and GameServerSet controllers in one reconcile, keyed by fleet name. Each run
// re-reads the fleet's game servers from the store, so running it twice is harmless, and store
// events only enqueue the name. A template change starts a new GameServerSet and the fleet's
// strategy drains the older ones; each set keeps its replica count, replacing Unhealthy and Error
// servers and deleting surplus ones, never an Allocated or Reserved one. Before it creates or
// deletes, a fleet's autoscaler catches up (settleReplicas). Agones' separate controllers cannot
// do that: there an Allocated server's Shutdown gets a replacement that the autoscaler's next sync
// deletes again (agones#2052); here that pair would come milliseconds apart, for nothing.

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface GameServerSetView {
  name: string;
  replicas: number;
  active: boolean;
  counts: SetCounts;
}

export interface FleetDetail extends FleetView {
  metadata: { namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  gameServerSets: GameServerSetView[];
}

interface FleetRecord {
  resource: FleetResource;
  /** templateHash of resource.spec.template, kept with it (hashing on every reconcile is costly). */
  templateHash: string;
  sets: GameServerSet[];
  generation: number;
  deleting: boolean;
}

/** One set's servers and what bringing them to its replicas takes. */
interface SetStep {
  set: GameServerSet;
  /** The set's counted servers. */
  servers: GameServer[];
  create: number;
  /** Servers to delete (never in-use ones, so there may be fewer than the set has beyond its replicas). */
  victims: GameServer[];
}

export interface FleetControllerOptions {
  store: GameServerStore;
  runtime: FleetRuntime;
  clock: Clock;
  log: Logger;
  metrics: ControllerMetrics;
  namespace: string;
  /**
   * Resolves once whatever else sets the fleet's replicas (its FleetAutoscaler) has caught up with
   * the fleet's changes; the controller waits on it before creating or deleting servers.
   */
  settleReplicas?: (fleet: string) => Promise<void>;
}

export class FleetController {
  private readonly fleets = new Map<string, FleetRecord>();
  private readonly queue: KeyedWorkQueue;
  private readonly log: Logger;
  private readonly listeners = new Set<(fleet: string) => void>();
  private readonly unwatch: () => void;
  /** The last change that may add servers (see boundedChange); the next one starts once it ends. */
  private boundedTail: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: FleetControllerOptions) {
    this.log = options.log.child({ [LogField.component]: 'fleet-controller' });
    this.queue = new KeyedWorkQueue({ handler: (name) => this.reconcileFleet(name), clock: options.clock, log: this.log });
    this.unwatch = options.store.watch((e) => {
      const fleet = e.object.metadata.labels[FLEET_LABEL];
      if (!fleet || !this.fleets.has(fleet)) return;
      // Any change may call for action (a rollout step waits for servers to be Ready); the queue coalesces bursts.
      this.queue.enqueue(fleet);
      this.notify(fleet);
    });
  }

  /** Adds or replaces a fleet; a changed template rolls out by the fleet's strategy. */
  apply(fleet: FleetResource): ApplyAction {
    const name = fleet.metadata.name;
    const existing = this.fleets.get(name);
    let action: ApplyAction = 'created';
    const hash = templateHash(fleet.spec.template);
    if (existing && !existing.deleting) {
      action = stableJson(existing.resource) === stableJson(fleet) ? 'unchanged' : 'configured';
      Object.assign(existing, { resource: fleet, templateHash: hash });
    } else if (existing) {
      Object.assign(existing, { resource: fleet, templateHash: hash, deleting: false });
    } else {
      this.fleets.set(name, { resource: fleet, templateHash: hash, sets: [], generation: 0, deleting: false });
    }
    if (action !== 'unchanged') {
      this.queue.enqueue(name);
      this.notify(name);
    }
    return action;
  }

  /** Sets a fleet's replicas, as `kubectl scale` (and a FleetAutoscaler) does. */
  async scale(name: string, replicas: number): Promise<void> {
    const record = this.record(name);
    if (record.resource.spec.replicas === replicas) return;
    this.log.info({ [LogField.fleet]: name, from: record.resource.spec.replicas, to: replicas }, 'scaling fleet');
    record.resource = { ...record.resource, spec: { ...record.resource.spec, replicas } };
    this.queue.enqueue(name);
    this.notify(name);
  }

  /**
   * Deletes a fleet: its servers are removed as a scale to 0 removes them, so Allocated and
   * Reserved servers finish their matches first; the fleet is gone once its last server is.
   */
  remove(name: string): void {
    const record = this.record(name);
    record.deleting = true;
    this.queue.enqueue(name);
    this.notify(name);
  }

  /** Creates a standalone GameServer; like Agones, nobody replaces it when it dies. */
  async createGameServer(resource: GameServerResource): Promise<GameServer> {
    const meta = resource.metadata;
    return this.options.runtime.create(
      newGameServer({
        name: meta.name ?? generateName(meta.generateName ?? 'gameserver-'),
        namespace: meta.namespace ?? this.options.namespace,
        labels: meta.labels,
        annotations: meta.annotations,
        spec: resource.spec,
        now: isoTime(this.options.clock),
      }),
    );
  }

  fleetNames(): string[] {
    return [...this.fleets.entries()]
      .filter(([, r]) => !r.deleting)
      .map(([name]) => name)
      .sort();
  }

  has(name: string): boolean {
    return this.fleets.get(name)?.deleting === false;
  }

  /** The fleet's replicas as they are now (after any scale or autoscaler change). */
  liveReplicas(name: string): number {
    return this.spec(name).replicas;
  }

  /**
   * The game servers this controller runs, as local.max_servers and local.port_range count them:
   * each fleet's replicas, and every standalone GameServer not yet shutting down.
   */
  async running(): Promise<RunningServers> {
    const standalone = (await this.options.store.list()).filter((gs) => gs.metadata.labels[FLEET_LABEL] === undefined && gs.status.state !== S.Shutdown);
    // Read after the store's answer, so a fleet applied or scaled meanwhile is counted as it is now.
    const fleets = new Map(this.fleetNames().map((name) => [name, { replicas: this.liveReplicas(name), ports: this.spec(name).template.spec.ports }]));
    return { fleets, standalone: new Map(standalone.map((gs) => [gs.metadata.name, gs.spec.ports])) };
  }

  /**
   * Runs `change` once every earlier one has ended. Every change that may add servers (a scale, an
   * apply, an autoscaler's sync) checks local.max_servers and local.port_range against running()
   * and makes the change inside one, so two at the same instant cannot each pass on what the other
   * has not added yet (a standalone GameServer is only counted once its creation is stored).
   */
  boundedChange<T>(change: () => Promise<T>): Promise<T> {
    const run = this.boundedTail.then(change);
    this.boundedTail = run.catch(() => undefined);
    return run;
  }

  /** The fleet's spec as applied, without its servers' status (view() lists those from the store). */
  spec(name: string): FleetResource['spec'] {
    return this.record(name).resource.spec;
  }

  async view(name: string): Promise<FleetDetail> {
    const record = this.record(name);
    const servers = await this.options.store.list({ fleet: name });
    const active = this.activeSet(record);
    const meta = record.resource.metadata;
    return {
      name,
      metadata: { namespace: meta.namespace ?? this.options.namespace, labels: meta.labels, annotations: meta.annotations },
      spec: record.resource.spec,
      status: computeFleetStatus(servers),
      gameServerSets: record.sets.map((set) => ({
        name: set.name,
        replicas: set.replicas,
        active: set === active,
        counts: countsOf(servers.filter((gs) => gs.metadata.labels[GAME_SERVER_SET_LABEL] === set.name)),
      })),
    };
  }

  /**
   * The fleet's counted game servers in the order scale-down would remove them, the in-use ones
   * (which scale-down never removes) last: what Counter and List autoscalers walk.
   */
  async scaleDownOrder(name: string): Promise<GameServer[]> {
    const { spec } = this.record(name).resource;
    const counted = (await this.options.store.list({ fleet: name })).filter(isCounted);
    const removable = pickForScaleDown(counted, counted.length, spec.scheduling, spec.priorities);
    return [...removable, ...counted.filter((gs) => !removable.includes(gs))];
  }

  /** Calls `listener(fleet)` whenever a fleet's spec or any of its game servers changes. */
  watch(listener: (fleet: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every queued reconcile has run. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  async close(): Promise<void> {
    this.unwatch();
    this.listeners.clear();
    await this.queue.close();
  }

  /** Brings the fleet's sets and servers to where the spec says; safe to run any number of times. */
  async reconcileFleet(name: string): Promise<void> {
    const record = this.fleets.get(name);
    if (!record) return;
    const { store, settleReplicas } = this.options;
    let servers = await store.list({ fleet: name });

    const broken = servers.filter((gs) => gs.status.state === S.Unhealthy || gs.status.state === S.Error);
    for (const gs of broken) this.log.info({ [LogField.gameServer]: gs.metadata.name, [LogField.state]: gs.status.state }, 'deleting failed game server');
    await Promise.all(broken.map((gs) => this.options.runtime.delete(gs.metadata.name)));

    let steps = this.planSets(record, servers);
    if (settleReplicas && steps.some((step) => step.create > 0 || step.victims.length > 0)) {
      // The replicas may predate the change that brought us here (an Allocated server gone
      // makes a Buffer autoscaler ask for one fewer): let the autoscaler catch up, then plan again.
      await settleReplicas(name);
      servers = await store.list({ fleet: name });
      steps = this.planSets(record, servers);
    }

    await Promise.all(steps.map((step) => this.reconcileSet(record, step)));

    // A drained older set is forgotten once its last server (in use ones included) is gone.
    const active = record.deleting ? undefined : this.activeSet(record);
    const inSet = new Map(steps.map((step) => [step.set, step.servers.length]));
    record.sets = record.sets.filter((s) => s === active || s.replicas > 0 || (inSet.get(s) ?? 0) > 0);
    if (record.deleting && record.sets.length === 0) {
      this.fleets.delete(name);
      for (const type of ['total', 'desired', 'ready', 'reserved', 'allocated']) this.options.metrics.fleetReplicas.remove({ name, type });
      this.log.info({ [LogField.fleet]: name }, 'fleet deleted');
      return;
    }
    this.recordReplicaMetrics(name, record);
  }

  /** Sets each set's replicas by the fleet's spec and strategy, and what reaching them takes. */
  private planSets(record: FleetRecord, servers: readonly GameServer[]): SetStep[] {
    const fleet = record.resource;
    const bySet = new Map<string, GameServer[]>();
    for (const gs of servers.filter(isCounted)) {
      const set = gs.metadata.labels[GAME_SERVER_SET_LABEL] ?? '';
      bySet.set(set, [...(bySet.get(set) ?? []), gs]);
    }
    const serversOf = (set: GameServerSet) => bySet.get(set.name) ?? [];

    if (record.deleting) {
      for (const set of record.sets) set.replicas = 0;
    } else {
      const active = this.activeSet(record) ?? this.startSet(record);
      const older = record.sets.filter((s) => s !== active);
      const plan = planRollout(
        fleet.spec,
        { ...active, ...countsOf(serversOf(active)) },
        older.map((s) => ({ ...s, ...countsOf(serversOf(s)) })),
      );
      for (const p of plan) record.sets.find((s) => s.name === p.name)!.replicas = p.replicas;
    }
    return record.sets.map((set) => {
      const have = serversOf(set);
      return {
        set,
        servers: have,
        create: Math.max(0, set.replicas - have.length),
        victims: pickForScaleDown(have, have.length - set.replicas, fleet.spec.scheduling, fleet.spec.priorities),
      };
    });
  }

  private async reconcileSet(record: FleetRecord, { set, servers, create, victims }: SetStep): Promise<void> {
    const fleet = record.resource;
    const have = servers.length;
    if (create > 0) {
      this.log.info({ [LogField.fleet]: set.fleet, gameServerSet: set.name, have, want: set.replicas }, `creating ${create} game server(s)`);
      await Promise.all(Array.from({ length: create }, () => this.options.runtime.create(this.newServer(set, fleet.metadata.namespace))));
    } else if (victims.length) {
      this.log.info({ [LogField.fleet]: set.fleet, gameServerSet: set.name, have, want: set.replicas }, `deleting ${victims.length} game server(s)`);
      await Promise.all(victims.map((gs) => this.options.runtime.delete(gs.metadata.name)));
    }
    const overflow = fleet.spec.allocationOverflow;
    if (overflow) {
      const marks = overflowing(servers, set.replicas).filter((gs) => !hasAll(gs.metadata.labels, overflow.labels) || !hasAll(gs.metadata.annotations, overflow.annotations));
      await Promise.all(
        marks.map((gs) =>
          this.options.store
            .update(gs.metadata.name, (cur) => ({
              ...cur,
              metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, ...overflow.labels }, annotations: { ...cur.metadata.annotations, ...overflow.annotations } },
            }))
            .catch((err: unknown) => this.log.debug({ err }, 'overflow server gone before it was labelled')),
        ),
      );
    }
  }

  private activeSet(record: FleetRecord): GameServerSet | undefined {
    return record.sets.find((s) => s.templateHash === record.templateHash);
  }

  private startSet(record: FleetRecord): GameServerSet {
    const fleet = record.resource;
    const set: GameServerSet = {
      name: generateName(`${fleet.metadata.name}-`),
      fleet: fleet.metadata.name,
      templateHash: record.templateHash,
      template: fleet.spec.template,
      replicas: 0,
      generation: ++record.generation,
    };
    if (record.sets.length) {
      this.options.metrics.fleetRollouts.inc({ name: fleet.metadata.name, strategy: fleet.spec.strategy.type });
      this.log.info({ [LogField.fleet]: fleet.metadata.name, gameServerSet: set.name, strategy: fleet.spec.strategy.type }, 'template changed: rolling out a new GameServerSet');
    }
    record.sets.push(set);
    return set;
  }

  private newServer(set: GameServerSet, namespace: string | undefined): GameServer {
    return newGameServer({
      name: generateName(`${set.name}-`),
      namespace: namespace ?? this.options.namespace,
      labels: { ...set.template.metadata.labels, [FLEET_LABEL]: set.fleet, [GAME_SERVER_SET_LABEL]: set.name },
      annotations: { ...set.template.metadata.annotations },
      spec: set.template.spec,
      now: isoTime(this.options.clock),
    });
  }

  private recordReplicaMetrics(name: string, record: FleetRecord): void {
    void this.options.store.list({ fleet: name }).then((servers) => {
      const status = computeFleetStatus(servers);
      const g = this.options.metrics.fleetReplicas;
      g.set({ name, type: 'total' }, status.replicas);
      g.set({ name, type: 'desired' }, record.resource.spec.replicas);
      g.set({ name, type: 'ready' }, status.readyReplicas);
      g.set({ name, type: 'reserved' }, status.reservedReplicas);
      g.set({ name, type: 'allocated' }, status.allocatedReplicas);
    });
  }

  private record(name: string): FleetRecord {
    const record = this.fleets.get(name);
    if (!record || record.deleting) throw new FleetNotFoundError(name);
    return record;
  }

  private notify(fleet: string): void {
    for (const listener of this.listeners) listener(fleet);
  }
}

/** The fleet controller as the FleetAutoscaler controller reads and scales it. */
export function autoscaledFleets(controller: FleetController): AutoscaledFleets {
  return {
    view: async (name) => (controller.has(name) ? controller.view(name) : undefined),
    scaleDownOrder: (name) => controller.scaleDownOrder(name),
    scale: (name, n) => controller.scale(name, n),
    watch: (listener) => controller.watch(listener),
  };
}

function countsOf(servers: readonly GameServer[]): SetCounts {
  const counted = servers.filter(isCounted);
  return {
    counted: counted.length,
    ready: counted.filter((gs) => gs.status.state === S.Ready).length,
    inUse: counted.filter((gs) => gs.status.state === S.Allocated || gs.status.state === S.Reserved).length,
  };
}

function hasAll(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}
