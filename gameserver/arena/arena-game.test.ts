import { describe, expect, it } from '@jest/globals';
import { decodeEvent, decodeSnapshot, encodeInput, EventKind, MessageType, NO_TICK } from './arena-messages.js';
import { ArenaGame, type Channel, type GameNetwork } from './arena-game.js';
import { rulesFor } from './arena-world.js';

class RecordingNetwork implements GameNetwork {
  sent: Array<{ client: number; channel: Channel; payload: Buffer }> = [];
  dropped: number[] = [];
  send(client: number, channel: Channel, payload: Buffer): void {
    this.sent.push({ client, channel, payload: Buffer.from(payload) });
  }
  disconnect(client: number): void {
    this.dropped.push(client);
  }
  take(client: number, type: number) {
    const mine = this.sent.filter((m) => m.client === client && m.payload[0] === type);
    this.sent = this.sent.filter((m) => !mine.includes(m));
    return mine;
  }
}

describe('ArenaGame', () => {
  const input = (sequence: number, ackTick = NO_TICK, buttons = 0) => encodeInput({ sequence, ackTick, moveX: 127, moveY: 0, aim: 0, buttons });

  it('welcomes a player, sends a snapshot every tick, and deltas against the acknowledged one', () => {
    const net = new RecordingNetwork();
    const game = new ArenaGame({ rules: rulesFor(8), tickRate: 30, network: net, maxPlayers: 8 });
    expect(game.connect(7, 'alice')).toBe(true);
    expect(game.connect(8, 'alice')).toBe(false);
    const [welcome] = net.take(7, MessageType.Event);
    expect(welcome!.channel).toBe('reliable');
    expect(decodeEvent(welcome!.payload)).toMatchObject({ kind: EventKind.Welcome, self: 0, tickRate: 30 });
    game.tick(1, 1 / 30);
    const [first] = net.take(7, MessageType.Snapshot);
    expect(first!.channel).toBe('unreliable');
    expect(decodeSnapshot(first!.payload)).toMatchObject({ tick: 1, baseTick: NO_TICK, self: 0 });
    game.message(7, input(1, 1));
    game.tick(2, 1 / 30);
    const delta = decodeSnapshot(net.take(7, MessageType.Snapshot)[0]!.payload);
    expect(delta.baseTick).toBe(1);
    expect(delta.updates).toEqual([{ id: 0, fields: 1, x: expect.any(Number), y: expect.any(Number) }]);
  });

  it("shows a player hit and respawned far away its own entity at its new place in that tick's snapshot", () => {
    const net = new RecordingNetwork();
    const game = new ArenaGame({ rules: rulesFor(100), tickRate: 30, network: net, maxPlayers: 8, seed: 7 });
    game.connect(1, 'shooter');
    game.connect(2, 'target');
    const [shooter, target] = [...game.world.allPlayers()];
    [shooter!.x, shooter!.y, target!.x, target!.y] = [5, 5, 10, 5];
    game.message(1, encodeInput({ sequence: 1, ackTick: NO_TICK, moveX: 0, moveY: 0, aim: 0, buttons: 1 }));
    game.tick(1, 1 / 30);
    expect(net.take(2, MessageType.Event).map((m) => decodeEvent(m.payload))).toContainEqual({ kind: EventKind.Hit, shooter: 0, target: 1 });
    // Respawned out of sight of its old place, where the interest grid still had it.
    expect(Math.hypot(target!.x - 10, target!.y - 5)).toBeGreaterThan(2 * 30 * Math.SQRT2);
    const seen = decodeSnapshot(net.take(2, MessageType.Snapshot)[0]!.payload);
    expect(seen.self).toBe(1);
    expect(seen.updates.map((u) => u.id)).toEqual([1]);
  });

  it('drops malformed, stale and unexpected messages with their reason, and ignores an ack from the future', () => {
    const drops: string[] = [];
    const net = new RecordingNetwork();
    const game = new ArenaGame({ rules: rulesFor(8), tickRate: 30, network: net, maxPlayers: 8, onDrop: (r) => drops.push(r) });
    game.connect(1, 'a');
    game.tick(1, 1 / 30);
    game.message(1, input(5, 999));
    game.message(1, input(5));
    game.message(1, input(6).subarray(0, 5));
    game.message(1, Buffer.from([MessageType.Snapshot]));
    game.message(42, input(9));
    expect(drops).toEqual(['stale', 'truncated', 'unexpected-message']);
    net.sent = [];
    game.tick(2, 1 / 30);
    expect(decodeSnapshot(net.take(1, MessageType.Snapshot)[0]!.payload).baseTick).toBe(NO_TICK);
  });

  it('ends the match at the time limit, tells every player, and refuses newcomers', () => {
    const ends: unknown[] = [];
    const net = new RecordingNetwork();
    const game = new ArenaGame({ rules: rulesFor(8, { matchSeconds: 1 }), tickRate: 10, network: net, maxPlayers: 8, onMatchEnd: (r) => ends.push(r) });
    game.connect(1, 'a');
    game.connect(2, 'b');
    for (let t = 1; t <= 10; t++) game.tick(t, 0.1);
    expect(game.matchPhase).toBe('ended');
    expect(ends).toEqual([expect.objectContaining({ reason: 'time' })]);
    for (const client of [1, 2]) {
      const events = net.take(client, MessageType.Event).map((m) => decodeEvent(m.payload));
      expect(events.at(-1)).toMatchObject({ kind: EventKind.MatchEnd, reason: 0, durationSeconds: 1 });
    }
    expect(game.connect(3, 'late')).toBe(false);
  });

  it('ends an abandoned match when the last player leaves, and does not wait before the first joins', () => {
    const ends: Array<{ reason: string }> = [];
    const game = new ArenaGame({ rules: rulesFor(8), tickRate: 30, network: new RecordingNetwork(), maxPlayers: 2, onMatchEnd: (r) => ends.push(r) });
    for (let t = 1; t <= 100; t++) game.tick(t, 1 / 30);
    expect(game.world.elapsedSeconds).toBe(0);
    expect(game.connect(1, 'a')).toBe(true);
    expect(game.connect(2, 'b')).toBe(true);
    expect(game.connect(3, 'c')).toBe(false);
    game.disconnect(1);
    game.disconnect(2);
    expect(ends).toEqual([expect.objectContaining({ reason: 'empty' })]);
  });
});
