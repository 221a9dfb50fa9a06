// The matchmaker's vocabulary, shared by the lobby (matchmaker/lobby), the match function, the
// ticket queues and the matchmaking loop. Times are epoch milliseconds.

export interface TicketPlayer {
  playerId: string;
  /** Skill rating (e.g. Elo-like, 0..5000). */
  skill: number;
}

/** One entry in a queue: a single player, or a party that must play together (on one team). */
export interface Ticket {
  id: string;
  queue: string;
  /** Whoever submitted it (the party leader). Any of its players may cancel it (a member leaving takes the party out). */
  ownerId: string;
  players: TicketPlayer[];
  /** Measured round-trip time to each region, ms (e.g. { "eu-west": 24, "us-east": 95 }). */
  latencies: Record<string, number>;
  createdAt: number;
  /** Set when a matched ticket went back to the queue (allocation failed, someone declined): it keeps its place. */
  requeuedAt?: number;
}

/**
 * Freezes `ticket` down to its players and latencies (which must be its own) and returns it: a
 * ticket so frozen nobody can change, so the memory queue keeps it as it is (any other it copies
 * first), and submit makes its tickets so.
 */
export function freezeTicket(ticket: Ticket): Ticket {
  for (const p of ticket.players) Object.freeze(p);
  Object.freeze(ticket.players);
  Object.freeze(ticket.latencies);
  return Object.freeze(ticket);
}

/** Whether `ticket` is frozen as freezeTicket freezes it. */
export function isFrozenTicket(ticket: Ticket): boolean {
  return Object.isFrozen(ticket) && Object.isFrozen(ticket.players) && Object.isFrozen(ticket.latencies) && ticket.players.every((p) => Object.isFrozen(p));
}

/** The rules designers tune per queue in config/matchmaking.yaml, after defaults. */
export interface QueueRules {
  name: string;
  /** The game mode, passed to the game server as a label. */
  mode: string;
  /** The fleet to allocate from. */
  fleet: string;
  teams: { count: number; size: number };
  /** A match may start short of teams × size with at least this many players (after `fillWaitSeconds`). */
  minPlayers: number;
  maxPlayers: number;
  /** How long the oldest ticket waits for a full match before a smaller one (≥ minPlayers) is made. */
  fillWaitSeconds: number;
  /** Largest skill gap allowed inside a match, widening in steps with the oldest ticket's wait. */
  skill: WideningWindow;
  /** Highest latency to the chosen region any player may have, widening likewise (ms). */
  latency: WideningWindow;
  /** Largest party accepted in this queue (1 = solo only). */
  maxPartySize: number;
  /** A ticket not matched after this long is dropped, and its players told. */
  ticketTtlSeconds: number;
  /** Running matches with free slots are offered new players. */
  backfill: boolean;
  /** When set, every matched player must accept within this many seconds. */
  acceptTimeoutSeconds: number | null;
}

export interface WideningWindow {
  initial: number;
  /** After `afterSeconds` of waiting the window becomes `value`; ascending afterSeconds. */
  steps: Array<{ afterSeconds: number; value: number }>;
}

/** The most a window ever allows: its last step's value, else its initial one. */
export function widest(window: WideningWindow): number {
  return window.steps.length > 0 ? window.steps[window.steps.length - 1]!.value : window.initial;
}

/** A match the match function proposes: which tickets, on which teams, in which region. */
export interface ProposedMatch {
  queue: string;
  region: string;
  /** Ticket ids per team; a party's ticket sits whole on one team. */
  teams: string[][];
  tickets: Ticket[];
}

/** What a player is told, pushed over the lobby's WebSocket (and kept for HTTP status polls). */
export type PlayerEvent =
  | { type: 'queued'; ticketId: string; queue: string; estimatedWaitSeconds: number | null }
  | { type: 'accept'; ticketId: string; matchId: string; deadline: number }
  | {
      type: 'matched';
      ticketId: string;
      matchId: string;
      team: number;
      server: { address: string; port: number; ports: Array<{ name: string; port: number }>; name: string };
      /** The netcode connect token, base64. */
      connectToken: string;
    }
  /** The match `matchId` is off for this ticket, which waits again at its old place. */
  | { type: 'requeued'; ticketId: string; matchId: string; reason: string }
  | { type: 'failed'; ticketId: string; reason: string }
  | { type: 'timed-out'; ticketId: string }
  /** `by`, one of the ticket's players, took it out of the queue; `reason` says so in words. */
  | { type: 'cancelled'; ticketId: string; by: string; reason: string };

/** The news every player of a ticket of `players` players hears when `by`, one of them, cancels it. */
export function cancelledBy(ticketId: string, by: string, players: number): Extract<PlayerEvent, { type: 'cancelled' }> {
  const reason = players > 1 ? `${by} left the party: its ticket is out of the queue` : `${by} cancelled the ticket`;
  return { type: 'cancelled', ticketId, by, reason };
}

/** A player's accept answer, on its way to the matchmaker process holding the match. */
export interface AcceptAnswer {
  type: 'answer';
  matchId: string;
  playerId: string;
  accept: boolean;
}

/** What travels between matchmaker processes: an event for a player, or an accept answer. */
export type MatchmakerMessage = PlayerEvent | AcceptAnswer;
