import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Client, type Room } from '@colyseus/sdk';
import { freeTcpPort } from '../test/helpers/free-port.js';
import { PEER_ARENA_SIZE, PEER_ROOM, type PeerInput } from './colyseus-peer-room.js';

// The Colyseus peer of bench/arena-load.ts's part `peer` must really run, or issue #4's ratio
// silently compares against nothing: the built server and load processes, over real WebSockets.

/** A built bench process whose stdout is JSON lines, answering commands on stdin. */
class LineProcess {
  private readonly lines: Array<Record<string, unknown>> = [];
  private wake: () => void = () => undefined;
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
      this.wake();
    });
  }

  async next<T>(type: string): Promise<T> {
    for (;;) {
      const i = this.lines.findIndex((l) => l.type === type);
      if (i >= 0) return this.lines.splice(i, 1)[0] as T;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  command<T>(command: string): Promise<T> {
    this.child.stdin!.write(`${command}\n`);
    return this.next<T>(command);
  }
}

const started: ChildProcess[] = [];
function start(script: string, env: Record<string, string>): LineProcess {
  const child = spawn(process.execPath, [`dist/bench/${script}`], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(child);
  return new LineProcess(child);
}

const rooms: Room[] = [];
afterEach(async () => {
  await Promise.allSettled(rooms.splice(0).map((r) => r.leave()));
  for (const child of started.splice(0)) child.kill('SIGKILL');
});

const pause = () => new Promise((r) => setTimeout(r, 100));

/** Resolves once `room`'s state satisfies `done` (checked at every patch). */
const until = (room: Room, done: () => boolean) => new Promise<void>((resolve) => room.onStateChange(() => done() && resolve()));

describe('the Colyseus peer', () => {
  it('applies each client\'s inputs in its room (clamped to full speed) and patches every client', async () => {
    const port = await freeTcpPort();
    const server = start('colyseus-peer-server-main.js', { PEER_PORT: String(port), PEER_ROOM_SIZE: '10' });
    await server.next('listening');
    const client = new Client(`ws://127.0.0.1:${port}`);
    const joined = [await client.joinOrCreate(PEER_ROOM), await client.joinOrCreate(PEER_ROOM), await client.joinOrCreate(PEER_ROOM)];
    rooms.push(...joined);
    // One room for the three; the first moves right (asking 100 times full speed), the second
    // down, the third stays.
    const moves: Array<[number, number]> = [[12_700, 0], [0, 127], [0, 0]];
    const players = () => joined.map((r) => (r.state as { players: Map<string, Record<string, number>> }).players.get(r.sessionId)!);
    await until(joined[0]!, () => joined.every((r) => (r.state as { players?: Map<string, unknown> }).players?.size === 3));
    const start0 = players().map((p) => ({ x: p.x!, y: p.y! }));
    let seq = 0;
    const send = setInterval(() => {
      seq++;
      joined.forEach((r, i) => r.send('input', { seq, moveX: moves[i]![0], moveY: moves[i]![1], aim: 0 } satisfies PeerInput));
    }, 1000 / 30);
    try {
      await Promise.all(joined.map((r, i) => until(r, () => players()[i]!.lastInput! >= 10)));
    } finally {
      clearInterval(send);
    }
    const [right, down, still] = players();
    expect(new Set(joined.map((r) => r.roomId)).size).toBe(1);
    expect([right!.vx, right!.vy]).toEqual([6, 0]); // clamped to the maximum speed, 6 m/s
    expect(right!.x).toBeGreaterThan(Math.min(start0[0]!.x, PEER_ARENA_SIZE - 0.5));
    expect(right!.y).toBe(start0[0]!.y);
    expect([down!.vx, down!.vy]).toEqual([0, 6]);
    expect(down!.y).toBeGreaterThan(Math.min(start0[1]!.y, PEER_ARENA_SIZE - 0.5));
    expect([still!.x, still!.y]).toEqual([start0[2]!.x, start0[2]!.y]);
    const w = await server.command<{ clients: number; rooms: number; ticks: number; inputs: number; patches: number; missed: number }>('window');
    expect(w).toMatchObject({ clients: 3, rooms: 1 });
    expect(w.inputs).toBeGreaterThanOrEqual(30);
    expect(w.ticks).toBeGreaterThan(0);
    expect(w.patches).toBeGreaterThan(0);
  });

  it('load process: its SDK clients join rooms of the given size, send inputs and count patches', async () => {
    const port = await freeTcpPort();
    const server = start('colyseus-peer-server-main.js', { PEER_PORT: String(port), PEER_ROOM_SIZE: '2' });
    await server.next('listening');
    const load = start('colyseus-peer-load-main.js', { PEER_URL: `ws://127.0.0.1:${port}`, PEER_CLIENTS: '5' });
    await load.next('started');
    expect(await load.command('status')).toMatchObject({ connected: 5, failed: 0 });
    let window: { patches: number; inputsSent: number } = { patches: 0, inputsSent: 0 };
    while (window.patches === 0 || window.inputsSent === 0) {
      await pause();
      window = await load.command('window');
    }
    let peer = { inputs: 0, clients: 0, rooms: 0 };
    while (peer.inputs === 0) {
      await pause();
      peer = await server.command('window');
    }
    expect(peer.clients).toBe(5);
    // Rooms of two: at least three; joins racing for a room's last seat may open another.
    expect(peer.rooms).toBeGreaterThanOrEqual(3);
  });
});
