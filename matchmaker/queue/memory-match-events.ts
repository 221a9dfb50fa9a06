import { silentLogger, type Logger } from '../../core/logger.js';
import type { MatchmakerMessage } from '../ticket.js';
import type { MatchEvents } from './match-events.js';

export interface MemoryMatchEventsOptions {
  /** Where a listener that throws is reported (the others still hear the event). */
  log?: Logger;
}

/** MatchEvents for one process: publish calls every listener before it resolves. */
export class MemoryMatchEvents implements MatchEvents {
  private readonly listeners = new Set<(playerId: string, event: MatchmakerMessage) => void>();
  private readonly log: Logger;

  constructor(options: MemoryMatchEventsOptions = {}) {
    this.log = options.log ?? silentLogger;
  }

  async publish(playerId: string, event: MatchmakerMessage): Promise<void> {
    for (const listener of this.listeners) {
      try {
        listener(playerId, event);
      } catch (err) {
        this.log.error({ err, playerId, event: event.type }, 'player event listener failed');
      }
    }
  }

  subscribe(listener: (playerId: string, event: MatchmakerMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async subscribed(): Promise<void> {}

  /** Nothing is missed within one process. */
  onResubscribed(): void {}

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
