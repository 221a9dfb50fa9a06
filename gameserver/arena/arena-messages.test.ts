import { describe, expect, it } from '@jest/globals';
import {
  ArenaMessageError,
  decodeEvent,
  decodeInput,
  decodeSnapshot,
  encodeEvent,
  encodeInput,
  encodeSnapshot,
  EventKind,
  NO_TICK,
  type WorldFrame,
} from './arena-messages.js';

const bytes = (...parts: number[][]) => Buffer.from(parts.flat());
const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ArenaMessageError) return err.reason;
    throw err;
  }
  return 'accepted';
};

const INPUT = bytes(
  [0x01], // type: Input
  [0x2a, 0x00, 0x00, 0x00], // sequence 42
  [0x07, 0x00, 0x00, 0x00], // ackTick 7
  [0x7f], // moveX 127
  [0x81], // moveY -127
  [0x00, 0x40], // aim 16384 (a quarter turn)
  [0x01], // buttons: Fire
);

describe('arena input', () => {
  it('decodes the annotated fixture and encodes it back byte for byte', () => {
    const m = decodeInput(INPUT);
    expect(m).toEqual({ sequence: 42, ackTick: 7, moveX: 127, moveY: -127, aim: 16384, buttons: 1 });
    expect(encodeInput(m)).toEqual(INPUT);
  });

  it('encodes into a buffer the caller keeps, and only one of the input\'s size', () => {
    const out = Buffer.alloc(INPUT.length, 0xee);
    expect(encodeInput(decodeInput(INPUT), out)).toBe(out);
    expect(out).toEqual(INPUT);
    expect(() => encodeInput(decodeInput(INPUT), Buffer.alloc(INPUT.length + 1))).toThrow(`an input is ${INPUT.length} bytes, not ${INPUT.length + 1}`);
  });

  it('decodes into an object the caller keeps, every field overwritten', () => {
    const into = { sequence: 1, ackTick: 2, moveX: 3, moveY: 4, aim: 5, buttons: 6 };
    expect(decodeInput(INPUT, into)).toBe(into);
    expect(into).toEqual({ sequence: 42, ackTick: 7, moveX: 127, moveY: -127, aim: 16384, buttons: 1 });
  });

  it('rejects malformed inputs with a reason', () => {
    expect(reason(() => decodeInput(INPUT.subarray(0, 13)))).toBe('truncated');
    expect(reason(() => decodeInput(Buffer.concat([INPUT, Buffer.from([0])])))).toBe('trailing-bytes');
    expect(reason(() => decodeInput(bytes([0x02], [...INPUT.subarray(1)])))).toBe('bad-type');
  });
});

const EVENTS: Array<[string, Buffer, ReturnType<typeof decodeEvent>]> = [
  [
    'welcome',
    bytes(
      [0x03, 0x01], // Event, Welcome
      [0x05, 0x00], // self entity 5
      [0x64, 0x00, 0x00, 0x00], // tick 100
      [0x3c, 0x00], // arena 60 m
      [0x1e, 0x00], // 30 Hz
      [0x2c, 0x01], // 300 s
    ),
    { kind: EventKind.Welcome, self: 5, tick: 100, arenaSize: 60, tickRate: 30, matchSeconds: 300 },
  ],
  ['hit', bytes([0x03, 0x02], [0x01, 0x00], [0x02, 0x00]), { kind: EventKind.Hit, shooter: 1, target: 2 }],
  [
    'match end',
    bytes(
      [0x03, 0x03], // Event, MatchEnd
      [0x01], // reason: score-limit
      [0x19, 0x00], // your score 25
      [0x78, 0x00], // 120 s
      [0x03], // winner: 3 bytes
      [0x62, 0x6f, 0x62], // "bob"
    ),
    { kind: EventKind.MatchEnd, reason: 1, yourScore: 25, durationSeconds: 120, winner: 'bob' },
  ],
];

describe('arena events', () => {
  it.each(EVENTS)('%s round-trips', (_name, fixture, event) => {
    expect(decodeEvent(fixture)).toEqual(event);
    expect(encodeEvent(event)).toEqual(fixture);
  });

  it('rejects malformed events with a reason', () => {
    expect(reason(() => decodeEvent(bytes([0x03])))).toBe('truncated');
    expect(reason(() => decodeEvent(bytes([0x03, 0x09])))).toBe('bad-kind');
    expect(reason(() => decodeEvent(bytes([0x03, 0x02], [0x01, 0x00])))).toBe('truncated');
    expect(reason(() => decodeEvent(bytes([0x03, 0x02], [0, 0, 0, 0, 0])))).toBe('trailing-bytes');
    expect(reason(() => decodeEvent(bytes([0x03, 0x03, 0x07], [0, 0, 0, 0, 0])))).toBe('bad-field');
    expect(reason(() => decodeEvent(bytes([0x03, 0x03, 0x00], [0, 0, 0, 0, 5], [0x61])))).toBe('truncated');
  });
});

function frame(tick: number, entities: Record<number, [number, number, number, number]>): WorldFrame {
  const f: WorldFrame = { tick, x: new Uint16Array(8), y: new Uint16Array(8), aim: new Uint8Array(8), score: new Uint16Array(8) };
  for (const [id, [x, y, aim, score]] of Object.entries(entities)) {
    f.x[Number(id)] = x;
    f.y[Number(id)] = y;
    f.aim[Number(id)] = aim;
    f.score[Number(id)] = score;
  }
  return f;
}
const set = (...ids: number[]) => ({ ids: Uint16Array.from(ids), start: 0, count: ids.length });

describe('arena snapshots', () => {
  const base = frame(9, { 1: [100, 200, 3, 0], 2: [50, 60, 0, 4], 3: [1, 1, 1, 1] });
  const now = frame(10, { 1: [110, 200, 3, 0], 2: [50, 60, 0, 5], 3: [1, 1, 1, 1], 4: [7, 8, 9, 0] });

  it('encodes a complete snapshot as the annotated fixture', () => {
    const out = encodeSnapshot(Buffer.alloc(2048), 1, now, set(1, 2));
    expect(out).toEqual(
      bytes(
        [0x02], // type: Snapshot
        [0x0a, 0x00, 0x00, 0x00], // tick 10
        [0xff, 0xff, 0xff, 0xff], // no base: complete
        [0x01, 0x00], // self: entity 1
        [0x02], // 2 entities
        [0x01, 0x00, 0x07, 0x6e, 0x00, 0xc8, 0x00, 0x03, 0x00, 0x00], // entity 1, all fields: x 110, y 200, aim 3, score 0
        [0x02, 0x00, 0x07, 0x32, 0x00, 0x3c, 0x00, 0x00, 0x05, 0x00], // entity 2, all fields: x 50, y 60, aim 0, score 5
        [0x00], // nothing removed
      ),
    );
    expect(decodeSnapshot(out)).toEqual({
      tick: 10,
      baseTick: NO_TICK,
      self: 1,
      updates: [
        { id: 1, fields: 7, x: 110, y: 200, aim: 3, score: 0 },
        { id: 2, fields: 7, x: 50, y: 60, aim: 0, score: 5 },
      ],
      removed: [],
    });
  });

  it('sends only what changed since the base, new entities whole, and the ones gone as removed', () => {
    const out = encodeSnapshot(Buffer.alloc(2048), 1, now, set(1, 2, 4), base, set(1, 2, 3));
    expect(out).toEqual(
      bytes(
        [0x02], // type: Snapshot
        [0x0a, 0x00, 0x00, 0x00], // tick 10
        [0x09, 0x00, 0x00, 0x00], // base tick 9
        [0x01, 0x00], // self 1
        [0x03], // 3 entities
        [0x01, 0x00, 0x01, 0x6e, 0x00, 0xc8, 0x00], // entity 1 moved: position only
        [0x02, 0x00, 0x04, 0x05, 0x00], // entity 2 scored: score only
        [0x04, 0x00, 0x07, 0x07, 0x00, 0x08, 0x00, 0x09, 0x00, 0x00], // entity 4 is new: all fields
        [0x01], // one removed
        [0x03, 0x00], // entity 3
      ),
    );
  });

  it('rejects malformed snapshots with a reason', () => {
    const good = encodeSnapshot(Buffer.alloc(2048), 1, now, set(1, 2));
    expect(reason(() => decodeSnapshot(good.subarray(0, 12)))).toBe('truncated');
    expect(reason(() => decodeSnapshot(good.subarray(0, 20)))).toBe('truncated');
    expect(reason(() => decodeSnapshot(Buffer.concat([good, Buffer.from([1])])))).toBe('trailing-bytes');
    const badField = Buffer.from(good);
    badField[14] = 0x08;
    expect(reason(() => decodeSnapshot(badField))).toBe('bad-field');
    const noFields = Buffer.from(good);
    noFields[14] = 0;
    expect(reason(() => decodeSnapshot(noFields))).toBe('bad-field');
    expect(reason(() => decodeSnapshot(bytes([0x01], new Array(12).fill(0))))).toBe('bad-type');
  });
});
