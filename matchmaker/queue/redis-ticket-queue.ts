import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../../core/clock.js';
import { PlayerAlreadyQueuedError, TicketExistsError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { closeRedis, isRedisUp, openRedis, type RedisConnection } from '../../core/redis-connection.js';
import { defineScripts, type RunScript } from '../../core/redis-scripts.js';
import type { Ticket } from '../ticket.js';
import type { ExpiryBounds, QueuedTicket, ReleasedClaim, TicketQueue } from './ticket-queue.js';
import { TICKET_QUEUE_LUA } from './ticket-queue-lua.js';

export interface RedisTicketQueueOptions {
  /** A redis:// URL, or ioredis options (host, port, password...). */
  connection: RedisConnection;
  /** Starts every key, so several stacks (or tests) can share one Redis. */
  prefix?: string;
  /** Stamps requeuedAt, claims and sightings. */
  clock?: Pick<Clock, 'now'>;
  /** Where an outage of Redis is reported. */
  log?: Logger;
  /** A command with no reply after this long fails, and the connection is remade (matchmaker.redis_command_timeout_seconds); unset, it waits. */
  commandTimeoutMs?: number;
}

/**
 * TicketQueue shared by matchmaker processes through Redis. Every change is one Lua script
 * (ticket-queue-lua.ts), so adding (with its one-ticket-per-player check), claiming (all or none),
 * requeueing and expiring are atomic across processes: however many matchmakers race for the same
 * tickets, each ticket is claimed by one match. Each call is one round trip; concurrent calls are
 * auto-pipelined.
 */
export class RedisTicketQueue implements TicketQueue {
  readonly shared = true;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly run: RunScript<keyof typeof TICKET_QUEUE_LUA>;
  private readonly clock: Pick<Clock, 'now'>;

  constructor(options: RedisTicketQueueOptions) {
    this.prefix = options.prefix ?? 'hangar:';
    this.clock = options.clock ?? systemClock;
    this.redis = openRedis(options.connection, { settings: { enableAutoPipelining: true }, role: 'ticket queue', log: options.log, commandTimeoutMs: options.commandTimeoutMs });
    this.run = defineScripts(this.redis, this.prefix, TICKET_QUEUE_LUA);
  }

  /** Whether Redis is reachable: a readiness check. */
  isUp(): boolean {
    return isRedisUp(this.redis);
  }

  async add(ticket: Ticket): Promise<void> {
    const playerIds = ticket.players.map((p) => p.playerId);
    const result = (await this.run('add', [ticket.id, ticket.queue, String(ticket.createdAt), JSON.stringify(ticket), JSON.stringify(playerIds), String(this.clock.now()), ...playerIds])) as string[];
    if (result[0] === 'exists') throw new TicketExistsError(ticket.id);
    if (result[0] === 'player') throw new PlayerAlreadyQueuedError(result[1]!, result[2]!);
  }

  async get(ticketId: string): Promise<QueuedTicket | undefined> {
    // Sent together (auto-pipelined): one round trip.
    const [[json, state, matchId, requeued], lease] = await Promise.all([
      this.redis.hmget(`${this.prefix}ticket:${ticketId}`, 'json', 'state', 'match', 'requeued'),
      this.redis.zscore(`${this.prefix}claims`, ticketId),
    ]);
    if (json === null || json === undefined) return undefined;
    return {
      ...(JSON.parse(json) as Ticket),
      ...(requeued && { requeuedAt: Number(requeued) }),
      state: state as QueuedTicket['state'],
      ...(matchId && { matchId }),
      // Read beside the hash, not with it: a claim released in between reads as claimed with no lease.
      ...(state === 'claimed' && lease !== null && { leaseUntil: Number(lease) }),
    };
  }

  async cancel(ticketId: string): Promise<boolean> {
    return (await this.run('cancel', [ticketId])) === 1;
  }

  async waiting(queue: string, limit: number): Promise<Ticket[]> {
    if (limit <= 0) return [];
    return listed((await this.run('waiting', [queue, String(Math.floor(limit))])) as [string, string]);
  }

  async claim(ticketIds: readonly string[], matchId: string, leaseMs: number): Promise<boolean> {
    return (await this.run('claim', [matchId, String(this.clock.now() + leaseMs), ...ticketIds])) === 1;
  }

  async renew(ticketIds: readonly string[], matchId: string, leaseMs: number): Promise<boolean> {
    return (await this.run('renew', [matchId, String(this.clock.now() + leaseMs), ...ticketIds])) === 1;
  }

  async requeue(ticketIds: readonly string[], matchId: string): Promise<boolean> {
    if (ticketIds.length === 0) return true;
    return (await this.run('requeue', [String(this.clock.now()), matchId, ...ticketIds])) === 1;
  }

  async complete(ticketIds: readonly string[], matchId: string): Promise<boolean> {
    if (ticketIds.length === 0) return true;
    return (await this.run('complete', [matchId, ...ticketIds])) === 1;
  }

  async releaseStale(now: number): Promise<ReleasedClaim[]> {
    const [json, requeued, matches] = (await this.run('releaseStale', [String(now)])) as [string, string, string];
    const matchIds = JSON.parse(matches) as string[];
    return listed([json, requeued]).map((ticket, i) => ({ ticket, matchId: matchIds[i]! }));
  }

  async touch(playerIds: readonly string[]): Promise<void> {
    const now = String(this.clock.now());
    // In slices, so a lobby touching all its players at once does not hold Redis for long.
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < playerIds.length; i += TOUCH_SLICE) calls.push(this.run('touch', [now, ...playerIds.slice(i, i + TOUCH_SLICE)]));
    await Promise.all(calls);
  }

  async expire(queue: string, bounds: ExpiryBounds): Promise<{ expired: Ticket[]; absent: Ticket[] }> {
    const [expired, expiredAt, absent, absentAt] = (await this.run('expire', [queue, String(bounds.createdBefore), String(bounds.seenBefore)])) as string[];
    return { expired: listed([expired!, expiredAt!]), absent: listed([absent!, absentAt!]) };
  }

  async count(queue: string): Promise<number> {
    return this.redis.zcard(`${this.prefix}queue:${queue}`);
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}

/** Players a touch script takes at once. */
const TOUCH_SLICE = 500;

/** The scripts' [tickets JSON, requeuedAt JSON] (listOf in ticket-queue-lua.ts) as tickets. */
function listed([json, requeued]: [string, string]): Ticket[] {
  const tickets = JSON.parse(json) as Ticket[];
  const times = JSON.parse(requeued) as Array<number | null>;
  return tickets.map((t, i) => (times[i] === null ? t : { ...t, requeuedAt: times[i]! }));
}
