import WebSocket from 'ws';
import type { IssuedPartyPass } from '../player-auth.js';
import type { PlayerEvent } from '../ticket.js';
import type { LobbyTicketRequest } from './lobby-schema.js';
import type { QueueInfo, SubmitResult, TicketStatus } from './matchmaking.js';

// A player's side of the lobby (LOBBY.md): a guest login over HTTP, then the WebSocket, where each
// request gets the reply that carries its id and pushes come in between. When the lobby closes the
// socket asking for a reconnect (or the connection drops), it reconnects with the same login and
// catches up on its awaited tickets by their status. `hangar bots --matchmake` uses it; a game
// client written in TypeScript could too.

export type MatchedEvent = Extract<PlayerEvent, { type: 'matched' }>;

export class LobbyRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly problems?: string[],
  ) {
    super(`${code}: ${message}${problems?.length ? ` (${problems.join('; ')})` : ''}`);
    this.name = 'LobbyRequestError';
  }
}

interface Login {
  token: string;
  playerId: string;
}

type Reply = { id: number; result?: unknown; error?: { code: string; message: string; problems?: string[] } };

/** Close codes after which the client reconnects (LOBBY.md, "Close codes"): the lobby process going away, asking for it, or the connection lost. */
const RECONNECT_CODES: ReadonlySet<number> = new Set([1001, 1006, 1013]);
/**
 * Waits before each attempt to reconnect: about 8 s in all, well inside the lobby's ticket grace
 * (15 s by default), after which a ticket none of whose players is present is dropped.
 */
const RECONNECT_DELAYS_MS = [0, 250, 500, 1000, 2000, 2000, 2000];

export class LobbyClient {
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(event: PlayerEvent) => void>();
  /** Tickets awaitMatch waits on: their status is asked after a reconnect, for the pushes missed meanwhile. */
  private readonly awaited = new Map<string, (err: Error) => void>();
  /** Every push so far: one may come before the reply to the submit that caused it. */
  private readonly heard: PlayerEvent[] = [];
  private nextId = 1;
  private closing = false;
  private socket!: WebSocket;

  private constructor(
    socket: WebSocket,
    private readonly login: Login,
    private readonly wsUrl: URL,
  ) {
    this.attach(socket);
  }

  get playerId(): string {
    return this.login.playerId;
  }

  /** Logs in as a guest at `url` (http://host:8080) and opens the lobby's WebSocket. */
  static async connectAsGuest(url: string, name?: string): Promise<LobbyClient> {
    const login = await loginAsGuest(url, name);
    const wsUrl = new URL('/v1/lobby', url);
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    return new LobbyClient(await openSocket(wsUrl, login.token), login, wsUrl);
  }

  /** Queues a ticket; its `party` lists a pass from each other member (see partyPass). */
  submit(ticket: LobbyTicketRequest): Promise<SubmitResult> {
    return this.request({ type: 'submit', ...ticket }) as Promise<SubmitResult>;
  }

  /** This player's consent to be in `leader`'s tickets, for the game to hand to the leader. */
  partyPass(leader: string): Promise<IssuedPartyPass> {
    return this.request({ type: 'party-pass', leader }) as Promise<IssuedPartyPass>;
  }

  /**
   * Waits for this player's `matched` push, answering every accept step with `accept` (a player
   * who would decline would say so here). Rejects when the ticket fails, times out or is cancelled,
   * or when the connection to the lobby is lost for good (LOBBY_CONNECTION_LOST).
   */
  awaitMatch(ticketId: string, options: { accept: boolean } = { accept: true }): Promise<MatchedEvent> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (settle: () => void) => {
        done = true;
        stop();
        this.awaited.delete(ticketId);
        settle();
      };
      const handle = (event: PlayerEvent) => {
        if (done || !('ticketId' in event) || event.ticketId !== ticketId) return;
        if (event.type === 'accept') {
          this.request({ type: options.accept ? 'accept' : 'decline', matchId: event.matchId }).catch(() => undefined);
        } else if (event.type === 'matched') {
          finish(() => resolve(event));
        } else if (event.type === 'failed' || event.type === 'timed-out' || event.type === 'cancelled') {
          finish(() => reject(new LobbyRequestError(event.type.toUpperCase(), `ticket ${ticketId}: ${event.type}${'reason' in event ? ` (${event.reason})` : ''}`)));
        }
      };
      const stop = this.onEvent(handle);
      this.awaited.set(ticketId, (err) => {
        if (!done) finish(() => reject(err));
      });
      for (const event of [...this.heard]) handle(event);
    });
  }

  /** Hears this player's pushes; returns the unsubscribe. */
  onEvent(listener: (event: PlayerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closing = true;
    this.socket.close(1000);
  }

  private attach(socket: WebSocket): void {
    this.socket = socket;
    socket.on('message', (data) => this.onMessage(data.toString()));
    socket.on('close', (code, reason) => {
      const why = `the lobby closed the connection (${code} ${reason.toString()})`;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
      if (this.closing) return;
      if (RECONNECT_CODES.has(code)) void this.reconnect(why);
      else this.lost(why);
    });
  }

  /** Opens a new socket with the same login, then asks the status of every awaited ticket: a push made while away is not sent again. */
  private async reconnect(why: string): Promise<void> {
    let lastError = why;
    for (const delayMs of RECONNECT_DELAYS_MS) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.closing) return;
      try {
        this.attach(await openSocket(this.wsUrl, this.login.token));
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        // The login is no good any more (expired, revoked): trying it again changes nothing.
        if (err instanceof SocketRefusedError && (err.status === 401 || err.status === 403)) break;
        continue;
      }
      for (const ticketId of this.awaited.keys()) {
        this.request({ type: 'status', ticketId })
          .then((status) => {
            const event = (status as TicketStatus).state === 'waiting' ? undefined : (status as Exclude<TicketStatus, { state: 'waiting' }>).event;
            if (event) this.dispatch(event);
          })
          .catch(() => undefined);
      }
      return;
    }
    this.lost(`${why}; could not reconnect (${lastError})`);
  }

  private lost(why: string): void {
    const err = new LobbyRequestError('LOBBY_CONNECTION_LOST', why);
    for (const fail of [...this.awaited.values()]) fail(err);
  }

  private request(message: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ ...message, id }));
    });
  }

  private onMessage(text: string): void {
    const message = JSON.parse(text) as Reply | PlayerEvent;
    if ('id' in message && typeof message.id === 'number') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) pending?.reject(new LobbyRequestError(message.error.code, message.error.message, message.error.problems));
      else pending?.resolve(message.result);
      return;
    }
    this.dispatch(message as PlayerEvent);
  }

  private dispatch(event: PlayerEvent): void {
    this.heard.push(event);
    for (const listener of this.listeners) listener(event);
  }
}

class SocketRefusedError extends Error {
  constructor(readonly status: number) {
    super(`the lobby refused the WebSocket: HTTP ${status}`);
  }
}

async function openSocket(wsUrl: URL, token: string): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('unexpected-response', (req, res) => {
      reject(new SocketRefusedError(res.statusCode ?? 0));
      req.destroy();
    });
    // Kept for the socket's life: an error is always followed by 'close', whose code decides.
    socket.on('error', reject);
  });
  return socket;
}

/** The lobby's queues (GET /v1/queues, no login needed). */
export async function fetchQueues(url: string): Promise<QueueInfo[]> {
  const res = await fetch(new URL('/v1/queues', url));
  const body = (await res.json().catch(() => ({}))) as { queues?: QueueInfo[]; error?: { code: string; message: string } };
  if (!res.ok || !Array.isArray(body.queues)) throw new LobbyRequestError(body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? 'the answer was not a list of queues: is this the lobby?');
  return body.queues;
}

async function loginAsGuest(url: string, name: string | undefined): Promise<Login> {
  const res = await fetch(new URL('/v1/login', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(name ? { guest: true, name } : { guest: true }),
  });
  const body = (await res.json()) as Partial<Login> & { error?: { code: string; message: string } };
  if (!res.ok || !body.token || !body.playerId) throw new LobbyRequestError(body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? 'the lobby refused the login');
  return { token: body.token, playerId: body.playerId };
}
