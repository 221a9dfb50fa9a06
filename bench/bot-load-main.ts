import { createInterface } from 'node:readline';
import { isFailed, percentile, Swarm } from '../gameserver/bot/bot-swarm.js';
import { mintConnectToken } from '../gameserver/protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../gameserver/protocol/protocol-constants.js';

// The bots of `hangar bots` (gameserver/bot/bot-swarm.ts: one socket per bot, an input every tick,
// every snapshot checked), driven by bench/arena-load.ts through stdin so that the load outlives
// any measurement window and each window gets its own figures:
//   (at start)  {"type":"started"} once every bot has begun its handshake
//   "status"    {"type":"status","connected":…,"failed":…}
//   "window"    snapshots received and missed since the previous "window", the loss, round trips
//   "exit"      disconnects every bot and exits
//
// Environment: BOTS_SERVERS (host:port,…), BOTS_SERVER_ID, BOTS_PLAYERS, BOTS_KEY (64 hex),
// BOTS_TICK_RATE (30), BOTS_CONNECT_RATE (bots started per second, 500).

const env = process.env;
const addresses = (env.BOTS_SERVERS ?? '').split(',');
const players = Number(env.BOTS_PLAYERS ?? 100);
const connectRate = Number(env.BOTS_CONNECT_RATE ?? 500);
const key = Buffer.from(env.BOTS_KEY ?? '', 'hex');
const serverId = env.BOTS_SERVER_ID ?? 'bench-arena';

const swarm = new Swarm({ tickRate: Number(env.BOTS_TICK_RATE ?? 30), bindAddress: addresses[0]!.startsWith('127.') ? '127.0.0.1' : undefined });
const bots = swarm.bots;

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const failed = () => bots.filter((b) => isFailed(b.stats)).length;
let last = { snapshots: 0, missed: 0, bad: 0, at: performance.now() };

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'status') {
    print({ type: 'status', connected: bots.filter((b) => b.state === 'connected').length, failed: failed() });
  } else if (command === 'window') {
    const snapshots = bots.reduce((n, b) => n + b.stats.snapshots, 0);
    const missed = bots.reduce((n, b) => n + b.stats.missedSnapshots, 0);
    const bad = bots.reduce((n, b) => n + b.stats.badMessages, 0);
    const now = performance.now();
    const got = snapshots - last.snapshots;
    const lost = missed - last.missed;
    const connected = bots.filter((b) => b.state === 'connected');
    print({
      type: 'window',
      seconds: (now - last.at) / 1000,
      connected: connected.length,
      failed: failed(),
      snapshots: got,
      missed: lost,
      loss: got + lost ? lost / (got + lost) : 0,
      snapshotsPerSecond: connected.length ? got / connected.length / ((now - last.at) / 1000) : 0,
      badMessages: bad - last.bad,
      rttMs: { p50: percentile(connected.map((b) => b.stats.rttMs), 0.5), p99: percentile(connected.map((b) => b.stats.rttMs), 0.99) },
    });
    last = { snapshots, missed, bad, at: now };
  } else if (command === 'exit') {
    void swarm.stop().then(() => process.exit(0));
  }
});

// A ramp of connectRate a second, as `hangar bots` has it: a burst of handshakes is not the load measured.
const tokens = Array.from({ length: players }, (_, i) => mintConnectToken({ key, protocolId: HANGAR_PROTOCOL_ID, serverId, playerId: `bot-${i}`, addresses, expiresInSeconds: 3600 }));
for (let i = 0; i < tokens.length; i += connectRate / 10) {
  await Promise.all(tokens.slice(i, i + connectRate / 10).map((token) => swarm.join(token)));
  await new Promise((r) => setTimeout(r, 100));
}
print({ type: 'started' });
