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
        const visible = out.slice(0, grid.nearest(c.p, 30, 32, out));
        const bytes = Buffer.from(history.build(tick, c.p.entity, visible, visible.length, c.ack));
        const snapshot = decodeSnapshot(bytes);
        sizes += snapshot.updates.length;
        if (snapshot.baseTick === NO_TICK) fulls++;
        else deltas++;
        // 30 % of snapshots are lost on the way; the acknowledgement reaches the server a few ticks later.
        if (rnd() < 0.3) continue;
        expect(c.rx.receive(bytes)).toBe('applied');
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
    expect(decodeSnapshot(history.build(10, p.entity, [p], 1, 9)).baseTick).toBe(NO_TICK);
    history.build(11, p.entity, [p], 1, NO_TICK);
    history.record(12, world.allPlayers());
    expect(decodeSnapshot(history.build(12, p.entity, [p], 1, 11)).baseTick).toBe(NO_TICK);
    history.record(13, world.allPlayers());
    history.build(13, p.entity, [p], 1, NO_TICK);
    history.record(14, world.allPlayers());
    expect(decodeSnapshot(history.build(14, p.entity, [p], 1, 13)).baseTick).toBe(13);
    expect(decodeSnapshot(history.build(14 + 4, p.entity, [p], 1, 13)).baseTick).toBe(NO_TICK);
  });

  it('forgets what a leaving player was sent: the next holder of its entity id starts from a complete snapshot', () => {
    const rules = rulesFor(8);
    const world = new ArenaWorld(rules);
    const p = world.join('a');
    const other = world.join('b');
    const history = new SnapshotHistory({ maxEntities: 8, maxVisible: 8, arenaSize: rules.size, depth: 4 });
    for (const tick of [1, 2]) {
      history.record(tick, world.allPlayers());
      history.build(tick, p.entity, [p], 1, NO_TICK);
      history.build(tick, other.entity, [other], 1, NO_TICK);
    }
    history.forget(p.entity);
    history.record(3, world.allPlayers());
    expect(decodeSnapshot(history.build(3, p.entity, [p], 1, 2)).baseTick).toBe(NO_TICK);
    expect(decodeSnapshot(history.build(3, other.entity, [other], 1, 2)).baseTick).toBe(2);
  });

  it('a receiver refuses a delta whose base it never had, and old snapshots', () => {
    const rx = new SnapshotReceiver();
    expect(rx.receive(snapshot(5, 4, [], []))).toBe('missing-base');
    expect(rx.receive(snapshot(5, NO_TICK, [], []))).toBe('applied');
    expect(rx.receive(snapshot(5, NO_TICK, [], []))).toBe('old');
    expect(rx.ackTick).toBe(5);
  });

  it('a receiver applies removals in any order, and takes back an entity sent whole again', () => {
    const rx = new SnapshotReceiver();
    const all = (id: number, v: number) => [id, 7, v, v, v & 0xff, v];
    const state = (id: number, x: number, y: number, aim: number, score: number) => [id, { id, x, y, aim, score }] as const;
    expect(rx.receive(snapshot(1, NO_TICK, [all(2, 20), all(5, 50), all(9, 90)], []))).toBe('applied');
    expect(rx.receive(snapshot(2, 1, [[5, 1, 51, 52], all(7, 70)], [9, 2]))).toBe('applied');
    expect(rx.current).toEqual(new Map([state(5, 51, 52, 50, 50), state(7, 70, 70, 70, 70)]));
    expect(rx.receive(snapshot(3, 2, [all(2, 21)], []))).toBe('applied');
    expect(rx.current).toEqual(new Map([state(2, 21, 21, 21, 21), state(5, 51, 52, 50, 50), state(7, 70, 70, 70, 70)]));
    // A partial update for an entity the client no longer has is malformed.
    expect(() => rx.receive(snapshot(4, 3, [[9, 2, 99]], []))).toThrow('bad-field');
    expect(() => rx.receive(snapshot(4, 3, [[5, 2, 99]], [5]))).toThrow('bad-field');
    // A delta against an older state it still holds.
    expect(rx.receive(snapshot(4, 1, [[9, 4, 1]], []))).toBe('applied');
    expect(rx.current).toEqual(new Map([state(2, 20, 20, 20, 20), state(5, 50, 50, 50, 50), state(9, 90, 90, 90, 1)]));
  });

  it('a receiver refuses malformed snapshots as decodeSnapshot does, and ids out of order', () => {
    const rx = new SnapshotReceiver();
    const all = (id: number, v: number) => [id, 7, v, v, v & 0xff, v];
    const good = snapshot(1, NO_TICK, [all(2, 20), all(5, 50)], []);
    const reason = (b: Buffer) => {
      try {
        rx.receive(b);
      } catch (err) {
        return (err as { reason: string }).reason;
      }
      return 'accepted';
    };
    expect(reason(good.subarray(0, 12))).toBe('truncated');
    expect(reason(good.subarray(0, 20))).toBe('truncated');
    expect(reason(Buffer.concat([good, Buffer.from([1])]))).toBe('trailing-bytes');
    expect(reason(snapshot(1, NO_TICK, [all(5, 50), all(2, 20)], []))).toBe('bad-field');
    expect(reason(snapshot(1, NO_TICK, [[2, 8]], []))).toBe('bad-field');
    expect(reason(good)).toBe('accepted');
    expect(rx.current).toEqual(new Map([[2, { id: 2, x: 20, y: 20, aim: 20, score: 20 }], [5, { id: 5, x: 50, y: 50, aim: 50, score: 50 }]]));
  });
});

/** A snapshot message from records [id, fields, ...values in field order] and removed ids. */
function snapshot(tick: number, baseTick: number, records: number[][], removed: number[]): Buffer {
  const out: number[] = [];
  const u16 = (v: number) => out.push(v & 0xff, v >> 8);
  out.push(2, tick & 0xff, (tick >> 8) & 0xff, (tick >> 16) & 0xff, tick >>> 24);
  out.push(baseTick & 0xff, (baseTick >> 8) & 0xff, (baseTick >> 16) & 0xff, baseTick >>> 24);
  u16(0);
  out.push(records.length);
  for (const [id, fields, ...values] of records) {
    u16(id!);
    out.push(fields!);
    let v = 0;
    if (fields! & 1) (u16(values[v++]!), u16(values[v++]!));
    if (fields! & 2) out.push(values[v++]!);
    if (fields! & 4) u16(values[v++]!);
  }
  out.push(removed.length);
  for (const id of removed) u16(id);
  return Buffer.from(out);
}
