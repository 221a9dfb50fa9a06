import { describe, expect, it } from '@jest/globals';
import { IllegalTransitionError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import type { GameServer, GameServerState } from '../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../core/hangar-metadata.js';
import type { CounterStatus, ListStatus } from '../core/resources.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import type { GameServerAllocationSpec } from './allocation.js';
import { applyAllocation } from './apply-allocation.js';

// After Agones' TestAllocatorApplyAllocationToGameServer and the GameServer UpdateCount,
// UpdateCounterCapacity, UpdateListCapacity, AppendListValues and DeleteListValues tests.

const NOW = '2026-03-01T12:00:00.123Z';

function server(o: { state?: GameServerState; counters?: Record<string, CounterStatus>; lists?: Record<string, ListStatus> } = {}): GameServer {
  const gs = testGameServer('gs');
  return deepFreeze({
    ...gs,
    metadata: { ...gs.metadata, labels: { 'agones.dev/fleet': 'arena', mode: 'casual' }, annotations: { keep: 'me' } },
    status: { ...gs.status, state: o.state ?? 'Ready', counters: o.counters ?? {}, lists: o.lists ?? {} },
  }) as GameServer;
}

function spec(o: Partial<GameServerAllocationSpec> = {}): GameServerAllocationSpec {
  return { selectors: [], scheduling: 'Packed', priorities: [], metadata: { labels: {}, annotations: {} }, counters: {}, lists: {}, ...o };
}

describe('applyAllocation', () => {
  it('moves a Ready server to Allocated, merges metadata and stamps the time', () => {
    const out = applyAllocation(server(), spec({ metadata: { labels: { mode: 'ranked' }, annotations: { 'hangar.dev/match-id': 'm1' } } }), NOW);
    expect(out.status.state).toBe('Allocated');
    expect(out.metadata.labels).toEqual({ 'agones.dev/fleet': 'arena', mode: 'ranked' });
    expect(out.metadata.annotations).toEqual({ keep: 'me', 'hangar.dev/match-id': 'm1', [LAST_ALLOCATED_ANNOTATION]: NOW });
  });

  it('keeps a backfilled server Allocated and stamps the new time', () => {
    const before = applyAllocation(server(), spec(), '2026-03-01T11:00:00Z');
    const out = applyAllocation(deepFreeze(before) as GameServer, spec(), NOW);
    expect(out.status.state).toBe('Allocated');
    expect(out.metadata.annotations[LAST_ALLOCATED_ANNOTATION]).toBe(NOW);
  });

  it('the time annotation wins over one in the request, as in Agones', () => {
    expect(applyAllocation(server(), spec({ metadata: { labels: {}, annotations: { [LAST_ALLOCATED_ANNOTATION]: 'x' } } }), NOW).metadata.annotations[LAST_ALLOCATED_ANNOTATION]).toBe(NOW);
  });

  it('refuses a server that cannot be allocated', () => {
    expect(() => applyAllocation(server({ state: 'Unhealthy' }), spec(), NOW)).toThrow(IllegalTransitionError);
  });

  it('leaves the input alone', () => {
    const gs = server({ counters: { rooms: { count: 1, capacity: 5 } } });
    applyAllocation(gs, spec({ counters: { rooms: { action: 'Increment', amount: 1 } } }), NOW);
    expect(gs.status.counters.rooms).toEqual({ count: 1, capacity: 5 });
    expect(gs.status.state).toBe('Ready');
  });

  const counterCases: Array<{ description: string; counters: Record<string, CounterStatus>; actions: GameServerAllocationSpec['counters']; expected: Record<string, CounterStatus> }> = [
    { description: 'Increment by the amount', counters: { rooms: { count: 1, capacity: 5 } }, actions: { rooms: { action: 'Increment', amount: 2 } }, expected: { rooms: { count: 3, capacity: 5 } } },
    { description: 'Increment stops at capacity', counters: { rooms: { count: 4, capacity: 5 } }, actions: { rooms: { action: 'Increment', amount: 3 } }, expected: { rooms: { count: 5, capacity: 5 } } },
    { description: 'Decrement by the amount', counters: { rooms: { count: 4, capacity: 5 } }, actions: { rooms: { action: 'Decrement', amount: 3 } }, expected: { rooms: { count: 1, capacity: 5 } } },
    { description: 'Decrement stops at 0', counters: { rooms: { count: 1, capacity: 5 } }, actions: { rooms: { action: 'Decrement', amount: 3 } }, expected: { rooms: { count: 0, capacity: 5 } } },
    { description: 'an amount of 0 changes nothing', counters: { rooms: { count: 1, capacity: 5 } }, actions: { rooms: { action: 'Increment', amount: 0 } }, expected: { rooms: { count: 1, capacity: 5 } } },
    { description: 'capacity alone', counters: { rooms: { count: 1, capacity: 5 } }, actions: { rooms: { capacity: 10 } }, expected: { rooms: { count: 1, capacity: 10 } } },
    { description: 'a capacity below the count cuts the count', counters: { rooms: { count: 4, capacity: 5 } }, actions: { rooms: { capacity: 2 } }, expected: { rooms: { count: 2, capacity: 2 } } },
    { description: 'capacity applies before the count changes', counters: { rooms: { count: 4, capacity: 5 } }, actions: { rooms: { action: 'Increment', amount: 5, capacity: 6 } }, expected: { rooms: { count: 6, capacity: 6 } } },
    { description: 'a missing Counter is skipped, the others applied', counters: { rooms: { count: 0, capacity: 5 } }, actions: { seats: { action: 'Increment', amount: 1, capacity: 3 }, rooms: { action: 'Increment', amount: 1 } }, expected: { rooms: { count: 1, capacity: 5 } } },
    { description: 'a negative capacity (never valid) is skipped, the count still changes', counters: { rooms: { count: 1, capacity: 5 } }, actions: { rooms: { action: 'Increment', amount: 1, capacity: -1 } }, expected: { rooms: { count: 2, capacity: 5 } } },
  ];
  for (const c of counterCases) {
    it(`Counter: ${c.description}`, () => {
      const out = applyAllocation(server({ counters: c.counters }), spec({ counters: c.actions }), NOW);
      expect(out.status.counters).toEqual(c.expected);
      expect(out.status.state).toBe('Allocated');
    });
  }

  const add = (addValues: string[], o: { deleteValues?: string[]; capacity?: number } = {}) => ({ addValues, deleteValues: o.deleteValues ?? [], ...(o.capacity !== undefined && { capacity: o.capacity }) });
  const listCases: Array<{ description: string; list: ListStatus; action: GameServerAllocationSpec['lists'][string]; expected: ListStatus }> = [
    { description: 'addValues appends', list: { capacity: 5, values: ['a'] }, action: add(['b', 'c']), expected: { capacity: 5, values: ['a', 'b', 'c'] } },
    { description: 'addValues ignores duplicates', list: { capacity: 5, values: ['a'] }, action: add(['a', 'b', 'b']), expected: { capacity: 5, values: ['a', 'b'] } },
    { description: 'addValues stops at capacity', list: { capacity: 2, values: ['a'] }, action: add(['b', 'c']), expected: { capacity: 2, values: ['a', 'b'] } },
    { description: 'addValues drops repeats already in the List', list: { capacity: 3, values: ['a', 'a'] }, action: add(['b', 'c', 'd']), expected: { capacity: 3, values: ['a', 'b', 'c'] } },
    {
      description: 'addValues on a long List (hashed, not scanned) drops repeats and stops at capacity',
      list: { capacity: 33, values: [...Array.from({ length: 30 }, (_, i) => `v${i}`), 'v0'] },
      action: add(['v1', 'x', 'x', 'y', 'z', 'w']),
      expected: { capacity: 33, values: [...Array.from({ length: 30 }, (_, i) => `v${i}`), 'x', 'y', 'z'] },
    },
    { description: 'deleteValues removes, ignoring missing ones', list: { capacity: 5, values: ['a', 'b', 'c'] }, action: add([], { deleteValues: ['b', 'zz'] }), expected: { capacity: 5, values: ['a', 'c'] } },
    { description: 'capacity drops values beyond it', list: { capacity: 5, values: ['a', 'b', 'c'] }, action: add([], { capacity: 1 }), expected: { capacity: 1, values: ['a'] } },
    { description: 'capacity 0 empties the list', list: { capacity: 5, values: ['a'] }, action: add([], { capacity: 0 }), expected: { capacity: 0, values: [] } },
    { description: 'capacity 1000 is allowed', list: { capacity: 5, values: [] }, action: add([], { capacity: 1000 }), expected: { capacity: 1000, values: [] } },
    { description: 'a capacity above 1000 is skipped, the rest applied', list: { capacity: 2, values: [] }, action: add(['a', 'b', 'c'], { capacity: 1001 }), expected: { capacity: 2, values: ['a', 'b'] } },
    { description: 'order: capacity, then add, then delete', list: { capacity: 3, values: ['a', 'b', 'c'] }, action: add(['d'], { deleteValues: ['a'], capacity: 3 }), expected: { capacity: 3, values: ['b', 'c'] } },
  ];
  for (const c of listCases) {
    it(`List: ${c.description}`, () => {
      const out = applyAllocation(server({ lists: { players: c.list } }), spec({ lists: { players: c.action } }), NOW);
      expect(out.status.lists).toEqual({ players: c.expected });
    });
  }

  it('List: a missing List is skipped and the allocation goes ahead', () => {
    const out = applyAllocation(server({ lists: {} }), spec({ lists: { players: add(['a']) } }), NOW);
    expect(out.status.lists).toEqual({});
    expect(out.status.state).toBe('Allocated');
  });
});
