import { newNonce, packetKey } from './aead.js';
import { readPublicToken, type PublicConnectToken } from './connect-token.js';
import { Connection, type ConnectionHost } from './connection.js';
import { ACK_HEADER_BYTES, HANDSHAKE_RESEND_MS, MAX_PAYLOAD_BYTES, PREFIX_BYTES, TIMER_SLACK_MS } from './protocol-constants.js';
import {
  DENIED_PLAYER_CONNECTED,
  DENIED_SERVER_FULL,
  encodePacket,
  openPacket,
  PacketType,
  packetAdditionalData,
  peekPacketType,
  writePrefix,
  type Channel,
  type DeniedReason,
} from './packet-codec.js';
import { ConnectTokenError, type RejectReason } from './protocol-errors.js';
import { parseServerAddress, pickServerAddress, type ServerAddress } from './server-address.js';

// The client end of Hangar's netcode (PROTOCOL.md, "Client states"). Like the server it does no
// I/O: datagrams from the server go to `receive`, its own go out through `send`, time is `now`.
// One endpoint makes at most one connection: a connect token's keys must never start a second
// sequence at 0.

export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'denied' | 'timed-out' | 'expired';

export interface ClientEndpointOptions {
  /** The connect token from the backend, as minted. */
  token: Buffer;
  /** Milliseconds since the epoch (the token expires in wall-clock time). */
  now: () => number;
  send: (data: Buffer, address: string, port: number) => void;
  onMessage(channel: Channel, payload: Buffer): void;
  onStateChange?(state: ClientState): void;
  /** "host:port" to use instead of the token's pick (a proxy, a test). */
  address?: string;
  /** Every datagram of our protocol in and out (PACKET_TYPE_NAMES names the type). */
  onPacket?(direction: 'in' | 'out', type: PacketType, bytes: number): void;
  onReject?(reason: RejectReason): void;
  onAck?(sequence: number): void;
}

export class ClientEndpoint implements ConnectionHost {
  readonly ads: readonly Buffer[];
  readonly nonce = newNonce();
  readonly body = Buffer.allocUnsafe(ACK_HEADER_BYTES + MAX_PAYLOAD_BYTES);
  readonly serverAddress: ServerAddress;
  /** Why the server denied us, once state is 'denied'. */
  deniedReason: DeniedReason | undefined;

  private readonly o: ClientEndpointOptions;
  private readonly token: PublicConnectToken;
  private readonly connection: Connection;
  private readonly serverToClientKey: Buffer;
  private readonly request: Buffer;
  private response: Buffer | undefined;
  private current: ClientState = 'disconnected';
  private started = false;
  private lastHandshakeSentAt = 0;

  constructor(o: ClientEndpointOptions) {
    this.o = o;
    this.token = readPublicToken(o.token);
    const hostPort = o.address ?? pickServerAddress(this.token.addresses, this.token.playerId);
    const server = parseServerAddress(hostPort);
    if (!server) throw new ConnectTokenError(`server address ${JSON.stringify(hostPort)} is not host:port`);
    this.serverAddress = server;
    this.ads = packetAdditionalData(this.token.protocolId);
    this.request = encodePacket(
      { type: 'request', protocolId: this.token.protocolId, expiresAt: this.token.expiresAt, tokenNonce: this.token.nonce, privateToken: this.token.privateToken },
      { protocolId: this.token.protocolId, key: this.token.clientToServerKey },
    );
    this.serverToClientKey = packetKey(this.token.serverToClientKey);
    this.connection = new Connection({
      host: this,
      sendKey: packetKey(this.token.clientToServerKey),
      receiveKey: this.serverToClientKey,
      timeoutMs: this.token.timeoutSeconds * 1000,
      now: o.now(),
      address: server.address,
      port: server.port,
    });
  }

  get state(): ClientState {
    return this.current;
  }

  /** Smoothed round-trip time to the server, ms (0 until measured). */
  get rttMs(): number {
    return this.connection.rttMs;
  }

  /** Starts the handshake: sends a connection request now and again every 100 ms until answered. */
  connect(): void {
    if (this.started) throw new Error('a ClientEndpoint connects once: mint a new token and make a new endpoint to reconnect');
    this.started = true;
    const now = this.o.now();
    if (now >= this.token.expiresAt) return this.become('expired');
    this.connection.lastReceivedAt = now;
    this.become('connecting');
    this.sendHandshake(now);
  }

  receive(data: Buffer): void {
    const type = peekPacketType(data);
    if (type === undefined) return this.reject('foreign');
    if (typeof type === 'string') return this.reject(type);
    this.o.onPacket?.('in', type, data.length);
    const now = this.o.now();
    const state = this.current;
    switch (type) {
      case PacketType.Challenge:
      case PacketType.Denied: {
        if (state !== 'connecting') return this.reject('unexpected-type');
        const body = openPacket(data, this.serverToClientKey, this.ads[type]!, this.nonce);
        if (body === undefined) return this.reject('bad-tag');
        if (type === PacketType.Denied) {
          const reason = body[0] === DENIED_SERVER_FULL ? 'server-full' : body[0] === DENIED_PLAYER_CONNECTED ? 'player-connected' : undefined;
          if (reason === undefined) return this.reject('bad-body');
          this.deniedReason = reason;
          return this.become('denied');
        }
        this.connection.lastReceivedAt = now;
        this.response = Buffer.allocUnsafe(PREFIX_BYTES + body.length);
        writePrefix(this.response, PacketType.Response);
        body.copy(this.response, PREFIX_BYTES);
        this.sendHandshake(now);
        return;
      }
      case PacketType.KeepAlive:
      case PacketType.Payload:
      case PacketType.Disconnect: {
        if (state !== 'connecting' && state !== 'connected') return this.reject('unexpected-type');
        const rejected = this.connection.receive(data, type, now);
        if (rejected !== undefined) return this.reject(rejected);
        if (type === PacketType.Disconnect) this.become('disconnected');
        return;
      }
      default:
        return this.reject('unexpected-type');
    }
  }

  /**
   * Queues a message, sent at the next update once connected; dropped after the connection has
   * ended. An unreliable payload is copied at once; a reliable one is kept, not copied, until
   * acknowledged.
   */
  send(channel: Channel, payload: Buffer): void {
    if (this.current === 'connecting' || this.current === 'connected' || !this.started) this.connection.queue(channel, payload);
  }

  /** Once per tick: handshake resends and timeouts while connecting; messages, acks and keep-alives once connected. */
  update(): void {
    const now = this.o.now();
    if (this.current === 'connecting') {
      if (now >= this.token.expiresAt && this.response === undefined) return this.become('expired');
      if (this.connection.timedOut(now)) return this.become('timed-out');
      if (now - this.lastHandshakeSentAt >= HANDSHAKE_RESEND_MS - TIMER_SLACK_MS) this.sendHandshake(now);
    } else if (this.current === 'connected') {
      if (this.connection.timedOut(now)) return this.become('timed-out');
      this.connection.flush(now);
    }
  }

  /** Ends the connection, telling the server with a few disconnect packets. */
  disconnect(): void {
    if (this.current === 'connected') this.connection.sendDisconnects(this.o.now());
    if (this.current === 'connecting' || this.current === 'connected') this.become('disconnected');
  }

  // ---- ConnectionHost ----

  transmit(_connection: Connection, data: Buffer, type: PacketType): void {
    this.sendDatagram(data, type);
  }

  deliver(_connection: Connection, channel: Channel, payload: Buffer): void {
    this.o.onMessage(channel, payload);
  }

  acked(_connection: Connection, sequence: number): void {
    this.o.onAck?.(sequence);
  }

  authenticated(_connection: Connection, type: PacketType): void {
    // Only the server holds the key, so an authentic packet means it has let us in.
    if (this.current === 'connecting' && type !== PacketType.Disconnect) this.become('connected');
  }

  private sendHandshake(now: number): void {
    this.lastHandshakeSentAt = now;
    if (this.response) this.sendDatagram(this.response, PacketType.Response);
    else this.sendDatagram(this.request, PacketType.Request);
  }

  private sendDatagram(data: Buffer, type: PacketType): void {
    this.o.onPacket?.('out', type, data.length);
    this.o.send(data, this.serverAddress.address, this.serverAddress.port);
  }

  private become(state: ClientState): void {
    if (state === this.current) return;
    this.current = state;
    this.connection.closed = state !== 'connecting' && state !== 'connected';
    this.o.onStateChange?.(state);
  }

  private reject(reason: RejectReason): undefined {
    this.o.onReject?.(reason);
    return undefined;
  }
}
