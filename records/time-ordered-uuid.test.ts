import { describe, expect, it } from '@jest/globals';
import { timeOrderedUuid } from './time-ordered-uuid.js';

describe('timeOrderedUuid', () => {
  it('is a version-7 UUID whose first 48 bits are the time in milliseconds', () => {
    const ms = Date.UTC(2026, 10, 27, 7, 0, 0, 123);
    const id = timeOrderedUuid(ms);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
    expect(timeOrderedUuid(0).startsWith('00000000-0000-7')).toBe(true);
    expect(timeOrderedUuid(2 ** 50).startsWith('ffffffff-ffff-7')).toBe(true);
  });

  it('sorts by time, and never repeats within a millisecond', () => {
    const ms = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 100_000 }, (_, i) => timeOrderedUuid(ms + Math.floor(i / 1000)));
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = ids.map((id, i) => ({ id, ms: ms + Math.floor(i / 1000) })).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(sorted.filter((x, i) => i > 0 && x.ms < sorted[i - 1]!.ms)).toEqual([]);
  });
});
