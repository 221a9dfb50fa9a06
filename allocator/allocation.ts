import type { CounterStatus, FleetPriority, ListStatus } from '../core/resources.js';

// Agones' GameServerAllocation (allocation.agones.dev/v1), after defaults: what a matchmaker asks
// for, and the result it gets. Field names are Agones' JSON names, so a request written for Agones
// works against Hangar unchanged. allocator/allocation-schema.ts parses requests into these types.

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values: string[];
}

export interface CounterSelector {
  minCount: number;
  /** 0 means no upper bound (Agones' default). */
  maxCount: number;
  minAvailable: number;
  /** 0 means no upper bound. */
  maxAvailable: number;
}

export interface ListSelector {
  /** '' matches every list. */
  containsValue: string;
  minAvailable: number;
  /** 0 means no upper bound. */
  maxAvailable: number;
}

export interface GameServerSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
  /** Ready (the default), or Allocated to add players to a running match (backfill). */
  gameServerState: 'Ready' | 'Allocated';
  /** Alpha player tracking: available = capacity − count. */
  players?: { minAvailable: number; maxAvailable: number };
  counters: Record<string, CounterSelector>;
  lists: Record<string, ListSelector>;
}

export interface CounterAction {
  action?: 'Increment' | 'Decrement';
  amount?: number;
  capacity?: number;
}

export interface ListAction {
  addValues: string[];
  deleteValues: string[];
  capacity?: number;
}

export interface GameServerAllocationSpec {
  /** Tried in order; the first that matches a server wins. */
  selectors: GameServerSelector[];
  scheduling: 'Packed' | 'Distributed';
  /** Tie-breakers among matching servers (Counters and Lists). */
  priorities: FleetPriority[];
  /** Labels and annotations put on the allocated server. */
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  counters: Record<string, CounterAction>;
  lists: Record<string, ListAction>;
}

export type AllocationState = 'Allocated' | 'UnAllocated' | 'Contention';

/** GameServerAllocation's status, as Agones returns it. */
export interface AllocationResult {
  state: AllocationState;
  gameServerName: string;
  ports: Array<{ name: string; port: number }>;
  address: string;
  addresses: Array<{ type: string; address: string }>;
  nodeName: string;
  /** "local" for an allocation from this cluster, as Agones reports it. */
  source: string;
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  counters: Record<string, CounterStatus>;
  lists: Record<string, ListStatus>;
}

/** The result when no server matched any selector. */
export function unallocated(): AllocationResult {
  return { state: 'UnAllocated', gameServerName: '', ports: [], address: '', addresses: [], nodeName: '', source: '', metadata: { labels: {}, annotations: {} }, counters: {}, lists: {} };
}

/**
 * Orders two allocation times (`agones.dev/last-allocated`: RFC 3339, to the nanosecond from Agones,
 * which drops trailing zeros; to the millisecond from Hangar's stores): negative when `a` is the
 * earlier allocation, 0 for the same one, positive when `a` is later. A time either cannot read is
 * taken as a different, later allocation, so no caller mistakes it for its own.
 */
export function compareAllocationTimes(a: string, b: string): number {
  if (a === b) return 0;
  const [x, y] = [allocationInstant(a), allocationInstant(b)];
  if (!x || !y) return x ? -1 : 1;
  return x.seconds - y.seconds || (x.nanos < y.nanos ? -1 : x.nanos > y.nanos ? 1 : 0);
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;

function allocationInstant(time: string): { seconds: number; nanos: string } | undefined {
  const m = RFC3339.exec(time);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  return Number.isNaN(ms) ? undefined : { seconds: ms / 1000, nanos: (m![2] ?? '').padEnd(9, '0') };
}
