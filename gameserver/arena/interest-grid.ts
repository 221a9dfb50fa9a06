// Interest management: who each player is told about. A uniform grid over the arena, rebuilt each
// tick (everybody moves), answers "the k nearest players within r of this one" by looking at the
// 3 × 3 cells around it. A crowded server therefore sends every client a bounded snapshot, however
// many players share the arena.

export interface Positioned {
  x: number;
  y: number;
}

export class InterestGrid<T extends Positioned> {
  private readonly cells: T[][];
  private readonly columns: number;
  private readonly candidates: T[] = [];
  private readonly distances: number[] = [];
  private readonly order: number[] = [];

  constructor(
    private readonly size: number,
    private readonly cellSize: number,
  ) {
    this.columns = Math.max(1, Math.ceil(size / cellSize));
    this.cells = Array.from({ length: this.columns * this.columns }, () => []);
  }

  rebuild(items: Iterable<T>): void {
    for (const cell of this.cells) cell.length = 0;
    for (const item of items) this.cells[this.cellOf(item.x, item.y)]!.push(item);
  }

  /** Items within the cell neighbourhood of `around` (including `around` itself), unsorted. */
  *near(around: Positioned): IterableIterator<T> {
    const cx = this.column(around.x);
    const cy = this.column(around.y);
    for (let y = Math.max(0, cy - 1); y <= Math.min(this.columns - 1, cy + 1); y++) {
      for (let x = Math.max(0, cx - 1); x <= Math.min(this.columns - 1, cx + 1); x++) yield* this.cells[y * this.columns + x]!;
    }
  }

  /**
   * Fills `out` with up to `k` items nearest to `around` within `radius` (`radius` ≤ the cell
   * size), nearest first, and returns it. `out` is reused by the caller to spare allocations.
   * Runs once per player per tick: plain loops over the 3 × 3 cells (not `near`'s generator, which
   * measured about twice as slow here) and scratch arrays kept between calls.
   */
  nearest(around: Positioned, radius: number, k: number, out: T[]): T[] {
    out.length = 0;
    const r2 = radius * radius;
    const cand = this.candidates;
    const dist = this.distances;
    let n = 0;
    const cx = this.column(around.x);
    const cy = this.column(around.y);
    const last = this.columns - 1;
    for (let y = cy > 0 ? cy - 1 : 0, y1 = cy < last ? cy + 1 : last; y <= y1; y++) {
      for (let x = cx > 0 ? cx - 1 : 0, x1 = cx < last ? cx + 1 : last; x <= x1; x++) {
        const cell = this.cells[y * this.columns + x]!;
        for (let i = 0; i < cell.length; i++) {
          const item = cell[i]!;
          const dx = item.x - around.x;
          const dy = item.y - around.y;
          const d2 = dx * dx + dy * dy;
          if (d2 <= r2) {
            cand[n] = item;
            dist[n++] = d2;
          }
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
    for (let i = 0; i < m; i++) out.push(cand[order[i]!]!);
    return out;
  }

  private column(v: number): number {
    return Math.min(this.columns - 1, Math.max(0, Math.floor(v / this.cellSize)));
  }

  private cellOf(x: number, y: number): number {
    return this.column(y) * this.columns + this.column(x);
  }
}
