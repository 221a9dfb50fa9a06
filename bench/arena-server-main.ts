import { createInterface } from 'node:readline';
import { createLogger } from '../core/logger.js';
import type { GameServerMetrics } from '../core/metrics.js';
import { ArenaServer } from '../gameserver/arena-server.js';
import { InlineNetwork } from '../gameserver/net/inline-network.js';
import type { NetworkPath, NetworkPathOptions } from '../gameserver/net/network-path.js';
import { WorkerNetwork } from '../gameserver/net/worker-network.js';
import { HANGAR_PROTOCOL_ID } from '../gameserver/protocol/protocol-constants.js';
import { percentiles } from '../gameserver/tick-loop.js';

// The arena game server as bench/arena-load.ts drives it: an ArenaServer on fixed ports with a
// fixed key, without Agones, the SDK or the admin port. One JSON line per command on stdout:
//   (at start)  {"type":"listening","pid":…,"ports":[…]}
//   "window"    the tick loop and packet figures since the previous "window" (the first resets)
//   "status"    connections and players now
//   "exit"      stops and exits 0 (so a --cpu-prof profile is written)
// On stderr: the tick loop's warnings, among them its slow-tick lines (gameserver/tick-breakdown.ts).
// With ARENA_WORKERS ≥ 1 each network worker prints {"type":"worker-thread","port":…,"tid":…} so
// the harness can read that thread's CPU from /proc/<pid>/task/<tid>.
//
// Environment: ARENA_PORT (first UDP port; workers use consecutive ones), ARENA_WORKERS (0 =
// InlineNetwork), ARENA_KEY (64 hex), ARENA_SERVER_ID, ARENA_CAPACITY, ARENA_TICK_RATE (30),
// ARENA_VIEW_RADIUS (30), ARENA_MAX_VISIBLE (64), ARENA_TICK_SPIN_MS (the tick loop's; default its own).

const env = process.env;
const workers = Number(env.ARENA_WORKERS ?? 0);
const firstPort = Number(env.ARENA_PORT ?? 7777);
const capacity = Number(env.ARENA_CAPACITY ?? 2000);
const tickRate = Number(env.ARENA_TICK_RATE ?? 30);
/** Ticks whose work takes longer than this are reported on stderr (ARENA_TRACE_SLOW_MS). */
const traceSlowMs = Number(env.ARENA_TRACE_SLOW_MS ?? Infinity);
/** Ticks that start later than this are reported on stderr (ARENA_TRACE_LATE_MS). */
const traceLateMs = Number(env.ARENA_TRACE_LATE_MS ?? Infinity);
const key = Buffer.from(env.ARENA_KEY ?? '', 'hex');
if (key.length !== 32) throw new Error('ARENA_KEY: 64 hex characters');

/** Per-tick samples and packet counts since the last window, gathered through the metrics hooks the server already calls. */
class Window {
  lateness: number[] = [];
  work: number[] = [];
  /** Each tick phase's times, ms. */
  phases: Record<string, number[]> = {};
  overruns = 0;
  skipped = 0;
  errors = 0;
  packetsIn = 0;
  packetsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  byType: Record<string, number> = {};
  rejects: Record<string, number> = {};
  /** Times the server handed its packet counters over: once a second (every tickRate ticks). */
  counterSeconds = 0;
  startedAt = performance.now();
}

let w = new Window();
const counter = (add: (labels: Record<string, string> | number | undefined, n?: number) => void) => ({ inc: add });
const metrics = {
  tickLateness: {
    observe: (s: number) => {
      w.lateness.push(s * 1000);
      if (s * 1000 > traceLateMs) process.stderr.write(`${JSON.stringify({ type: 'late-tick', atMs: Math.round(performance.now()), latenessMs: s * 1000 })}\n`);
    },
  },
  tickDuration: {
    observe: (s: number) => {
      w.work.push(s * 1000);
      if (s * 1000 > traceSlowMs) process.stderr.write(`${JSON.stringify({ type: 'slow-tick', atMs: Math.round(performance.now()), workMs: s * 1000 })}\n`);
    },
  },
  tickPhaseDuration: {
    labels: ({ phase }: { phase: string }) => ({ observe: (s: number) => void (w.phases[phase] ??= []).push(s * 1000) }),
  },
  tickOverruns: counter(() => void w.overruns++),
  ticksSkipped: counter((n) => void (w.skipped += typeof n === 'number' ? n : 1)),
  errors: counter(() => void w.errors++),
  connectionCount: { set: () => void w.counterSeconds++ },
  // applyCounters observes each player's round-trip time; without this every once-a-second drain
  // threw (a tick error), and connectionCount.set after it never ran: counterSeconds stayed 0.
  playerRtt: { observe: () => undefined },
  playerCount: { set: () => undefined },
  packetsIn: counter((labels, n = 1) => {
    w.packetsIn += n;
    const type = `in:${(labels as { type: string }).type}`;
    w.byType[type] = (w.byType[type] ?? 0) + n;
  }),
  packetsOut: counter((labels, n = 1) => {
    w.packetsOut += n;
    const type = `out:${(labels as { type: string }).type}`;
    w.byType[type] = (w.byType[type] ?? 0) + n;
  }),
  bytesIn: counter((_l, n = 1) => void (w.bytesIn += n)),
  bytesOut: counter((_l, n = 1) => void (w.bytesOut += n)),
  packetsRejected: counter((labels, n = 1) => {
    const reason = (labels as { reason: string }).reason;
    w.rejects[reason] = (w.rejects[reason] ?? 0) + n;
  }),
} as unknown as GameServerMetrics;

const ports = Array.from({ length: Math.max(1, workers) }, (_, i) => firstPort + i);
const pathOptions: NetworkPathOptions = { protocolId: HANGAR_PROTOCOL_ID, tokenKey: key, serverId: env.ARENA_SERVER_ID ?? 'bench-arena', maxClients: capacity, bindAddress: '127.0.0.1', ports };
const network: NetworkPath = workers > 0 ? new WorkerNetwork(pathOptions, new URL('./network-worker-probe.js', import.meta.url)) : new InlineNetwork(pathOptions);

let players = 0;
let matchesEnded = 0;
const server: ArenaServer = new ArenaServer({
  // A match that never ends by itself during a benchmark: no time or score limit within reach.
  settings: { tickRate, tickSpinMs: env.ARENA_TICK_SPIN_MS === undefined ? undefined : Number(env.ARENA_TICK_SPIN_MS), matchSeconds: 86_400, scoreLimit: 0xffff, capacity, viewRadius: Number(env.ARENA_VIEW_RADIUS ?? 30), maxVisible: Number(env.ARENA_MAX_VISIBLE ?? 64) },
  network,
  log: createLogger({ level: 'warn' }),
  metrics,
  hooks: {
    mayAccept: () => true,
    playerConnected: () => void players++,
    playerDisconnected: () => void players--,
    // Should a match end anyway (a score of 65,535), a fresh one opens on the same sockets: the load goes on.
    onMatchEnd: () => {
      matchesEnded++;
      setImmediate(() => server.nextMatch());
    },
    // A benchmark that lost a worker measures something else: it stops, and the harness sees the exit.
    networkFailed: (failure) => {
      process.stderr.write(`${failure.error.message}\n`);
      process.exit(1);
    },
  },
});
await server.start();

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
print({ type: 'listening', pid: process.pid, ports, workers });

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'window') {
    const done = w;
    w = new Window();
    const loop = server.loop.stats();
    print({
      type: 'window',
      seconds: (performance.now() - done.startedAt) / 1000,
      ticks: done.work.length,
      overruns: done.overruns,
      skipped: done.skipped,
      errors: done.errors,
      latenessMs: percentiles(done.lateness),
      workMs: percentiles(done.work),
      phasesMs: Object.fromEntries(Object.entries(done.phases).map(([phase, ms]) => [phase, percentiles(ms)])),
      driftMs: loop.driftMs,
      totalTicks: loop.ticks,
      lastTick: loop.lastTick,
      totalSkipped: loop.skipped,
      totalOverruns: loop.overruns,
      eventLoopDelayMs: loop.eventLoopDelayMs,
      counterSeconds: done.counterSeconds,
      packetsIn: done.packetsIn,
      packetsOut: done.packetsOut,
      bytesIn: done.bytesIn,
      bytesOut: done.bytesOut,
      byType: done.byType,
      rejects: done.rejects,
      players,
      connections: network.connectionCount,
      matchesEnded,
    });
  } else if (command === 'status') {
    print({ type: 'status', players, connections: network.connectionCount, matchesEnded, ticks: server.loop.stats().ticks });
  } else if (command === 'exit') {
    void server.stop().then(() => process.exit(0));
  }
});
