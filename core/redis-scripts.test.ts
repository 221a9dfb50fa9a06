import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { removeRedisKeys } from '../test/helpers/redis-keys.js';
import { defineScripts } from './redis-scripts.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('defineScripts (real Redis)', () => {
  const prefix = `hangar-scripts-test:${randomUUID()}:`;
  const redis = new Redis(REDIS, { enableAutoPipelining: true });
  afterAll(async () => {
    await removeRedisKeys(redis, prefix);
    await redis.quit();
  });

  it('runs a script with the prefix first, and again after Redis forgot every script', async () => {
    const run = defineScripts(redis, prefix, { add: `return redis.call('INCRBY', ARGV[1] .. 'n', ARGV[2])` });
    expect(await Promise.all([run('add', ['2']), run('add', ['3'])])).toEqual([2, 5]);
    // Another process's SCRIPT FLUSH (or a Redis restart): the next call answers NOSCRIPT and is sent again with the script.
    await redis.script('FLUSH');
    expect(await run('add', ['10'])).toBe(15);
  });

  it('passes Lua errors through as they are', async () => {
    const run = defineScripts(redis, prefix, { broken: `return redis.call('NOSUCHCOMMAND')` });
    await expect(run('broken', [])).rejects.toThrow(/Unknown Redis command|unknown command/i);
  });
});
