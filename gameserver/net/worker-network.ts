import { Worker } from 'node:worker_threads';
import type { Channel } from '../arena/arena-game.js';
import type { NetworkHandlers, NetworkPath, NetworkPathOptions } from './network-path.js';
import type { FromNetworkWorker, NetworkWorkerData, ToNetworkWorker } from './network-worker.js';
import { PacketCounters, type CounterSnapshot } from './packet-counters.js';
import { channelOp, DISCONNECT_REASONS, EVENT_CONNECT, EVENT_DISCONNECT, EVENT_MESSAGE, EventRing, FrameWriter, opChannel, OP_DISCONNECT } from './worker-frames.js';

// The netcode on worker threads: one worker per UDP port, each decrypting what it receives and
// encrypting what it sends, so the network path uses as many cores as there are workers while the
// simulation stays on this thread. A client's id carries its worker: (worker << 16) | index.
// What the workers receive waits in their EventRings until the next tick starts (deliver): this
// thread is not woken for it in between.

const WORKER_BITS = 16;
const INDEX_MASK = 0xffff;

interface NetWorker {
  worker: Worker;
  outgoing: FrameWriter;
  events: EventRing;
  /** The ticks posted to the worker, for it to wake on (NetworkWorkerData.wake). */
  ticks: Int32Array;
  /** Resolves once the worker has closed its socket. */
  closed: Promise<void>;
}

export class WorkerNetwork implements NetworkPath {
  private readonly workers: NetWorker[] = [];
  private readonly totals = new PacketCounters();
  private readonly pendingCounters: CounterSnapshot[] = [];
  private connections = 0;
  private handlers: NetworkHandlers | undefined;

  constructor(
    private readonly options: NetworkPathOptions,
    /** The compiled worker module (dist/gameserver/net/network-worker.js). */
    private readonly workerUrl = new URL('./network-worker.js', import.meta.url),
  ) {}

  get connectionCount(): number {
    return this.connections;
  }

  async start(handlers: NetworkHandlers): Promise<void> {
    const { options } = this;
    this.handlers = handlers;
    const perWorker = Math.ceil(options.maxClients / options.ports.length);
    await Promise.all(
      options.ports.map(
        (port, w) =>
          new Promise<void>((resolve, reject) => {
            const events = EventRing.create();
            const ticks = new Int32Array(new SharedArrayBuffer(4));
            const workerData: NetworkWorkerData = {
              protocolId: options.protocolId.toString(),
              tokenKey: new Uint8Array(options.tokenKey),
              serverId: options.serverId,
              maxClients: perWorker,
              bindAddress: options.bindAddress,
              port,
              warmUpConnections: options.warmUpConnections ?? 0,
              events: events.shared,
              wake: ticks.buffer as SharedArrayBuffer,
            };
            const worker = new Worker(this.workerUrl, { workerData });
            let socketClosed = (): void => undefined;
            const closed = new Promise<void>((done) => {
              socketClosed = done;
              worker.once('exit', () => done());
            });
            this.workers.push({ worker, outgoing: new FrameWriter(), events, ticks, closed });
            worker.once('error', reject);
            worker.on('message', (msg: FromNetworkWorker) => {
              switch (msg.type) {
                case 'listening':
                  return resolve();
                case 'error':
                  return reject(new Error(`network worker ${w} could not bind ${options.bindAddress}:${port}: ${msg.message}`));
                case 'counters':
                  return void this.pendingCounters.push(msg.snapshot);
                case 'closed':
                  return socketClosed();
              }
            });
          }),
      ),
    );
  }

  send(client: number, channel: Channel, payload: Buffer): void {
    const out = this.workers[client >>> WORKER_BITS]?.outgoing;
    if (!out) return;
    out.u16(client & INDEX_MASK);
    out.u8(channelOp(channel));
    out.u16(payload.length);
    out.bytes(payload);
  }

  disconnect(client: number): void {
    const out = this.workers[client >>> WORKER_BITS]?.outgoing;
    if (!out) return;
    out.u16(client & INDEX_MASK);
    out.u8(OP_DISCONNECT);
    out.u16(0);
  }

  deliver(): void {
    const handlers = this.handlers;
    if (!handlers) return;
    for (let w = 0; w < this.workers.length; w++) this.workers[w]!.events.read((frame) => this.onEvents(w, frame, handlers));
  }

  flush(): void {
    for (const w of this.workers) {
      const frame = w.outgoing.take();
      // Sent even when empty: the worker's update (keep-alives, time-outs) runs on it.
      w.worker.postMessage({ type: 'tick', frame } satisfies ToNetworkWorker, [frame]);
      Atomics.add(w.ticks, 0, 1);
      Atomics.notify(w.ticks, 0);
    }
  }

  /** Counts the workers reported since the last call; asks them for fresh ones for the next. */
  drainCounters(): CounterSnapshot {
    for (const s of this.pendingCounters.splice(0)) this.totals.add(s);
    for (const w of this.workers) w.worker.postMessage({ type: 'counters' } satisfies ToNetworkWorker);
    return this.totals.drain();
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.worker.postMessage({ type: 'close' } satisfies ToNetworkWorker);
    await Promise.all(this.workers.map((w) => w.closed));
    // A worker whose socket has closed has nothing left to do.
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private onEvents(w: number, frame: Buffer, handlers: NetworkHandlers): void {
    let o = 0;
    while (o < frame.length) {
      const kind = frame[o]!;
      const client = (w << WORKER_BITS) | frame.readUInt16LE(o + 1);
      o += 3;
      if (kind === EVENT_CONNECT) {
        const idLength = frame[o]!;
        const playerId = frame.toString('utf8', o + 1, o + 1 + idLength);
        o += 1 + idLength;
        const dataLength = frame.readUInt16LE(o);
        const userData = Buffer.from(frame.subarray(o + 2, o + 2 + dataLength));
        o += 2 + dataLength;
        this.connections++;
        if (!handlers.onConnect(client, playerId, userData)) this.disconnect(client);
      } else if (kind === EVENT_DISCONNECT) {
        this.connections--;
        handlers.onDisconnect(client, DISCONNECT_REASONS[frame[o]!] ?? 'unknown');
        o += 1;
      } else if (kind === EVENT_MESSAGE) {
        const channel = opChannel(frame[o]!);
        const length = frame.readUInt16LE(o + 1);
        handlers.onMessage(client, channel, frame.subarray(o + 3, o + 3 + length));
        o += 3 + length;
      } else {
        throw new Error(`network worker ${w} sent an unknown event kind ${kind}`);
      }
    }
  }
}
