import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redisKeyPrefix } from '../../core/config.js';
import { MATCH_ID_ANNOTATION, MATCH_RESULT_ANNOTATION } from '../../core/hangar-metadata.js';
import { LobbyClient } from '../../matchmaker/lobby/lobby-client.js';
import { testPostgresConfig } from '../../records/test-database.js';
import { RedisGameServerStore } from '../../store/redis-game-server-store.js';
import { startTestAllocator, type TestAllocator } from '../helpers/allocator-http.js';
import { waitFor } from '../helpers/local-stack-fixture.js';
import { deployedRole, FakeKubeApi } from '../helpers/fake-kube-api.js';
import { freeTcpPort } from '../helpers/free-port.js';
import { testGameServer } from '../helpers/game-servers.js';
import { removeRedisKeys } from '../helpers/redis-keys.js';

// The standalone matchmaker (`node dist/matchmaker/main.js`, the image's `matchmaker` command) as
// a process: it refuses to start without its secrets and says which; with them it serves the
// lobby, allocates over a real allocator's stream with an API key, records its matches in
// PostgreSQL with the results the game servers of allocator.backend (here Redis) report, and
// stops cleanly on SIGTERM, telling players whose tickets were still waiting. On Agones its
// /health/ready reports the view of GameServers it records from, read with its Role in k8s/.

const API_KEY = 'matchmaker-0123456789abcdef';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function run(env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['dist/matchmaker/main.js'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  return { child, output: () => text, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

describe('the standalone matchmaker', () => {
  let dir: string | undefined;
  let allocator: TestAllocator | undefined;
  let child: ChildProcess | undefined;
  let gameServers: RedisGameServerStore | undefined;
  let storeKeys: string | undefined;
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await allocator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (gameServers) {
      await gameServers.close();
      const redis = new Redis(REDIS_URL);
      await removeRedisKeys(redis, storeKeys!);
      await redis.quit();
    }
    dir = allocator = child = gameServers = storeKeys = undefined;
  });

  it('names every missing secret and exits 1', async () => {
    const p = run({ GAME_SERVER_ENV: 'production', HANGAR_ADMIN__PORT: String(await freeTcpPort()) });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/^matchmaker: ENCRYPTION_KEY is not set/m);
    expect(p.output()).toMatch(/^matchmaker: JWT_SECRET is not set/m);
  });

  it('names a malformed secret beside the missing ones', async () => {
    const p = run({ GAME_SERVER_ENV: 'production', ENCRYPTION_KEY: 'abc123', HANGAR_ADMIN__PORT: String(await freeTcpPort()) });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/^matchmaker: ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 \(43 or 44 characters\); it has 6 characters/m);
    expect(p.output()).toMatch(/^matchmaker: JWT_SECRET is not set/m);
  });

  it('reports its view of Agones GameServers in /health/ready, and serves without it: when it starts unable to list them, and while the watch is down', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-mm-'));
    const fake = await FakeKubeApi.start({ rules: deployedRole('hangar-matchmaker') });
    // The API server refuses its first lists: it starts all the same and lists after the back-off.
    fake.failNext({ verb: 'list' }, 503, 2);
    const schema = `hangar_mm_${randomBytes(4).toString('hex')}`;
    try {
      const kubeconfig = path.join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, fake.kubeConfigYaml());
      const adminPort = await freeTcpPort();
      const p = run({
        HANGAR_ALLOCATOR__BACKEND: 'agones',
        HANGAR_ALLOCATOR__NAMESPACE: 'default',
        HANGAR_ALLOCATOR__CLUSTER: 'test',
        KUBECONFIG: kubeconfig,
        ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        ALLOCATOR_URL: 'http://127.0.0.1:9',
        ALLOCATOR_API_KEY: API_KEY,
        DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test',
        HANGAR_RECORDS__SCHEMA: schema,
        HANGAR_LOBBY__PORT: String(await freeTcpPort()),
        HANGAR_ADMIN__PORT: String(adminPort),
        HANGAR_LOCAL__STATE_DIR: path.join(dir, 'state'),
      });
      child = p.child;
      const ready = async () => {
        const res = await fetch(`http://127.0.0.1:${adminPort}/health/ready`);
        return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
      };
      await waitFor(`the matchmaker ready (${p.output()})`, async () => (await ready().catch(() => undefined))?.status === 200);
      await waitFor('the view listed', async () => (await ready()).body.checks['gameserver-view']);
      expect(fake.requests.filter((r) => r.verb === 'list')).toHaveLength(3);
      expect(await ready()).toEqual({ status: 200, body: { status: 'ready', checks: { queue: true, 'gameserver-view': true }, advisory: ['gameserver-view'] } });

      // Every watch fails from now on: past 15 s the check says so, and the lobby still serves.
      fake.failNext({ verb: 'watch' }, 500, 100);
      fake.dropWatches();
      const broken = await waitFor('the view reported broken', async () => {
        const r = await ready();
        return r.body.checks['gameserver-view'] === false && r;
      }, 25_000);
      expect(broken).toEqual({ status: 200, body: { status: 'ready', checks: { queue: true, 'gameserver-view': false }, advisory: ['gameserver-view'] } });
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    } finally {
      if (child?.exitCode === null) child.kill('SIGKILL');
      await fake.close();
      const db = testPostgresConfig();
      const client = new pg.Client({ host: db.host, port: db.port, database: db.database, user: db.user });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
    }
  }, 60_000);

  it('serves the lobby, matches players through the allocator stream, records the match, and stops on SIGTERM, failing the tickets still waiting', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-mm-'));
    const rules = path.join(dir, 'matchmaking.yaml');
    writeFileSync(rules, 'queues:\n  - name: duel\n    fleet: arena\n    teams: { count: 2, size: 1 }\n');
    allocator = await startTestAllocator({ servers: 1, keys: { matchmaker: API_KEY } });
    const [lobbyPort, adminPort] = [await freeTcpPort(), await freeTcpPort()];
    const schema = `hangar_mm_${randomBytes(4).toString('hex')}`;
    // The game servers it watches for results: a Redis store, as allocator.backend redis says.
    const storePrefix = `mm-test-${randomBytes(4).toString('hex')}`;
    storeKeys = redisKeyPrefix(storePrefix);
    gameServers = new RedisGameServerStore({ connection: REDIS_URL, prefix: storeKeys });
    const p = run({
      HANGAR_ALLOCATOR__BACKEND: 'redis',
      HANGAR_ALLOCATOR__REDIS_PREFIX: storePrefix,
      REDIS_URL,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      ALLOCATOR_URL: allocator.url,
      ALLOCATOR_API_KEY: API_KEY,
      DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test',
      HANGAR_RECORDS__SCHEMA: schema,
      HANGAR_LOBBY__PORT: String(lobbyPort),
      HANGAR_ADMIN__PORT: String(adminPort),
      HANGAR_MATCHMAKER__RULES_FILE: rules,
      HANGAR_LOCAL__STATE_DIR: path.join(dir, 'state'),
    });
    child = p.child;
    await waitFor(`the matchmaker ready (${p.output()})`, async () => (await fetch(`http://127.0.0.1:${adminPort}/health/ready`)).ok);

    const lobby = `http://127.0.0.1:${lobbyPort}`;
    const [alice, bob] = await Promise.all([LobbyClient.connectAsGuest(lobby, 'alice'), LobbyClient.connectAsGuest(lobby, 'bob')]);
    const tickets = await Promise.all([alice, bob].map((c) => c.submit({ queue: 'duel', latencies: { local: 5 } })));
    const [a, b] = await Promise.all([alice.awaitMatch(tickets[0]!.ticketId), bob.awaitMatch(tickets[1]!.ticketId)]);
    expect(a.server.name).toBe('gs-0');
    expect(b.matchId).toBe(a.matchId);
    alice.close();
    bob.close();

    const db = testPostgresConfig();
    const client = new pg.Client({ host: db.host, port: db.port, database: db.database, user: db.user });
    await client.connect();
    try {
      const rows = await waitFor('the match recorded', async () => {
        const r = await client.query(`SELECT id, game_server FROM ${schema}.matches`).catch(() => undefined);
        return r?.rows.length ? r.rows : undefined;
      });
      expect(rows).toEqual([{ id: a.matchId, game_server: 'gs-0' }]);

      // The match's server reports its result: the matchmaker records it.
      const annotations = { [MATCH_ID_ANNOTATION]: a.matchId, [MATCH_RESULT_ANNOTATION]: JSON.stringify({ matchId: a.matchId, winner: 'alice' }) };
      const reported = testGameServer('gs-0', { fleet: 'arena' });
      await gameServers.create({ ...reported, metadata: { ...reported.metadata, annotations }, status: { ...reported.status, state: 'Shutdown' } });
      const ended = await waitFor('the result recorded', async () => {
        const r = await client.query(`SELECT result FROM ${schema}.matches WHERE ended_at IS NOT NULL`).catch(() => undefined);
        return r?.rows.length ? r.rows : undefined;
      });
      expect(ended).toEqual([{ result: { matchId: a.matchId, winner: 'alice' } }]);

      // A ticket still waiting when the process stops dies with its in-memory queue: its player is told so.
      const carol = await LobbyClient.connectAsGuest(lobby, 'carol');
      const { ticketId } = await carol.submit({ queue: 'duel', latencies: { local: 5 } });
      const told = carol.awaitMatch(ticketId).then(
        () => 'matched',
        (err: Error) => err.message,
      );
      p.child.kill('SIGTERM');
      expect(await told).toMatch(new RegExp(`ticket ${ticketId}: failed \\(the matchmaker shut down .*submit again\\)`));
      expect(await p.exited).toBe(0);
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  }, 60_000);
});
