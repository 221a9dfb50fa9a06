import type { Redis } from 'ioredis';
import { asRedisUnavailable } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { closeRedis, isRedisUp, openRedis, reportOutages, type RedisConnection } from '../../core/redis-connection.js';
import type { MatchmakerMessage } from '../ticket.js';
import type { MatchEvents } from './match-events.js';

export interface RedisMatchEventsOptions {
  /** A redis:// URL, or ioredis options (host, port, password...). */
  connection: RedisConnection;
  /** Starts the channel name, so several stacks (or tests) can share one Redis. */
  prefix?: string;
  /** Where a listener that throws, or an outage of Redis, is reported (the others still hear the event). */
  log?: Logger;
  /** A command with no reply after this long fails, and the connection is remade (matchmaker.redis_command_timeout_seconds); unset, it waits. */
  commandTimeoutMs?: number;
}

/**
 * MatchEvents through Redis pub/sub: one channel for every player (`<prefix>player-events`), each
 * message `[playerId, event]` in JSON. Every matchmaker process subscribes once and filters for its
 * own sockets; one channel keeps that to one subscription per process, whatever the player count.
 * The subscription uses its own connection (a subscribed Redis connection can do nothing else),
 * opened on the first subscribe.
 */
export class RedisMatchEvents implements MatchEvents {
  private readonly redis: Redis;
  private readonly channel: string;
  private readonly log: Logger;
  private readonly listeners = new Set<(playerId: string, event: MatchmakerMessage) => void>();
  private subscriber: Redis | undefined;
  private subscription: Promise<void> | undefined;
  private readonly resubscribedListeners: Array<() => void> = [];
  private readonly commandTimeoutMs: number | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(options: RedisMatchEventsOptions) {
    this.channel = `${options.prefix ?? 'hangar:'}player-events`;
    this.log = options.log ?? silentLogger;
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.redis = openRedis(options.connection, { settings: { enableAutoPipelining: true }, role: 'player events', log: this.log, commandTimeoutMs: options.commandTimeoutMs });
  }

  /** Whether Redis is reachable for publishing and, once subscribed, for hearing: a readiness check. */
  isUp(): boolean {
    return isRedisUp(this.redis, this.subscriber);
  }

  async publish(playerId: string, event: MatchmakerMessage): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify([playerId, event]));
  }

  subscribe(listener: (playerId: string, event: MatchmakerMessage) => void): () => void {
    this.listeners.add(listener);
    if (!this.subscription) {
      this.subscription = this.open();
      // Its failure reaches whoever awaits subscribed(); nobody awaiting must not crash the process.
      this.subscription.catch(() => undefined);
    }
    return () => this.listeners.delete(listener);
  }

  async subscribed(): Promise<void> {
    await this.subscription;
  }

  onResubscribed(listener: () => void): void {
    this.resubscribedListeners.push(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.keepAlive);
    this.listeners.clear();
    await Promise.all([closeRedis(this.redis), this.subscriber && closeRedis(this.subscriber)]);
  }

  private async open(): Promise<void> {
    this.subscriber = this.redis.duplicate();
    reportOutages(this.subscriber, 'player events subscriber', this.log);
    this.subscriber.on('message', (_channel: string, message: string) => this.deliver(message));
    // The matchmaker awaits this at start: Redis down then stops it with a coded error.
    await this.subscriber.subscribe(this.channel).catch((err: unknown) => {
      throw asRedisUnavailable(err) ?? err;
    });
    // Every later 'ready' is a reconnect, on which ioredis subscribes again by itself.
    this.subscriber.on('ready', () => {
      for (const listener of this.resubscribedListeners) listener();
    });
    // A subscriber sends nothing of its own, so a partition that drops packets would go unnoticed
    // (and its news unheard) for ever: a PING now and then times out there, and remakes the connection.
    if (this.commandTimeoutMs !== undefined) {
      const subscriber = this.subscriber;
      this.keepAlive = setInterval(() => void subscriber.ping().catch(() => undefined), this.commandTimeoutMs * KEEPALIVE_TIMEOUTS);
      this.keepAlive.unref();
    }
  }

  private deliver(message: string): void {
    const [playerId, event] = JSON.parse(message) as [string, MatchmakerMessage];
    for (const listener of this.listeners) {
      try {
        listener(playerId, event);
      } catch (err) {
        this.log.error({ err, playerId, event: event.type }, 'player event listener failed');
      }
    }
  }
}

/** The subscriber's PING comes every this many command timeouts: a partition is noticed within that many and one more. */
const KEEPALIVE_TIMEOUTS = 2;
