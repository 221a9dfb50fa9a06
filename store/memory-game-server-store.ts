import type { GameServer } from '../core/game-server.js';
import { GameServerNotFoundError, VersionConflictError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import { matchesFilter, type GameServerEvent, type GameServerFilter, type GameServerStore } from './game-server-store.js';

/**
 * GameServerStore for one process. Updates are synchronous under the hood, so `mutate` always
 * sees the latest record and never has to be retried; listeners run after the change is stored.
 * Records handed out are frozen copies: nobody can change the store behind its back.
 */
export class MemoryGameServerStore implements GameServerStore {
  private readonly records = new Map<string, GameServer>();
  private readonly listeners = new Set<(event: GameServerEvent) => void>();
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
    this.emit({ type: 'deleted', object: current });
  }

  watch(listener: (event: GameServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private store(type: 'added' | 'modified', gs: GameServer): GameServer {
    const copy = structuredClone(gs);
    copy.metadata.resourceVersion = String(++this.version);
    const record = deepFreeze(copy) as GameServer;
    this.records.set(record.metadata.name, record);
    this.emit({ type, object: record });
    return record;
  }

  private emit(event: GameServerEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
