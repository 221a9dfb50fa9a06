import { GameServerState as S, type GameServer, type GameServerState } from '../core/game-server.js';
import type { AggregatedCapacity, FleetSpec, FleetStatus } from '../core/resources.js';

/** States that count toward a fleet's replicas: everything alive and not on its way out. */
export const COUNTED_STATES: readonly GameServerState[] = [S.PortAllocation, S.Creating, S.Starting, S.Scheduled, S.RequestReady, S.Ready, S.Reserved, S.Allocated];

export function isCounted(gs: GameServer): boolean {
  return COUNTED_STATES.includes(gs.status.state);
}

/** A fleet as the autoscaler, the API and the CLI see it. */
export interface FleetView {
  name: string;
  spec: FleetSpec;
  status: FleetStatus;
}

/**
 * Agones' fleet status from the fleet's game servers: replica counts by state, and player,
 * Counter and List totals over the counted servers, with the Allocated servers' share apart.
 */
export function computeFleetStatus(servers: readonly GameServer[]): FleetStatus {
  const counted = servers.filter(isCounted);
  const count = (state: GameServerState) => counted.filter((gs) => gs.status.state === state).length;
  let players: FleetStatus['players'] = null;
  const counters: Record<string, AggregatedCapacity> = {};
  const lists: Record<string, AggregatedCapacity> = {};
  const add = (into: Record<string, AggregatedCapacity>, key: string, n: number, capacity: number, allocated: boolean) => {
    const agg = (into[key] ??= { count: 0, capacity: 0, allocatedCount: 0, allocatedCapacity: 0 });
    agg.count += n;
    agg.capacity += capacity;
    if (allocated) {
      agg.allocatedCount += n;
      agg.allocatedCapacity += capacity;
    }
  };
  for (const gs of counted) {
    const allocated = gs.status.state === S.Allocated;
    if (gs.status.players) {
      players ??= { count: 0, capacity: 0 };
      players.count += gs.status.players.count;
      players.capacity += gs.status.players.capacity;
    }
    for (const [key, c] of Object.entries(gs.status.counters)) add(counters, key, c.count, c.capacity, allocated);
    for (const [key, l] of Object.entries(gs.status.lists)) add(lists, key, l.values.length, l.capacity, allocated);
  }
  return {
    replicas: counted.length,
    readyReplicas: count(S.Ready),
    reservedReplicas: count(S.Reserved),
    allocatedReplicas: count(S.Allocated),
    players,
    counters,
    lists,
  };
}
