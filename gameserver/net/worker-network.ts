import { Worker } from 'node:worker_threads';
import { AppError, ErrorCode } from '../../core/errors.js';
import type { Channel } from '../arena/arena-game.js';
import type { NetworkHandlers, NetworkPath, NetworkPathOptions } from './network-path.js';
import type { FromNetworkWorker, NetworkWorkerData, ToNetworkWorker } from './network-worker.js';
import { PacketCounters, type CounterSnapshot } from './packet-counters.js';
import { channelOp, DISCONNECT_REASONS, EVENT_CONNECT, EVENT_DISCONNECT, EVENT_MESSAGE, EventRing, FrameWriter, opChannel, OP_DISCONNECT, OP_RELEASE } from './worker-frames.js';

// The netcode on worker threads: one worker per UDP port, each decrypting what it receives and
// encrypting what it sends, so the network path uses as many cores as there are workers while the
// simulation stays on this thread. A client's id carries its worker: (worker << 16) | index.
// What the workers receive waits in their EventRings until the next tick starts (deliver): this
// thread is not woken for it in between.
//
// A worker that stops after start-up (an uncaught exception, process.exit, a failed allocation, or
// a hang, which this thread ends by terminating it: DEFAULT_HANG_MS) takes its socket and its
// clients' sessions (keys, sequence numbers) with it. It is not restarted: its players could come
// back only with fresh connect tokens, which nothing mints mid-match, and a client picks its port
// from its player id, so a restarted port would serve only those same players (docs/operations.md,
// "A network worker failed"). Instead what the worker had written to its ring is delivered, its
// clients are disconnected from the simulation, and the failure goes to
// NetworkHandlers.onNetworkFailed, once.

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

/**
 * A worker that has taken none of the ticks posted to it for this long, and is at least
 * HUNG_TICKS behind, is hung (a loop that never returns, a deadlock): it is terminated and reported
 * as failed. Its clients time out after 5 s without its packets anyway. Both conditions, so that a
 * process stopped as a whole (SIGSTOP, a host pause), which posts no ticks meanwhile, is not taken
 * for a hang.
 */
export const DEFAULT_HANG_MS = 10_000;
const HUNG_TICKS = 30;
/** How long close() waits for the workers to close their sockets before it terminates them. */
const CLOSE_WAIT_MS = 2000;

interface NetWorker {
  worker: Worker;
  outgoing: FrameWriter;
  events: EventRing;
  /** [0] the ticks posted to the worker, for it to wake on; [1] the ticks it has taken (NetworkWorkerData.wake). */
  ticks: Int32Array;
  /** Ticks taken at the last flush that found it had taken more, and when (performance.now()). */
  taken: number;
  takenAt: number;
  /** Set when it was found hung and terminated: what its exit is reported as. */
  hung: string | undefined;
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
    /** How long a worker may take no tick before it is terminated as hung (see DEFAULT_HANG_MS). */
    private readonly hangMs = DEFAULT_HANG_MS,
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
            const ticks = new Int32Array(new SharedArrayBuffer(8));
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
            const net: NetWorker = { worker, outgoing: new FrameWriter(), events, ticks, taken: 0, takenAt: 0, hung: undefined, closed, clients: new Set(), failed: false };
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
              const error = thrown
                ? new NetworkWorkerError(w, port, 'threw an uncaught exception', { cause: thrown })
                : new NetworkWorkerError(w, port, net.hung ?? `exited with code ${code}`);
              this.workerFailed(w, port, error);
            });
            worker.on('message', (msg: FromNetworkWorker) => {
              switch (msg.type) {
                case 'listening':
                  listening = true;
                  net.takenAt = performance.now();
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
      if (w.failed || w.hung) {
        w.outgoing.clear();
        continue;
      }
      this.watch(w);
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
    // A hung worker never answers: it is not waited for beyond CLOSE_WAIT_MS.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.workers.map((w) => w.closed)), new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    // A worker whose socket has closed has nothing left to do.
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  /** Terminates a worker that has stopped taking ticks (DEFAULT_HANG_MS); its exit then reports it. */
  private watch(w: NetWorker): void {
    const taken = Atomics.load(w.ticks, 1);
    const now = performance.now();
    if (taken !== w.taken) {
      w.taken = taken;
      w.takenAt = now;
      return;
    }
    const behind = Atomics.load(w.ticks, 0) - taken;
    if (behind < HUNG_TICKS || now - w.takenAt < this.hangMs || this.closing) return;
    w.hung = `hung: it took none of the last ${behind} ticks in ${((now - w.takenAt) / 1000).toFixed(1)} s, and was terminated`;
    // Nothing more is posted to it; its clients are dropped once it has exited ('exit').
    void w.worker.terminate();
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
        // Heard: nothing sent from here on is meant for the old client, so its index may serve a new one.
        const out = this.workers[w]!.outgoing;
        out.u16(index);
        out.u8(OP_RELEASE);
        out.u16(0);
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
