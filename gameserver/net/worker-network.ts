import { Worker } from 'node:worker_threads';
import { AppError, ErrorCode } from '../../core/errors.js';
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
//
// A worker that stops after start-up (an uncaught exception, process.exit, a failed allocation)
// takes its socket and its clients' sessions (keys, sequence numbers) with it. It is not
// restarted: its players could come back only with fresh connect tokens, which nothing mints
// mid-match, and a client picks its port from its player id, so a restarted port would see the
// same players (docs/operations.md, "A network worker failed"). Instead what the worker had
// written to its ring is delivered, its clients are disconnected from the simulation, and the
// failure goes to NetworkHandlers.onNetworkFailed, once.

/** A network worker that stopped, or never started: names the worker, its port and the cause. */
export class NetworkWorkerError extends AppError {
  constructor(
    readonly worker: number,
    readonly port: number,
    what: string,
    options?: ErrorOptions,
  ) {
    super(ErrorCode.NETWORK_WORKER_FAILED, `network worker ${worker} (UDP port ${port}) ${what}`, options);
  }
}

/** The reason the simulation is given for the clients of a worker that stopped. */
export const WORKER_FAILED_REASON = 'network-worker-failed';

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
  /** Client indices connected through it (handshake done, no disconnect seen yet). */
  clients: Set<number>;
  /** Set once the worker stopped after start-up; nothing is sent to it from then on. */
  failed: boolean;
}

export class WorkerNetwork implements NetworkPath {
  private readonly workers: NetWorker[] = [];
  private readonly totals = new PacketCounters();
  private readonly pendingCounters: CounterSnapshot[] = [];
  private connections = 0;
  private handlers: NetworkHandlers | undefined;
  /** close() was called: workers exiting now are expected to. */
  private closing = false;

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
            const net: NetWorker = { worker, outgoing: new FrameWriter(), events, ticks, closed, clients: new Set(), failed: false };
            this.workers.push(net);
            let listening = false;
            /** The uncaught exception, when that is what stops the worker ('error' comes before 'exit'). */
            let thrown: Error | undefined;
            worker.on('error', (err) => {
              thrown ??= err;
              if (!listening) reject(new NetworkWorkerError(w, port, `failed while starting: ${err.message}`, { cause: err }));
            });
            worker.once('exit', (code) => {
              // After an 'error' the start has failed already: this rejection changes nothing.
              if (!listening) return reject(new NetworkWorkerError(w, port, `exited with code ${code} before listening`));
              if (this.closing) return;
              // What it threw is the cause, which loggers print after the message (pino's err serializer appends it).
              const error = thrown ? new NetworkWorkerError(w, port, 'threw an uncaught exception', { cause: thrown }) : new NetworkWorkerError(w, port, `exited with code ${code}`);
              this.workerFailed(w, port, error);
            });
            worker.on('message', (msg: FromNetworkWorker) => {
              switch (msg.type) {
                case 'listening':
                  listening = true;
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
      if (w.failed) {
        w.outgoing.clear();
        continue;
      }
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
    for (const w of this.workers) if (!w.failed) w.worker.postMessage({ type: 'counters' } satisfies ToNetworkWorker);
    return this.totals.drain();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const w of this.workers) w.worker.postMessage({ type: 'close' } satisfies ToNetworkWorker);
    await Promise.all(this.workers.map((w) => w.closed));
    // A worker whose socket has closed has nothing left to do.
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  /**
   * A worker stopped after start-up: what it wrote to its ring before it stopped is delivered, its
   * remaining clients are disconnected from the simulation, and the failure is reported.
   */
  private workerFailed(w: number, port: number, error: NetworkWorkerError): void {
    const net = this.workers[w]!;
    net.failed = true;
    net.outgoing.clear();
    const handlers = this.handlers!;
    net.events.read((frame) => this.onEvents(w, frame, handlers));
    const dropped = [...net.clients];
    net.clients.clear();
    this.connections -= dropped.length;
    for (const index of dropped) handlers.onDisconnect((w << WORKER_BITS) | index, WORKER_FAILED_REASON);
    handlers.onNetworkFailed({ worker: w, port, error, clientsDropped: dropped.length });
  }

  private onEvents(w: number, frame: Buffer, handlers: NetworkHandlers): void {
    let o = 0;
    while (o < frame.length) {
      const kind = frame[o]!;
      const index = frame.readUInt16LE(o + 1);
      const client = (w << WORKER_BITS) | index;
      o += 3;
      if (kind === EVENT_CONNECT) {
        const idLength = frame[o]!;
        const playerId = frame.toString('utf8', o + 1, o + 1 + idLength);
        o += 1 + idLength;
        const dataLength = frame.readUInt16LE(o);
        const userData = Buffer.from(frame.subarray(o + 2, o + 2 + dataLength));
        o += 2 + dataLength;
        this.connections++;
        this.workers[w]!.clients.add(index);
        if (!handlers.onConnect(client, playerId, userData)) this.disconnect(client);
      } else if (kind === EVENT_DISCONNECT) {
        this.connections--;
        this.workers[w]!.clients.delete(index);
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
