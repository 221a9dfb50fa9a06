import { cpus } from 'node:os';
import { makeMatches } from './match-function.js';
import { loadMatchmakingRules } from './rules.js';
import type { QueueRules, Ticket } from './ticket.js';
import { randomTickets } from './ticket-workload.js';

// How many tickets a second the match function forms into matches, on the queues of
// config/matchmaking.yaml with realistic tickets (matchmaker/ticket-workload.ts).
//   npx tsc -p tsconfig.json && node dist/matchmaker/match-function.bench.js
//
// 1. A backlog: 10,000 and 100,000 tickets waiting (created over the last 2 minutes), one call.
//    Beside it the floor every match function pays: one pass reading each ticket's players and
//    latencies.
// 2. Steady state: tickets arrive at a fixed rate, the function runs every 100 ms over everything
//    still waiting (as the matchmaking loop does), matched tickets leave, unmatched ones expire
//    after ticketTtlSeconds. Reported: CPU time per simulated second, matched tickets per CPU second.

const NOW = 1_767_225_600_000;

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

function timeMs(fn: () => void, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

/** The floor: read each ticket once (party mean, every latency). */
function readAll(tickets: readonly Ticket[]): number {
  let sink = 0;
  for (const t of tickets) {
    for (const p of t.players) sink += p.skill;
    for (const r in t.latencies) sink += t.latencies[r]!;
  }
  return sink;
}

function backlog(rules: QueueRules, count: number): string {
  const tickets = randomTickets({ seed: 42, count, queue: rules.name, maxPartySize: rules.maxPartySize, now: NOW, spreadSeconds: 120 });
  const runs = count >= 100_000 ? 5 : 15;
  makeMatches(rules, tickets, NOW); // warm-up
  const matches = makeMatches(rules, tickets, NOW);
  const matched = matches.reduce((n, m) => n + m.tickets.length, 0);
  const players = matches.reduce((n, m) => n + m.tickets.reduce((k, t) => k + t.players.length, 0), 0);
  const ms = timeMs(() => makeMatches(rules, tickets, NOW), runs);
  const floorMs = timeMs(() => readAll(tickets), runs);
  const perSecond = (n: number): string => Math.round(n / (ms / 1000)).toLocaleString('en');
  return `| ${rules.name} | ${count.toLocaleString('en')} | ${ms.toFixed(1)} ms | ${perSecond(count)} | ${matches.length.toLocaleString('en')} / ${matched.toLocaleString('en')} tickets / ${players.toLocaleString('en')} players | ${perSecond(matched)} | ${(ms / floorMs).toFixed(0)}× (${floorMs.toFixed(2)} ms) |`;
}

function steady(rules: QueueRules, arrivalsPerSecond: number, seconds: number): string {
  const tickMs = 100;
  const perTick = arrivalsPerSecond / (1000 / tickMs);
  let waiting: Ticket[] = [];
  let cpuMs = 0;
  let matched = 0;
  let expired = 0;
  let waitSum = 0;
  let peak = 0;
  const ticks = (seconds * 1000) / tickMs;
  for (let tick = 0; tick < ticks; tick++) {
    const now = NOW + tick * tickMs;
    const arrivals = randomTickets({ seed: tick + 1, count: perTick, queue: rules.name, maxPartySize: rules.maxPartySize, now, spreadSeconds: tickMs / 1000, idPrefix: `k${tick}-` });
    waiting = waiting.concat(arrivals);
    const before = waiting.length;
    waiting = waiting.filter((t) => now - t.createdAt < rules.ticketTtlSeconds * 1000);
    expired += before - waiting.length;
    peak = Math.max(peak, waiting.length);
    const start = performance.now();
    const matches = makeMatches(rules, waiting, now);
    cpuMs += performance.now() - start;
    const taken = new Set<string>();
    for (const m of matches) {
      for (const t of m.tickets) {
        taken.add(t.id);
        waitSum += now - t.createdAt;
      }
    }
    matched += taken.size;
    waiting = waiting.filter((t) => !taken.has(t.id));
  }
  const arrived = arrivalsPerSecond * seconds;
  return `| ${rules.name} | ${arrivalsPerSecond.toLocaleString('en')}/s for ${seconds} s | ${((cpuMs / seconds / 1000) * 100).toFixed(1)}% of a core | ${Math.round(matched / (cpuMs / 1000)).toLocaleString('en')} | ${((matched / arrived) * 100).toFixed(1)}% matched, ${expired} expired, ${waiting.length.toLocaleString('en')} still waiting (peak ${peak.toLocaleString('en')}) | ${(waitSum / Math.max(1, matched) / 1000).toFixed(1)} s |`;
}

async function main(): Promise<void> {
  const { queues } = await loadMatchmakingRules('config/matchmaking.yaml');
  console.log(`# match function · Node ${process.version} · ${cpus()[0]?.model ?? 'unknown CPU'}\n`);
  console.log('## Backlog: one call over all waiting tickets (median)\n');
  console.log('| queue | waiting | time | tickets/s considered | matches / tickets / players matched | matched tickets/s | vs reading each ticket once |');
  console.log('|---|---|---|---|---|---|---|');
  for (const rules of queues) for (const count of [10_000, 100_000]) console.log(backlog(rules, count));
  console.log('\n## Steady state: a call every 100 ms over everything waiting\n');
  console.log('| queue | arrivals | CPU | matched tickets per CPU second | outcome | mean wait of matched |');
  console.log('|---|---|---|---|---|---|');
  for (const rules of queues) for (const rate of [10_000, 20_000]) console.log(steady(rules, rate, 60));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
