import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from '../core/logger.js';
import type { Database } from './database.js';
import { MigrationChangedError, MigrationFailedError } from './records-errors.js';

// Schema migrations: migrations/NNN_name.sql, applied in version order, each in its own transaction
// together with its schema_migrations row. A session advisory lock serialises every process that
// starts at once, and the applied list is re-read under it, so no migration runs twice.
// Migration files hold no BEGIN/COMMIT of their own (and so no CREATE INDEX CONCURRENTLY).

export interface MigrateOptions {
  db: Pick<Database, 'pool'>;
  log: Logger;
  /** Default: the package's migrations/ folder. */
  dir?: string;
}

export interface MigrateResult {
  /** Files applied by this call, in order. */
  applied: string[];
  /** The highest version now applied. */
  version: number;
}

interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log.child({ component: 'migrate' });
  const dir = options.dir ?? defaultMigrationsDir();
  const migrations = readMigrations(dir);
  const client = await options.db.pool.connect();
  let broken = false;
  try {
    // One lock per schema, so deployments sharing a database in separate schemas do not wait on each other.
    const key = "hashtext('hangar.schema_migrations:' || current_schema())";
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${key}) AS locked`);
    if (!rows[0]?.locked) {
      log.info('another process is applying migrations; waiting for it');
      await client.query(`SELECT pg_advisory_lock(${key})`);
    }
    try {
      return await applyPending(client, migrations, log);
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${key})`);
    }
  } catch (err) {
    broken = !(err instanceof MigrationChangedError || err instanceof MigrationFailedError);
    throw err;
  } finally {
    // A connection that failed mid-way may still hold the lock or a transaction: discard it.
    client.release(broken);
  }
}

async function applyPending(client: pg.PoolClient, migrations: Migration[], log: Logger): Promise<MigrateResult> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  const applied = new Map(rows.map((r) => [r.version, r]));
  const known = new Set(migrations.map((m) => m.version));
  for (const m of migrations) {
    const row = applied.get(m.version);
    if (row && row.checksum !== m.checksum) throw new MigrationChangedError(m.file, row.checksum, m.checksum);
  }
  // A newer release migrated this database: an older one keeps running during a rolling update.
  const unknown = rows.filter((r) => !known.has(r.version));
  if (unknown.length) log.warn({ versions: unknown.map((r) => `${r.version}_${r.name}`) }, 'the database has migrations this release does not know (a newer release applied them)');

  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    const started = performance.now();
    try {
      await client.query('BEGIN');
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new MigrationFailedError(m.file, `migration ${describeFailure(m, err)}`, { cause: err });
    }
    log.info({ migration: m.file, ms: Math.round(performance.now() - started) }, 'migration applied');
    done.push(m.file);
  }
  const version = Math.max(0, ...rows.map((r) => r.version), ...migrations.map((m) => m.version));
  return { applied: done, version };
}

/** "003_x.sql:12:5: syntax error at or near ..." from pg's 1-based character position. */
function describeFailure(m: Migration, err: unknown): string {
  const e = err as { message?: string; position?: string };
  const position = Number(e.position);
  if (!Number.isInteger(position) || position < 1) return `${m.file}: ${e.message ?? String(err)}`;
  const before = m.sql.slice(0, position - 1).split('\n');
  return `${m.file}:${before.length}:${(before.at(-1)?.length ?? 0) + 1}: ${e.message}`;
}

function readMigrations(dir: string): Migration[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sql'));
  } catch (err) {
    throw new MigrationFailedError(dir, `cannot read the migrations directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const byVersion = new Map<number, Migration>();
  for (const file of names) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationFailedError(file, `migration file ${file} in ${dir} is not named NNN_name.sql (three or more digits, then lower-case words)`);
    const version = Number(match[1]);
    const other = byVersion.get(version);
    if (other) throw new MigrationFailedError(file, `migrations ${other.file} and ${file} have the same version ${version}`);
    // Line endings do not change a migration's meaning, so a checkout with CRLF does not look edited.
    const sql = readFileSync(path.join(dir, file), 'utf8').replace(/\r\n/g, '\n');
    byVersion.set(version, { version, name: match[2] ?? '', file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/** migrations/ at the package root, found from this file both as source (records/) and as build output (dist/records/). */
function defaultMigrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'migrations');
    const parent = path.dirname(dir);
    if (parent === dir) throw new MigrationFailedError('migrations', `no package.json above ${fileURLToPath(import.meta.url)} to find migrations/ from`);
    dir = parent;
  }
}
