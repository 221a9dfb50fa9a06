import { describe, expect, it } from '@jest/globals';
import { comparePacked } from '../allocator/select.js';
import type { GameServer } from '../core/game-server.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { PackedIndex } from './packed-index.js';

function server(i: number, room: number): GameServer {
  const gs = testGameServer(`gs-${String(i).padStart(4, '0')}`);
  return { ...gs, status: { ...gs.status, players: { count: 0, capacity: room, ids: [] } } };
}

describe('PackedIndex', () => {
  it('keeps servers in packed order through adds and deletes across many chunks', () => {
    const index = new PackedIndex();
    const all = Array.from({ length: 1000 }, (_, i) => server((i * 7919) % 1000, i % 5));
    for (const gs of all) index.add(gs);
    const doomed = all.filter((_, i) => i % 3 === 0);
    for (const gs of doomed) expect(index.delete(gs)).toBe(true);
    const kept = all.filter((_, i) => i % 3 !== 0).sort(comparePacked);
    expect([...index]).toEqual(kept);
    expect(index.size).toBe(kept.length);
  });

  it('inserts before, between and after what it holds, and each walk starts at the first server', () => {
    const index = new PackedIndex();
    const all = Array.from({ length: 300 }, (_, i) => server(i, 1));
    for (const gs of [...all].reverse()) index.add(gs);
    for (const gs of all.filter((_, i) => i % 2 === 1)) index.delete(gs);
    for (const gs of all.filter((_, i) => i % 4 === 1)) index.add(gs);
    const expected = all.filter((_, i) => i % 2 === 0 || i % 4 === 1);
    for (const gs of index) {
      expect(gs).toBe(expected[0]);
      break;
    }
    expect([...index]).toEqual(expected);
    expect(Array.from(index)).toEqual(expected);
  });

  it('deletes only the very record it holds', () => {
    const index = new PackedIndex();
    const gs = server(1, 3);
    index.add(gs);
    expect(index.delete({ ...gs })).toBe(false);
    expect(index.delete(server(2, 3))).toBe(false);
    expect(index.delete(gs)).toBe(true);
    expect([...index]).toEqual([]);
    expect(index.delete(gs)).toBe(false);
  });

  it('finds each server where splits moved it, to replace it and to delete the replacement', () => {
    const index = new PackedIndex();
    const all = Array.from({ length: 500 }, (_, i) => server((i * 7919) % 500, 2));
    for (const gs of all) index.add(gs);
    const next = all.map((gs) => ({ ...gs }));
    for (const [i, gs] of all.entries()) expect(index.replace(gs, next[i]!)).toBe(true);
    expect(index.replace(all[0]!, next[0]!)).toBe(false);
    expect([...index]).toEqual([...next].sort(comparePacked));
    for (const gs of all) expect(index.delete(gs)).toBe(false);
    for (const gs of next) expect(index.delete(gs)).toBe(true);
    expect(index.size).toBe(0);
    expect([...index]).toEqual([]);
    index.add(all[3]!);
    expect([...index]).toEqual([all[3]]);
  });
});
