import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GameServerNotFoundError, VersionConflictError } from '../../core/errors.js';
import { GameServerState as S, transition } from '../../core/game-server.js';
import type { GameServerEvent, GameServerStore } from '../../store/game-server-store.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { testGameServer } from '../helpers/game-servers.js';

// One suite over every GameServerStore implementation (the Redis store joins with the allocator).
const STORES: Array<[string, () => Promise<GameServerStore>]> = [['memory', async () => new MemoryGameServerStore()]];

describe.each(STORES)('GameServerStore: %s', (_name, make) => {
  let store: GameServerStore;
  beforeEach(async () => {
    store = await make();
  });
  afterEach(async () => {
    await store.close();
  });

  it('creates, gets and lists by fleet and state', async () => {
    await store.create(testGameServer('a-1', { fleet: 'a' }));
    await store.create(testGameServer('a-2', { fleet: 'a' }));
    await store.create(testGameServer('b-1', { fleet: 'b' }));
    await store.update('a-2', (gs) => transition(gs, S.Creating));
    expect((await store.get('a-1'))?.metadata.name).toBe('a-1');
    expect(await store.get('zzz')).toBeUndefined();
    expect((await store.list({ fleet: 'a' })).map((g) => g.metadata.name).sort()).toEqual(['a-1', 'a-2']);
    expect((await store.list({ fleet: 'a', states: [S.Creating] })).map((g) => g.metadata.name)).toEqual(['a-2']);
    expect(await store.list()).toHaveLength(3);
  });

  it('refuses a second record with the same name', async () => {
    await store.create(testGameServer('x'));
    await expect(store.create(testGameServer('x'))).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('bumps resourceVersion on every write', async () => {
    const a = await store.create(testGameServer('x'));
    const b = await store.update('x', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { k: 'v' } } }));
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect(b.metadata.labels).toEqual({ k: 'v' });
  });

  it('stores nothing when the mutation throws', async () => {
    await store.create(testGameServer('x'));
    await expect(store.update('x', (gs) => transition(gs, S.Ready))).rejects.toThrow('cannot move from PortAllocation to Ready');
    expect((await store.get('x'))?.status.state).toBe(S.PortAllocation);
  });

  it('hands out records nobody can change behind its back', async () => {
    const created = await store.create(testGameServer('x'));
    expect(() => {
      (created.metadata.labels as Record<string, string>).hack = '1';
    }).toThrow(TypeError);
    expect((await store.get('x'))?.metadata.labels).toEqual({});
  });

  it('fails to update a missing record, and deleting one twice is fine', async () => {
    await expect(store.update('ghost', (gs) => gs)).rejects.toBeInstanceOf(GameServerNotFoundError);
    await store.create(testGameServer('x'));
    await store.delete('x');
    await store.delete('x');
    expect(await store.get('x')).toBeUndefined();
  });

  it('tells watchers about every change, in order, until they unsubscribe', async () => {
    const events: Array<[GameServerEvent['type'], string]> = [];
    const unwatch = store.watch((e) => events.push([e.type, e.object.status.state]));
    await store.create(testGameServer('x'));
    await store.update('x', (gs) => transition(gs, S.Creating));
    await store.delete('x');
    unwatch();
    await store.create(testGameServer('y'));
    expect(events).toEqual([
      ['added', 'PortAllocation'],
      ['modified', 'Creating'],
      ['deleted', 'Creating'],
    ]);
  });

  it('applies concurrent updates one after another, losing none', async () => {
    await store.create(testGameServer('x'));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.update('x', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, [`k${i}`]: 'v' } } }))),
    );
    expect(Object.keys((await store.get('x'))!.metadata.labels)).toHaveLength(20);
  });
});
