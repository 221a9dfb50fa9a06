import type { AggregatedCapacity, CounterStatus, FleetStatus, ListStatus } from '../../core/resources.js';
import { testSpec } from '../../test/helpers/game-servers.js';
import type { FleetView } from '../fleet-status.js';

// Test support for the autoscaler's suites: a fleet as FleetView shows it, from only the numbers a
// test cares about.

export interface FleetViewFixture {
  name?: string;
  specReplicas?: number;
  status?: Partial<Omit<FleetStatus, 'counters' | 'lists'>>;
  /** The template's counters and lists (what one new game server starts with). */
  templateCounters?: Record<string, CounterStatus>;
  templateLists?: Record<string, ListStatus>;
  /** The fleet-wide totals; allocated totals default to 0. */
  counters?: Record<string, Partial<AggregatedCapacity> & { count: number; capacity: number }>;
  lists?: Record<string, Partial<AggregatedCapacity> & { count: number; capacity: number }>;
}

export function fleetViewFixture(f: FleetViewFixture = {}): FleetView {
  const aggregate = (m: FleetViewFixture['counters'] = {}) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { allocatedCount: 0, allocatedCapacity: 0, ...v }]));
  const replicas = f.status?.replicas ?? f.specReplicas ?? 0;
  return {
    name: f.name ?? 'arena',
    spec: {
      replicas: f.specReplicas ?? replicas,
      scheduling: 'Packed',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      priorities: [],
      template: { metadata: { labels: {}, annotations: {} }, spec: testSpec({ counters: f.templateCounters ?? {}, lists: f.templateLists ?? {} }) },
    },
    status: {
      replicas,
      readyReplicas: 0,
      reservedReplicas: 0,
      allocatedReplicas: 0,
      players: null,
      ...f.status,
      counters: aggregate(f.counters),
      lists: aggregate(f.lists),
    },
  };
}
