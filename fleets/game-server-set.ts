import { createHash } from 'node:crypto';
import { GameServerState as S, isInUse, type GameServer, type GameServerState } from '../core/game-server.js';
import type { FleetPriority, FleetSpec, GameServerTemplate, IntOrPercent, SchedulingStrategy } from '../core/resources.js';

// GameServerSets, as Agones' fleet controller keeps them: one set per template the fleet has had.
// The newest (active) set runs the fleet's current template; older sets are drained by the
// fleet's strategy, and keep their Allocated and Reserved servers until those shut down.
// Everything here is pure, so the rollout and scale-down rules are table-tested.

export interface GameServerSet {
  name: string;
  fleet: string;
  /** Hash of the template this set runs; a fleet has at most one set per hash. */
  templateHash: string;
  template: GameServerTemplate;
  replicas: number;
  /** Creation order within the fleet: higher is newer. */
  generation: number;
}

/** Counts of one set's servers that the rollout works with. */
export interface SetCounts {
  /** Servers that count toward replicas (alive and not on their way out). */
  counted: number;
  ready: number;
  /** Allocated or Reserved: never deleted by scaling or rollout. */
  inUse: number;
}

/** A stable hash of a template: key order in the YAML does not matter, every value does. */
export function templateHash(template: GameServerTemplate): string {
  return createHash('sha256').update(stableJson(template)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted, so equal values always serialize alike. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** An int-or-percent against `total`, rounded as Kubernetes rounds it (up for surge, down for unavailable). */
export function scaledValue(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const exact = (Number(value.slice(0, -1)) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export interface PlannedSet {
  name: string;
  replicas: number;
}

/**
 * The replicas each set should have now. With one set it is simply the fleet's replicas. While
 * older sets remain:
 *  - Recreate: older sets go to 0 at once; the active set gets what their in-use servers leave.
 *  - RollingUpdate: the active set grows while the fleet stays within replicas + maxSurge, and
 *    older sets shrink while Ready-or-in-use servers stay at or above replicas − maxUnavailable
 *    (servers that are not Ready yet can always go). If both budgets are 0, one may be
 *    unavailable at a time, as Kubernetes rules for Deployments.
 * In both, the in-use servers of older sets count toward the fleet's replicas ("leave room for
 * Allocated GameServers") and are never removed.
 */
export function planRollout(spec: Pick<FleetSpec, 'replicas' | 'strategy'>, active: GameServerSet & SetCounts, older: ReadonlyArray<GameServerSet & SetCounts>): PlannedSet[] {
  const desired = spec.replicas;
  if (older.length === 0) return [{ name: active.name, replicas: desired }];
  const inUseOld = older.reduce((n, s) => n + s.inUse, 0);
  const activeFinal = Math.max(0, desired - inUseOld);
  const oldestFirst = [...older].sort((a, b) => a.generation - b.generation);

  if (spec.strategy.type === 'Recreate' || desired === 0) {
    return [{ name: active.name, replicas: activeFinal }, ...oldestFirst.map((s) => ({ name: s.name, replicas: 0 }))];
  }

  const { maxSurge, maxUnavailable } = spec.strategy.rollingUpdate;
  const surge = scaledValue(maxSurge, desired, true);
  let unavailable = scaledValue(maxUnavailable, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;

  const all = [active, ...older];
  const totalCounted = all.reduce((n, s) => n + s.counted, 0);
  const room = Math.max(0, desired + surge - totalCounted);
  const activeReplicas = Math.max(Math.min(active.counted, activeFinal), Math.min(activeFinal, active.counted + room));

  const available = all.reduce((n, s) => n + s.ready + s.inUse, 0);
  let budget = Math.max(0, available - Math.max(0, desired - unavailable));
  const planned: PlannedSet[] = [{ name: active.name, replicas: activeReplicas }];
  for (const s of oldestFirst) {
    // An older set keeps only Ready servers the budget cannot spare; its in-use ones stay beyond
    // its replicas, as Allocated servers do in Agones, and its not-yet-Ready ones go at once.
    const readyToGo = Math.min(s.ready, budget);
    budget -= readyToGo;
    planned.push({ name: s.name, replicas: s.ready - readyToGo });
  }
  return planned;
}

/** Scale-down order before `priorities`: servers that are not Ready yet go first, least far along first. */
const STATE_ORDER: readonly GameServerState[] = [S.PortAllocation, S.Creating, S.Starting, S.Scheduled, S.RequestReady, S.Ready];

/**
 * Up to `n` servers to delete, never one in use (Allocated, Reserved). On one machine every server
 * shares the one node, so Packed's "emptiest node first" cannot tell servers apart; the order is:
 * servers not yet Ready first, then the fleet's `priorities` (Ascending deletes the server with the
 * least available Counter/List capacity first, Descending the most), then age: Packed deletes the
 * newest (keeping long-running servers), Distributed the oldest (recycling them).
 */
export function pickForScaleDown(servers: readonly GameServer[], n: number, scheduling: SchedulingStrategy, priorities: readonly FleetPriority[]): GameServer[] {
  if (n <= 0) return [];
  const newestFirst = scheduling === 'Packed' ? -1 : 1;
  return servers
    .filter((gs) => !isInUse(gs.status.state) && STATE_ORDER.includes(gs.status.state))
    .sort((a, b) => {
      const byState = STATE_ORDER.indexOf(a.status.state) - STATE_ORDER.indexOf(b.status.state);
      if (byState) return byState;
      for (const p of priorities) {
        const diff = availableCapacity(a, p) - availableCapacity(b, p);
        if (diff) return p.order === 'Ascending' ? diff : -diff;
      }
      const byAge = a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp);
      return (byAge || a.metadata.name.localeCompare(b.metadata.name)) * newestFirst;
    })
    .slice(0, n);
}

/** Capacity − count of a Counter or List; servers without it sort as having none. */
function availableCapacity(gs: GameServer, p: FleetPriority): number {
  if (p.type === 'Counter') {
    const c = gs.status.counters[p.key];
    return c ? c.capacity - c.count : 0;
  }
  const l = gs.status.lists[p.key];
  return l ? l.capacity - l.values.length : 0;
}

/** Allocated servers beyond the set's replicas get the fleet's allocationOverflow labels and annotations. */
export function overflowing(servers: readonly GameServer[], replicas: number): GameServer[] {
  const allocated = servers.filter((gs) => gs.status.state === S.Allocated);
  if (allocated.length <= replicas) return [];
  // The newest allocations are the overflow; earlier ones were within the fleet's size.
  return [...allocated].sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp)).slice(replicas);
}
