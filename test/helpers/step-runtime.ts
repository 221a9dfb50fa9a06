import { GameServerState as S, transition, type GameServer } from '../../core/game-server.js';
import type { FleetRuntime } from '../../fleets/runtime/fleet-runtime.js';
import type { MemoryGameServerStore } from '../../store/memory-game-server-store.js';

/**
 * A runtime whose servers stop at Scheduled until the test says they are Ready (or reach Ready at
 * once with `instant`), and vanish when deleted: the controller's logic without processes.
 */
export class StepRuntime implements FleetRuntime {
  created = 0;
  instant = true;
  constructor(private readonly store: MemoryGameServerStore) {}
  async create(gs: GameServer): Promise<GameServer> {
    this.created++;
    await this.store.create(gs);
    let next = gs;
    for (const s of [S.Creating, S.Starting, S.Scheduled] as const) next = transition(next, s);
    if (this.instant) next = transition(transition(next, S.RequestReady), S.Ready);
    return this.store.update(gs.metadata.name, () => next);
  }
  async delete(name: string): Promise<void> {
    await this.store.delete(name);
  }
  async readyAll(): Promise<void> {
    for (const gs of await this.store.list({ states: [S.Scheduled] })) {
      await this.store.update(gs.metadata.name, (cur) => transition(transition(cur, S.RequestReady), S.Ready));
    }
  }
  processInfo() {
    return undefined;
  }
  async close() {}
}

