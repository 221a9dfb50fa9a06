import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { allocationResult } from '../allocator/allocation-backend.js';
import { parseAllocationRequest } from '../allocator/allocation-schema.js';
import type { GameServerAllocationSpec } from '../allocator/allocation.js';
import { applyAllocation } from '../allocator/apply-allocation.js';
import type { PreparedAllocation } from '../allocator/prepared-allocation.js';
import { GameServerState as S, newGameServer, transition, type GameServer } from '../core/game-server.js';
import { ACKS_ALLOCATION_LABEL, ALLOCATION_OBSERVED_ANNOTATION, CLAIMED_ANNOTATION, EXPECTED_PLAYERS_ANNOTATION, LAST_ALLOCATED_ANNOTATION, MATCH_ID_ANNOTATION, PLAYERS_LIST } from '../core/hangar-metadata.js';
import type { Clock } from '../core/clock.js';
import type { RecordsMetrics } from '../core/metrics.js';
import { FLEET_LABEL, GAME_SERVER_SET_LABEL, type GameServerEvent, type GameServerStore } from '../store/game-server-store.js';
import type { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { testSpec } from '../test/helpers/game-servers.js';

// The allocator benchmark's game servers and requests, shared by its processes (bench/allocator-*.ts):
//   - servers shaped like the arena fleet's (two ports, a `players` List of 100), Ready;
//   - the request the matchmaker sends (matchmaker/matchmaking-service.ts allocationRequest: the
//     fleet, queue and mode labels, match id and ten expected players, the players List), whole
//     or as the matchmaker's client sends it (its queue's template and the match's parts);
//   - a fake fleet that plays each game server's part after an allocation: a server that
//     acknowledges allocations ("ready means ready") echoes it and reports its first player, as
//     gameserver/agones-agent.ts does through the SDK; then the match ends (at once, or after a
//     few milliseconds) and the server goes back to Ready with an empty players List. So the pool
//     refills itself and every allocation finds a Ready server however long the run.

/** Fleets of the benchmark: servers that acknowledge allocations, and servers that do not. */
export const ACKING_FLEET = 'bench-acks';
export const SILENT_FLEET = 'bench';
export const PLAYERS_PER_MATCH = 10;
export const PLAYER_CAPACITY = 100;

export function fakeGameServer(fleet: string, i: number): GameServer {
  const spec = testSpec({ lists: { [PLAYERS_LIST]: { capacity: PLAYER_CAPACITY, values: [] } } });
  const labels: Record<string, string> = { [FLEET_LABEL]: fleet, [GAME_SERVER_SET_LABEL]: `${fleet}-x7k2p`, game: 'arena' };
  if (fleet === ACKING_FLEET) labels[ACKS_ALLOCATION_LABEL] = 'true';
  const gs = newGameServer({ name: `${fleet}-x7k2p-${i.toString(36).padStart(5, '0')}`, namespace: 'default', labels, annotations: {}, spec, now: new Date().toISOString() });
  const port = 7000 + (i % 1000);
  return {
    ...gs,
    status: {
      ...gs.status,
      state: S.Ready,
      address: '127.0.0.1',
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      ports: [
        { name: 'default', port },
        { name: 'metrics', port: port + 1000 },
      ],
      nodeName: 'bench-node',
    },
  };
}

/** The matchmaker's allocation request for match `n`, as JSON (what goes over the wire). */
export function matchRequest(fleet: string, n: number): object {
  const players = Array.from({ length: PLAYERS_PER_MATCH }, (_, p) => `player-${n}-${p}`);
  return {
    apiVersion: 'allocation.agones.dev/v1',
    kind: 'GameServerAllocation',
    spec: {
      selectors: [{ matchLabels: { [FLEET_LABEL]: fleet } }],
      metadata: {
        labels: { 'hangar.dev/queue': 'ranked', 'hangar.dev/mode': 'duel' },
        annotations: { [MATCH_ID_ANNOTATION]: `match-${n}`, [EXPECTED_PLAYERS_ANNOTATION]: players.join(',') },
      },
      lists: { [PLAYERS_LIST]: { addValues: players, capacity: PLAYERS_PER_MATCH } },
    },
  };
}

/** The same request parsed, as matchmaker/allocator-client.ts sends it. */
export function matchSpec(fleet: string, n: number): GameServerAllocationSpec {
  return parseAllocationRequest(matchRequest(fleet, n));
}

const templates = new Map<string, GameServerAllocationSpec>();

/**
 * The same allocation as the matchmaker asks for it: its queue's template (one object for each
 * fleet, as for each queue) and the match's annotations and `players` List action.
 */
export function matchAllocation(fleet: string, n: number): PreparedAllocation {
  const spec = matchSpec(fleet, n);
  let template = templates.get(fleet);
  if (!template) templates.set(fleet, (template = { ...spec, metadata: { labels: spec.metadata.labels, annotations: {} }, lists: {} }));
  return { template, parts: { metadata: { annotations: spec.metadata.annotations }, lists: spec.lists } };
}

/** The JSON an allocation of `fleet` answers with: the baselines answer with one this size (match numbers run to 255). */
export function sampleResult(fleet: string): object {
  return allocationResult(applyAllocation(fakeGameServer(fleet, 0), matchSpec(fleet, 123), new Date().toISOString()));
}

export interface BenchAllocator {
  server: Server;
  fleet: FakeFleet;
  registry: Registry;
  recordsMetrics: RecordsMetrics;
  store: MemoryGameServerStore;
}

/**
 * The allocator as the local stack serves it (the allocation service: auth, rate limit,
 * validation, records to PostgreSQL, metrics, claim watchdog; on the request listener
 * allocator/main.ts serves, with the REST, batch and stream paths) over a memory store holding
 * `pool` servers of each fleet, played by a FakeFleet; configured from the environment. Its
 * modules come from the build at `root` (a dist directory's URL; this build's by default), so
 * that an instruction-count bench can serve another build with this one's harness; `clock` is the
 * system's unless given.
 */
export async function startBenchAllocator(pool: number, root = new URL('..', import.meta.url), clock?: Clock): Promise<BenchAllocator> {
  const from = (file: string) => new URL(file, root).href;
  const [backend, service, clocks, config, secrets, logger, metrics, database, memoryStore] = await Promise.all([
    import(from('allocator/allocation-backend.js')) as Promise<typeof import('../allocator/allocation-backend.js')>,
    import(from('allocator/allocation-service.js')) as Promise<typeof import('../allocator/allocation-service.js')>,
    import(from('core/clock.js')) as Promise<typeof import('../core/clock.js')>,
    import(from('core/config.js')) as Promise<typeof import('../core/config.js')>,
    import(from('core/secrets.js')) as Promise<typeof import('../core/secrets.js')>,
    import(from('core/logger.js')) as Promise<typeof import('../core/logger.js')>,
    import(from('core/metrics.js')) as Promise<typeof import('../core/metrics.js')>,
    import(from('records/deferred-database.js')) as Promise<typeof import('../records/deferred-database.js')>,
    import(from('store/memory-game-server-store.js')) as Promise<typeof import('../store/memory-game-server-store.js')>,
  ]);
  const env = process.env;
  const time = clock ?? clocks.systemClock;
  const settings = config.loadConfig({ env });
  const log = logger.createLogger({ level: 'warn', destination: pino.destination({ dest: 2, sync: false }) });
  const registry = metrics.createRegistry();
  const recordsMetrics = metrics.createRecordsMetrics(registry);
  const store = new memoryStore.MemoryGameServerStore();
  for (const name of [ACKING_FLEET, SILENT_FLEET]) for (let i = 0; i < pool; i++) await store.create(fakeGameServer(name, i));
  const fleet = new FakeFleet(store);
  const allocation = await service.startAllocationService({
    backend: new backend.StoreAllocationBackend(store, time),
    config: settings.allocator,
    secrets: secrets.loadSecrets(env),
    database: database.openRecordsDatabase({ config: config.loadDatabaseConfig(env), log, pgliteDir: `${settings.local.state_dir}/pglite`, schema: settings.records.schema }),
    recordsMetrics,
    clock: time,
    log,
    registry,
  });
  const server = createServer(service.standaloneAllocatorListener(allocation, log));
  allocation.attach(server);
  return { server, fleet, registry, recordsMetrics, store };
}

/**
 * Plays every game server of the store after its allocation (see the top), batched in a
 * microtask: never inside the store's event delivery, and never later than the allocations of the
 * same event-loop turn (a setImmediate would let a busy server's poll phase allocate thousands
 * before the fleet runs, and drain the pool). A match lasts `matchMs` (0: it ends at once).
 * `busyMs` is the time spent here: for the memory store, game-server work that shares the
 * allocator's thread, reported beside its figures.
 */
export class FakeFleet {
  busyMs = 0;
  /** Writes that failed (a server left Allocated: the pool shrinks). */
  errors = 0;
  firstError: string | undefined;
  private readonly due = new Map<string, GameServer>();
  private scheduled = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly store: GameServerStore,
    private readonly matchMs = 0,
  ) {
    this.unwatch = store.watch((e) => this.onEvent(e));
  }

  close(): void {
    this.unwatch();
  }

  private onEvent(e: GameServerEvent): void {
    if (e.type === 'deleted' || e.object.status.state !== S.Allocated) return;
    this.due.set(e.object.metadata.name, e.object);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.play());
    }
  }

  private play(): void {
    this.scheduled = false;
    const started = performance.now();
    const ending: string[] = [];
    // Taken before writing: with the memory store, a write's own event arrives inside write().
    const batch = [...this.due.values()];
    this.due.clear();
    for (const gs of batch) {
      const allocatedAt = gs.metadata.annotations[LAST_ALLOCATED_ANNOTATION];
      // An acknowledging server echoes the allocation first; the match starts once that is stored.
      if (gs.metadata.labels[ACKS_ALLOCATION_LABEL] === 'true' && gs.metadata.annotations[ALLOCATION_OBSERVED_ANNOTATION] !== allocatedAt) this.write(gs.metadata.name, acknowledge);
      else ending.push(gs.metadata.name);
    }
    // For the memory store the writes ran above, synchronously; Redis round trips are not CPU here.
    this.busyMs += performance.now() - started;
    if (this.matchMs > 0) setTimeout(() => this.endMatches(ending), this.matchMs);
    else this.endMatches(ending);
  }

  private endMatches(names: string[]): void {
    const started = performance.now();
    for (const name of names) this.write(name, backToReady);
    this.busyMs += performance.now() - started;
  }

  private write(name: string, step: (gs: GameServer) => GameServer): void {
    this.store.update(name, step).catch((err: unknown) => {
      this.errors++;
      this.firstError ??= String(err);
    });
  }
}

function acknowledge(gs: GameServer): GameServer {
  const allocatedAt = gs.metadata.annotations[LAST_ALLOCATED_ANNOTATION];
  if (gs.status.state !== S.Allocated || !allocatedAt) return gs;
  return { ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [ALLOCATION_OBSERVED_ANNOTATION]: allocatedAt, [CLAIMED_ANNOTATION]: allocatedAt } } };
}

export function backToReady(gs: GameServer): GameServer {
  if (gs.status.state !== S.Allocated) return gs;
  // RequestReady → Ready in one write: the game calling Ready() and the controller answering it.
  const ready = transition(transition(gs, S.RequestReady), S.Ready);
  return { ...ready, status: { ...ready.status, lists: { ...ready.status.lists, [PLAYERS_LIST]: { capacity: PLAYER_CAPACITY, values: [] } } } };
}
