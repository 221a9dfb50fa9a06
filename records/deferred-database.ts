import type pg from 'pg';
import path from 'node:path';
import type { DatabaseConfig } from '../core/config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { backoffDelay } from '../core/retry.js';
import type { Logger } from '../core/logger.js';
import { openDatabase } from './database.js';
import { migrate } from './migrate.js';
import type { Database } from './database.js';

// A database that is still opening. An embedded PGlite takes seconds to start (its first start
// creates the cluster: about 7 s and several hundred MB here), and nothing on the allocation path
// may wait for records; so the service starts at once and its queries wait until the database is
// open and migrated. A database that cannot be opened yet (PostgreSQL starting after the services,
// as pods often do) is tried again by the next query once a back-off has passed (1 s doubling to
// 30 s); meanwhile queries fail at once, and the records writers keep what they were given.

export interface DeferredDatabaseOptions {
  clock?: Clock;
  /** The wait after a failed open before a query may try again, doubling up to maxRetryDelayMs (defaults 1 s, 30 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export class DeferredDatabase implements Pick<Database, 'query'> {
  private opening: Promise<Database>;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private readonly clock: Clock;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(
    private readonly open: () => Promise<Database>,
    private readonly log: Logger,
    options: DeferredDatabaseOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxRetryDelayMs = Math.max(this.retryDelayMs, options.maxRetryDelayMs ?? 30_000);
    this.opening = this.attempt();
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const current = this.opening;
    let db: Database;
    try {
      db = await current;
    } catch (err) {
      if (this.closed || this.clock.monotonic() < this.retryAt) throw err;
      // One new attempt however many queries find the last one failed.
      if (this.opening === current) this.opening = this.attempt();
      db = await this.opening;
    }
    return db.query<R>(text, values);
  }

  async close(): Promise<void> {
    this.closed = true;
    const db = await this.opening.catch(() => undefined);
    await db?.close();
  }

  private attempt(): Promise<Database> {
    const opening = this.open();
    opening.then(
      () => {
        if (this.failures) this.log.info({ failedAttempts: this.failures }, 'the records database is open');
        this.failures = 0;
      },
      (err: unknown) => {
        this.failures++;
        const delay = backoffDelay(this.retryDelayMs, this.maxRetryDelayMs, this.failures);
        this.retryAt = this.clock.monotonic() + delay;
        // One line when it first fails, then one per roughly maxRetryDelayMs of failing.
        if (this.failures === 1 || delay === this.maxRetryDelayMs) {
          this.log.error({ err, failedAttempts: this.failures, retryInMs: delay }, 'the records database could not be opened; records wait, and the next write after the back-off tries again');
        }
      },
    );
    return opening;
  }
}

export interface RecordsDatabaseOptions {
  config: Readonly<DatabaseConfig>;
  log: Logger;
  /** PGlite's directory when no database is configured. */
  pgliteDir: string;
  /** The Postgres schema for the records (config records.schema). */
  schema?: string;
  retry?: DeferredDatabaseOptions;
}

/** The records database of a process, opened and migrated in the background. */
export function openRecordsDatabase(options: RecordsDatabaseOptions): DeferredDatabase {
  const { log } = options;
  return new DeferredDatabase(async () => {
    const db = await openDatabase({ config: options.config, log, dataDir: path.resolve(options.pgliteDir), schema: options.schema });
    try {
      await migrate({ db, log });
    } catch (err) {
      await db.close();
      throw err;
    }
    return db;
  }, log, options.retry);
}
