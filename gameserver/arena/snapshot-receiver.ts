import { ALL_FIELDS, ArenaMessageError, EntityField, MessageType, NO_TICK, readU16LE, type EntityState } from './arena-messages.js';

// The client's side of delta snapshots: it keeps the states it reconstructed for recent ticks, so
// a delta against any of them can be applied, and acknowledges the newest one in its inputs.
//
// It reads a snapshot's bytes straight into a ring of typed arrays, one slot per tick kept, and
// allocates nothing per snapshot: a bot process receives a snapshot per bot per tick, and decoding
// each into objects and copying a Map of entity states per tick (kept for 32 ticks, so much of it
// outlived scavenges) took ~5 % of the bots' busy CPU at 800 bots, plus the GC. The checks are
// decodeSnapshot's (MESSAGES.md), and entity ids must ascend as the format says.

export type ReceiveOutcome = 'applied' | 'old' | 'missing-base';

/** Entities one state holds: a snapshot's count is a u8, and so is its removal count. */
const MAX_ENTITIES = 255;

export class SnapshotReceiver {
  private readonly slotTick: Float64Array;
  private readonly count: Uint16Array;
  // Entity states of every slot, slot s at [s·MAX_ENTITIES, (s+1)·MAX_ENTITIES), ids ascending.
  private readonly id: Uint16Array;
  private readonly x: Uint16Array;
  private readonly y: Uint16Array;
  private readonly aim: Uint8Array;
  private readonly score: Uint16Array;
  private readonly removed = new Uint16Array(MAX_ENTITIES);
  private removedCursor = 0;
  private newest = NO_TICK;

  constructor(private readonly depth = 32) {
    this.slotTick = new Float64Array(depth).fill(NO_TICK);
    this.count = new Uint16Array(depth);
    this.id = new Uint16Array(depth * MAX_ENTITIES);
    this.x = new Uint16Array(depth * MAX_ENTITIES);
    this.y = new Uint16Array(depth * MAX_ENTITIES);
    this.aim = new Uint8Array(depth * MAX_ENTITIES);
    this.score = new Uint16Array(depth * MAX_ENTITIES);
  }

  /** The tick to acknowledge (NO_TICK before the first snapshot). */
  get ackTick(): number {
    return this.newest;
  }

  /** The entities as of the newest snapshot (built on demand, for tests and tools). */
  get current(): ReadonlyMap<number, EntityState> {
    const states = new Map<number, EntityState>();
    if (this.newest === NO_TICK) return states;
    const slot = this.newest % this.depth;
    for (let i = slot * MAX_ENTITIES, end = i + this.count[slot]!; i < end; i++) {
      states.set(this.id[i]!, { id: this.id[i]!, x: this.x[i]!, y: this.y[i]!, aim: this.aim[i]!, score: this.score[i]! });
    }
    return states;
  }

  /** Applies one snapshot message; throws ArenaMessageError when it is malformed. */
  receive(b: Buffer): ReceiveOutcome {
    if (b.length < 13) throw new ArenaMessageError('truncated');
    if (b[0] !== MessageType.Snapshot) throw new ArenaMessageError('bad-type');
    const tick = b.readUInt32LE(1);
    const baseTick = b.readUInt32LE(5);
    if (this.newest !== NO_TICK && tick <= this.newest) return 'old';
    let base = -1;
    if (baseTick !== NO_TICK) {
      base = baseTick % this.depth;
      if (this.slotTick[base] !== baseTick || baseTick + this.depth <= tick) return 'missing-base';
    }
    const slot = tick % this.depth;
    this.slotTick[slot] = NO_TICK; // overwritten below; valid again only once all of it checked out
    // The framing is checked here, so the reads below (readU16LE) need no bounds checks of their own.
    const removedAt = this.skipUpdates(b);
    const removedCount = b[removedAt]!;
    if (removedAt + 1 + removedCount * 2 > b.length) throw new ArenaMessageError('truncated');
    if (removedAt + 1 + removedCount * 2 !== b.length) throw new ArenaMessageError('trailing-bytes');
    // Removed ids, sorted (the format does not order them; they are few).
    for (let i = 0; i < removedCount; i++) {
      const id = readU16LE(b, removedAt + 1 + 2 * i);
      let j = i;
      for (; j > 0 && this.removed[j - 1]! > id; j--) this.removed[j] = this.removed[j - 1]!;
      this.removed[j] = id;
    }

    // Merge the base's entities (less the removed) with the updates, both in ascending id order.
    const baseEnd = base < 0 ? 0 : base * MAX_ENTITIES + this.count[base]!;
    let bi = base < 0 ? 0 : base * MAX_ENTITIES;
    let out = slot * MAX_ENTITIES;
    const outEnd = out + MAX_ENTITIES;
    this.removedCursor = 0;
    let previous = -1;
    for (let i = 0, o = 12, count = b[11]!; i < count; i++) {
      const id = readU16LE(b, o);
      const fields = b[o + 2]!;
      o += 3;
      if (id <= previous) throw new ArenaMessageError('bad-field');
      previous = id;
      for (; bi < baseEnd && this.id[bi]! < id; bi++) if (!this.isRemoved(this.id[bi]!, removedCount)) out = this.copy(bi, out, outEnd);
      if (bi < baseEnd && this.id[bi] === id && !this.isRemoved(id, removedCount)) {
        out = this.copy(bi, out, outEnd);
      } else {
        // New to the client (or removed and back): it must come whole.
        if (fields !== ALL_FIELDS) throw new ArenaMessageError('bad-field');
        if (out === outEnd) throw new ArenaMessageError('too-many');
        this.id[out++] = id;
      }
      if (bi < baseEnd && this.id[bi] === id) bi++;
      const at = out - 1;
      if (fields & EntityField.Position) {
        this.x[at] = readU16LE(b, o);
        this.y[at] = readU16LE(b, o + 2);
        o += 4;
      }
      if (fields & EntityField.Aim) this.aim[at] = b[o++]!;
      if (fields & EntityField.Score) {
        this.score[at] = readU16LE(b, o);
        o += 2;
      }
    }
    for (; bi < baseEnd; bi++) if (!this.isRemoved(this.id[bi]!, removedCount)) out = this.copy(bi, out, outEnd);
    this.count[slot] = out - slot * MAX_ENTITIES;
    this.slotTick[slot] = tick;
    this.newest = tick;
    return 'applied';
  }

  /** Whether `id` is among the sorted removed ids; asked in ascending id order within one snapshot. */
  private isRemoved(id: number, removedCount: number): boolean {
    while (this.removedCursor < removedCount && this.removed[this.removedCursor]! < id) this.removedCursor++;
    return this.removedCursor < removedCount && this.removed[this.removedCursor] === id;
  }

  /** Copies entity `from` of the base to `to`; returns the next free index. */
  private copy(from: number, to: number, end: number): number {
    if (to === end) throw new ArenaMessageError('too-many');
    this.id[to] = this.id[from]!;
    this.x[to] = this.x[from]!;
    this.y[to] = this.y[from]!;
    this.aim[to] = this.aim[from]!;
    this.score[to] = this.score[from]!;
    return to + 1;
  }

  /** Checks the entity records' framing; returns the offset of the removal count. */
  private skipUpdates(b: Buffer): number {
    let o = 12;
    for (let i = 0, count = b[11]!; i < count; i++) {
      if (o + 3 > b.length) throw new ArenaMessageError('truncated');
      const fields = b[o + 2]!;
      if (fields === 0 || (fields & ~ALL_FIELDS) !== 0) throw new ArenaMessageError('bad-field');
      o += 3 + (fields & EntityField.Position ? 4 : 0) + (fields & EntityField.Aim ? 1 : 0) + (fields & EntityField.Score ? 2 : 0);
    }
    if (o + 1 > b.length) throw new ArenaMessageError('truncated');
    return o;
  }
}
