import { cancelledBy, type PlayerEvent } from '../ticket.js';
import {
  MatchAcceptClosedError,
  MatchNotFoundError,
  QueueNotFoundError,
  TicketAlreadyMatchedError,
  TicketNotFoundError,
  TicketNotOwnerError,
  TicketRejectedError,
  type Matchmaking,
  type QueueInfo,
  type SubmitResult,
  type TicketRequest,
  type TicketStatus,
} from './matchmaking.js';

// A small, real Matchmaking for the lobby's tests: it keeps tickets and matches in memory, keeps to
// the interface's contract (errors, pushes), records every call, and lets a test play the
// matchmaking loop (`propose`, `match`, `emit`). No match function runs here.

export interface RecordedCall {
  method: 'submit' | 'cancel' | 'status' | 'accept';
  playerId: string;
  args: unknown[];
}

interface RecordedTicket {
  id: string;
  queue: string;
  players: string[];
  state: TicketStatus['state'];
  /** The latest event each player was pushed about this ticket. */
  events: Map<string, PlayerEvent>;
}

interface RecordedMatch {
  players: Set<string>;
  answers: Map<string, boolean>;
}

type Server = Extract<PlayerEvent, { type: 'matched' }>['server'];

const ESTIMATED_WAIT_SECONDS = 30;

export class RecordingMatchmaking implements Matchmaking {
  readonly calls: RecordedCall[] = [];
  /** The players of each `present` call, in order. */
  readonly sightings: string[][] = [];
  private readonly queueInfos: ReadonlyMap<string, QueueInfo>;
  private readonly tickets = new Map<string, RecordedTicket>();
  private readonly matches = new Map<string, RecordedMatch>();
  private readonly listeners = new Set<(playerId: string, event: PlayerEvent) => void>();
  private nextId = 1;

  constructor(options: { queues: readonly QueueInfo[] }) {
    this.queueInfos = new Map(options.queues.map((q) => [q.name, q]));
  }

  async queues(): Promise<QueueInfo[]> {
    return [...this.queueInfos.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async submit(playerId: string, request: TicketRequest): Promise<SubmitResult> {
    this.calls.push({ method: 'submit', playerId, args: [request] });
    if (!this.queueInfos.has(request.queue)) throw new QueueNotFoundError(request.queue, this.queueInfos.keys());
    const players = [playerId, ...(request.party ?? [])];
    for (const t of this.tickets.values()) {
      const busy = t.state === 'waiting' || t.state === 'accept-pending' ? players.find((p) => t.players.includes(p)) : undefined;
      if (busy) throw new TicketRejectedError(`player ${busy} already has ticket ${t.id} waiting`);
    }
    const ticket: RecordedTicket = { id: `ticket-${this.nextId++}`, queue: request.queue, players, state: 'waiting', events: new Map() };
    this.tickets.set(ticket.id, ticket);
    for (const p of players) this.tell(ticket, p, { type: 'queued', ticketId: ticket.id, queue: ticket.queue, estimatedWaitSeconds: ESTIMATED_WAIT_SECONDS });
    return { ticketId: ticket.id, estimatedWaitSeconds: ESTIMATED_WAIT_SECONDS };
  }

  async cancel(playerId: string, ticketId: string): Promise<void> {
    this.calls.push({ method: 'cancel', playerId, args: [ticketId] });
    const ticket = this.tickets.get(ticketId);
    if (!ticket) throw new TicketNotFoundError(ticketId);
    if (!ticket.players.includes(playerId)) throw new TicketNotOwnerError(ticketId);
    if (ticket.state === 'matched') throw new TicketAlreadyMatchedError(ticketId);
    if (ticket.state === 'gone') return;
    ticket.state = 'gone';
    const event = cancelledBy(ticketId, playerId, ticket.players.length);
    for (const p of ticket.players) this.tell(ticket, p, event);
  }

  async status(playerId: string, ticketId: string): Promise<TicketStatus> {
    this.calls.push({ method: 'status', playerId, args: [ticketId] });
    const ticket = this.tickets.get(ticketId);
    if (!ticket) throw new TicketNotFoundError(ticketId);
    if (!ticket.players.includes(playerId)) throw new TicketNotOwnerError(ticketId);
    const base = { ticketId, queue: ticket.queue };
    if (ticket.state === 'waiting') return { state: 'waiting', ...base, estimatedWaitSeconds: ESTIMATED_WAIT_SECONDS };
    return { state: ticket.state, ...base, event: ticket.events.get(playerId) } as TicketStatus;
  }

  async accept(playerId: string, matchId: string, accept: boolean): Promise<void> {
    this.calls.push({ method: 'accept', playerId, args: [matchId, accept] });
    const match = this.matches.get(matchId);
    if (!match || !match.players.has(playerId)) throw new MatchNotFoundError(matchId);
    if (match.answers.has(playerId)) throw new MatchAcceptClosedError(matchId, 'you already answered');
    match.answers.set(playerId, accept);
  }

  async present(playerIds: readonly string[]): Promise<void> {
    this.sightings.push([...playerIds]);
  }

  events(listener: (playerId: string, event: PlayerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // What the matchmaking loop would do, for tests to drive.

  /** Asks every player of `ticketIds` to accept `matchId` by `deadline`. */
  propose(matchId: string, ticketIds: readonly string[], deadline: number): void {
    const tickets = ticketIds.map((id) => this.ticket(id));
    this.matches.set(matchId, { players: new Set(tickets.flatMap((t) => t.players)), answers: new Map() });
    for (const t of tickets) {
      t.state = 'accept-pending';
      for (const p of t.players) this.tell(t, p, { type: 'accept', ticketId: t.id, matchId, deadline });
    }
  }

  /** Matches `ticketIds` on `server`, one team per ticket, each player with a connect token of its own. */
  match(matchId: string, ticketIds: readonly string[], server: Server): void {
    for (const [team, id] of ticketIds.entries()) {
      const t = this.ticket(id);
      t.state = 'matched';
      for (const p of t.players) this.tell(t, p, { type: 'matched', ticketId: id, matchId, team, server, connectToken: Buffer.from(`${matchId}/${p}`).toString('base64') });
    }
  }

  /** The answers given to `matchId` so far. */
  answers(matchId: string): ReadonlyMap<string, boolean> {
    return this.matches.get(matchId)?.answers ?? new Map();
  }

  /** Pushes `event` to `playerId`, as another matchmaker process might. */
  emit(playerId: string, event: PlayerEvent): void {
    for (const l of this.listeners) l(playerId, event);
  }

  private ticket(id: string): RecordedTicket {
    const t = this.tickets.get(id);
    if (!t) throw new TicketNotFoundError(id);
    return t;
  }

  private tell(ticket: RecordedTicket, playerId: string, event: PlayerEvent): void {
    ticket.events.set(playerId, event);
    this.emit(playerId, event);
  }
}
