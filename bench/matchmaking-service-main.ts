import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { StoreAllocationBackend } from '../allocator/allocation-backend.js';
import { Allocator } from '../allocator/allocator.js';
import { systemClock } from '../core/clock.js';
import { parseConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createAllocatorMetrics, createMatchmakerMetrics, createRegistry } from '../core/metrics.js';
import { percentile } from '../gameserver/bot/bot-swarm.js';
import { readPublicToken } from '../gameserver/protocol/connect-token.js';
import { InProcessAllocatorClient } from '../matchmaker/allocator-client.js';
import type { TicketRequest } from '../matchmaker/lobby/matchmaking.js';
import { makeMatches } from '../matchmaker/match-function.js';
import { ticketStore } from '../matchmaker/matchmaker.js';
import { MatchmakingService } from '../matchmaker/matchmaking-service.js';
import type { MatchEvents } from '../matchmaker/queue/match-events.js';
import type { TicketQueue } from '../matchmaker/queue/ticket-queue.js';
import { loadMatchmakingRules } from '../matchmaker/rules.js';
import type { QueueRules, Ticket } from '../matchmaker/ticket.js';
import { randomTickets } from '../matchmaker/ticket-workload.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { fakeGameServer } from './allocator-fleet.js';

// One process of the matchmaking throughput benchmark (bench/matchmaking.ts starts it, one or two
// at a time). `service`: the whole MatchmakingService as the local stack builds it (a real
// Allocator over a MemoryGameServerStore pre-filled with Ready arena-shaped servers, a connect
// token per player, an info-level pino logger writing to /dev/null; no records), fed tickets
// through submit(), every player accepting at once where the queue asks; a ticket counts once its
// owner hears `matched` with a connect token. `function`: the ceiling, makeMatches alone over the
// same tickets in one call (median of five). Prints nothing; the result goes back over IPC.

export interface ServicePlan {
  mode: 'service' | 'function';
  queue: string;
  /** The whole workload (randomTickets, seeded); this process submits tickets index, index + of, ... */
  tickets: number;
  seed: number;
  part: { index: number; of: number };
  backend: 'memory' | 'redis';
  redisUrl: string;
  /** matchmaker.redis_prefix of this run (the orchestrator removes every key starting with it). */
  prefix: string;
  intervalMs: number;
  /** Tickets a second (open loop, on schedule); 0: as fast as submit() takes them. */
  rate: number;
  /** Tickets through a separate service first, so the JIT has compiled the paths measured. */
  warmupTickets: number;
}

export interface ServiceResult {
  type: 'result';
  submitted: number;
  matchedTickets: number;
  matchedPlayers: number;
  /** The matches this process's players were put in. */
  matchIds: string[];
  /** Epoch ms: the first submit, the last submit answered, the last `matched` heard. */
  startedAt: number;
  submittedAt: number;
  lastMatchedAt: number;
  /** CPU of this process from the first submit to the last `matched`. */
  cpuMs: number;
  /** Submit called → owner hears `matched`, ms. */
  timeToMatch: { p50: number; p99: number; max: number };
  /** Heap the service still held after the run, bytes (see run()). */
  heapKept: number;
  /** `matched` events whose connect token did not parse, or named another player. */
  badTokens: number;
  submitErrors: number;
}

/** Submits in flight per event-loop turn: as many messages as a busy lobby socket server hands over at once. */
const CHUNK = 500;

/** The tickets as submit() makes them: one skill for the whole party (TicketRequest has one). */
function workload(rules: QueueRules, count: number, seed: number, idPrefix = ''): Ticket[] {
  return randomTickets({ seed, count, queue: rules.name, maxPartySize: rules.maxPartySize, now: Date.now(), spreadSeconds: 1, idPrefix }).map((t) => {
    const skill = Math.round(t.players.reduce((n, p) => n + p.skill, 0) / t.players.length);
    return { ...t, players: t.players.map((p) => ({ ...p, skill })) };
  });
}

function tokenFits(base64: string, playerId: string, address: string): boolean {
  try {
    const token = readPublicToken(Buffer.from(base64, 'base64'));
    return token.playerId === playerId && token.addresses.includes(address);
  } catch {
    return false;
  }
}

function request(t: Ticket): TicketRequest {
  return { queue: t.queue, latencies: t.latencies, skill: t.players[0]!.skill, party: t.players.slice(1).map((p) => p.playerId) };
}

function ceiling(rules: QueueRules, tickets: Ticket[]): ServiceResult {
  const now = Date.now();
  makeMatches(rules, tickets, now); // warm-up
  const runs = Array.from({ length: 5 }, () => {
    const t0 = performance.now();
    const matches = makeMatches(rules, tickets, now);
    return { ms: performance.now() - t0, matches };
  });
  const { ms, matches } = runs.sort((a, b) => a.ms - b.ms)[2]!;
  const matched = matches.flatMap((m) => m.tickets);
  return {
    type: 'result',
    submitted: tickets.length,
    matchedTickets: matched.length,
    matchedPlayers: matched.reduce((n, t) => n + t.players.length, 0),
    // A proposal has no id yet: its first ticket's stands in.
    matchIds: matches.map((m) => m.tickets[0]!.id),
    startedAt: 0,
    submittedAt: 0,
    lastMatchedAt: ms,
    cpuMs: ms,
    timeToMatch: { p50: 0, p99: 0, max: 0 },
    heapKept: 0,
    badTokens: 0,
    submitErrors: 0,
  };
}

/** The queues as the service builds them from its config (the Redis ones with the default command timeout). */
function queues(plan: ServicePlan, prefix: string, log: Logger): { tickets: TicketQueue; events: MatchEvents } {
  const config = parseConfig(JSON.stringify({ matchmaker: { queue: plan.backend, redis_prefix: prefix } }), 'bench', {});
  return ticketStore(config, { url: plan.redisUrl, target: plan.redisUrl }, log);
}

const heapNow = (): number => {
  global.gc!();
  return process.memoryUsage().heapUsed;
};

/** One service, fed `mine`; resolves once no `matched` has come for a while after the last submit. */
async function run(plan: ServicePlan, rules: QueueRules, mine: Ticket[], prefix: string, servers: number): Promise<ServiceResult> {
  const store = new MemoryGameServerStore();
  for (let i = 0; i < servers; i++) await store.create(fakeGameServer(rules.fleet, i));
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const allocator = new Allocator({ backend: new StoreAllocationBackend(store, systemClock), clock: systemClock, log, metrics: createAllocatorMetrics(createRegistry()) });
  const { tickets, events } = queues(plan, prefix, log);
  const defaults = parseConfig('', 'defaults', {});
  const graceSeconds = defaults.lobby.ticket_grace_seconds;
  let service: MatchmakingService | undefined = new MatchmakingService({
    queues: [rules],
    tickets,
    events,
    allocator: new InProcessAllocatorClient(allocator),
    tokenKey: randomBytes(32),
    clock: systemClock,
    log,
    metrics: createMatchmakerMetrics(createRegistry()),
    intervalMs: plan.intervalMs,
    ticketGraceSeconds: graceSeconds,
    claimLeaseSeconds: defaults.matchmaker.claim_lease_seconds,
  });

  // Every player of this process → its ticket's index in `mine`; only owners' events time a ticket.
  const ticketOf = new Map<string, number>();
  mine.forEach((t, i) => t.players.forEach((p) => ticketOf.set(p.playerId, i)));
  const submittedAt = new Float64Array(mine.length);
  const matchedAt = new Float64Array(mine.length);
  const matchIds = new Set<string>();
  let matchedTickets = 0;
  let matchedPlayers = 0;
  let badTokens = 0;
  let lastMatched = 0;
  let lastCpu = process.cpuUsage();
  service.events((playerId, event) => {
    const i = ticketOf.get(playerId);
    if (i === undefined) return;
    // Every player accepts at once (a queue with an accept step pays its round trip, no more).
    if (event.type === 'accept') void service?.accept(playerId, event.matchId, true).catch(() => undefined);
    if (event.type !== 'matched') return;
    matchedPlayers++;
    matchIds.add(event.matchId);
    // Every hundredth token is read, to check it is this player's and names the server.
    if (matchedPlayers % 100 === 0 && !tokenFits(event.connectToken, playerId, `${event.server.address}:${event.server.port}`)) badTokens++;
    if (mine[i]!.ownerId !== playerId) return;
    matchedAt[i] = performance.now();
    matchedTickets++;
    // CPU read at most every 2 ms: a syscall per event would be measured too.
    if (matchedAt[i]! - lastMatched > 2) lastCpu = process.cpuUsage();
    lastMatched = matchedAt[i]!;
  });
  await events.subscribed();
  service.start();
  let next = 0;
  // As the lobby does (LobbyPresence): every player submitted so far is reported present every
  // third of the grace, so a ticket that waits long is not taken for one whose players left, and the
  // reports' cost is measured with the rest.
  const reports = setInterval(() => void service?.present(mine.slice(0, next).flatMap((t) => t.players.map((p) => p.playerId))).catch(() => undefined), (graceSeconds * 1000) / 3);

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const epoch0 = Date.now();
  let submitErrors = 0;
  while (next < mine.length) {
    const due = plan.rate ? Math.min(mine.length, Math.floor(((performance.now() - t0) * plan.rate) / 1000)) : mine.length;
    while (next < due) {
      const from = next;
      next = Math.min(due, next + CHUNK);
      await Promise.all(
        mine.slice(from, next).map((t, k) => {
          submittedAt[from + k] = performance.now();
          return service!.submit(t.ownerId, request(t)).catch(() => void submitErrors++);
        }),
      );
      await nextTurn();
    }
    if (plan.rate) await new Promise((r) => setTimeout(r, 5));
  }
  const submitDone = performance.now();
  // Done when nothing has matched for four intervals (leftovers wait for wider windows, seconds away).
  const quietMs = Math.max(1000, 4 * plan.intervalMs);
  while (performance.now() - Math.max(lastMatched, submitDone) < quietMs) await new Promise((r) => setTimeout(r, 50));

  // What the service still holds once its matches are made (outcomes kept for status polls, rosters):
  // the heap with it, less the heap once it is gone (the store and its allocated servers stay).
  clearInterval(reports);
  const heapWith = heapNow();
  await service.close();
  await Promise.all([tickets.close(), events.close()]);
  service = undefined;
  const heapKept = heapWith - heapNow();
  await store.close();

  const waits: number[] = [];
  for (let i = 0; i < mine.length; i++) if (matchedAt[i]) waits.push(matchedAt[i]! - submittedAt[i]!);
  const cpu = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  return {
    type: 'result',
    submitted: mine.length,
    matchedTickets,
    matchedPlayers,
    matchIds: [...matchIds],
    startedAt: epoch0,
    submittedAt: epoch0 + (submitDone - t0),
    lastMatchedAt: epoch0 + (lastMatched - t0),
    cpuMs: cpu(lastCpu) - cpu(cpu0),
    timeToMatch: { p50: percentile(waits, 0.5), p99: percentile(waits, 0.99), max: waits.reduce((a, b) => Math.max(a, b), 0) },
    heapKept,
    badTokens,
    submitErrors,
  };
}

/** Resolves once the message is written: a large one would be lost to the disconnect that follows. */
function send(message: object): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, (err: Error | null) => (err ? reject(err) : resolve())));
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]!) as ServicePlan;
  const rules = (await loadMatchmakingRules('config/matchmaking.yaml')).queues.find((q) => q.name === plan.queue);
  if (!rules) throw new Error(`no queue ${plan.queue} in config/matchmaking.yaml`);
  const all = workload(rules, plan.tickets, plan.seed);
  // Ready servers in this process's store: one for every match the whole workload could make.
  const servers = Math.ceil(all.reduce((n, t) => n + t.players.length, 0) / rules.minPlayers) + 100;
  if (plan.mode === 'function') {
    await send(ceiling(rules, all));
    return;
  }
  if (plan.warmupTickets > 0) {
    const warm = workload(rules, plan.warmupTickets, plan.seed + 1, `warm${plan.part.index}-`);
    await run({ ...plan, rate: 0 }, rules, warm, `${plan.prefix}-warm${plan.part.index}`, warm.length);
  }
  const mine = all.filter((_, i) => i % plan.part.of === plan.part.index);
  await send({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await send(await run(plan, rules, mine, plan.prefix, servers));
}

main().then(
  () => process.disconnect(),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
