import {
  ACK_BITS,
  ACK_HEADER_BYTES,
  DISCONNECT_PACKET_COUNT,
  KEEP_ALIVE_INTERVAL_MS,
  MAX_PAYLOAD_BYTES,
  MAX_RELIABLE_MESSAGE_BYTES,
  MAX_UNRELIABLE_MESSAGE_BYTES,
  RELIABLE_MESSAGE_HEADER_BYTES,
  RELIABLE_RESEND_MS,
  RELIABLE_WINDOW_SIZE,
  SENT_PACKETS_SIZE,
  TIMER_SLACK_MS,
  UNRELIABLE_MESSAGE_HEADER_BYTES,
} from './protocol-constants.js';
import {
  CHANNEL_RELIABLE,
  messagesAreWellFormed,
  openPacket,
  PacketType,
  readAckDelayUs,
  readSequence,
  readU16,
  readU32,
  sealPacket,
  writeAckHeader,
  writeReliableMessage,
  writeUnreliableMessage,
  type Channel,
} from './packet-codec.js';
import { MessageTooLargeError, ReliableWindowFullError, type RejectReason } from './protocol-errors.js';
import { newReplayWindow, replayAccept, ReplayCheck, replayCheck } from './replay-window.js';

// One end of an established connection, the same on server and client (PROTOCOL.md, "Connected
// packets", "Acks", "Channels"): sequence numbers, replay protection, acks, the unreliable and the
// reliable-ordered channel, keep-alives. It does no I/O: it seals its packets and hands them to
// its host to send. State lives in typed arrays allocated once, so the per-packet path allocates
// only what node:crypto and the datagrams themselves need.

/** What a connection needs from its endpoint, shared by all its connections. */
export interface ConnectionHost {
  /** Additional data per packet type. */
  readonly ads: readonly Buffer[];
  /** Scratch space, reused for every packet: a nonce and a packet body. */
  readonly nonce: Buffer;
  readonly body: Buffer;
  transmit(connection: Connection, data: Buffer, type: PacketType): void;
  deliver(connection: Connection, channel: Channel, payload: Buffer): void;
  /** A packet this side sent was acknowledged by the peer. */
  acked?(connection: Connection, sequence: number): void;
  /** A packet from the peer passed its tag and the replay window (before its acks and messages). */
  authenticated?(connection: Connection, type: PacketType): void;
}

export interface ConnectionOptions {
  host: ConnectionHost;
  /** Packet keys (aead.ts, packetKey). */
  sendKey: Buffer;
  receiveKey: Buffer;
  timeoutMs: number;
  now: number;
  /** The peer's address and port. */
  address: string;
  port: number;
  /** The endpoint's own number for this connection (the server's client index). */
  index?: number;
}

/** Body size of a payload packet once its ack header is written. */
const MAX_BODY_BYTES = ACK_HEADER_BYTES + MAX_PAYLOAD_BYTES;
const RTT_SMOOTHING = 0.1;
const RESEND_RTT_FACTOR = 1.5;
/** Fields of a sent packet's entry in Connection's `sent`. */
const SENT_SEQUENCE = 0;
const SENT_AT = 1;
const SENT_ACKED = 2;
const SENT_RELIABLE_COUNT = 3;
const SENT_FIELDS = 4;

export class Connection {
  readonly index: number;
  readonly address: string;
  readonly port: number;
  readonly timeoutMs: number;
  /**
   * Smoothed round-trip time, ms (0 until the first sample): each sample is the time from sending a
   * packet to hearing it acked, less the ack delay the peer reports (how long it held the packet
   * before its next send: up to a tick for a server), so it measures the network, not the tick rate.
   */
  rttMs = 0;
  lastReceivedAt: number;
  lastSentAt: number;
  closed = false;

  private readonly host: ConnectionHost;
  private readonly sendKey: Buffer;
  private readonly receiveKey: Buffer;
  private nextSequence = 0;
  /** Received packets, as acks to send: the newest sequence and a bit per one of the 32 before it. */
  private receivedNewest = -1;
  /** When the packet numbered receivedNewest arrived: the ack delay is measured from here. */
  private receivedNewestAt = 0;
  /** The replay window (replay-window.ts), whose newest is receivedNewest. */
  private readonly replayWindow = newReplayWindow();
  private receivedBits = 0;
  /** The peer's acks taken so far, as they arrive: its newest (-1 before any) and the 32 bits before it. */
  private peerAck = -1;
  private peerAckBits = 0;
  /** A packet with reliable messages came in since we last sent: ack it at the next update. */
  private ackDue = false;

  /**
   * Sent packets, by sequence % SENT_PACKETS_SIZE, SENT_FIELDS numbers each side by side: its
   * sequence (-1: none), when it was sent, whether it was acked (1) or not (0), how many reliable
   * messages it carried. One array, not one per field: a packet's entry is written when it is sent
   * and read when its ack comes, a tick or more later, by then out of the cache; four arrays were
   * four cache misses there, one entry is one.
   */
  private readonly sent = new Float64Array(SENT_PACKETS_SIZE * SENT_FIELDS).fill(-1);
  private readonly sentReliableIds: Array<Float64Array | undefined> = new Array(SENT_PACKETS_SIZE);

  /**
   * Unreliable messages queued for the next flush, copied in as they go on the wire, from
   * ACK_HEADER_BYTES to stagedEnd (made at the first one). When no reliable message is due and they
   * fit one packet, the ack header is written in front of them and the packet sealed from here: a
   * snapshot is copied once on its way out, not into a Buffer of its own and again into the body.
   */
  private staged: Buffer | undefined;
  private stagedEnd = ACK_HEADER_BYTES;

  // Reliable sending: messages oldestUnacked..nextMessageId-1 are in flight, by id % window.
  private nextMessageId = 0;
  private oldestUnacked = 0;
  private readonly outgoing: Array<Buffer | undefined> = new Array(RELIABLE_WINDOW_SIZE);
  private readonly outgoingSentAt = new Float64Array(RELIABLE_WINDOW_SIZE);
  // Reliable receiving: messages held until every earlier one has been delivered.
  private nextDeliveryId = 0;
  private readonly incoming: Array<Buffer | undefined> = new Array(RELIABLE_WINDOW_SIZE);

  constructor(o: ConnectionOptions) {
    this.host = o.host;
    this.sendKey = o.sendKey;
    this.receiveKey = o.receiveKey;
    this.timeoutMs = o.timeoutMs;
    this.lastReceivedAt = o.now;
    this.lastSentAt = -Infinity;
    this.address = o.address;
    this.port = o.port;
    this.index = o.index ?? 0;
  }

  /**
   * Queues a message for the next update; throws when it could never be sent. An unreliable
   * payload is copied at once; a reliable one is kept, not copied, until acknowledged: do not
   * reuse its memory.
   */
  queue(channel: Channel, payload: Buffer): void {
    if (channel === 'reliable') {
      if (payload.length > MAX_RELIABLE_MESSAGE_BYTES) throw new MessageTooLargeError(payload.length, MAX_RELIABLE_MESSAGE_BYTES, channel);
      if (this.nextMessageId - this.oldestUnacked >= RELIABLE_WINDOW_SIZE) throw new ReliableWindowFullError(RELIABLE_WINDOW_SIZE);
      const slot = this.nextMessageId % RELIABLE_WINDOW_SIZE;
      this.outgoing[slot] = payload;
      this.outgoingSentAt[slot] = -Infinity;
      this.nextMessageId++;
    } else {
      if (payload.length > MAX_UNRELIABLE_MESSAGE_BYTES) throw new MessageTooLargeError(payload.length, MAX_UNRELIABLE_MESSAGE_BYTES, channel);
      const end = this.stagedEnd + UNRELIABLE_MESSAGE_HEADER_BYTES + payload.length;
      const staged = this.staged !== undefined && end <= this.staged.length ? this.staged : this.growStaged(end);
      this.stagedEnd = writeUnreliableMessage(staged, this.stagedEnd, payload);
    }
  }

  /**
   * Takes a keep-alive, payload or disconnect packet of this connection (type and size already
   * checked): undefined when accepted, else why it was dropped.
   */
  receive(data: Buffer, type: PacketType, now: number): RejectReason | undefined {
    const sequence = readSequence(data);
    const check = replayCheck(this.replayWindow, this.receivedNewest, sequence);
    if (check !== ReplayCheck.Fresh) return check === ReplayCheck.Replayed ? 'replayed' : 'too-old';
    const body = openPacket(data, this.receiveKey, this.host.ads[type]!, this.host.nonce);
    if (body === undefined) return 'bad-tag';
    if (type === PacketType.Payload && !messagesAreWellFormed(body, ACK_HEADER_BYTES)) return 'bad-body';
    replayAccept(this.replayWindow, sequence);
    this.recordReceived(sequence, now);
    this.lastReceivedAt = now;
    this.host.authenticated?.(this, type);
    // Keep-alive and payload bodies hold the ack header at least (peekPacketType checked their size).
    if (type !== PacketType.Disconnect) this.processAcks(readU16(body, 0), readU32(body, 2), readAckDelayUs(body, 0), now);
    if (type === PacketType.Payload) this.deliverMessages(body);
    return undefined;
  }

  timedOut(now: number): boolean {
    return now - this.lastReceivedAt > this.timeoutMs;
  }

  /**
   * Sends what is due: reliable messages never sent or unacked past the resend delay, then the
   * queued unreliable ones (several packets if they do not fit one), else a keep-alive when an ack
   * is owed or nothing has gone out for KEEP_ALIVE_INTERVAL_MS.
   */
  flush(now: number): void {
    const body = this.host.body;
    const staged = this.staged;
    const stagedEnd = this.stagedEnd;
    this.stagedEnd = ACK_HEADER_BYTES;
    const resendAfter = Math.max(RELIABLE_RESEND_MS, this.rttMs * RESEND_RTT_FACTOR) - TIMER_SLACK_MS;
    // The first staged message not sent yet.
    let unreliableAt = ACK_HEADER_BYTES;
    let sentPayload = false;
    for (;;) {
      const slot = this.nextSequence % SENT_PACKETS_SIZE;
      let offset = ACK_HEADER_BYTES;
      let reliableCount = 0;
      for (let id = this.oldestUnacked; id < this.nextMessageId; id++) {
        const ring = id % RELIABLE_WINDOW_SIZE;
        const payload = this.outgoing[ring];
        if (payload === undefined || now - this.outgoingSentAt[ring]! < resendAfter) continue;
        if (offset + RELIABLE_MESSAGE_HEADER_BYTES + payload.length > MAX_BODY_BYTES) continue;
        offset = writeReliableMessage(body, offset, id, payload);
        this.outgoingSentAt[ring] = now;
        this.rememberReliable(slot, reliableCount++, id);
      }
      let packet = body;
      if (reliableCount === 0 && unreliableAt === ACK_HEADER_BYTES && stagedEnd <= MAX_BODY_BYTES) {
        // Nothing reliable, and every staged message fits: the packet is sealed from where they are.
        if (stagedEnd === ACK_HEADER_BYTES) break;
        packet = staged!;
        offset = unreliableAt = stagedEnd;
      } else {
        // The whole staged messages that fit after the reliable ones, in one copy.
        let end = unreliableAt;
        for (;;) {
          if (end === stagedEnd) break;
          const next = end + UNRELIABLE_MESSAGE_HEADER_BYTES + readU16(staged!, end + 1);
          if (offset + (next - unreliableAt) > MAX_BODY_BYTES) break;
          end = next;
        }
        if (end > unreliableAt) {
          body.set(staged!.subarray(unreliableAt, end), offset);
          offset += end - unreliableAt;
          unreliableAt = end;
        }
        if (offset === ACK_HEADER_BYTES) break;
      }
      this.writeAcks(packet, now);
      this.transmit(PacketType.Payload, packet.subarray(0, offset), now, reliableCount);
      sentPayload = true;
    }
    if (!sentPayload && (this.ackDue || now - this.lastSentAt >= KEEP_ALIVE_INTERVAL_MS - TIMER_SLACK_MS)) this.sendKeepAlive(now);
  }

  sendKeepAlive(now: number): void {
    const body = this.host.body;
    this.transmit(PacketType.KeepAlive, body.subarray(0, this.writeAcks(body, now)), now, 0);
  }

  /** The ack header at the start of `body`, its delay counted to `now`; returns where it ends. */
  private writeAcks(body: Buffer, now: number): number {
    return writeAckHeader(body, 0, this.receivedNewest, this.receivedBits, this.receivedNewest < 0 ? 0 : (now - this.receivedNewestAt) * 1000);
  }

  /** Several disconnect packets, each with its own sequence, since none of them will be resent. */
  sendDisconnects(now: number): void {
    for (let i = 0; i < DISCONNECT_PACKET_COUNT; i++) this.transmit(PacketType.Disconnect, this.host.body.subarray(0, 0), now, 0);
  }

  private transmit(type: PacketType, body: Buffer, now: number, reliableCount: number): void {
    const sequence = this.nextSequence++;
    const entry = (sequence % SENT_PACKETS_SIZE) * SENT_FIELDS;
    const sent = this.sent;
    sent[entry + SENT_SEQUENCE] = sequence;
    sent[entry + SENT_AT] = now;
    sent[entry + SENT_ACKED] = 0;
    sent[entry + SENT_RELIABLE_COUNT] = reliableCount;
    this.lastSentAt = now;
    this.ackDue = false;
    this.host.transmit(this, sealPacket(type, sequence, body, this.sendKey, this.host.ads[type]!, this.host.nonce), type);
  }

  /** Room for staged messages up to `end`: a packet's worth at first, kept larger once more was queued between two flushes. */
  private growStaged(end: number): Buffer {
    const grown = Buffer.allocUnsafeSlow(Math.max(MAX_BODY_BYTES, end, 2 * (this.staged?.length ?? 0)));
    if (this.staged !== undefined) this.staged.copy(grown, 0, 0, this.stagedEnd);
    this.staged = grown;
    return grown;
  }

  private rememberReliable(slot: number, position: number, id: number): void {
    let ids = this.sentReliableIds[slot];
    if (ids === undefined || position >= ids.length) {
      // Grown on demand: most packets carry no reliable message, a few carry many.
      const grown = new Float64Array(Math.max(8, (ids?.length ?? 0) * 2));
      if (ids) grown.set(ids);
      this.sentReliableIds[slot] = ids = grown;
    }
    ids[position] = id;
  }

  private recordReceived(sequence: number, now: number): void {
    if (sequence > this.receivedNewest) {
      this.receivedNewestAt = now;
      const shift = sequence - this.receivedNewest;
      if (this.receivedNewest < 0 || shift > ACK_BITS) this.receivedBits = 0;
      else if (shift === ACK_BITS) this.receivedBits = 0x8000_0000; // JS shifts count mod 32
      else this.receivedBits = ((this.receivedBits << shift) | (1 << (shift - 1))) >>> 0;
      this.receivedNewest = sequence;
    } else {
      const behind = this.receivedNewest - sequence;
      if (behind <= ACK_BITS) this.receivedBits = (this.receivedBits | (1 << (behind - 1))) >>> 0;
    }
  }

  private processAcks(ack: number, ackBits: number, ackDelayUs: number, now: number): void {
    if (this.nextSequence === 0) return;
    // The ack carries 16 bits; the full sequence is the newest one we sent with those low bits.
    const newestSent = this.nextSequence - 1;
    const acked = newestSent - ((newestSent - ack) & 0xffff);
    // Every header repeats the 32 acks before its newest, and nearly all of them were taken from
    // earlier headers: only what is new is looked at (one packet, at a steady rate).
    const shift = acked - this.peerAck;
    let known = 0;
    if (shift === 0) known = this.peerAckBits;
    else if (shift > 0 && shift < ACK_BITS) known = ((this.peerAckBits << shift) | (1 << (shift - 1))) >>> 0;
    else if (shift === ACK_BITS) known = 0x8000_0000; // JS shifts count mod 32
    // Only the newest ack gives a round-trip sample: the delay the peer reports is that packet's.
    if (shift !== 0 && this.ackPacket(acked)) this.sampleRtt(acked, ackDelayUs, now);
    for (let fresh = (ackBits & ~known) >>> 0; fresh !== 0; ) {
      const i = 31 - Math.clz32(fresh);
      fresh = (fresh ^ (1 << i)) >>> 0;
      this.ackPacket(acked - 1 - i);
    }
    if (shift >= 0) {
      this.peerAck = acked;
      this.peerAckBits = (ackBits | known) >>> 0;
    }
  }

  private sampleRtt(sequence: number, ackDelayUs: number, now: number): void {
    // Never below zero: the delay is rounded to 16 µs, and the two sides' clocks tick apart.
    const sample = Math.max(0, now - this.sent[(sequence % SENT_PACKETS_SIZE) * SENT_FIELDS + SENT_AT]! - ackDelayUs / 1000);
    this.rttMs = this.rttMs === 0 ? sample : this.rttMs + (sample - this.rttMs) * RTT_SMOOTHING;
  }

  /** Marks a sent packet acknowledged and releases its reliable messages; false when it was not ours to ack (unknown, or acked before). */
  private ackPacket(sequence: number): boolean {
    if (sequence < 0) return false;
    const slot = sequence % SENT_PACKETS_SIZE;
    const entry = slot * SENT_FIELDS;
    const sent = this.sent;
    if (sent[entry + SENT_SEQUENCE] !== sequence || sent[entry + SENT_ACKED] !== 0) return false;
    sent[entry + SENT_ACKED] = 1;
    const count = sent[entry + SENT_RELIABLE_COUNT]!;
    if (count > 0) {
      const ids = this.sentReliableIds[slot]!;
      for (let i = 0; i < count; i++) {
        const id = ids[i]!;
        if (id >= this.oldestUnacked && id < this.nextMessageId) this.outgoing[id % RELIABLE_WINDOW_SIZE] = undefined;
      }
      while (this.oldestUnacked < this.nextMessageId && this.outgoing[this.oldestUnacked % RELIABLE_WINDOW_SIZE] === undefined) this.oldestUnacked++;
    }
    this.host.acked?.(this, sequence);
    return true;
  }

  /** Hands on the messages of a payload body that messagesAreWellFormed accepted. */
  private deliverMessages(body: Buffer): void {
    for (let offset = ACK_HEADER_BYTES; offset < body.length && !this.closed; ) {
      if (body[offset] === CHANNEL_RELIABLE) {
        const wireId = readU16(body, offset + 1);
        const end = offset + RELIABLE_MESSAGE_HEADER_BYTES + readU16(body, offset + 3);
        this.ackDue = true;
        // Ids travel as 16 bits; the sender keeps at most a window in flight, so the nearest wins.
        const id = this.nextDeliveryId + (((wireId - this.nextDeliveryId) << 16) >> 16);
        if (id >= this.nextDeliveryId && id < this.nextDeliveryId + RELIABLE_WINDOW_SIZE) {
          const ring = id % RELIABLE_WINDOW_SIZE;
          if (this.incoming[ring] === undefined) this.incoming[ring] = body.subarray(offset + RELIABLE_MESSAGE_HEADER_BYTES, end);
        }
        offset = end;
        this.deliverReliable();
      } else {
        const end = offset + UNRELIABLE_MESSAGE_HEADER_BYTES + readU16(body, offset + 1);
        this.host.deliver(this, 'unreliable', body.subarray(offset + UNRELIABLE_MESSAGE_HEADER_BYTES, end));
        offset = end;
      }
    }
  }

  private deliverReliable(): void {
    for (;;) {
      const ring = this.nextDeliveryId % RELIABLE_WINDOW_SIZE;
      const payload = this.incoming[ring];
      if (payload === undefined || this.closed) return;
      this.incoming[ring] = undefined;
      this.nextDeliveryId++;
      this.host.deliver(this, 'reliable', payload);
    }
  }
}
