import type pg from 'pg';
import type { Logger } from '../core/logger.js';
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
