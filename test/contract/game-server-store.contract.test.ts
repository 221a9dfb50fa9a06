import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { parseAllocationRequest } from '../../allocator/allocation-schema.js';
import { applyAllocation } from '../../allocator/apply-allocation.js';
import { selectGameServer } from '../../allocator/select.js';
import { GameServerNotFoundError, VersionConflictError } from '../../core/errors.js';
import { GameServerState as S, transition, type GameServer, type GameServerState } from '../../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../../core/hangar-metadata.js';
import type { CounterStatus, ListStatus } from '../../core/resources.js';
import { FLEET_LABEL, type GameServerEvent, type GameServerStore } from '../../store/game-server-store.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { FOLLOWED_RECORDS_KEPT, RedisGameServerStore } from '../../store/redis-game-server-store.js';
import { testGameServer } from '../helpers/game-servers.js';
import { removeRedisKeys } from '../helpers/redis-keys.js';

// One suite over every GameServerStore implementation. Redis runs against a real server at
// 127.0.0.1:6379 (CI starts one); each test uses its own key prefix and removes its keys after.

const REDIS = { host: '127.0.0.1', port: 6379 };

interface Harness {
  store: GameServerStore;
  /** Another client of the same data, as another process would be (memory: the same store). */
  peer(): GameServerStore;
  /** Watches through `store` once its listener is sure to see every later change. */
  watchReady(store: GameServerStore, listener: (e: GameServerEvent) => void): Promise<() => void>;
  close(): Promise<void>;
}

const admin = new Redis(REDIS);
afterAll(async () => {
  await admin.quit();
});

const removeKeys = (prefix: string) => removeRedisKeys(admin, prefix);

const STORES: Array<[string, () => Harness]> = [
  [
    'memory',
    () => {
      const store = new MemoryGameServerStore();
      return { store, peer: () => store, watchReady: async (s, l) => s.watch(l), close: () => store.close() };
    },
  ],
  [
    'redis',
    () => {
      const prefix = `hangar-test:${randomUUID()}:`;
      const clients: RedisGameServerStore[] = [];
      const make = (): RedisGameServerStore => {
        const s = new RedisGameServerStore({ connection: REDIS, prefix });
        clients.push(s);
        return s;
      };
      return {
        store: make(),
        peer: make,
        watchReady: async (s, l) => {
          const unwatch = s.watch(l);
          await (s as RedisGameServerStore).subscribed();
          return unwatch;
        },
        close: async () => {
          await Promise.all(clients.map((c) => c.close()));
          await removeKeys(prefix);
        },
      };
    },
  ],
];

interface ServerOptions {
  state?: GameServerState;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  counters?: Record<string, CounterStatus>;
  lists?: Record<string, ListStatus>;
  players?: { count: number; capacity: number };
  deleting?: boolean;
}

function server(name: string, o: ServerOptions = {}): GameServer {
  const gs = testGameServer(name);
  return {
    ...gs,
    metadata: { ...gs.metadata, labels: o.labels ?? {}, annotations: o.annotations ?? {}, ...(o.deleting && { deletionTimestamp: '2026-01-01T00:00:00Z' }) },
    status: {
      ...gs.status,
      state: o.state ?? S.Ready,
      address: '127.0.0.1',
      ports: [{ name: 'default', port: 7001 }],
      counters: o.counters ?? {},
      lists: o.lists ?? {},
      players: o.players ? { ...o.players, ids: [] } : null,
    },
  };
}

const rooms = (count: number, capacity: number) => ({ counters: { rooms: { count, capacity } } });
const seats = (values: string[], capacity: number) => ({ lists: { seats: { capacity, values } } });
const NOW = '2026-03-01T12:00:00.5Z';

/** Without resourceVersion, which each store numbers its own way. */
function unversioned(gs: GameServer | undefined): unknown {
  if (!gs) return gs;
  const { resourceVersion: _, ...metadata } = gs.metadata;
  return { ...gs, metadata };
}

describe.each(STORES)('GameServerStore: %s', (_name, make) => {
  let h: Harness;
  let store: GameServerStore;
  beforeEach(() => {
    h = make();
    store = h.store;
  });
  afterEach(async () => {
    await h.close();
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
    expect((await store.list({ states: [] })).length).toBe(0);
    expect(await store.list()).toHaveLength(3);
  });

  it('keeps a record exactly as written', async () => {
    const gs = server('x', { labels: { [FLEET_LABEL]: 'a', 'a/b': 'c' }, annotations: { note: 'é "quoted" \\ / ✓', empty: '' }, ...rooms(2 ** 40, 2 ** 41), ...seats([], 0), players: { count: 0, capacity: 8 } });
    const created = await store.create(gs);
    expect(unversioned(created)).toEqual(unversioned(gs));
    expect(await store.get('x')).toEqual(created);
    expect(await store.list()).toEqual([created]);
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

  it('numbers versions across clients in one increasing sequence', async () => {
    const other = h.peer();
    const versions: number[] = [];
    await store.create(testGameServer('x'));
    for (let i = 0; i < 6; i++) {
      const client = i % 2 ? other : store;
      const gs = await client.update('x', (g) => ({ ...g, metadata: { ...g.metadata, labels: { i: String(i) } } }));
      versions.push(Number(gs.metadata.resourceVersion));
    }
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
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

  it('hands out allocated records, and records of writes that left their metadata alone, frozen throughout', async () => {
    const frozenThroughout = (value: unknown): boolean =>
      value === null || typeof value !== 'object' || (Object.isFrozen(value) && Object.values(value).every(frozenThroughout));
    await store.create(server('a', { labels: { game: 'arena' }, ...seats([], 4) }));
    const allocated = await store.allocate(parseAllocationRequest({ metadata: { labels: { mode: 'duel' }, annotations: { match: 'm1' } }, lists: { seats: { addValues: ['p', 'q'] } } }), { now: NOW });
    expect(allocated?.status.lists.seats?.values).toEqual(['p', 'q']);
    expect(frozenThroughout(allocated)).toBe(true);
    // A status-only write (a game server reporting its address): the metadata is the stored one.
    const moved = await store.update('a', (gs) => ({ ...gs, status: { ...gs.status, address: '10.0.0.9' } }));
    expect(frozenThroughout(moved)).toBe(true);
    expect(moved.metadata).toEqual({ ...allocated!.metadata, resourceVersion: moved.metadata.resourceVersion });
    expect(Number(moved.metadata.resourceVersion)).toBeGreaterThan(Number(allocated!.metadata.resourceVersion));
    expect(allocated!.metadata.resourceVersion).not.toBe(moved.metadata.resourceVersion);
  });

  it('keeps a label named __proto__ as a label, in a plain object', async () => {
    await store.create(testGameServer('x'));
    const labels = JSON.parse('{"__proto__": "v", "a": "b"}') as Record<string, string>;
    const written = await store.update('x', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels } }));
    for (const gs of [written, (await store.get('x'))!]) {
      expect(Object.getPrototypeOf(gs.metadata.labels)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(gs.metadata.labels, '__proto__')?.value).toBe('v');
      expect(Object.keys(gs.metadata.labels)).toEqual(['__proto__', 'a']);
    }
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

  it('gives every watcher the changes in order, even those a watcher makes from inside its callback', async () => {
    const first: string[] = [];
    const second: string[] = [];
    // The first watcher reacts to Creating by moving on to Starting, as the runtime does with RequestReady.
    const unwatchA = store.watch((e) => {
      first.push(e.object.status.state);
      if (e.type === 'modified' && e.object.status.state === S.Creating) void store.update('x', (gs) => transition(gs, S.Starting));
    });
    const unwatchB = store.watch((e) => second.push(e.object.status.state));
    await store.create(testGameServer('x'));
    await store.update('x', (gs) => transition(gs, S.Creating));
    await waitUntil(async () => (await store.get('x'))!.status.state === S.Starting && second.length === 3);
    unwatchA();
    unwatchB();
    expect(first).toEqual([S.PortAllocation, S.Creating, S.Starting]);
    expect(second).toEqual([S.PortAllocation, S.Creating, S.Starting]);
  });

  it('applies concurrent updates one after another, losing none', async () => {
    await store.create(testGameServer('x'));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.update('x', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, [`k${i}`]: 'v' } } }))),
    );
    expect(Object.keys((await store.get('x'))!.metadata.labels)).toHaveLength(20);
  });

  it('applies concurrent updates from several clients, losing none', async () => {
    await store.create(testGameServer('x'));
    const clients = [store, h.peer(), h.peer()];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => clients[i % 3]!.update('x', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, [`k${i}`]: 'v' } } }))),
    );
    expect(Object.keys((await store.get('x'))!.metadata.labels)).toHaveLength(30);
  });

  it('updates the current record from a client that watches, however recently another client changed it', async () => {
    const watcher = h.peer();
    const unwatch = await h.watchReady(watcher, () => {});
    await watcher.create(testGameServer('x'));
    const label = (k: string) => (gs: GameServer) => ({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, [k]: 'v' } } });
    for (let i = 0; i < 10; i++) {
      await store.update('x', label(`other${i}`));
      await watcher.update('x', label(`own${i}`));
    }
    unwatch();
    expect(Object.keys((await store.get('x'))!.metadata.labels)).toHaveLength(20);
  });

  it("shows every client's changes to watchers of another, in order", async () => {
    const other = h.peer();
    const seen: Array<[string, string, string]> = [];
    const unwatch = await h.watchReady(other, (e) => seen.push([e.type, e.object.metadata.name, e.object.status.state]));
    await store.create(server('a'));
    await store.create(server('b', { state: S.Scheduled }));
    await store.update('b', (gs) => transition(gs, S.RequestReady));
    await store.allocate(parseAllocationRequest({}), { now: NOW });
    await store.delete('b');
    await until(() => seen.length >= 5);
    unwatch();
    expect(seen).toEqual([
      ['added', 'a', 'Ready'],
      ['added', 'b', 'Scheduled'],
      ['modified', 'b', 'RequestReady'],
      ['modified', 'a', 'Allocated'],
      ['deleted', 'b', 'RequestReady'],
    ]);
  });

  describe('allocate', () => {
    interface Case {
      description: string;
      servers: Array<[string, ServerOptions]>;
      /** A GameServerAllocation, as a matchmaker sends it. */
      request: unknown;
      random?: number;
      expected: string | undefined;
    }
    const FLEET = (name: string) => ({ [FLEET_LABEL]: name });
    const cases: Case[] = [
      { description: 'nothing Ready: no allocation', servers: [['a', { state: S.Allocated }], ['b', { state: S.Scheduled }], ['c', { state: S.Reserved }], ['d', { state: S.Unhealthy }]], request: {}, expected: undefined },
      { description: 'Packed without priorities: the first name', servers: [['c', {}], ['a', {}], ['b', {}]], request: {}, expected: 'a' },
      { description: 'names in byte order (a hyphen before letters)', servers: [['ab', {}], ['a-c', {}]], request: {}, expected: 'a-c' },
      { description: 'a server being deleted is never allocated', servers: [['a', { deleting: true }], ['b', {}]], request: {}, expected: 'b' },
      {
        description: 'matchLabels on the fleet',
        servers: [['a', { labels: FLEET('blue') }], ['b', { labels: FLEET('green') }], ['c', { labels: FLEET('green') }]],
        request: { selectors: [{ matchLabels: FLEET('green') }] },
        expected: 'b',
      },
      {
        description: 'matchLabels: every pair must hold',
        servers: [['a', { labels: { ...FLEET('green'), mode: 'casual' } }], ['b', { labels: { ...FLEET('green'), mode: 'ranked' } }]],
        request: { selectors: [{ matchLabels: { ...FLEET('green'), mode: 'ranked' } }] },
        expected: 'b',
      },
      {
        description: 'the first selector with a match decides',
        servers: [['a', { labels: FLEET('blue') }], ['z', { labels: FLEET('green') }]],
        request: { selectors: [{ matchLabels: FLEET('green') }, { matchLabels: FLEET('blue') }] },
        expected: 'z',
      },
      {
        description: 'deprecated preferred, then required',
        servers: [['a', { labels: FLEET('blue') }], ['b', { labels: FLEET('red') }]],
        request: { required: { matchLabels: FLEET('red') }, preferred: [{ matchLabels: FLEET('green') }] },
        expected: 'b',
      },
      { description: 'In', servers: [['a', { labels: { map: 'x' } }], ['b', { labels: { map: 'y' } }]], request: { selectors: [{ matchExpressions: [{ key: 'map', operator: 'In', values: ['y', 'z'] }] }] }, expected: 'b' },
      { description: 'NotIn (a missing label passes)', servers: [['a', { labels: { map: 'x' } }], ['b', {}]], request: { selectors: [{ matchExpressions: [{ key: 'map', operator: 'NotIn', values: ['x'] }] }] }, expected: 'b' },
      { description: 'Exists', servers: [['a', {}], ['b', { labels: { vip: '' } }]], request: { selectors: [{ matchExpressions: [{ key: 'vip', operator: 'Exists' }] }] }, expected: 'b' },
      { description: 'DoesNotExist', servers: [['a', { labels: { vip: '1' } }], ['b', {}]], request: { selectors: [{ matchExpressions: [{ key: 'vip', operator: 'DoesNotExist' }] }] }, expected: 'b' },
      {
        description: 'players filter; untracked servers pass it',
        servers: [['a', { players: { count: 9, capacity: 10 } }], ['b', { players: { count: 4, capacity: 10 } }], ['c', {}]],
        request: { selectors: [{ players: { minAvailable: 3, maxAvailable: 8 } }] },
        expected: 'b',
      },
      {
        description: 'players filter with maxAvailable 0 filters nothing',
        servers: [['a', { players: { count: 10, capacity: 10 } }]],
        request: { selectors: [{ players: { minAvailable: 0, maxAvailable: 0 } }] },
        expected: 'a',
      },
      {
        description: 'Packed: least room for players first, untracked last',
        servers: [['a', {}], ['b', { players: { count: 2, capacity: 10 } }], ['c', { players: { count: 7, capacity: 10 } }]],
        request: {},
        expected: 'c',
      },
      {
        description: 'Counter filter: count and available bounds, 0 = no upper bound',
        servers: [['a', rooms(0, 10)], ['b', rooms(3, 4)], ['c', rooms(3, 10)], ['d', { counters: { seats: { count: 3, capacity: 10 } } }]],
        request: { selectors: [{ counters: { rooms: { minCount: 1, minAvailable: 2 } } }] },
        expected: 'c',
      },
      { description: 'Counter filter: maxCount', servers: [['a', rooms(5, 10)], ['b', rooms(2, 10)]], request: { selectors: [{ counters: { rooms: { maxCount: 3 } } }] }, expected: 'b' },
      { description: 'Counter filter: maxAvailable', servers: [['a', rooms(0, 10)], ['b', rooms(8, 10)]], request: { selectors: [{ counters: { rooms: { maxAvailable: 3 } } }] }, expected: 'b' },
      {
        description: 'List filter: containsValue and available',
        servers: [['a', seats(['p1'], 1)], ['b', seats(['p2'], 4)], ['c', seats(['p1', 'p3'], 4)]],
        request: { selectors: [{ lists: { seats: { containsValue: 'p1', minAvailable: 1 } } }] },
        expected: 'c',
      },
      { description: 'List filter: maxAvailable, and a missing List', servers: [['a', {}], ['b', seats([], 4)], ['c', seats(['x', 'y', 'z'], 4)]], request: { selectors: [{ lists: { seats: { maxAvailable: 2 } } }] }, expected: 'c' },
      { description: 'priority Counter Ascending', servers: [['a', rooms(1, 10)], ['b', rooms(8, 10)], ['c', {}]], request: { priorities: [{ type: 'Counter', key: 'rooms' }] }, expected: 'b' },
      { description: 'priority Counter Descending, missing last', servers: [['a', {}], ['b', rooms(8, 10)], ['c', rooms(1, 10)]], request: { priorities: [{ type: 'Counter', key: 'rooms', order: 'Descending' }] }, expected: 'c' },
      { description: 'priority List', servers: [['a', seats(['1'], 4)], ['b', seats(['1', '2', '3'], 4)]], request: { priorities: [{ type: 'List', key: 'seats', order: 'Ascending' }] }, expected: 'b' },
      {
        description: 'priority ties go to the next priority, then to the name',
        servers: [['d', { ...rooms(2, 5), ...seats(['1'], 4) }], ['c', { ...rooms(2, 5), ...seats(['1'], 4) }], ['b', { ...rooms(2, 5), ...seats(['1', '2'], 4) }], ['a', rooms(0, 5)]],
        request: { priorities: [{ type: 'Counter', key: 'rooms' }, { type: 'List', key: 'seats', order: 'Descending' }] },
        expected: 'c',
      },
      {
        description: 'Packed: room for players before priorities',
        servers: [['a', { ...rooms(4, 5), players: { count: 1, capacity: 10 } }], ['b', { ...rooms(0, 5), players: { count: 9, capacity: 10 } }]],
        request: { priorities: [{ type: 'Counter', key: 'rooms' }] },
        expected: 'b',
      },
      {
        description: 'Distributed with priorities: priorities, then the name in byte order',
        servers: [['ab', { ...rooms(4, 5), players: { count: 1, capacity: 10 } }], ['a-c', { ...rooms(4, 5), players: { count: 9, capacity: 10 } }], ['b', rooms(0, 5)]],
        request: { scheduling: 'Distributed', priorities: [{ type: 'Counter', key: 'rooms' }] },
        expected: 'a-c',
      },
      { description: 'Distributed: random 0', servers: [['c', {}], ['a', {}], ['b', {}]], request: { scheduling: 'Distributed' }, random: 0, expected: 'a' },
      { description: 'Distributed: random 0.5', servers: [['c', {}], ['a', {}], ['b', {}]], request: { scheduling: 'Distributed' }, random: 0.5, expected: 'b' },
      { description: 'Distributed: random 0.99', servers: [['c', {}], ['a', {}], ['b', {}]], request: { scheduling: 'Distributed' }, random: 0.99, expected: 'c' },
      {
        description: 'Distributed: drawn from the matches, in packed order',
        servers: [['a', { labels: FLEET('blue'), players: { count: 0, capacity: 4 } }], ['b', { labels: FLEET('blue'), players: { count: 3, capacity: 4 } }], ['c', { labels: FLEET('red') }], ['d', { labels: FLEET('blue') }]],
        request: { scheduling: 'Distributed', selectors: [{ matchLabels: FLEET('blue') }] },
        random: 0.4,
        expected: 'a',
      },
      {
        description: 'backfill: an Allocated server with room, before any Ready one',
        servers: [['a', seats([], 4)], ['b', { state: S.Allocated, ...seats(['1', '2', '3', '4'], 4) }], ['c', { state: S.Allocated, ...seats(['1'], 4) }]],
        request: { selectors: [{ gameServerState: 'Allocated', lists: { seats: { minAvailable: 1 } } }, {}], lists: { seats: { addValues: ['p9'] } } },
        expected: 'c',
      },
      {
        description: 'metadata, the time stamp and every action',
        servers: [['a', { labels: { ...FLEET('green'), mode: 'casual' }, annotations: { keep: 'me' }, counters: { rooms: { count: 4, capacity: 5 }, down: { count: 1, capacity: 9 }, cap: { count: 7, capacity: 9 } }, lists: { seats: { capacity: 3, values: ['x', 'y'] }, gone: { capacity: 5, values: ['a', 'b', 'c'] }, cut: { capacity: 5, values: ['a', 'b', 'c'] } } }]],
        request: {
          metadata: { labels: { mode: 'ranked' }, annotations: { 'hangar.dev/match-id': 'm-1', 'hangar.dev/note': 'é "q" \\ /' } },
          counters: { rooms: { action: 'Increment', amount: 3 }, down: { action: 'Decrement', amount: 5 }, cap: { capacity: 3 }, missing: { action: 'Increment', amount: 1 } },
          lists: { seats: { addValues: ['y', 'z', 'w'] }, gone: { deleteValues: ['b', 'nope'] }, cut: { capacity: 1 }, missing: { addValues: ['a'] } },
        },
        expected: 'a',
      },
      {
        description: 'a List emptied by the allocation stays a list',
        servers: [['a', seats(['x'], 3)]],
        request: { lists: { seats: { deleteValues: ['x'] } } },
        expected: 'a',
      },
      {
        description: 'a metadata label may move the server to another fleet',
        servers: [['a', { labels: FLEET('green') }]],
        request: { metadata: { labels: FLEET('blue') } },
        expected: 'a',
      },
    ];

    for (const c of cases) {
      it(c.description, async () => {
        for (const [name, o] of c.servers) await store.create(server(name, o));
        const before = await store.list();
        const spec = parseAllocationRequest(c.request);
        const random = () => c.random ?? 0;
        const got = await store.allocate(spec, { now: NOW, random });
        expect(got?.metadata.name).toBe(c.expected);
        // Exactly what the pure policy says, field for field.
        const selected = selectGameServer(spec, before, random);
        expect(unversioned(got)).toEqual(unversioned(selected && applyAllocation(selected.gameServer, spec, NOW)));
        if (!got) {
          expect(await store.list()).toEqual(before);
          return;
        }
        expect(await store.get(got.metadata.name)).toEqual(got);
        expect(got.metadata.annotations[LAST_ALLOCATED_ANNOTATION]).toBe(NOW);
        expect(Number(got.metadata.resourceVersion)).toBeGreaterThan(Math.max(...before.map((g) => Number(g.metadata.resourceVersion))));
        // The indexes moved with it: listed under its (new) fleet and state.
        const fleet = got.metadata.labels[FLEET_LABEL];
        if (fleet) expect((await store.list({ fleet, states: [S.Allocated] })).map((g) => g.metadata.name)).toContain(got.metadata.name);
      });
    }

    it('never hands a Ready server out twice, and backfills keep the server Allocated', async () => {
      await store.create(server('a', seats([], 2)));
      const spec = parseAllocationRequest({});
      expect((await store.allocate(spec, { now: NOW }))?.metadata.name).toBe('a');
      expect(await store.allocate(spec, { now: NOW })).toBeUndefined();
      const backfill = parseAllocationRequest({ selectors: [{ gameServerState: 'Allocated', lists: { seats: { minAvailable: 1 } } }], lists: { seats: { addValues: ['p'] } } });
      const first = await store.allocate(backfill, { now: '2026-03-01T12:00:01Z' });
      const second = await store.allocate(parseAllocationRequest({ selectors: [{ gameServerState: 'Allocated', lists: { seats: { minAvailable: 1 } } }], lists: { seats: { addValues: ['q'] } } }), { now: '2026-03-01T12:00:02Z' });
      expect(first?.status.lists.seats?.values).toEqual(['p']);
      expect(second?.status).toMatchObject({ state: 'Allocated', lists: { seats: { capacity: 2, values: ['p', 'q'] } } });
      expect(second?.metadata.annotations[LAST_ALLOCATED_ANNOTATION]).toBe('2026-03-01T12:00:02Z');
      expect(await store.allocate(backfill, { now: NOW })).toBeUndefined();
    });

    it('selects by labels and Lists as they are now, however many label keys selectors have asked about', async () => {
      await store.create(server('a', { labels: { k: '1' }, ...seats(['x'], 1) }));
      await store.create(server('b', { labels: { k: '2' }, ...seats([], 1) }));
      const byLabel = (labels: Record<string, string>) => parseAllocationRequest({ selectors: [{ matchLabels: labels }] });
      const withSeat = parseAllocationRequest({ selectors: [{ lists: { seats: { minAvailable: 1 } } }] });
      expect((await store.allocate(withSeat, { now: NOW }))?.metadata.name).toBe('b');
      expect(await store.allocate(byLabel({ k: '2' }), { now: NOW })).toBeUndefined();
      // Changed after selectors first asked about them: a's label, and room in its List.
      await store.update('a', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { k: '2' } } }));
      await store.update('a', (gs) => ({ ...gs, status: { ...gs.status, lists: { seats: { capacity: 2, values: ['x'] } } } }));
      expect((await store.allocate(byLabel({ k: '1' }), { now: NOW }))?.metadata.name).toBeUndefined();
      expect((await store.allocate(withSeat, { now: NOW }))?.metadata.name).toBe('a');
      // Seventy label keys asked about, more than any index needs to hold.
      const keys = Array.from({ length: 70 }, (_, i) => `key-${i}`);
      await store.create(server('c', { labels: Object.fromEntries(keys.map((k) => [k, 'v'])) }));
      for (const k of keys) expect(await store.allocate(byLabel({ [k]: 'w' }), { now: NOW })).toBeUndefined();
      expect((await store.allocate(byLabel({ [keys[69]!]: 'v', [keys[0]!]: 'v' }), { now: NOW }))?.metadata.name).toBe('c');
    });

    it('allocates the latest version of a server whose writes kept its place in every index, and drops it from a label it no longer has', async () => {
      await store.create(server('a', { state: S.Allocated, labels: { mode: 'duel' }, ...seats([], 4) }));
      await store.create(server('b', { state: S.Allocated, labels: { mode: 'duel' }, ...seats([], 4) }));
      const backfill = parseAllocationRequest({ selectors: [{ gameServerState: 'Allocated', matchLabels: { mode: 'duel' }, lists: { seats: { minAvailable: 1 } } }] });
      expect((await store.allocate(backfill, { now: NOW }))?.metadata.name).toBe('a');
      // Neither write moves it: the same state, labels and room.
      await store.update('a', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, note: 'v2' } } }));
      await store.update('a', (gs) => ({ ...gs, status: { ...gs.status, lists: { seats: { capacity: 4, values: ['x'] } } } }));
      const again = await store.allocate(backfill, { now: NOW });
      expect(again?.metadata.name).toBe('a');
      expect(again?.metadata.annotations.note).toBe('v2');
      expect(again?.status.lists.seats?.values).toEqual(['x']);
      await store.update('a', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { mode: 'ffa' } } }));
      expect((await store.allocate(backfill, { now: NOW }))?.metadata.name).toBe('b');
    });

    it('selects on a label key first asked about after its servers exist, from another client, and keeps that key up to date for every client', async () => {
      const mode = (m: string) => ({ mode: m });
      await store.create(server('a', { labels: mode('duel') }));
      await store.create(server('b', { labels: mode('ffa') }));
      await store.create(server('c', { labels: mode('ffa'), deleting: true }));
      await store.create(server('d', { state: S.Allocated, labels: mode('ffa'), ...seats([], 4) }));
      await store.create(server('e', { state: S.Allocated, labels: mode('duel'), ...seats([], 4) }));
      await store.create(server('g', { labels: mode('ffa') }));
      for (const name of ['h', 'i', 'j']) await store.create(server(name, { labels: mode('ctf') }));
      const ready = (m: string) => parseAllocationRequest({ selectors: [{ matchLabels: mode(m) }] });
      const backfill = (m: string) => parseAllocationRequest({ selectors: [{ gameServerState: 'Allocated', matchLabels: mode(m), lists: { seats: { minAvailable: 1 } } }] });
      const other = h.peer();
      expect((await other.allocate(ready('ffa'), { now: NOW }))?.metadata.name).toBe('b');
      expect((await other.allocate(backfill('duel'), { now: NOW }))?.metadata.name).toBe('e');
      // Changed through the first client once the key is indexed, then selected through a client started after (a restart).
      expect((await store.allocate(parseAllocationRequest({}), { now: NOW }))?.metadata.name).toBe('a');
      await store.update('g', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: mode('duel') } }));
      await store.create(server('f', { labels: mode('ffa') }));
      const later = h.peer();
      expect((await later.allocate(ready('duel'), { now: NOW }))?.metadata.name).toBe('g');
      expect((await later.allocate(ready('ffa'), { now: NOW }))?.metadata.name).toBe('f');
      expect(await later.allocate(ready('ffa'), { now: NOW })).toBeUndefined();
      expect((await store.allocate(backfill('ffa'), { now: NOW }))?.metadata.name).toBe('d');
    });

    it('follows changes: a server made Ready again is allocatable, one deleted or marked for deletion is not', async () => {
      await store.create(server('a'));
      await store.create(server('b'));
      const spec = parseAllocationRequest({});
      expect((await store.allocate(spec, { now: NOW }))?.metadata.name).toBe('a');
      await store.update('a', (gs) => transition(transition(gs, S.RequestReady), S.Ready));
      await store.update('b', (gs) => ({ ...gs, metadata: { ...gs.metadata, deletionTimestamp: NOW } }));
      expect((await store.allocate(spec, { now: NOW }))?.metadata.name).toBe('a');
      await store.create(server('c'));
      await store.delete('c');
      expect(await store.allocate(spec, { now: NOW })).toBeUndefined();
    });

    it('players room changes move a server in the packed order', async () => {
      await store.create(server('a', { players: { count: 0, capacity: 10 } }));
      await store.create(server('b', { players: { count: 0, capacity: 10 } }));
      await store.update('b', (gs) => ({ ...gs, status: { ...gs.status, players: { count: 5, capacity: 10, ids: [] } } }));
      expect((await store.allocate(parseAllocationRequest({}), { now: NOW }))?.metadata.name).toBe('b');
    });

    it('a write that changes neither state, labels nor room (an annotation) keeps the server where it was', async () => {
      await store.create(server('a', { labels: { k: '1' }, players: { count: 0, capacity: 10 } }));
      await store.create(server('b', { labels: { k: '1' }, players: { count: 4, capacity: 10 } }));
      await store.update('a', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, note: 'x' } } }));
      await store.update('b', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, note: 'y' } } }));
      const byLabel = parseAllocationRequest({ selectors: [{ matchLabels: { k: '1' } }] });
      expect((await store.allocate(byLabel, { now: NOW }))?.metadata.name).toBe('b');
      expect((await store.allocate(byLabel, { now: NOW }))?.metadata.name).toBe('a');
      expect(await store.allocate(byLabel, { now: NOW })).toBeUndefined();
    });

    it('gives N concurrent allocations from several clients min(N, M) distinct servers of M', async () => {
      const M = 30;
      const N = 50;
      for (let i = 0; i < M; i++) await store.create(server(`gs-${String(i).padStart(2, '0')}`, { labels: FLEET('arena') }));
      const clients = [store, h.peer(), h.peer(), h.peer()];
      const spec = parseAllocationRequest({ selectors: [{ matchLabels: FLEET('arena') }] });
      const results = await Promise.all(Array.from({ length: N }, (_, i) => clients[i % clients.length]!.allocate(spec, { now: NOW })));
      const names = results.flatMap((r) => (r ? [r.metadata.name] : []));
      expect(names).toHaveLength(Math.min(N, M));
      expect(new Set(names).size).toBe(names.length);
      expect(await store.list({ states: [S.Ready] })).toEqual([]);
    });

    it('gives concurrent Distributed allocations distinct servers too', async () => {
      for (let i = 0; i < 20; i++) await store.create(server(`gs-${i}`));
      const clients = [store, h.peer()];
      const spec = parseAllocationRequest({ scheduling: 'Distributed' });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => clients[i % 2]!.allocate(spec, { now: NOW })));
      expect(new Set(results.map((r) => r?.metadata.name)).size).toBe(20);
    });
  });
});

// What only the Redis store's layout shows (store/redis-lua.ts): the costs the sorted sets and the
// stored JSON put on Redis's single thread.
describe('RedisGameServerStore layout', () => {
  let prefix: string;
  let store: RedisGameServerStore;
  beforeEach(() => {
    prefix = `hangar-test:${randomUUID()}:`;
    store = new RedisGameServerStore({ connection: REDIS, prefix });
  });
  afterEach(async () => {
    await store.close();
    await removeKeys(prefix);
  });
  const labelSets = async () => (await admin.keys(`${prefix}label:*`)).map((k) => k.slice(prefix.length)).sort();

  it('keeps sorted sets only for the label keys selectors have asked about', async () => {
    await store.create(server('a', { labels: { [FLEET_LABEL]: 'green', game: 'arena' } }));
    await store.create(server('b', { state: S.Allocated, labels: { [FLEET_LABEL]: 'blue', game: 'arena' } }));
    expect(await labelSets()).toEqual([]);
    await store.allocate(parseAllocationRequest({ selectors: [{ matchLabels: { [FLEET_LABEL]: 'green' } }] }), { now: NOW });
    expect(await labelSets()).toEqual([`label:Allocated:${FLEET_LABEL}=blue`, `label:Allocated:${FLEET_LABEL}=green`]);
    await store.update('b', (gs) => ({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, mode: 'duel' } } }));
    await store.create(server('c', { labels: { [FLEET_LABEL]: 'red', game: 'arena' } }));
    expect(await labelSets()).toEqual([`label:Allocated:${FLEET_LABEL}=blue`, `label:Allocated:${FLEET_LABEL}=green`, `label:Ready:${FLEET_LABEL}=red`]);
  });

  /** How many times the store read server `name` from Redis to update it to Allocated. */
  async function readsToAllocate(name: string): Promise<number> {
    const reads = jest.spyOn((store as unknown as { redis: Redis }).redis, 'hmget');
    try {
      await store.update(name, (gs) => transition(gs, S.Allocated));
      return reads.mock.calls.length;
    } finally {
      reads.mockRestore();
    }
  }

  it('updates a server a listener follows from its last event, without reading it first', async () => {
    const unwatch = store.watch(() => {}, { only: (name) => name === 'a' });
    await store.subscribed();
    await store.create(server('a'));
    await store.create(server('b'));
    try {
      expect(await readsToAllocate('a')).toBe(0);
      expect(await readsToAllocate('b')).toBe(1);
    } finally {
      unwatch();
    }
  });

  it('keeps the records of only the latest FOLLOWED_RECORDS_KEPT changed servers for updates', async () => {
    const unwatch = store.watch(() => {});
    await store.subscribed();
    for (let i = 0; i <= FOLLOWED_RECORDS_KEPT; i += 256) {
      await Promise.all(Array.from({ length: Math.min(256, FOLLOWED_RECORDS_KEPT + 1 - i) }, (_, j) => store.create(server(`s${i + j}`))));
    }
    try {
      expect(await readsToAllocate(`s${FOLLOWED_RECORDS_KEPT}`)).toBe(0);
      expect(await readsToAllocate('s0')).toBe(1);
    } finally {
      unwatch();
    }
  });

  it('stores the labels an allocation sets as JSON.stringify writes them, so the write that sends them back unchanged compares equal', async () => {
    await store.create(server('a', { labels: { [FLEET_LABEL]: 'green', 'x/y': 'a/b "c" \\/ é' } }));
    const got = await store.allocate(parseAllocationRequest({ metadata: { labels: { 'hangar.dev/queue': 'ranked' } } }), { now: NOW });
    const stored = (await admin.hget(`${prefix}gs:a`, 'labels'))!;
    expect(stored).toBe(JSON.stringify(got!.metadata.labels));
    expect(JSON.parse(stored)).toEqual({ [FLEET_LABEL]: 'green', 'x/y': 'a/b "c" \\/ é', 'hangar.dev/queue': 'ranked' });
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met within 2 s');
}
