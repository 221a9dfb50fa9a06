import { AppError, ErrorCode } from '../../core/errors.js';
import { widest, type PlayerEvent, type QueueRules } from '../ticket.js';

// The one door between the lobby and the matchmaking loop. The lobby authenticates players,
// validates every request's shape and size (matchmaker/lobby/lobby-schema.ts), rate-limits, and
// only then calls in here with the authenticated player id; the implementation applies the queue's
// rules and owns every ticket's state. It may live in this process or front a shared Redis queue:
// `events` must then deliver the pushes made by any matchmaker process, because a player's socket
// sits on whichever lobby process the load balancer picked.
//
// Methods reject with the coded errors below (each maps to one HTTP status in core/http-errors.ts
// and reaches the player as `{ error: { code, message } }`); anything else is reported to the
// player as INTERNAL and logged. A rejected call must have changed nothing.

/** What a player asks for: the lobby has checked the shape (see LOBBY.md); the queue's rules are the implementation's. */
export interface TicketRequest {
  queue: string;
  /** Round-trip time to each region, ms: 1 to 32 regions, each 0..10000. */
  latencies: Record<string, number>;
  /** Self-reported rating 0..5000; an implementation with ratings of its own should prefer those. */
  skill?: number;
  /**
   * The other members of the submitter's party (not the submitter), at most 16 distinct ids. Each
   * must have consented: the lobby puts here only the members of verified party passes naming the
   * submitter as leader (PlayerAuth.partyOf), never ids a player typed.
   */
  party?: string[];
}

export interface SubmitResult {
  ticketId: string;
  estimatedWaitSeconds: number | null;
}

/**
 * What a player may know of a queue before joining it: its shape, not its tuning (the fleet and the
 * skill windows stay the matchmaker's). A client lists these to offer its playlists.
 */
export interface QueueInfo {
  name: string;
  mode: string;
  teams: { count: number; size: number };
  /** A match starts with between these many players (fewer than maxPlayers only after fillWaitSeconds). */
  minPlayers: number;
  maxPlayers: number;
  fillWaitSeconds: number;
  /** The largest party, the submitter included. */
  maxPartySize: number;
  /** A ticket with no region within this many ms is refused. */
  maxLatencyMs: number;
  ticketTtlSeconds: number;
  /** Null when matched players need not accept. */
  acceptTimeoutSeconds: number | null;
  backfill: boolean;
  /** This process's recent average time to a match; null before its first match. */
  estimatedWaitSeconds: number | null;
}

export function queueInfo(rules: QueueRules, estimatedWaitSeconds: number | null): QueueInfo {
  return {
    name: rules.name,
    mode: rules.mode,
    teams: { count: rules.teams.count, size: rules.teams.size },
    minPlayers: rules.minPlayers,
    maxPlayers: rules.maxPlayers,
    fillWaitSeconds: rules.fillWaitSeconds,
    maxPartySize: rules.maxPartySize,
    maxLatencyMs: widest(rules.latency),
    ticketTtlSeconds: rules.ticketTtlSeconds,
    acceptTimeoutSeconds: rules.acceptTimeoutSeconds,
    backfill: rules.backfill,
    estimatedWaitSeconds,
  };
}

type EventOf<T extends PlayerEvent['type']> = Extract<PlayerEvent, { type: T }>;

/**
 * Where a ticket stands, for clients that poll instead of holding a socket. `event` is the one the
 * asking player was (or would have been) pushed: a `matched` event carries that player's own
 * connect token.
 */
export type TicketStatus =
  | { state: 'waiting'; ticketId: string; queue: string; estimatedWaitSeconds: number | null }
  | { state: 'accept-pending'; ticketId: string; queue: string; event: EventOf<'accept'> }
  | { state: 'matched'; ticketId: string; queue: string; event: EventOf<'matched'> }
  | { state: 'gone'; ticketId: string; queue: string; event: EventOf<'cancelled' | 'timed-out' | 'failed'> };

export interface Matchmaking {
  /** The queues a ticket may name, sorted by name. */
  queues(): Promise<QueueInfo[]>;
  /**
   * Queues a ticket owned by `playerId` (with its party). Rejects with QueueNotFoundError,
   * TicketRejectedError (party too large for the queue, a player already waiting, no usable region)
   * or MatchmakerDrainingError.
   * The lobby answers the submitter with the result; pushing `queued` to every player on the
   * ticket is how party members learn of it.
   */
  submit(playerId: string, request: TicketRequest): Promise<SubmitResult>;
  /**
   * Withdraws a waiting ticket, or declines for this player when it is accept-pending. Any player on
   * the ticket may: a member leaving takes the whole party out of the queue (the leader submits
   * again without them), so no one is held in a ticket they no longer want. Resolves without
   * change when the ticket is already cancelled. Rejects with TicketNotFoundError,
   * TicketNotOwnerError, TicketAlreadyMatchedError. Pushes `cancelled` to the ticket's players.
   */
  cancel(playerId: string, ticketId: string): Promise<void>;
  /** Any player on the ticket may ask. Rejects with TicketNotFoundError, TicketNotOwnerError. */
  status(playerId: string, ticketId: string): Promise<TicketStatus>;
  /**
   * The player's answer to an `accept` event. Rejects with MatchNotFoundError (no such match, or
   * the player is not in it) or MatchAcceptClosedError (deadline passed, already answered, someone declined).
   */
  accept(playerId: string, matchId: string, accept: boolean): Promise<void>;
  /**
   * These players are at the lobby now (an open socket, a request): their waiting tickets are
   * kept. A ticket none of whose players has been present for the grace (lobby.ticket_grace_seconds)
   * is dropped, and its players pushed `failed`. Submitting counts as being present.
   */
  present(playerIds: readonly string[]): Promise<void>;
  /** Subscribes to every push for every player, from any matchmaker process; returns the unsubscribe. */
  events(listener: (playerId: string, event: PlayerEvent) => void): () => void;
}

export class QueueNotFoundError extends AppError {
  /** `known`: the queues there are, so the player learns what to ask for instead. */
  constructor(
    readonly queue: string,
    known: Iterable<string>,
  ) {
    const names = [...known].sort();
    super(ErrorCode.QUEUE_NOT_FOUND, `queue ${queue} does not exist; ${names.length ? `the queues are ${names.join(', ')}` : 'this matchmaker has no queues'}`);
  }
}

/** The queue's rules refuse the ticket; the message says which rule. */
export class TicketRejectedError extends AppError {
  constructor(message: string) {
    super(ErrorCode.TICKET_REJECTED, message);
  }
}

export class TicketNotFoundError extends AppError {
  constructor(readonly ticketId: string) {
    super(ErrorCode.TICKET_NOT_FOUND, `ticket ${ticketId} not found`);
  }
}

/** The asker is not one of the ticket's players (who alone may read or cancel it). */
export class TicketNotOwnerError extends AppError {
  constructor(readonly ticketId: string) {
    super(ErrorCode.TICKET_NOT_OWNER, `ticket ${ticketId} is not yours: you are not one of its players`);
  }
}

export class TicketAlreadyMatchedError extends AppError {
  constructor(readonly ticketId: string) {
    super(ErrorCode.TICKET_ALREADY_MATCHED, `ticket ${ticketId} is already matched and can no longer be cancelled`);
  }
}

export class MatchNotFoundError extends AppError {
  constructor(readonly matchId: string) {
    super(ErrorCode.MATCH_NOT_FOUND, `match ${matchId} not found, or you are not in it`);
  }
}

/** The matchmaker is shutting down and takes no new tickets; another process (or the restarted one) will. */
export class MatchmakerDrainingError extends AppError {
  constructor() {
    super(ErrorCode.MATCHMAKER_DRAINING, 'this matchmaker is shutting down and takes no new tickets: reconnect and submit again');
  }
}

export class MatchAcceptClosedError extends AppError {
  constructor(
    readonly matchId: string,
    why: string,
  ) {
    super(ErrorCode.MATCH_ACCEPT_CLOSED, `match ${matchId} no longer takes answers: ${why}`);
  }
}
