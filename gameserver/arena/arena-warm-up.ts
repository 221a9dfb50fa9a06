import { collectYoungGeneration } from '../exposed-gc.js';
import { ArenaGame, type ArenaGameOptions } from './arena-game.js';
import { encodeInput, NO_TICK } from './arena-messages.js';
import { Button } from './arena-world.js';

// The game's side of warming up before Ready (the netcode's is protocol/warm-up.ts): a throwaway
// match with phantom players who join, move, fire and acknowledge snapshots for a couple of
// seconds of game time, so that joins, inputs, the interest grid and delta snapshots are compiled
// code when the real match's players arrive. Nothing is sent anywhere and nothing is kept.

const WARM_UP_TICKS = 30;

export type ArenaWarmUpOptions = Omit<ArenaGameOptions, 'network' | 'onMatchEnd' | 'onDrop'>;

export interface ArenaWarmUp {
  players: number;
  /** Snapshots the match built, and inputs it refused (none, if the phantoms play by the rules). */
  snapshots: number;
  dropped: number;
  ms: number;
}

/** Plays `players` phantom players (at most the match's capacity) through a throwaway match. */
export function warmUpArena(options: ArenaWarmUpOptions, players: number): ArenaWarmUp {
  const started = performance.now();
  const count = Math.min(players, options.maxPlayers);
  const result: ArenaWarmUp = { players: Math.max(0, count), snapshots: 0, dropped: 0, ms: 0 };
  if (count <= 0) return result;
  const game = new ArenaGame({
    ...options,
    network: { send: (_client, channel) => void (channel === 'unreliable' && result.snapshots++), disconnect: () => undefined },
    onDrop: () => result.dropped++,
  });
  for (let client = 0; client < count; client++) game.connect(client, `warm-up-${client}`);
  const dt = 1 / options.tickRate;
  for (let tick = 1; tick <= WARM_UP_TICKS; tick++) {
    for (let client = 0; client < count; client++) {
      const heading = (client * 2.399 + tick * 0.05) % (2 * Math.PI);
      const input = { sequence: tick, ackTick: tick === 1 ? NO_TICK : tick - 1, moveX: Math.round(Math.cos(heading) * 127), moveY: Math.round(Math.sin(heading) * 127), aim: (client * 4099) & 0xffff, buttons: (client + tick) % 10 === 0 ? Button.Fire : 0 };
      game.message(client, encodeInput(input));
    }
    game.tick(tick, dt);
    // As the server does after a tick with players (arena-server.ts), so its garbage stays small.
    collectYoungGeneration();
  }
  for (let client = 0; client < count; client++) game.disconnect(client);
  result.ms = performance.now() - started;
  return result;
}
