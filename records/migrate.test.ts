import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { AppError } from '../core/errors.js';
import { createLogger, silentLogger, type Logger } from '../core/logger.js';
import { migrate } from './migrate.js';
import { openTestDatabase, type TestDatabaseKind } from './test-database.js';

const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function migrationsDir(files: Record<string, string> = {}, withShipped = true): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-migrations-'));
  made.push(dir);
  if (withShipped) cpSync('migrations', dir, { recursive: true });
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(dir, name), sql);
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } }), lines };
}

const kinds: TestDatabaseKind[] = ['postgres', 'pglite'];

describe.each(kinds)('migrations on %s', (kind) => {
  it('apply in order once, record checksums, and refuse a changed or broken file', async () => {
    const test = await openTestDatabase(kind);
    const { db } = test;
    const dir = migrationsDir();
    try {
      expect(await migrate({ db, log: silentLogger, dir })).toEqual({ applied: ['001_allocations.sql', '002_matches.sql', '003_allocations_json_columns.sql', '004_match_sites.sql'], version: 4 });
      const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: Date }>('SELECT * FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => [r.version, r.name, r.checksum])).toEqual([
        [1, 'allocations', createHash('sha256').update(readFileSync('migrations/001_allocations.sql', 'utf8')).digest('hex')],
        [2, 'matches', createHash('sha256').update(readFileSync('migrations/002_matches.sql', 'utf8')).digest('hex')],
        [3, 'allocations_json_columns', createHash('sha256').update(readFileSync('migrations/003_allocations_json_columns.sql', 'utf8')).digest('hex')],
        [4, 'match_sites', createHash('sha256').update(readFileSync('migrations/004_match_sites.sql', 'utf8')).digest('hex')],
      ]);
      expect(rows[0]?.applied_at).toBeInstanceOf(Date);

      // Idempotent.
      expect(await migrate({ db, log: silentLogger, dir })).toEqual({ applied: [], version: 4 });

      // A broken migration rolls back whole, names file:line:col, and leaves the earlier ones.
      writeFileSync(path.join(dir, '005_broken.sql'), 'CREATE TABLE half_done (n int);\nSELECT FROM WHERE;\n');
      const broken = await failure(migrate({ db, log: silentLogger, dir }));
      expect(broken.code).toBe('DB_MIGRATION_FAILED');
      expect(broken.message).toMatch(/^migration 005_broken\.sql:2:13: syntax error at or near "WHERE"$/);
      expect((await db.query("SELECT to_regclass('half_done') AS t")).rows[0]).toEqual({ t: null });
      expect((await db.query('SELECT max(version) AS v FROM schema_migrations')).rows[0]).toEqual({ v: 4 });

      // A file edited after it was applied stops everything, before the pending 005 runs.
      writeFileSync(path.join(dir, '005_broken.sql'), 'CREATE TABLE not_yet (n int);\n');
      appendFileSync(path.join(dir, '001_allocations.sql'), '-- an innocent comment\n');
      const changed = await failure(migrate({ db, log: silentLogger, dir }));
      expect(changed.code).toBe('DB_MIGRATION_CHANGED');
      expect(changed.message).toMatch(/^migration 001_allocations\.sql changed after it was applied \(applied checksum [0-9a-f]{12}…, file now [0-9a-f]{12}…\)/);
      expect((await db.query("SELECT to_regclass('not_yet') AS t")).rows[0]).toEqual({ t: null });

      // CRLF line endings are not a change.
      cpSync('migrations/001_allocations.sql', path.join(dir, '001_allocations.sql'));
      writeFileSync(path.join(dir, '002_matches.sql'), readFileSync('migrations/002_matches.sql', 'utf8').replace(/\n/g, '\r\n'));
      expect(await migrate({ db, log: silentLogger, dir })).toEqual({ applied: ['005_broken.sql'], version: 5 });

      // Migrations this release does not know (a newer one applied them) are reported, not fatal.
      await db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (7, 'from_the_future', 'x')");
      const { log, lines } = capturingLogger();
      expect(await migrate({ db, log, dir })).toEqual({ applied: [], version: 7 });
      expect(lines.join('')).toContain('7_from_the_future');
    } finally {
      await test.drop();
    }
  });

  it('keep the allocation records written before the request and ports became json', async () => {
    const test = await openTestDatabase(kind);
    const { db } = test;
    const before = migrationsDir({ '001_allocations.sql': readFileSync('migrations/001_allocations.sql', 'utf8'), '002_matches.sql': readFileSync('migrations/002_matches.sql', 'utf8') }, false);
    try {
      await migrate({ db, log: silentLogger, dir: before });
      const request = { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }], metadata: { annotations: { 'hangar.dev/match-id': 'm-1' } } };
      const ports = [{ name: 'default', port: 7000 }];
      await db.query("INSERT INTO allocations (id, requested_at, request, state, game_server, latency_ms, ports) VALUES (gen_random_uuid(), now(), $1, 'Allocated', 'gs-1', 1, $2)", [request, JSON.stringify(ports)]);
      await db.query("INSERT INTO allocations (id, requested_at, request, state, latency_ms) VALUES (gen_random_uuid(), now(), '{}', 'UnAllocated', 1)");
      expect(await migrate({ db, log: silentLogger })).toEqual({ applied: ['003_allocations_json_columns.sql', '004_match_sites.sql'], version: 4 });
      const { rows } = await db.query("SELECT request, ports, request->'metadata'->'annotations'->>'hangar.dev/match-id' AS match FROM allocations ORDER BY state");
      expect(rows).toEqual([
        { request, ports, match: 'm-1' },
        { request: {}, ports: [], match: null },
      ]);
      const types = await db.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'allocations' AND table_schema = current_schema() AND column_name IN ('request', 'ports') ORDER BY column_name");
      expect(types.rows).toEqual([
        { column_name: 'ports', data_type: 'json' },
        { column_name: 'request', data_type: 'json' },
      ]);
    } finally {
      await test.drop();
    }
  });

  it('let concurrent starters apply each migration exactly once', async () => {
    const test = await openTestDatabase(kind);
    // Not idempotent: a second application would fail on the existing table.
    const dir = migrationsDir({ '001_slow.sql': 'CREATE TABLE once_only (n int);\nSELECT pg_sleep(0.3);\n', '002_second.sql': 'CREATE TABLE second_only (n int);\n' }, false);
    try {
      const { log, lines } = capturingLogger();
      // PostgreSQL: four processes' pools. PGlite is one process's: its callers share the one connection.
      const dbs = kind === 'postgres' ? [test.db, ...(await Promise.all([1, 2, 3].map(() => test.reopen())))] : [test.db, test.db, test.db];
      const results = await Promise.all(dbs.map((db) => migrate({ db, log, dir })));
      expect(results.flatMap((r) => r.applied).sort()).toEqual(['001_slow.sql', '002_second.sql']);
      expect(results.map((r) => r.version)).toEqual(dbs.map(() => 2));
      expect((await test.db.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0]).toEqual({ n: 2 });
      if (kind === 'postgres') expect(lines.join('')).toContain('another process is applying migrations; waiting for it');
    } finally {
      await test.drop();
    }
  });
});

describe('the shipped schema', () => {
  it('holds its constraints', async () => {
    const test = await openTestDatabase('postgres');
    const { db } = test;
    try {
      await migrate({ db, log: silentLogger });
      const allocation = "INSERT INTO allocations (id, requested_at, request, state, game_server, latency_ms) VALUES (gen_random_uuid(), now(), '{}', $1, $2, 1)";
      await db.query(allocation, ['Allocated', 'gs-1']);
      await db.query(allocation, ['UnAllocated', null]);
      await expect(db.query(allocation, ['Allocated', null])).rejects.toMatchObject({ code: '23514', constraint: 'allocations_allocated_has_server' });
      await expect(db.query(allocation, ['Lost', null])).rejects.toMatchObject({ code: '23514' });
      const json = "INSERT INTO allocations (id, requested_at, request, ports, state, latency_ms) VALUES (gen_random_uuid(), now(), $1, $2, 'UnAllocated', 1)";
      await expect(db.query(json, ['[]', '[]'])).rejects.toMatchObject({ code: '23514', constraint: 'allocations_request_is_object' });
      await expect(db.query(json, ['{}', '{}'])).rejects.toMatchObject({ code: '23514', constraint: 'allocations_ports_is_array' });
      await expect(db.query(json, ['{"a":', '[]'])).rejects.toMatchObject({ code: '22P02' });

      await db.query("INSERT INTO matches (id, queue, mode) VALUES ('m1', 'ranked', 'duel')");
      const session = 'INSERT INTO player_sessions (match_id, player_id, ticket_id, queued_at, matched_at) VALUES ($1, $2, $3, $4, $5)';
      const t0 = new Date('2026-01-01T00:00:00Z');
      const t1 = new Date('2026-01-01T00:00:05Z');
      await db.query(session, ['m1', 'p1', 't1', t0, t1]);
      await expect(db.query(session, ['m1', 'p1', 't2', t0, t1])).rejects.toMatchObject({ code: '23505', constraint: 'player_sessions_one_per_match' });
      await expect(db.query(session, ['nope', 'p2', 't3', t0, t1])).rejects.toMatchObject({ code: '23503' });
      await expect(db.query(session, ['m1', 'p3', 't4', t1, t0])).rejects.toMatchObject({ code: '23514', constraint: 'player_sessions_matched_after_queued' });
      // A match's site is a name or unknown (NULL), never empty.
      await expect(db.query("INSERT INTO matches (id, queue, mode, site) VALUES ('m2', 'ranked', 'duel', '')")).rejects.toMatchObject({ code: '23514' });
      await db.query("DELETE FROM matches WHERE id = 'm1'");
      expect((await db.query('SELECT count(*)::int AS n FROM player_sessions')).rows[0]).toEqual({ n: 0 });
    } finally {
      await test.drop();
    }
  });
});

describe('migration files', () => {
  // The files are read before any connection is made.
  const db = { pool: {} as pg.Pool };
  const cases: Array<{ description: string; files: Record<string, string>; message: RegExp }> = [
    { description: 'a name without a version', files: { 'allocations.sql': '' }, message: /^migration file allocations\.sql in .* is not named NNN_name\.sql/ },
    { description: 'a name with capitals', files: { '001_Allocations.sql': '' }, message: /001_Allocations\.sql .* is not named NNN_name\.sql/ },
    { description: 'two files with one version', files: { '001_a.sql': '', '0001_b.sql': '' }, message: /^migrations 001_a\.sql and 0001_b\.sql have the same version 1$|^migrations 0001_b\.sql and 001_a\.sql have the same version 1$/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.description}`, async () => {
      const err = await failure(migrate({ db, log: silentLogger, dir: migrationsDir(c.files, false) }));
      expect(err.code).toBe('DB_MIGRATION_FAILED');
      expect(err.message).toMatch(c.message);
    });
  }

  it('says when the directory is missing', async () => {
    const dir = migrationsDir({}, false);
    rmSync(dir, { recursive: true });
    const err = await failure(migrate({ db, log: silentLogger, dir }));
    expect(err.message).toMatch(/^cannot read the migrations directory .*: ENOENT/);
  });
});
