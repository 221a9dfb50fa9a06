import { percentiles } from '../gameserver/tick-loop.js';

// The bare tick timer issue #4's lateness target is set against: a drift-corrected setTimeout loop
// (tick n due at start + n·period, each timer armed for what is left until the next due time) with
// no work in its ticks. bench/arena-load.ts runs it pinned to the server core while a busy loop
// holds the load core, as the anchor measured it, and reads the arena's lateness against it:
//   node dist/bench/timer-baseline.js SECONDS [RATE=30]
//       prints {"type":"done","ticks":…,"latenessMs":{p50,p99,max},"early":…} after SECONDS.
// Lateness is a tick's start minus its due time. A node timer counts whole milliseconds of the
// event loop's cached clock, so it may fire before the due time: such a tick runs then (this is the
// bare loop, it does not wait again), its lateness negative and counted in `early`.

const seconds = Number(process.argv[2]);
const rateHz = Number(process.argv[3] ?? 30);
if (!(seconds > 0) || !(rateHz > 0)) throw new Error(`usage: timer-baseline.js SECONDS [RATE]: got ${process.argv.slice(2).join(' ')}`);

const periodMs = 1000 / rateHz;
const ticks = Math.round(seconds * rateHz);
const lateness = new Float64Array(ticks);
const start = performance.now();
let n = 0;

function tick(): void {
  lateness[n] = performance.now() - (start + (n + 1) * periodMs);
  n++;
  if (n < ticks) return void setTimeout(tick, start + (n + 1) * periodMs - performance.now());
  const early = lateness.filter((ms) => ms < 0).length;
  process.stdout.write(`${JSON.stringify({ type: 'done', ticks, latenessMs: percentiles(lateness), early })}\n`);
}

setTimeout(tick, periodMs);
