import type { GameServerAllocationSpec, GameServerSelector } from '../allocator/allocation.js';
import { applyAllocation } from '../allocator/apply-allocation.js';
import { comparePacked, selectInPackedOrder } from '../allocator/select.js';
import { GameServerState as S, type GameServer } from '../core/game-server.js';
import { GameServerNotFoundError, VersionConflictError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import { matchesFilter, type AllocateOptions, type GameServerEvent, type GameServerFilter, type GameServerStore } from './game-server-store.js';

/**
 * GameServerStore for one process. Updates are synchronous under the hood, so `mutate` always
 * sees the latest record and never has to be retried; listeners run after the change is stored.
 * Records handed out are frozen copies: nobody can change the store behind its back. An
 * allocation selects, applies and stores in one synchronous step, so two never interleave.
 */
export class MemoryGameServerStore implements GameServerStore {
  private readonly records = new Map<string, GameServer>();
  /**
   * The Ready and Allocated records again, in packed order, by state and by state and label: an
   * allocation looks only at the servers its selector's state and rarest matchLabel allow, and a
   * Packed one usually only at the first of them.
   */
  private readonly index = new Map<string, GameServer[]>();
  private readonly listeners = new Set<(event: GameServerEvent) => void>();
  private readonly pendingEvents: GameServerEvent[] = [];
  private delivering = false;
  private version = 0;

  async get(name: string): Promise<GameServer | undefined> {
    return this.records.get(name);
  }

  async list(filter?: GameServerFilter): Promise<GameServer[]> {
    return [...this.records.values()].filter((gs) => matchesFilter(gs, filter));
  }

  async create(gs: GameServer): Promise<GameServer> {
    const existing = this.records.get(gs.metadata.name);
    if (existing) throw new VersionConflictError(gs.metadata.name, '(new)', existing.metadata.resourceVersion);
    return this.store('added', gs);
  }

  async update(name: string, mutate: (gs: GameServer) => GameServer): Promise<GameServer> {
    const current = this.records.get(name);
    if (!current) throw new GameServerNotFoundError(name);
    const next = mutate(structuredClone(current));
    if (next.metadata.name !== name) throw new Error(`update of ${name} must not rename it to ${next.metadata.name}`);
    return this.store('modified', next);
  }

  async delete(name: string): Promise<void> {
    const current = this.records.get(name);
    if (!current) return;
    this.records.delete(name);
    this.unindex(current);
    this.emit({ type: 'deleted', object: current });
  }

  async allocate(spec: GameServerAllocationSpec, options: AllocateOptions): Promise<GameServer | undefined> {
    const selection = selectInPackedOrder(spec, (selector) => this.candidates(selector), options.random ?? Math.random);
    if (!selection) return undefined;
    // applyAllocation builds new objects around the frozen record's parts: no copy needed.
    return this.store('modified', applyAllocation(selection.gameServer, spec, options.now), { copy: false });
  }

  watch(listener: (event: GameServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private store(type: 'added' | 'modified', gs: GameServer, { copy } = { copy: true }): GameServer {
    const next = copy ? structuredClone(gs) : { ...gs, metadata: { ...gs.metadata } };
    next.metadata.resourceVersion = String(++this.version);
    const record = deepFreeze(next) as GameServer;
    const name = record.metadata.name;
    const previous = this.records.get(name);
    if (previous) this.unindex(previous);
    this.records.set(name, record);
    for (const key of indexKeys(record)) {
      let sorted = this.index.get(key);
      if (!sorted) this.index.set(key, (sorted = []));
      sorted.splice(packedPosition(sorted, record), 0, record);
    }
    this.emit({ type, object: record });
    return record;
  }

  private unindex(gs: GameServer): void {
    for (const key of indexKeys(gs)) {
      const sorted = this.index.get(key)!;
      sorted.splice(packedPosition(sorted, gs), 1);
      if (sorted.length === 0) this.index.delete(key);
    }
  }

  private candidates(selector: GameServerSelector): readonly GameServer[] {
    let smallest = this.index.get(selector.gameServerState) ?? [];
    for (const [key, value] of Object.entries(selector.matchLabels)) {
      const withLabel = this.index.get(labelIndexKey(selector.gameServerState, key, value)) ?? [];
      if (withLabel.length < smallest.length) smallest = withLabel;
    }
    return smallest;
  }

  /**
   * Delivers events in the order the changes happened, to every listener. A listener that changes
   * the store from inside its callback (the runtime turns RequestReady into Ready there) only
   * queues the new event: delivering it at once would let later listeners see Ready before
   * RequestReady.
   */
  private emit(event: GameServerEvent): void {
    this.pendingEvents.push(event);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let e = this.pendingEvents.shift(); e; e = this.pendingEvents.shift()) {
        for (const listener of this.listeners) listener(e);
      }
    } finally {
      this.delivering = false;
    }
  }
}

/** Where `gs` is, or would go, in `sorted` (packed order); names are unique, so the order is total. */
function packedPosition(sorted: readonly GameServer[], gs: GameServer): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePacked(sorted[mid]!, gs) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function indexKeys(gs: GameServer): string[] {
  const state = gs.status.state;
  if (state !== S.Ready && state !== S.Allocated) return [];
  return [state, ...Object.entries(gs.metadata.labels).map(([key, value]) => labelIndexKey(state, key, value))];
}

// NUL never occurs in a valid label; an invalid one could only add candidates, which are all checked.
function labelIndexKey(state: string, key: string, value: string): string {
  return `${state}\0${key}\0${value}`;
}
