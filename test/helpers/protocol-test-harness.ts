import { FakeClock } from './fake-clock.js';
import { ClientEndpoint, type ClientEndpointOptions, type ClientState } from '../../gameserver/protocol/client-endpoint.js';
import { mintConnectToken, type ConnectTokenOptions } from '../../gameserver/protocol/connect-token.js';
import { LossyLink, type LossyLinkOptions } from './lossy-link.js';
import { PACKET_TYPE_NAMES, type Channel, type PacketTypeName } from '../../gameserver/protocol/packet-codec.js';
import { HANGAR_PROTOCOL_ID } from '../../gameserver/protocol/protocol-constants.js';
import type { RejectReason } from '../../gameserver/protocol/protocol-errors.js';
import { ServerEndpoint, type DisconnectReason, type ServerEndpointOptions } from '../../gameserver/protocol/server-endpoint.js';

// A server and its clients on a fake clock, joined by a LossyLink: what the protocol's tests drive.

export const TOKEN_KEY = Buffer.alloc(32, 0x5a);
export const SERVER_ID = 'simple-2xk7q';
export const SERVER_ADDRESS = '10.0.0.1:7000';

export function testToken(overrides: Partial<ConnectTokenOptions> & { now: number }): Buffer {
  return mintConnectToken({
    key: TOKEN_KEY,
    protocolId: HANGAR_PROTOCOL_ID,
    serverId: SERVER_ID,
    playerId: 'player-1',
    addresses: [SERVER_ADDRESS],
    expiresInSeconds: 30,
    ...overrides,
  });
}

export interface SentDatagram {
  data: Buffer;
  address: string;
  port: number;
}

export interface TestClient {
  endpoint: ClientEndpoint;
  address: string;
  port: number;
  messages: Array<{ channel: Channel; payload: Buffer }>;
  states: ClientState[];
  rejects: RejectReason[];
  acks: number[];
}

export class TestNet {
  readonly clock = new FakeClock();
  readonly server: ServerEndpoint;
  readonly link: LossyLink;
  readonly connects: Array<{ index: number; playerId: string; userData: Buffer; address: string; port: number }> = [];
  readonly disconnects: Array<{ index: number; reason: DisconnectReason }> = [];
  readonly serverMessages: Array<{ index: number; channel: Channel; payload: Buffer }> = [];
  readonly serverRejects: RejectReason[] = [];
  readonly serverPackets: Array<{ direction: 'in' | 'out'; type: PacketTypeName; bytes: number }> = [];
  readonly serverAcks: Array<{ index: number; sequence: number }> = [];
  /** Every datagram the server sent, whichever way the link treated it. */
  readonly serverSent: SentDatagram[] = [];
  /** Every datagram the link delivered to the server. */
  readonly serverReceived: SentDatagram[] = [];
  private readonly clients = new Map<string, TestClient>();

  constructor(o: { link?: LossyLinkOptions; server?: Partial<ServerEndpointOptions> } = {}) {
    this.link = new LossyLink(o.link ?? { seed: 1 });
    this.server = new ServerEndpoint({
      protocolId: HANGAR_PROTOCOL_ID,
      tokenKey: TOKEN_KEY,
      serverId: SERVER_ID,
      maxClients: 8,
      now: () => this.clock.now(),
      send: (data, address, port) => {
        this.serverSent.push({ data, address, port });
        this.link.push(this.clock.now(), data, (d) => this.clients.get(`${address}:${port}`)?.endpoint.receive(d));
      },
      onConnect: (c) => this.connects.push(c),
      onDisconnect: (index, reason) => this.disconnects.push({ index, reason }),
      onMessage: (index, channel, payload) => this.serverMessages.push({ index, channel, payload: Buffer.from(payload) }),
      onPacket: (direction, type, bytes) => this.serverPackets.push({ direction, type: PACKET_TYPE_NAMES[type], bytes }),
      onReject: (reason) => this.serverRejects.push(reason),
      onAck: (index, sequence) => this.serverAcks.push({ index, sequence }),
      ...o.server,
    });
  }

  /** A client at `address:port` with its own token (minted now unless given). */
  client(o: { token?: Buffer; address?: string; port?: number; playerId?: string; endpoint?: Partial<ClientEndpointOptions> } = {}): TestClient {
    const address = o.address ?? '192.0.2.10';
    const port = o.port ?? 50_000 + this.clients.size;
    const token = o.token ?? testToken({ now: this.clock.now(), playerId: o.playerId ?? `player-${this.clients.size + 1}` });
    const client: TestClient = { address, port, messages: [], states: [], rejects: [], acks: [], endpoint: undefined as unknown as ClientEndpoint };
    client.endpoint = new ClientEndpoint({
      token,
      now: () => this.clock.now(),
      send: (data) =>
        this.link.push(this.clock.now(), data, (d) => {
          this.serverReceived.push({ data: d, address, port });
          this.server.receive(d, address, port);
        }),
      onMessage: (channel, payload) => client.messages.push({ channel, payload: Buffer.from(payload) }),
      onStateChange: (state) => client.states.push(state),
      onReject: (reason) => client.rejects.push(reason),
      onAck: (sequence) => client.acks.push(sequence),
      ...o.endpoint,
    });
    this.clients.set(`${address}:${port}`, client);
    return client;
  }

  /** Advances time in ticks of `tickMs`, delivering datagrams and updating every endpoint each tick. */
  run(ms: number, tickMs = 1000 / 30): void {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(tickMs, end - this.clock.now()));
      this.link.deliverDue(this.clock.now());
      for (const c of this.clients.values()) c.endpoint.update();
      this.server.update();
    }
  }

  /** Runs until every pending datagram has been delivered (no loss of time beyond latency). */
  settle(): void {
    for (let i = 0; i < 100 && this.link.pending > 0; i++) this.run(10, 10);
  }
}
