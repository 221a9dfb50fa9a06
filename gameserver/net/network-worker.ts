import { createSocket } from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { ServerEndpoint } from '../protocol/server-endpoint.js';
import { warmUpNetcode } from '../protocol/warm-up.js';
import { numericLookup, sendOrDrop, SOCKET_BUFFER_BYTES } from './network-path.js';
import { PacketCounters } from './packet-counters.js';
import {
  DISCONNECT_REASONS,
  EVENT_CONNECT,
  EVENT_DISCONNECT,
  EVENT_MESSAGE,
  EventRing,
  FrameWriter,
  OP_DISCONNECT,
  OP_RELEASE,
  OP_UNRELIABLE,
  opChannel,
  channelOp,
  tickSuperseded,
} from './worker-frames.js';

// One network worker: a UDP socket and the netcode endpoint for it. It decrypts what arrives and
// writes the game messages into its EventRing, a frame per datagram, which the simulation thread
// reads at the start of each tick; once per tick it takes the simulation's frame of outgoing
// messages, then encrypts and sends.
//
// While clients are connected it reads its socket in batches, as the inline path's tick loop does
// (tick-loop.ts, `received`): event-loop turns with a sleep of up to BATCH_SLEEP_MS after each
// that read nothing, instead of a wake-up for every datagram or two. The simulation thread cuts a
// sleep short when it posts a tick (`wake`), so snapshots leave as soon as they are made.

export interface NetworkWorkerData {
  protocolId: string;
  tokenKey: Uint8Array;
  serverId: string;
  maxClients: number;
  bindAddress: string;
  port: number;
  warmUpConnections: number;
  /** The EventRing's buffer, shared with the simulation thread. */
  events: SharedArrayBuffer;
  /**
   * Two Int32s: [0] the ticks the simulation thread has posted, bumped and notified with each;
   * [1] the ticks this worker has taken, which the simulation thread watches to tell a hung worker.
   */
  wake: SharedArrayBuffer;
}

export type FromNetworkWorker =
  | { type: 'listening' }
  | { type: 'error'; message: string }
  | { type: 'counters'; snapshot: ReturnType<PacketCounters['drain']> }
  | { type: 'closed' };

export type ToNetworkWorker = { type: 'tick'; frame: ArrayBuffer } | { type: 'counters' } | { type: 'close' };

const port = parentPort!;
const data = workerData as NetworkWorkerData;
const counters = new PacketCounters();
const ring = new EventRing(data.events);
/** The events of the datagram (or tick) being handled. */
const events = new FrameWriter();
/** Frames the ring had no room for (the simulation thread fell behind), oldest first. */
const overflow: Buffer[] = [];

const post = (msg: FromNetworkWorker) => port.postMessage(msg);

/** The most a batched turn sleeps, ms: what a datagram may wait to be read. */
const BATCH_SLEEP_MS = 1;
const wake = new Int32Array(data.wake);
let ticksTaken = 0;
let lastUpdateAt = performance.now();
let received = 0;
let receivedBefore = -1;
let batching = false;

/** One turn of a batched wait: asleep first, unless the last turn read something or a tick is waiting. */
function batchTurn(): void {
  if (endpoint.connectedCount === 0) {
    batching = false;
    return;
  }
  if (received === receivedBefore) Atomics.wait(wake, 0, ticksTaken, BATCH_SLEEP_MS);
  receivedBefore = received;
  setImmediate(batchTurn);
}

/** Hands the events recorded so far to the simulation thread, behind any still waiting for room. */
function flushEvents(): void {
  while (overflow.length > 0 && ring.write(overflow[0]!)) overflow.shift();
  if (events.length === 0) return;
  if (overflow.length > 0 || !ring.write(events.written())) overflow.push(Buffer.from(events.written()));
  events.clear();
}

warmUpNetcode(BigInt(data.protocolId), data.warmUpConnections);
const socket = createSocket({ type: data.bindAddress.includes(':') ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES, lookup: numericLookup });
const endpoint = new ServerEndpoint({
  protocolId: BigInt(data.protocolId),
  tokenKey: Buffer.from(data.tokenKey),
  serverId: data.serverId,
  maxClients: data.maxClients,
  // The simulation addresses clients by index and hears of a disconnect a tick later (OP_RELEASE).
  holdClosedSlots: true,
  now: Date.now,
  send: (bytes, address, p) => socket.send(bytes, p, address),
  onConnect: (c) => {
    const player = Buffer.from(c.playerId, 'utf8');
    events.u8(EVENT_CONNECT);
    events.u16(c.index);
    events.u8(player.length);
    events.bytes(player);
    events.u16(c.userData.length);
    events.bytes(c.userData);
    if (!batching) {
      batching = true;
      setImmediate(batchTurn);
    }
  },
  onDisconnect: (index, reason) => {
    events.u8(EVENT_DISCONNECT);
    events.u16(index);
    events.u8(DISCONNECT_REASONS.indexOf(reason));
  },
  onMessage: (index, channel, payload) => {
    events.u8(EVENT_MESSAGE);
    events.u16(index);
    events.u8(channelOp(channel));
    events.u16(payload.length);
    events.bytes(payload);
  },
  onPacket: (direction, type, bytes) => counters.packet(direction, type, bytes),
  onReject: (reason) => counters.reject(reason),
});

socket.on('message', (bytes, from) => {
  received++;
  endpoint.receive(bytes, from.address, from.port);
  flushEvents();
});

port.on('message', (msg: ToNetworkWorker) => {
  switch (msg.type) {
    case 'tick': {
      ticksTaken++;
      Atomics.store(wake, 1, ticksTaken);
      // Superseded: this tick's unreliable messages are dropped (as the network may drop them) and
      // the update left to the later tick, so a backlog clears in a few milliseconds instead of
      // growing, with the socket unread meanwhile.
      const superseded = tickSuperseded(Atomics.load(wake, 0), ticksTaken, performance.now() - lastUpdateAt);
      const frame = Buffer.from(msg.frame);
      let o = 0;
      while (o < frame.length) {
        const index = frame.readUInt16LE(o);
        const op = frame[o + 2]!;
        const length = frame.readUInt16LE(o + 3);
        o += 5;
        if (op === OP_DISCONNECT) endpoint.disconnect(index);
        else if (op === OP_RELEASE) endpoint.releaseSlot(index);
        else if (!superseded || op !== OP_UNRELIABLE) sendOrDrop(endpoint, counters, index, opChannel(op), frame.subarray(o, o + length), true);
        o += length;
      }
      if (superseded) return;
      lastUpdateAt = performance.now();
      endpoint.update();
      flushEvents();
      return;
    }
    case 'counters':
      return post({ type: 'counters', snapshot: counters.drain(endpoint.rtts()) });
    case 'close':
      socket.close(() => post({ type: 'closed' }));
      return;
  }
});

socket.once('error', (err) => post({ type: 'error', message: err.message }));
socket.bind(data.port, data.bindAddress, () => {
  socket.removeAllListeners('error');
  // A send error (an unreachable client) must not stop the worker; it is counted instead.
  socket.on('error', () => counters.reject('socket-error'));
  post({ type: 'listening' });
});
