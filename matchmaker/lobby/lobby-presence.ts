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
//
// A lobby process that cannot reach the ticket queue while the other processes can would have its
// players' tickets dropped by them as absent, and cannot push its players anything meanwhile. So
// when the queue is unreachable at two reports in a row (a third of the grace), it hands its
// sockets off: closes them, asking the clients to reconnect, to another lobby process behind the
// load balancer (this one is not ready), where they are seen a third of the grace or more before
// their tickets would be dropped. Once per outage: a client back on this process stays until the
// queue is reachable again, so an outage of every process costs each player one reconnect.

export interface LobbyPresenceOptions {
  matchmaking: Pick<Matchmaking, 'present'>;
  clock: Clock;
  log: Logger;
  /** lobby.ticket_grace_seconds. */
  graceSeconds: number;
  /** Whether the ticket queue can be reached from this process (the matchmaker's readiness check). */
  queueUp: () => boolean;
}

export class LobbyPresence {
  /** Open sockets per player. */
  private readonly sockets = new Map<string, number>();
  /** Players who made a request over HTTP since the last report. */
  private requesters = new Set<string>();
  private readonly stopReports: Cancel;
  /** The first report at which the queue was unreachable, in the outage going on. */
  private downSince: number | undefined;
  /** The sockets were handed off in the outage going on. */
  private handedOff = false;
  private readonly handOffListeners: Array<() => void> = [];

  constructor(private readonly options: LobbyPresenceOptions) {
    this.stopReports = options.clock.every((options.graceSeconds * 1000) / 3, () => this.report());
  }

  /** `listener` closes this process's sockets, asking their clients to reconnect elsewhere: the queue cannot hear of them from here. */
  onHandOff(listener: () => void): void {
    this.handOffListeners.push(listener);
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
    const at = this.options.clock.now();
    this.watchQueue();
    const present = this.requesters;
    this.requesters = new Set();
    for (const playerId of this.sockets.keys()) present.add(playerId);
    // A report that fails was not heard: the outage, if the queue is found unreachable next time,
    // began with it. A partition that drops packets only shows as unreachable once this fails.
    if (present.size) this.tell([...present], () => void (this.downSince ??= at));
  }

  private watchQueue(): void {
    const { clock, graceSeconds, log, queueUp } = this.options;
    const now = clock.now();
    if (queueUp()) {
      this.downSince = undefined;
      this.handedOff = false;
      return;
    }
    this.downSince ??= now;
    if (this.handedOff || this.sockets.size === 0 || now - this.downSince < (graceSeconds * 1000) / 3) return;
    this.handedOff = true;
    log.warn({ players: this.sockets.size, downSeconds: (now - this.downSince) / 1000 }, 'the ticket queue has been unreachable from this lobby for a third of lobby.ticket_grace_seconds: closing its sockets so their players reconnect to a lobby process that can tell the matchmaker they are here');
    for (const listener of this.handOffListeners) listener();
  }

  private tell(playerIds: string[], failed?: () => void): void {
    // The queue's outage is reported where it is; the next report tells the players again.
    this.options.matchmaking.present(playerIds).catch((err: unknown) => {
      failed?.();
      this.options.log.warn({ err, players: playerIds.length }, 'telling the matchmaker which players are at the lobby failed');
    });
  }
}
