// Buffer imported, not the global: Node's global `Buffer` is an accessor, which optimized code
// reads with a call per use; an imported binding is a constant (sealPacket allocates per packet).
import { Buffer } from 'node:buffer';
import { newNonce, openPacketBody, packetKey, sealPacketBody } from './aead.js';
import {
  ACK_DELAY_UNIT_US,
  ACK_HEADER_BYTES,
  DENIED_PACKET_BYTES,
  DISCONNECT_PACKET_BYTES,
  ENCRYPTED_OVERHEAD,
  KEEP_ALIVE_PACKET_BYTES,
  MAGIC_0,
  MAGIC_1,
  MAX_ACK_DELAY_UNITS,
  MAX_CHALLENGE_TOKEN_BYTES,
  MAX_PACKET_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_RESPONSE_PACKET_BYTES,
  MIN_CHALLENGE_TOKEN_BYTES,
  MIN_RESPONSE_PACKET_BYTES,
  NONCE_BYTES,
  PACKET_AD_BYTES,
  PREFIX_BYTES,
  PRIVATE_TOKEN_BYTES,
  PROTOCOL_ID_BYTES,
  PROTOCOL_VERSION,
  RELIABLE_MESSAGE_HEADER_BYTES,
  REQUEST_PACKET_BYTES,
  SEQUENCE_BYTES,
  TIMESTAMP_BYTES,
  UNRELIABLE_MESSAGE_HEADER_BYTES,
} from './protocol-constants.js';
import { MessageTooLargeError, ProtocolError, type MalformedReason } from './protocol-errors.js';

// The wire format of every packet (PROTOCOL.md has the byte layouts). Two levels: small functions
// that read and write in place and return reason codes, for the endpoints' hot path, and
// `encodePacket`/`decodePacket` over plain objects, for tests, tools and the fuzz test, which
// throw ProtocolError for a malformed packet and return undefined for foreign traffic.

export const PacketType = { Request: 0, Denied: 1, Challenge: 2, Response: 3, KeepAlive: 4, Payload: 5, Disconnect: 6 } as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Packet type names, indexed by type: the `type` label of the packet and byte counters. */
export const PACKET_TYPE_NAMES = ['request', 'denied', 'challenge', 'response', 'keep-alive', 'payload', 'disconnect'] as const;
export type PacketTypeName = (typeof PACKET_TYPE_NAMES)[number];

export type Channel = 'unreliable' | 'reliable';
export const CHANNEL_UNRELIABLE = 0;
export const CHANNEL_RELIABLE = 1;

export const DENIED_SERVER_FULL = 1;
export const DENIED_PLAYER_CONNECTED = 2;
export type DeniedReason = 'server-full' | 'player-connected';

// Offsets of the request's fields.
export const REQUEST_PROTOCOL_ID_OFFSET = PREFIX_BYTES;
export const REQUEST_EXPIRES_AT_OFFSET = REQUEST_PROTOCOL_ID_OFFSET + PROTOCOL_ID_BYTES;
export const REQUEST_NONCE_OFFSET = REQUEST_EXPIRES_AT_OFFSET + TIMESTAMP_BYTES;
export const REQUEST_PRIVATE_TOKEN_OFFSET = REQUEST_NONCE_OFFSET + NONCE_BYTES;
export const SEQUENCE_OFFSET = PREFIX_BYTES;
export const BODY_OFFSET = PREFIX_BYTES + SEQUENCE_BYTES;

// Smallest and largest datagram of each type, indexed by type.
const MIN_BYTES = [
  REQUEST_PACKET_BYTES,
  DENIED_PACKET_BYTES,
  ENCRYPTED_OVERHEAD + MIN_CHALLENGE_TOKEN_BYTES,
  MIN_RESPONSE_PACKET_BYTES,
  KEEP_ALIVE_PACKET_BYTES,
  KEEP_ALIVE_PACKET_BYTES + UNRELIABLE_MESSAGE_HEADER_BYTES,
  DISCONNECT_PACKET_BYTES,
];
const MAX_BYTES = [
  REQUEST_PACKET_BYTES,
  DENIED_PACKET_BYTES,
  ENCRYPTED_OVERHEAD + MAX_CHALLENGE_TOKEN_BYTES,
  MAX_RESPONSE_PACKET_BYTES,
  KEEP_ALIVE_PACKET_BYTES,
  MAX_PACKET_BYTES,
  DISCONNECT_PACKET_BYTES,
];

/**
 * The type of a datagram after the checks that need no key: undefined when it is not ours (no
 * magic), a MalformedReason when it is ours but cannot be right, else its PacketType.
 */
export function peekPacketType(data: Buffer): PacketType | MalformedReason | undefined {
  if (data.length < 2 || data[0] !== MAGIC_0 || data[1] !== MAGIC_1) return undefined;
  if (data.length > MAX_PACKET_BYTES) return 'oversized';
  if (data.length < PREFIX_BYTES) return 'truncated';
  if (data[2] !== PROTOCOL_VERSION) return 'bad-version';
  const type = data[3]!;
  if (type > PacketType.Disconnect) return 'bad-type';
  if (data.length < MIN_BYTES[type]!) return 'truncated';
  if (data.length > MAX_BYTES[type]!) return 'bad-length';
  return type as PacketType;
}

export function writePrefix(out: Buffer, type: PacketType): void {
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = PROTOCOL_VERSION;
  out[3] = type;
}

/** Additional data of encrypted packets, indexed by type: the packet's prefix, then the protocol id. */
export function packetAdditionalData(protocolId: bigint): Buffer[] {
  return PACKET_TYPE_NAMES.map((_, type) => {
    const ad = Buffer.alloc(PACKET_AD_BYTES);
    writePrefix(ad, type as PacketType);
    ad.writeBigUInt64BE(protocolId, PREFIX_BYTES);
    return ad;
  });
}

// Big-endian integers of the per-packet path, byte by byte, where the caller has already checked
// the room (a buffer sized for the largest packet, or a datagram whose length peekPacketType and
// messagesAreWellFormed accepted): Buffer's checked readers and writers are calls the optimizer
// often leaves out of line, and took 1-2 % of a bot's CPU at about ten per packet.
function writeU16(out: Buffer, value: number, offset: number): void {
  out[offset] = value >>> 8;
  out[offset + 1] = value;
}

function writeU32(out: Buffer, value: number, offset: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = value >>> 16;
  out[offset + 2] = value >>> 8;
  out[offset + 3] = value;
}

/** A u16 at `offset`, which the caller has checked lies inside `data`. */
export function readU16(data: Buffer, offset: number): number {
  return (data[offset]! << 8) | data[offset + 1]!;
}

/** A u32 at `offset`, which the caller has checked lies inside `data`. */
export function readU32(data: Buffer, offset: number): number {
  return data[offset]! * 0x100_0000 + ((data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!);
}

function writeU48(out: Buffer, value: number, offset: number): void {
  writeU16(out, Math.floor(value / 0x1_0000_0000), offset);
  writeU32(out, value >>> 0, offset + 2);
}

function readU48(data: Buffer, offset: number): number {
  return readU16(data, offset) * 0x1_0000_0000 + readU32(data, offset + 2);
}

/** The packet AEAD's nonce for `sequence`: 6 zero bytes, then the sequence (u48). */
export function writeSequenceNonce(nonce: Buffer, sequence: number): Buffer {
  writeU48(nonce, sequence, NONCE_BYTES - SEQUENCE_BYTES);
  return nonce;
}

export function readSequence(data: Buffer): number {
  return readU48(data, SEQUENCE_OFFSET);
}

/** Milliseconds since the epoch, as a u64 (always a safe integer when we wrote it). */
export function readTimestamp(data: Buffer, offset: number): number {
  return data.readUInt32BE(offset) * 0x1_0000_0000 + data.readUInt32BE(offset + 4);
}

export function writeTimestamp(out: Buffer, value: number, offset: number): void {
  out.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  out.writeUInt32BE(value % 0x1_0000_0000, offset + 4);
}

/** An encrypted packet around `body`: prefix, sequence, then the sealed body and its tag. */
export function sealPacket(type: PacketType, sequence: number, body: Buffer, key: Buffer, ad: Buffer, nonce: Buffer): Buffer {
  const out = Buffer.allocUnsafe(ENCRYPTED_OVERHEAD + body.length);
  writePrefix(out, type);
  writeU48(out, sequence, SEQUENCE_OFFSET);
  sealPacketBody(key, writeSequenceNonce(nonce, sequence), ad, body, out, BODY_OFFSET);
  return out;
}

/**
 * The body of an encrypted packet whose type and size `peekPacketType` accepted, decrypted in place
 * (a view of `data`, which no longer holds the packet); undefined if its tag fails.
 */
export function openPacket(data: Buffer, key: Buffer, ad: Buffer, nonce: Buffer): Buffer | undefined {
  return openPacketBody(key, writeSequenceNonce(nonce, readSequence(data)), ad, data, BODY_OFFSET, data.length);
}

// The writers below take a buffer with room for what they write (the endpoints' packet body, sized
// for the largest packet) and a message no longer than its channel allows. They copy with the
// typed array's own `set`: Buffer's `copy` adds argument handling, ~30 ns a message here.
/** `ackDelayUs`: how long ago the packet numbered `ack` arrived (sent in 16 µs units, at most 1.05 s). */
export function writeAckHeader(out: Buffer, offset: number, ack: number, ackBits: number, ackDelayUs: number): number {
  writeU16(out, ack & 0xffff, offset);
  writeU32(out, ackBits >>> 0, offset + 2);
  writeU16(out, Math.min(MAX_ACK_DELAY_UNITS, Math.round(ackDelayUs / ACK_DELAY_UNIT_US)), offset + 6);
  return offset + ACK_HEADER_BYTES;
}

/** The ack delay of an ack header at `offset`, µs. */
export function readAckDelayUs(body: Buffer, offset: number): number {
  return readU16(body, offset + 6) * ACK_DELAY_UNIT_US;
}

export function writeUnreliableMessage(out: Buffer, offset: number, payload: Buffer): number {
  out[offset] = CHANNEL_UNRELIABLE;
  writeU16(out, payload.length, offset + 1);
  out.set(payload, offset + UNRELIABLE_MESSAGE_HEADER_BYTES);
  return offset + UNRELIABLE_MESSAGE_HEADER_BYTES + payload.length;
}

export function writeReliableMessage(out: Buffer, offset: number, id: number, payload: Buffer): number {
  out[offset] = CHANNEL_RELIABLE;
  writeU16(out, id & 0xffff, offset + 1);
  writeU16(out, payload.length, offset + 3);
  out.set(payload, offset + RELIABLE_MESSAGE_HEADER_BYTES);
  return offset + RELIABLE_MESSAGE_HEADER_BYTES + payload.length;
}

/** Whether the messages from `offset` to the end of a payload body are framed correctly (at least one). */
export function messagesAreWellFormed(body: Buffer, offset: number): boolean {
  if (offset >= body.length) return false;
  while (offset < body.length) {
    const channel = body[offset];
    if (channel === CHANNEL_UNRELIABLE) {
      if (offset + UNRELIABLE_MESSAGE_HEADER_BYTES > body.length) return false;
      offset += UNRELIABLE_MESSAGE_HEADER_BYTES + readU16(body, offset + 1);
    } else if (channel === CHANNEL_RELIABLE) {
      if (offset + RELIABLE_MESSAGE_HEADER_BYTES > body.length) return false;
      offset += RELIABLE_MESSAGE_HEADER_BYTES + readU16(body, offset + 3);
    } else {
      return false;
    }
  }
  return offset === body.length;
}

// ---- Whole packets as objects ----

export interface RequestPacket {
  type: 'request';
  protocolId: bigint;
  /** The connect token's expiry, ms since the epoch. */
  expiresAt: number;
  tokenNonce: Buffer;
  /** The connect token's encrypted private part (1,024 bytes, tag included). */
  privateToken: Buffer;
}
export interface DeniedPacket {
  type: 'denied';
  sequence: number;
  reason: DeniedReason;
}
export interface ChallengePacket {
  type: 'challenge';
  sequence: number;
  challengeToken: Buffer;
}
export interface ResponsePacket {
  type: 'response';
  challengeToken: Buffer;
}
export interface KeepAlivePacket {
  type: 'keep-alive';
  sequence: number;
  /** Low 16 bits of the newest sequence received from the peer. */
  ack: number;
  /** Bit i set: sequence ack - 1 - i was received too. */
  ackBits: number;
  /** How long the sender held the packet numbered `ack` before sending this one, µs (a multiple of 16). */
  ackDelayUs: number;
}
export interface PayloadPacket {
  type: 'payload';
  sequence: number;
  ack: number;
  ackBits: number;
  ackDelayUs: number;
  messages: Message[];
}
export interface DisconnectPacket {
  type: 'disconnect';
  sequence: number;
}
export type Packet = RequestPacket | DeniedPacket | ChallengePacket | ResponsePacket | KeepAlivePacket | PayloadPacket | DisconnectPacket;
export type Message = { channel: 'unreliable'; payload: Buffer } | { channel: 'reliable'; id: number; payload: Buffer };

/** What it takes to read or write packets of one direction: the protocol id and that direction's key. */
export interface CodecKeys {
  protocolId: bigint;
  /** 32 bytes; unused for the request and the response, which travel in the clear. */
  key: Buffer;
}

export function encodePacket(packet: Packet, keys: CodecKeys): Buffer {
  const type = PACKET_TYPE_NAMES.indexOf(packet.type) as PacketType;
  switch (packet.type) {
    case 'request': {
      if (packet.tokenNonce.length !== NONCE_BYTES || packet.privateToken.length !== PRIVATE_TOKEN_BYTES) {
        throw new RangeError(`a request carries a ${NONCE_BYTES}-byte nonce and a ${PRIVATE_TOKEN_BYTES}-byte private token`);
      }
      const out = Buffer.alloc(REQUEST_PACKET_BYTES); // the padding stays zero
      writePrefix(out, type);
      out.writeBigUInt64BE(packet.protocolId, REQUEST_PROTOCOL_ID_OFFSET);
      writeTimestamp(out, packet.expiresAt, REQUEST_EXPIRES_AT_OFFSET);
      packet.tokenNonce.copy(out, REQUEST_NONCE_OFFSET);
      packet.privateToken.copy(out, REQUEST_PRIVATE_TOKEN_OFFSET);
      return out;
    }
    case 'response': {
      checkChallengeTokenLength(packet.challengeToken);
      const out = Buffer.allocUnsafe(PREFIX_BYTES + packet.challengeToken.length);
      writePrefix(out, type);
      packet.challengeToken.copy(out, PREFIX_BYTES);
      return out;
    }
    default: {
      const body = encodeBody(packet);
      return sealPacket(type, packet.sequence, body, packetKey(keys.key), packetAdditionalData(keys.protocolId)[type]!, newNonce());
    }
  }
}

function encodeBody(packet: DeniedPacket | ChallengePacket | KeepAlivePacket | PayloadPacket | DisconnectPacket): Buffer {
  switch (packet.type) {
    case 'denied':
      return Buffer.from([packet.reason === 'server-full' ? DENIED_SERVER_FULL : DENIED_PLAYER_CONNECTED]);
    case 'challenge':
      checkChallengeTokenLength(packet.challengeToken);
      return packet.challengeToken;
    case 'keep-alive': {
      const body = Buffer.alloc(ACK_HEADER_BYTES);
      writeAckHeader(body, 0, packet.ack, packet.ackBits, packet.ackDelayUs);
      return body;
    }
    case 'payload': {
      const size = packet.messages.reduce((n, m) => n + m.payload.length + (m.channel === 'reliable' ? RELIABLE_MESSAGE_HEADER_BYTES : UNRELIABLE_MESSAGE_HEADER_BYTES), 0);
      if (size > MAX_PAYLOAD_BYTES) throw new MessageTooLargeError(size, MAX_PAYLOAD_BYTES, 'payload packet');
      if (packet.messages.length === 0) throw new RangeError('a payload packet carries at least one message (send a keep-alive instead)');
      const body = Buffer.alloc(ACK_HEADER_BYTES + size);
      let offset = writeAckHeader(body, 0, packet.ack, packet.ackBits, packet.ackDelayUs);
      for (const m of packet.messages) {
        offset = m.channel === 'reliable' ? writeReliableMessage(body, offset, m.id, m.payload) : writeUnreliableMessage(body, offset, m.payload);
      }
      return body;
    }
    case 'disconnect':
      return Buffer.alloc(0);
  }
}

function checkChallengeTokenLength(token: Buffer): void {
  if (token.length < MIN_CHALLENGE_TOKEN_BYTES || token.length > MAX_CHALLENGE_TOKEN_BYTES) {
    throw new RangeError(`a challenge token is ${MIN_CHALLENGE_TOKEN_BYTES}..${MAX_CHALLENGE_TOKEN_BYTES} bytes, not ${token.length}`);
  }
}

/**
 * Reads one datagram: undefined when it is not Hangar netcode, a ProtocolError (thrown) when it is
 * but malformed (its tag included: encrypted packets are opened with `keys.key`), else the packet.
 */
export function decodePacket(data: Buffer, keys: CodecKeys): Packet | undefined {
  const type = peekPacketType(data);
  if (type === undefined) return undefined;
  if (typeof type === 'string') throw new ProtocolError(type);
  if (type === PacketType.Request) {
    const protocolId = data.readBigUInt64BE(REQUEST_PROTOCOL_ID_OFFSET);
    if (protocolId !== keys.protocolId) throw new ProtocolError('bad-protocol-id');
    return {
      type: 'request',
      protocolId,
      expiresAt: readTimestamp(data, REQUEST_EXPIRES_AT_OFFSET),
      tokenNonce: Buffer.from(data.subarray(REQUEST_NONCE_OFFSET, REQUEST_PRIVATE_TOKEN_OFFSET)),
      privateToken: Buffer.from(data.subarray(REQUEST_PRIVATE_TOKEN_OFFSET, REQUEST_PRIVATE_TOKEN_OFFSET + PRIVATE_TOKEN_BYTES)),
    };
  }
  if (type === PacketType.Response) return { type: 'response', challengeToken: Buffer.from(data.subarray(PREFIX_BYTES)) };
  // Opened in a copy: the caller's datagram stays as it was.
  const body = openPacket(Buffer.from(data), packetKey(keys.key), packetAdditionalData(keys.protocolId)[type]!, newNonce());
  if (body === undefined) throw new ProtocolError('bad-tag');
  const sequence = readSequence(data);
  switch (type) {
    case PacketType.Denied: {
      const reason = body[0] === DENIED_SERVER_FULL ? 'server-full' : body[0] === DENIED_PLAYER_CONNECTED ? 'player-connected' : undefined;
      if (!reason) throw new ProtocolError('bad-body');
      return { type: 'denied', sequence, reason };
    }
    case PacketType.Challenge:
      return { type: 'challenge', sequence, challengeToken: body };
    case PacketType.KeepAlive:
      return { type: 'keep-alive', sequence, ack: body.readUInt16BE(0), ackBits: body.readUInt32BE(2), ackDelayUs: readAckDelayUs(body, 0) };
    case PacketType.Payload:
      if (!messagesAreWellFormed(body, ACK_HEADER_BYTES)) throw new ProtocolError('bad-body');
      return { type: 'payload', sequence, ack: body.readUInt16BE(0), ackBits: body.readUInt32BE(2), ackDelayUs: readAckDelayUs(body, 0), messages: readMessages(body) };
    default:
      return { type: 'disconnect', sequence };
  }
}

function readMessages(body: Buffer): Message[] {
  const messages: Message[] = [];
  for (let offset = ACK_HEADER_BYTES; offset < body.length; ) {
    if (body[offset] === CHANNEL_RELIABLE) {
      const id = body.readUInt16BE(offset + 1);
      const end = offset + RELIABLE_MESSAGE_HEADER_BYTES + body.readUInt16BE(offset + 3);
      messages.push({ channel: 'reliable', id, payload: body.subarray(offset + RELIABLE_MESSAGE_HEADER_BYTES, end) });
      offset = end;
    } else {
      const end = offset + UNRELIABLE_MESSAGE_HEADER_BYTES + body.readUInt16BE(offset + 1);
      messages.push({ channel: 'unreliable', payload: body.subarray(offset + UNRELIABLE_MESSAGE_HEADER_BYTES, end) });
      offset = end;
    }
  }
  return messages;
}
