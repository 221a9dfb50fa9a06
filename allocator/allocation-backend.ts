import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { GameServerNotFoundError } from '../core/errors.js';
import { GameServerState as S, transition, type GameServer } from '../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../core/hangar-metadata.js';
import type { GameServerStore } from '../store/game-server-store.js';
import { unallocated, type AllocationResult, type GameServerAllocationSpec } from './allocation.js';

// Where allocations happen: Hangar's own GameServerStore (the local stack, or Redis shared by
// several allocator processes), or Agones on a cluster (allocator/agones). The Allocator sees only
// this interface.

export type ReleaseAction = 'ready' | 'shutdown';

export interface AllocationBackend {
  allocate(spec: GameServerAllocationSpec): Promise<AllocationResult>;
  /** Game servers as they change: for waiting on acknowledgements and watching claims. */
  readonly gameServers: Pick<GameServerStore, 'get' | 'watch'>;
  /**
   * Puts an Allocated server nobody claimed back to Ready, or shuts it down; resolves with whether
   * it did. `allocatedAt` (the allocation's `agones.dev/last-allocated`) releases only that
   * allocation: a server allocated again since, by this process or another, is left alone. A server
   * for which `claimed` holds is left alone too: it is asked of the version released, not of the
   * caller's view, which may trail it (a player who arrived since).
   */
  release(name: string, action: ReleaseAction, allocatedAt?: string, claimed?: (gs: GameServer) => boolean): Promise<boolean>;
  /**
   * Throws a retryable error saying that `what` cannot be done when `gameServers` may be arbitrarily
   * old (Agones: its watch has been down past its bound). A store is its own view: never.
   */
  requireCurrentView(what: string): void;
  close(): Promise<void>;
}

/** An allocation's result in Agones' shape, from the allocated GameServer. */
export function allocationResult(gs: GameServer): AllocationResult {
  return {
    state: 'Allocated',
    gameServerName: gs.metadata.name,
    ports: gs.status.ports,
    address: gs.status.address,
    addresses: gs.status.addresses,
    nodeName: gs.status.nodeName,
    source: 'local',
    metadata: { labels: gs.metadata.labels, annotations: gs.metadata.annotations },
    counters: gs.status.counters,
    lists: gs.status.lists,
  };
}

function resultOf(gs: GameServer | undefined): AllocationResult {
  return gs ? allocationResult(gs) : unallocated();
}

/** Allocation over a GameServerStore: one atomic step in the store, so replicas never contend. */
export class StoreAllocationBackend implements AllocationBackend {
  constructor(
    private readonly store: GameServerStore,
    private readonly clock: Clock,
  ) {}

  get gameServers(): Pick<GameServerStore, 'get' | 'watch'> {
    return this.store;
  }

  allocate(spec: GameServerAllocationSpec): Promise<AllocationResult> {
    // One promise, not an async function's own besides the store's.
    return this.store.allocate(spec, { now: isoTime(this.clock) }).then(resultOf);
  }

  async release(name: string, action: ReleaseAction, allocatedAt?: string, claimed?: (gs: GameServer) => boolean): Promise<boolean> {
    let released = false;
    try {
      await this.store.update(name, (gs) => {
        released =
          gs.status.state === S.Allocated && (allocatedAt === undefined || gs.metadata.annotations[LAST_ALLOCATED_ANNOTATION] === allocatedAt) && !claimed?.(gs);
        // RequestReady: the controller makes it Ready, exactly as when the game calls Ready().
        return released ? transition(gs, action === 'ready' ? S.RequestReady : S.Shutdown) : gs;
      });
    } catch (err) {
      if (err instanceof GameServerNotFoundError) return false;
      throw err;
    }
    return released;
  }

  requireCurrentView(): void {}

  async close(): Promise<void> {}
}
