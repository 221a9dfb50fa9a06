import { describe, expect, it } from '@jest/globals';
import { decodeSnapshot, NO_TICK } from './arena-messages.js';
import { ArenaWorld, rulesFor, type ArenaPlayer } from './arena-world.js';
import { InterestGrid } from './interest-grid.js';
import { SnapshotHistory } from './snapshot-history.js';
import { SnapshotReceiver } from './snapshot-receiver.js';

describe('delta snapshots end to end', () => {
  it('every client reconstructs exactly what it sees, through loss and late acks', () => {
    const rules = rulesFor(300);
    const world = new ArenaWorld(rules, 3);
    const players = Array.from({ length: 300 }, (_, i) => world.join(`p${i}`));
    const grid = new InterestGrid<ArenaPlayer>(rules.size, 30);
    const history = new SnapshotHistory({ maxEntities: 300, maxVisible: 32, arenaSize: rules.size });
    const clients = players.slice(0, 25).map((p) => ({ p, rx: new SnapshotReceiver(), ack: NO_TICK, pendingAck: [] as number[] }));
    let seed = 11;
    const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    let deltas = 0;
    let fulls = 0;
    let sizes = 0;
    const out: ArenaPlayer[] = [];
    for (let tick = 1; tick <= 300; tick++) {
      for (const p of players) world.applyInput(p.entity, { sequence: tick, moveX: Math.round(rnd() * 254 - 127), moveY: Math.round(rnd() * 254 - 127), aim: rnd() * 6.28, buttons: rnd() < 0.05 ? 1 : 0 });
      grid.rebuild(world.allPlayers());
      world.step(1 / 30, (p) => grid.near(p));
      history.record(tick, world.allPlayers());
      for (const c of clients) {
        const visible = grid.nearest(c.p, 30, 32, out);
        const snapshot = decodeSnapshot(Buffer.from(history.build(c.p.entity, tick, c.p.entity, visible, c.ack)));
        sizes += snapshot.updates.length;
        if (snapshot.baseTick === NO_TICK) fulls++;
        else deltas++;
        // 30 % of snapshots are lost on the way; the acknowledgement reaches the server a few ticks later.
        if (rnd() < 0.3) continue;
        expect(c.rx.receive(snapshot)).toBe('applied');
        const scale = 65535 / rules.size;
        const truth = new Map(visible.map((p) => [p.entity, { id: p.entity, x: Math.round(p.x * scale), y: Math.round(p.y * scale), aim: Math.round((p.aim / (2 * Math.PI)) * 256) & 0xff, score: p.score }]));
        expect(c.rx.current).toEqual(truth);
        c.pendingAck.push(c.rx.ackTick);
        if (c.pendingAck.length > 3) c.ack = c.pendingAck.shift()!;
      }
    }
    expect(deltas).toBeGreaterThan(fulls * 10);
    expect(sizes / (deltas + fulls)).toBeLessThan(32);
  });

  it('falls back to a complete snapshot when the acknowledged tick is older than the history', () => {
    const rules = rulesFor(8);
    const world = new ArenaWorld(rules);
    const p = world.join('a');
    const history = new SnapshotHistory({ maxEntities: 8, maxVisible: 8, arenaSize: rules.size, depth: 4 });
    for (let tick = 1; tick <= 10; tick++) history.record(tick, world.allPlayers());
    expect(decodeSnapshot(history.build(0, 10, p.entity, [p], 9)).baseTick).toBe(NO_TICK);
    history.build(0, 11, p.entity, [p], NO_TICK);
    history.record(12, world.allPlayers());
    expect(decodeSnapshot(history.build(0, 12, p.entity, [p], 11)).baseTick).toBe(NO_TICK);
    history.record(13, world.allPlayers());
    history.build(0, 13, p.entity, [p], NO_TICK);
    history.record(14, world.allPlayers());
    expect(decodeSnapshot(history.build(0, 14, p.entity, [p], 13)).baseTick).toBe(13);
    expect(decodeSnapshot(history.build(0, 14 + 4, p.entity, [p], 13)).baseTick).toBe(NO_TICK);
  });

  it('a receiver refuses a delta whose base it never had, and old snapshots', () => {
    const rx = new SnapshotReceiver();
    expect(rx.receive({ tick: 5, baseTick: 4, self: 0, updates: [], removed: [] })).toBe('missing-base');
    expect(rx.receive({ tick: 5, baseTick: NO_TICK, self: 0, updates: [], removed: [] })).toBe('applied');
    expect(rx.receive({ tick: 5, baseTick: NO_TICK, self: 0, updates: [], removed: [] })).toBe('old');
    expect(rx.ackTick).toBe(5);
  });
});
