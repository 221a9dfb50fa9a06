import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { redisKeyPrefix } from '../../core/config.js';
import { GameServerState as S } from '../../core/game-server.js';
import { testPostgresConfig } from '../../records/test-database.js';
import { RedisGameServerStore } from '../../store/redis-game-server-store.js';
import { freeTcpPort } from '../helpers/free-port.js';
import { testGameServer } from '../helpers/game-servers.js';
import { waitFor } from '../helpers/local-stack-fixture.js';
import { removeRedisKeys } from '../helpers/redis-keys.js';
import { startRedisServer } from '../helpers/redis-server.js';

// The standalone allocator (`node dist/allocator/main.js`, the image's `allocator` command) over
// the Redis store, as docker-compose runs it beside `hangar up`: both open the store under the
// configured allocator.redis_prefix, so the servers one registers are the ones the other allocates.

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const API_KEY = 'matchmaker-0123456789abcdef';

interface AllocatorProcess {
  child: ChildProcess;
  apiPort: number;
  adminPort: number;
  /** Everything it wrote so far, stdout and stderr. */
  output(): string;
  /** Kills it and removes its records schema and state directory. */
  stop(): Promise<void>;
}

/** `node dist/allocator/main.js` over the Redis store at `redisUrl`, with records in a schema of its own. */
async function startAllocatorProcess(redisUrl: string, extraEnv: Record<string, string> = {}): Promise<AllocatorProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-alloc-'));
  const schema = `hangar_alloc_${randomBytes(4).toString('hex')}`;
  const [apiPort, adminPort] = [await freeTcpPort(), await freeTcpPort()];
  const child = spawn(process.execPath, ['dist/allocator/main.js'], {
    env: {
      PATH: process.env.PATH,
      REDIS_URL: redisUrl,
      HANGAR_ALLOCATOR__BACKEND: 'redis',
      ALLOCATOR_API_KEYS: `matchmaker=${API_KEY}`,
      DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test',
      HANGAR_RECORDS__SCHEMA: schema,
      HANGAR_API__PORT: String(apiPort),
      HANGAR_ADMIN__PORT: String(adminPort),
      HANGAR_LOCAL__STATE_DIR: path.join(dir, 'state'),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return {
    child,
    apiPort,
    adminPort,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      const db = testPostgresConfig();
      const client = new pg.Client({ host: db.host, port: db.port, database: db.database, user: db.user });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the standalone allocator over Redis', () => {
  const prefix = `hangar-e2e-${randomBytes(4).toString('hex')}`;
  let store: RedisGameServerStore;
  let allocator: AllocatorProcess;
  let api: string;

  beforeAll(async () => {
    // Registered as the local stack registers them: under the same setting, through the same function.
    store = new RedisGameServerStore({ connection: REDIS, prefix: redisKeyPrefix(prefix) });
    for (let i = 0; i < 2; i++) {
      const gs = testGameServer(`arena-${i}`, { fleet: 'arena' });
      await store.create({ ...gs, status: { ...gs.status, state: S.Ready, address: '127.0.0.1', ports: [{ name: 'default', port: 7100 + i }] } });
    }
    allocator = await startAllocatorProcess(REDIS, { HANGAR_ALLOCATOR__REDIS_PREFIX: prefix });
    await waitFor('the allocator ready', async () => (await fetch(`http://127.0.0.1:${allocator.adminPort}/health/ready`).catch(() => undefined))?.ok);
    api = `http://127.0.0.1:${allocator.apiPort}/gameserverallocation`;
  }, 30_000);

  afterAll(async () => {
    await allocator?.stop();
    await store?.close();
    const redis = new Redis(REDIS);
    await removeRedisKeys(redis, redisKeyPrefix(prefix));
    await redis.quit();
  });

  const allocate = (body: unknown, key = API_KEY) =>
    fetch(api, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

  it('allocates a server the store holds under the configured prefix, and the store sees it Allocated', async () => {
    const res = await allocate({ spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] } });
    expect(res.status).toBe(200);
    const result = (await res.json()) as { state: string; gameServerName: string; address: string; ports: Array<{ port: number }> };
    expect(result).toMatchObject({ state: 'Allocated', address: '127.0.0.1' });
    expect(['arena-0', 'arena-1']).toContain(result.gameServerName);
    expect((await store.get(result.gameServerName))?.status.state).toBe(S.Allocated);
    const redis = new Redis(REDIS);
    try {
      expect(await redis.exists(`${prefix}:gs:${result.gameServerName}`)).toBe(1);
    } finally {
      await redis.quit();
    }
  });

  it('refuses a request without a valid key (401) and a malformed one naming the field (400), and allocates the next server after them', async () => {
    expect((await allocate({ spec: { selectors: [] } }, 'wrong-key')).status).toBe(401);
    const bad = await allocate({ spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 7 } }] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('selectors[0].matchLabels');
    const res = await allocate({ spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] } });
    expect(((await res.json()) as { state: string }).state).toBe('Allocated');
    const none = await allocate({ spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] } });
    expect(((await none.json()) as { state: string }).state).toBe('UnAllocated');
  });
});

describe('the standalone allocator drained with a matchmaker\'s stream open', () => {
  const prefix = `hangar-e2e-${randomBytes(4).toString('hex')}`;
  let allocator: AllocatorProcess | undefined;
  afterAll(async () => {
    await allocator?.stop();
    const redis = new Redis(REDIS);
    await removeRedisKeys(redis, redisKeyPrefix(prefix));
    await redis.quit();
  });

  it('answers the drain, closes the stream (1001) so its client reconnects elsewhere, and exits 0 on SIGTERM', async () => {
    allocator = await startAllocatorProcess(REDIS, { HANGAR_ALLOCATOR__REDIS_PREFIX: prefix, HANGAR_ADMIN__DRAIN_DELAY_SECONDS: '1' });
    const admin = `http://127.0.0.1:${allocator.adminPort}`;
    await waitFor('the allocator ready', async () => (await fetch(`${admin}/health/ready`).catch(() => undefined))?.ok);
    const stream = new WebSocket(`ws://127.0.0.1:${allocator.apiPort}/gameserverallocation/stream`, { headers: { authorization: `Bearer ${API_KEY}` } });
    await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));
    const closed = new Promise<[number, string]>((resolve) => stream.once('close', (code, reason) => resolve([code, reason.toString()])));
    const answered = new Promise<string>((resolve) => stream.once('message', (data) => resolve(data.toString())));
    stream.send(JSON.stringify({ id: 1, allocation: { spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] } } }));
    expect(JSON.parse(await answered)).toMatchObject({ id: 1, result: { state: 'UnAllocated' } });

    const drain = fetch(`${admin}/admin/drain`, { method: 'POST', signal: AbortSignal.timeout(15_000) });
    await waitFor('readiness 503', async () => (await fetch(`${admin}/health/ready`)).status === 503);
    expect((await drain).status).toBe(200);
    expect(await closed).toEqual([1001, 'the allocator is draining: reconnect']);

    const exited = new Promise<number | null>((resolve) => allocator!.child.once('exit', (code) => resolve(code)));
    allocator.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});

describe('the standalone allocator while Redis is down', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('is not ready and answers 503 REDIS_UNAVAILABLE, says so once, and serves once Redis is back', async () => {
    const redisPort = await freeTcpPort();
    const allocator = await startAllocatorProcess(`redis://127.0.0.1:${redisPort}`);
    cleanups.push(() => allocator.stop());
    const ready = async () => {
      const res = await fetch(`http://127.0.0.1:${allocator.adminPort}/health/ready`);
      return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, boolean> } };
    };
    const allocate = () =>
      fetch(`http://127.0.0.1:${allocator.apiPort}/gameserverallocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] } }),
      });

    const down = await waitFor('the allocator listening', async () => (await ready().catch(() => undefined)) ?? false);
    expect(down).toEqual({ status: 503, body: { status: 'not ready', checks: { redis: false } } });
    const refused = await allocate();
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: { code: 'REDIS_UNAVAILABLE', message: expect.stringMatching(/^Redis is unreachable: /) } });
    const outage = new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${redisPort} for the game-server store: [^"]*ECONNREFUSED`, 'g');
    expect(allocator.output().match(outage)).toHaveLength(1);
    expect(allocator.output()).not.toContain('Unhandled error event');

    const redis = startRedisServer(redisPort);
    cleanups.push(() => redis.kill());
    await waitFor('the allocator ready again', async () => (await ready()).status === 200);
    expect(allocator.output()).toContain(`Redis at 127.0.0.1:${redisPort} is reachable again for the game-server store`);
    const served = await allocate();
    expect(served.status).toBe(200);
    expect(((await served.json()) as { state: string }).state).toBe('UnAllocated');
  }, 40_000);
});
