import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../core/logger.js';
import { createRecordsMetrics, Registry } from '../core/metrics.js';
import { TcpRelay } from '../test/helpers/tcp-relay.js';
import { openRecordsDatabase, type DeferredDatabase } from './deferred-database.js';
import { MatchRecords } from './match-records.js';
import { openTestDatabase, testPostgresConfig, type TestDatabase } from './test-database.js';

// A service that starts before its PostgreSQL does (pods in any order): the real database behind a
// relay that refuses connections until the test lets them through.
describe('openRecordsDatabase', () => {
  let test: TestDatabase | undefined;
  let relay: TcpRelay | undefined;
  let db: DeferredDatabase | undefined;
  afterEach(async () => {
    await db?.close();
    await relay?.close();
    await test?.drop();
    db = relay = test = undefined;
  });

  /** A test database behind a relay that refuses connections for now; the config that reaches it through the relay. */
  async function databaseDown() {
    test = await openTestDatabase('postgres');
    relay = await TcpRelay.start('127.0.0.1', testPostgresConfig().port);
    relay.refusing = true;
    return { ...testPostgresConfig(), port: relay.port };
  }

  it('opens and migrates a database that was down when the service started, and the records kept meanwhile are written', async () => {
    const config = await databaseDown();
    db = openRecordsDatabase({ config, log: silentLogger, pgliteDir: '/nonexistent', schema: test!.schema, retry: { retryDelayMs: 20, maxRetryDelayMs: 50 } });
    await expect(db.query('SELECT 1')).rejects.toThrow(/PostgreSQL at 127\.0\.0\.1:\d+/);

    const records = new MatchRecords(db, silentLogger, createRecordsMetrics(new Registry()), 'site-a', { retryDelayMs: 20, maxRetryDelayMs: 50 });
    const at = new Date(Date.UTC(2026, 0, 1, 12));
    records.matchMade({ id: 'm-1', queue: 'duel', mode: 'duel', fleet: 'arena', gameServer: 'gs-1', createdAt: at, players: [{ playerId: 'alice', ticketId: 't-1', team: 0, queuedAt: at }] });
    await new Promise((r) => setTimeout(r, 200));
    relay!.refusing = false;
    await records.flush();

    const { rows } = await test!.db.query<{ id: string; players: unknown }>('SELECT id, players FROM matches');
    expect(rows).toEqual([{ id: 'm-1', players: [{ playerId: 'alice', team: '0' }] }]);
    // Opened through the migrations, which the first attempts never reached.
    const migrations = await test!.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(migrations.rows[0]!.n).toBeGreaterThan(0);
  });

  it('tries again only after the back-off: queries meanwhile fail at once, without a connection each', async () => {
    const config = await databaseDown();
    db = openRecordsDatabase({ config, log: silentLogger, pgliteDir: '/nonexistent', schema: test!.schema, retry: { retryDelayMs: 60_000 } });
    await expect(db.query('SELECT 1')).rejects.toThrow(/PostgreSQL at 127/);
    const asked = relay!.accepted;
    await Promise.all(Array.from({ length: 20 }, () => expect(db!.query('SELECT 1')).rejects.toThrow(/PostgreSQL at 127/)));
    expect(relay!.accepted).toBe(asked);
  });
});
