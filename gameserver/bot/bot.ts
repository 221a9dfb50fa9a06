import { createSocket, type Socket } from 'node:dgram';
import { decodeEvent, encodeInput, EventKind, INPUT_BYTES, MessageType, NO_TICK, type ArenaEvent, type InputMessage } from '../arena/arena-messages.js';
import { Button } from '../arena/arena-world.js';
import { SnapshotReceiver } from '../arena/snapshot-receiver.js';
import { ClientEndpoint, type ClientState } from '../protocol/client-endpoint.js';

// One bot player: its own UDP socket and netcode connection. Once connected it sends an input
// every tick (a wandering walk, firing now and then), rebuilds every snapshot against the base it
// acknowledged, and keeps the figures the bot summary reports: snapshots received and missed,
// decode failures, round-trip time, and how the match ended.

export interface BotStats {
  state: ClientState;
  connectedAtMs: number | null;
  snapshots: number;
  /** Snapshot ticks between the first and the last received that never arrived. */
  missedSnapshots: number;
  /** Messages that failed to decode, and snapshots whose base was unknown (a server bug if ever non-zero). */
  badMessages: number;
  events: number;
  rttMs: number;
  matchEnded: boolean;
}

export interface BotOptions {
  token: Buffer;
  /** Bind address of the bot's socket. */
  bindAddress?: string;
  /** Seeds the bot's wandering. */
  seed: number;
  now?: () => number;
}

export class Bot {
  private readonly socket: Socket;
  private readonly endpoint: ClientEndpoint;
  /**
   * Made on the first snapshot: its ring of states is ~75 KB of typed arrays, which a swarm need
   * not make for every bot between `matched` and the connection request.
   */
  private receiver: SnapshotReceiver | undefined;
  private sequence = 0;
  private firstTick = -1;
  private lastTick = -1;
  private seed: number;
  private heading = 0;
  /** The next input: movement and aim follow the heading, which changes now and then. */
  private readonly input: InputMessage = { sequence: 0, ackTick: NO_TICK, moveX: 0, moveY: 0, aim: 0, buttons: 0 };
  private readonly inputBytes = Buffer.alloc(INPUT_BYTES);
  private socketConnected = false;
  readonly stats: BotStats = { state: 'disconnected', connectedAtMs: null, snapshots: 0, missedSnapshots: 0, badMessages: 0, events: 0, rttMs: 0, matchEnded: false };

  constructor(private readonly options: BotOptions) {
    this.seed = options.seed >>> 0 || 1;
    this.turn(this.random() * 2 * Math.PI);
    const now = options.now ?? Date.now;
    this.endpoint = new ClientEndpoint({
      token: options.token,
      now,
      // The socket is connected to the server (start()), so a send names no destination: no
      // address lookup per datagram, and the kernel drops datagrams from anyone else.
      send: (data) => {
        if (this.socketConnected) this.socket.send(data);
      },
      onMessage: (_channel, payload) => this.onMessage(payload),
      onStateChange: (state) => {
        this.stats.state = state;
        if (state === 'connected') this.stats.connectedAtMs = now();
      },
    });
    const ipv6 = this.endpoint.serverAddress.address.includes(':');
    this.socket = createSocket(ipv6 ? 'udp6' : 'udp4');
    this.socket.on('message', (data) => this.endpoint.receive(data));
    // An unreachable server shows up as the connection timing out; the socket error itself is noise.
    this.socket.on('error', () => undefined);
  }

  get state(): ClientState {
    return this.endpoint.state;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(0, this.options.bindAddress, () => resolve()));
    const { address, port } = this.endpoint.serverAddress;
    // connect() hands a failure (an unresolvable host) to its callback, not to 'error': the socket
    // stays unconnected, nothing is sent, and the handshake times out as it would with no answer.
    await new Promise<void>((resolve) =>
      this.socket.connect(port, address, (err?: Error) => {
        this.socketConnected = !err;
        resolve();
      }),
    );
    this.endpoint.connect();
  }

  /** Once per client tick: an input when connected, then whatever the connection has to send. */
  tick(): void {
    if (this.endpoint.state === 'connected' && !this.stats.matchEnded) {
      if (this.random() < 0.05) this.turn(this.heading + (this.random() - 0.5) * 2);
      this.input.sequence = ++this.sequence;
      this.input.ackTick = this.receiver?.ackTick ?? NO_TICK;
      this.input.buttons = this.random() < 0.1 ? Button.Fire : 0;
      // The update below sends the input at once, so one buffer serves every tick.
      this.endpoint.send('unreliable', encodeInput(this.input, this.inputBytes));
    }
    this.endpoint.update();
    this.stats.rttMs = this.endpoint.rttMs;
  }

  async stop(): Promise<void> {
    if (this.endpoint.state === 'connected') {
      this.endpoint.disconnect();
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(payload: Buffer): void {
    try {
      if (payload[0] === MessageType.Snapshot) {
        const receiver = (this.receiver ??= new SnapshotReceiver());
        const outcome = receiver.receive(payload);
        if (outcome === 'missing-base') {
          this.stats.badMessages++;
          return;
        }
        if (outcome === 'applied') {
          const tick = receiver.ackTick;
          if (this.firstTick < 0) this.firstTick = tick;
          if (this.lastTick >= 0 && tick > this.lastTick + 1) this.stats.missedSnapshots += tick - this.lastTick - 1;
          this.lastTick = tick;
        }
        this.stats.snapshots++;
      } else if (payload[0] === MessageType.Event) {
        this.stats.events++;
        const event: ArenaEvent = decodeEvent(payload);
        if (event.kind === EventKind.MatchEnd) this.stats.matchEnded = true;
      }
    } catch {
      this.stats.badMessages++;
    }
  }

  private turn(heading: number): void {
    this.heading = heading;
    this.input.moveX = Math.round(Math.cos(heading) * 127);
    this.input.moveY = Math.round(Math.sin(heading) * 127);
    this.input.aim = Math.floor((((heading % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) / (2 * Math.PI) * 65536) & 0xffff;
  }

  private random(): number {
    this.seed = (this.seed * 48271) % 2147483647;
    return this.seed / 2147483647;
  }
}
