import { randomUUID } from 'node:crypto';
import type { GameServerAllocationSpec, GameServerSelector } from '../allocator/allocation.js';
import { parseAllocationRequest } from '../allocator/allocation-schema.js';
import { mergeAllocation, type PreparedAllocation } from '../allocator/prepared-allocation.js';
import type { Cancel, Clock } from '../core/clock.js';
import { EXPECTED_PLAYERS_ANNOTATION, MATCH_ID_ANNOTATION, PLAYERS_LIST } from '../core/hangar-metadata.js';
import { LogField, type Logger } from '../core/logger.js';
import type { MatchmakerMetrics } from '../core/metrics.js';
import { gamePortName, playerPorts } from '../core/player-ports.js';
import { ConnectTokenMinter } from '../gameserver/protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../gameserver/protocol/protocol-constants.js';
import type { MatchRecords } from '../records/match-records.js';
import { FLEET_LABEL } from '../store/game-server-store.js';
import type { AllocatorClient } from './allocator-client.js';
import {
  MatchAcceptClosedError,
  MatchmakerDrainingError,
  MatchNotFoundError,
  QueueNotFoundError,
  TicketAlreadyMatchedError,
  TicketNotFoundError,
  TicketNotOwnerError,
  TicketRejectedError,
  queueInfo,
  type Matchmaking,
  type QueueInfo,
  type SubmitResult,
  type TicketRequest,
  type TicketStatus,
} from './lobby/matchmaking.js';
import { makeMatches } from './match-function.js';
import type { MatchEvents } from './queue/match-events.js';
import type { TicketQueue } from './queue/ticket-queue.js';
import { cancelledBy, freezeTicket, widest, type MatchmakerMessage, type PlayerEvent, type ProposedMatch, type QueueRules, type Ticket } from './ticket.js';
import { backoffDelay } from '../core/retry.js';

// The matchmaking loop behind the lobby. Every queue runs its match function every interval and
// right after a burst of tickets; each proposed match is claimed atomically in the ticket queue
// (so with several matchmaker processes on one Redis a ticket is matched exactly once), optionally
// accepted by every player, then given a game server by the allocator and one connect token per
// player. A match that finds no server goes back to the front of the queue and the queue backs off.
// A claim is a lease this process renews while it works on the match; when a process stops
// renewing (it died mid-accept, say), any other takes the tickets back once the lease runs out and
// tells their players the match is off.
// Backfill queues first offer waiting tickets the free slots of their running matches.

/** Labels put on allocated servers, so backfill can find a queue's running matches. */
export const QUEUE_LABEL = 'hangar.dev/queue';
export const MODE_LABEL = 'hangar.dev/mode';

/** Connect tokens outlive the trip to the server with room to spare, but not much more. */
const TOKEN_EXPIRY_SECONDS = 60;
/** Tickets read per queue per round: the match function's working set. */
const WAITING_LIMIT = 20_000;
/** Why `status` says a ticket is gone whose end this process may have missed (its Redis connection was lost meanwhile). */
const NEWS_MISSED_REASON = 'this ticket left the queue while this matchmaker process was cut off from the others, so how it ended is unknown here: submit again';
/** Outcomes kept for clients that poll (`status`) while their ticket is still being matched. */
const OUTCOME_TTL_MS = 10 * 60_000;
/**
 * Once every player of a ticket has heard how it ended, its outcome is kept only while the connect
 * tokens in it are good: after that `status` could hand out nothing usable, and at thousands of
 * tickets a second ten minutes of them would fill the heap.
 */
const SETTLED_OUTCOME_TTL_MS = TOKEN_EXPIRY_SECONDS * 1000;
/**
 * A running match's team sizes are kept this long after they last changed, for backfill's team
 * choice. Matches last minutes; a roster dropped too soon only makes that choice less balanced,
 * and one kept forever is a leak (one per match made).
 */
const ROSTER_TTL_MS = 60 * 60_000;
const SETTLED: ReadonlySet<PlayerEvent['type']> = new Set(['matched', 'failed', 'timed-out', 'cancelled']);
/** Back-off of a queue whose last match found no game server, doubling to the cap. */
const NO_SERVER_BACKOFF = { initialMs: 250, maxMs: 5000 };
/** Renewals a claim's lease spans: a process that misses this many in a row (a stall, an outage) loses its claims. */
const RENEWALS_PER_LEASE = 3;
/** How often each queue is searched for tickets whose players left (a pass over the memory queue). */
const ABSENT_CHECK_MS = 1000;
/** What accept answers are published under; listeners tell them from player events by their type. */
const ANSWERS_CHANNEL = 'matchmaker:answers';

export interface MatchmakingServiceOptions {
  queues: readonly QueueRules[];
  tickets: TicketQueue;
  events: MatchEvents;
  allocator: AllocatorClient;
  /** The key shared with the game servers, for connect tokens. */
  tokenKey: Buffer;
  records?: MatchRecords;
  clock: Clock;
  log: Logger;
  metrics: MatchmakerMetrics;
  /** How often each queue's match function runs; default 250 ms. */
  intervalMs?: number;
  /**
   * A waiting ticket none of whose players has been at the lobby (`present`) for this long is
   * dropped: its players went away (lobby.ticket_grace_seconds).
   */
  ticketGraceSeconds: number;
  /**
   * How long a claim on a match's tickets holds unless renewed (matchmaker.claim_lease_seconds):
   * renewed every third of it, and taken back by another process this long after its matchmaker stopped.
   */
  claimLeaseSeconds: number;
  /** Rating of a player who gives none. */
  defaultSkill?: number;
}

interface Outcome {
  queue: string;
  players: string[];
  /** The latest event of each of `players`, at the same index (arrays, not a Map: one is kept per ticket for a minute). */
  events: PlayerEvent[];
  /** When the last event came. */
  at: number;
  /** Every player has heard how the ticket ended. */
  settled: boolean;
}

/** This process's claim on a match's tickets, renewed while the match is being made. */
interface HeldClaim {
  ticketIds: string[];
  /** A renewal found the tickets gone: the lease ran out and another process took them back. */
  lost: boolean;
  /** Called once, when the claim is found lost. */
  onLost?: () => void;
}

interface PendingAccept {
  tickets: Ticket[];
  answers: Map<string, boolean>;
  deadline: number;
  settle: (accepted: boolean) => void;
}

/** A queue as `hangar status` shows it (GET /v1/queues on the stack's API). */
export interface QueueStats {
  name: string;
  fleet: string;
  minPlayers: number;
  maxPlayers: number;
  /** Tickets waiting now (a party is one ticket). */
  waiting: number;
  /** How long the oldest waiting ticket has waited; null when none waits. */
  oldestWaitSeconds: number | null;
  /** This process's recent average time to a match; null before its first. */
  estimatedWaitSeconds: number | null;
}

export class MatchmakingService implements Matchmaking {
  private readonly rules = new Map<string, QueueRules>();
  /** Allocation templates, one object for each kind of allocation a queue makes (allocationRequest). */
  private readonly templates = new Map<string, GameServerAllocationSpec>();
  private readonly outcomes = new Map<string, Outcome>();
  /** When the event subscription was last made again after a lost connection: news of tickets heard of before then may have been missed. */
  private newsMissedUntil = -Infinity;
  private readonly accepts = new Map<string, PendingAccept>();
  /** Matches in their accept step anywhere (this process or another), with the players asked (and their tickets) and until when. */
  private readonly offers = new Map<string, { players: Map<string, string>; deadline: number }>();
  /** Players submitted to each queue since its last round began: a full match's worth is worth a round now. */
  private readonly arrivals = new Map<string, number>();
  private readonly running = new Map<string, Promise<void>>();
  /** Claimed matches still being accepted or allocated: a round does not wait for them. */
  private readonly inflight = new Set<Promise<void>>();
  private readonly again = new Set<string>();
  private readonly backoffUntil = new Map<string, number>();
  private readonly noServerStreak = new Map<string, number>();
  /** Average seconds to a match, per queue (an exponential moving average), for wait estimates. */
  private readonly matchSeconds = new Map<string, number>();
  /** Players per team of this process's matches in backfill queues, for backfill's team choice; least recently changed first. */
  private readonly rosters = new Map<string, { teams: number[]; at: number }>();
  /**
   * When each backfill queue last found no running match with room. Rounds on a burst run back to
   * back, and each failed try scans every running match of the queue: within one interval of a
   * miss, rounds go straight to new matches.
   */
  private readonly backfillMissAt = new Map<string, number>();
  /** What the service keeps (outcomes, rosters, offers) is pruned once an interval, not on every round of a burst (it walks the outcomes). */
  private lastPrune = Number.NEGATIVE_INFINITY;
  private readonly tokens: ConnectTokenMinter;
  private readonly log: Logger;
  private readonly unsubscribe: () => void;
  private stopTimer: Cancel | undefined;
  private closed = false;
  /** Claims this process holds, by match (or backfill) id. */
  private readonly claims = new Map<string, HeldClaim>();
  private stopLeases: Cancel | undefined;
  /**
   * When telling the queue who is present last failed (or a round did: the queue is likely
   * unreachable for the lobbies too). Sightings may have been lost then, so for one grace after it
   * no ticket is dropped as absent: an outage must not pass for every player leaving.
   */
  private sightingsLostAt = Number.NEGATIVE_INFINITY;
  /** When each queue was last searched for tickets whose players left. */
  private readonly absentCheckedAt = new Map<string, number>();
  /** The release of abandoned claims in progress: rounds wait for it, so `requeued` comes before a new match's news. */
  private releasing: Promise<void> = Promise.resolve();

  constructor(private readonly options: MatchmakingServiceOptions) {
    for (const q of options.queues) {
      this.rules.set(q.name, q);
      // A queue whose fleet, name or mode cannot be a label (or whose room no List holds) fails here, not on every match.
      for (const how of [{ room: q.maxPlayers }, { backfillFor: 1 }]) {
        const { template, parts } = this.allocationRequest(q, randomUUID(), ['player'], how);
        parseAllocationRequest(mergeAllocation(template, parts));
      }
    }
    this.tokens = new ConnectTokenMinter(options.tokenKey);
    this.log = options.log.child({ [LogField.component]: 'matchmaking' });
    this.unsubscribe = options.events.subscribe((playerId, event) => this.remember(playerId, event));
    options.events.onResubscribed(() => (this.newsMissedUntil = this.options.clock.now()));
  }

  private get intervalMs(): number {
    return this.options.intervalMs ?? 250;
  }

  private get leaseMs(): number {
    return this.options.claimLeaseSeconds * 1000;
  }

  start(): void {
    this.stopTimer = this.options.clock.every(this.intervalMs, () => {
      for (const queue of this.rules.keys()) this.kick(queue);
    });
    this.stopLeases = this.options.clock.every(this.leaseMs / RENEWALS_PER_LEASE, () => {
      this.renewClaims();
      void this.releaseStaleClaims();
    });
  }

  /**
   * Stops matchmaking: no new tickets, no new rounds; matches being made finish. Tickets still
   * waiting in a queue only this process holds would vanish with it, so their players are told
   * (`failed`) while the lobby can still reach them; a shared queue keeps them for the others.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopTimer?.();
    this.unsubscribe();
    for (const p of this.accepts.values()) p.settle(false);
    await this.releasing;
    await this.idle();
    // Renewed until now: matches being made when the close began keep their tickets.
    this.stopLeases?.();
    if (!this.options.tickets.shared) await this.withdrawWaiting();
  }

  private async withdrawWaiting(): Promise<void> {
    for (const queue of this.rules.keys()) {
      const { expired: withdrawn } = await this.options.tickets.expire(queue, { createdBefore: Number.POSITIVE_INFINITY, seenBefore: Number.NEGATIVE_INFINITY });
      this.options.metrics.ticketsWaiting.set({ queue }, 0);
      if (withdrawn.length) this.log.warn({ queue, tickets: withdrawn.length }, 'the matchmaker stopped with tickets waiting; their players were told to submit again');
      for (const t of withdrawn) await this.tell(t, { type: 'failed', ticketId: t.id, reason: 'the matchmaker shut down before your match was made: submit again' });
    }
  }

  /** Resolves once no round runs and no claimed match is still being made. */
  async idle(): Promise<void> {
    while (this.running.size || this.inflight.size) await Promise.all([...this.running.values(), ...this.inflight]);
  }

  // ---- Matchmaking (the lobby's door) ----

  /** Each queue as ops watch it, by name: what waits in it now, across every process of a shared queue. */
  async queueStats(): Promise<QueueStats[]> {
    const now = this.options.clock.now();
    const names = [...this.rules.keys()].sort();
    return Promise.all(
      names.map(async (name) => {
        const rules = this.rules.get(name)!;
        const [waiting, [oldest]] = await Promise.all([this.options.tickets.count(name), this.options.tickets.waiting(name, 1)]);
        return {
          name,
          fleet: rules.fleet,
          minPlayers: rules.minPlayers,
          maxPlayers: rules.maxPlayers,
          waiting,
          oldestWaitSeconds: oldest ? Math.max(0, Math.floor((now - oldest.createdAt) / 1000)) : null,
          estimatedWaitSeconds: this.estimate(name),
        };
      }),
    );
  }

  async queues(): Promise<QueueInfo[]> {
    return [...this.rules.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => queueInfo(r, this.estimate(r.name)));
  }

  async submit(playerId: string, request: TicketRequest): Promise<SubmitResult> {
    if (this.closed) throw new MatchmakerDrainingError();
    const rules = this.rules.get(request.queue);
    if (!rules) throw new QueueNotFoundError(request.queue, this.rules.keys());
    const party = [playerId];
    for (const id of request.party ?? []) if (id !== playerId) party.push(id);
    if (party.length > rules.maxPartySize) throw new TicketRejectedError(`a party of ${party.length} is larger than queue ${rules.name} allows (${rules.maxPartySize})`);
    const maxLatency = widest(rules.latency);
    if (!reachesWithin(request.latencies, maxLatency)) {
      throw new TicketRejectedError(`no region is within ${maxLatency} ms, the most queue ${rules.name} ever allows`);
    }
    const skill = request.skill ?? this.options.defaultSkill ?? 1000;
    // Frozen whole (the request's latencies copied: they are the caller's), so the memory queue
    // can hold it as it is instead of copying it again.
    const ticket = freezeTicket({
      id: randomUUID(),
      queue: rules.name,
      ownerId: playerId,
      players: party.map((id) => ({ playerId: id, skill })),
      latencies: { ...request.latencies },
      createdAt: this.options.clock.now(),
    });
    await this.options.tickets.add(ticket);
    this.options.metrics.ticketsTotal.inc({ queue: rules.name });
    const estimatedWaitSeconds = this.estimate(rules.name);
    await this.tell(ticket, { type: 'queued', ticketId: ticket.id, queue: rules.name, estimatedWaitSeconds });
    this.arrived(rules, party.length);
    return { ticketId: ticket.id, estimatedWaitSeconds };
  }

  async cancel(playerId: string, ticketId: string): Promise<void> {
    const ticket = await this.options.tickets.get(ticketId);
    if (!ticket) {
      const outcome = this.outcomes.get(ticketId);
      if (!outcome) throw new TicketNotFoundError(ticketId);
      if (!outcome.players.includes(playerId)) throw new TicketNotOwnerError(ticketId);
      if (outcome.events.some((e) => e.type === 'matched')) throw new TicketAlreadyMatchedError(ticketId);
      return; // already gone (cancelled, expired, failed): nothing changes
    }
    if (!ticket.players.some((p) => p.playerId === playerId)) throw new TicketNotOwnerError(ticketId);
    if (ticket.state === 'claimed') {
      const pending = ticket.matchId ? this.accepts.get(ticket.matchId) : undefined;
      if (!pending) throw new TicketAlreadyMatchedError(ticketId);
      // Cancelling while asked to accept is declining.
      this.answer(ticket.matchId!, playerId, false);
      return;
    }
    if (!(await this.options.tickets.cancel(ticketId))) throw new TicketAlreadyMatchedError(ticketId);
    await this.tell(ticket, cancelledBy(ticketId, playerId, ticket.players.length));
  }

  async status(playerId: string, ticketId: string): Promise<TicketStatus> {
    const ticket = await this.options.tickets.get(ticketId);
    if (ticket) {
      if (!ticket.players.some((p) => p.playerId === playerId)) throw new TicketNotOwnerError(ticketId);
      const outcome = ticket.matchId ? this.outcomes.get(ticketId) : undefined;
      const accept = outcome?.events[outcome.players.indexOf(playerId)];
      if (ticket.state === 'claimed' && accept?.type === 'accept') return { state: 'accept-pending', ticketId, queue: ticket.queue, event: accept };
      return { state: 'waiting', ticketId, queue: ticket.queue, estimatedWaitSeconds: this.estimate(ticket.queue) };
    }
    const outcome = this.outcomes.get(ticketId);
    if (!outcome) throw new TicketNotFoundError(ticketId);
    if (!outcome.players.includes(playerId)) throw new TicketNotOwnerError(ticketId);
    const event = outcome.events[outcome.players.indexOf(playerId)];
    if (event?.type === 'matched') return { state: 'matched', ticketId, queue: outcome.queue, event };
    if (event?.type === 'cancelled' || event?.type === 'timed-out' || event?.type === 'failed') return { state: 'gone', ticketId, queue: outcome.queue, event };
    // Not in the queue, and its end may have been published while this process was not listening.
    if (outcome.at <= this.newsMissedUntil) return { state: 'gone', ticketId, queue: outcome.queue, event: { type: 'failed', ticketId, reason: NEWS_MISSED_REASON } };
    // Between a claim and its outcome, or an event this process has not heard yet.
    return { state: 'waiting', ticketId, queue: outcome.queue, estimatedWaitSeconds: this.estimate(outcome.queue) };
  }

  async accept(playerId: string, matchId: string, accept: boolean): Promise<void> {
    const pending = this.accepts.get(matchId);
    if (pending) {
      if (!pending.tickets.some((t) => t.players.some((p) => p.playerId === playerId))) throw new MatchNotFoundError(matchId);
      if (pending.answers.has(playerId) || this.options.clock.now() > pending.deadline) throw new MatchAcceptClosedError(matchId, 'the accept step is over for this player');
      this.answer(matchId, playerId, accept);
      return;
    }
    // The match may be another process's: the answer travels on the event bus to whoever holds it.
    const offer = this.offers.get(matchId);
    const ticketId = offer?.players.get(playerId);
    if (!offer || ticketId === undefined) throw new MatchNotFoundError(matchId);
    if (this.options.clock.now() > offer.deadline) throw new MatchAcceptClosedError(matchId, 'the accept step is over');
    // Nobody would hear the answer when the process making the match died and its claim was taken back.
    let ticket = await this.options.tickets.get(ticketId);
    if (ticket?.state === 'claimed' && ticket.matchId === matchId && ticket.leaseUntil !== undefined && ticket.leaseUntil < this.options.clock.now()) {
      // Its lease ran out (that process stopped renewing): any process may take the tickets back, and
      // this one does now rather than answer into the void until the next look for abandoned claims.
      await this.releaseStaleClaims();
      ticket = await this.options.tickets.get(ticketId);
    }
    if (ticket?.state !== 'claimed' || ticket.matchId !== matchId) throw new MatchAcceptClosedError(matchId, 'the matchmaker making it stopped, and the ticket was given back to the queue');
    await this.options.events.publish(ANSWERS_CHANNEL, { type: 'answer', matchId, playerId, accept });
  }

  async present(playerIds: readonly string[]): Promise<void> {
    if (!playerIds.length) return;
    await this.options.tickets.touch(playerIds).catch((err: unknown) => {
      this.sightingsLostAt = this.options.clock.now();
      throw err;
    });
  }

  events(listener: (playerId: string, event: PlayerEvent) => void): () => void {
    return this.options.events.subscribe((playerId, event) => {
      if (event.type !== 'answer') listener(playerId, event);
    });
  }

  // ---- the loop ----

  /** Runs a round of `queue` now, or once more after the round in progress. */
  kick(queue: string): void {
    if (this.closed) return;
    if (this.running.has(queue)) {
      this.again.add(queue);
      return;
    }
    const round = this.round(queue)
      .catch((err: unknown) => {
        this.sightingsLostAt = this.options.clock.now();
        this.log.error({ err, queue }, 'matchmaking round failed');
      })
      .finally(() => {
        this.running.delete(queue);
        if (this.again.delete(queue)) this.kick(queue);
      });
    this.running.set(queue, round);
  }

  private async round(queue: string): Promise<void> {
    this.arrivals.delete(queue);
    await this.releasing;
    const rules = this.rules.get(queue)!;
    const { tickets, clock, metrics } = this.options;
    const now = clock.now();
    const seenBefore = now - this.options.ticketGraceSeconds * 1000;
    const lookForAbsent = seenBefore > this.sightingsLostAt && now - (this.absentCheckedAt.get(queue) ?? Number.NEGATIVE_INFINITY) >= ABSENT_CHECK_MS;
    if (lookForAbsent) this.absentCheckedAt.set(queue, now);
    const { expired, absent } = await tickets.expire(queue, {
      createdBefore: now - rules.ticketTtlSeconds * 1000,
      seenBefore: lookForAbsent ? seenBefore : Number.NEGATIVE_INFINITY,
    });
    for (const t of expired) {
      metrics.ticketsExpired.inc({ queue, reason: 'ttl' });
      await this.tell(t, { type: 'timed-out', ticketId: t.id });
    }
    for (const t of absent) {
      metrics.ticketsExpired.inc({ queue, reason: 'absent' });
      await this.tell(t, { type: 'failed', ticketId: t.id, reason: `no player of this ticket was at the lobby for ${this.options.ticketGraceSeconds} s: submit again` });
    }
    if (now - this.lastPrune >= this.intervalMs) this.pruneKept(now);
    if ((this.backoffUntil.get(queue) ?? 0) > now) return;
    let waiting = await tickets.waiting(queue, WAITING_LIMIT);
    metrics.ticketsWaiting.set({ queue }, waiting.length);
    if (!waiting.length) return;
    if (rules.backfill && now - (this.backfillMissAt.get(queue) ?? Number.NEGATIVE_INFINITY) >= this.intervalMs) waiting = await this.backfill(rules, waiting);
    for (const proposal of makeMatches(rules, waiting, now)) {
      const matchId = randomUUID();
      const ids = proposal.tickets.map((t) => t.id);
      // Another process may have matched some of them since they were read.
      if (!(await tickets.claim(ids, matchId, this.leaseMs))) continue;
      const claim = this.hold(matchId, ids);
      // The accept step and the allocation run on: the next round need not wait for a slow player.
      const finishing = this.finishMatch(rules, matchId, proposal, claim)
        .catch(async (err: unknown) => {
          this.log.error({ err, queue, matchId }, 'making a match failed; its tickets go back to the queue');
          // Tickets already delivered were completed; requeue leaves them alone.
          await tickets.requeue(ids, matchId).catch(() => undefined);
        })
        .finally(() => {
          this.claims.delete(matchId);
          this.inflight.delete(finishing);
        });
      this.inflight.add(finishing);
    }
  }

  /** A claimed match: accepted (when the queue asks), allocated, delivered; or back in the queue. */
  private async finishMatch(rules: QueueRules, matchId: string, proposal: ProposedMatch, claim: HeldClaim): Promise<void> {
    const { tickets } = this.options;
    const ids = proposal.tickets.map((t) => t.id);
    if (rules.acceptTimeoutSeconds !== null && !(await this.askToAccept(rules, matchId, proposal.tickets, rules.acceptTimeoutSeconds * 1000, claim))) return;
    // Lost already (this process stalled past its lease): whoever took the tickets back told their players; no server is spent on them.
    if (claim.lost) return;

    const teamOf = new Map<string, number>();
    proposal.teams.forEach((team, i) => team.forEach((ticketId) => teamOf.set(ticketId, i)));
    const players = proposal.tickets.flatMap((t) => t.players.map((p) => p.playerId));
    const request = this.allocationRequest(rules, matchId, players, { room: rules.maxPlayers });
    const result = await this.options.allocator.allocate(request).catch((err: unknown) => {
      this.log.warn({ err, queue: rules.name }, 'allocation failed');
      return undefined;
    });
    if (result?.state !== 'Allocated') {
      this.options.metrics.allocationFailures.inc({ queue: rules.name, reason: result ? 'no-server' : 'allocator-error' });
      this.backOff(rules.name);
      if (!(await tickets.requeue(ids, matchId))) return; // the claim was lost: its players heard from whoever took it back
      for (const t of proposal.tickets) await this.tell(t, { type: 'requeued', ticketId: t.id, matchId, reason: result ? 'no game server is free yet' : 'the allocator could not be reached' });
      return;
    }
    this.noServerStreak.delete(rules.name);
    if (rules.backfill) this.keepRoster(matchId, proposal.teams.map((team) => team.reduce((n, ticketId) => n + (proposal.tickets.find((t) => t.id === ticketId)?.players.length ?? 0), 0)));
    await this.deliver(rules, matchId, matchId, proposal.tickets, (t) => teamOf.get(t.id) ?? 0, result);
  }

  /**
   * Tokens and `matched` for each player; the tickets (claimed under `claimId`: the match's own
   * id, or a backfill's) leave the queue; the match is recorded.
   */
  private async deliver(rules: QueueRules, matchId: string, claimId: string, matched: readonly Ticket[], teamOf: (t: Ticket) => number, server: Awaited<ReturnType<AllocatorClient['allocate']>>): Promise<void> {
    const { clock, metrics } = this.options;
    const now = clock.now();
    // Players get the game's ports only; the allocation result lists the server's metrics and admin ports too.
    const gamePorts = playerPorts(server.ports, server.metadata.labels).map(({ name, port }) => ({ name, port }));
    const addresses = gamePorts.map((p) => `${server.address}:${p.port}`);
    if (!server.address || !addresses.length) {
      throw new Error(`game server ${server.gameServerName} was allocated with no address or no port: its fleet must give it a port (named ${gamePortName(server.metadata.labels)}) before it is Ready`);
    }
    const userData = Buffer.from(matchId);
    const serverInfo = { name: server.gameServerName, address: server.address, port: gamePorts[0]!.port, ports: gamePorts };
    const tokenFor = this.tokens.forServer({ protocolId: HANGAR_PROTOCOL_ID, serverId: server.gameServerName, addresses, expiresInSeconds: TOKEN_EXPIRY_SECONDS, userData, now });
    // Every token first: a player no token can be minted for fails the match before anyone hears of it.
    const tokens = matched.map((t) => t.players.map((p) => tokenFor(p.playerId).toString('base64')));
    // The tickets leave the queue before anyone hears of the match, all or none: a claim whose lease
    // ran out (another process took the tickets back, and may have matched them since) is not delivered.
    if (!(await this.options.tickets.complete(matched.map((t) => t.id), claimId))) {
      this.log.warn({ queue: rules.name, matchId, [LogField.gameServer]: server.gameServerName }, 'the claim on this match lapsed before it was delivered (this process stalled past matchmaker.claim_lease_seconds): its players were given back to the queue, and the game server allocated for them will see nobody');
      return;
    }
    // Published together and awaited once: a wait per player was a suspension each here, and a
    // round trip each over Redis.
    const published: Promise<void>[] = [];
    matched.forEach((t, i) => {
      const team = teamOf(t);
      t.players.forEach((p, k) => published.push(this.options.events.publish(p.playerId, { type: 'matched', ticketId: t.id, matchId, team, server: serverInfo, connectToken: tokens[i]![k]! })));
      metrics.timeToMatch.observe({ queue: rules.name }, (now - t.createdAt) / 1000);
      this.learn(rules.name, (now - t.createdAt) / 1000);
    });
    await Promise.all(published);
    metrics.matchesTotal.inc({ queue: rules.name });
    this.options.records?.matchMade({
      id: matchId,
      queue: rules.name,
      mode: rules.mode,
      fleet: rules.fleet,
      gameServer: server.gameServerName,
      createdAt: new Date(now),
      players: matched.flatMap((t) => t.players.map((p) => ({ playerId: p.playerId, ticketId: t.id, team: teamOf(t), queuedAt: new Date(t.createdAt) }))),
    });
    // Debug, not info: at thousands of matches a second a line each was a tenth of the service's
    // allocations (BENCHMARKS.md, Matchmaking); hangar_matchmaker_matches_total and the records keep them.
    this.log.debug({ queue: rules.name, matchId, [LogField.gameServer]: server.gameServerName, players: matched.reduce((n, t) => n + t.players.length, 0) }, 'match made');
  }

  /**
   * Offers waiting tickets (oldest first) the free slots of this queue's running matches: a server
   * of the fleet, Allocated for this queue, whose `players` List has room. Returns the tickets
   * still waiting.
   */
  private async backfill(rules: QueueRules, waiting: Ticket[]): Promise<Ticket[]> {
    for (const [i, t] of waiting.entries()) {
      const matchId = randomUUID();
      if (!(await this.options.tickets.claim([t.id], matchId, this.leaseMs))) continue;
      this.hold(matchId, [t.id]);
      let placed: boolean;
      try {
        placed = await this.backfillOne(rules, t, matchId);
      } finally {
        this.claims.delete(matchId);
      }
      if (!placed) {
        // No match has room for this one; a smaller ticket behind it might, but matches wait.
        this.backfillMissAt.set(rules.name, this.options.clock.now());
        return waiting.slice(i);
      }
    }
    return [];
  }

  /** Puts ticket `t`, claimed under `claimId`, into a running match with room: false (and `t` back in the queue) when none has room. */
  private async backfillOne(rules: QueueRules, t: Ticket, claimId: string): Promise<boolean> {
    const ids = t.players.map((p) => p.playerId);
    const request = this.allocationRequest(rules, claimId, ids, { backfillFor: ids.length });
    const result = await this.options.allocator.allocate(request).catch(() => undefined);
    if (result?.state !== 'Allocated') {
      await this.options.tickets.requeue([t.id], claimId);
      return false;
    }
    const matchOf = result.metadata.annotations[MATCH_ID_ANNOTATION] ?? claimId;
    const roster = this.rosters.get(matchOf)?.teams ?? Array.from({ length: rules.teams.count }, () => 0);
    const team = roster.indexOf(Math.min(...roster));
    roster[team]! += t.players.length;
    this.keepRoster(matchOf, roster);
    await this.deliver(rules, matchOf, claimId, [t], () => team, result);
    return true;
  }

  /**
   * The allocation for a match: a Ready server of the queue's fleet (or, for backfill, an
   * Allocated one of this queue with room), labelled with the queue and mode, annotated with the
   * match id and its players, who are also put in the server's `players` List so that its room is
   * right before they connect. Built as the parsed spec it is (Agones' defaults written out): what
   * could be invalid in it comes from the queue's rules, checked once when the service starts. The
   * queue's part is a template kept for each kind of allocation (a stream client sends it once a
   * connection); the match's part is its annotations and its `players` List action.
   */
  private allocationRequest(rules: QueueRules, matchId: string, players: readonly string[], how: { room: number } | { backfillFor: number }): PreparedAllocation {
    const backfill = 'backfillFor' in how;
    return {
      template: this.template(rules, how),
      parts: {
        // A backfill keeps the match's id; its newcomers are the players it expects now.
        metadata: { annotations: { ...(backfill ? {} : { [MATCH_ID_ANNOTATION]: matchId }), [EXPECTED_PLAYERS_ANNOTATION]: players.join(',') } },
        lists: { [PLAYERS_LIST]: { addValues: [...players], deleteValues: [], ...(backfill ? {} : { capacity: how.room }) } },
      },
    };
  }

  /** The queue's part of its allocations; a backfill's selector asks for room for its ticket's players. */
  private template(rules: QueueRules, how: { room: number } | { backfillFor: number }): GameServerAllocationSpec {
    const backfill = 'backfillFor' in how;
    const key = `${rules.name}\n${backfill ? how.backfillFor : 'match'}`;
    let template = this.templates.get(key);
    if (template) return template;
    const selector: GameServerSelector = backfill
      ? { matchLabels: { [FLEET_LABEL]: rules.fleet, [QUEUE_LABEL]: rules.name }, matchExpressions: [], gameServerState: 'Allocated', counters: {}, lists: { [PLAYERS_LIST]: { containsValue: '', minAvailable: how.backfillFor, maxAvailable: 0 } } }
      : { matchLabels: { [FLEET_LABEL]: rules.fleet }, matchExpressions: [], gameServerState: 'Ready', counters: {}, lists: {} };
    template = { selectors: [selector], scheduling: 'Packed', priorities: [], metadata: { labels: { [QUEUE_LABEL]: rules.name, [MODE_LABEL]: rules.mode }, annotations: {} }, counters: {}, lists: {} };
    this.templates.set(key, template);
    return template;
  }

  /**
   * Asks every player of a claimed match to accept: true when all did. Otherwise the tickets of
   * those who declined (or, at the deadline, of those who had not accepted) are out and the others
   * go back to their place; when the claim is lost meanwhile, the step ends there and whoever took
   * the tickets back has told their players.
   */
  private async askToAccept(rules: QueueRules, matchId: string, matched: Ticket[], timeoutMs: number, claim: HeldClaim): Promise<boolean> {
    const { clock, tickets } = this.options;
    const deadline = clock.now() + timeoutMs;
    const accepted = await new Promise<boolean>((settle) => {
      const cancel = clock.setTimeout(() => settle(false), timeoutMs);
      const pending: PendingAccept = {
        tickets: matched,
        answers: new Map(),
        deadline,
        settle: (ok) => {
          cancel();
          settle(ok);
        },
      };
      this.accepts.set(matchId, pending);
      claim.onLost = () => pending.settle(false);
      for (const t of matched) void this.tell(t, { type: 'accept', ticketId: t.id, matchId, deadline });
    });
    delete claim.onLost;
    const pending = this.accepts.get(matchId)!;
    this.accepts.delete(matchId);
    if (claim.lost) return false;
    if (accepted) return true;
    // A decline ends the step at once: then only the tickets of those who declined are out (the
    // others may not have had time to answer); at the deadline, so is every ticket not accepted.
    const declined = [...pending.answers.values()].includes(false);
    const refused = matched.filter((t) => t.players.some((p) => (declined ? pending.answers.get(p.playerId) === false : pending.answers.get(p.playerId) !== true)));
    const kept = matched.filter((t) => !refused.includes(t));
    if (await tickets.complete(refused.map((t) => t.id), matchId)) {
      for (const t of refused) await this.tell(t, { type: 'failed', ticketId: t.id, reason: refusal(t, pending.answers) });
    }
    if (!kept.length || !(await tickets.requeue(kept.map((t) => t.id), matchId))) return false;
    // Who declined is for their own party to hear (failed), not for strangers.
    const reason = declined ? 'another player declined the match; you keep your place' : 'another player did not accept in time; you keep your place';
    for (const t of kept) await this.tell(t, { type: 'requeued', ticketId: t.id, matchId, reason });
    this.arrived(rules, kept.reduce((n, t) => n + t.players.length, 0));
    return false;
  }

  /** Players newly waiting (submitted, or back after a declined match): a full match's worth is worth a round now, not at the next interval. */
  private arrived(rules: QueueRules, players: number): void {
    const arrived = (this.arrivals.get(rules.name) ?? 0) + players;
    this.arrivals.set(rules.name, arrived);
    if (arrived >= rules.teams.count * rules.teams.size) this.kick(rules.name);
  }

  private answer(matchId: string, playerId: string, accept: boolean): void {
    const pending = this.accepts.get(matchId);
    if (!pending) return;
    pending.answers.set(playerId, accept);
    if (!accept) pending.settle(false);
    else if (pending.tickets.every((t) => t.players.every((p) => pending.answers.get(p.playerId) === true))) pending.settle(true);
  }

  /** Holds the claim just made on a match's tickets: renewed with the others until the match is settled (then dropped from `claims`). */
  private hold(matchId: string, ticketIds: string[]): HeldClaim {
    const claim: HeldClaim = { ticketIds, lost: false };
    this.claims.set(matchId, claim);
    return claim;
  }

  /**
   * Extends the lease of every claim this process holds. A renewal that finds its tickets gone
   * (this process stalled past the lease, and another took them back) ends that match here.
   * One that fails (the queue unreachable) is tried again at the next renewal.
   */
  private renewClaims(): void {
    for (const [matchId, claim] of this.claims) {
      this.options.tickets.renew(claim.ticketIds, matchId, this.leaseMs).then(
        (held) => {
          if (held || claim.lost) return;
          claim.lost = true;
          this.log.warn({ matchId }, 'this process lost its claim on a match (it stalled past matchmaker.claim_lease_seconds); another process gave the tickets back to the queue');
          claim.onLost?.();
        },
        (err: unknown) => this.log.warn({ err, matchId }, 'renewing the claim on a match failed; trying again at the next renewal'),
      );
    }
  }

  /**
   * Tickets claimed by a matchmaker that stopped (or stalled past its lease) before their match was
   * made would hold their players forever (a player has one ticket at a time): they go back to the
   * queue at their old place, and their players hear that the match is off.
   */
  private releaseStaleClaims(): Promise<void> {
    this.releasing = (async () => {
      for (const { ticket, matchId } of await this.options.tickets.releaseStale(this.options.clock.now())) {
        this.log.warn({ ticketId: ticket.id, queue: ticket.queue, matchId }, 'a claim was abandoned (its matchmaker stopped renewing it): the ticket waits again');
        await this.tell(ticket, { type: 'requeued', ticketId: ticket.id, matchId, reason: 'the matchmaker making your match stopped before it was made: that match is off, and you keep your place in the queue' });
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'looking for abandoned claims failed'));
    return this.releasing;
  }

  private backOff(queue: string): void {
    const streak = (this.noServerStreak.get(queue) ?? 0) + 1;
    this.noServerStreak.set(queue, streak);
    this.backoffUntil.set(queue, this.options.clock.now() + backoffDelay(NO_SERVER_BACKOFF.initialMs, NO_SERVER_BACKOFF.maxMs, streak));
  }

  // ---- what players were told, for status polls ----

  private async tell(ticket: Ticket, event: PlayerEvent): Promise<void> {
    const { players } = ticket;
    // Most tickets are one player's: no array of one promise to wait on.
    if (players.length === 1) await this.options.events.publish(players[0]!.playerId, event);
    else await Promise.all(players.map((p) => this.options.events.publish(p.playerId, event)));
  }

  /** Every process hears every event: it keeps the latest per ticket and player for `status`. */
  private remember(playerId: string, event: MatchmakerMessage): void {
    if (event.type === 'answer') {
      this.answer(event.matchId, event.playerId, event.accept);
      return;
    }
    if (!('ticketId' in event)) return;
    if (event.type === 'accept') {
      const offer = this.offers.get(event.matchId) ?? { players: new Map<string, string>(), deadline: event.deadline };
      offer.players.set(playerId, event.ticketId);
      this.offers.set(event.matchId, offer);
    }
    // The match is off for them: an answer now hears that the accept step is over.
    if (event.type === 'requeued') {
      const offer = this.offers.get(event.matchId);
      if (offer) offer.deadline = Math.min(offer.deadline, this.options.clock.now() - 1);
    }
    // Re-inserted on every event, so the map runs from the stalest outcome to the freshest and pruning stops early.
    let outcome = this.outcomes.get(event.ticketId);
    if (outcome) this.outcomes.delete(event.ticketId);
    else outcome = { queue: 'queue' in event ? event.queue : '', players: [], events: [], at: 0, settled: false };
    const i = outcome.players.indexOf(playerId);
    if (i < 0) {
      outcome.players.push(playerId);
      outcome.events.push(event);
    } else outcome.events[i] = event;
    outcome.settled = outcome.events.every((e) => SETTLED.has(e.type));
    outcome.at = this.options.clock.now();
    this.outcomes.set(event.ticketId, outcome);
  }

  private pruneKept(now: number): void {
    this.lastPrune = now;
    for (const [id, o] of this.outcomes) {
      const age = now - o.at;
      if (age <= SETTLED_OUTCOME_TTL_MS) break; // the rest heard news more recently
      if (o.settled || age > OUTCOME_TTL_MS) this.outcomes.delete(id);
    }
    for (const [matchId, roster] of this.rosters) {
      if (now - roster.at <= ROSTER_TTL_MS) break; // the rest changed more recently
      this.rosters.delete(matchId);
    }
    // Kept a while past the deadline, so a late answer hears that the step is over rather than of no match.
    for (const [matchId, offer] of this.offers) if (now - offer.deadline > SETTLED_OUTCOME_TTL_MS) this.offers.delete(matchId);
  }

  /** Re-inserted, so the map stays in order of last change and the prune stops at the first fresh one. */
  private keepRoster(matchId: string, teams: number[]): void {
    this.rosters.delete(matchId);
    this.rosters.set(matchId, { teams, at: this.options.clock.now() });
  }

  private estimate(queue: string): number | null {
    const s = this.matchSeconds.get(queue);
    return s === undefined ? null : Math.round(s);
  }

  private learn(queue: string, seconds: number): void {
    const prior = this.matchSeconds.get(queue);
    this.matchSeconds.set(queue, prior === undefined ? seconds : prior * 0.9 + seconds * 0.1);
  }
}

/** Why a ticket left the accept step for good: who of it declined, or that someone never answered. */
function refusal(ticket: Ticket, answers: ReadonlyMap<string, boolean>): string {
  const declined = ticket.players.filter((p) => answers.get(p.playerId) === false).map((p) => p.playerId);
  if (declined.length) return `${declined.join(', ')} declined the match`;
  return 'the match was not accepted in time';
}

/** Whether some region is within `ms` (a loop, not Object.values: submit runs thousands of times a second). */
function reachesWithin(latencies: Readonly<Record<string, number>>, ms: number): boolean {
  for (const region in latencies) if (latencies[region]! <= ms) return true;
  return false;
}
