import type { MatchmakerMessage } from '../ticket.js';

// What players are told, across matchmaker processes: a player's WebSocket sits on whichever
// process the load balancer picked, and the match that concerns them may be made by another. Every
// process subscribes once and pushes the events of the players connected to it.
//
// Delivery is at most once: a process that is disconnected from Redis when an event is published
// misses it. Events are notifications; the ticket's state (TicketQueue.get, the lobby's status
// endpoint) is the truth a client falls back on after a reconnect.

export interface MatchEvents {
  /** Tells `playerId`, wherever their socket is: every subscriber of every process hears it. */
  publish(playerId: string, event: MatchmakerMessage): Promise<void>;
  /** Hears every event for every player, in the order published (per publishing process); returns the unsubscribe. */
  subscribe(listener: (playerId: string, event: MatchmakerMessage) => void): () => void;
  /** Resolves once listeners hear every later publish from any process; at once when nothing subscribed. */
  subscribed(): Promise<void>;
  /**
   * Calls `listener` each time the subscription is made again after its connection was lost: the
   * events published meanwhile were missed here. Never, where nothing can be missed (one process).
   */
  onResubscribed(listener: () => void): void;
  close(): Promise<void>;
}
