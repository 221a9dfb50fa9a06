import { RateLimiter } from '../../allocator/rate-limiter.js';
import type { Clock } from '../../core/clock.js';
import type { ServiceConfig } from '../../core/config.js';
import { LobbyRateLimitedError } from './lobby-errors.js';

// How often the lobby may be asked, in token buckets (the allocator's RateLimiter): one per client
// address, counted before login so logins, upgrades and forged tokens cost too; one per player over
// all its sockets and HTTP; and one of refusals per socket, so a client that keeps pushing past its
// limit is disconnected instead of answered forever.

export type LobbyRateSettings = ServiceConfig['lobby']['rate_limit'];

// A socket may be refused about once a second for as long as it likes; beyond that its refusal budget drains.
const REFUSALS_PER_SECOND = 1;

export class LobbyLimits {
  private readonly addresses: RateLimiter;
  private readonly players: RateLimiter;
  private readonly refusals: RateLimiter;

  constructor(clock: Clock, settings: LobbyRateSettings) {
    this.addresses = new RateLimiter(clock, settings.address_per_second, settings.address_burst);
    this.players = new RateLimiter(clock, settings.player_per_second, settings.player_burst);
    this.refusals = new RateLimiter(clock, REFUSALS_PER_SECOND, settings.close_after_refusals);
  }

  /** Takes one request from the client address; LobbyRateLimitedError when it is over. */
  address(address: string): void {
    const retryMs = this.addresses.take(address);
    if (retryMs > 0) throw new LobbyRateLimitedError(`too many requests from ${address}; retry in ${retryMs} ms`, retryMs);
  }

  /** Takes one request from the player; LobbyRateLimitedError when it is over. */
  player(playerId: string): void {
    const retryMs = this.players.take(playerId);
    if (retryMs > 0) throw new LobbyRateLimitedError(`player ${playerId} is sending requests too fast; retry in ${retryMs} ms`, retryMs);
  }

  /** Counts one refusal against a socket: true when it has been refused too often and should be closed. */
  refused(socketKey: string): boolean {
    return this.refusals.take(socketKey) > 0;
  }
}
