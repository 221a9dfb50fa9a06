import { systemClock, type Clock } from '../../core/clock.js';
import { PlayerAlreadyQueuedError, TicketExistsError } from '../../core/errors.js';
import { freezeTicket, isFrozenTicket, type Ticket } from '../ticket.js';
import { compareTicketAge, type ExpiryBounds, type QueuedTicket, type ReleasedClaim, type TicketQueue } from './ticket-queue.js';

export interface MemoryTicketQueueOptions {
  /** Stamps requeuedAt, claims and sightings. */
  clock?: Pick<Clock, 'now'>;
}

/** One stay of a ticket in its queue's line; a requeue starts a new one. */
interface Slot {
  ticket: Ticket;
  alive: boolean;
  held: Held;
}

interface Held {
  ticket: Ticket;
  state: 'waiting' | 'claimed';
  matchId?: string;
  /** While claimed: when the claim's lease runs out. */
  leaseUntil?: number;
  slot?: Slot;
  /** When one of its players was last seen (added, touched). */
  seenAt: number;
}

/** A queue's waiting line in queue order. Leaving only marks a slot dead; dead slots are swept out in bulk. */
class Line {
  slots: Slot[] = [];
  live = 0;

  insert(slot: Slot): void {
    const { slots } = this;
    // Arrivals are nearly always the newest: append. A requeue (or a late createdAt) goes in by binary search.
    if (slots.length === 0 || compareTicketAge(slots[slots.length - 1]!.ticket, slot.ticket) <= 0) {
      slots.push(slot);
    } else {
      let lo = 0;
      let hi = slots.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareTicketAge(slots[mid]!.ticket, slot.ticket) <= 0) lo = mid + 1;
        else hi = mid;
      }
      slots.splice(lo, 0, slot);
    }
    this.live++;
  }

  leave(slot: Slot): void {
    slot.alive = false;
    this.live--;
    const dead = this.slots.length - this.live;
    if (dead > 64 && dead > this.live) this.slots = this.slots.filter((s) => s.alive);
  }
}

/**
 * TicketQueue for one process. Every operation is synchronous under the hood, so a claim is
 * atomic by construction. Tickets are copied and frozen on the way in (unless frozen already):
 * nobody changes them behind the queue's back.
 */
export class MemoryTicketQueue implements TicketQueue {
  readonly shared = false;
  private readonly tickets = new Map<string, Held>();
  /** playerId → the ticket they wait (or are being matched) on. */
  private readonly players = new Map<string, string>();
  private readonly lines = new Map<string, Line>();
  private readonly clock: Pick<Clock, 'now'>;

  constructor(options: MemoryTicketQueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  async add(ticket: Ticket): Promise<void> {
    if (this.tickets.has(ticket.id)) throw new TicketExistsError(ticket.id);
    for (const p of ticket.players) {
      const holder = this.players.get(p.playerId);
      if (holder !== undefined) throw new PlayerAlreadyQueuedError(p.playerId, holder);
    }
    const held: Held = { ticket: kept(ticket), state: 'waiting', seenAt: this.clock.now() };
    this.tickets.set(ticket.id, held);
    for (const p of ticket.players) this.players.set(p.playerId, ticket.id);
    this.enter(held);
  }

  async get(ticketId: string): Promise<QueuedTicket | undefined> {
    const held = this.tickets.get(ticketId);
    if (!held) return undefined;
    return { ...held.ticket, state: held.state, ...(held.matchId !== undefined && { matchId: held.matchId }), ...(held.leaseUntil !== undefined && { leaseUntil: held.leaseUntil }) };
  }

  async cancel(ticketId: string): Promise<boolean> {
    const held = this.tickets.get(ticketId);
    if (held?.state !== 'waiting') return false;
    this.leave(held);
    this.forget(held);
    return true;
  }

  async waiting(queue: string, limit: number): Promise<Ticket[]> {
    const out: Ticket[] = [];
    for (const slot of this.lines.get(queue)?.slots ?? []) {
      if (out.length >= limit) break;
      if (slot.alive) out.push(slot.ticket);
    }
    return out;
  }

  async claim(ticketIds: readonly string[], matchId: string, leaseMs: number): Promise<boolean> {
    const held = ticketIds.map((id) => this.tickets.get(id));
    if (held.some((h) => h?.state !== 'waiting')) return false;
    const leaseUntil = this.clock.now() + leaseMs;
    for (const h of held as Held[]) {
      if (h.state !== 'waiting') continue; // the same id twice in the list
      this.leave(h);
      h.state = 'claimed';
      h.matchId = matchId;
      h.leaseUntil = leaseUntil;
    }
    return true;
  }

  async renew(ticketIds: readonly string[], matchId: string, leaseMs: number): Promise<boolean> {
    const held = this.claimedFor(ticketIds, matchId);
    const leaseUntil = this.clock.now() + leaseMs;
    for (const h of held ?? []) h.leaseUntil = leaseUntil;
    return held !== undefined;
  }

  async requeue(ticketIds: readonly string[], matchId: string): Promise<boolean> {
    const held = this.claimedFor(ticketIds, matchId);
    for (const h of held ?? []) if (h.state === 'claimed') this.wait(h);
    return held !== undefined;
  }

  async complete(ticketIds: readonly string[], matchId: string): Promise<boolean> {
    const held = this.claimedFor(ticketIds, matchId);
    for (const h of held ?? []) this.forget(h);
    return held !== undefined;
  }

  async releaseStale(now: number): Promise<ReleasedClaim[]> {
    const stale = [...this.tickets.values()].filter((h) => h.state === 'claimed' && h.leaseUntil! < now);
    const released = stale.map((h) => ({ matchId: h.matchId!, held: h }));
    for (const held of stale) this.wait(held);
    return released.map(({ matchId, held }) => ({ ticket: held.ticket, matchId }));
  }

  async touch(playerIds: readonly string[]): Promise<void> {
    const now = this.clock.now();
    for (const playerId of playerIds) {
      const ticketId = this.players.get(playerId);
      if (ticketId === undefined) continue;
      this.tickets.get(ticketId)!.seenAt = now;
    }
  }

  async expire(queue: string, bounds: ExpiryBounds): Promise<{ expired: Ticket[]; absent: Ticket[] }> {
    const line = this.lines.get(queue);
    if (!line) return { expired: [], absent: [] };
    const expired: Ticket[] = [];
    // In queue order, so the expired ones are a prefix of the line.
    for (const slot of line.slots) {
      if (slot.ticket.createdAt >= bounds.createdBefore) break;
      if (slot.alive) expired.push(slot.ticket);
    }
    this.drop(expired);
    const absent: Ticket[] = [];
    // The whole line (no index kept in sighting order: one cost a fifth of an add, and the service
    // looks for absent tickets once a second). Claimed tickets are not in it: their accept step settles them.
    if (bounds.seenBefore > Number.NEGATIVE_INFINITY) for (const slot of line.slots) if (slot.alive && slot.held.seenAt < bounds.seenBefore) absent.push(slot.ticket);
    this.drop(absent);
    return { expired, absent };
  }

  async count(queue: string): Promise<number> {
    return this.lines.get(queue)?.live ?? 0;
  }

  async close(): Promise<void> {}

  /** The tickets, when every one is claimed for `matchId`; else undefined. */
  private claimedFor(ticketIds: readonly string[], matchId: string): Held[] | undefined {
    const held: Held[] = [];
    for (const id of ticketIds) {
      const h = this.tickets.get(id);
      if (h?.state !== 'claimed' || h.matchId !== matchId) return undefined;
      held.push(h);
    }
    return held;
  }

  /** A claimed ticket waits again at its old place, stamped. */
  private wait(held: Held): void {
    held.state = 'waiting';
    delete held.matchId;
    delete held.leaseUntil;
    held.ticket = freezeTicket({ ...held.ticket, requeuedAt: this.clock.now() });
    this.enter(held);
  }

  private enter(held: Held): void {
    let line = this.lines.get(held.ticket.queue);
    if (!line) this.lines.set(held.ticket.queue, (line = new Line()));
    held.slot = { ticket: held.ticket, alive: true, held };
    line.insert(held.slot);
  }

  /** Waiting tickets out of their line and forgotten. */
  private drop(tickets: readonly Ticket[]): void {
    for (const ticket of tickets) {
      const held = this.tickets.get(ticket.id)!;
      this.leave(held);
      this.forget(held);
    }
  }

  private leave(held: Held): void {
    this.lines.get(held.ticket.queue)!.leave(held.slot!);
    delete held.slot;
  }

  private forget(held: Held): void {
    this.tickets.delete(held.ticket.id);
    for (const p of held.ticket.players) if (this.players.get(p.playerId) === held.ticket.id) this.players.delete(p.playerId);
  }
}

/**
 * `ticket` itself when frozen already (the matchmaking service's are), else a frozen copy: the
 * caller keeps its objects (structuredClone cost a fifth of a submit).
 */
function kept(ticket: Ticket): Ticket {
  return isFrozenTicket(ticket) ? ticket : freezeTicket({ ...ticket, players: ticket.players.map((p) => ({ ...p })), latencies: { ...ticket.latencies } });
}
