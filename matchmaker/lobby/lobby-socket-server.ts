import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Cancel } from '../../core/clock.js';
import { PlayerUnauthenticatedError, type PlayerIdentity } from '../player-auth.js';
import type { PlayerEvent } from '../ticket.js';
import type { LobbyContext, LobbyRequest } from './lobby-context.js';
import type { LobbyPresence } from './lobby-presence.js';
import { LobbyRateLimitedError, LobbyRequestInvalidError, type LobbyErrorBody } from './lobby-errors.js';
import { bearerToken, clientAddress } from './lobby-http.js';
import { ClientMessageSchema, MAX_REQUEST_BYTES, parseLobbyRequest, RequestIdSchema, type ClientMessage } from './lobby-schema.js';

// The lobby's WebSocket, /v1/lobby (LOBBY.md has the protocol). The upgrade is authenticated (a
// player token in `Authorization: Bearer` or, for browsers, which cannot set that header, `?token=`)
// and refused with a JSON body otherwise. Each message is answered with its `id`, in any order;
// every socket of a player receives that player's pushes. Messages pay the address and player rates;
// a socket refused for rate again and again is closed (1008). A frame over 16 KiB closes the socket
// (1009, by ws before the frame is read), a socket silent to pings for a heartbeat is dropped, and
// one whose token expires is closed (4001) so no session outlives its token. When the matchmaker
// cannot hear from this process (LobbyPresence), every socket is closed with 1013 so its client
// reconnects to a process it can.

export const LOBBY_SOCKET_PATH = '/v1/lobby';
const CLOSE_GRACE_MS = 2000;

/** Close codes the lobby uses besides the standard ones (1001 going away, 1008 policy, 1009 too big). */
export const LobbyCloseCode = { tryAgainLater: 1013, tokenExpired: 4001 } as const;

export interface LobbySocketServerOptions {
  context: LobbyContext;
  presence: Pick<LobbyPresence, 'opened' | 'closed' | 'onHandOff'>;
  maxSocketsPerPlayer: number;
  heartbeatSeconds: number;
}

interface Client {
  ws: WebSocket;
  /** Names the socket's bucket of refusals. */
  key: string;
  playerId: string;
  /** When the socket's login token expires (the socket is closed then). */
  tokenExpiresAt: number;
  address: string;
  /** Cleared at each ping, set by the pong; still clear at the next ping means dead. */
  alive: boolean;
  cancelExpiry: Cancel;
}

type RequestId = string | number | null;

export class LobbySocketServer {
  private readonly ctx: LobbyContext;
  private readonly presence: LobbySocketServerOptions['presence'];
  private readonly maxSocketsPerPlayer: number;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_BYTES });
  private readonly players = new Map<string, Set<Client>>();
  private readonly unsubscribe: () => void;
  private readonly stopHeartbeat: Cancel;
  private nextKey = 0;
  private closing = false;

  constructor(options: LobbySocketServerOptions) {
    this.ctx = options.context;
    this.presence = options.presence;
    this.maxSocketsPerPlayer = options.maxSocketsPerPlayer;
    this.unsubscribe = this.ctx.matchmaking.events((playerId, event) => this.push(playerId, event));
    this.stopHeartbeat = this.ctx.clock.every(options.heartbeatSeconds * 1000, () => this.heartbeat());
    options.presence.onHandOff(() => this.handOff());
  }

  /** Open sockets. */
  get connections(): number {
    let n = 0;
    for (const clients of this.players.values()) n += clients.size;
    return n;
  }

  /** The HTTP server's 'upgrade' listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A client that resets the connection mid-handshake must not take the process down.
    socket.on('error', (err) => this.ctx.log.debug({ err }, 'lobby upgrade socket error'));
    void this.upgrade(req, socket, head);
  };

  /** Closes every socket (1001) and stops taking new ones; resolves once they are gone. */
  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    this.stopHeartbeat();
    const clients = [...this.players.values()].flatMap((set) => [...set]);
    await Promise.all(
      clients.map(
        (c) =>
          new Promise<void>((resolve) => {
            // A peer that never completes the closing handshake is cut off.
            const cancel = this.ctx.clock.setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS);
            c.ws.once('close', () => (cancel(), resolve()));
            c.ws.close(1001, 'lobby shutting down');
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Closes every socket (1013), asking the clients to reconnect to a lobby process the matchmaker can hear. */
  private handOff(): void {
    for (const clients of this.players.values()) for (const c of clients) c.ws.close(LobbyCloseCode.tryAgainLater, 'this lobby cannot reach the matchmaker: reconnect');
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const { ctx } = this;
    try {
      if (this.closing) return void socket.destroy();
      const address = clientAddress(req);
      ctx.limits.address(address);
      const url = new URL(req.url ?? '/', 'http://lobby');
      if (url.pathname !== LOBBY_SOCKET_PATH) {
        ctx.metrics.lobbyErrors.inc({ error_type: 'NOT_FOUND' });
        return refuse(socket, 404, { code: 'NOT_FOUND', message: `no WebSocket at ${url.pathname}: connect to ${LOBBY_SOCKET_PATH}` });
      }
      const token = req.headers.authorization !== undefined ? bearerToken(req.headers.authorization) : url.searchParams.get('token');
      if (token === null) throw new PlayerUnauthenticatedError('send a player token: Authorization: Bearer <token>, or ?token=<token> where headers cannot be set (browsers); POST /v1/login gives one');
      const identity = await ctx.auth.verify(token);
      const open = this.players.get(identity.playerId)?.size ?? 0;
      if (open >= this.maxSocketsPerPlayer) {
        throw new LobbyRateLimitedError(`player ${identity.playerId} already has ${open} lobby connections open (at most ${this.maxSocketsPerPlayer}): close one first`, Infinity);
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, identity, address));
    } catch (err) {
      const { status, body } = ctx.error(err);
      refuse(socket, status, body, err instanceof LobbyRateLimitedError ? err.retryMs : undefined);
    } finally {
      ctx.observe('upgrade', started);
    }
  }

  private open(ws: WebSocket, identity: PlayerIdentity, address: string): void {
    const { ctx } = this;
    const client: Client = {
      ws,
      key: String(this.nextKey++),
      playerId: identity.playerId,
      tokenExpiresAt: identity.expiresAt,
      address,
      alive: true,
      cancelExpiry: ctx.clock.setTimeout(() => ws.close(LobbyCloseCode.tokenExpired, 'token expired: log in again and reconnect'), Math.max(0, identity.expiresAt - ctx.clock.now())),
    };
    let clients = this.players.get(client.playerId);
    if (!clients) this.players.set(client.playerId, (clients = new Set()));
    clients.add(client);
    this.presence.opened(client.playerId);
    ctx.metrics.lobbyConnections.inc();
    ctx.log.debug({ playerId: client.playerId, address }, 'lobby socket opened');

    ws.on('message', (data, isBinary) => void this.onMessage(client, data, isBinary));
    ws.on('pong', () => (client.alive = true));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself after these (1009 for a frame over maxPayload, 1002 for protocol errors).
      ctx.metrics.lobbyErrors.inc({ error_type: err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'LOBBY_REQUEST_TOO_LARGE' : 'WS_PROTOCOL' });
      ctx.log.debug({ err, playerId: client.playerId }, 'lobby socket error');
    });
    ws.on('close', (code) => {
      client.cancelExpiry();
      clients.delete(client);
      if (clients.size === 0 && this.players.get(client.playerId) === clients) this.players.delete(client.playerId);
      this.presence.closed(client.playerId);
      ctx.metrics.lobbyConnections.dec();
      ctx.log.debug({ playerId: client.playerId, code }, 'lobby socket closed');
    });
  }

  private async onMessage(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    const started = performance.now();
    const { ctx } = this;
    let id: RequestId = null;
    let type = 'rejected';
    try {
      // Parsed before the rate is taken only to learn the id to answer with; garbage pays the rate too.
      let raw: unknown;
      let notJson: string | undefined;
      if (isBinary) notJson = 'send JSON text frames, not binary';
      else {
        try {
          raw = JSON.parse(data.toString());
        } catch (err) {
          notJson = `not JSON (${(err as Error).message})`;
        }
      }
      id = requestIdOf(raw);
      ctx.limits.address(client.address);
      ctx.limits.player(client.playerId);
      if (notJson !== undefined) throw new LobbyRequestInvalidError('message', [`message: ${notJson}`]);
      const message = parseLobbyRequest(ClientMessageSchema, raw, 'message');
      type = message.type;
      this.reply(client, { id, result: await ctx.run({ playerId: client.playerId, expiresAt: client.tokenExpiresAt }, toRequest(message)) });
    } catch (err) {
      const { body } = ctx.error(err);
      this.reply(client, { id, error: body });
      if (err instanceof LobbyRateLimitedError && ctx.limits.refused(client.key)) {
        ctx.log.warn({ playerId: client.playerId, address: client.address }, 'closing a lobby socket that keeps exceeding its rate limit');
        ctx.metrics.lobbyErrors.inc({ error_type: 'RATE_LIMIT_CLOSED' });
        client.ws.close(1008, 'rate limit exceeded repeatedly');
      }
    } finally {
      ctx.observe(type, started);
    }
  }

  private reply(client: Client, payload: { id: RequestId; result?: unknown; error?: LobbyErrorBody }): void {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(payload));
  }

  private push(playerId: string, event: PlayerEvent): void {
    const clients = this.players.get(playerId);
    if (!clients) return;
    const text = JSON.stringify(event);
    for (const c of clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.send(text);
  }

  private heartbeat(): void {
    for (const clients of this.players.values()) {
      for (const c of clients) {
        if (!c.alive) {
          this.ctx.metrics.lobbyErrors.inc({ error_type: 'HEARTBEAT_TIMEOUT' });
          this.ctx.log.debug({ playerId: c.playerId }, 'dropping a lobby socket that stopped answering pings');
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        c.ws.ping();
      }
    }
  }
}

function requestIdOf(raw: unknown): RequestId {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const parsed = RequestIdSchema.safeParse((raw as { id?: unknown }).id);
  return parsed.success ? parsed.data : null;
}

function toRequest(message: ClientMessage): LobbyRequest {
  switch (message.type) {
    case 'submit': {
      const { type: _type, id: _id, ...request } = message;
      return { type: 'submit', request };
    }
    case 'party-pass':
      return { type: 'party-pass', leader: message.leader };
    case 'cancel':
    case 'status':
      return { type: message.type, ticketId: message.ticketId };
    case 'accept':
    case 'decline':
      return { type: message.type, matchId: message.matchId };
    case 'queues':
    case 'ping':
      return { type: message.type };
  }
}

/** Answers a refused upgrade in plain HTTP, with the lobby's JSON error body. */
function refuse(socket: Duplex, status: number, body: LobbyErrorBody, retryMs?: number): void {
  const text = JSON.stringify({ error: body });
  const retry = retryMs !== undefined && Number.isFinite(retryMs) ? `Retry-After: ${Math.ceil(retryMs / 1000)}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${retry}Connection: close\r\n\r\n${text}`,
  );
}
