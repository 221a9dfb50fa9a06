import type { CounterStatus, ListStatus } from '../../core/resources.js';
import type { GameServer } from '../../core/game-server.js';
import { agonesError, changed, type SdkRule } from './sdk-rule.js';

// Beta counters and lists, with the Agones sidecar's (sdkserver.go) rules and texts, which win
// over the local Go server's where the two differ. The sidecar batches changes and patches them a
// moment later; Hangar applies each one to the record at once, so the batch arithmetic collapses to
// "apply in order and check".

/** Agones' CRD limit for a list's capacity (lists.maxItems). */
export const LIST_MAX_CAPACITY = 1000;

/** The List fields an UpdateList field mask may name. */
const LIST_FIELDS = ['name', 'capacity', 'values'] as const;

export interface CounterView {
  name: string;
  count: number;
  capacity: number;
}

export interface ListView {
  name: string;
  capacity: number;
  values: string[];
}

export interface CounterUpdate {
  name: string;
  /** Set the count (Int64Value present). */
  count?: number;
  /** Set the capacity (Int64Value present). */
  capacity?: number;
  countDiff: number;
}

export interface ListUpdate {
  /** undefined when the request carried no List. */
  list?: ListView;
  /** The FieldMask's paths; undefined when the request carried no mask. */
  paths?: string[];
}

function counterOf(gs: GameServer, name: string): CounterStatus {
  const counter = gs.status.counters[name];
  if (!counter) throw agonesError(`counter not found: ${name}`);
  return counter;
}

function listOf(gs: GameServer, name: string): ListStatus {
  const list = gs.status.lists[name];
  if (!list) throw agonesError(`list not found: ${name}`);
  return list;
}

export function getCounter(gs: GameServer, name: string): CounterView {
  const { count, capacity } = counterOf(gs, name);
  return { name, count, capacity };
}

export function getList(gs: GameServer, name: string): ListView {
  const { capacity, values } = listOf(gs, name);
  return { name, capacity, values: [...values] };
}

function withCounter(gs: GameServer, name: string, counter: CounterStatus): GameServer {
  return { ...gs, status: { ...gs.status, counters: { ...gs.status.counters, [name]: counter } } };
}

function withList(gs: GameServer, name: string, list: ListStatus): GameServer {
  return { ...gs, status: { ...gs.status, lists: { ...gs.status.lists, [name]: list } } };
}

const outOfCountRange = (count: number, capacity: number) =>
  agonesError(`out of range. Count must be within range [0,Capacity]. Found Count: ${count}, Capacity: ${capacity}`);

/**
 * UpdateCounter: capacity first (≥ 0), then a set count, then countDiff; the count must stay in
 * [0, capacity] after each count step. Lowering only the capacity below the count clips the count,
 * as the sidecar's batch does. A request with none of the three is "Malformed".
 */
export function updateCounter(update: CounterUpdate): SdkRule<CounterView> {
  if (update.countDiff === 0 && update.count === undefined && update.capacity === undefined) {
    throw agonesError(`invalid argument. Malformed CounterUpdateRequest: name:${JSON.stringify(update.name)}`);
  }
  return (gs) => {
    const current = counterOf(gs, update.name);
    let { count, capacity } = current;
    if (update.capacity !== undefined) {
      if (update.capacity < 0) throw agonesError(`out of range. Capacity must be greater than or equal to 0. Found Capacity: ${update.capacity}`);
      capacity = update.capacity;
    }
    if (update.count !== undefined) {
      if (update.count < 0 || update.count > capacity) throw outOfCountRange(update.count, capacity);
      count = update.count;
    }
    if (update.countDiff !== 0) {
      const next = count + update.countDiff;
      if (next < 0 || next > capacity) throw outOfCountRange(next, capacity);
      count = next;
    }
    count = Math.min(count, capacity);
    return changed(withCounter(gs, update.name, { count, capacity }), { name: update.name, count, capacity });
  };
}

/** Values in order, each once. */
const distinct = (values: readonly string[]): string[] => [...new Set(values)];

/**
 * UpdateList. With mask paths, "capacity" sets the capacity and "values" replaces the values. An
 * empty mask — what the Node SDK's setListCapacity sends, because `new FieldMask({Name:"capacity"})`
 * is no valid jspb constructor call — merges the non-zero fields, as Agones' local server does via
 * proto.Merge: a non-zero capacity is set and values are appended (a capacity of 0 is ignored).
 * Values beyond the capacity are dropped, as in Agones.
 */
export function updateList(update: ListUpdate): SdkRule<ListView> {
  const { list, paths } = update;
  if (!list || !paths) {
    const show = (present: boolean, text: string) => (present ? text : '<nil>');
    throw agonesError(
      `invalid argument. List: ${show(Boolean(list), `name:${JSON.stringify(list?.name ?? '')}`)} and UpdateMask ${show(Boolean(paths), `paths:[${paths?.join(' ') ?? ''}]`)} cannot be nil`,
    );
  }
  if (paths.some((p) => !(LIST_FIELDS as readonly string[]).includes(p))) {
    throw agonesError(`invalid argument. Field Mask Path(s): [${paths.join(' ')}] are invalid for List. Use valid field name(s): [${LIST_FIELDS.join(' ')}]`);
  }
  if (list.capacity < 0 || list.capacity > LIST_MAX_CAPACITY) {
    throw agonesError(`out of range. Capacity must be within range [0,${LIST_MAX_CAPACITY}]. Found Capacity: ${list.capacity}`);
  }
  return (gs) => {
    const current = gs.status.lists[list.name];
    if (!current) throw agonesError(`not found. ${list.name} List not found`);
    let { capacity, values } = current;
    if (paths.length === 0) {
      if (list.capacity !== 0) capacity = list.capacity;
      values = distinct([...values, ...list.values]);
    } else {
      if (paths.includes('capacity')) capacity = list.capacity;
      if (paths.includes('values')) values = distinct(list.values);
    }
    values = values.slice(0, capacity);
    return changed(withList(gs, list.name, { capacity, values }), { name: list.name, capacity, values });
  };
}

/** AddListValue: "out of range" when full, "already exists" for a duplicate. */
export function addListValue(name: string, value: string): SdkRule<ListView> {
  return (gs) => {
    const list = listOf(gs, name);
    if (list.values.length >= list.capacity) {
      throw agonesError(`out of range. No available capacity. Current Capacity: ${list.capacity}, List Size: ${list.values.length}`);
    }
    if (list.values.includes(value)) throw agonesError(`already exists. Value: ${value} already in List: ${name}`);
    const values = [...list.values, value];
    return changed(withList(gs, name, { capacity: list.capacity, values }), { name, capacity: list.capacity, values });
  };
}

/** RemoveListValue: "not found" when the value is not in the list. */
export function removeListValue(name: string, value: string): SdkRule<ListView> {
  return (gs) => {
    const list = listOf(gs, name);
    if (!list.values.includes(value)) throw agonesError(`not found: value ${value} not in list ${name}`);
    const values = list.values.filter((v) => v !== value);
    return changed(withList(gs, name, { capacity: list.capacity, values }), { name, capacity: list.capacity, values });
  };
}
