import { createSocket, type Socket } from 'node:dgram';
import type { Channel } from '../arena/arena-game.js';
import { ServerEndpoint, type ServerEndpointOptions } from '../protocol/server-endpoint.js';
import { warmUpNetcode } from '../protocol/warm-up.js';
import type { NetworkHandlers, NetworkPath, NetworkPathOptions } from './network-path.js';
import { numericLookup, sendOrDrop, SOCKET_BUFFER_BYTES } from './network-path.js';
import { PacketCounters, type CounterSnapshot } from './packet-counters.js';

/**
 * The server endpoint as InlineNetwork wires it to the game's handlers and the packet counters,
 * datagrams out through `io.send`. Its own function so that bench/arena-instructions.ts runs this
 * very wiring in memory, with no socket and a clock of its own.
 */
export function inlineEndpoint(options: NetworkPathOptions, handlers: Omit<NetworkHandlers, 'onNetworkFailed'>, counters: PacketCounters, io: Pick<ServerEndpointOptions, 'now' | 'send'>): ServerEndpoint {
  const endpoint: ServerEndpoint = new ServerEndpoint({
    protocolId: options.protocolId,
    tokenKey: options.tokenKey,
    serverId: options.serverId,
    maxClients: options.maxClients,
    now: io.now,
    send: io.send,
    onConnect: (c) => {
      if (!handlers.onConnect(c.index, c.playerId, c.userData)) endpoint.disconnect(c.index);
    },
    onDisconnect: (index, reason) => handlers.onDisconnect(index, reason),
    onMessage: (index, channel, payload) => handlers.onMessage(index, channel, payload),
    onPacket: (direction, type, bytes) => counters.packet(direction, type, bytes),
    onReject: (reason) => counters.reject(reason),
  });
  return endpoint;
}

/** The netcode on the simulation thread, over one UDP socket: the simplest path, for small servers. */
export class InlineNetwork implements NetworkPath {
  private socket: Socket | undefined;
  private endpoint: ServerEndpoint | undefined;
  private readonly counters = new PacketCounters();
  private received = 0;
  private sent = 0;

  constructor(private readonly options: NetworkPathOptions) {}

  get connectionCount(): number {
    return this.endpoint?.connectedCount ?? 0;
  }

  get datagramsReceived(): number {
    return this.received;
  }

  get datagramsSent(): number {
    return this.sent;
  }

  async start(handlers: NetworkHandlers): Promise<void> {
    const { options, counters } = this;
    warmUpNetcode(options.protocolId, options.warmUpConnections ?? 0);
    const socket = createSocket({ type: options.bindAddress.includes(':') ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES, lookup: numericLookup });
    const endpoint = inlineEndpoint(options, handlers, counters, { now: Date.now, send: (data, address, port) => {
        this.sent++;
        socket.send(data, port, address);
      },
    });
    this.endpoint = endpoint;
    this.socket = socket;
    socket.on('message', (data, from) => {
      this.received++;
      endpoint.receive(data, from.address, from.port);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.ports[0], options.bindAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A send error (an unreachable client) must not take the server down; it is counted instead.
    socket.on('error', () => counters.reject('socket-error'));
  }

  send(client: number, channel: Channel, payload: Buffer): void {
    sendOrDrop(this.endpoint, this.counters, client, channel, payload);
  }

  disconnect(client: number): void {
    this.endpoint?.disconnect(client);
  }

  deliver(): void {}

  flush(): void {
    this.endpoint?.update();
  }

  drainCounters(): CounterSnapshot {
    return this.counters.drain(this.endpoint?.rtts());
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
