import type { GameServerAllocationSpec, GameServerSelector } from '../allocator/allocation.js';
import { applyAllocation } from '../allocator/apply-allocation.js';
import { comparePacked, selectInPackedOrder } from '../allocator/select.js';
import { copyMeta, GameServerState as S, type GameServer } from '../core/game-server.js';
import { GameServerNotFoundError, VersionConflictError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import { setOwn } from '../core/own-property.js';
import { matchesFilter, MAX_INDEXED_KEYS, type AllocateOptions, type GameServerEvent, type GameServerFilter, type GameServerStore, type WatchOptions } from './game-server-store.js';
import { PackedIndex } from './packed-index.js';

/**
 * GameServerStore for one process. Updates are synchronous under the hood, so `mutate` always
 * sees the latest record and never has to be retried; listeners run after the change is stored.
 * Records handed out are frozen: nobody can change the store behind its back. `mutate` gets the
 * stored record itself (frozen, so it builds its result around the record's parts), and a write
 * copies only the parts that are new, so nothing a caller still holds ends up frozen or shared.
 * An allocation selects, applies and stores in one synchronous step, so two never interleave.
 */
export class MemoryGameServerStore implements GameServerStore {
  private readonly records = new Map<string, GameServer>();
  /**
   * The Ready and Allocated records again, in packed order, by state and by state and label, and
   * those with room in each List: an allocation looks only at the servers its selector's state and
   * rarest matchLabel (or a List it needs room in) allow, and a Packed one usually only at the first
   * of them. Without the List index a backfill that finds no room scans every running match.
   * Only the label keys and Lists some selector has asked about are indexed (from the first such
   * selector on): each index costs every write a place in it, and servers carry labels no
   * selector uses (the game's, the request's own metadata), which tripled the store's share of an
   * allocation (BENCHMARKS.md, "Allocator under load").
   */
  private readonly indexes: Record<AllocatableState, StateIndex> = { Ready: newStateIndex(), Allocated: newStateIndex() };
  private readonly indexedLabels = new Set<string>();
  private readonly indexedLists = new Set<string>();
  /** Each listener, with the servers it follows (undefined: all). */
  private readonly listeners = new Map<(event: GameServerEvent) => void, WatchOptions['only']>();
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
    return this.store('added', frozenRecord(gs, this.nextVersion()));
  }

  async update(name: string, mutate: (gs: GameServer) => GameServer): Promise<GameServer> {
    const current = this.records.get(name);
    if (!current) throw new GameServerNotFoundError(name);
    const next = mutate(current);
    if (next.metadata.name !== name) throw new Error(`update of ${name} must not rename it to ${next.metadata.name}`);
    return this.store('modified', frozenRecord(next, this.nextVersion()));
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
    // applyAllocation's new parts are nobody else's: frozen where they are, not copied.
    const allocated = applyAllocation(selection.gameServer, spec, options.now);
    allocated.metadata.resourceVersion = this.nextVersion();
    return this.store('modified', deepFreeze(allocated) as GameServer);
  }

  watch(listener: (event: GameServerEvent) => void, options: WatchOptions = {}): () => void {
    this.listeners.set(listener, options.only);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private nextVersion(): string {
    return String(++this.version);
  }

  /** Stores `record`, frozen and numbered already. */
  private store(type: 'added' | 'modified', record: GameServer): GameServer {
    const previous = this.records.get(record.metadata.name);
    this.records.set(record.metadata.name, record);
    if (!previous || !this.reindexInPlace(previous, record)) {
      if (previous) this.unindex(previous);
      this.index(record);
    }
    this.emit({ type, object: record });
    return record;
  }

  private index(gs: GameServer): void {
    const index = this.stateIndex(gs);
    if (!index) return;
    index.all.add(gs);
    const labels = gs.metadata.labels;
    for (const key of this.indexedLabels) if (Object.hasOwn(labels, key)) addByLabel(index, key, gs);
    for (const key of this.indexedLists) if (hasListRoom(gs, key)) index.withListRoom.get(key)!.add(gs);
  }

  /**
   * Puts `next` in the places of `previous` when the write leaves them as they were (the same
   * state, packed order, indexed label values and List room), as most writes to a running match's
   * server do, instead of taking it out of every index and putting it back. False, having changed
   * nothing, when a place changes.
   */
  private reindexInPlace(previous: GameServer, next: GameServer): boolean {
    const index = this.stateIndex(previous);
    if (index !== this.stateIndex(next)) return false;
    if (!index) return true;
    if (comparePacked(previous, next) !== 0) return false;
    const before = previous.metadata.labels;
    const after = next.metadata.labels;
    for (const key of this.indexedLabels) if (Object.hasOwn(before, key) !== Object.hasOwn(after, key) || before[key] !== after[key]) return false;
    for (const key of this.indexedLists) if (hasListRoom(previous, key) !== hasListRoom(next, key)) return false;
    index.all.replace(previous, next);
    for (const key of this.indexedLabels) if (Object.hasOwn(before, key)) index.byLabel.get(key)!.get(before[key]!)!.replace(previous, next);
    for (const key of this.indexedLists) if (hasListRoom(previous, key)) index.withListRoom.get(key)!.replace(previous, next);
    return true;
  }

  private unindex(gs: GameServer): void {
    const index = this.stateIndex(gs);
    if (!index) return;
    index.all.delete(gs);
    const labels = gs.metadata.labels;
    for (const key of this.indexedLabels) {
      if (!Object.hasOwn(labels, key)) continue;
      const byValue = index.byLabel.get(key)!;
      const withLabel = byValue.get(labels[key]!)!;
      withLabel.delete(gs);
      if (withLabel.size === 0) byValue.delete(labels[key]!);
    }
    for (const key of this.indexedLists) if (hasListRoom(gs, key)) index.withListRoom.get(key)!.delete(gs);
  }

  /** Starts indexing label `key` (false when the bound is reached: selectors on it then scan). */
  private indexLabel(key: string): boolean {
    if (this.indexedLabels.has(key)) return true;
    if (this.indexedLabels.size >= MAX_INDEXED_KEYS) return false;
    for (const index of Object.values(this.indexes)) index.byLabel.set(key, new Map());
    this.indexedLabels.add(key);
    for (const gs of this.records.values()) {
      const index = this.stateIndex(gs);
      if (index && Object.hasOwn(gs.metadata.labels, key)) addByLabel(index, key, gs);
    }
    return true;
  }

  /** Starts indexing room in List `key` (false when the bound is reached). */
  private indexList(key: string): boolean {
    if (this.indexedLists.has(key)) return true;
    if (this.indexedLists.size >= MAX_INDEXED_KEYS) return false;
    for (const index of Object.values(this.indexes)) index.withListRoom.set(key, new PackedIndex());
    this.indexedLists.add(key);
    for (const gs of this.records.values()) if (hasListRoom(gs, key)) this.stateIndex(gs)?.withListRoom.get(key)!.add(gs);
    return true;
  }

  private stateIndex(gs: GameServer): StateIndex | undefined {
    const state = gs.status.state;
    return state === S.Ready || state === S.Allocated ? this.indexes[state] : undefined;
  }

  private candidates(selector: GameServerSelector): Iterable<GameServer> {
    const index = this.indexes[selector.gameServerState];
    let smallest = index.all;
    for (const key in selector.matchLabels) {
      if (!this.indexLabel(key)) continue;
      const withLabel = index.byLabel.get(key)!.get(selector.matchLabels[key]!);
      if (!withLabel) return [];
      if (withLabel.size < smallest.size) smallest = withLabel;
    }
    for (const key in selector.lists) {
      if (selector.lists[key]!.minAvailable < 1 || !this.indexList(key)) continue;
      const withRoom = index.withListRoom.get(key)!;
      if (withRoom.size < smallest.size) smallest = withRoom;
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
        for (const [listener, only] of this.listeners) if (!only || only(e.object.metadata.name)) listener(e);
      }
    } finally {
      this.delivering = false;
    }
  }
}

type AllocatableState = typeof S.Ready | typeof S.Allocated;

/** One state's servers in packed order: all of them, by label key and value, and by List with room. */
interface StateIndex {
  all: PackedIndex;
  byLabel: Map<string, Map<string, PackedIndex>>;
  withListRoom: Map<string, PackedIndex>;
}

function newStateIndex(): StateIndex {
  return { all: new PackedIndex(), byLabel: new Map(), withListRoom: new Map() };
}

/** Places `gs` in `index` under the value of its label `key` (which it has, and which is indexed). */
function addByLabel(index: StateIndex, key: string, gs: GameServer): void {
  const byValue = index.byLabel.get(key)!;
  const value = gs.metadata.labels[key]!;
  let withLabel = byValue.get(value);
  if (!withLabel) byValue.set(value, (withLabel = new PackedIndex()));
  withLabel.add(gs);
}

/** Whether List `key` of `gs` has room for at least one more value. */
function hasListRoom(gs: GameServer, key: string): boolean {
  const list = Object.hasOwn(gs.status.lists, key) ? gs.status.lists[key]! : undefined;
  return list !== undefined && list.capacity > list.values.length;
}

/**
 * `gs` as the store keeps it, numbered `resourceVersion` and frozen. Frozen parts are the store's
 * own (every record it keeps is frozen throughout, as core/freeze.ts freezes) and are shared; the
 * rest is new, from the caller, and copied.
 */
function frozenRecord(gs: GameServer, resourceVersion: string): GameServer {
  // Metadata the write left as it was (the store's own, frozen throughout) needs no part frozen:
  // copied as it is, without a look at each of its parts.
  const metadata = Object.isFrozen(gs.metadata) ? copyMeta(gs.metadata) : (copyOf(gs.metadata) as unknown as GameServer['metadata']);
  metadata.resourceVersion = resourceVersion;
  return Object.freeze({ metadata: Object.freeze(metadata), spec: frozen(gs.spec), status: frozen(gs.status) });
}

function frozen<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  return Object.freeze(Array.isArray(value) ? value.map(frozen) : copyOf(value)) as T;
}

/** A new object with `value`'s own properties, each frozen(). */
function copyOf(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    setOwn(out, key, frozen((value as Record<string, unknown>)[key]));
  }
  return out;
}
