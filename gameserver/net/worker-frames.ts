import type { Channel } from '../arena/arena-game.js';

// The binary frames the simulation thread and the network workers exchange, one transferable
// ArrayBuffer per batch (structured cloning objects per message would cost more than the messages).
// All integers little-endian.
//
// Simulation → worker, once per tick: records of
//   u16 client index · u8 op (0 unreliable, 1 reliable, 255 disconnect) · u16 length · payload
// Worker → simulation, once per event-loop turn with news: records of
//   u8 kind 1 connect    · u16 index · u8 player id length · player id (UTF-8) · u16 user data length · user data
//   u8 kind 2 disconnect · u16 index · u8 reason (index into DISCONNECT_REASONS)
//   u8 kind 3 message    · u16 index · u8 channel (0 unreliable, 1 reliable) · u16 length · payload

export const OP_UNRELIABLE = 0;
export const OP_RELIABLE = 1;
export const OP_DISCONNECT = 255;

export const EVENT_CONNECT = 1;
export const EVENT_DISCONNECT = 2;
export const EVENT_MESSAGE = 3;

export const DISCONNECT_REASONS = ['timed-out', 'client-disconnected', 'server-disconnected'] as const;

export const channelOp = (channel: Channel): number => (channel === 'reliable' ? OP_RELIABLE : OP_UNRELIABLE);
export const opChannel = (op: number): Channel => (op === OP_RELIABLE ? 'reliable' : 'unreliable');

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

  /** The written bytes as a fresh ArrayBuffer (to transfer), and a reset writer. */
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.at);
    new Uint8Array(out).set(this.buf.subarray(0, this.at));
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
