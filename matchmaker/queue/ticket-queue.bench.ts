import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { removeRedisKeys } from '../../test/helpers/redis-keys.js';
import { makeMatches } from '../match-function.js';
import { loadMatchmakingRules } from '../rules.js';
import type { Ticket } from '../ticket.js';
import { randomTickets } from '../ticket-workload.js';
import { MemoryTicketQueue } from './memory-ticket-queue.js';
import { RedisTicketQueue } from './redis-ticket-queue.js';
import type { TicketQueue } from './ticket-queue.js';

// What the ticket queues cost, memory and Redis (127.0.0.1:6379, a key prefix of its own, removed
// after), on team-deathmatch tickets from config/matchmaking.yaml:
//   npx tsc -p tsconfig.json && node dist/matchmaker/queue/ticket-queue.bench.js
//
// - add, claim (8-player groups) and complete: one call at a time (latency), and 1,000 in flight
//   (throughput; ioredis pipelines them on one connection);
// - waiting(10,000) with 100,000 tickets waiting;
// - the matchmaking loop end to end: waiting(10,000) → makeMatches → claim every match →
//   complete, until the queue is empty: tickets/s formed into matches and claimed.
// Baselines in the same run (the machine is shared): a bare Redis PING, and for waiting, ZRANGE
// followed by one pipelined HGET per ticket (what a queue without Lua would do).

const REDIS = { host: '127.0.0.1', port: 6379 };
const NOW = 1_767_225_600_000;

interface Backend {
  name: string;
  make(): TicketQueue;
  cleanup(): Promise<void>;
}

function backends(): Backend[] {
  const prefix = `hangar-bench:${randomUUID()}:`;
  return [
    { name: 'memory', make: () => new MemoryTicketQueue(), cleanup: async () => undefined },
    {
      name: 'redis',
      make: () => new RedisTicketQueue({ connection: REDIS, prefix }),
      cleanup: async () => {
        const admin = new Redis(REDIS);
        await removeRedisKeys(admin, prefix);
        await admin.quit();
      },
    },
  ];
}

const tickets = (count: number, seed: number, idPrefix: string): Ticket[] =>
  randomTickets({ seed, count, queue: 'team-deathmatch', maxPartySize: 4, now: NOW, spreadSeconds: 120, idPrefix });

/** µs per call, one call at a time. */
async function serial<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (const item of items) await fn(item);
  return ((performance.now() - start) * 1000) / items.length;
}

/** Calls per second with `inFlight` calls outstanding. */
async function concurrent<T>(items: T[], fn: (item: T) => Promise<unknown>, inFlight = 1000): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < items.length; i += inFlight) await Promise.all(items.slice(i, i + inFlight).map(fn));
  return items.length / ((performance.now() - start) / 1000);
}

/** Claim groups of 8 ticket ids, in order. */
function groups(list: Ticket[], size = 8): string[][] {
  const out: string[][] = [];
  for (let i = 0; i + size <= list.length; i += size) out.push(list.slice(i, i + size).map((t) => t.id));
  return out;
}

async function costs(backend: Backend): Promise<string[]> {
  const queue = backend.make();
  const rows: string[] = [];
  try {
    const a = tickets(5_000, 1, 'a');
    const b = tickets(50_000, 2, 'b');
    const addUs = await serial(a, (t) => queue.add(t));
    const addRate = await concurrent(b, (t) => queue.add(t));
    rows.push(`| ${backend.name} | add | ${addUs.toFixed(1)} µs | ${Math.round(addRate).toLocaleString('en')}/s |`);

    // Each group is claimed under its first ticket's id, so complete can name the same match.
    const claimUs = await serial(groups(a).slice(0, 500), (g) => queue.claim(g, g[0]!, 60_000));
    const claimRate = await concurrent(groups(b), (g) => queue.claim(g, g[0]!, 60_000));
    rows.push(`| ${backend.name} | claim (8 tickets) | ${claimUs.toFixed(1)} µs | ${Math.round(claimRate).toLocaleString('en')}/s (${Math.round(claimRate * 8).toLocaleString('en')} tickets/s) |`);

    const completeUs = await serial(groups(a).slice(0, 500), (g) => queue.complete(g, g[0]!));
    const completeRate = await concurrent(groups(b), (g) => queue.complete(g, g[0]!));
    rows.push(`| ${backend.name} | complete (8 tickets) | ${completeUs.toFixed(1)} µs | ${Math.round(completeRate).toLocaleString('en')}/s |`);

    await concurrent(tickets(100_000, 3, 'w'), (t) => queue.add(t));
    const runs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const start = performance.now();
      await queue.waiting('team-deathmatch', 10_000);
      runs.push(performance.now() - start);
    }
    const ms = runs.sort((x, y) => x - y)[5]!;
    rows.push(`| ${backend.name} | waiting(10,000) of 100,000 | ${ms.toFixed(1)} ms | ${Math.round(10_000 / (ms / 1000)).toLocaleString('en')} tickets/s read |`);
  } finally {
    await queue.close();
  }
  return rows;
}

async function loop(backend: Backend, count: number): Promise<string> {
  const { queues } = await loadMatchmakingRules('config/matchmaking.yaml');
  const rules = queues.find((q) => q.name === 'team-deathmatch')!;
  const queue = backend.make();
  try {
    await concurrent(tickets(count, 4, 'l'), (t) => queue.add(t));
    let matched = 0;
    let rounds = 0;
    let phases = { read: 0, match: 0, claim: 0 };
    const start = performance.now();
    for (;;) {
      let t = performance.now();
      const waiting = await queue.waiting(rules.name, 10_000);
      phases.read += performance.now() - t;
      t = performance.now();
      const matches = makeMatches(rules, waiting, NOW);
      phases.match += performance.now() - t;
      if (matches.length === 0) break;
      t = performance.now();
      const claimed = await Promise.all(
        matches.map((m) => {
          const id = randomUUID();
          return queue.claim(m.tickets.map((x) => x.id), id, 60_000).then((ok) => (ok ? { m, id } : undefined));
        }),
      );
      const won = claimed.filter((c) => c !== undefined);
      await Promise.all(won.map(({ m, id }) => queue.complete(m.tickets.map((x) => x.id), id)));
      phases.claim += performance.now() - t;
      matched += won.reduce((n, { m }) => n + m.tickets.length, 0);
      rounds++;
    }
    const seconds = (performance.now() - start) / 1000;
    phases = { read: phases.read / 1000, match: phases.match / 1000, claim: phases.claim / 1000 };
    return `| ${backend.name} | ${count.toLocaleString('en')} | ${matched.toLocaleString('en')} in ${rounds} rounds, ${seconds.toFixed(2)} s | ${Math.round(matched / seconds).toLocaleString('en')} | ${phases.read.toFixed(2)} / ${phases.match.toFixed(2)} / ${phases.claim.toFixed(2)} s |`;
  } finally {
    await queue.close();
  }
}

async function baselines(): Promise<string[]> {
  const redis = new Redis({ ...REDIS, enableAutoPipelining: true });
  const prefix = `hangar-bench:${randomUUID()}:`;
  try {
    const pingUs = await serial(Array.from({ length: 5000 }, String), (s) => redis.ping(s));
    const pingRate = await concurrent(Array.from({ length: 50_000 }, String), (s) => redis.ping(s));
    const list = tickets(100_000, 3, 'z');
    for (let i = 0; i < list.length; i += 1000) {
      const pipe = redis.pipeline();
      for (const t of list.slice(i, i + 1000)) pipe.zadd(`${prefix}q`, t.createdAt, t.id).hset(`${prefix}t:${t.id}`, 'json', JSON.stringify(t));
      await pipe.exec();
    }
    const runs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const start = performance.now();
      const ids = await redis.zrange(`${prefix}q`, '0', '9999');
      const pipe = redis.pipeline();
      for (const id of ids) pipe.hget(`${prefix}t:${id}`, 'json');
      const replies = (await pipe.exec())!;
      replies.map(([, json]) => JSON.parse(json as string) as Ticket);
      runs.push(performance.now() - start);
    }
    const ms = runs.sort((x, y) => x - y)[5]!;
    for (let i = 0; i < list.length; i += 1000) await redis.del(...list.slice(i, i + 1000).map((t) => `${prefix}t:${t.id}`));
    await redis.del(`${prefix}q`);
    return [
      `| baseline | Redis PING | ${pingUs.toFixed(1)} µs | ${Math.round(pingRate).toLocaleString('en')}/s |`,
      `| baseline | ZRANGE 10,000 + pipelined HGET each, of 100,000 | ${ms.toFixed(1)} ms | ${Math.round(10_000 / (ms / 1000)).toLocaleString('en')} tickets/s read |`,
    ];
  } finally {
    await redis.quit();
  }
}

async function main(): Promise<void> {
  console.log('## Ticket queue costs\n');
  console.log('| queue | operation | one at a time | 1,000 in flight |');
  console.log('|---|---|---|---|');
  for (const row of await baselines()) console.log(row);
  for (const backend of backends()) {
    try {
      for (const row of await costs(backend)) console.log(row);
    } finally {
      await backend.cleanup();
    }
  }
  console.log('\n## Matchmaking loop: waiting(10,000) → makeMatches → claim → complete, until nothing matches\n');
  console.log('| queue | tickets | matched | tickets/s | read / match / claim+complete |');
  console.log('|---|---|---|---|---|');
  for (const backend of backends()) {
    try {
      console.log(await loop(backend, 100_000));
    } finally {
      await backend.cleanup();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
