import { describe, expect, it } from '@jest/globals';
import { warmUpArena } from './arena-warm-up.js';
import { rulesFor } from './arena-world.js';

describe('warmUpArena', () => {
  const options = { rules: rulesFor(10, { matchSeconds: 300, scoreLimit: 25 }), tickRate: 30, maxPlayers: 10, seed: 7 };

  it('plays its phantoms through every tick with inputs the game accepts, at most the capacity of them', () => {
    const w = warmUpArena(options, 64);
    expect(w.players).toBe(10);
    expect(w.dropped).toBe(0);
    expect(w.snapshots).toBe(10 * 30);
  });

  it('does nothing when asked for no players', () => {
    expect(warmUpArena(options, 0)).toMatchObject({ players: 0, snapshots: 0 });
  });
});
