import { describe, expect, it } from '@jest/globals';
import { formatAge, renderTable } from './format.js';

describe('formatAge', () => {
  const cases: Array<{ ms: number; age: string }> = [
    { ms: 0, age: '0s' },
    { ms: 999, age: '0s' },
    { ms: 12_000, age: '12s' },
    { ms: 59_999, age: '59s' },
    { ms: 60_000, age: '1m' },
    { ms: 184_000, age: '3m4s' },
    { ms: 3_600_000, age: '1h' },
    { ms: 2 * 3_600_000 + 60_000 + 59_000, age: '2h1m' },
    { ms: 26 * 3_600_000, age: '1d2h' },
    { ms: 3 * 86_400_000, age: '3d' },
    // A clock a little behind the stack's: not a negative age.
    { ms: -1500, age: '0s' },
    { ms: Number.NaN, age: '-' },
  ];
  for (const c of cases) it(`${c.ms} ms is ${c.age}`, () => expect(formatAge(c.ms)).toBe(c.age));
});

describe('renderTable', () => {
  it('pads each column to its widest cell, right-aligns numbers, leaves no trailing spaces', () => {
    const lines = renderTable(
      [{ header: 'NAME' }, { header: 'N', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1', ''],
        ['longer-name', '120', 'x'],
      ],
    );
    expect(lines).toEqual(['NAME           N  NOTE', 'a              1', 'longer-name  120  x']);
  });
});

