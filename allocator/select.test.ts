import { describe, expect, it } from '@jest/globals';
import type { GameServer, GameServerState } from '../core/game-server.js';
import type { CounterStatus, FleetPriority, ListStatus } from '../core/resources.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import type { GameServerAllocationSpec, GameServerSelector } from './allocation.js';
import { comparePacked, matchesSelector, packedBefore, selectGameServer } from './select.js';

// After Agones' TestGameServerSelectorMatches (gameserverallocation_test.go), TestFindGameServerForAllocation
// (find_test.go) and TestListSortedGameServers* (allocation_cache_test.go).

interface ServerOptions {
  state?: GameServerState;
  labels?: Record<string, string>;
  counters?: Record<string, CounterStatus>;
  lists?: Record<string, ListStatus>;
  players?: { count: number; capacity: number };
  deleting?: boolean;
}

function server(name: string, o: ServerOptions = {}): GameServer {
  const gs = testGameServer(name);
  return {
    ...gs,
    metadata: { ...gs.metadata, labels: o.labels ?? {}, ...(o.deleting && { deletionTimestamp: '2026-01-01T00:00:00Z' }) },
    status: { ...gs.status, state: o.state ?? 'Ready', counters: o.counters ?? {}, lists: o.lists ?? {}, players: o.players ? { ...o.players, ids: [] } : null },
  };
}

function selector(o: Partial<GameServerSelector> = {}): GameServerSelector {
  return { matchLabels: {}, matchExpressions: [], gameServerState: 'Ready', counters: {}, lists: {}, ...o };
}

const counter = (o: Partial<GameServerSelector['counters'][string]>) => ({ minCount: 0, maxCount: 0, minAvailable: 0, maxAvailable: 0, ...o });
const list = (o: Partial<GameServerSelector['lists'][string]>) => ({ containsValue: '', minAvailable: 0, maxAvailable: 0, ...o });

describe('matchesSelector', () => {
  const cases: Array<{ description: string; selector: GameServerSelector; server: ServerOptions; matches: boolean }> = [
    { description: 'an empty selector matches a Ready server', selector: selector(), server: {}, matches: true },
    { description: 'state must be the selector’s (Ready by default)', selector: selector(), server: { state: 'Allocated' }, matches: false },
    { description: 'an Allocated selector matches an Allocated server (backfill)', selector: selector({ gameServerState: 'Allocated' }), server: { state: 'Allocated' }, matches: true },
    { description: 'an Allocated selector skips Ready servers', selector: selector({ gameServerState: 'Allocated' }), server: {}, matches: false },
    { description: 'other states never match', selector: selector(), server: { state: 'Reserved' }, matches: false },
    { description: 'a server being deleted never matches', selector: selector(), server: { deleting: true }, matches: false },
    { description: 'matchLabels: equal value', selector: selector({ matchLabels: { mode: 'ranked' } }), server: { labels: { mode: 'ranked', map: 'x' } }, matches: true },
    { description: 'matchLabels: other value', selector: selector({ matchLabels: { mode: 'ranked' } }), server: { labels: { mode: 'casual' } }, matches: false },
    { description: 'matchLabels: missing label', selector: selector({ matchLabels: { mode: 'ranked' } }), server: {}, matches: false },
    { description: 'matchLabels: an empty value needs the label present', selector: selector({ matchLabels: { mode: '' } }), server: {}, matches: false },
    { description: 'matchLabels: every pair must hold', selector: selector({ matchLabels: { mode: 'ranked', map: 'a' } }), server: { labels: { mode: 'ranked', map: 'b' } }, matches: false },
    { description: 'In: value in the set', selector: selector({ matchExpressions: [{ key: 'map', operator: 'In', values: ['a', 'b'] }] }), server: { labels: { map: 'b' } }, matches: true },
    { description: 'In: value outside the set', selector: selector({ matchExpressions: [{ key: 'map', operator: 'In', values: ['a', 'b'] }] }), server: { labels: { map: 'c' } }, matches: false },
    { description: 'In: label missing', selector: selector({ matchExpressions: [{ key: 'map', operator: 'In', values: ['a'] }] }), server: {}, matches: false },
    { description: 'NotIn: value outside the set', selector: selector({ matchExpressions: [{ key: 'map', operator: 'NotIn', values: ['a'] }] }), server: { labels: { map: 'b' } }, matches: true },
    { description: 'NotIn: value in the set', selector: selector({ matchExpressions: [{ key: 'map', operator: 'NotIn', values: ['a'] }] }), server: { labels: { map: 'a' } }, matches: false },
    { description: 'NotIn: a missing label matches', selector: selector({ matchExpressions: [{ key: 'map', operator: 'NotIn', values: ['a'] }] }), server: {}, matches: true },
    { description: 'Exists: present, even empty', selector: selector({ matchExpressions: [{ key: 'vip', operator: 'Exists', values: [] }] }), server: { labels: { vip: '' } }, matches: true },
    { description: 'Exists: missing', selector: selector({ matchExpressions: [{ key: 'vip', operator: 'Exists', values: [] }] }), server: {}, matches: false },
    { description: 'DoesNotExist: missing', selector: selector({ matchExpressions: [{ key: 'vip', operator: 'DoesNotExist', values: [] }] }), server: {}, matches: true },
    { description: 'DoesNotExist: present', selector: selector({ matchExpressions: [{ key: 'vip', operator: 'DoesNotExist', values: [] }] }), server: { labels: { vip: 'x' } }, matches: false },
    { description: 'a label named like an Object method is just a label', selector: selector({ matchExpressions: [{ key: 'constructor', operator: 'Exists', values: [] }] }), server: {}, matches: false },
    { description: 'players: room within bounds', selector: selector({ players: { minAvailable: 2, maxAvailable: 5 } }), server: { players: { count: 6, capacity: 10 } }, matches: true },
    { description: 'players: too little room', selector: selector({ players: { minAvailable: 5, maxAvailable: 8 } }), server: { players: { count: 6, capacity: 10 } }, matches: false },
    { description: 'players: too much room', selector: selector({ players: { minAvailable: 0, maxAvailable: 3 } }), server: { players: { count: 6, capacity: 10 } }, matches: false },
    { description: 'players: maxAvailable 0 filters nothing', selector: selector({ players: { minAvailable: 0, maxAvailable: 0 } }), server: { players: { count: 10, capacity: 10 } }, matches: true },
    { description: 'players: a server without player tracking passes', selector: selector({ players: { minAvailable: 1, maxAvailable: 5 } }), server: {}, matches: true },
    { description: 'counters: within count and available bounds', selector: selector({ counters: { rooms: counter({ minCount: 1, maxCount: 5, minAvailable: 1, maxAvailable: 10 }) } }), server: { counters: { rooms: { count: 2, capacity: 5 } } }, matches: true },
    { description: 'counters: count below minCount', selector: selector({ counters: { rooms: counter({ minCount: 3 }) } }), server: { counters: { rooms: { count: 2, capacity: 5 } } }, matches: false },
    { description: 'counters: count above maxCount', selector: selector({ counters: { rooms: counter({ maxCount: 1 }) } }), server: { counters: { rooms: { count: 2, capacity: 5 } } }, matches: false },
    { description: 'counters: maxCount 0 is no upper bound', selector: selector({ counters: { rooms: counter({ minCount: 1 }) } }), server: { counters: { rooms: { count: 900, capacity: 1000 } } }, matches: true },
    { description: 'counters: too little available', selector: selector({ counters: { rooms: counter({ minAvailable: 4 }) } }), server: { counters: { rooms: { count: 2, capacity: 5 } } }, matches: false },
    { description: 'counters: too much available', selector: selector({ counters: { rooms: counter({ maxAvailable: 2 }) } }), server: { counters: { rooms: { count: 2, capacity: 5 } } }, matches: false },
    { description: 'counters: a server without the Counter does not match', selector: selector({ counters: { rooms: counter({}) } }), server: { counters: { seats: { count: 0, capacity: 5 } } }, matches: false },
    { description: 'lists: available within bounds', selector: selector({ lists: { players: list({ minAvailable: 1, maxAvailable: 3 }) } }), server: { lists: { players: { capacity: 4, values: ['a', 'b'] } } }, matches: true },
    { description: 'lists: too little available', selector: selector({ lists: { players: list({ minAvailable: 3 }) } }), server: { lists: { players: { capacity: 4, values: ['a', 'b'] } } }, matches: false },
    { description: 'lists: too much available', selector: selector({ lists: { players: list({ maxAvailable: 1 }) } }), server: { lists: { players: { capacity: 4, values: ['a', 'b'] } } }, matches: false },
    { description: 'lists: containsValue present', selector: selector({ lists: { players: list({ containsValue: 'b' }) } }), server: { lists: { players: { capacity: 4, values: ['a', 'b'] } } }, matches: true },
    { description: 'lists: containsValue absent', selector: selector({ lists: { players: list({ containsValue: 'z' }) } }), server: { lists: { players: { capacity: 4, values: ['a', 'b'] } } }, matches: false },
    { description: 'lists: a server without the List does not match', selector: selector({ lists: { players: list({}) } }), server: {}, matches: false },
  ];
  for (const c of cases) {
    it(c.description, () => {
      expect(matchesSelector(c.selector, server('gs', c.server))).toBe(c.matches);
    });
  }
});

function spec(o: Partial<GameServerAllocationSpec> = {}): GameServerAllocationSpec {
  return { selectors: [selector()], scheduling: 'Packed', priorities: [], metadata: { labels: {}, annotations: {} }, counters: {}, lists: {}, ...o };
}

const rooms = (count: number, capacity: number) => ({ counters: { rooms: { count, capacity } } });
const seats = (n: number, capacity: number) => ({ lists: { seats: { capacity, values: Array.from({ length: n }, (_, i) => `p${i}`) } } });
const byRooms = (order: FleetPriority['order']): FleetPriority => ({ type: 'Counter', key: 'rooms', order });

describe('selectGameServer', () => {
  const cases: Array<{ description: string; spec: GameServerAllocationSpec; servers: Array<[string, ServerOptions]>; random?: number; expected: [string, number] | undefined }> = [
    { description: 'nothing to allocate', spec: spec(), servers: [], expected: undefined },
    { description: 'no server matches', spec: spec(), servers: [['a', { state: 'Allocated' }], ['b', { state: 'Shutdown' }]], expected: undefined },
    { description: 'Packed without priorities: the first name', spec: spec(), servers: [['c', {}], ['a', {}], ['b', {}]], expected: ['a', 0] },
    {
      description: 'the first selector with any match decides, whatever later ones would pick',
      spec: spec({ selectors: [selector({ matchLabels: { fleet: 'green' } }), selector({ matchLabels: { fleet: 'blue' } })] }),
      servers: [['a', { labels: { fleet: 'blue' } }], ['z', { labels: { fleet: 'green' } }]],
      expected: ['z', 0],
    },
    {
      description: 'a later selector when the first matches nothing',
      spec: spec({ selectors: [selector({ matchLabels: { fleet: 'green' } }), selector({ matchLabels: { fleet: 'blue' } })] }),
      servers: [['a', { labels: { fleet: 'blue' } }], ['b', { labels: { fleet: 'red' } }]],
      expected: ['a', 1],
    },
    {
      description: 'selectors of different states: backfill first, then a Ready server',
      spec: spec({ selectors: [selector({ gameServerState: 'Allocated', lists: { seats: list({ minAvailable: 1 }) } }), selector()] }),
      servers: [['a', seats(0, 4)], ['b', { state: 'Allocated', ...seats(4, 4) }], ['c', { state: 'Allocated', ...seats(3, 4) }]],
      expected: ['c', 0],
    },
    {
      description: 'Packed: least room for players first',
      spec: spec(),
      servers: [['a', { players: { count: 1, capacity: 10 } }], ['b', { players: { count: 7, capacity: 10 } }], ['c', { players: { count: 4, capacity: 10 } }]],
      expected: ['b', 0],
    },
    {
      description: 'Packed: servers without player tracking after tracked ones',
      spec: spec(),
      servers: [['a', {}], ['b', { players: { count: 0, capacity: 100 } }]],
      expected: ['b', 0],
    },
    { description: 'Packed, Counter Ascending: least available first', spec: spec({ priorities: [byRooms('Ascending')] }), servers: [['a', rooms(1, 10)], ['b', rooms(8, 10)], ['c', rooms(5, 10)]], expected: ['b', 0] },
    { description: 'Packed, Counter Descending: most available first', spec: spec({ priorities: [byRooms('Descending')] }), servers: [['a', rooms(1, 10)], ['b', rooms(8, 10)], ['c', rooms(0, 10)]], expected: ['c', 0] },
    {
      description: 'Packed, List Ascending: least available first',
      spec: spec({ priorities: [{ type: 'List', key: 'seats', order: 'Ascending' }] }),
      servers: [['a', seats(1, 4)], ['b', seats(3, 4)]],
      expected: ['b', 0],
    },
    {
      description: 'a server lacking the priority’s Counter comes last, Ascending',
      spec: spec({ priorities: [byRooms('Ascending')] }),
      servers: [['a', {}], ['b', rooms(0, 10)]],
      expected: ['b', 0],
    },
    {
      description: 'a server lacking the priority’s Counter comes last, Descending too',
      spec: spec({ priorities: [byRooms('Descending')] }),
      servers: [['a', {}], ['b', rooms(10, 10)]],
      expected: ['b', 0],
    },
    {
      description: 'a tie on the first priority goes to the next',
      spec: spec({ priorities: [byRooms('Ascending'), { type: 'List', key: 'seats', order: 'Descending' }] }),
      servers: [['a', { ...rooms(2, 5), ...seats(3, 4) }], ['b', { ...rooms(2, 5), ...seats(0, 4) }], ['c', rooms(0, 5)]],
      expected: ['b', 0],
    },
    { description: 'a tie on every priority goes to the name', spec: spec({ priorities: [byRooms('Ascending')] }), servers: [['b', rooms(2, 5)], ['a', rooms(2, 5)]], expected: ['a', 0] },
    {
      description: 'Packed: room for players outranks priorities',
      spec: spec({ priorities: [byRooms('Ascending')] }),
      servers: [['a', { ...rooms(4, 5), players: { count: 1, capacity: 10 } }], ['b', { ...rooms(0, 5), players: { count: 9, capacity: 10 } }]],
      expected: ['b', 0],
    },
    {
      description: 'Distributed with priorities: priorities only, room for players ignored',
      spec: spec({ scheduling: 'Distributed', priorities: [byRooms('Ascending')] }),
      servers: [['a', { ...rooms(4, 5), players: { count: 1, capacity: 10 } }], ['b', { ...rooms(0, 5), players: { count: 9, capacity: 10 } }]],
      expected: ['a', 0],
    },
    { description: 'Distributed: random 0 takes the first in packed order', spec: spec({ scheduling: 'Distributed' }), servers: [['c', {}], ['a', {}], ['b', {}]], random: 0, expected: ['a', 0] },
    { description: 'Distributed: random 0.5 the middle one', spec: spec({ scheduling: 'Distributed' }), servers: [['c', {}], ['a', {}], ['b', {}]], random: 0.5, expected: ['b', 0] },
    { description: 'Distributed: random just below 1 the last one', spec: spec({ scheduling: 'Distributed' }), servers: [['c', {}], ['a', {}], ['b', {}]], random: 0.9999, expected: ['c', 0] },
    {
      description: 'Distributed: only the matches are drawn from',
      spec: spec({ scheduling: 'Distributed', selectors: [selector({ matchLabels: { fleet: 'blue' } })] }),
      servers: [['a', {}], ['b', { labels: { fleet: 'blue' } }], ['c', {}], ['d', { labels: { fleet: 'blue' } }]],
      random: 0.6,
      expected: ['d', 0],
    },
  ];
  for (const c of cases) {
    it(c.description, () => {
      const result = selectGameServer(
        c.spec,
        c.servers.map(([name, o]) => server(name, o)),
        () => c.random ?? 0,
      );
      expect(result && [result.gameServer.metadata.name, result.selectorIndex]).toEqual(c.expected);
    });
  }

  it('Distributed draws uniformly', () => {
    const servers = ['a', 'b', 'c', 'd'].map((n) => server(n));
    const seen = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const name = selectGameServer(spec({ scheduling: 'Distributed' }), servers, () => i / 400)!.gameServer.metadata.name;
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    expect(Object.fromEntries(seen)).toEqual({ a: 100, b: 100, c: 100, d: 100 });
  });

  it('does not draw for Packed', () => {
    const random = (): number => {
      throw new Error('no draw expected');
    };
    expect(selectGameServer(spec(), [server('a')], random)?.gameServer.metadata.name).toBe('a');
  });
});

describe('packedBefore', () => {
  it('says what comparePacked(a, b) < 0 says, room for players first, then the name', () => {
    const servers = [
      server('b'),
      server('a'),
      server('a', { players: { count: 1, capacity: 4 } }),
      server('c', { players: { count: 3, capacity: 4 } }),
      server('b', { players: { count: 3, capacity: 4 } }),
      server('aa'),
    ];
    for (const a of servers) for (const b of servers) expect([a.metadata.name, playersOf(a), b.metadata.name, playersOf(b), packedBefore(a, b)]).toEqual([a.metadata.name, playersOf(a), b.metadata.name, playersOf(b), comparePacked(a, b) < 0]);
    expect(packedBefore(servers[4]!, servers[3]!)).toBe(true);
    expect(packedBefore(servers[3]!, servers[2]!)).toBe(true);
    expect(packedBefore(servers[1]!, servers[0]!)).toBe(true);
    expect(packedBefore(servers[0]!, servers[0]!)).toBe(false);
  });
});

function playersOf(gs: GameServer): string {
  return gs.status.players ? `${gs.status.players.count}/${gs.status.players.capacity}` : 'untracked';
}
