import { encodeSnapshot, NO_TICK, type VisibleSet, type WorldFrame } from './arena-messages.js';
import type { ArenaPlayer } from './arena-world.js';

// What the server remembers to send deltas: the world's quantized state for the last `depth`
// ticks (one ring shared by every client) and, per client, which entities it was sent at each of
// those ticks. A client that acknowledges tick T gets a snapshot containing only what changed
// since T; one whose acknowledgement is older than the ring (or missing) gets a complete one.

export interface SnapshotHistoryOptions {
  /** Entity ids range over [0, maxEntities). */
  maxEntities: number;
  /** Most entities one snapshot may carry (interest management's k). */
  maxVisible: number;
  /** Ticks remembered: a client may lag this far behind and still get deltas. */
  depth?: number;
  arenaSize: number;
}

const TWO_PI = 2 * Math.PI;

export class SnapshotHistory {
  private readonly frames: WorldFrame[];
  private readonly depth: number;
  /** Ids per slot: the count, then up to maxVisible entity ids. */
  private readonly slotWidth: number;
  // Every client's last `depth` snapshots, by its player's entity e and slot s = tick % depth: the
  // tick it was built for at ticks[e·depth + s], and at ids[(e·depth + s)·slotWidth] how many
  // entities it showed, then their ids. One array of each for every client rather than an object
  // and three arrays per client: a snapshot then loads a few lines of these arrays and no object of
  // its own. Those first loads of a client's state were the largest cost of building its snapshot
  // at 1,000-1,500 players (profile, 2026-11-27).
  private readonly ticks: Uint32Array;
  private readonly ids: Uint16Array;
  private readonly out: Buffer;
  private readonly scale: number;
  /** The visible sets handed to the encoder, views of `ids` set anew for each snapshot. */
  private readonly visible: VisibleSet;
  private readonly baseVisible: VisibleSet;

  constructor(private readonly options: SnapshotHistoryOptions) {
    this.depth = options.depth ?? 32;
    const n = options.maxEntities;
    this.frames = Array.from({ length: this.depth }, () => ({ tick: NO_TICK, x: new Uint16Array(n), y: new Uint16Array(n), aim: new Uint8Array(n), score: new Uint16Array(n) }));
    this.slotWidth = 1 + options.maxVisible;
    this.ticks = new Uint32Array(n * this.depth).fill(NO_TICK);
    this.ids = new Uint16Array(n * this.depth * this.slotWidth);
    this.visible = { ids: this.ids, start: 0, count: 0 };
    this.baseVisible = { ids: this.ids, start: 0, count: 0 };
    // Room for the largest snapshot plus the encoder's scratch area for removed ids.
    this.out = Buffer.alloc(12 + options.maxVisible * 10 + 1 + 512 + 512);
    this.scale = 65535 / options.arenaSize;
  }

  /** Quantizes every player's state for `tick`; call once per tick, before building snapshots. */
  record(tick: number, players: Iterable<ArenaPlayer>): void {
    const f = this.frames[tick % this.depth]!;
    f.tick = tick;
    for (const p of players) {
      f.x[p.entity] = Math.round(p.x * this.scale);
      f.y[p.entity] = Math.round(p.y * this.scale);
      f.aim[p.entity] = Math.round((p.aim / TWO_PI) * 256) & 0xff;
      f.score[p.entity] = Math.min(p.score, 0xffff);
    }
  }

  /** Forgets what the player `self` was sent: whoever gets its entity id next starts afresh. */
  forget(self: number): void {
    this.ticks.fill(NO_TICK, self * this.depth, (self + 1) * this.depth);
  }

  /**
   * The snapshot for the player `self` at `tick` showing `visible[0, count)` (itself among them or
   * not, any order), delta-encoded against `ackTick` when the server still holds that tick. The
   * returned buffer is reused by the next call: send or copy it before building another.
   */
  build(tick: number, self: number, visible: readonly ArenaPlayer[], count: number, ackTick: number): Buffer {
    const { depth, slotWidth, ticks, ids } = this;
    const ring = self * depth;
    const slot = tick % depth;
    const set = this.visible;
    const at = (ring + slot) * slotWidth;
    set.start = at + 1;
    set.count = ids[at] = Math.min(count, this.options.maxVisible);
    sortedIds(visible, set.count, ids, set.start);
    ticks[ring + slot] = tick;

    const frame = this.frames[slot]!;
    if (ackTick !== NO_TICK && ackTick < tick && tick - ackTick < depth) {
      const baseSlot = ackTick % depth;
      if (ticks[ring + baseSlot] === ackTick && this.frames[baseSlot]!.tick === ackTick) {
        const base = this.baseVisible;
        const baseAt = (ring + baseSlot) * slotWidth;
        base.start = baseAt + 1;
        base.count = ids[baseAt]!;
        return encodeSnapshot(this.out, self, frame, set, this.frames[baseSlot]!, base);
      }
    }
    return encodeSnapshot(this.out, self, frame, set);
  }
}

/**
 * Writes the entity ids of `visible[0, count)` to `ids` from `start`, ascending, by insertion: a
 * snapshot shows a few dozen players at most, and a view plus TypedArray sort per snapshot cost
 * more (4 % of the simulation's instructions per player-tick under callgrind, 500 players).
 */
function sortedIds(visible: readonly ArenaPlayer[], count: number, ids: Uint16Array, start: number): void {
  for (let i = 0; i < count; i++) {
    const id = visible[i]!.entity;
    let j = start + i;
    for (; j > start && ids[j - 1]! > id; j--) ids[j] = ids[j - 1]!;
    ids[j] = id;
  }
}
