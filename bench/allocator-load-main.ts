import { connect, type Socket } from 'node:net';
import type { PreparedAllocation } from '../allocator/prepared-allocation.js';
import { ALLOCATION_PATH } from '../allocator/stream-protocol.js';
import { silentLogger } from '../core/logger.js';
import { StreamAllocatorClient } from '../matchmaker/allocator-client.js';
import { matchAllocation, matchRequest } from './allocator-fleet.js';

// The allocator benchmark's load generator, a process of its own (bench/allocator-load.ts starts
// it on the other core). Closed loop (`concurrency` requests always in flight) or open loop (`rate`
// a second, on schedule whatever the answers; a request that finds every lane busy waits in a
// queue and that wait counts, so a slow answer cannot hide the requests behind it). Three ways in:
//   rest    POST /gameserverallocation, one allocation a request, over keep-alive connections with
//           a minimal HTTP/1.1 client (so the client's own cost stays far below the server's)
//   batch   POST /gameserverallocation/batch, `batch` allocations a request
//   stream  matchmaker/allocator-client.ts' StreamAllocatorClient, the matchmaker's own client,
//           one WebSocket per target, with the matchmaker's prepared allocations (a template
//           once a connection, then each match's parts)
// Several targets (allocator processes) share the load round-robin. Prints nothing; the result
// goes back over IPC.

export interface LoadPlan {
  way: 'rest' | 'batch' | 'stream';
  /** 127.0.0.1 ports of the servers. */
  ports: number[];
  fleet: string;
  apiKey: string;
  /** Closed loop: requests in flight (over all targets). */
  concurrency: number;
  /** Open loop instead: requests a second. */
  rate?: number;
  batch?: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  type: 'result';
  /** Allocations answered Allocated in the window (every allocation of a batch counts). */
  allocated: number;
  /** Answers that were not an allocated server (errors, UnAllocated). */
  failed: number;
  firstFailure?: string;
  windowMs: number;
  /** This process's CPU in the window. */
  cpuMs: number;
  /** Per request, ms: from sending (closed loop) or from when the timer issued it, queued or not (open loop). */
  latency: { p50: number; p99: number; p999: number; max: number; n: number };
}

const plan = JSON.parse(process.argv[2]!) as LoadPlan;
const DISTINCT = 256;
const ALLOCATED = '"state":"Allocated"';

// ---- a minimal keep-alive HTTP/1.1 client: one request at a time per connection ----

class HttpConnection {
  private readonly socket: Socket;
  private buffered: Buffer | undefined;
  private waiting: { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void } | undefined;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.waiting?.reject(err));
    this.socket.on('close', () => this.waiting?.reject(new Error('connection closed')));
  }

  request(bytes: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      this.buffered = buf;
      return;
    }
    const head = buf.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) throw new Error(`response without Content-Length: ${head}`);
    const total = end + 4 + Number(length[1]);
    if (buf.length < total) {
      this.buffered = buf;
      return;
    }
    this.buffered = buf.length > total ? buf.subarray(total) : undefined;
    const waiting = this.waiting!;
    this.waiting = undefined;
    waiting.resolve({ status: Number(head.slice(9, 12)), body: buf.toString('utf8', end + 4, total) });
  }
}

function httpRequest(port: number, path: string, body: string): Buffer {
  const auth = plan.apiKey ? `Authorization: Bearer ${plan.apiKey}\r\n` : '';
  return Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n${auth}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

function countAllocated(body: string): number {
  let n = 0;
  for (let i = body.indexOf(ALLOCATED); i >= 0; i = body.indexOf(ALLOCATED, i + ALLOCATED.length)) n++;
  return n;
}

// ---- one "send an allocation request and tell what came back" per way in ----

/** Sends one request on `lane`; resolves to the allocations it got (failures are counted inside). */
type Send = (lane: number, n: number) => Promise<number>;

interface Counters {
  failed: number;
  firstFailure?: string;
}

async function makeSender(counters: Counters): Promise<{ send: Send; lanes: number; close: () => Promise<void> }> {
  const lanes = plan.concurrency;
  if (plan.way === 'stream') {
    const clients = plan.ports.map((port) => new StreamAllocatorClient({ url: `ws://127.0.0.1:${port}${ALLOCATION_PATH}/stream`, apiKey: plan.apiKey, log: silentLogger }));
    const specs: PreparedAllocation[] = Array.from({ length: DISTINCT }, (_, n) => matchAllocation(plan.fleet, n));
    const send: Send = async (lane, n) => {
      try {
        const result = await clients[lane % clients.length]!.allocate(specs[n % DISTINCT]!);
        if (result.state === 'Allocated') return 1;
        counters.firstFailure ??= `state ${result.state}`;
      } catch (err) {
        counters.firstFailure ??= (err as Error).message;
      }
      counters.failed++;
      return 0;
    };
    return { send, lanes, close: async () => void (await Promise.all(clients.map((c) => c.close()))) };
  }
  const per = plan.way === 'batch' ? (plan.batch ?? 100) : 1;
  const path = plan.way === 'batch' ? `${ALLOCATION_PATH}/batch` : ALLOCATION_PATH;
  const bodies = plan.ports.map((port) =>
    Array.from({ length: DISTINCT }, (_, n) => {
      const json = per === 1 ? matchRequest(plan.fleet, n) : { allocations: Array.from({ length: per }, (_, i) => matchRequest(plan.fleet, n * per + i)) };
      return httpRequest(port, path, JSON.stringify(json));
    }),
  );
  const connections = Array.from({ length: lanes }, (_, lane) => new HttpConnection(plan.ports[lane % plan.ports.length]!));
  const send: Send = async (lane, n) => {
    try {
      const { status, body } = await connections[lane]!.request(bodies[lane % plan.ports.length]![n % DISTINCT]!);
      const allocated = status === 200 ? countAllocated(body) : 0;
      if (allocated === per) return allocated;
      counters.firstFailure ??= `HTTP ${status}: ${body.slice(0, 200)}`;
      counters.failed += per - allocated;
      return allocated;
    } catch (err) {
      counters.firstFailure ??= (err as Error).message;
      counters.failed += per;
      return 0;
    }
  };
  return { send, lanes, close: async () => connections.forEach((c) => c.close()) };
}

// ---- closed and open loop ----

function percentiles(xs: number[]): LoadResult['latency'] {
  const s = xs.sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s[s.length - 1] ?? NaN, n: s.length };
}

async function run(): Promise<LoadResult> {
  const counters: Counters = { failed: 0 };
  const { send, lanes, close } = await makeSender(counters);
  const latencies: number[] = [];
  let allocated = 0;
  let measuring = false;
  let stopping = false;
  let n = 0;
  // One request, counted only when it both started and finished inside the window.
  const one = async (lane: number, since: number): Promise<void> => {
    const inWindow = measuring;
    const got = await send(lane, n++);
    if (!inWindow || !measuring) return;
    allocated += got;
    latencies.push(performance.now() - since);
  };

  let loops: Promise<void>;
  if (plan.rate === undefined) {
    loops = Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        while (!stopping) await one(lane, performance.now());
      }),
    ).then(() => undefined);
  } else {
    // Open loop: idle lanes take the scheduled requests in order; when all are busy they queue.
    const idle = Array.from({ length: lanes }, (_, lane) => lane);
    const queue: number[] = [];
    const start = (lane: number, scheduled: number): void => {
      void one(lane, scheduled).then(() => {
        const next = queue.shift();
        if (next !== undefined) start(lane, next);
        else idle.push(lane);
      });
    };
    const interval = 1000 / plan.rate;
    let next = performance.now();
    loops = new Promise<void>((resolve) => {
      const tick = (): void => {
        if (stopping) return resolve();
        // Stamped when the timer fires, not when it was due: Node's timers fire up to ~1 ms late,
        // which is the generator's error, not the server's; a wait for a free lane still counts.
        for (const now = performance.now(); next <= now; next += interval) {
          const lane = idle.pop();
          if (lane === undefined) queue.push(now);
          else start(lane, now);
        }
        setTimeout(tick, Math.max(0, next - performance.now()));
      };
      tick();
    });
  }

  await new Promise((r) => setTimeout(r, plan.warmupMs));
  counters.failed = 0;
  delete counters.firstFailure;
  // The parent samples the servers' CPU when told the window opens and closes.
  process.send!({ type: 'window', phase: 'start' });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, plan.durationMs));
  measuring = false;
  process.send!({ type: 'window', phase: 'end' });
  const windowMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const failed = counters.failed;
  stopping = true;
  await loops;
  await close();
  return { type: 'result', allocated, failed, firstFailure: counters.firstFailure, windowMs, cpuMs: (cpu.user + cpu.system) / 1000, latency: percentiles(latencies) };
}

process.send!(await run(), () => process.exit(0));
