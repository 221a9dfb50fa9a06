import type { Clock } from '../core/clock.js';
import type { GameServerState } from '../core/game-server.js';
import type { ControllerMetrics } from '../core/metrics.js';
import { FLEET_LABEL, type GameServerEvent, type GameServerStore } from '../store/game-server-store.js';

// Agones' game-server metrics, kept from the store's events: how many servers each fleet has in
// each state (agones_gameservers_count), how many entered each state (agones_gameservers_total),
// and how long they stayed (agones_gameserver_state_duration). Servers outside a fleet are
// reported under fleet_name "none", as Agones does.

const NO_FLEET = 'none';

interface Seen {
  fleet: string;
  state: GameServerState;
  since: number;
}

export function recordGameServerMetrics(store: GameServerStore, metrics: ControllerMetrics, clock: Clock): () => void {
  const seen = new Map<string, Seen>();
  const counts = new Map<string, number>();
  const key = (fleet: string, state: string) => `${fleet}\u0000${state}`;
  const bump = (fleet: string, state: GameServerState, by: number) => {
    const k = key(fleet, state);
    const n = (counts.get(k) ?? 0) + by;
    counts.set(k, n);
    metrics.gameServersCount.set({ fleet_name: fleet, type: state }, n);
  };

  const onEvent = (e: GameServerEvent): void => {
    const name = e.object.metadata.name;
    const before = seen.get(name);
    const now = clock.monotonic();
    if (before) {
      if (e.type !== 'deleted' && before.state === e.object.status.state) return;
      bump(before.fleet, before.state, -1);
      metrics.gameServerStateDuration.observe({ fleet_name: before.fleet, state: before.state }, (now - before.since) / 1000);
    }
    if (e.type === 'deleted') {
      seen.delete(name);
      return;
    }
    const fleet = e.object.metadata.labels[FLEET_LABEL] ?? NO_FLEET;
    const state = e.object.status.state;
    seen.set(name, { fleet, state, since: now });
    bump(fleet, state, 1);
    metrics.gameServersTotal.inc({ fleet_name: fleet, type: state });
  };
  return store.watch(onEvent);
}
