import { cpus, totalmem } from 'node:os';
import { benchAllocator } from './allocator-load.js';
import { benchArenaLoad } from './arena-load.js';
import { benchArenaTick, formatTick } from './arena-tick.js';
import { benchFleetStartup, benchScaleUp, formatResults } from './fleet-startup.js';
import { benchMatchmaking } from './matchmaking.js';

// `npm run bench`: every benchmark, each reported as a ratio to a baseline measured in the same run.

async function main(): Promise<void> {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# ${new Date().toISOString()} · Node ${process.version} · ${cpus().length} × ${cpu} · ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
  console.log('\n## Fleet start-up and memory\n');
  console.log(formatResults(await benchFleetStartup()));
  console.log('\n## Fleet scale-up on a running stack\n');
  console.log(formatResults(await benchScaleUp()));
  console.log('\n## Arena simulation cost per player (no sockets, no crypto)\n');
  console.log(formatTick(await benchArenaTick()));
  // Quick by default (a few seconds per step, 30 s of drift); BENCH_ARENA=full for the long one.
  console.log(`\n## Arena game server under load (${process.env.BENCH_ARENA === 'full' ? 'full' : 'quick'})\n`);
  console.log(await benchArenaLoad());
  console.log('\n## Allocator under load\n');
  console.log(await benchAllocator());
  console.log('\n## Matchmaking\n');
  console.log(await benchMatchmaking());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
