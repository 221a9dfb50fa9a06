import type { Cancel, Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Matchmaking } from './matchmaking.js';

// Who is at this lobby process, told to the matchmaker (Matchmaking.present) so it keeps their
// tickets and drops those whose players all went away (LOBBY.md, "Tickets of players who leave").
// Players with a socket open here and those who made an HTTP request are told together, every
// third of the grace: a connected or polling player is seen again long before it runs out, at one
// call per period rather than one per request. A socket's opening and closing are told at once:
// a player who reconnects (here or on another lobby process) is seen as they return, and one who
// leaves has the whole grace from the moment they left.

export interface LobbyPresenceOptions {
  matchmaking: Pick<Matchmaking, 'present'>;
  clock: Clock;
  log: Logger;
  /** lobby.ticket_grace_seconds. */
  graceSeconds: number;
}

export class LobbyPresence {
  /** Open sockets per player. */
  private readonly sockets = new Map<string, number>();
  /** Players who made a request over HTTP since the last report. */
  private requesters = new Set<string>();
  private readonly stopReports: Cancel;

  constructor(private readonly options: LobbyPresenceOptions) {
    this.stopReports = options.clock.every((options.graceSeconds * 1000) / 3, () => this.report());
  }

  opened(playerId: string): void {
    this.sockets.set(playerId, (this.sockets.get(playerId) ?? 0) + 1);
    this.tell([playerId]);
  }

  closed(playerId: string): void {
    const open = this.sockets.get(playerId)! - 1;
    if (open > 0) this.sockets.set(playerId, open);
    else this.sockets.delete(playerId);
    this.tell([playerId]);
  }

  /** An authenticated HTTP request: the player is here, as far as a polling client can be. */
  requested(playerId: string): void {
    this.requesters.add(playerId);
  }

  close(): void {
    this.stopReports();
  }

  private report(): void {
    const present = this.requesters;
    this.requesters = new Set();
    for (const playerId of this.sockets.keys()) present.add(playerId);
    if (present.size) this.tell([...present]);
  }

  private tell(playerIds: string[]): void {
    // The queue's outage is reported where it is; the next report tells the players again.
    this.options.matchmaking.present(playerIds).catch((err: unknown) => this.options.log.warn({ err, players: playerIds.length }, 'telling the matchmaker which players are at the lobby failed'));
  }
}
