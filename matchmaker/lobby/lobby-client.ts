import WebSocket from 'ws';
import type { IssuedPartyPass } from '../player-auth.js';
import type { PlayerEvent } from '../ticket.js';
import type { LobbyTicketRequest } from './lobby-schema.js';
import type { QueueInfo, SubmitResult } from './matchmaking.js';

// A player's side of the lobby (LOBBY.md): a guest login over HTTP, then the WebSocket, where each
// request gets the reply that carries its id and pushes come in between. `hangar bots --matchmake`
// uses it; a game client written in TypeScript could too.

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

export class LobbyClient {
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(event: PlayerEvent) => void>();
  /** Every push so far: one may come before the reply to the submit that caused it. */
  private readonly heard: PlayerEvent[] = [];
  private nextId = 1;

  private constructor(
    private readonly socket: WebSocket,
    readonly playerId: string,
  ) {
    socket.on('message', (data) => this.onMessage(data.toString()));
    socket.on('close', (code, reason) => {
      for (const p of this.pending.values()) p.reject(new Error(`the lobby closed the connection (${code} ${reason.toString()})`));
      this.pending.clear();
    });
  }

  /** Logs in as a guest at `url` (http://host:8080) and opens the lobby's WebSocket. */
  static async connectAsGuest(url: string, name?: string): Promise<LobbyClient> {
    const login = await loginAsGuest(url, name);
    const wsUrl = new URL('/v1/lobby', url);
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${login.token}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`the lobby refused the WebSocket: HTTP ${res.statusCode}`)));
      socket.once('error', reject);
    });
    return new LobbyClient(socket, login.playerId);
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
   * who would decline would say so here). Rejects when the ticket fails, times out or is cancelled.
   */
  awaitMatch(ticketId: string, options: { accept: boolean } = { accept: true }): Promise<MatchedEvent> {
    return new Promise((resolve, reject) => {
      let done = false;
      const handle = (event: PlayerEvent) => {
        if (done || !('ticketId' in event) || event.ticketId !== ticketId) return;
        if (event.type === 'accept') {
          this.request({ type: options.accept ? 'accept' : 'decline', matchId: event.matchId }).catch(() => undefined);
        } else if (event.type === 'matched') {
          done = true;
          resolve(event);
        } else if (event.type === 'failed' || event.type === 'timed-out' || event.type === 'cancelled') {
          done = true;
          reject(new LobbyRequestError(event.type.toUpperCase(), `ticket ${ticketId}: ${event.type}${'reason' in event ? ` (${event.reason})` : ''}`));
        }
        if (done) stop();
      };
      const stop = this.onEvent(handle);
      for (const event of [...this.heard]) handle(event);
    });
  }

  /** Hears this player's pushes; returns the unsubscribe. */
  onEvent(listener: (event: PlayerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.socket.close(1000);
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
    this.heard.push(message as PlayerEvent);
    for (const listener of this.listeners) listener(message as PlayerEvent);
  }
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
