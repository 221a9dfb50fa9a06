import { describe, expect, it } from '@jest/globals';
import { EventRing, MAX_SKIPPED_UPDATE_MS, tickSuperseded } from './worker-frames.js';

// The event ring between a network worker and the simulation thread: frames come out whole and in
// order across the ring's end, a full ring refuses a frame until the reader has made room, and a
// frame that could never fit is an error rather than a wait for ever.

const frame = (n: number, fill: number) => Buffer.alloc(n, fill);

function readAll(ring: EventRing): Buffer[] {
  const out: Buffer[] = [];
  // Copied: the views are only valid during the call.
  ring.read((f) => out.push(Buffer.from(f)));
  return out;
}

describe('EventRing', () => {
  it('hands over frames in order, across the end of the ring, between two views of one buffer', () => {
    const writer = EventRing.create(256);
    const reader = new EventRing(writer.shared);
    let next = 0;
    const expected: Buffer[] = [];
    for (let round = 0; round < 200; round++) {
      // Sizes of 0-41 bytes, unaligned, a few frames a round: the ring wraps many times.
      for (let i = 0; i < 1 + (round % 3); i++) {
        const f = frame((next * 7) % 42, next & 0xff);
        expect(writer.write(f)).toBe(true);
        expected.push(f);
        next++;
      }
      expect(readAll(reader)).toEqual(expected.splice(0));
    }
  });

  it('refuses a frame the reader has not made room for, and takes it once it has', () => {
    const ring = EventRing.create(64);
    expect(ring.write(frame(20, 1))).toBe(true);
    expect(ring.write(frame(20, 2))).toBe(true);
    expect(ring.write(frame(20, 3))).toBe(false);
    expect(readAll(ring)).toEqual([frame(20, 1), frame(20, 2)]);
    expect(ring.write(frame(20, 3))).toBe(true);
    expect(readAll(ring)).toEqual([frame(20, 3)]);
    expect(readAll(ring)).toEqual([]);
  });

  it('goes on past a frame whose handler threw', () => {
    const ring = EventRing.create(64);
    ring.write(frame(4, 1));
    ring.write(frame(4, 2));
    expect(() =>
      ring.read((f) => {
        throw new Error(`bad frame ${f[0]}`);
      }),
    ).toThrow('bad frame 1');
    expect(readAll(ring)).toEqual([frame(4, 2)]);
  });

  it('says so when a frame is more than half the ring', () => {
    expect(() => EventRing.create(64).write(frame(29, 0))).toThrow('an event frame of 29 bytes is more than half a ring of 64');
    expect(() => new EventRing(new SharedArrayBuffer(14))).toThrow('a multiple of 4 data bytes, not 14 bytes');
  });
});

describe('tickSuperseded', () => {
  it('drops a tick a later one follows, but never skips the update for longer than MAX_SKIPPED_UPDATE_MS', () => {
    expect(tickSuperseded(5, 5, 0)).toBe(false);
    expect(tickSuperseded(6, 5, 10)).toBe(true);
    // A worker that stays one tick behind still updates every MAX_SKIPPED_UPDATE_MS.
    expect(tickSuperseded(6, 5, MAX_SKIPPED_UPDATE_MS)).toBe(false);
  });
});
