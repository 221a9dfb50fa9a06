import { describe, expect, it } from '@jest/globals';
import { GameServerState as S, transition } from '../core/game-server.js';
import { createControllerMetrics, createRegistry } from '../core/metrics.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { recordGameServerMetrics } from './game-server-metrics.js';

describe("Agones' game-server metrics", () => {
  it('count servers per fleet and state, count entries into states, and time each state', async () => {
    const registry = createRegistry();
    const store = new MemoryGameServerStore();
    const clock = new FakeClock();
    const stop = recordGameServerMetrics(store, createControllerMetrics(registry), clock);
    await store.create(testGameServer('a', { fleet: 'arena' }));
    await store.create(testGameServer('b', { fleet: 'arena' }));
    await store.create(testGameServer('solo'));
    clock.advance(2500);
    await store.update('a', (gs) => transition(gs, S.Creating));
    await store.delete('b');
    const text = await registry.metrics();
    expect(text).toContain('agones_gameservers_count{fleet_name="arena",type="PortAllocation"} 0');
    expect(text).toContain('agones_gameservers_count{fleet_name="arena",type="Creating"} 1');
    expect(text).toContain('agones_gameservers_count{fleet_name="none",type="PortAllocation"} 1');
    expect(text).toContain('agones_gameservers_total{fleet_name="arena",type="PortAllocation"} 2');
    expect(text).toContain('agones_gameservers_total{fleet_name="arena",type="Creating"} 1');
    expect(text).toContain('agones_gameserver_state_duration_bucket{le="3",fleet_name="arena",state="PortAllocation"} 2');
    expect(text).toContain('agones_gameserver_state_duration_bucket{le="2",fleet_name="arena",state="PortAllocation"} 0');
    stop();
  });
});
