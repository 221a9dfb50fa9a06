import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GameServerState as S, transition, type GameServer } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import { createAutoscalerMetrics, createControllerMetrics, createRegistry, type Registry } from '../core/metrics.js';
import { AUTOSCALING_API_VERSION, type FleetResource, type FleetSpec } from '../core/resources.js';
import { GAME_SERVER_SET_LABEL, type GameServerEventType } from '../store/game-server-store.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { FleetAutoscalerController } from './autoscaler/autoscaler-controller.js';
import { autoscaledFleets, FleetController } from './fleet-controller.js';
import { StepRuntime } from '../test/helpers/step-runtime.js';

function fleet(name: string, replicas: number, overrides: Partial<FleetSpec> = {}, env = 'v1'): FleetResource {
  const spec = testSpec();
  spec.template.spec.containers[0]!.env = [{ name: 'VERSION', value: env }];
  return {
    apiVersion: 'agones.dev/v1',
    kind: 'Fleet',
    metadata: { name, labels: {}, annotations: {} },
    spec: {
      replicas,
      scheduling: 'Packed',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      priorities: [],
      template: { metadata: { labels: { mode: 'duel' }, annotations: {} }, spec },
      ...overrides,
    },
  };
}

const envOf = (gs: GameServer) => gs.spec.template.spec.containers[0]!.env![0]!.value;

describe('FleetController', () => {
  let store: MemoryGameServerStore;
  let runtime: StepRuntime;
  let controller: FleetController;
  let registry: Registry;
  beforeEach(() => {
    store = new MemoryGameServerStore();
    runtime = new StepRuntime(store);
    registry = createRegistry();
    controller = new FleetController({ store, runtime, clock: new FakeClock(), log: silentLogger, metrics: createControllerMetrics(registry), namespace: 'default' });
  });
  afterEach(async () => {
    await controller.close();
  });

  const list = (name: string) => store.list({ fleet: name });
  const states = async (name: string) => (await list(name)).map((g) => g.status.state).sort();
  const allocate = async (names: string[]) => {
    for (const n of names) await store.update(n, (gs) => transition(gs, S.Allocated));
  };

  it("creates the fleet's replicas in one GameServerSet with its labels; reconciling again changes nothing", async () => {
    expect(controller.apply(fleet('duel', 3))).toBe('created');
    await controller.idle();
    expect(await states('duel')).toEqual([S.Ready, S.Ready, S.Ready]);
    const servers = await list('duel');
    const set = servers[0]!.metadata.labels[GAME_SERVER_SET_LABEL]!;
    expect(set).toMatch(/^duel-\w{5}$/);
    expect(servers.every((g) => g.metadata.name.startsWith(`${set}-`) && g.metadata.labels.mode === 'duel')).toBe(true);
    await controller.reconcileFleet('duel');
    await controller.reconcileFleet('duel');
    expect(runtime.created).toBe(3);
    expect(controller.apply(fleet('duel', 3))).toBe('unchanged');
    const view = await controller.view('duel');
    expect(view.status).toMatchObject({ replicas: 3, readyReplicas: 3, reservedReplicas: 0, allocatedReplicas: 0 });
    expect(view.gameServerSets).toEqual([{ name: set, replicas: 3, active: true, counts: { counted: 3, ready: 3, inUse: 0 } }]);
  });

  it('scales up and down, replacing Unhealthy servers on the way', async () => {
    controller.apply(fleet('duel', 2));
    await controller.idle();
    const [victim] = await list('duel');
    await store.update(victim!.metadata.name, (gs) => transition(gs, S.Unhealthy));
    await controller.idle();
    expect((await list('duel')).map((g) => g.metadata.name)).not.toContain(victim!.metadata.name);
    await controller.scale('duel', 5);
    await controller.idle();
    expect(await states('duel')).toHaveLength(5);
    await controller.scale('duel', 1);
    await controller.idle();
    expect(await states('duel')).toEqual([S.Ready]);
  });

  it('scaled to 0 with 3 Allocated keeps exactly those 3, still Allocated', async () => {
    controller.apply(fleet('duel', 5));
    await controller.idle();
    const allocated = (await list('duel')).slice(0, 3).map((g) => g.metadata.name);
    await allocate(allocated);
    await controller.scale('duel', 0);
    await controller.idle();
    const left = await list('duel');
    expect(left.map((g) => g.metadata.name).sort()).toEqual([...allocated].sort());
    expect(left.every((g) => g.status.state === S.Allocated)).toBe(true);
  });

  it('a template change rolls every Ready server and leaves Allocated ones untouched', async () => {
    controller.apply(fleet('duel', 4));
    await controller.idle();
    const [kept] = await list('duel');
    await allocate([kept!.metadata.name]);

    expect(controller.apply(fleet('duel', 4, {}, 'v2'))).toBe('configured');
    await controller.idle();
    const after = await list('duel');
    expect(after.find((g) => g.metadata.name === kept!.metadata.name)).toMatchObject({ status: { state: S.Allocated } });
    expect(envOf(after.find((g) => g.metadata.name === kept!.metadata.name)!)).toBe('v1');
    const others = after.filter((g) => g.metadata.name !== kept!.metadata.name);
    expect(others).toHaveLength(3);
    expect(others.every((g) => envOf(g) === 'v2' && g.status.state === S.Ready)).toBe(true);
    const view = await controller.view('duel');
    expect(view.gameServerSets.map((s) => ({ active: s.active, replicas: s.replicas, inUse: s.counts.inUse }))).toEqual([
      { active: false, replicas: 0, inUse: 1 },
      { active: true, replicas: 3, inUse: 0 },
    ]);
    // Once the allocated server of the old set has gone, the old set goes and the new one fills up.
    await store.delete(kept!.metadata.name);
    await controller.idle();
    expect((await controller.view('duel')).gameServerSets).toEqual([expect.objectContaining({ active: true, replicas: 4 })]);
    expect(await states('duel')).toHaveLength(4);
  });

  it('a rolling update never goes beyond replicas + maxSurge, nor below replicas − maxUnavailable Ready', async () => {
    controller.apply(fleet('duel', 4));
    await controller.idle();
    runtime.instant = false;
    controller.apply(fleet('duel', 4, {}, 'v2'));
    for (let step = 0; step < 10; step++) {
      await controller.idle();
      const servers = await list('duel');
      expect(servers.length).toBeLessThanOrEqual(5);
      expect(servers.filter((g) => g.status.state === S.Ready).length).toBeGreaterThanOrEqual(3);
      if (servers.length === 4 && servers.every((g) => envOf(g) === 'v2' && g.status.state === S.Ready)) break;
      await runtime.readyAll();
    }
    const done = await list('duel');
    expect(done.map(envOf)).toEqual(['v2', 'v2', 'v2', 'v2']);
  });

  it('Recreate replaces every Ready server at once', async () => {
    const recreate: Partial<FleetSpec> = { strategy: { type: 'Recreate' } };
    controller.apply(fleet('duel', 3, recreate));
    await controller.idle();
    runtime.instant = false;
    controller.apply(fleet('duel', 3, recreate, 'v2'));
    await controller.idle();
    const servers = await list('duel');
    expect(servers.map(envOf)).toEqual(['v2', 'v2', 'v2']);
    expect(servers.every((g) => g.status.state === S.Scheduled)).toBe(true);
  });

  it('labels Allocated servers beyond the replicas with allocationOverflow', async () => {
    controller.apply(fleet('duel', 3, { allocationOverflow: { labels: { overflow: 'true' }, annotations: { note: 'over' } } }));
    await controller.idle();
    await allocate((await list('duel')).map((g) => g.metadata.name));
    await controller.scale('duel', 1);
    await controller.idle();
    const servers = await list('duel');
    expect(servers).toHaveLength(3);
    const marked = servers.filter((g) => g.metadata.labels.overflow === 'true' && g.metadata.annotations.note === 'over');
    expect(marked).toHaveLength(2);
  });

  it('deleting a fleet removes its Ready servers at once and forgets it when its Allocated ones are gone', async () => {
    controller.apply(fleet('duel', 3));
    await controller.idle();
    const [busy] = await list('duel');
    await allocate([busy!.metadata.name]);
    controller.remove('duel');
    await controller.idle();
    expect((await list('duel')).map((g) => g.metadata.name)).toEqual([busy!.metadata.name]);
    expect(controller.fleetNames()).toEqual([]);
    await expect(controller.view('duel')).rejects.toMatchObject({ code: 'FLEET_NOT_FOUND' });
    await store.delete(busy!.metadata.name);
    await controller.idle();
    expect(controller.has('duel')).toBe(false);
  });

  it('tells watchers about spec changes and about its servers', async () => {
    const seen: string[] = [];
    controller.watch((f) => seen.push(f));
    controller.apply(fleet('duel', 1));
    await controller.idle();
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen)).toEqual(new Set(['duel']));
  });

  it("exports Agones' fleet replica metrics", async () => {
    controller.apply(fleet('duel', 2));
    await controller.idle();
    await allocate([(await list('duel'))[0]!.metadata.name]);
    await controller.reconcileFleet('duel');
    await new Promise((r) => setImmediate(r));
    const text = await registry.metrics();
    expect(text).toContain('agones_fleets_replicas_count{name="duel",type="desired"} 2');
    expect(text).toContain('agones_fleets_replicas_count{name="duel",type="allocated"} 1');
    expect(text).toContain('agones_fleets_replicas_count{name="duel",type="ready"} 1');
  });

  it('ignores servers of other fleets and standalone ones, and reports unknown fleets with a code', async () => {
    await store.create(testGameServer('loner'));
    controller.apply(fleet('duel', 1));
    await controller.idle();
    expect(await store.get('loner')).toBeDefined();
    await expect(controller.view('nope')).rejects.toMatchObject({ code: 'FLEET_NOT_FOUND', message: 'fleet nope not found' });
    await expect(controller.scale('nope', 1)).rejects.toMatchObject({ code: 'FLEET_NOT_FOUND' });
  });
});

describe('FleetController with a Buffer FleetAutoscaler', () => {
  let store: MemoryGameServerStore;
  let clock: FakeClock;
  let controller: FleetController;
  let autoscalers: FleetAutoscalerController;
  beforeEach(() => {
    store = new MemoryGameServerStore();
    clock = new FakeClock();
    const registry = createRegistry();
    // Wired as the local stack wires them: the fleet controller lets the autoscaler catch up first.
    controller = new FleetController({
      store,
      runtime: new StepRuntime(store),
      clock,
      log: silentLogger,
      metrics: createControllerMetrics(registry),
      namespace: 'default',
      settleReplicas: (name) => autoscalers.settle(name),
    });
    autoscalers = new FleetAutoscalerController({ fleets: autoscaledFleets(controller), clock, log: silentLogger, metrics: createAutoscalerMetrics(registry) });
  });
  afterEach(async () => {
    await autoscalers.close();
    await controller.close();
  });

  /** Until neither controller has anything left to do (each one's work can queue the other's). */
  const quiet = async () => {
    for (let i = 0; i < 5; i++) {
      await controller.idle();
      await autoscalers.idle();
    }
  };
  const byState = async () => (await store.list({ fleet: 'duel' })).map((g) => g.status.state).sort();
  const startBuffered = async () => {
    controller.apply(fleet('duel', 2));
    autoscalers.apply({
      apiVersion: AUTOSCALING_API_VERSION,
      kind: 'FleetAutoscaler',
      metadata: { name: 'duel-autoscaler', labels: {}, annotations: {} },
      spec: { fleetName: 'duel', policy: { type: 'Buffer', buffer: { bufferSize: 2, minReplicas: 2, maxReplicas: 10 } }, sync: { type: 'FixedInterval', fixedInterval: { seconds: 30 } } },
    });
    await quiet();
    clock.advance(1000); // the changes of the fleet's start are synced and their batch is over
    await quiet();
  };

  it.each([
    ['long after any other change', false],
    ['while the autoscaler batches changes (its players just left)', true],
  ])("an Allocated server's Shutdown %s creates no server and deletes none but itself; allocation refills the buffer at once", async (_, playersJustLeft) => {
    await startBuffered();
    const [busy] = await store.list({ fleet: 'duel' });
    await store.update(busy!.metadata.name, (gs) => transition(gs, S.Allocated));
    await quiet(); // no clock advance: the refill does not wait for a batch or an interval
    expect(await byState()).toEqual([S.Allocated, S.Ready, S.Ready]);
    expect(controller.liveReplicas('duel')).toBe(3);

    clock.advance(1000);
    await quiet();
    const changes: Array<[GameServerEventType, string]> = [];
    store.watch((e) => e.type !== 'modified' && changes.push([e.type, e.object.metadata.name]));
    if (playersJustLeft) {
      await store.update(busy!.metadata.name, (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, players: '0' } } }));
      await quiet(); // synced at once; the Shutdown below comes within the batch that sync opened
    }
    await store.update(busy!.metadata.name, (gs) => transition(gs, S.Shutdown));
    await quiet();
    await store.delete(busy!.metadata.name); // as the runtime does once the process has exited
    await quiet();
    clock.advance(1000);
    await quiet();

    expect(changes).toEqual([['deleted', busy!.metadata.name]]);
    expect(await byState()).toEqual([S.Ready, S.Ready]);
    expect(controller.liveReplicas('duel')).toBe(2);
  });

  it('a manual scale of the fleet is set back by its autoscaler before any server is created', async () => {
    await startBuffered();
    const changes: string[] = [];
    store.watch((e) => e.type !== 'modified' && changes.push(e.type));
    await controller.scale('duel', 6);
    await quiet();
    expect(changes).toEqual([]);
    expect(controller.liveReplicas('duel')).toBe(2);
  });
});
