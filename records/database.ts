import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Cancel, Clock } from '../core/clock.js';
import type { DatabaseConfig, PostgresDatabaseConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { acquirePidLock } from '../core/pid-lock.js';
import { startPgliteThread, type PgliteThread } from './pglite-thread.js';
import { connectError, DatabaseConnectError } from './records-errors.js';

// The records database, reached the same way whichever it is: a pg.Pool. PostgreSQL when configured;
// otherwise an embedded PGlite behind @electric-sql/pglite-socket on 127.0.0.1, on a thread of its
// own (records/pglite-thread.ts), so the code above speaks one wire protocol and one driver in both modes.

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  /** A pool of connections; PGlite runs one query at a time, so its pool has one. */
  readonly pool: pg.Pool;
  /** host:port/database (or the PGlite directory), for logs and messages; never the password. */
  readonly target: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Ends every connection, and for PGlite its socket server and the database itself. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  config: DatabaseConfig;
  log: Logger;
  /** PGlite only: where its files live (default .hangar/pglite); "memory://" keeps it in memory. */
  dataDir?: string;
  /** Every connection's search_path, created if missing: one schema per test run, or per deployment sharing a database. */
  schema?: string;
}

const DEFAULT_PGLITE_DIR = path.join('.hangar', 'pglite');
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new DatabaseConnectError(`schema name "${schema}" must be lower-case letters, digits and underscores, starting with a letter or underscore`);
  }
  const log = options.log.child({ component: 'records-db' });
  return options.config.kind === 'postgres' ? openPostgres(options.config, log, schema) : openPglite(options.dataDir ?? DEFAULT_PGLITE_DIR, log, schema);
}

async function openPostgres(config: PostgresDatabaseConfig, log: Logger, schema: string | undefined): Promise<Database> {
  const pool = new pg.Pool({
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password,
    ssl: sslOptions(config),
    application_name: config.applicationName,
    connectionTimeoutMillis: config.connectTimeoutMs,
    max: config.poolMax,
    // A startup parameter, so every connection the pool opens has it before its first query.
    options: schema === undefined ? undefined : `-c search_path=${schema}`,
  });
  const target = `${config.host}:${config.port}/${config.database}`;
  watchPool(pool, log);
  try {
    await prepare(pool, schema);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw connectError(err, config);
  }
  log.info({ kind: 'postgres', target, user: config.user, sslmode: config.sslmode, poolMax: config.poolMax, schema }, 'records database connected');
  return makeDatabase('postgres', pool, target, () => pool.end());
}

function sslOptions(config: PostgresDatabaseConfig): pg.PoolConfig['ssl'] {
  switch (config.sslmode) {
    case 'disable':
      return false;
    case 'require':
      // libpq's "require": encrypted, certificate not checked.
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

async function openPglite(dataDir: string, log: Logger, schema: string | undefined): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://');
  const unlock = inMemory ? () => undefined : lockDataDir(dataDir);
  let thread: PgliteThread | undefined;
  let pool: pg.Pool | undefined;
  const stop = async () => {
    await pool?.end().catch(() => undefined);
    await thread?.close().catch(() => undefined);
    unlock();
  };
  try {
    thread = await startPgliteThread(inMemory ? dataDir : path.resolve(dataDir));
    const [host = '127.0.0.1', port = ''] = thread.conn.split(':');
    // One connection, never closed while idle: a reconnect could race the server's one-connection slot.
    pool = new pg.Pool({ host, port: Number(port), user: 'postgres', database: 'postgres', max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: 10_000 });
    watchPool(pool, log);
    await prepare(pool, schema);
    // PGlite ignores startup parameters, but it is one session whichever socket speaks to it, so a SET holds for good.
    if (schema !== undefined) await pool.query(`SET search_path TO ${schema}`);
  } catch (err) {
    await stop();
    throw new DatabaseConnectError(`cannot open the embedded PGlite database in ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
  const target = inMemory ? dataDir : path.resolve(dataDir);
  log.info({ kind: 'pglite', target, listen: thread.conn, schema }, 'records database started (embedded PGlite, on its own thread)');
  return makeDatabase('pglite', pool, target, stop);
}

function watchPool(pool: pg.Pool, log: Logger): void {
  // An idle connection that breaks (server restart) is reported here; without a listener it would crash the process.
  pool.on('error', (err) => log.warn({ err }, 'idle records database connection failed; the pool will reconnect'));
}

async function prepare(pool: pg.Pool, schema: string | undefined): Promise<void> {
  await pool.query('SELECT 1');
  if (schema === undefined) return;
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (err) {
    // Two processes creating the same schema at once: the loser sees a duplicate, which is fine.
    if ((err as { code?: string }).code !== '23505' && (err as { code?: string }).code !== '42P06') {
      throw new DatabaseConnectError(`cannot create schema ${schema}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function makeDatabase(kind: Database['kind'], pool: pg.Pool, target: string, stop: () => Promise<void>): Database {
  let closing: Promise<void> | undefined;
  return {
    kind,
    pool,
    target,
    query: async (text, values) => {
      // pool.query() discards its connection after any error. An error the server answered (a
      // SQLSTATE) leaves the connection sound, and PGlite serves one connection: the discarded one
      // was still closing while the next query connected, so that query failed too.
      const client = await pool.connect();
      let broken: Error | undefined;
      // A connection that fails while checked out emits 'error' on the client, which throws unless heard.
      const onError = (err: Error) => (broken = err);
      client.on('error', onError);
      try {
        return await client.query(text, values);
      } catch (err) {
        if (!(err instanceof pg.DatabaseError)) broken ??= err as Error;
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    close: () => (closing ??= stop()),
  };
}

/**
 * PGlite has no lock of its own: two processes on one directory corrupt it. A lock file beside the
 * directory holds the owner's pid; a lock whose process is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  let lock;
  try {
    lock = acquirePidLock(`${dir}.lock`);
  } catch (err) {
    throw new DatabaseConnectError(`cannot lock the PGlite directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (lock.acquired) return lock.release;
  if (lock.owner === process.pid) throw new DatabaseConnectError(`the PGlite directory ${dir} is already open in this process`);
  throw new DatabaseConnectError(`the PGlite directory ${dir} is in use by process ${lock.owner}: stop it, or give this one another directory (or PostgreSQL)`);
}

/**
 * `query`, failing after `ms` without an answer: a connection cut without a reset (a partition, a
 * NAT dropping state) otherwise hangs a write for as long as TCP takes to notice. The abandoned
 * query may still settle later; nobody listens then.
 */
export async function answeredWithin<T>(query: Promise<T>, ms: number, clock: Clock): Promise<T> {
  query.catch(() => undefined);
  let cancel: Cancel = () => undefined;
  const timedOut = new Promise<never>((_, reject) => {
    cancel = clock.setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([query, timedOut]);
  } finally {
    cancel();
  }
}
