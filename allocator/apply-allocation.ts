import { copyMeta, GameServerState as S, transition, type GameServer } from '../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../core/hangar-metadata.js';
import { setOwn } from '../core/own-property.js';
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
  // transition's copy and its status are new: filled in here rather than copied again.
  const allocated = transition(gs, S.Allocated);
  allocated.metadata = copyMeta(gs.metadata);
  allocated.metadata.labels = { ...gs.metadata.labels, ...spec.metadata.labels };
  allocated.metadata.annotations = { ...gs.metadata.annotations, ...spec.metadata.annotations, [LAST_ALLOCATED_ANNOTATION]: now };
  // Actions for Counters and Lists the server lacks are skipped.
  allocated.status.counters = withActions(gs.status.counters, spec.counters, applyCounterAction);
  allocated.status.lists = withActions(gs.status.lists, spec.lists, applyListAction);
  return allocated;
}

/**
 * `statuses` with each action applied to the status of its name (an action for a name it lacks
 * is skipped), in `statuses`' order; `statuses` itself when no action applies.
 */
function withActions<T, A>(statuses: Record<string, T>, actions: Record<string, A>, apply: (status: T, action: A) => T): Record<string, T> {
  let out: Record<string, T> | undefined;
  for (const name in actions) {
    if (!Object.hasOwn(actions, name) || !Object.hasOwn(statuses, name)) continue;
    out ??= { ...statuses };
    setOwn(out, name, apply(statuses[name]!, actions[name]!));
  }
  return out ?? statuses;
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

/**
 * Up to this many values in all, `withAdded` scans the values kept so far instead of hashing them
 * into a Set: a match adds ten players to a List of a few, where the Set's hashing and growth cost
 * some 600 instructions a value (BENCHMARKS.md, "Allocator under load"); a long List keeps the Set.
 */
const SCAN_LIMIT = 32;

/** `values` without repeats, then each of `added` not among them while fewer than `capacity`. */
function withAdded(values: readonly string[], added: readonly string[], capacity: number): string[] {
  if (values.length + added.length > SCAN_LIMIT) {
    const kept = new Set(values);
    for (const value of added) {
      // Later values would fall beyond the capacity anyway.
      if (kept.size >= capacity) break;
      kept.add(value);
    }
    return [...kept];
  }
  const kept: string[] = [];
  for (const value of values) if (!kept.includes(value)) kept.push(value);
  for (const value of added) {
    if (kept.length >= capacity) break;
    if (!kept.includes(value)) kept.push(value);
  }
  return kept;
}

/** Capacity first (values beyond it dropped), then add (duplicates ignored, cut to capacity), then delete (missing ones ignored). */
function applyListAction(list: ListStatus, action: ListAction): ListStatus {
  let { capacity, values } = list;
  if (action.capacity !== undefined && action.capacity >= 0 && action.capacity <= LIST_MAX_CAPACITY) {
    capacity = action.capacity;
    values = values.slice(0, capacity);
  }
  if (action.addValues.length > 0) {
    values = withAdded(values, action.addValues, capacity);
    if (values.length > capacity) values.length = capacity;
  }
  if (action.deleteValues.length > 0) {
    const doomed = new Set(action.deleteValues);
    values = values.filter((v) => !doomed.has(v));
  }
  return { capacity, values };
}
