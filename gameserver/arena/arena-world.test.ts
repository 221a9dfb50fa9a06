import { describe, expect, it } from '@jest/globals';
import { ArenaWorld, Button, rulesFor, type ArenaPlayer } from './arena-world.js';

const everyone = (world: ArenaWorld) => (_: ArenaPlayer) => world.allPlayers();
const input = (sequence: number, over: Partial<{ moveX: number; moveY: number; aim: number; buttons: number }> = {}) => ({ sequence, moveX: 0, moveY: 0, aim: 0, buttons: 0, ...over });

describe('ArenaWorld', () => {
  it('sizes the arena to the crowd', () => {
    expect(rulesFor(8).size).toBe(60);
    expect(rulesFor(5000).size).toBe(Math.ceil(Math.sqrt(625) * 60));
  });

  it('never lets a player move faster than the maximum speed, diagonals included', () => {
    const world = new ArenaWorld(rulesFor(8, { size: 1000 }));
    const p = world.join('a');
    p.x = 500;
    p.y = 500;
    expect(world.applyInput(p.entity, input(1, { moveX: 127, moveY: 127 }))).toBe('applied');
    world.step(1, everyone(world));
    expect(Math.hypot(p.x - 500, p.y - 500)).toBeCloseTo(world.rules.maxSpeed, 6);
  });

  it('keeps players inside the arena', () => {
    const world = new ArenaWorld(rulesFor(8));
    const p = world.join('a');
    world.applyInput(p.entity, input(1, { moveX: -127 }));
    for (let i = 0; i < 100; i++) world.step(1, everyone(world));
    expect(p.x).toBe(0);
  });

  it('drops stale, impossible and unknown inputs and says why', () => {
    const world = new ArenaWorld(rulesFor(8));
    const p = world.join('a');
    expect(world.applyInput(p.entity, input(5, { moveX: 10 }))).toBe('applied');
    expect(world.applyInput(p.entity, input(5, { moveX: 99 }))).toBe('stale');
    expect(world.applyInput(p.entity, input(4))).toBe('stale');
    expect(world.applyInput(p.entity, input(6, { moveX: 128 }))).toBe('out-of-range');
    expect(world.applyInput(p.entity, input(6, { moveY: 1.5 }))).toBe('out-of-range');
    expect(world.applyInput(p.entity, input(6, { aim: 7 }))).toBe('out-of-range');
    expect(world.applyInput(p.entity, input(6, { aim: Number.NaN }))).toBe('out-of-range');
    expect(world.applyInput(p.entity, input(6, { buttons: 0x80 }))).toBe('unknown-buttons');
    expect(world.applyInput(999, input(7))).toBe('no-such-player');
    expect(p.moveX).toBe(10);
  });

  it('scores a hit on the nearest player in the cone and respawns the target; the cooldown holds the next shot', () => {
    const world = new ArenaWorld(rulesFor(8, { size: 100 }));
    const shooter = world.join('shooter');
    const near = world.join('near');
    const far = world.join('far');
    const aside = world.join('aside');
    Object.assign(shooter, { x: 10, y: 50 });
    Object.assign(near, { x: 15, y: 50 });
    Object.assign(far, { x: 20, y: 50 });
    Object.assign(aside, { x: 10, y: 55 });
    world.applyInput(shooter.entity, input(1, { buttons: Button.Fire }));
    const hits = world.step(0.01, everyone(world));
    expect(hits).toEqual([{ shooter: shooter.entity, target: near.entity }]);
    expect(shooter.score).toBe(1);
    expect(near.deaths).toBe(1);
    Object.assign(near, { x: 15, y: 50 });
    expect(world.step(0.01, everyone(world))).toEqual([]);
  });

  it('ends at the score limit with the winner, or at the time limit', () => {
    const world = new ArenaWorld(rulesFor(8, { size: 100, scoreLimit: 2, shotCooldown: 0 }));
    const a = world.join('a');
    const b = world.join('b');
    world.applyInput(a.entity, input(1, { buttons: Button.Fire }));
    for (let i = 0; i < 2; i++) {
      Object.assign(a, { x: 10, y: 50 });
      Object.assign(b, { x: 12, y: 50 });
      world.step(0.01, everyone(world));
    }
    expect(world.result).toMatchObject({ reason: 'score-limit', winner: 'a', scores: [{ playerId: 'a', score: 2, deaths: 0 }, { playerId: 'b', score: 0, deaths: 2 }] });
    expect(world.step(1, everyone(world))).toEqual([]);

    const timed = new ArenaWorld(rulesFor(8, { matchSeconds: 1 }));
    timed.join('x');
    timed.join('y');
    for (let i = 0; i < 30; i++) timed.step(1 / 30, everyone(timed));
    expect(timed.result).toMatchObject({ reason: 'time', winner: null });
  });

  it('reports how long a match lasted in whole milliseconds, not the float sum of its ticks', () => {
    const world = new ArenaWorld(rulesFor(8));
    world.join('a');
    for (let i = 0; i < 105; i++) world.step(1 / 30, everyone(world));
    expect(world.end('empty').durationSeconds).toBe(3.5);
  });

  it('replays identically from the same seed and reuses entity ids', () => {
    const run = () => {
      const w = new ArenaWorld(rulesFor(8), 42);
      return [w.join('a'), w.join('b')].map((p) => [p.x, p.y]);
    };
    expect(run()).toEqual(run());
    const world = new ArenaWorld(rulesFor(8));
    const a = world.join('a');
    world.leave(a.entity);
    expect(world.join('b').entity).toBe(a.entity);
  });
});
