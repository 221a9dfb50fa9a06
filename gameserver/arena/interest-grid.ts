// Interest management: who each player is told about. A uniform grid over the arena, rebuilt each
// tick (everybody moves), answers "the k nearest players within r of this one" by looking at the
// 3 × 3 cells around it. A crowded server therefore sends every client a bounded snapshot, however
// many players share the arena.

export interface Positioned {
  x: number;
  y: number;
}

export class InterestGrid<T extends Positioned> {
  // The items sorted by cell each rebuild (a counting sort, stable): cell c holds
  // sorted[cellStart[c], cellStart[c + 1]), their coordinates copied beside them into xs and ys. A
  // query reads those arrays, a few runs of adjacent entries (the cells of one row of the 3 × 3 are
  // neighbours), rather than each candidate's object: those were a cache miss per candidate, the
  // largest cost of the query at 1,000-1,500 players (profile, 2026-11-27). Arrays keep their length
  // and grow by doubling, so a rebuild allocates nothing once the arena is full.
  private readonly columns: number;
  private readonly cellStart: Uint32Array;
  private readonly sorted: T[] = [];
  private xs = new Float64Array(64);
  private ys = new Float64Array(64);
  /** Scratch of the rebuild: the items in the order given, and each one's cell. */
  private readonly unsorted: T[] = [];
  private cellOfItem = new Uint32Array(64);
  private readonly candidates: number[] = [];
  private readonly distances: number[] = [];
  private readonly order: number[] = [];

  constructor(
    size: number,
    private readonly cellSize: number,
  ) {
    this.columns = Math.max(1, Math.ceil(size / cellSize));
    this.cellStart = new Uint32Array(this.columns * this.columns + 1);
  }

  rebuild(items: Iterable<T>): void {
    const counts = this.cellStart;
    counts.fill(0);
    let n = 0;
    for (const item of items) {
      if (n === this.cellOfItem.length) this.grow();
      const c = this.cellOf(item.x, item.y);
      this.unsorted[n] = item;
      this.cellOfItem[n++] = c;
      counts[c + 1]!++;
    }
    for (let c = 1; c < counts.length; c++) counts[c]! += counts[c - 1]!;
    // Places each item at its cell's next free entry, counting cellStart up as it goes, then shifts
    // the counts back down one cell: cellStart[c] is again where cell c begins.
    const { unsorted, cellOfItem, sorted, xs, ys } = this;
    for (let i = 0; i < n; i++) {
      const item = unsorted[i]!;
      const at = counts[cellOfItem[i]!]!++;
      sorted[at] = item;
      xs[at] = item.x;
      ys[at] = item.y;
    }
    for (let c = counts.length - 1; c > 0; c--) counts[c] = counts[c - 1]!;
    counts[0] = 0;
  }

  /** Items within the cell neighbourhood of `around` (including `around` itself), unsorted. */
  *near(around: Positioned): IterableIterator<T> {
    const cx = this.column(around.x);
    const cy = this.column(around.y);
    const x0 = Math.max(0, cx - 1);
    const x1 = Math.min(this.columns - 1, cx + 1);
    for (let y = Math.max(0, cy - 1); y <= Math.min(this.columns - 1, cy + 1); y++) {
      const row = y * this.columns;
      for (let i = this.cellStart[row + x0]!, end = this.cellStart[row + x1 + 1]!; i < end; i++) yield this.sorted[i]!;
    }
  }

  /**
   * Writes the up to `k` items nearest to `around` within `radius` (`radius` ≤ the cell size),
   * nearest first, to `out[0, n)` and returns n; `out`, kept by the caller, is not truncated.
   * Runs once per player per tick: plain loops over the 3 × 3 cells (not `near`'s generator, which
   * measured about twice as slow here) and scratch arrays kept between calls.
   */
  nearest(around: Positioned, radius: number, k: number, out: T[]): number {
    const r2 = radius * radius;
    const cand = this.candidates;
    const dist = this.distances;
    const { xs, ys, cellStart } = this;
    const ax = around.x;
    const ay = around.y;
    let n = 0;
    const cx = this.column(ax);
    const cy = this.column(ay);
    const last = this.columns - 1;
    const x0 = cx > 0 ? cx - 1 : 0;
    const x1 = cx < last ? cx + 1 : last;
    for (let y = cy > 0 ? cy - 1 : 0, y1 = cy < last ? cy + 1 : last; y <= y1; y++) {
      const row = y * this.columns;
      for (let i = cellStart[row + x0]!, end = cellStart[row + x1 + 1]!; i < end; i++) {
        const dx = xs[i]! - ax;
        const dy = ys[i]! - ay;
        const d2 = dx * dx + dy * dy;
        if (d2 <= r2) {
          cand[n] = i;
          dist[n++] = d2;
        }
      }
    }
    // Selection of the k smallest by insertion: k is small (tens), so this beats a sort. Equal
    // distances keep the order the cells were visited in.
    const order = this.order;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const d = dist[i]!;
      if (m === k && d >= dist[order[k - 1]!]!) continue;
      let j = m < k ? m++ : k - 1;
      while (j > 0 && dist[order[j - 1]!]! > d) {
        order[j] = order[j - 1]!;
        j--;
      }
      order[j] = i;
    }
    for (let i = 0; i < m; i++) out[i] = this.sorted[cand[order[i]!]!]!;
    return m;
  }

  private grow(): void {
    const size = this.cellOfItem.length * 2;
    const cellOfItem = new Uint32Array(size);
    cellOfItem.set(this.cellOfItem);
    this.cellOfItem = cellOfItem;
    this.xs = new Float64Array(size);
    this.ys = new Float64Array(size);
  }

  private column(v: number): number {
    return Math.min(this.columns - 1, Math.max(0, Math.floor(v / this.cellSize)));
  }

  private cellOf(x: number, y: number): number {
    return this.column(y) * this.columns + this.column(x);
  }
}
