import { Redis, type Command, type RedisOptions } from 'ioredis';
import { REDIS_COMMAND_TIMED_OUT } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

// Every Redis client Hangar opens (the game-server store, the ticket queue, their subscribers).
// ioredis reconnects by itself; what it does not do is say so usefully: without an 'error'
// listener it prints every failed reconnect's stack as an unhandled error, and a command sent
// while Redis is down waits through twenty reconnects (tens of seconds) before it fails. Here an
// outage is logged once, with where and why, and once more when Redis is back; a command fails
// after one reconnect attempt; and `isRedisUp` feeds the services' readiness.
//
// A partition that drops packets silently is worse: the socket stays open, ioredis stays "ready",
// and every command waits for a reply that never comes. A client given a command timeout fails such
// a command after it and drops the connection: the commands behind it would wait as long, and a
// reply arriving late would be taken for a later command's. Reconnecting, it is not ready (and
// `isRedisUp` says so) until Redis answers again.

export type RedisConnection = string | RedisOptions;

/** Commands sent while Redis is down fail after this many reconnect attempts (ioredis' default is 20). */
const RETRIES_PER_COMMAND = 1;

export interface OpenRedisOptions {
  /** Settings of this client (auto-pipelining, a key prefix...), under the connection's own. */
  settings?: RedisOptions;
  /** What this client is for, in its outage logs ("game-server store", "ticket queue"). */
  role: string;
  log?: Logger;
  /** A command with no reply after this long fails (REDIS_UNAVAILABLE) and the connection is remade; unset, commands wait as long as the connection stays open. */
  commandTimeoutMs?: number;
}

export function openRedis(connection: RedisConnection, options: OpenRedisOptions): Redis {
  const settings: RedisOptions = {
    maxRetriesPerRequest: RETRIES_PER_COMMAND,
    ...options.settings,
    // A command whose reply never came is not sent again on the next connection: its caller was
    // told it failed (at its timeout), and a write done after all would surprise it.
    ...(options.commandTimeoutMs !== undefined && { commandTimeout: options.commandTimeoutMs, autoResendUnfulfilledCommands: false }),
  };
  const client = typeof connection === 'string' ? new Redis(connection, settings) : new Redis({ ...settings, ...connection });
  reportOutages(client, options.role, options.log ?? silentLogger);
  return client;
}

/**
 * Remakes the connection of `client` when a command sent on it times out (the header says why),
 * and judges a timeout only once the replies waiting on the socket are read: after a stall (a GC
 * pause, a host short of CPU) the timers run before the socket is read, and ioredis alone failed
 * commands Redis had answered in time (and done), then this dropped the connection and every
 * command in flight on it.
 */
function reconnectOnTimeout(client: Redis, role: string, log: Logger, where: string): void {
  const send = client.sendCommand.bind(client);
  // The connection each command was last written to (a command queued offline is sent again once
  // connected): one that times out after its connection was remade already says nothing of the new one.
  const sentOn = new WeakMap<Command, unknown>();
  const judgeTimeoutLater = (command: Command): void => {
    const reject = command.reject;
    command.reject = (err: Error) => {
      if (err.message !== REDIS_COMMAND_TIMED_OUT) return reject(err);
      // setImmediate runs after the poll phase, which reads what the socket holds.
      setImmediate(() => {
        if (command.isSettled) return;
        reject(err);
        if (client.status !== 'ready' || sentOn.get(command) !== client.stream) return;
        log.error({ redis: where, role, timeoutMs: client.options.commandTimeout }, `Redis at ${where} did not answer the ${role} within ${client.options.commandTimeout} ms: reconnecting`);
        client.disconnect(true);
      });
    };
  };
  client.sendCommand = (command, stream) => {
    if (!sentOn.has(command)) judgeTimeoutLater(command);
    const reply = send(command, stream);
    sentOn.set(command, client.stream);
    return reply;
  };
}

/**
 * Logs an outage of `client` once per distinct cause, and its end, and remakes its connection when
 * a command times out (with `commandTimeout` set); a client made with `duplicate()` (a subscriber)
 * needs its own call, as listeners are not copied.
 */
export function reportOutages(client: Redis, role: string, log: Logger): void {
  const where = `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
  if (client.options.commandTimeout !== undefined) reconnectOnTimeout(client, role, log, where);
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
