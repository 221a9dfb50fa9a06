import { GameServerState as S, transition, type GameServer } from '../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../core/hangar-metadata.js';
import type { CounterStatus, ListStatus } from '../core/resources.js';
import type { CounterAction, GameServerAllocationSpec, ListAction } from './allocation.js';

// What an allocation does to the server it picked, as Agones' applyAllocationToGameServer does it
// (pkg/gameserverallocations/allocator.go, and the GameServer Counter/List methods in
// pkg/apis/agones/v1/gameserver.go). Pure; the Redis store's Lua script does the same.

/** Agones' ListMaxCapacity. */
const LIST_MAX_CAPACITY = 1000;

/**
 * `gs` allocated by `spec` at `now` (RFC 3339): Allocated (a backfill stays Allocated), the
 * request's labels and annotations merged in, `agones.dev/last-allocated` set to `now` (on every
 * allocation, backfills included), then the Counter and List actions. An action that cannot be
 * applied (no such Counter or List, a List capacity outside 0..1000) is skipped and the allocation
 * goes ahead, as in Agones, which only records a warning event for it.
 */
export function applyAllocation(gs: GameServer, spec: GameServerAllocationSpec, now: string): GameServer {
  const allocated = transition(gs, S.Allocated);
  // Actions for Counters and Lists the server lacks are skipped.
  const counters = Object.fromEntries(
    Object.entries(gs.status.counters).map(([name, c]): [string, CounterStatus] => [name, Object.hasOwn(spec.counters, name) ? applyCounterAction(c, spec.counters[name]!) : c]),
  );
  const lists = Object.fromEntries(
    Object.entries(gs.status.lists).map(([name, l]): [string, ListStatus] => [name, Object.hasOwn(spec.lists, name) ? applyListAction(l, spec.lists[name]!) : l]),
  );
  return {
    ...allocated,
    metadata: {
      ...gs.metadata,
      labels: { ...gs.metadata.labels, ...spec.metadata.labels },
      annotations: { ...gs.metadata.annotations, ...spec.metadata.annotations, [LAST_ALLOCATED_ANNOTATION]: now },
    },
    status: { ...allocated.status, counters, lists },
  };
}

/** Capacity first (the count is cut to it), then Increment/Decrement, the count kept within 0..capacity. */
function applyCounterAction(counter: CounterStatus, action: CounterAction): CounterStatus {
  let { count, capacity } = counter;
  if (action.capacity !== undefined && action.capacity >= 0) {
    capacity = action.capacity;
    count = Math.min(count, capacity);
  }
  if (action.action !== undefined && action.amount !== undefined && action.amount >= 0) {
    count = Math.max(0, Math.min(capacity, action.action === 'Increment' ? count + action.amount : count - action.amount));
  }
  return { count, capacity };
}

/** Capacity first (values beyond it dropped), then add (duplicates ignored, cut to capacity), then delete (missing ones ignored). */
function applyListAction(list: ListStatus, action: ListAction): ListStatus {
  let { capacity, values } = list;
  if (action.capacity !== undefined && action.capacity >= 0 && action.capacity <= LIST_MAX_CAPACITY) {
    capacity = action.capacity;
    values = values.slice(0, capacity);
  }
  if (action.addValues.length > 0) values = [...new Set([...values, ...action.addValues])].slice(0, capacity);
  if (action.deleteValues.length > 0) {
    const doomed = new Set(action.deleteValues);
    values = values.filter((v) => !doomed.has(v));
  }
  return { capacity, values };
}
