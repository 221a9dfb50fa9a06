import type { Ticket } from '../ticket.js';

// Where tickets wait between the lobby and the match function, shared by every matchmaker process
// (MemoryTicketQueue for one process, RedisTicketQueue for several). A ticket is `waiting` in its
// queue until a match claims it, then `claimed` until the match is made (complete: it is gone) or
// falls through (requeue: waiting again, at its old place). A player has at most one ticket waiting
// or claimed, across all queues.
//
// Leases: a claim holds only until its lease runs out, and the matchmaker that made it renews the
// lease while it works on the match (the accept step, the allocation). A claim whose lease ran out
// (its matchmaker stopped, or stalled for longer than the lease) is taken back by `releaseStale`,
// which any process may call; from then on the old claimer's renew, requeue and complete find
// nothing to act on and say so, so a ticket is never matched twice. Leases are judged by the
// callers' clocks: the processes sharing a queue must agree on the time to well within a lease.
//
// Order: oldest createdAt first, ties by ticket id (compared as strings). A requeued ticket keeps
// its createdAt, so it goes back to where it was; `requeuedAt` records when it came back.
//
// Liveness: each ticket remembers when one of its players was last seen at the lobby (added, then
// `touch`ed while a player keeps a lobby socket open or makes requests), so `expire` can drop a
// waiting ticket whose players all went away: a ghost would otherwise be matched until its
// time-to-live and hold up real players.

/** A ticket as a queue holds it. */
/** `leaseUntil`: while claimed, when the claim's lease runs out unless renewed. */
export type QueuedTicket = Ticket & { state: 'waiting' | 'claimed'; matchId?: string; leaseUntil?: number };

/** A ticket `releaseStale` took back from the match it had been claimed for. */
export interface ReleasedClaim {
  ticket: Ticket;
  matchId: string;
}

/** What `expire` drops: tickets created before `createdBefore`, or last seen before `seenBefore`. */
export interface ExpiryBounds {
  createdBefore: number;
  seenBefore: number;
}

export interface TicketQueue {
  /** Other processes hold this queue too, so its tickets outlive this process (Redis: yes; memory: no). */
  readonly shared: boolean;
  /**
   * Adds a ticket; refuses a player who already has a waiting or claimed ticket in any queue
   * (PlayerAlreadyQueuedError) and an id already held (TicketExistsError). All or nothing.
   */
  add(ticket: Ticket): Promise<void>;
  get(ticketId: string): Promise<QueuedTicket | undefined>;
  /** Cancels a waiting ticket; false if it is not waiting (claimed tickets cannot be cancelled). */
  cancel(ticketId: string): Promise<boolean>;
  /** Waiting tickets of a queue, oldest first (requeued ones keep their original place), up to `limit`. */
  waiting(queue: string, limit: number): Promise<Ticket[]>;
  /**
   * Atomically claims all of `ticketIds` for `matchId`, or none (false) if any is no longer
   * waiting: a ticket is matched exactly once, across processes. The claim's lease runs `leaseMs` from now.
   */
  claim(ticketIds: readonly string[], matchId: string, leaseMs: number): Promise<boolean>;
  /**
   * Extends the lease of the claim on `ticketIds` for `matchId` to `leaseMs` from now. False, and
   * nothing changed, when any of them is no longer claimed for `matchId` (the lease ran out and
   * another process took them back): the match must not be made.
   */
  renew(ticketIds: readonly string[], matchId: string, leaseMs: number): Promise<boolean>;
  /**
   * Puts tickets claimed for `matchId` back at their old place (allocation failed, someone
   * declined). All or none: false, and nothing changed, when any is no longer claimed for `matchId`.
   */
  requeue(ticketIds: readonly string[], matchId: string): Promise<boolean>;
  /**
   * Removes tickets claimed for `matchId` once the match is made, freeing their players. All or
   * none: false, and nothing changed, when any is no longer claimed for `matchId` (then the match
   * must not be delivered: its tickets are someone else's now).
   */
  complete(ticketIds: readonly string[], matchId: string): Promise<boolean>;
  /**
   * Claims whose lease ran out before `now` go back to waiting at their old place, and are
   * returned with the match they were claimed for: the matchmaker that made them stopped (or
   * stalled past its lease) before their match was made or given up.
   */
  releaseStale(now: number): Promise<ReleasedClaim[]>;
  /**
   * Marks the tickets these players wait (or are being matched) on as seen now; players with none
   * are passed over. A ticket counts as seen when it is added.
   */
  touch(playerIds: readonly string[]): Promise<void>;
  /**
   * Removes and returns the queue's waiting tickets that are done waiting, freeing their players:
   * `expired`, created before `createdBefore` (time-to-live), oldest first; `absent`, the others
   * last seen before `seenBefore` (every player went away), in no set order. Looking for absent
   * tickets may cost a pass over the queue: a `seenBefore` of -Infinity skips it.
   */
  expire(queue: string, bounds: ExpiryBounds): Promise<{ expired: Ticket[]; absent: Ticket[] }>;
  /** How many tickets of the queue are waiting. */
  count(queue: string): Promise<number>;
  close(): Promise<void>;
}

/** The queue order: createdAt, then id. */
export function compareTicketAge(a: Pick<Ticket, 'createdAt' | 'id'>, b: Pick<Ticket, 'createdAt' | 'id'>): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
