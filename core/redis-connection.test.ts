import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { freeTcpPort } from '../test/helpers/free-port.js';
import { waitFor } from '../test/helpers/local-stack-fixture.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { asRedisUnavailable } from './errors.js';
import { createLogger } from './logger.js';
import { closeRedis, isRedisUp, openRedis } from './redis-connection.js';

// A real Redis that is not there yet, then is: a redis-server started on the port the client was
// pointed at, as an operator would bring it back.

function capturedLogger() {
  const lines: Array<{ level: number; msg: string; redis?: string; role?: string }> = [];
  return { log: createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) } }), lines };
}

describe('openRedis', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('reports an outage once with where and why, fails commands fast and coded, and reports the recovery', async () => {
    const port = await freeTcpPort();
    const { log, lines } = capturedLogger();
    const unhandled = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    cleanups.push(() => unhandled.mockRestore());
    const client = openRedis(`redis://127.0.0.1:${port}`, { role: 'ticket queue', log });
    cleanups.push(() => client.disconnect());

    // Several reconnects fail meanwhile; one line says so.
    await waitFor('the outage logged', async () => lines.some((l) => l.level === 50));
    const started = Date.now();
    const failure = await client.get('anything').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(asRedisUnavailable(failure)).toMatchObject({ code: 'REDIS_UNAVAILABLE', message: expect.stringMatching(/^Redis is unreachable: /) });
    expect(isRedisUp(client)).toBe(false);
    const outages = lines.filter((l) => l.level === 50);
    expect(outages).toHaveLength(1);
    expect(outages[0]).toMatchObject({ redis: `127.0.0.1:${port}`, role: 'ticket queue' });
    expect(outages[0]!.msg).toMatch(new RegExp(`^cannot reach Redis at 127\\.0\\.0\\.1:${port} for the ticket queue: .*ECONNREFUSED.*; retrying \\(check REDIS_URL`));
    // ioredis prints each failed reconnect as an unhandled error when nobody listens.
    expect(unhandled).not.toHaveBeenCalled();

    const server = startRedisServer(port);
    cleanups.push(() => server.kill());
    await waitFor('the client connected', async () => isRedisUp(client));
    expect(await client.set('hangar-test:up', '1')).toBe('OK');
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: `Redis at 127.0.0.1:${port} is reachable again for the ticket queue` });
  }, 30_000);

  it('does not time out commands whose replies came while the process was too busy to read them, nor drop the connection', async () => {
    // A matchmaker starved of CPU (a GC pause, a loaded host) runs its timers before it reads the
    // replies waiting on its socket: those commands were answered in time, and their writes done.
    const { log, lines } = capturedLogger();
    const client = openRedis('redis://127.0.0.1:6379', { role: 'ticket queue', log, commandTimeoutMs: 200 });
    const key = `test-redis-connection-busy-${process.pid}-${Date.now()}`;
    cleanups.push(async () => {
      await client.del(key);
      await closeRedis(client);
    });
    await client.ping();
    const writes = Promise.allSettled(Array.from({ length: 50 }, () => client.incr(key)));
    const busyUntil = Date.now() + 600;
    while (Date.now() < busyUntil);
    const settled = await writes;
    expect(settled.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await client.get(key)).toBe('50');
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('closes a client whose Redis has gone away without failing, and one whose Redis answers with QUIT', async () => {
    const port = await freeTcpPort();
    const server = startRedisServer(port);
    cleanups.push(() => server.kill());
    const client = openRedis(`redis://127.0.0.1:${port}`, { role: 'ticket queue', log: capturedLogger().log });
    await waitFor('the client connected', async () => isRedisUp(client));
    // QUIT sent as Redis dies: its reply never comes, and ioredis rejects it with "Connection is closed.".
    const closing = closeRedis(client);
    server.kill('SIGKILL');
    await closing;
    // Ended (no reconnecting for ever), whichever came first, the reply or the death.
    await waitFor('the client ended', async () => client.status === 'end');
    const again = openRedis(`redis://127.0.0.1:${port}`, { role: 'ticket queue', log: capturedLogger().log });
    await closeRedis(again);
    await waitFor('the client ended', async () => again.status === 'end');

    const live = openRedis('redis://127.0.0.1:6379', { role: 'ticket queue', log: capturedLogger().log });
    await waitFor('the client connected', async () => isRedisUp(live));
    await closeRedis(live);
    await waitFor('the client ended', async () => live.status === 'end');
  }, 30_000);

  it('names a connection closed under a command, and leaves errors that are not about reaching Redis alone', () => {
    expect(asRedisUnavailable(new Error('Connection is closed.'))).toMatchObject({ code: 'REDIS_UNAVAILABLE', message: 'Redis is unreachable: the connection closed' });
    expect(asRedisUnavailable(new Error('ERR wrong number of arguments'))).toBeUndefined();
    expect(asRedisUnavailable('Connection is closed.')).toBeUndefined();
  });
});
