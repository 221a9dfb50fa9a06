import { describe, expect, it } from '@jest/globals';
import { InterestGrid } from './interest-grid.js';

describe('InterestGrid', () => {
  it('finds the k nearest within the radius, nearest first, as a brute-force search does', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const items = Array.from({ length: 2000 }, (_, id) => ({ id, x: rnd() * 500, y: rnd() * 500 }));
    const grid = new InterestGrid<(typeof items)[number]>(500, 25);
    grid.rebuild(items);
    const out: typeof items = [];
    for (const around of items.slice(0, 200)) {
      const expected = items
        .map((it) => ({ it, d: (it.x - around.x) ** 2 + (it.y - around.y) ** 2 }))
        .filter((c) => c.d <= 25 * 25)
        .sort((a, b) => a.d - b.d || 0)
        .slice(0, 16)
        .map((c) => c.d);
      const got = out.slice(0, grid.nearest(around, 25, 16, out)).map((it) => (it.x - around.x) ** 2 + (it.y - around.y) ** 2);
      expect(got).toEqual(expected);
    }
  });

  it('handles the arena edges and an empty grid', () => {
    const grid = new InterestGrid<{ x: number; y: number }>(100, 10);
    grid.rebuild([]);
    expect(grid.nearest({ x: 0, y: 0 }, 10, 4, [])).toBe(0);
    const corner = { x: 100, y: 100 };
    grid.rebuild([corner, { x: 95, y: 99 }]);
    const out = [{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: 3 }];
    expect(grid.nearest(corner, 10, 4, out)).toBe(2);
    expect(out.slice(0, 2)).toEqual([corner, { x: 95, y: 99 }]);
  });
});
