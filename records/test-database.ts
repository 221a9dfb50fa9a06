import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadDatabaseConfig, type PostgresDatabaseConfig } from '../core/config.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { openDatabase, type Database } from './database.js';

// Databases for tests: the real PostgreSQL (CI starts it on 127.0.0.1:5432; TEST_DATABASE_URL points
// elsewhere), each test in a schema of its own that drop() removes, or an in-memory PGlite.

export type TestDatabaseKind = 'postgres' | 'pglite';

export interface TestDatabase {
  db: Database;
  /** The schema a postgres test database lives in (undefined for PGlite). */
  schema?: string;
  /** Opens another connection pool onto the same database and schema (postgres only). */
  reopen(log?: Logger): Promise<Database>;
  /** Closes the database and drops its schema. */
  drop(): Promise<void>;
}

export function testPostgresConfig(overrides: Record<string, string> = {}): PostgresDatabaseConfig {
  const config = loadDatabaseConfig({ DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test', ...overrides });
  if (config.kind !== 'postgres') throw new Error('expected a PostgreSQL config');
  return config;
}

export async function openTestDatabase(kind: TestDatabaseKind, log: Logger = silentLogger): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const db = await openDatabase({ config: { kind: 'pglite' }, log, dataDir: 'memory://' });
    return {
      db,
      reopen: () => Promise.reject(new Error('an in-memory PGlite cannot be opened twice')),
      drop: () => db.close(),
    };
  }
  const config = testPostgresConfig();
  const schema = `hangar_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const db = await openDatabase({ config, log, schema });
  const others: Database[] = [];
  return {
    db,
    schema,
    async reopen(otherLog = log) {
      const other = await openDatabase({ config, log: otherLog, schema });
      others.push(other);
      return other;
    },
    async drop() {
      await Promise.all([db, ...others].map((d) => d.close()));
      const admin = new pg.Client({ host: config.host, port: config.port, database: config.database, user: config.user, password: config.password });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
