import { describe, expect, it } from '@jest/globals';
import { GameServerState as S, type GameServer, type GameServerState } from '../core/game-server.js';
import type { FleetPriority, FleetSpec, GameServerTemplate, IntOrPercent } from '../core/resources.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { overflowing, pickForScaleDown, planRollout, scaledValue, templateHash, type GameServerSet, type SetCounts } from './game-server-set.js';

const template: GameServerTemplate = { metadata: { labels: {}, annotations: {} }, spec: testSpec() };
const set = (name: string, generation: number, counts: SetCounts): GameServerSet & SetCounts => ({ name, fleet: 'f', templateHash: name, template, replicas: 0, generation, ...counts });
const rolling = (replicas: number, rollingUpdate: { maxSurge: IntOrPercent; maxUnavailable: IntOrPercent }): Pick<FleetSpec, 'replicas' | 'strategy'> => ({
  replicas,
  strategy: { type: 'RollingUpdate', rollingUpdate },
});

describe('templateHash', () => {
  it('ignores key order and sees every value', () => {
    const a: GameServerTemplate = { metadata: { labels: { a: '1', b: '2' }, annotations: {} }, spec: testSpec() };
    const b: GameServerTemplate = { metadata: { annotations: {}, labels: { b: '2', a: '1' } }, spec: testSpec() };
    expect(templateHash(a)).toBe(templateHash(b));
    const env = testSpec();
    env.template.spec.containers[0]!.env = [{ name: 'MAP', value: 'dust' }];
    expect(templateHash({ ...a, spec: env })).not.toBe(templateHash(a));
  });
});

describe('scaledValue', () => {
  const cases: Array<[Parameters<typeof scaledValue>[0], number, boolean, number]> = [
    [3, 10, true, 3],
    ['25%', 10, true, 3],
    ['25%', 10, false, 2],
    ['0%', 10, true, 0],
    ['100%', 7, false, 7],
    ['33%', 1, true, 1],
    ['33%', 1, false, 0],
  ];
  it.each(cases)('%s of %d (round up %s) is %d', (value, total, up, expected) => expect(scaledValue(value, total, up)).toBe(expected));
});

describe('planRollout', () => {
  const cases: Array<{ description: string; spec: Pick<FleetSpec, 'replicas' | 'strategy'>; active: SetCounts; older: SetCounts[]; expected: number[] }> = [
    { description: 'one set: the fleet replicas', spec: rolling(5, { maxSurge: '25%', maxUnavailable: '25%' }), active: { counted: 2, ready: 2, inUse: 0 }, older: [], expected: [5] },
    {
      description: 'rolling start: surge one new, drain one old (25% of 4)',
      spec: rolling(4, { maxSurge: '25%', maxUnavailable: '25%' }),
      active: { counted: 0, ready: 0, inUse: 0 },
      older: [{ counted: 4, ready: 4, inUse: 0 }],
      expected: [1, 3],
    },
    {
      description: 'rolling: new servers not yet Ready hold the old ones back',
      spec: rolling(4, { maxSurge: '25%', maxUnavailable: '25%' }),
      active: { counted: 1, ready: 0, inUse: 0 },
      older: [{ counted: 3, ready: 3, inUse: 0 }],
      expected: [2, 3],
    },
    {
      description: 'rolling: allocated old servers are kept and leave room',
      spec: rolling(4, { maxSurge: '25%', maxUnavailable: '25%' }),
      active: { counted: 2, ready: 2, inUse: 0 },
      older: [{ counted: 2, ready: 0, inUse: 2 }],
      expected: [2, 0],
    },
    {
      description: 'rolling: old servers not yet Ready may always go',
      spec: rolling(4, { maxSurge: 0, maxUnavailable: 0 }),
      active: { counted: 0, ready: 0, inUse: 0 },
      older: [{ counted: 4, ready: 2, inUse: 0 }],
      expected: [0, 2],
    },
    {
      description: 'rolling: surge 0 and unavailable 0 still lets one go at a time',
      spec: rolling(4, { maxSurge: 0, maxUnavailable: 0 }),
      active: { counted: 0, ready: 0, inUse: 0 },
      older: [{ counted: 4, ready: 4, inUse: 0 }],
      expected: [0, 3],
    },
    {
      description: 'rolling: absolute surge and unavailable',
      spec: rolling(10, { maxSurge: 3, maxUnavailable: 2 }),
      active: { counted: 0, ready: 0, inUse: 0 },
      older: [{ counted: 10, ready: 10, inUse: 0 }],
      expected: [3, 8],
    },
    {
      description: 'rolling: the oldest set drains first',
      spec: rolling(4, { maxSurge: 0, maxUnavailable: 1 }),
      active: { counted: 0, ready: 0, inUse: 0 },
      older: [
        { counted: 2, ready: 2, inUse: 0 },
        { counted: 2, ready: 2, inUse: 0 },
      ],
      expected: [0, 1, 2],
    },
    {
      description: 'recreate: older sets to 0 at once, their allocated servers leave room',
      spec: { replicas: 4, strategy: { type: 'Recreate' } },
      active: { counted: 0, ready: 0, inUse: 0 },
      older: [{ counted: 4, ready: 3, inUse: 1 }],
      expected: [3, 0],
    },
    {
      description: 'scaled to 0 mid-rollout: everything to 0',
      spec: rolling(0, { maxSurge: '25%', maxUnavailable: '25%' }),
      active: { counted: 2, ready: 2, inUse: 0 },
      older: [{ counted: 2, ready: 2, inUse: 0 }],
      expected: [0, 0],
    },
  ];
  it.each(cases)('$description', ({ spec, active, older, expected }) => {
    const plan = planRollout(spec, set('new', 9, active), older.map((c, i) => set(`old${i}`, i, c)));
    expect(plan.map((p) => p.replicas)).toEqual(expected);
    expect(plan[0]!.name).toBe('new');
  });
});

describe('pickForScaleDown', () => {
  const at = (name: string, state: GameServerState, created: string, rooms?: [number, number]): GameServer => {
    const gs = testGameServer(name);
    const counters: Record<string, { count: number; capacity: number }> = rooms ? { rooms: { count: rooms[0], capacity: rooms[1] } } : {};
    return { ...gs, metadata: { ...gs.metadata, creationTimestamp: created }, status: { ...gs.status, state, counters } };
  };
  const servers = [
    at('old-ready', S.Ready, '2026-01-01T00:00:01Z'),
    at('allocated', S.Allocated, '2026-01-01T00:00:00Z'),
    at('new-ready', S.Ready, '2026-01-01T00:00:05Z'),
    at('starting', S.Starting, '2026-01-01T00:00:00Z'),
    at('reserved', S.Reserved, '2026-01-01T00:00:00Z'),
    at('unhealthy', S.Unhealthy, '2026-01-01T00:00:00Z'),
  ];
  const names = (list: GameServer[]) => list.map((g) => g.metadata.name);

  it('never picks Allocated, Reserved or already failed servers; not-Ready first; Packed keeps the oldest', () => {
    expect(names(pickForScaleDown(servers, 10, 'Packed', []))).toEqual(['starting', 'new-ready', 'old-ready']);
    expect(names(pickForScaleDown(servers, 2, 'Packed', []))).toEqual(['starting', 'new-ready']);
    expect(pickForScaleDown(servers, 0, 'Packed', [])).toEqual([]);
  });

  it('Distributed recycles the oldest first', () => {
    expect(names(pickForScaleDown(servers, 2, 'Distributed', []))).toEqual(['starting', 'old-ready']);
  });

  it('uses priorities before age: Ascending removes the least available capacity first', () => {
    const rooms = [at('full', S.Ready, '2026-01-01T00:00:01Z', [9, 10]), at('empty', S.Ready, '2026-01-01T00:00:02Z', [0, 10]), at('half', S.Ready, '2026-01-01T00:00:03Z', [5, 10])];
    const asc: FleetPriority[] = [{ type: 'Counter', key: 'rooms', order: 'Ascending' }];
    const desc: FleetPriority[] = [{ type: 'Counter', key: 'rooms', order: 'Descending' }];
    expect(names(pickForScaleDown(rooms, 3, 'Packed', asc))).toEqual(['full', 'half', 'empty']);
    expect(names(pickForScaleDown(rooms, 3, 'Packed', desc))).toEqual(['empty', 'half', 'full']);
  });

  it('reads List priorities from the list length', () => {
    const withList = (name: string, values: string[]) => {
      const gs = at(name, S.Ready, '2026-01-01T00:00:00Z');
      return { ...gs, status: { ...gs.status, lists: { players: { capacity: 4, values } } } };
    };
    const list = [withList('two', ['a', 'b']), withList('none', []), withList('three', ['a', 'b', 'c'])];
    expect(names(pickForScaleDown(list, 1, 'Distributed', [{ type: 'List', key: 'players', order: 'Ascending' }]))).toEqual(['three']);
  });
});

describe('overflowing', () => {
  it('names the newest Allocated servers beyond the replicas', () => {
    const mk = (name: string, state: GameServerState, created: string) => {
      const gs = testGameServer(name);
      return { ...gs, metadata: { ...gs.metadata, creationTimestamp: created }, status: { ...gs.status, state } };
    };
    const list = [mk('a1', S.Allocated, '2026-01-01T00:00:01Z'), mk('r', S.Ready, '2026-01-01T00:00:00Z'), mk('a3', S.Allocated, '2026-01-01T00:00:03Z'), mk('a2', S.Allocated, '2026-01-01T00:00:02Z')];
    expect(overflowing(list, 1).map((g) => g.metadata.name)).toEqual(['a2', 'a3']);
    expect(overflowing(list, 3)).toEqual([]);
  });
});
