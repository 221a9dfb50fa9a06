import { randomBytes, randomInt, type KeyObject } from 'node:crypto';
import { aeadKey, newNonce, packetKey } from './aead.js';
import { challengeAd, openChallengeToken, sealChallengeToken } from './challenge-token.js';
import { openPrivateToken, privateTokenAd, privateTokenTag } from './connect-token.js';
import { Connection, type ConnectionHost, type ConnectionOptions } from './connection.js';
import {
  ACK_HEADER_BYTES,
  HANDSHAKE_SEQUENCE_BIT,
  KEY_BYTES,
  MAX_PAYLOAD_BYTES,
  PREFIX_BYTES,
  PRIVATE_TOKEN_BYTES,
  TOKEN_BINDING_PRUNE_MS,
} from './protocol-constants.js';
import {
  DENIED_PLAYER_CONNECTED,
  DENIED_SERVER_FULL,
  PACKET_TYPE_NAMES,
  PacketType,
  packetAdditionalData,
  peekPacketType,
  readTimestamp,
  REQUEST_EXPIRES_AT_OFFSET,
  REQUEST_NONCE_OFFSET,
  REQUEST_PRIVATE_TOKEN_OFFSET,
  REQUEST_PROTOCOL_ID_OFFSET,
  sealPacket,
  type Channel,
} from './packet-codec.js';
import type { RejectReason } from './protocol-errors.js';

// The server end of Hangar's netcode (PROTOCOL.md). It does no I/O and reads no clock of its own:
// datagrams come in through `receive`, go out through the `send` option, time comes from `now`.
// So one instance can run on a network worker thread per UDP port, each with its own state.

export type DisconnectReason = 'timed-out' | 'client-disconnected' | 'server-disconnected';

export interface ClientConnected {
  index: number;
  playerId: string;
  userData: Buffer;
  address: string;
  port: number;
}

export interface ServerEndpointOptions {
  protocolId: bigint;
  /** The 32-byte key shared with the backend that mints connect tokens. */
  tokenKey: Buffer;
  /** This GameServer's name: tokens minted for another server are refused. */
  serverId: string;
  maxClients: number;
  /** Milliseconds since the epoch (token expiry is wall-clock time). */
  now: () => number;
  /** Hands a datagram to the socket; the endpoint does not touch `data` afterwards. */
  send: (data: Buffer, address: string, port: number) => void;
  onConnect(client: ClientConnected): void;
  onDisconnect(index: number, reason: DisconnectReason): void;
  onMessage(index: number, channel: Channel, payload: Buffer): void;
  /** Every datagram of our protocol in and out, for the packet and byte counters (PACKET_TYPE_NAMES names the type). */
  onPacket?(direction: 'in' | 'out', type: PacketType, bytes: number): void;
  /** Every datagram dropped, for game_server_packets_rejected_total{reason}. */
  onReject?(reason: RejectReason): void;
  /** A packet this server sent to client `index` was acknowledged. */
  onAck?(index: number, sequence: number): void;
  /**
   * A closed client's index is not given to a new client until releaseSlot(index): for an endpoint
   * on a network worker, whose simulation addresses clients by index and hears of a disconnect a
   * tick later, so that what it meant for the old client never reaches the new one.
   */
  holdClosedSlots?: boolean;
}

interface TokenBinding {
  address: string;
  port: number;
  /** Kept until the token and any challenge made from it have expired. */
  until: number;
  /** A connection was made with it: the token cannot make another (its keys would repeat nonces). */
  used: boolean;
}

/** A server-side connection and what the server knows of its client. */
class ServerConnection extends Connection {
  constructor(
    o: ConnectionOptions,
    readonly playerId: string,
    /** The connect token's tag (latin1): duplicates of its handshake are answered, not refused. */
    readonly tokenTag: string,
    readonly userData: Buffer,
  ) {
    super(o);
  }

  /** The next connection from another address with the same port (ServerEndpoint's byPort). */
  samePort: ServerConnection | undefined;
}

export class ServerEndpoint implements ConnectionHost {
  readonly ads: readonly Buffer[];
  readonly nonce = newNonce();
  readonly body = Buffer.allocUnsafe(ACK_HEADER_BYTES + MAX_PAYLOAD_BYTES);

  private readonly o: ServerEndpointOptions;
  private readonly protocolIdBytes = Buffer.alloc(8);
  private readonly tokenKey: KeyObject;
  /** Seals challenge tokens; made fresh by every server, known to no one else. */
  private readonly challengeKey = aeadKey(randomBytes(KEY_BYTES));
  private challengeSequence = 0;
  private handshakeSequence = HANDSHAKE_SEQUENCE_BIT + randomInt(2 ** 46);
  private readonly slots: Array<ServerConnection | undefined>;
  private readonly freeSlots: number[] = [];
  /**
   * Connections by their client's port, then those sharing a port chained by `samePort` and told
   * apart by comparing addresses. node:dgram makes every datagram's address a fresh string, so a
   * Map keyed by address hashed those characters anew for every datagram; a port is a small
   * integer, and comparing two short strings needs no hash. A chain holds only connections that
   * completed the handshake, so it is as long as the players who share that port, nearly always one.
   */
  private readonly byPort = new Map<number, ServerConnection>();
  private readonly byPlayer = new Map<string, ServerConnection>();
  private readonly bindings = new Map<string, TokenBinding>();
  private nextPruneAt = 0;
  private connected = 0;
  /** While a handshake packet is handled: the most any reply may weigh (no amplification). */
  private replyLimit = Infinity;

  constructor(o: ServerEndpointOptions) {
    if (!Number.isInteger(o.maxClients) || o.maxClients < 1) throw new RangeError(`maxClients must be a positive integer, not ${o.maxClients}`);
    this.o = o;
    this.tokenKey = aeadKey(o.tokenKey);
    this.protocolIdBytes.writeBigUInt64BE(o.protocolId);
    this.ads = packetAdditionalData(o.protocolId);
    this.slots = new Array(o.maxClients);
    for (let i = o.maxClients - 1; i >= 0; i--) this.freeSlots.push(i);
  }

  get connectedCount(): number {
    return this.connected;
  }

  receive(data: Buffer, address: string, port: number): void {
    const type = peekPacketType(data);
    if (type === undefined) return this.reject('foreign');
    if (typeof type === 'string') return this.reject(type);
    this.o.onPacket?.('in', type, data.length);
    switch (type) {
      case PacketType.KeepAlive:
      case PacketType.Payload:
      case PacketType.Disconnect: {
        const connection = this.connectionFrom(address, port);
        if (connection === undefined) return this.reject('unknown-address');
        const rejected = connection.receive(data, type, this.o.now());
        if (rejected !== undefined) return this.reject(rejected);
        if (type === PacketType.Disconnect) this.close(connection, 'client-disconnected');
        return;
      }
      case PacketType.Request:
      case PacketType.Response:
        this.replyLimit = data.length;
        try {
          const connectedNow = type === PacketType.Request ? this.onRequest(data, address, port) : this.onResponse(data, address, port);
          this.replyLimit = Infinity;
          if (connectedNow) this.o.onConnect({ index: connectedNow.index, playerId: connectedNow.playerId, userData: connectedNow.userData, address, port });
        } finally {
          this.replyLimit = Infinity;
        }
        return;
      default:
        return this.reject('unexpected-type');
    }
  }

  /**
   * Queues a message for client `index`, sent at the next update; dropped if that slot is no
   * longer connected. An unreliable payload is copied at once; a reliable one is kept, not copied,
   * until acknowledged.
   */
  send(index: number, channel: Channel, payload: Buffer): void {
    this.slots[this.slotIndex(index)]?.queue(channel, payload);
  }

  /** Once per tick: times out silent clients, then sends each client what is due. */
  update(): void {
    const now = this.o.now();
    for (let i = 0; i < this.slots.length; i++) {
      const connection = this.slots[i];
      if (connection === undefined) continue;
      if (connection.timedOut(now)) this.close(connection, 'timed-out');
      else connection.flush(now);
    }
    if (now >= this.nextPruneAt) {
      this.nextPruneAt = now + TOKEN_BINDING_PRUNE_MS;
      for (const [tag, binding] of this.bindings) if (binding.until <= now) this.bindings.delete(tag);
    }
  }

  /** The simulation has heard that client `index` closed: its slot may serve a new client (holdClosedSlots). */
  releaseSlot(index: number): void {
    const i = this.slotIndex(index);
    if (this.slots[i] !== undefined || this.freeSlots.includes(i)) return;
    this.freeSlots.push(i);
  }

  /** Disconnects client `index`, telling it with a few disconnect packets. */
  disconnect(index: number): void {
    const connection = this.slots[this.slotIndex(index)];
    if (connection === undefined) return;
    connection.sendDisconnects(this.o.now());
    this.close(connection, 'server-disconnected');
  }

  /** Every connected client's round-trip time, ms, leaving out those not measured yet. */
  rtts(): number[] {
    const out: number[] = [];
    for (const c of this.slots) if (c !== undefined && c.rttMs > 0) out.push(c.rttMs);
    return out;
  }

  /** Round-trip time to client `index`, ms (0 until measured or when not connected). */
  rttMs(index: number): number {
    return this.slots[this.slotIndex(index)]?.rttMs ?? 0;
  }

  // ---- ConnectionHost ----

  transmit(connection: Connection, data: Buffer, type: PacketType): void {
    this.sendDatagram(data, type, connection.address, connection.port);
  }

  deliver(connection: Connection, channel: Channel, payload: Buffer): void {
    this.o.onMessage(connection.index, channel, payload);
  }

  acked(connection: Connection, sequence: number): void {
    this.o.onAck?.(connection.index, sequence);
  }

  // ---- the handshake ----

  /** A connection request: checks cheapest first, allocates nothing before the token is authentic. */
  private onRequest(data: Buffer, address: string, port: number): undefined {
    const now = this.o.now();
    if (this.protocolIdBytes.compare(data, REQUEST_PROTOCOL_ID_OFFSET, REQUEST_EXPIRES_AT_OFFSET) !== 0) return this.reject('bad-protocol-id');
    const expiresAt = readTimestamp(data, REQUEST_EXPIRES_AT_OFFSET);
    if (expiresAt <= now) return this.reject('token-expired');
    const sealed = data.subarray(REQUEST_PRIVATE_TOKEN_OFFSET, REQUEST_PRIVATE_TOKEN_OFFSET + PRIVATE_TOKEN_BYTES);
    const token = openPrivateToken(
      this.tokenKey,
      privateTokenAd(data.subarray(REQUEST_PROTOCOL_ID_OFFSET, REQUEST_EXPIRES_AT_OFFSET), data.subarray(REQUEST_EXPIRES_AT_OFFSET, REQUEST_NONCE_OFFSET)),
      data.subarray(REQUEST_NONCE_OFFSET, REQUEST_PRIVATE_TOKEN_OFFSET),
      sealed,
    );
    if (token === undefined) return this.reject('bad-token');
    if (token.serverId !== this.o.serverId) return this.reject('wrong-server');
    const tag = privateTokenTag(sealed);
    const tagKey = tag.toString('latin1');
    if (this.answeredByConnection(tagKey, address, port, now)) return undefined;
    const timeoutMs = token.timeoutSeconds * 1000;
    const binding = this.bindings.get(tagKey);
    if (binding === undefined) {
      // A challenge made now expires before expiresAt + timeout, so the binding outlives it.
      this.bindings.set(tagKey, { address, port, until: expiresAt + timeoutMs, used: false });
    } else {
      if (binding.address !== address || binding.port !== port) return this.reject('token-in-use');
      if (binding.used) return this.reject('token-used');
    }
    const serverToClientKey = packetKey(token.serverToClientKey);
    if (this.refusedForCapacity(token.playerId, serverToClientKey, address, port)) return undefined;
    const challengeToken = sealChallengeToken(this.challengeKey, this.challengeSequence++, challengeAd(address, port), {
      tokenTag: tag,
      expiresAt: now + timeoutMs,
      timeoutSeconds: token.timeoutSeconds,
      clientToServerKey: token.clientToServerKey,
      serverToClientKey: token.serverToClientKey,
      playerId: token.playerId,
      userData: token.userData,
    });
    this.sendHandshake(PacketType.Challenge, challengeToken, serverToClientKey, address, port);
    return undefined;
  }

  /** A connection response: the client proves it got our challenge at this address. */
  private onResponse(data: Buffer, address: string, port: number): ServerConnection | undefined {
    const now = this.o.now();
    const challenge = openChallengeToken(this.challengeKey, challengeAd(address, port), data.subarray(PREFIX_BYTES));
    if (challenge === undefined) return this.reject('bad-challenge');
    if (challenge.expiresAt <= now) return this.reject('challenge-expired');
    const tagKey = challenge.tokenTag.toString('latin1');
    if (this.answeredByConnection(tagKey, address, port, now)) return undefined;
    const binding = this.bindings.get(tagKey);
    if (binding === undefined) return this.reject('challenge-expired');
    if (binding.used) return this.reject('token-used');
    const serverToClientKey = packetKey(challenge.serverToClientKey);
    if (this.refusedForCapacity(challenge.playerId, serverToClientKey, address, port)) return undefined;

    const index = this.freeSlots.pop()!;
    const connection = new ServerConnection(
      { host: this, sendKey: serverToClientKey, receiveKey: packetKey(challenge.clientToServerKey), timeoutMs: challenge.timeoutSeconds * 1000, now, address, port, index },
      challenge.playerId,
      tagKey,
      Buffer.from(challenge.userData),
    );
    binding.used = true;
    this.slots[index] = connection;
    this.connected++;
    connection.samePort = this.byPort.get(port);
    this.byPort.set(port, connection);
    this.byPlayer.set(challenge.playerId, connection);
    // The keep-alive tells the client it is in; it repeats its response until one arrives.
    connection.sendKeepAlive(now);
    return connection;
  }

  /**
   * A request or response from an address that is already connected: with the same token it is a
   * duplicate (the reply was lost, or a replay), answered with a keep-alive and no second slot.
   */
  private answeredByConnection(tagKey: string, address: string, port: number, now: number): boolean {
    const connection = this.connectionFrom(address, port);
    if (connection === undefined) return false;
    if (connection.tokenTag === tagKey) connection.sendKeepAlive(now);
    else this.reject('address-connected');
    return true;
  }

  /** Denies the player if it is connected already or the server is full. */
  private refusedForCapacity(playerId: string, serverToClientKey: Buffer, address: string, port: number): boolean {
    // No free slot: every one is connected, or (holdClosedSlots) waits for its release.
    const reason = this.byPlayer.has(playerId) ? 'player-connected' : this.freeSlots.length === 0 ? 'server-full' : undefined;
    if (reason === undefined) return false;
    this.sendHandshake(PacketType.Denied, Buffer.of(reason === 'server-full' ? DENIED_SERVER_FULL : DENIED_PLAYER_CONNECTED), serverToClientKey, address, port);
    this.reject(reason);
    return true;
  }

  /** Challenge and denied packets: sealed with the token's key, numbered apart from any connection. */
  private sendHandshake(type: PacketType, body: Buffer, key: Buffer, address: string, port: number): void {
    this.sendDatagram(sealPacket(type, this.handshakeSequence++, body, key, this.ads[type]!, this.nonce), type, address, port);
  }

  private sendDatagram(data: Buffer, type: PacketType, address: string, port: number): void {
    // Enforces what the sizes guarantee: no reply to an unauthenticated packet outweighs it.
    if (data.length > this.replyLimit) throw new Error(`netcode bug: a ${data.length}-byte ${PACKET_TYPE_NAMES[type]} reply to a ${this.replyLimit}-byte packet`);
    this.o.onPacket?.('out', type, data.length);
    this.o.send(data, address, port);
  }

  private close(connection: ServerConnection, reason: DisconnectReason): void {
    connection.closed = true;
    this.slots[connection.index] = undefined;
    if (!this.o.holdClosedSlots) this.freeSlots.push(connection.index);
    this.connected--;
    this.unchainPort(connection);
    this.byPlayer.delete(connection.playerId);
    this.o.onDisconnect(connection.index, reason);
  }

  /** The connection of the client at `address` and `port`, if any. */
  private connectionFrom(address: string, port: number): ServerConnection | undefined {
    for (let c = this.byPort.get(port); c !== undefined; c = c.samePort) if (c.address === address) return c;
    return undefined;
  }

  private unchainPort(connection: ServerConnection): void {
    const first = this.byPort.get(connection.port);
    if (first === connection) {
      if (connection.samePort === undefined) this.byPort.delete(connection.port);
      else this.byPort.set(connection.port, connection.samePort);
    } else {
      let c = first;
      while (c !== undefined && c.samePort !== connection) c = c.samePort;
      if (c !== undefined) c.samePort = connection.samePort;
    }
    connection.samePort = undefined;
  }

  private slotIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.slots.length) throw new RangeError(`client index ${index} is outside 0..${this.slots.length - 1}`);
    return index;
  }

  private reject(reason: RejectReason): undefined {
    this.o.onReject?.(reason);
    return undefined;
  }
}
