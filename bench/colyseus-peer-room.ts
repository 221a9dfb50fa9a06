import { Room, type Client } from '@colyseus/core';
import { schema, t, type SchemaType } from '@colyseus/schema';

// The peer Hangar's arena is measured against (issue #4: "about 1.7× the peer"): a Colyseus 0.18
// room written with Colyseus' public API as a fair analogue of the arena. Each client's player has
// a position and a velocity in the schema state; every tick the room applies the client's latest
// input (direction clamped to full speed, position clamped to the arena) and Colyseus sends the
// state's changes to every client of the room as a patch, simulation and patches both at 30 Hz.
// `lastInput` echoes the sequence of the input applied (as the arena's snapshots acknowledge the
// client's input) and `tick` counts ticks, so every tick changes the state and makes a patch.
//
// The room measures its own loop for bench/colyseus-peer-server-main.ts through `PeerLoopStats`:
// the gap between ticks (Colyseus drives setTimestep with a plain setInterval, so a tick that comes
// late is a gap longer than the period, and a gap of two periods or more lost a tick), the time
// the simulation callback and each patch took, the inputs received, the patches sent.

export const PEER_ROOM = 'arena';
export const PEER_TICK_RATE = 30;
export const PEER_ARENA_SIZE = 60;
const MAX_SPEED = 6; // metres per second, as the arena's rules have it
const FULL = 127; // an input axis at full speed, as the arena's inputs have it

export const PeerPlayer = schema({ x: t.number(), y: t.number(), vx: t.number(), vy: t.number(), aim: t.number(), lastInput: t.number() }, 'PeerPlayer');
export type PeerPlayer = SchemaType<typeof PeerPlayer>;
export const PeerState = schema({ tick: t.number(), players: t.map(PeerPlayer) }, 'PeerState');
export type PeerState = SchemaType<typeof PeerState>;

/** What a client sends once a tick: a direction (each axis −127..127), a facing, a sequence number. */
export interface PeerInput {
  seq: number;
  moveX: number;
  moveY: number;
  aim: number;
}

/** Every room's loop figures since the last `take()`, gathered for the process; `clients` and `rooms` now. */
export class PeerLoopStats {
  clients = 0;
  rooms = 0;
  /** Tick gap minus the period, ms. */
  lateness: number[] = [];
  /** The simulation callback's duration, ms. */
  work: number[] = [];
  /** broadcastPatch's duration (encoding the changes and sending them to the room's clients), ms. */
  patchWork: number[] = [];
  ticks = 0;
  /** Tick slots a room let pass without a tick (a gap of two periods or more). */
  missed = 0;
  inputs = 0;
  /** Patches the rooms broadcast (each to every client of its room). */
  patches = 0;

  /** The window's figures so far; starts the next window. */
  take(): Omit<PeerLoopStats, 'take'> {
    const { lateness, work, patchWork, ticks, missed, inputs, patches, clients, rooms } = this;
    Object.assign(this, { lateness: [], work: [], patchWork: [], ticks: 0, missed: 0, inputs: 0, patches: 0 });
    return { lateness, work, patchWork, ticks, missed, inputs, patches, clients, rooms };
  }
}

const clampUnit = (v: number) => Math.max(-FULL, Math.min(FULL, Number(v) || 0));
const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

/** The room class for `server.define(PEER_ROOM, …)`: rooms of `maxClients`, their loops counted into `stats`. */
export function peerArenaRoom(maxClients: number, stats: PeerLoopStats) {
  return class PeerArenaRoom extends PeerRoom {
    override onCreate(): void {
      this.maxClients = maxClients;
      this.stats = stats;
      super.onCreate();
    }
  };
}

abstract class PeerRoom extends Room<{ state: PeerState }> {
  protected stats = new PeerLoopStats();
  private readonly latestInput = new Map<string, PeerInput>();
  private lastTickAt = 0;

  override onCreate(): void {
    this.stats.rooms++;
    this.state = new PeerState();
    this.patchRate = 1000 / PEER_TICK_RATE;
    this.onMessage('input', (client: Client, input: PeerInput) => {
      this.stats.inputs++;
      this.latestInput.set(client.sessionId, input);
    });
    const period = 1000 / PEER_TICK_RATE;
    this.setTimestep(() => {
      const start = performance.now();
      if (this.lastTickAt) {
        const gap = start - this.lastTickAt;
        this.stats.lateness.push(gap - period);
        if (gap >= 2 * period) this.stats.missed += Math.floor(gap / period) - 1;
      }
      this.lastTickAt = start;
      this.step(1 / PEER_TICK_RATE);
      this.stats.ticks++;
      this.stats.work.push(performance.now() - start);
    }, period);
  }

  /** Applies each client's latest input: direction clamped to full speed, position to the arena. */
  private step(dt: number): void {
    this.state.tick++;
    for (const [sessionId, p] of this.state.players) {
      const input = this.latestInput.get(sessionId);
      if (!input) continue;
      let mx = clampUnit(input.moveX);
      let my = clampUnit(input.moveY);
      const len = Math.sqrt(mx * mx + my * my);
      if (len > FULL) {
        mx = (mx / len) * FULL;
        my = (my / len) * FULL;
      }
      p.vx = (mx / FULL) * MAX_SPEED;
      p.vy = (my / FULL) * MAX_SPEED;
      p.x = clamp(p.x + p.vx * dt, 0, PEER_ARENA_SIZE);
      p.y = clamp(p.y + p.vy * dt, 0, PEER_ARENA_SIZE);
      p.aim = Number(input.aim) || 0;
      p.lastInput = Number(input.seq) || 0;
    }
  }

  override broadcastPatch(): boolean {
    const start = performance.now();
    const changed = super.broadcastPatch();
    this.stats.patches++;
    this.stats.patchWork.push(performance.now() - start);
    return changed;
  }

  override onDispose(): void {
    this.stats.rooms--;
  }

  override onJoin(client: Client): void {
    this.stats.clients++;
    this.state.players.set(client.sessionId, new PeerPlayer({ x: Math.random() * PEER_ARENA_SIZE, y: Math.random() * PEER_ARENA_SIZE, vx: 0, vy: 0, aim: 0, lastInput: 0 }));
  }

  override onLeave(client: Client): void {
    this.stats.clients--;
    this.state.players.delete(client.sessionId);
    this.latestInput.delete(client.sessionId);
  }
}
