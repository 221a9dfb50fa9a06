import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { LobbyClient } from '../../matchmaker/lobby/lobby-client.js';
import { testPostgresConfig } from '../../records/test-database.js';
import { startTestAllocator, type TestAllocator } from '../helpers/allocator-http.js';
import { waitFor } from '../helpers/local-stack-fixture.js';
import { freeTcpPort } from '../helpers/free-port.js';

// The standalone matchmaker (`node dist/matchmaker/main.js`, the image's `matchmaker` command) as
// a process: it refuses to start without its secrets and says which; with them it serves the
// lobby, allocates over a real allocator's stream with an API key, records to PostgreSQL, and
// stops cleanly on SIGTERM, telling players whose tickets were still waiting.

const API_KEY = 'matchmaker-0123456789abcdef';

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
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await allocator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = allocator = child = undefined;
  });

  it('names every missing secret and exits 1', async () => {
    const p = run({ GAME_SERVER_ENV: 'production', HANGAR_ADMIN__PORT: String(await freeTcpPort()) });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/^matchmaker: ENCRYPTION_KEY is not set/m);
    expect(p.output()).toMatch(/^matchmaker: JWT_SECRET is not set/m);
  });

  it('serves the lobby, matches players through the allocator stream, records the match, and stops on SIGTERM, failing the tickets still waiting', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-mm-'));
    const rules = path.join(dir, 'matchmaking.yaml');
    writeFileSync(rules, 'queues:\n  - name: duel\n    fleet: arena\n    teams: { count: 2, size: 1 }\n');
    allocator = await startTestAllocator({ servers: 1, keys: { matchmaker: API_KEY } });
    const [lobbyPort, adminPort] = [await freeTcpPort(), await freeTcpPort()];
    const schema = `hangar_mm_${randomBytes(4).toString('hex')}`;
    const p = run({
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
