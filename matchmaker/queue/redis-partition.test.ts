import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { asRedisUnavailable } from '../../core/errors.js';
import { removeRedisKeys } from '../../test/helpers/redis-keys.js';
import { TcpRelay } from '../../test/helpers/tcp-relay.js';
import { eventually } from '../lobby/lobby-test-harness.js';
import type { Ticket } from '../ticket.js';
import { RedisTicketQueue } from './redis-ticket-queue.js';

// A partition that drops packets silently, between the ticket queue and the real Redis at
// 127.0.0.1:6379: a relay that accepts and reads but forwards nothing. The connection stays open,
// so only the command timeout can tell that Redis is gone.

const TIMEOUT_MS = 300;

const ticket = (id: string, playerId: string): Ticket => ({ id, queue: 'duel', ownerId: playerId, players: [{ playerId, skill: 1000 }], latencies: { 'eu-west': 20 }, createdAt: 1000 });

describe('the Redis ticket queue across a silent partition', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('fails a call within the command timeout, coded, is not up until Redis answers again, then pairs every reply with its own command and does not redo a write it failed', async () => {
    const prefix = `test-partition-${randomUUID()}:`;
    const relay = await TcpRelay.start('127.0.0.1', 6379);
    const queue = new RedisTicketQueue({ connection: { host: '127.0.0.1', port: relay.port }, prefix, commandTimeoutMs: TIMEOUT_MS });
    const admin = new Redis('redis://127.0.0.1:6379');
    cleanups.push(async () => {
      await queue.close();
      await relay.close();
      await removeRedisKeys(admin, prefix);
      await admin.quit();
    });
    await queue.add(ticket('t-alice', 'alice'));
    expect(queue.isUp()).toBe(true);

    relay.swallowing = true;
    const started = Date.now();
    const failures = await Promise.all([queue.count('duel'), queue.get('t-alice'), queue.add(ticket('t-carol', 'carol'))].map((call) => call.then(() => undefined, (err: unknown) => err)));
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(waited).toBeLessThan(TIMEOUT_MS + 1000);
    for (const failure of failures) expect(asRedisUnavailable(failure)).toMatchObject({ code: 'REDIS_UNAVAILABLE' });
    // The connection is remade, and its handshake goes unanswered too: not ready, for as long as the partition lasts.
    await eventually(() => !queue.isUp());
    await new Promise((r) => setTimeout(r, 3 * TIMEOUT_MS));
    expect(queue.isUp()).toBe(false);

    relay.swallowing = false;
    await eventually(() => queue.isUp(), 5000);
    // Had the old connection been kept, the replies of the commands swallowed would still be owed and each reply would go to the command before.
    await queue.add(ticket('t-bob', 'bob'));
    expect(await queue.count('duel')).toBe(2);
    expect(await queue.get('t-bob')).toMatchObject({ id: 't-bob', state: 'waiting' });
    expect(await queue.get('t-alice')).toMatchObject({ id: 't-alice', state: 'waiting' });
    // Carol was told her ticket was not added: it is not added behind her back on the new connection.
    expect(await queue.get('t-carol')).toBeUndefined();
  }, 15_000);
});
