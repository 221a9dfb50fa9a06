import type { Channel } from '../arena/arena-game.js';

// The binary frames the simulation thread and the network workers exchange (structured cloning
// objects per message would cost more than the messages). All integers little-endian.
//
// Simulation → worker, once per tick, one transferable ArrayBuffer: records of
//   u16 client index · u8 op (0 unreliable, 1 reliable, 254 release, 255 disconnect) · u16 length · payload
// (release: the simulation has heard of that client's disconnect, so the worker may give its index
// to a new client; before that, a send or disconnect meant for the old client could reach the new one)
// Worker → simulation, through the worker's EventRing (a frame per datagram with news, and one
// per tick for the time-outs), read at the start of every tick: records of
//   u8 kind 1 connect    · u16 index · u8 player id length · player id (UTF-8) · u16 user data length · user data
//   u8 kind 2 disconnect · u16 index · u8 reason (index into DISCONNECT_REASONS)
//   u8 kind 3 message    · u16 index · u8 channel (0 unreliable, 1 reliable) · u16 length · payload

export const OP_UNRELIABLE = 0;
export const OP_RELIABLE = 1;
export const OP_RELEASE = 254;
export const OP_DISCONNECT = 255;

export const EVENT_CONNECT = 1;
export const EVENT_DISCONNECT = 2;
export const EVENT_MESSAGE = 3;

export const DISCONNECT_REASONS = ['timed-out', 'client-disconnected', 'server-disconnected'] as const;

export const channelOp = (channel: Channel): number => (channel === 'reliable' ? OP_RELIABLE : OP_UNRELIABLE);
export const opChannel = (op: number): Channel => (op === OP_RELIABLE ? 'reliable' : 'unreliable');

/** The longest a worker catching up goes without its update (sends, keep-alives, time-outs). */
export const MAX_SKIPPED_UPDATE_MS = 100;

/**
 * Whether the tick a worker is taking is superseded: a later one is posted already (after a stall,
 * or under more load than the worker's thread carries), so its snapshots can go and its update be
 * left to the later tick. Not once the last update is MAX_SKIPPED_UPDATE_MS old: a worker that
 * stayed behind would otherwise never update, and its clients would time out.
 */
export function tickSuperseded(posted: number, taken: number, msSinceUpdate: number): boolean {
  return posted > taken && msSinceUpdate < MAX_SKIPPED_UPDATE_MS;
}

/** A growable byte buffer that hands over its contents as one ArrayBuffer. */
export class FrameWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.at;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16LE(v, this.at);
    this.at += 2;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** The bytes written since the last clear, as a view that the next write may overwrite. */
  written(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  clear(): void {
    this.at = 0;
  }

  /** The written bytes as a fresh ArrayBuffer (to transfer), and a reset writer. */
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.at);
    new Uint8Array(out).set(this.written());
    this.at = 0;
    return out;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

/** Bytes of each network worker's EventRing: some ten ticks of inputs from 5,000 players. */
export const EVENT_RING_BYTES = 1 << 20;

const HEAD = 0;
const TAIL = 1;
const CONTROL_BYTES = 8;
/** A frame length that sends the reader back to the ring's start. */
const WRAP = 0xffffffff;

const padded = (n: number): number => (n + 3) & ~3;

/**
 * Frames from one network worker to the simulation thread through a SharedArrayBuffer: one writer
 * (the worker), one reader (the simulation thread, at each tick's start). A postMessage per batch
 * cost both threads a serialization and woke the simulation thread for every batch; the ring
 * costs a copy and two atomic stores. Layout: i32 head (the writer's next offset) · i32 tail (the
 * reader's) · data, where each frame is u32 length · bytes · padding to 4 bytes. head === tail
 * means empty, so a write never lets head catch up with tail.
 */
export class EventRing {
  private readonly control: Int32Array;
  private readonly data: Buffer;
  private readonly capacity: number;

  constructor(readonly shared: SharedArrayBuffer) {
    this.capacity = shared.byteLength - CONTROL_BYTES;
    if (this.capacity <= 0 || this.capacity % 4 !== 0) throw new RangeError(`an EventRing needs ${CONTROL_BYTES} control bytes and a multiple of 4 data bytes, not ${shared.byteLength} bytes`);
    this.control = new Int32Array(shared, 0, 2);
    this.data = Buffer.from(shared, CONTROL_BYTES, this.capacity);
  }

  static create(dataBytes = EVENT_RING_BYTES): EventRing {
    return new EventRing(new SharedArrayBuffer(CONTROL_BYTES + dataBytes));
  }

  /** Writer: appends `frame` whole, or returns false when the reader has not yet made room for it. */
  write(frame: Uint8Array): boolean {
    const need = 4 + padded(frame.length);
    // Up to half the ring, an empty ring always has room for a frame (before its end or after its start).
    if (need > this.capacity / 2) throw new RangeError(`an event frame of ${frame.length} bytes is more than half a ring of ${this.capacity}`);
    let head = this.control[HEAD]!;
    const tail = Atomics.load(this.control, TAIL);
    if (head >= tail) {
      if (head + need > this.capacity || (head + need) % this.capacity === tail) {
        // No room before the end: the frame goes to the start, if the reader is far enough along.
        if (need >= tail) return false;
        this.data.writeUInt32LE(WRAP, head);
        head = 0;
      }
    } else if (head + need >= tail) {
      return false;
    }
    this.data.writeUInt32LE(frame.length, head);
    this.data.set(frame, head + 4);
    // The store publishes the bytes above to the reader (Atomics are sequentially consistent).
    Atomics.store(this.control, HEAD, (head + need) % this.capacity);
    return true;
  }

  /**
   * Reader: hands over every frame written so far, as views valid only during the call, then frees
   * their room. A frame whose handler throws is not handed over again: the ring goes on.
   */
  read(each: (frame: Buffer) => void): void {
    let tail = this.control[TAIL]!;
    const head = Atomics.load(this.control, HEAD);
    try {
      while (tail !== head) {
        const at = tail;
        const length = this.data.readUInt32LE(at);
        if (length === WRAP) {
          tail = 0;
          continue;
        }
        // Past the frame before handing it over; the writer sees the new tail only at the end.
        tail = (at + 4 + padded(length)) % this.capacity;
        each(this.data.subarray(at + 4, at + 4 + length));
      }
    } finally {
      Atomics.store(this.control, TAIL, tail);
    }
  }
}
