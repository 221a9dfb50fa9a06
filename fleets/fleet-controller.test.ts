import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GameServerState as S, transition, type GameServer, type GameServerState } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import type { FleetResource } from '../core/resources.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { FleetController, pickForScaleDown } from './fleet-controller.js';
import type { FleetRuntime } from './runtime/fleet-runtime.js';

/** A runtime whose servers reach Ready at once and vanish when deleted: the controller's logic in isolation. */
class InstantRuntime implements FleetRuntime {
  created = 0;
  constructor(private readonly store: MemoryGameServerStore) {}
  async create(gs: GameServer): Promise<GameServer> {
    this.created++;
    await this.store.create(gs);
    let next = gs;
    for (const s of [S.Creating, S.Starting, S.Scheduled, S.RequestReady, S.Ready] as const) next = transition(next, s);
    return this.store.update(gs.metadata.name, () => next);
  }
  async delete(name: string): Promise<void> {
    await this.store.update(name, (gs) => transition(gs, S.Shutdown)).catch(() => undefined);
    await this.store.delete(name);
  }
  processInfo() {
    return undefined;
  }
  async close() {}
}

function fleet(name: string, replicas: number): FleetResource {
  return {
    apiVersion: 'agones.dev/v1',
    kind: 'Fleet',
    metadata: { name, labels: {}, annotations: {} },
    spec: {
      replicas,
      scheduling: 'Packed',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      priorities: [],
      template: { metadata: { labels: { mode: 'duel' }, annotations: {} }, spec: testSpec() },
    },
  };
}

describe('FleetController', () => {
  let store: MemoryGameServerStore;
  let runtime: InstantRuntime;
  let controller: FleetController;
  beforeEach(() => {
    store = new MemoryGameServerStore();
    runtime = new InstantRuntime(store);
    controller = new FleetController({ store, runtime, clock: new FakeClock(), log: silentLogger, namespace: 'default' });
  });
  afterEach(async () => {
    await controller.close();
  });

  const states = async (name: string) => (await store.list({ fleet: name })).map((g) => g.status.state).sort();

  it('creates the fleet\'s replicas with its labels, and reconciling again changes nothing', async () => {
    controller.applyFleet(fleet('duel', 3));
    await controller.idle();
    expect(await states('duel')).toEqual([S.Ready, S.Ready, S.Ready]);
    const servers = await store.list({ fleet: 'duel' });
    expect(servers.every((g) => g.metadata.name.startsWith('duel-') && g.metadata.labels.mode === 'duel')).toBe(true);
    await controller.reconcileFleet('duel');
    await controller.reconcileFleet('duel');
    expect(runtime.created).toBe(3);
    expect((await controller.view('duel')).status).toEqual({ replicas: 3, readyReplicas: 3, reservedReplicas: 0, allocatedReplicas: 0 });
  });

  it('replaces an Unhealthy server', async () => {
    controller.applyFleet(fleet('duel', 2));
    await controller.idle();
    const [victim] = await store.list({ fleet: 'duel' });
    await store.update(victim!.metadata.name, (gs) => transition(gs, S.Unhealthy));
    await controller.idle();
    const names = (await store.list({ fleet: 'duel' })).map((g) => g.metadata.name);
    expect(names).not.toContain(victim!.metadata.name);
    expect(await states('duel')).toEqual([S.Ready, S.Ready]);
  });

  it('scaled to 0 with 3 Allocated keeps exactly those 3, still Allocated', async () => {
    controller.applyFleet(fleet('duel', 5));
    await controller.idle();
    const allocated = (await store.list({ fleet: 'duel' })).slice(0, 3).map((g) => g.metadata.name);
    for (const name of allocated) await store.update(name, (gs) => transition(gs, S.Allocated));
    controller.applyFleet(fleet('duel', 0));
    await controller.idle();
    const left = await store.list({ fleet: 'duel' });
    expect(left.map((g) => g.metadata.name).sort()).toEqual([...allocated].sort());
    expect(left.every((g) => g.status.state === S.Allocated)).toBe(true);
  });

  it('ignores servers of other fleets and standalone ones', async () => {
    await store.create(testGameServer('loner'));
    controller.applyFleet(fleet('duel', 1));
    await controller.idle();
    expect((await store.list()).map((g) => g.metadata.name).filter((n) => n === 'loner')).toEqual(['loner']);
  });

  it('reports an unknown fleet with a coded error', async () => {
    await expect(controller.view('nope')).rejects.toMatchObject({ code: 'FLEET_NOT_FOUND', message: 'fleet nope not found' });
  });
});

describe('pickForScaleDown', () => {
  const at = (name: string, state: GameServerState, created: string): GameServer => {
    const gs = testGameServer(name);
    return { ...gs, metadata: { ...gs.metadata, creationTimestamp: created }, status: { ...gs.status, state } };
  };
  it('never picks Allocated or Reserved, takes unready before Ready and newer Ready before older', () => {
    const servers = [
      at('old-ready', S.Ready, '2026-01-01T00:00:01Z'),
      at('allocated', S.Allocated, '2026-01-01T00:00:00Z'),
      at('new-ready', S.Ready, '2026-01-01T00:00:05Z'),
      at('starting', S.Starting, '2026-01-01T00:00:00Z'),
      at('reserved', S.Reserved, '2026-01-01T00:00:00Z'),
    ];
    expect(pickForScaleDown(servers, 10).map((g) => g.metadata.name)).toEqual(['starting', 'new-ready', 'old-ready']);
    expect(pickForScaleDown(servers, 2).map((g) => g.metadata.name)).toEqual(['starting', 'new-ready']);
  });
});
