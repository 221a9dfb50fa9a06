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

// One client's last `depth` snapshots: the tick each slot was built for, and the entities it was
// sent then, slot s in ids[s * maxVisible, s * maxVisible + counts[s]). Three arrays per client
// rather than an object and an array per slot, so a snapshot reads its few ids from one block.
interface ClientRing {
  ticks: Uint32Array;
  counts: Uint16Array;
  ids: Uint16Array;
}

const TWO_PI = 2 * Math.PI;

export class SnapshotHistory {
  private readonly frames: WorldFrame[];
  private readonly depth: number;
  private readonly clients = new Map<number, ClientRing>();
  private readonly out: Buffer;
  private readonly scale: number;
  /** The visible sets handed to the encoder, views of a client's ring set anew for each snapshot. */
  private readonly visible: VisibleSet = { ids: new Uint16Array(0), start: 0, count: 0 };
  private readonly baseVisible: VisibleSet = { ids: new Uint16Array(0), start: 0, count: 0 };

  constructor(private readonly options: SnapshotHistoryOptions) {
    this.depth = options.depth ?? 32;
    const n = options.maxEntities;
    this.frames = Array.from({ length: this.depth }, () => ({ tick: NO_TICK, x: new Uint16Array(n), y: new Uint16Array(n), aim: new Uint8Array(n), score: new Uint16Array(n) }));
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

  forget(client: number): void {
    this.clients.delete(client);
  }

  /**
   * The snapshot for `client` at `tick` showing `visible[0, count)` (its own player first or not,
   * any order), delta-encoded against `ackTick` when the server still holds that tick. The
   * returned buffer is reused by the next call: send or copy it before building another.
   */
  build(client: number, tick: number, self: number, visible: readonly ArenaPlayer[], count: number, ackTick: number): Buffer {
    const { depth } = this;
    const { maxVisible } = this.options;
    let ring = this.clients.get(client);
    if (!ring) {
      ring = { ticks: new Uint32Array(depth).fill(NO_TICK), counts: new Uint16Array(depth), ids: new Uint16Array(depth * maxVisible) };
      this.clients.set(client, ring);
    }
    const slot = tick % depth;
    const set = this.visible;
    set.ids = ring.ids;
    set.start = slot * maxVisible;
    set.count = ring.counts[slot] = Math.min(count, maxVisible);
    sortedIds(visible, set.count, ring.ids, set.start);
    ring.ticks[slot] = tick;

    const frame = this.frames[slot]!;
    if (ackTick !== NO_TICK && ackTick < tick && tick - ackTick < depth) {
      const baseSlot = ackTick % depth;
      if (ring.ticks[baseSlot] === ackTick && this.frames[baseSlot]!.tick === ackTick) {
        const base = this.baseVisible;
        base.ids = ring.ids;
        base.start = baseSlot * maxVisible;
        base.count = ring.counts[baseSlot]!;
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
