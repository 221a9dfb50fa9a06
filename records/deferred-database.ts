import type pg from 'pg';
import path from 'node:path';
import type { DatabaseConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { openDatabase } from './database.js';
import { migrate } from './migrate.js';
import type { Database } from './database.js';

// A database that is still opening. An embedded PGlite takes seconds to start (its first start
// creates the cluster: about 7 s and several hundred MB here), and nothing on the allocation path
// may wait for records; so the service starts at once and its queries wait until the database is
// open and migrated. If opening fails the queries fail, and the records writer counts what it drops.

export class DeferredDatabase implements Pick<Database, 'query'> {
  private readonly opened: Promise<Database>;

  constructor(open: () => Promise<Database>, log: Logger) {
    this.opened = open();
    this.opened.catch((err: unknown) => log.error({ err }, 'the records database could not be opened; allocation records are dropped'));
  }

  /** The open database, once it is. */
  get ready(): Promise<Database> {
    return this.opened;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return (await this.opened).query<R>(text, values);
  }

  async close(): Promise<void> {
    const db = await this.opened.catch(() => undefined);
    await db?.close();
  }
}

export interface RecordsDatabaseOptions {
  config: Readonly<DatabaseConfig>;
  log: Logger;
  /** PGlite's directory when no database is configured. */
  pgliteDir: string;
  /** The Postgres schema for the records (config records.schema). */
  schema?: string;
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
  }, log);
}
