// The arena's game messages, carried as netcode payloads (gameserver/protocol). Byte layouts are in
// gameserver/arena/MESSAGES.md; all integers little-endian. Decoders return undefined for an empty
// payload's foreign type and throw ArenaMessageError, with a reason the server counts, for a
// malformed message of a known type.

export const MessageType = { Input: 1, Snapshot: 2, Event: 3 } as const;
export const EventKind = { Welcome: 1, Hit: 2, MatchEnd: 3 } as const;

/** "No snapshot" in the ack and base fields. */
export const NO_TICK = 0xffffffff;
/** "No entity" in entity fields. */
export const NO_ENTITY = 0xffff;

export const EntityField = { Position: 1, Aim: 2, Score: 4 } as const;
/** The fields of an entity new to the client: it comes whole. */
export const ALL_FIELDS = EntityField.Position | EntityField.Aim | EntityField.Score;

export const INPUT_BYTES = 1 + 4 + 4 + 1 + 1 + 2 + 1;

export class ArenaMessageError extends Error {
  constructor(readonly reason: 'truncated' | 'bad-type' | 'bad-kind' | 'bad-field' | 'too-many' | 'trailing-bytes') {
    super(`malformed arena message: ${reason}`);
    this.name = 'ArenaMessageError';
  }
}

export interface InputMessage {
  sequence: number;
  /** The newest snapshot tick the client has, the base the server may delta against; NO_TICK for none. */
  ackTick: number;
  moveX: number;
  moveY: number;
  /** Facing, quantized: 0..65535 covers [0, 2π). */
  aim: number;
  buttons: number;
}

/** The input's bytes, into `b` (INPUT_BYTES long) when given. */
export function encodeInput(m: InputMessage, b = Buffer.allocUnsafe(INPUT_BYTES)): Buffer {
  if (b.length !== INPUT_BYTES) throw new RangeError(`an input is ${INPUT_BYTES} bytes, not ${b.length}`);
  b.writeUInt8(MessageType.Input, 0);
  b.writeUInt32LE(m.sequence >>> 0, 1);
  b.writeUInt32LE(m.ackTick >>> 0, 5);
  b.writeInt8(m.moveX, 9);
  b.writeInt8(m.moveY, 10);
  b.writeUInt16LE(m.aim, 11);
  b.writeUInt8(m.buttons, 13);
  return b;
}

/** The input in `b`, into `into` when given (the server decodes every input into one object). */
export function decodeInput(b: Buffer, into: InputMessage = { sequence: 0, ackTick: NO_TICK, moveX: 0, moveY: 0, aim: 0, buttons: 0 }): InputMessage {
  if (b.length < INPUT_BYTES) throw new ArenaMessageError('truncated');
  if (b[0] !== MessageType.Input) throw new ArenaMessageError('bad-type');
  if (b.length > INPUT_BYTES) throw new ArenaMessageError('trailing-bytes');
  // The length is checked: the fields are read unchecked (one input per player per tick).
  into.sequence = readU32LE(b, 1);
  into.ackTick = readU32LE(b, 5);
  into.moveX = (b[9]! << 24) >> 24;
  into.moveY = (b[10]! << 24) >> 24;
  into.aim = readU16LE(b, 11);
  into.buttons = b[13]!;
  return into;
}

/** One entity as a snapshot carries it, quantized. */
export interface EntityState {
  id: number;
  /** Quantized over the arena: 0..65535. */
  x: number;
  y: number;
  /** Quantized facing, 0..255. */
  aim: number;
  score: number;
}

export interface SnapshotMessage {
  tick: number;
  /** The snapshot this one is a delta against, or NO_TICK when it is complete. */
  baseTick: number;
  self: number;
  /** Entities new to the client or changed since the base, with the fields that changed. */
  updates: Array<{ fields: number } & Partial<EntityState> & { id: number }>;
  /** Entities visible in the base but not any more. */
  removed: number[];
}

/** Upper bound of an encoded snapshot of `entities` updates and `removed` removals. */
export function snapshotBytes(entities: number, removed: number): number {
  return 12 + entities * (2 + 1 + 4 + 1 + 2) + 1 + removed * 2;
}

/** Every entity's quantized state at one tick, indexed by entity id (the server keeps a ring of these). */
export interface WorldFrame {
  tick: number;
  x: Uint16Array;
  y: Uint16Array;
  aim: Uint8Array;
  score: Uint16Array;
}

/** The entities one client was sent at one tick: `ids[start, start + count)`, sorted ascending. */
export interface VisibleSet {
  ids: Uint16Array;
  start: number;
  count: number;
}

/**
 * Writes into `out` the snapshot of `visible` at `frame`, as a delta against what the client holds
 * for a base tick (`baseVisible`, the entities it was sent then, at their values in `baseFrame`), or
 * complete without one.
 * Entities unchanged since the base are left out; entities no longer visible are listed as removed.
 */
export function encodeSnapshot(out: Buffer, self: number, frame: WorldFrame, visible: VisibleSet, baseFrame?: WorldFrame, baseVisible?: VisibleSet): Buffer {
  // Removed ids are written after the updates; collect them in a scratch area at the buffer's end.
  const scratch = out.length - 2 * 256;
  if (scratch < 12) throw new RangeError(`a snapshot buffer is at least ${12 + 2 * 256} bytes, not ${out.length}`);
  // Written byte by byte (the format is little-endian), the header too: this runs for every
  // snapshot and every entity of it, and Buffer's checked writers cost several times as much.
  out[0] = MessageType.Snapshot;
  writeU32LE(out, 1, frame.tick);
  writeU32LE(out, 5, baseFrame ? baseFrame.tick : NO_TICK);
  writeU16LE(out, 9, self);
  let o = 12;
  let count = 0;
  let removed = 0;
  const baseIds = baseFrame && baseVisible?.ids;
  let bi = baseIds ? baseVisible!.start : 0;
  const baseEnd = baseIds ? bi + baseVisible!.count : 0;
  const { x, y, aim, score } = frame;
  const ids = visible.ids;
  for (let i = visible.start, end = visible.start + visible.count; i < end; i++) {
    const id = ids[i]!;
    while (baseIds && bi < baseEnd && baseIds[bi]! < id) writeU16LE(out, scratch + 2 * removed++, baseIds[bi++]!);
    let fields = ALL_FIELDS;
    if (baseIds && bi < baseEnd && baseIds[bi] === id) {
      bi++;
      const b = baseFrame!;
      fields = 0;
      if (b.x[id] !== x[id] || b.y[id] !== y[id]) fields |= EntityField.Position;
      if (b.aim[id] !== aim[id]) fields |= EntityField.Aim;
      if (b.score[id] !== score[id]) fields |= EntityField.Score;
      if (fields === 0) continue;
    }
    if (o + 10 > scratch) throw new ArenaMessageError('too-many');
    writeU16LE(out, o, id);
    out[o + 2] = fields;
    o += 3;
    if (fields & EntityField.Position) {
      writeU16LE(out, o, x[id]!);
      writeU16LE(out, o + 2, y[id]!);
      o += 4;
    }
    if (fields & EntityField.Aim) out[o++] = aim[id]!;
    if (fields & EntityField.Score) {
      writeU16LE(out, o, score[id]!);
      o += 2;
    }
    count++;
  }
  while (baseIds && bi < baseEnd) writeU16LE(out, scratch + 2 * removed++, baseIds[bi++]!);
  if (count > 255 || removed > 255 || o + 1 + removed * 2 > scratch) throw new ArenaMessageError('too-many');
  out[11] = count;
  out[o++] = removed;
  if (removed > 0) out.copy(out, o, scratch, scratch + removed * 2);
  return out.subarray(0, o + removed * 2);
}

// The snapshot's little-endian u16s, byte by byte where the caller has checked the room (the
// encoder's buffer) or the framing (the receiver): Buffer's checked accessors per entity field
// were most of either side's cost.
function writeU16LE(out: Buffer, o: number, value: number): void {
  out[o] = value & 0xff;
  out[o + 1] = value >>> 8;
}

function writeU32LE(out: Buffer, o: number, value: number): void {
  out[o] = value;
  out[o + 1] = value >>> 8;
  out[o + 2] = value >>> 16;
  out[o + 3] = value >>> 24;
}

/** A little-endian u16 at `o`, which the caller has checked lies inside `b`. */
export function readU16LE(b: Buffer, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function readU32LE(b: Buffer, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x100_0000;
}

export function decodeSnapshot(b: Buffer): SnapshotMessage {
  if (b.length < 13) throw new ArenaMessageError('truncated');
  if (b[0] !== MessageType.Snapshot) throw new ArenaMessageError('bad-type');
  const tick = b.readUInt32LE(1);
  const baseTick = b.readUInt32LE(5);
  const self = b.readUInt16LE(9);
  const count = b[11]!;
  let o = 12;
  const updates: SnapshotMessage['updates'] = [];
  for (let i = 0; i < count; i++) {
    if (o + 3 > b.length) throw new ArenaMessageError('truncated');
    const id = b.readUInt16LE(o);
    const fields = b[o + 2]!;
    o += 3;
    if (fields === 0 || (fields & ~ALL_FIELDS) !== 0) throw new ArenaMessageError('bad-field');
    const u: SnapshotMessage['updates'][number] = { id, fields };
    if (fields & EntityField.Position) {
      if (o + 4 > b.length) throw new ArenaMessageError('truncated');
      u.x = b.readUInt16LE(o);
      u.y = b.readUInt16LE(o + 2);
      o += 4;
    }
    if (fields & EntityField.Aim) {
      if (o + 1 > b.length) throw new ArenaMessageError('truncated');
      u.aim = b[o++]!;
    }
    if (fields & EntityField.Score) {
      if (o + 2 > b.length) throw new ArenaMessageError('truncated');
      u.score = b.readUInt16LE(o);
      o += 2;
    }
    updates.push(u);
  }
  if (o + 1 > b.length) throw new ArenaMessageError('truncated');
  const removedCount = b[o++]!;
  if (o + removedCount * 2 > b.length) throw new ArenaMessageError('truncated');
  const removed: number[] = [];
  for (let i = 0; i < removedCount; i++, o += 2) removed.push(b.readUInt16LE(o));
  if (o !== b.length) throw new ArenaMessageError('trailing-bytes');
  return { tick, baseTick, self, updates, removed };
}

export type ArenaEvent =
  | { kind: typeof EventKind.Welcome; self: number; tick: number; arenaSize: number; tickRate: number; matchSeconds: number }
  | { kind: typeof EventKind.Hit; shooter: number; target: number }
  | { kind: typeof EventKind.MatchEnd; reason: number; winner: string; yourScore: number; durationSeconds: number };

export const END_REASONS = ['time', 'score-limit', 'empty'] as const;

export function encodeEvent(e: ArenaEvent): Buffer {
  switch (e.kind) {
    case EventKind.Welcome: {
      const b = Buffer.allocUnsafe(14);
      b.writeUInt8(MessageType.Event, 0);
      b.writeUInt8(e.kind, 1);
      b.writeUInt16LE(e.self, 2);
      b.writeUInt32LE(e.tick >>> 0, 4);
      b.writeUInt16LE(e.arenaSize, 8);
      b.writeUInt16LE(e.tickRate, 10);
      b.writeUInt16LE(Math.min(e.matchSeconds, 0xffff), 12);
      return b;
    }
    case EventKind.Hit: {
      const b = Buffer.allocUnsafe(6);
      b.writeUInt8(MessageType.Event, 0);
      b.writeUInt8(e.kind, 1);
      b.writeUInt16LE(e.shooter, 2);
      b.writeUInt16LE(e.target, 4);
      return b;
    }
    case EventKind.MatchEnd: {
      const winner = Buffer.from(e.winner, 'utf8').subarray(0, 255);
      const b = Buffer.allocUnsafe(8 + winner.length);
      b.writeUInt8(MessageType.Event, 0);
      b.writeUInt8(e.kind, 1);
      b.writeUInt8(e.reason, 2);
      b.writeUInt16LE(e.yourScore, 3);
      b.writeUInt16LE(Math.min(Math.round(e.durationSeconds), 0xffff), 5);
      b.writeUInt8(winner.length, 7);
      winner.copy(b, 8);
      return b;
    }
  }
}

export function decodeEvent(b: Buffer): ArenaEvent {
  if (b.length < 2) throw new ArenaMessageError('truncated');
  if (b[0] !== MessageType.Event) throw new ArenaMessageError('bad-type');
  const exact = (n: number) => {
    if (b.length < n) throw new ArenaMessageError('truncated');
    if (b.length > n) throw new ArenaMessageError('trailing-bytes');
  };
  switch (b[1]) {
    case EventKind.Welcome:
      exact(14);
      return { kind: EventKind.Welcome, self: b.readUInt16LE(2), tick: b.readUInt32LE(4), arenaSize: b.readUInt16LE(8), tickRate: b.readUInt16LE(10), matchSeconds: b.readUInt16LE(12) };
    case EventKind.Hit:
      exact(6);
      return { kind: EventKind.Hit, shooter: b.readUInt16LE(2), target: b.readUInt16LE(4) };
    case EventKind.MatchEnd: {
      if (b.length < 8) throw new ArenaMessageError('truncated');
      const reason = b[2]!;
      if (reason >= END_REASONS.length) throw new ArenaMessageError('bad-field');
      exact(8 + b[7]!);
      return { kind: EventKind.MatchEnd, reason, yourScore: b.readUInt16LE(3), durationSeconds: b.readUInt16LE(5), winner: b.toString('utf8', 8, 8 + b[7]!) };
    }
    default:
      throw new ArenaMessageError('bad-kind');
  }
}

/** The type byte of a message, for dispatch; undefined for an empty payload. */
export function messageType(b: Buffer): number | undefined {
  return b.length ? b[0] : undefined;
}
