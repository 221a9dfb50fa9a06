import { randomUUID } from 'node:crypto';
import type { AllocationResult, GameServerAllocationSpec } from '../allocator/allocation.js';
import { systemClock, type Cancel, type Clock } from '../core/clock.js';
import { MATCH_ID_ANNOTATION } from '../core/hangar-metadata.js';
import type { Logger } from '../core/logger.js';
import type { RecordsMetrics } from '../core/metrics.js';
import { FLEET_LABEL } from '../store/game-server-store.js';
import type { Database } from './database.js';

// Allocation records, written off the request path. record() only appends to a bounded buffer; a
// timer (or a full batch) writes the buffer in multi-row INSERTs. When the database is down the
// buffer keeps the newest entries and drops the oldest, counting them: an allocation must never
// wait for, or fail because of, its record.

export interface AllocationRecord {
  /** A UUID; made when the entry is first written if absent (off the request path: it costs more than the rest of record()). */
  id?: string;
  /** When the request arrived: a Date or epoch milliseconds. */
  requestedAt: Date | number;
  request: GameServerAllocationSpec;
  result: AllocationResult;
  latencyMs: number;
  /** Who asked (the allocator's name for the calling client). */
  client?: string | null;
  /** Default (undefined or null): the result's hangar.dev/match-id annotation. */
  matchId?: string | null;
  /** Default (undefined or null): the result's agones.dev/fleet label. */
  fleet?: string | null;
}

export interface AllocationRecordsOptions {
  db: Pick<Database, 'query'>;
  log: Logger;
  metrics: RecordsMetrics;
  clock?: Clock;
  /** Write whatever is buffered this often (default 1000 ms). */
  flushIntervalMs?: number;
  /**
   * Rows per INSERT; a full batch is written without waiting for the interval (default 250, at most
   * 5000). Building and sending a batch runs on the event loop (~15 µs a row with PostgreSQL; with
   * PGlite the database itself runs there too, ~60 µs a row), so a batch is also the longest pause
   * the writer puts in front of an allocation.
   */
  batchSize?: number;
  /** Entries kept while the database cannot take them; beyond it the oldest are dropped (default 50,000). */
  maxBuffered?: number;
  /** After failures, attempts back off from the interval, doubling, up to this (default 30 s). */
  maxRetryDelayMs?: number;
  /** close() gives up on a database that does not answer after this long (default 10 s). */
  closeTimeoutMs?: number;
  /**
   * A write with no answer after this long counts as failed and is retried (default 30 s): a
   * connection cut without a reset (a partition, a NAT dropping state) otherwise hangs for as long
   * as TCP takes to notice. A late commit of the abandoned attempt is harmless: ids repeat, and ON CONFLICT skips them.
   */
  writeTimeoutMs?: number;
}

export interface FlushResult {
  /** Rows this call wrote. */
  written: number;
  /** flush(): entries still buffered because the database failed; close(): entries dropped unwritten. */
  remaining: number;
}

type DropReason = 'buffer_full' | 'invalid' | 'rejected' | 'duplicate' | 'closed' | 'shutdown';

const TABLE = 'allocations';
const COLUMNS = ['id', 'requested_at', 'request', 'state', 'game_server', 'fleet', 'address', 'ports', 'latency_ms', 'client', 'match_id'];
// Postgres allows 65,535 bind parameters per statement.
const MAX_BATCH = Math.floor(65_535 / COLUMNS.length / 1000) * 1000;

interface Pending {
  entry: AllocationRecord;
  /** Fixed at the first write attempt, so a retried batch carries the same ids and ON CONFLICT drops repeats. */
  id: string | undefined;
}

export class AllocationRecords {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly maxRetryDelayMs: number;
  private readonly closeTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly queue: Ring<Pending>;
  private readonly stopTimer: Cancel;
  /** Writes run one at a time, in order. */
  private writing: Promise<unknown> = Promise.resolve();
  /** Writes running or waiting in `writing`; the timer adds none while there are any. */
  private writesQueued = 0;
  private kicked = false;
  private closed = false;
  private closing: Promise<FlushResult> | undefined;
  /** Entries a failed write dropped while closing. */
  private lostClosing = 0;
  private failures = 0;
  private retryAt = 0;
  private droppedSinceLog = 0;

  constructor(private readonly options: AllocationRecordsOptions) {
    this.log = options.log.child({ component: 'allocation-records' });
    this.clock = options.clock ?? systemClock;
    this.flushIntervalMs = positive(options.flushIntervalMs ?? 1000, 'flushIntervalMs');
    this.batchSize = Math.min(positive(options.batchSize ?? 250, 'batchSize'), MAX_BATCH);
    this.maxBuffered = positive(options.maxBuffered ?? 50_000, 'maxBuffered');
    this.maxRetryDelayMs = Math.max(this.flushIntervalMs, options.maxRetryDelayMs ?? 30_000);
    this.closeTimeoutMs = positive(options.closeTimeoutMs ?? 10_000, 'closeTimeoutMs');
    this.writeTimeoutMs = positive(options.writeTimeoutMs ?? 30_000, 'writeTimeoutMs');
    this.queue = new Ring(this.maxBuffered);
    this.stopTimer = this.clock.every(this.flushIntervalMs, () => this.tick());
  }

  /** Buffers one allocation's record; never throws, never waits. */
  record(entry: AllocationRecord): void {
    if (this.closed) {
      this.drop('closed', 1);
      return;
    }
    if (this.queue.push({ entry, id: entry.id })) this.drop('buffer_full', 1);
    if (this.queue.length >= this.batchSize && this.failures === 0 && !this.kicked) {
      this.kicked = true;
      // Off this call stack: building a batch's statement is work the caller must not pay for. At
      // most one such write waits behind the current one.
      setImmediate(() => {
        void this.exclusive(async () => {
          this.kicked = false;
          if (!this.closed) await this.drain();
        });
      });
    }
  }

  get buffered(): number {
    return this.queue.length;
  }

  /** Writes everything buffered now; stops at the first database failure (the rest stays buffered). */
  async flush(): Promise<FlushResult> {
    return this.exclusive(async () => {
      const written = await this.drain();
      this.options.metrics.buffered.set({ table: TABLE }, this.queue.length);
      return { written, remaining: this.queue.length };
    });
  }

  /**
   * Stops the timer and writes what is buffered, giving up after closeTimeoutMs; what cannot be
   * written is dropped and counted. Does not close the database.
   */
  close(): Promise<FlushResult> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<FlushResult> {
    this.closed = true;
    this.stopTimer();
    let cancel: Cancel = () => undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      cancel = this.clock.setTimeout(() => resolve(undefined), this.closeTimeoutMs);
    });
    const flushed = await Promise.race([this.flush(), timedOut]);
    cancel();
    const left = this.queue.take(this.queue.length).length;
    if (left) {
      this.log.warn({ dropped: left, timedOut: flushed === undefined }, 'could not write every allocation record before closing; dropping the rest');
      this.drop('shutdown', left);
    }
    this.options.metrics.buffered.set({ table: TABLE }, 0);
    return { written: flushed?.written ?? 0, remaining: left + this.lostClosing };
  }

  private tick(): void {
    this.options.metrics.buffered.set({ table: TABLE }, this.queue.length);
    if (this.droppedSinceLog) {
      this.log.warn({ dropped: this.droppedSinceLog, buffered: this.queue.length }, 'dropped allocation records (see hangar_records_dropped_total)');
      this.droppedSinceLog = 0;
    }
    if (this.queue.length === 0 || this.writesQueued || this.clock.monotonic() < this.retryAt) return;
    void this.exclusive(() => this.drain());
  }

  /** Writes batches until the buffer is empty or the database fails; the rows written. Run only inside exclusive(). */
  private async drain(): Promise<number> {
    let written = 0;
    while (this.queue.length) {
      const n = await this.writeBatch();
      if (n === undefined) break;
      written += n;
    }
    return written;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.writesQueued++;
    const run = this.writing.then(fn).finally(() => this.writesQueued--);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Writes up to one batch from the head of the buffer: the rows written, or undefined when the database failed. */
  private async writeBatch(): Promise<number | undefined> {
    const batch = this.queue.take(this.batchSize);
    const rows: unknown[][] = [];
    const kept: Pending[] = [];
    for (const p of batch) {
      const row = toRow(p);
      if (row) {
        rows.push(row);
        kept.push(p);
      }
    }
    if (rows.length < batch.length) {
      this.drop('invalid', batch.length - rows.length);
      this.log.warn({ dropped: batch.length - rows.length }, 'allocation records that cannot be stored (bad time or latency, or a request that is not JSON); dropped');
    }
    if (!rows.length) return 0;
    const started = this.clock.monotonic();
    try {
      const written = await this.insert(rows);
      this.observe(started, 'ok');
      this.succeeded(rows.length, written);
      return written;
    } catch (err) {
      this.observe(started, 'error');
      if (isRowError(err)) return this.writeOneByOne(kept, rows);
      this.failed(err, kept);
      return undefined;
    }
  }

  /** A batch the database refused for its data: write row by row, so one bad row costs only itself. */
  private async writeOneByOne(batch: Pending[], rows: unknown[][]): Promise<number | undefined> {
    let written = 0;
    for (const [i, row] of rows.entries()) {
      try {
        const n = await this.insert([row]);
        this.succeeded(1, n);
        written += n;
      } catch (err) {
        if (!isRowError(err)) {
          this.failed(err, batch.slice(i));
          return undefined;
        }
        this.drop('rejected', 1);
        this.log.warn({ id: batch[i]?.id, err }, 'the database refused an allocation record; dropped');
      }
    }
    return written;
  }

  private async insert(rows: unknown[][]): Promise<number> {
    const values: unknown[] = [];
    const tuples = rows.map((row) => {
      const base = values.length;
      values.push(...row);
      return `(${row.map((_, i) => `$${base + i + 1}`).join(',')})`;
    });
    const query = this.options.db.query(`INSERT INTO ${TABLE} (${COLUMNS.join(',')}) VALUES ${tuples.join(',')} ON CONFLICT (id) DO NOTHING`, values);
    // An abandoned attempt may still fail later; nobody is listening then.
    query.catch(() => undefined);
    let cancel: Cancel = () => undefined;
    const timedOut = new Promise<never>((_, reject) => {
      cancel = this.clock.setTimeout(() => reject(new Error(`no answer from the database within ${this.writeTimeoutMs} ms`)), this.writeTimeoutMs);
    });
    try {
      return (await Promise.race([query, timedOut])).rowCount ?? 0;
    } finally {
      cancel();
    }
  }

  private succeeded(rows: number, written: number): void {
    this.options.metrics.written.inc({ table: TABLE }, written);
    // Only a retried batch whose first attempt did commit, or an id given twice, lands here.
    if (written < rows) this.drop('duplicate', rows - written);
    if (this.failures) {
      this.log.info({ failures: this.failures, buffered: this.queue.length }, 'allocation records are being written again');
      this.failures = 0;
      this.retryAt = 0;
    }
  }

  private failed(err: unknown, batch: Pending[]): void {
    if (this.closed) {
      // Nothing will retry after close.
      this.drop('shutdown', batch.length);
      this.lostClosing += batch.length;
      this.log.warn({ err, dropped: batch.length }, 'cannot write allocation records while closing; dropping them');
      return;
    }
    this.failures++;
    const delay = Math.min(this.maxRetryDelayMs, this.flushIntervalMs * 2 ** Math.min(this.failures - 1, 20));
    this.retryAt = this.clock.monotonic() + delay;
    const lost = this.queue.unshiftAll(batch);
    if (lost) this.drop('buffer_full', lost);
    // One line when writing stops, then one per roughly 30 s of failing, not one per attempt.
    if (this.failures === 1 || delay === this.maxRetryDelayMs) {
      this.log.warn({ err, failures: this.failures, buffered: this.queue.length, retryInMs: delay }, 'cannot write allocation records; keeping the newest and retrying');
    }
  }

  private observe(started: number, outcome: 'ok' | 'error'): void {
    this.options.metrics.flushDuration.observe({ table: TABLE, outcome }, (this.clock.monotonic() - started) / 1000);
  }

  private drop(reason: DropReason, n: number): void {
    if (n <= 0) return;
    this.options.metrics.dropped.inc({ table: TABLE, reason }, n);
    this.droppedSinceLog += n;
  }
}

/** The row in COLUMNS order, or undefined when it cannot be stored. Built at flush time, not in record(). */
function toRow(pending: Pending): unknown[] | undefined {
  const { entry } = pending;
  const { result } = entry;
  const requestedAt = entry.requestedAt instanceof Date ? entry.requestedAt : new Date(entry.requestedAt);
  if (Number.isNaN(requestedAt.getTime()) || !(entry.latencyMs >= 0) || !Number.isFinite(entry.latencyMs)) return undefined;
  let request: string;
  let ports: string;
  try {
    // Serialised here: pg would turn a JS array into a Postgres array, not JSON.
    request = JSON.stringify(entry.request);
    ports = JSON.stringify(result.ports ?? []);
  } catch {
    return undefined;
  }
  if (request === undefined) return undefined;
  return [
    (pending.id ??= randomUUID()),
    requestedAt,
    request,
    result.state,
    result.gameServerName || null,
    entry.fleet ?? result.metadata?.labels?.[FLEET_LABEL] ?? null,
    result.address || null,
    ports,
    entry.latencyMs,
    entry.client ?? null,
    entry.matchId ?? result.metadata?.annotations?.[MATCH_ID_ANNOTATION] ?? null,
  ];
}

/**
 * Errors of the rows themselves (SQLSTATE classes 22 data exception, 23 constraint violation, 54
 * limit exceeded), which retrying cannot fix. Anything else (no connection, a missing table before
 * migrations) is the database's state, and the batch waits for it.
 */
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive whole number, not ${value}`);
  return value;
}

/** A fixed-capacity FIFO: push drops the oldest when full, in O(1). */
class Ring<T> {
  private readonly items: Array<T | undefined>;
  private head = 0;
  length = 0;

  constructor(private readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  /** Appends; true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    const full = this.length === this.capacity;
    if (full) {
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.length--;
    }
    this.items[(this.head + this.length) % this.capacity] = item;
    this.length++;
    return full;
  }

  /** Removes and returns up to n items from the front. */
  take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.length) {
      out.push(this.items[this.head] as T);
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.length--;
    }
    return out;
  }

  /** Puts items back at the front, oldest first; keeps the newest when they do not all fit and returns how many were lost. */
  unshiftAll(items: T[]): number {
    const room = this.capacity - this.length;
    const keep = items.slice(Math.max(0, items.length - room));
    for (let i = keep.length - 1; i >= 0; i--) {
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.items[this.head] = keep[i];
      this.length++;
    }
    return items.length - keep.length;
  }
}
