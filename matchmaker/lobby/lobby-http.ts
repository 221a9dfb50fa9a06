import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { PlayerUnauthenticatedError } from '../player-auth.js';
import type { LobbyContext, LobbyPlayer } from './lobby-context.js';
import type { LobbyPresence } from './lobby-presence.js';
import { LobbyRateLimitedError, LobbyRequestInvalidError, LobbyRequestTooLargeError } from './lobby-errors.js';
import { AcceptRequestSchema, IdSchema, LoginRequestSchema, MAX_REQUEST_BYTES, parseLobbyRequest, PartyPassRequestSchema, TicketRequestSchema } from './lobby-schema.js';
import type { SubmitResult } from './matchmaking.js';

// The lobby over plain HTTP, for clients without a WebSocket (LOBBY.md has the protocol):
//   POST   /v1/login                 { guest: true, name? } → { token, tokenType, playerId, name?, expiresAt }
//   GET    /v1/queues                → { queues: [...] } (no token needed: a client shows them before login)
//   POST   /v1/party-passes          { leader } → { pass, expiresAt } (the asker's consent to be in leader's tickets)
//   POST   /v1/tickets               a ticket request → 201 { ticketId, estimatedWaitSeconds }
//   GET    /v1/tickets/:id           → the ticket's status (with the matched event, connect token included)
//   DELETE /v1/tickets/:id           → { ticketId, cancelled: true }
//   POST   /v1/matches/:id/accept    { accept: boolean } → { matchId, accepted }
// Each request pays its client address's rate before anything is read, then shows a player token
// (Authorization: Bearer; never a query parameter here, so tokens stay out of URLs), then pays the
// player's rate, and only then has its body parsed.

export const LOGIN_PATH = '/v1/login';
export const QUEUES_PATH = '/v1/queues';
export const TICKETS_PATH = '/v1/tickets';
export const PARTY_PASSES_PATH = '/v1/party-passes';
export const MATCHES_PATH = '/v1/matches';

/** The client's address as the rate limits count it: the TCP peer (see LOBBY.md about load balancers). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** The bearer token of an Authorization header; PlayerUnauthenticatedError when there is none. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new PlayerUnauthenticatedError('send Authorization: Bearer <token> (POST /v1/login gives one)');
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw new PlayerUnauthenticatedError('the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

export function createLobbyRouter(ctx: LobbyContext, presence: Pick<LobbyPresence, 'requested'>): Router {
  const router = express.Router();
  // Not strict: a JSON string or number gets the schema's "must be a JSON object", not "not JSON".
  const json = express.json({ limit: MAX_REQUEST_BYTES, strict: false });

  const fail = (res: Response, err: unknown): void => {
    const { status, body } = ctx.error(err);
    if (err instanceof LobbyRateLimitedError && Number.isFinite(err.retryMs)) res.set('Retry-After', String(Math.ceil(err.retryMs / 1000)));
    res.status(status).json({ error: body });
  };

  const byAddress = (req: Request, res: Response, next: NextFunction): void => {
    try {
      ctx.limits.address(clientAddress(req));
      next();
    } catch (err) {
      fail(res, err);
    }
  };

  const authenticated = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const identity = await ctx.auth.verify(bearerToken(req.get('authorization')));
      presence.requested(identity.playerId);
      ctx.limits.player(identity.playerId);
      res.locals.player = { playerId: identity.playerId, expiresAt: identity.expiresAt } satisfies LobbyPlayer;
      next();
    } catch (err) {
      fail(res, err);
    }
  };

  /** Times the handler under `type` and answers whatever it throws in the lobby's error shape. */
  const handle =
    (type: string, fn: (req: Request, res: Response, player: LobbyPlayer) => Promise<void>) =>
    async (req: Request, res: Response): Promise<void> => {
      const started = performance.now();
      try {
        await fn(req, res, res.locals.player as LobbyPlayer);
      } catch (err) {
        fail(res, err);
      } finally {
        ctx.observe(type, started);
      }
    };

  const body = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => {
    // express.json leaves the body undefined when the request is not JSON at all.
    if (req.body === undefined) throw new LobbyRequestInvalidError('body', ['body: send a JSON object with Content-Type: application/json']);
    return parseLobbyRequest(schema, req.body, 'body');
  };

  router.post(
    LOGIN_PATH,
    byAddress,
    json,
    handle('login', async (req, res) => {
      const login = body(LoginRequestSchema, req);
      // Guests only: password or identity-provider logins are out of scope; one would check its
      // credential here and call ctx.auth.issue() with the player id it vouches for.
      const issued = await ctx.auth.loginGuest(login.name);
      ctx.log.debug({ playerId: issued.playerId }, 'guest logged in');
      res.json({ token: issued.token, tokenType: 'Bearer', playerId: issued.playerId, ...(issued.name !== undefined ? { name: issued.name } : {}), expiresAt: issued.expiresAt });
    }),
  );

  router.get(
    QUEUES_PATH,
    byAddress,
    handle('queues', async (_req, res) => {
      res.json(await ctx.queues());
    }),
  );

  router.post(
    TICKETS_PATH,
    byAddress,
    authenticated,
    json,
    handle('submit', async (req, res, player) => {
      const request = body(TicketRequestSchema, req);
      const result = (await ctx.run(player, { type: 'submit', request })) as SubmitResult;
      res.status(201).location(`${TICKETS_PATH}/${encodeURIComponent(result.ticketId)}`).json(result);
    }),
  );

  router.post(
    PARTY_PASSES_PATH,
    byAddress,
    authenticated,
    json,
    handle('party-pass', async (req, res, player) => {
      const { leader } = body(PartyPassRequestSchema, req);
      res.json(await ctx.run(player, { type: 'party-pass', leader }));
    }),
  );

  router.get(
    `${TICKETS_PATH}/:ticketId`,
    byAddress,
    authenticated,
    handle('status', async (req, res, player) => {
      const ticketId = parseLobbyRequest(IdSchema, req.params.ticketId, 'ticketId');
      res.json(await ctx.run(player, { type: 'status', ticketId }));
    }),
  );

  router.delete(
    `${TICKETS_PATH}/:ticketId`,
    byAddress,
    authenticated,
    handle('cancel', async (req, res, player) => {
      const ticketId = parseLobbyRequest(IdSchema, req.params.ticketId, 'ticketId');
      res.json(await ctx.run(player, { type: 'cancel', ticketId }));
    }),
  );

  router.post(
    `${MATCHES_PATH}/:matchId/accept`,
    byAddress,
    authenticated,
    json,
    handle('accept', async (req, res, player) => {
      const matchId = parseLobbyRequest(IdSchema, req.params.matchId, 'matchId');
      const { accept } = body(AcceptRequestSchema, req);
      res.json(await ctx.run(player, { type: accept ? 'accept' : 'decline', matchId }));
    }),
  );

  // express.json's own refusals (malformed JSON, too large) arrive here: answered in the same shape.
  router.use('/v1', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (!status || status >= 500) return next(err);
    if (status === 413) return fail(res, new LobbyRequestTooLargeError(MAX_REQUEST_BYTES));
    const what = (err as { type?: string }).type === 'entity.parse.failed' ? 'not JSON' : 'unreadable';
    fail(res, new LobbyRequestInvalidError('body', [`body: ${what} (${(err as Error).message})`]));
  });
  return router;
}
