import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import express from 'express';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { ALLOCATION_PATH, STREAM_PATH } from '../allocator/stream-protocol.js';
import type { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { ACKING_FLEET, type FakeFleet, SILENT_FLEET, sampleResult, startBenchAllocator } from './allocator-fleet.js';

// One server of the allocator benchmark (bench/allocator-load.ts starts it pinned to its own core):
//   node-http  bare node:http: reads and parses the JSON body, answers a canned allocation result
//              of the same size (stringified each time, as any endpoint would)
//   express    the same handler as the only route of a bare express app (no middleware)
//   express-json  express as JSON endpoints usually are: express.json() reads the body, res.json()
//              answers (what the allocator's REST routes used until they moved to node:http)
//   ws         the same over a WebSocket: { id, allocation } in, { id, result } out (or lists of
//              them, as the stream client coalesces)
//   allocator  the allocator as the local stack serves it: the allocation service (auth, rate
//              limit, validation, records to PostgreSQL, metrics, claim watchdog) over a memory
//              store, on the request listener allocator/main.ts serves (the allocation routes on
//              node:http, express behind them for the rest), with the REST, batch and
//              stream paths; two fleets of fake game servers (bench/allocator-fleet.ts), one that
//              acknowledges allocations and one that does not, each refilling itself.
// It says { type: 'listening', port } over IPC, answers { type: 'stats' } with its counters (the
// pauses since the last stats: GC and event-loop delay), and exits on { type: 'stop' }.

export type ServerMode = 'node-http' | 'express' | 'express-json' | 'ws' | 'allocator';

export interface ServerStats {
  type: 'stats';
  /** Time the fake fleet spent playing game servers on this thread (memory store). */
  fleetBusyMs: number;
  fleetErrors: number;
  fleetFirstError?: string;
  /** Servers Ready now, by fleet. */
  ready: Record<string, number>;
  /** Allocations answered, by state. */
  allocations: Record<string, number>;
  ackTimeouts: number;
  recordsWritten: number;
  recordsDropped: number;
  /** Since the previous stats: GC pauses, and the event loop's delay (ms). */
  gc: { count: number; totalMs: number; maxMs: number };
  loopDelay: { p99: number; max: number };
}

// What stalls the event loop: GC pauses, and the loop's own delay (whatever the cause).
const gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

const mode = process.argv[2] as ServerMode;
const pool = Number(process.argv[3] ?? 1000);
const RESULT = sampleResult(SILENT_FLEET);

/** The baselines' handler: what any JSON endpoint does at the least. */
function bare(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString());
    const body = JSON.stringify(RESULT);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function bareStream(server: Server): void {
  const wss = new WebSocketServer({ server, path: STREAM_PATH });
  wss.on('connection', (ws) => {
    // As the allocator's stream does: a list of allocations in one message is answered in one.
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id: unknown } | Array<{ id: unknown }>;
      if (!Array.isArray(message)) return ws.send(JSON.stringify({ id: message.id, result: RESULT }));
      ws.send(`[${message.map(({ id }) => JSON.stringify({ id, result: RESULT })).join(',')}]`);
    });
  });
}

async function metricValues(registry: Registry | undefined, name: string): Promise<Array<{ labels: Partial<Record<string, string | number>>; value: number }>> {
  const metric = registry?.getSingleMetric(name);
  return metric ? (await metric.get()).values : [];
}

const sum = (values: Array<{ value: number }>) => values.reduce((n, v) => n + v.value, 0);

let server: Server;
let fleet: FakeFleet | undefined;
let registry: Registry | undefined;
let store: MemoryGameServerStore | undefined;
switch (mode) {
  case 'node-http':
    server = createServer(bare);
    break;
  case 'express': {
    const app = express();
    app.post(ALLOCATION_PATH, bare);
    server = createServer(app);
    break;
  }
  case 'express-json': {
    const app = express();
    app.post(ALLOCATION_PATH, express.json({ limit: '64kb' }), (_req, res) => void res.json(RESULT));
    server = createServer(app);
    break;
  }
  case 'ws':
    server = createServer(bare);
    bareStream(server);
    break;
  case 'allocator':
    ({ server, fleet, registry, store } = await startBenchAllocator(pool));
    break;
  default:
    throw new Error(`unknown mode ${String(mode)}`);
}
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port }));

process.on('message', (m: { type: string }) => {
  if (m.type === 'stop') process.exit(0);
  if (m.type !== 'stats') return;
  void (async () => {
    const allocations = Object.fromEntries((await metricValues(registry, 'agones_gameservers_allocations_total')).map((v) => [String(v.labels.status), v.value]));
    const stats: ServerStats = {
      type: 'stats',
      fleetBusyMs: fleet?.busyMs ?? 0,
      fleetErrors: fleet?.errors ?? 0,
      fleetFirstError: fleet?.firstError,
      ready: Object.fromEntries(await Promise.all([ACKING_FLEET, SILENT_FLEET].map(async (f) => [f, (await store?.list({ fleet: f, states: ['Ready'] }))?.length ?? 0]))),
      allocations,
      ackTimeouts: sum(await metricValues(registry, 'hangar_allocation_ack_timeouts_total')),
      recordsWritten: sum(await metricValues(registry, 'hangar_records_written_total')),
      recordsDropped: sum(await metricValues(registry, 'hangar_records_dropped_total')),
      gc: { ...gc },
      loopDelay: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    };
    Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 });
    loopDelay.reset();
    process.send!(stats);
  })();
});
