import type { Redis } from 'ioredis';

// Tests and benchmarks share the machine's Redis: each works under a key prefix of its own and
// removes what it wrote, without FLUSHDB touching anyone else's keys.

/** Deletes every key that starts with `prefix` (SCAN, so Redis is never blocked for long). */
export async function removeRedisKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
