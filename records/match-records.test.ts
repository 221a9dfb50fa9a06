import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../core/logger.js';
import { createRecordsMetrics, Registry } from '../core/metrics.js';
import { TcpRelay } from '../test/helpers/tcp-relay.js';
import { openDatabase, type Database } from './database.js';
import { MatchRecords, type MatchRecordsOptions } from './match-records.js';
import { migrate } from './migrate.js';
import { openTestDatabase, testPostgresConfig, type TestDatabase } from './test-database.js';

// Match records on the real PostgreSQL. Writes run in the background on a pool, so a later write
// can overtake an earlier one: a match's start and end must still land on its row.

describe('MatchRecords', () => {
  let test: TestDatabase | undefined;
  afterEach(async () => {
    await test?.drop();
    test = undefined;
  });

  it('records start and end even when they are reported before the match row is written', async () => {
    test = await openTestDatabase('postgres');
    await migrate({ db: test.db, log: silentLogger });
    const db = test.db;
    // The real database, with the match insert held back as a busy pool would.
    const slow: Pick<Database, 'query'> = {
      query: async (text: string, values?: unknown[]) => {
        if (text.startsWith('INSERT INTO matches')) await new Promise((r) => setTimeout(r, 100));
        return db.query(text, values);
      },
    } as Pick<Database, 'query'>;
    const records = new MatchRecords(slow, silentLogger, createRecordsMetrics(new Registry()), 'site-a');
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
    records.matchMade({ id: 'm-1', queue: 'duel', mode: 'duel', fleet: 'arena', gameServer: 'gs-1', createdAt: at(0), players: [{ playerId: 'alice', ticketId: 't-1', team: 0, queuedAt: at(0) }] });
    records.matchStarted('m-1', at(1));
    records.matchEnded('m-1', { reason: 'time' }, at(9));
    await records.flush();
    const { rows } = await db.query<{ started_at: Date; ended_at: Date; result: unknown }>('SELECT started_at, ended_at, result FROM matches WHERE id = $1', ['m-1']);
    expect(rows).toEqual([{ started_at: at(1), ended_at: at(9), result: { reason: 'time' } }]);
    const sessions = await db.query<{ ended_at: Date }>('SELECT ended_at FROM player_sessions WHERE match_id = $1', ['m-1']);
    expect(sessions.rows).toEqual([{ ended_at: at(9) }]);
  });

  it("dates each player's arrival from the result's connectedAt; a player left out never came, and garbage dates no one", async () => {
    test = await openTestDatabase('postgres');
    await migrate({ db: test.db, log: silentLogger });
    const records = new MatchRecords(test.db, silentLogger, createRecordsMetrics(new Registry()), 'site-a');
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
    const players = ['alice', 'bob', 'carol'].map((playerId, i) => ({ playerId, ticketId: `t-${i}`, team: i % 2, queuedAt: at(0) }));
    records.matchMade({ id: 'm-2', queue: 'duel', mode: 'duel', fleet: 'arena', gameServer: 'gs-2', createdAt: at(0), players });
    records.matchMade({ id: 'm-3', queue: 'duel', mode: 'duel', fleet: 'arena', gameServer: 'gs-3', createdAt: at(0), players });
    records.matchEnded('m-2', { reason: 'time', connectedAt: { alice: at(2).toISOString(), bob: at(3).toISOString(), mallory: at(4).toISOString() } }, at(9));
    records.matchEnded('m-3', { reason: 'time', connectedAt: { alice: 'yesterday', bob: 42 } }, at(9));
    await records.flush();
    // A second report of the same end (a retried annotation) changes nothing.
    records.matchEnded('m-2', { reason: 'score', connectedAt: { carol: at(5).toISOString() } }, at(20));
    await records.flush();
    const ended = await test.db.query<{ ended_at: Date; result: unknown }>('SELECT ended_at, result FROM matches WHERE id = $1', ['m-2']);
    expect(ended.rows).toEqual([{ ended_at: at(9), result: { reason: 'time', connectedAt: { alice: at(2).toISOString(), bob: at(3).toISOString(), mallory: at(4).toISOString() } } }]);
    const { rows } = await test.db.query<{ match_id: string; player_id: string; connected_at: Date | null }>('SELECT match_id, player_id, connected_at FROM player_sessions ORDER BY match_id, player_id');
    expect(rows).toEqual([
      { match_id: 'm-2', player_id: 'alice', connected_at: at(2) },
      { match_id: 'm-2', player_id: 'bob', connected_at: at(3) },
      { match_id: 'm-2', player_id: 'carol', connected_at: null },
      { match_id: 'm-3', player_id: 'alice', connected_at: null },
      { match_id: 'm-3', player_id: 'bob', connected_at: null },
      { match_id: 'm-3', player_id: 'carol', connected_at: null },
    ]);
  });

  it.each(['postgres', 'pglite'] as const)('(%s) ends as abandoned the open matches, old enough, whose game server is gone, sessions and all, and nothing else', async (kind) => {
    test = await openTestDatabase(kind);
    await migrate({ db: test.db, log: silentLogger });
    const records = new MatchRecords(test.db, silentLogger, createRecordsMetrics(new Registry()), 'site-a');
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
    const made = (id: string, gameServer: string, s: number) =>
      records.matchMade({ id, queue: 'duel', mode: 'duel', fleet: 'arena', gameServer, createdAt: at(s), players: [{ playerId: `${id}-p`, ticketId: `${id}-t`, team: 0, queuedAt: at(s) }] });
    made('gone', 'gs-gone', 0);
    made('alive', 'gs-alive', 0);
    made('over', 'gs-over', 0);
    made('new', 'gs-new-gone', 50);
    records.matchEnded('over', { reason: 'time' }, at(30));
    await records.flush();

    expect(await records.endOrphans(['gs-alive'], at(59), 30_000)).toEqual({ site: 'site-a', ended: 1 });
    const { rows } = await test.db.query<{ id: string; ended_at: Date | null; result: unknown }>('SELECT id, ended_at, result FROM matches ORDER BY id');
    expect(rows).toEqual([
      { id: 'alive', ended_at: null, result: null },
      {
        id: 'gone',
        ended_at: at(59),
        result: { matchId: 'gone', abandoned: true, reason: 'its game server was gone when the matchmaker started, and no result had been recorded' },
      },
      // Made 9 s before the sweep: its server may be too new for the list the sweep read.
      { id: 'new', ended_at: null, result: null },
      { id: 'over', ended_at: at(30), result: { reason: 'time' } },
    ]);
    const sessions = await test.db.query<{ match_id: string; ended_at: Date | null }>('SELECT match_id, ended_at FROM player_sessions ORDER BY match_id');
    expect(sessions.rows).toEqual([
      { match_id: 'alive', ended_at: null },
      { match_id: 'gone', ended_at: at(59) },
      { match_id: 'new', ended_at: null },
      { match_id: 'over', ended_at: at(30) },
    ]);
    // Nothing left to end: a second sweep ends nothing.
    expect(await records.endOrphans(['gs-alive'], at(59), 30_000)).toEqual({ site: 'site-a', ended: 0 });
  });

  it.each(['postgres', 'pglite'] as const)("(%s) sweeps only its own site's matches: deployments sharing the database keep theirs", async (kind) => {
    test = await openTestDatabase(kind);
    await migrate({ db: test.db, log: silentLogger });
    const metrics = createRecordsMetrics(new Registry());
    // Two clusters, or two local stacks, writing to one database; each sees only its own servers.
    const east = new MatchRecords(test.db, silentLogger, metrics, 'agones:east/hangar');
    const west = new MatchRecords(test.db, silentLogger, metrics, 'agones:west/hangar');
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
    const made = (records: MatchRecords, id: string, gameServer: string) =>
      records.matchMade({ id, queue: 'duel', mode: 'duel', fleet: 'arena', gameServer, createdAt: at(0), players: [{ playerId: `${id}-p`, ticketId: `${id}-t`, team: 0, queuedAt: at(0) }] });
    made(east, 'east-alive', 'gs-east-1');
    made(east, 'east-gone', 'gs-east-2');
    made(west, 'west-playing', 'gs-west-1');
    made(west, 'west-gone', 'gs-west-2');
    await Promise.all([east.flush(), west.flush()]);
    // Made before sites were recorded (or by an earlier version): no view can tell whose it is.
    await test.db.query("INSERT INTO matches (id, queue, mode, game_server, created_at) VALUES ('legacy', 'duel', 'duel', 'gs-old', $1)", [at(0)]);

    // East restarts: its list has only its own servers, and west's are not among them.
    expect(await east.endOrphans(['gs-east-1'], at(59), 0)).toEqual({ site: 'agones:east/hangar', ended: 1 });
    const open = async () => (await test!.db.query<{ id: string; site: string | null }>('SELECT id, site FROM matches WHERE ended_at IS NULL ORDER BY id')).rows;
    expect(await open()).toEqual([
      { id: 'east-alive', site: 'agones:east/hangar' },
      { id: 'legacy', site: null },
      { id: 'west-gone', site: 'agones:west/hangar' },
      { id: 'west-playing', site: 'agones:west/hangar' },
    ]);
    const sessions = await test.db.query<{ match_id: string }>('SELECT match_id FROM player_sessions WHERE ended_at IS NULL ORDER BY match_id');
    expect(sessions.rows.map((r) => r.match_id)).toEqual(['east-alive', 'west-gone', 'west-playing']);

    // West's own sweep still ends its own orphan.
    expect(await west.endOrphans(['gs-west-1'], at(59), 0)).toEqual({ site: 'agones:west/hangar', ended: 1 });
    expect((await open()).map((r) => r.id)).toEqual(['east-alive', 'legacy', 'west-playing']);
  });
});

// The records database restarting (or failing over) under a running matchmaker: PostgreSQL reached
// through a relay that can refuse connections, as a server that is down does.
describe('MatchRecords while the database cannot be reached', () => {
  let test: TestDatabase | undefined;
  let relay: TcpRelay | undefined;
  let viaRelay: Database | undefined;
  let records: MatchRecords | undefined;
  afterEach(async () => {
    await records?.close();
    await viaRelay?.close();
    await relay?.close();
    await test?.drop();
    records = viaRelay = relay = test = undefined;
  });

  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
  const player = (id: string) => ({ playerId: `${id}-p`, ticketId: `${id}-t`, team: 0, queuedAt: at(0) });
  const made = (id: string) => records!.matchMade({ id, queue: 'duel', mode: 'duel', fleet: 'arena', gameServer: `gs-${id}`, createdAt: at(0), players: [player(id)] });

  /** A writer on the real database through the relay, with quick retries. */
  async function start(options: MatchRecordsOptions = {}) {
    test = await openTestDatabase('postgres');
    await migrate({ db: test.db, log: silentLogger });
    relay = await TcpRelay.start('127.0.0.1', testPostgresConfig().port);
    const config = { ...testPostgresConfig(), port: relay.port };
    viaRelay = await openDatabase({ config, log: silentLogger, schema: test.schema });
    const registry = new Registry();
    const metrics = createRecordsMetrics(registry);
    records = new MatchRecords(viaRelay, silentLogger, metrics, 'site-a', { retryDelayMs: 20, maxRetryDelayMs: 80, ...options });
    const count = async (name: string, labels: Record<string, string>) => {
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
      return (metric?.values ?? []).filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
    };
    return { metrics, count };
  }

  /** Connections refused and the open ones dropped, until the returned function is called. */
  function databaseDown() {
    relay!.refusing = true;
    relay!.cut();
    return () => (relay!.refusing = false);
  }

  it("keeps a match's writes while the database is down and writes them, in order, once it is back", async () => {
    const { count } = await start();
    made('before');
    await records!.flush();

    const back = databaseDown();
    made('during');
    records!.matchStarted('before', at(1));
    records!.matchStarted('during', at(2));
    records!.matchEnded('during', { reason: 'time' }, at(9));
    // Several failed attempts and probes while it stays down.
    await new Promise((r) => setTimeout(r, 300));
    expect(await count('hangar_records_flush_duration_seconds', { table: 'matches', outcome: 'error' })).toBeGreaterThan(0);
    expect(await count('hangar_records_buffered', { table: 'matches' })).toBe(4);
    back();
    await records!.flush();

    const { rows } = await test!.db.query('SELECT id, started_at, ended_at, result FROM matches ORDER BY id');
    expect(rows).toEqual([
      { id: 'before', started_at: at(1), ended_at: null, result: null },
      { id: 'during', started_at: at(2), ended_at: at(9), result: { reason: 'time' } },
    ]);
    const sessions = await test!.db.query('SELECT match_id, ended_at FROM player_sessions ORDER BY match_id');
    expect(sessions.rows).toEqual([
      { match_id: 'before', ended_at: null },
      { match_id: 'during', ended_at: at(9) },
    ]);
    expect(await count('hangar_records_dropped_total', {})).toBe(0);
    expect(await count('hangar_records_written_total', { table: 'matches' })).toBe(5);
    expect(await count('hangar_records_buffered', { table: 'matches' })).toBe(0);
  });

  it('drops, and counts, new writes beyond maxPending while the database is down; those kept are written', async () => {
    const { count } = await start({ maxPending: 2 });
    const back = databaseDown();
    made('a');
    made('b');
    made('c');
    expect(await count('hangar_records_dropped_total', { table: 'matches', reason: 'buffer_full' })).toBe(1);
    back();
    await records!.flush();
    const { rows } = await test!.db.query<{ id: string }>('SELECT id FROM matches ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['a', 'b']);
  });

  it("drops a row the database refuses at once, without holding up the others' writes", async () => {
    const { count } = await start();
    made('bad');
    made('good');
    // jsonb cannot hold a NUL character: SQLSTATE 22P05, which no retry fixes.
    records!.matchEnded('bad', { reason: 'time', note: 'nul \u0000 here' }, at(9));
    records!.matchEnded('good', { reason: 'time' }, at(9));
    await records!.flush();
    expect(await count('hangar_records_dropped_total', { table: 'matches', reason: 'rejected' })).toBe(1);
    const { rows } = await test!.db.query('SELECT id, ended_at FROM matches ORDER BY id');
    expect(rows).toEqual([
      { id: 'bad', ended_at: null },
      { id: 'good', ended_at: at(9) },
    ]);
  });

  it('at close, tries those waiting once more, and drops and counts what the database still does not take', async () => {
    const { count } = await start({ closeTimeoutMs: 2000 });
    databaseDown();
    made('a');
    records!.matchStarted('a', at(1));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await records!.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await count('hangar_records_dropped_total', { table: 'matches', reason: 'shutdown' })).toBe(2);
    made('late');
    expect(await count('hangar_records_dropped_total', { table: 'matches', reason: 'closed' })).toBe(1);
    expect((await test!.db.query('SELECT id FROM matches')).rows).toEqual([]);
  });
});
