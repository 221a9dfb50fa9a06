import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The simulation thread's own work per player, without sockets or crypto: each player's input
// handed to the game (decode, validate, apply), then one tick (move, shots, interest grid, a delta
// snapshot per player, handed to a network stub that copies it as InlineNetwork does). Players
// acknowledge the snapshot of two ticks before, as bots a round trip away do.
//
//   npx tsc -p tsconfig.json && node dist/bench/arena-tick.js
//   BENCH_TICK_PLAYERS=500,1500,5000   players per case (default 500,1500,5000)
//   BENCH_TICK_BASELINE=/path/to/dist  also run another build's game (e.g. a copy of dist made
//                                      before a change), interleaved round by round, and report the ratio
//
// Each case is run ROUNDS times interleaved; the figure is the median µs of thread CPU time per
// player-tick (CPU time, not wall time: other jobs share the machine).

const ROUNDS = 9;

/** CPU time of this thread, ns: the machine is shared, and wall time would count other jobs' turns. */
function threadCpuNs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
}
const TICKS_PER_ROUND = 60;
const WARM_UP_TICKS = 60;

interface GameModules {
  ArenaGame: typeof import('../gameserver/arena/arena-game.js').ArenaGame;
  rulesFor: typeof import('../gameserver/arena/arena-world.js').rulesFor;
  encodeInput: typeof import('../gameserver/arena/arena-messages.js').encodeInput;
}

async function load(dist: string): Promise<GameModules> {
  const url = (p: string) => pathToFileURL(path.join(dist, p)).href;
  const [game, world, messages] = await Promise.all([
    import(url('gameserver/arena/arena-game.js')) as Promise<typeof import('../gameserver/arena/arena-game.js')>,
    import(url('gameserver/arena/arena-world.js')) as Promise<typeof import('../gameserver/arena/arena-world.js')>,
    import(url('gameserver/arena/arena-messages.js')) as Promise<typeof import('../gameserver/arena/arena-messages.js')>,
  ]);
  return { ArenaGame: game.ArenaGame, rulesFor: world.rulesFor, encodeInput: messages.encodeInput };
}

/** A match of `players` players; each call runs `ticks` ticks (inputs, then the tick) and returns the ns they took. */
function match(m: GameModules, players: number): (ticks: number) => number {
  let sent = 0;
  const game = new m.ArenaGame({
    rules: m.rulesFor(players, { matchSeconds: 1e9, scoreLimit: 0xffff }),
    tickRate: 30,
    network: {
      send: (_client, _channel, payload) => void (sent += Buffer.from(payload).length),
      disconnect: () => undefined,
    },
    maxPlayers: players,
    seed: 42,
  });
  for (let c = 0; c < players; c++) game.connect(c, `player-${c}`);
  let seed = 1;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const headings = Array.from({ length: players }, () => random() * 2 * Math.PI);
  const inputs: Buffer[] = new Array(players);
  let tick = 0;
  return (ticks) => {
    let ns = 0;
    for (let t = 0; t < ticks; t++) {
      tick++;
      // The inputs are the clients' work: encoded outside the timing.
      for (let c = 0; c < players; c++) {
        if (random() < 0.05) headings[c]! += (random() - 0.5) * 2;
        const h = headings[c]!;
        const aim = Math.floor((((h % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) / (2 * Math.PI) * 65536) & 0xffff;
        inputs[c] = m.encodeInput({ sequence: tick, ackTick: tick > 2 ? tick - 2 : 0xffffffff, moveX: Math.round(Math.cos(h) * 127), moveY: Math.round(Math.sin(h) * 127), aim, buttons: random() < 0.1 ? 1 : 0 });
      }
      const t0 = threadCpuNs();
      for (let c = 0; c < players; c++) game.message(c, inputs[c]!);
      game.tick(tick, 1 / 30);
      ns += threadCpuNs() - t0;
    }
    if (sent < 0) throw new Error('unreachable');
    return ns;
  };
}

export interface TickCase {
  players: number;
  /** µs per player-tick, this build. */
  us: number;
  /** The same with BENCH_TICK_BASELINE's build, if given. */
  baselineUs?: number;
}

export async function benchArenaTick(): Promise<TickCase[]> {
  const players = (process.env.BENCH_TICK_PLAYERS ?? '500,1500,5000').split(',').map(Number);
  const here = await load(path.resolve(path.dirname(new URL(import.meta.url).pathname), '..'));
  const baseline = process.env.BENCH_TICK_BASELINE ? await load(path.resolve(process.env.BENCH_TICK_BASELINE)) : undefined;
  const results: TickCase[] = [];
  for (const n of players) {
    const runs = [match(here, n), ...(baseline ? [match(baseline, n)] : [])];
    for (const run of runs) run(WARM_UP_TICKS);
    const samples: number[][] = runs.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the order, so neither build always runs right after the other's garbage.
      const order = r % 2 === 0 ? runs.map((_, i) => i) : runs.map((_, i) => runs.length - 1 - i);
      for (const i of order) samples[i]!.push(runs[i]!(TICKS_PER_ROUND) / 1000 / (n * TICKS_PER_ROUND));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    results.push({ players: n, us: median(samples[0]!), ...(baseline ? { baselineUs: median(samples[1]!) } : {}) });
  }
  return results;
}

export function formatTick(cases: TickCase[]): string {
  const withBaseline = cases.some((c) => c.baselineUs !== undefined);
  const rows = cases.map(
    (c) => `| ${c.players.toLocaleString('en-US')} | ${c.us.toFixed(2)} µs |${withBaseline ? ` ${c.baselineUs!.toFixed(2)} µs | ${(c.us / c.baselineUs!).toFixed(2)}× |` : ''}`,
  );
  const head = withBaseline ? ['| players | this build, µs per player-tick | baseline build | ratio |', '|---|---|---|---|'] : ['| players | simulation µs per player-tick |', '|---|---|'];
  return [...head, ...rows].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchArenaTick().then(
    (cases) => console.log(formatTick(cases)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
