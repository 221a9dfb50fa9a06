import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { MatchmakerMetrics } from '../../core/metrics.js';
import type { IssuedPartyPass, PlayerAuth, PlayerIdentity } from '../player-auth.js';
import { lobbyError, LobbyRequestInvalidError, type LobbyErrorBody } from './lobby-errors.js';
import type { LobbyLimits } from './lobby-limits.js';
import type { LobbyTicketRequest } from './lobby-schema.js';
import type { Matchmaking, QueueInfo, SubmitResult, TicketStatus } from './matchmaking.js';

// What the HTTP routes and the WebSocket share: one request, validated and authenticated, becomes
// one Matchmaking call and one result of the same shape on either transport. A ticket's party
// reaches the matchmaker only as the members whose passes verified (PlayerAuth.partyOf): a player
// id alone never puts anyone in a ticket.

export type LobbyRequest =
  | { type: 'submit'; request: LobbyTicketRequest }
  | { type: 'party-pass'; leader: string }
  | { type: 'cancel'; ticketId: string }
  | { type: 'status'; ticketId: string }
  | { type: 'accept' | 'decline'; matchId: string }
  | { type: 'queues' }
  | { type: 'ping' };

/** Who makes a request, as their login token says: the player, and when the token stops being accepted. */
export type LobbyPlayer = Pick<PlayerIdentity, 'playerId' | 'expiresAt'>;

export type LobbyResult = { queues: QueueInfo[] } | SubmitResult | IssuedPartyPass | TicketStatus | { ticketId: string; cancelled: true } | { matchId: string; accepted: boolean } | { pong: true; time: number };

export interface LobbyContextOptions {
  matchmaking: Matchmaking;
  auth: PlayerAuth;
  limits: LobbyLimits;
  clock: Clock;
  metrics: MatchmakerMetrics;
  log: Logger;
}

export class LobbyContext {
  readonly matchmaking: Matchmaking;
  readonly auth: PlayerAuth;
  readonly limits: LobbyLimits;
  readonly clock: Clock;
  readonly metrics: MatchmakerMetrics;
  readonly log: Logger;

  constructor(options: LobbyContextOptions) {
    ({ matchmaking: this.matchmaking, auth: this.auth, limits: this.limits, clock: this.clock, metrics: this.metrics, log: this.log } = options);
  }

  /** The queues' public rules: the one answer that needs no player, so HTTP serves it before login. */
  async queues(): Promise<{ queues: QueueInfo[] }> {
    return { queues: await this.matchmaking.queues() };
  }

  async run(player: LobbyPlayer, req: LobbyRequest): Promise<LobbyResult> {
    const { playerId } = player;
    switch (req.type) {
      case 'queues':
        return this.queues();
      case 'submit': {
        const { party: passes, ...request } = req.request;
        if (passes === undefined) return this.matchmaking.submit(playerId, request);
        return this.matchmaking.submit(playerId, { ...request, party: await this.auth.partyOf(playerId, passes) });
      }
      case 'party-pass':
        if (req.leader === playerId) throw new LobbyRequestInvalidError('party-pass request', [`leader: is you (${playerId}): a pass is for joining another player's party`]);
        return this.auth.issuePartyPass(player, req.leader);
      case 'cancel':
        await this.matchmaking.cancel(playerId, req.ticketId);
        return { ticketId: req.ticketId, cancelled: true };
      case 'status':
        return this.matchmaking.status(playerId, req.ticketId);
      case 'accept':
      case 'decline':
        await this.matchmaking.accept(playerId, req.matchId, req.type === 'accept');
        return { matchId: req.matchId, accepted: req.type === 'accept' };
      case 'ping':
        return { pong: true, time: this.clock.now() };
    }
  }

  /** The player's view of an error, counted in game_server_errors_total by code. */
  error(err: unknown): { status: number; body: LobbyErrorBody } {
    const out = lobbyError(err, this.log);
    this.metrics.lobbyErrors.inc({ error_type: out.body.code });
    return out;
  }

  /** Records in game_server_request_duration_seconds how long a request of `type` took since `startedMs` (performance.now()). */
  observe(type: string, startedMs: number): void {
    this.metrics.requestDuration.observe({ type }, (performance.now() - startedMs) / 1000);
  }
}
