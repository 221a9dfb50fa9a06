import type { GameServerAllocationSpec } from '../allocator/allocation.js';
import type { GameServer, GameServerState } from '../core/game-server.js';

// The one home of GameServer records. The local controller, the runtime, each local SDK server and
// (later) the allocator all read and write game servers only through this interface, so the
// in-memory store of one process and a Redis store shared by several are interchangeable.

export interface GameServerFilter {
  fleet?: string;
  states?: readonly GameServerState[];
}

export type GameServerEventType = 'added' | 'modified' | 'deleted';

export interface GameServerEvent {
  type: GameServerEventType;
  /** The record after the change (for 'deleted', the last version). */
  object: GameServer;
}

/** Label that names the fleet a game server belongs to, as Agones sets it. */
export const FLEET_LABEL = 'agones.dev/fleet';
export const GAME_SERVER_SET_LABEL = 'agones.dev/gameserverset';

/**
 * Label keys (and, apart, Lists) a store indexes at most, from the first selector that asks about
 * each: selectors on others look through a larger index (their state's, or another key's).
 */
export const MAX_INDEXED_KEYS = 64;

export interface AllocateOptions {
  /** RFC 3339 time of the allocation: the server's `agones.dev/last-allocated` annotation. */
  now: string;
  /** Picks among the matches for Distributed scheduling without priorities; Math.random by default. */
  random?: () => number;
}

export interface WatchOptions {
  /**
   * Only changes of the servers this says yes to, asked as each change arrives. A listener that
   * follows a few servers says so here: the Redis store does not even decode the other changes.
   */
  only?: (name: string) => boolean;
}

export interface GameServerStore {
  get(name: string): Promise<GameServer | undefined>;
  list(filter?: GameServerFilter): Promise<GameServer[]>;
  /** Adds a new record (resourceVersion is assigned); fails with VersionConflictError if the name exists. */
  create(gs: GameServer): Promise<GameServer>;
  /**
   * Applies `mutate` to the current record and stores the result with a new resourceVersion.
   * `mutate` may throw to refuse the change (nothing is stored). Compare-and-set: a concurrent
   * change makes the store re-read and re-apply, so `mutate` must be a pure function of its input.
   * Throws GameServerNotFoundError when there is no such record.
   */
  update(name: string, mutate: (gs: GameServer) => GameServer): Promise<GameServer>;
  /**
   * Atomically selects (spec.selectors in order, as allocator/select.ts orders the matches) and
   * allocates one server (allocator/apply-allocation.ts); undefined when none matches. Never
   * allocates a server twice: concurrent calls, from any number of processes, get distinct servers.
   */
  allocate(spec: GameServerAllocationSpec, options: AllocateOptions): Promise<GameServer | undefined>;
  /** Removes the record; a no-op when it is already gone. */
  delete(name: string): Promise<void>;
  /** Calls `listener` for every later change (or those `options.only` picks), in order; returns the unsubscribe function. */
  watch(listener: (event: GameServerEvent) => void, options?: WatchOptions): () => void;
  close(): Promise<void>;
}

export function matchesFilter(gs: GameServer, filter: GameServerFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.fleet !== undefined && gs.metadata.labels[FLEET_LABEL] !== filter.fleet) return false;
  if (filter.states && !filter.states.includes(gs.status.state)) return false;
  return true;
}
