import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { PEER_ROOM, PEER_TICK_RATE, PeerLoopStats, peerArenaRoom } from './colyseus-peer-room.js';
import { percentiles } from '../gameserver/tick-loop.js';

// The Colyseus peer as bench/arena-load.ts drives it (its part `peer`): a Colyseus 0.18 server
// over WebSocket with the room of bench/colyseus-peer-room.ts. One JSON line per command on stdout:
//   (at start)  {"type":"listening","pid":…,"port":…}
//   "window"    every room's loop figures since the previous "window" (the first resets)
//   "status"    clients and rooms now
//   "exit"      stops and exits 0 (so a --cpu-prof profile is written)
//
// Environment: PEER_PORT, PEER_ROOM_SIZE (clients per room, 10 as the anchor's measurement had it).

const port = Number(process.env.PEER_PORT ?? 2567);
const roomSize = Number(process.env.PEER_ROOM_SIZE ?? 10);

const stats = new PeerLoopStats();
const server = new Server({ transport: new WebSocketTransport(), greet: false, gracefullyShutdown: false, logger: { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => console.error(...a) } });
server.define(PEER_ROOM, peerArenaRoom(roomSize, stats));
await server.listen(port, '127.0.0.1');

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let windowStart = performance.now();

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
print({ type: 'listening', pid: process.pid, port, roomSize, tickRate: PEER_TICK_RATE });

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'window') {
    const w = stats.take();
    const now = performance.now();
    print({
      type: 'window',
      seconds: (now - windowStart) / 1000,
      ticks: w.ticks,
      missed: w.missed,
      latenessMs: percentiles(w.lateness),
      workMs: percentiles(w.work),
      patchWorkMs: percentiles(w.patchWork),
      inputs: w.inputs,
      patches: w.patches,
      clients: w.clients,
      rooms: w.rooms,
      eventLoopDelayMs: { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    });
    delay.reset();
    windowStart = now;
  } else if (command === 'status') {
    print({ type: 'status', clients: stats.clients, rooms: stats.rooms });
  } else if (command === 'exit') {
    process.exit(0);
  }
});
