import { Redis, type RedisOptions } from 'ioredis';
import { silentLogger, type Logger } from './logger.js';

// Every Redis client Hangar opens (the game-server store, the ticket queue, their subscribers).
// ioredis reconnects by itself; what it does not do is say so usefully: without an 'error'
// listener it prints every failed reconnect's stack as an unhandled error, and a command sent
// while Redis is down waits through twenty reconnects (tens of seconds) before it fails. Here an
// outage is logged once, with where and why, and once more when Redis is back; a command fails
// after one reconnect attempt; and `isRedisUp` feeds the services' readiness.

export type RedisConnection = string | RedisOptions;

/** Commands sent while Redis is down fail after this many reconnect attempts (ioredis' default is 20). */
const RETRIES_PER_COMMAND = 1;

export interface OpenRedisOptions {
  /** Settings of this client (auto-pipelining, a key prefix...), under the connection's own. */
  settings?: RedisOptions;
  /** What this client is for, in its outage logs ("game-server store", "ticket queue"). */
  role: string;
  log?: Logger;
}

export function openRedis(connection: RedisConnection, options: OpenRedisOptions): Redis {
  const settings: RedisOptions = { maxRetriesPerRequest: RETRIES_PER_COMMAND, ...options.settings };
  const client = typeof connection === 'string' ? new Redis(connection, settings) : new Redis({ ...settings, ...connection });
  reportOutages(client, options.role, options.log ?? silentLogger);
  return client;
}

/**
 * Logs an outage of `client` once per distinct cause, and its end; a client made with
 * `duplicate()` (a subscriber) needs its own call, as listeners are not copied.
 */
export function reportOutages(client: Redis, role: string, log: Logger): void {
  const where = `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
  let cause: string | undefined;
  client.on('error', (err: Error) => {
    if (err.message === cause) return;
    cause = err.message;
    log.error({ redis: where, role, cause }, `cannot reach Redis at ${where} for the ${role}: ${cause}; retrying (check REDIS_URL, or REDIS_HOST and REDIS_PORT)`);
  });
  client.on('ready', () => {
    if (cause === undefined) return;
    cause = undefined;
    log.info({ redis: where, role }, `Redis at ${where} is reachable again for the ${role}`);
  });
}

/** Whether `client`, and each of `others` made so far (a subscriber opened on first use), is connected and takes commands: a readiness check. */
export function isRedisUp(client: Redis, ...others: Array<Redis | undefined>): boolean {
  return client.status === 'ready' && others.every((c) => c === undefined || c.status === 'ready');
}

/**
 * Closes `client` politely (QUIT, after the replies in flight) when Redis answers, and at once when
 * it does not: closing must not fail because Redis is gone, or stopping a service would.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // QUIT's reply never came: the connection closed under it.
    }
  }
  client.disconnect();
}
