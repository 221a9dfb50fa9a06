import { createInterface } from 'node:readline';
import { Client, type Room } from '@colyseus/sdk';
import { PEER_ROOM, PEER_TICK_RATE, type PeerInput } from './colyseus-peer-room.js';

// The load on the Colyseus peer (bench/colyseus-peer-server-main.ts), driven by bench/arena-load.ts
// through stdin like the arena's bots: PEER_CLIENTS clients of the Colyseus SDK join the peer's
// rooms over WebSocket (joinOrCreate, so rooms fill up to their size), each sends one input a tick,
// its direction turning now and then as the arena's bots' does, and counts the state patches it
// receives.
//   (at start)  {"type":"started"} once every client has joined or failed to
//   "status"    {"type":"status","connected":…,"failed":…}
//   "window"    patches received and inputs sent since the previous "window"
//   "exit"      leaves and exits
//
// Environment: PEER_URL (ws://127.0.0.1:PORT), PEER_CLIENTS, PEER_CONNECT_RATE (joins started per
// second, 500), PEER_DECODE (1; 0 = each client receives every patch but skips decoding it into
// its copy of the state: the server's work is the same, the load's core drives several times the
// clients, so the server can be taken to its limit).

const url = process.env.PEER_URL ?? 'ws://127.0.0.1:2567';
const count = Number(process.env.PEER_CLIENTS ?? 10);
const connectRate = Number(process.env.PEER_CONNECT_RATE ?? 500);
const decode = process.env.PEER_DECODE !== '0';
const period = 1000 / PEER_TICK_RATE;

interface PeerBot {
  room: Room;
  input: PeerInput;
  heading: number;
  patches: number;
  left: boolean;
}

const client = new Client(url);
const bots: PeerBot[] = [];
let failed = 0;

async function join(): Promise<void> {
  try {
    const room = await client.joinOrCreate(PEER_ROOM);
    if (!decode) room.serializer.patch = () => [];
    const bot: PeerBot = { room, input: { seq: 0, moveX: 0, moveY: 0, aim: 0 }, heading: Math.random() * 2 * Math.PI, patches: 0, left: false };
    room.onStateChange(() => void bot.patches++);
    room.onLeave(() => void (bot.left = true));
    bots.push(bot);
  } catch {
    failed++;
  }
}

let inputsSent = 0;
/** One input a tick from every bot, on a schedule that does not drift (start + n·period). */
function sendInputs(): void {
  for (const bot of bots) {
    if (bot.left) continue;
    const i = bot.input;
    i.seq++;
    if (Math.random() < 1 / PEER_TICK_RATE) bot.heading += (Math.random() - 0.5) * Math.PI;
    i.moveX = Math.round(Math.cos(bot.heading) * 127);
    i.moveY = Math.round(Math.sin(bot.heading) * 127);
    i.aim = bot.heading;
    bot.room.send('input', i);
    inputsSent++;
  }
}
const startedAt = performance.now();
let ticks = 0;
(function schedule() {
  ticks++;
  setTimeout(() => {
    sendInputs();
    schedule();
  }, Math.max(0, startedAt + ticks * period - performance.now()));
})();

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
let last = { patches: 0, inputs: 0, at: performance.now() };
const connected = () => bots.filter((b) => !b.left);

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'status') {
    print({ type: 'status', connected: connected().length, failed });
  } else if (command === 'window') {
    const now = performance.now();
    const seconds = (now - last.at) / 1000;
    const patches = bots.reduce((n, b) => n + b.patches, 0);
    const on = connected().length;
    print({
      type: 'window',
      seconds,
      connected: on,
      failed,
      patches: patches - last.patches,
      inputsSent: inputsSent - last.inputs,
      patchesPerClientSecond: on ? (patches - last.patches) / on / seconds : 0,
      inputsPerClientSecond: on ? (inputsSent - last.inputs) / on / seconds : 0,
    });
    last = { patches, inputs: inputsSent, at: now };
  } else if (command === 'exit') {
    void Promise.allSettled(bots.map((b) => b.room.leave())).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  }
});

// A ramp of connectRate a second, as the arena's bots have it (joins racing for one room's last
// seat may open an extra room: rooms hold at most PEER_ROOM_SIZE).
for (let i = 0; i < count; i += connectRate / 10) {
  const batch = Math.min(connectRate / 10, count - i);
  await Promise.all(Array.from({ length: batch }, () => join()));
  await new Promise((r) => setTimeout(r, 100));
}
print({ type: 'started' });
