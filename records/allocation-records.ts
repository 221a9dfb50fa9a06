import type { AllocationResult, GameServerAllocationSpec } from '../allocator/allocation.js';
import { systemClock, type Cancel, type Clock } from '../core/clock.js';
import { MATCH_ID_ANNOTATION } from '../core/hangar-metadata.js';
import { backoffDelay } from '../core/retry.js';
import type { Logger } from '../core/logger.js';
import type { RecordsMetrics } from '../core/metrics.js';
import { FLEET_LABEL } from '../store/game-server-store.js';
import { answeredWithin, type Database } from './database.js';
import { isRowError } from './records-errors.js';
import { timeOrderedUuid } from './time-ordered-uuid.js';

// Allocation records, written off the request path. record() turns the entry into its row's JSON
// (one JSON.stringify, kept as UTF-8 bytes) and appends that to a bounded buffer; full batches (or
// a timer) are written as multi-row INSERTs, a few at a time on the pool, each sending its rows as
// one JSON document (one bind parameter: much cheaper for the allocator's event loop than a bind
// parameter per column per row). When the database is down the buffer keeps the newest rows and
// drops the oldest, counting them: an allocation must never wait for, or fail because of, its record.

export interface AllocationRecord {
  /** A UUID; if absent, a time-ordered one (v7, from requestedAt) is made when it is recorded. */
  id?: string;
  /** When the request arrived: a Date or epoch milliseconds. */
  requestedAt: Date | number;
  request: GameServerAllocationSpec;
  /**
   * `JSON.stringify(request)`, when the caller has it already: a prepared allocation's, built from
   * its template's kept JSON (allocator/prepared-allocation.ts). The row takes it as it is.
   */
  requestJson?: string;
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
   * Rows per INSERT; a full batch is written without waiting for the interval (default 500). A
   * backlog is shared among the writes that can start, up to BACKLOG_BATCHES batches an INSERT.
   */
  batchSize?: number;
  /**
   * INSERTs in flight at once while the database keeps up (default 3): one connection waiting for
   * its commit would otherwise cap the rate at one batch per round trip. One at a time after a failure.
   */
  maxWritesInFlight?: number;
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
  /** Rows written while this call ran. */
  written: number;
  /** flush(): entries still buffered because the database failed; close(): entries dropped unwritten. */
  remaining: number;
}

type DropReason = 'buffer_full' | 'invalid' | 'rejected' | 'duplicate' | 'closed' | 'shutdown';

const TABLE = 'allocations';
const COLUMNS = 'id,requested_at,request,state,game_server,fleet,address,ports,latency_ms,client,match_id';
// The rows arrive as one JSON array of objects keyed by column (see toPending); requested_at as epoch
// milliseconds (toISOString costs a microsecond a row), which to_timestamp keeps exact.
const INSERT = `INSERT INTO ${TABLE} (${COLUMNS}) SELECT id, to_timestamp(requested_at / 1000), request, state, game_server, fleet, address, ports, latency_ms, client, match_id FROM json_to_recordset($1::json) AS r(id uuid, requested_at double precision, request json, state text, game_server text, fleet text, address text, ports json, latency_ms double precision, client text, match_id text) ON CONFLICT (id) DO NOTHING`;

/**
 * An INSERT takes up to this many batches when records pile up. On an event loop saturated by
 * allocations each write waits several turns (to be sent, answered) besides the database's own
 * time, so a fixed batch size caps the rows written a second below the rate allocations come.
 */
const BACKLOG_BATCHES = 4;

/**
 * A row as the INSERT takes it, built when recorded, its JSON's bytes outside the JavaScript heap:
 * the entry's request and result, and the row's text, then die young instead of living until their
 * batch is written, copied by every young-generation collection on the way and then promoted; that
 * copying was most of the allocator's garbage collection (BENCHMARKS.md, "Allocator under load").
 * A retried batch resends the same rows, ids included, so ON CONFLICT drops repeats.
 */
interface Pending {
  id: string;
  /** The row's JSON object, keyed by column, in UTF-8. */
  row: Buffer;
}

interface Write {
  readonly batch: Pending[];
  readonly done: Promise<void>;
}

export class AllocationRecords {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxWritesInFlight: number;
  private readonly maxBuffered: number;
  private readonly maxRetryDelayMs: number;
  private readonly closeTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly queue: Ring<Pending>;
  private readonly stopTimer: Cancel;
  private readonly inFlight = new Set<Write>();
  private kicked = false;
  private closed = false;
  /** close() gave up: writes still running then were counted as dropped, whatever they do later. */
  private abandoned = false;
  private closing: Promise<FlushResult> | undefined;
  /** Entries a failed write dropped while closing. */
  private lostClosing = 0;
  /** Consecutive failed attempt rounds; writes failing together count once. */
  private failures = 0;
  /** Every failed write so far: flush() stops at the first one during its run. */
  private failedWrites = 0;
  private writtenTotal = 0;
  private retryAt = 0;
  /** Drops since the last warning, by reason, for the warning to name. */
  private readonly droppedSinceLog = new Map<DropReason, number>();

  constructor(private readonly options: AllocationRecordsOptions) {
    this.log = options.log.child({ component: 'allocation-records' });
    this.clock = options.clock ?? systemClock;
    this.flushIntervalMs = positive(options.flushIntervalMs ?? 1000, 'flushIntervalMs');
    this.batchSize = positive(options.batchSize ?? 500, 'batchSize');
    this.maxWritesInFlight = positive(options.maxWritesInFlight ?? 3, 'maxWritesInFlight');
    this.maxBuffered = positive(options.maxBuffered ?? 50_000, 'maxBuffered');
    this.maxRetryDelayMs = Math.max(this.flushIntervalMs, options.maxRetryDelayMs ?? 30_000);
    this.closeTimeoutMs = positive(options.closeTimeoutMs ?? 10_000, 'closeTimeoutMs');
    this.writeTimeoutMs = positive(options.writeTimeoutMs ?? 30_000, 'writeTimeoutMs');
    this.queue = new Ring(this.maxBuffered);
    this.stopTimer = this.clock.every(this.flushIntervalMs, () => this.tick());
  }

  /**
   * Buffers one allocation's record, its row built now (a few µs: mostly the request's JSON); never
   * throws, never waits. An entry that cannot be stored (a bad time or latency, a request that is
   * not JSON) is dropped and counted.
   */
  record(entry: AllocationRecord): void {
    if (this.closed) {
      this.drop('closed', 1);
      return;
    }
    const pending = toPending(entry);
    if (!pending) {
      this.drop('invalid', 1);
      return;
    }
    if (this.queue.push(pending)) this.drop('buffer_full', 1);
    if (this.queue.length >= this.batchSize && this.failures === 0 && !this.kicked) {
      this.kicked = true;
      // Off this call stack: sending a batch is work the caller must not pay for.
      setImmediate(() => {
        this.kicked = false;
        if (!this.closed) this.startWrites(false);
      });
    }
  }

  get buffered(): number {
    return this.queue.length;
  }

  /** Writes everything buffered now; stops at the first database failure (the rest stays buffered). */
  async flush(): Promise<FlushResult> {
    const writtenBefore = this.writtenTotal;
    const failedBefore = this.failedWrites;
    for (;;) {
      this.startWrites(true);
      if (this.inFlight.size === 0) break;
      await Promise.all([...this.inFlight].map((w) => w.done));
      if (this.failedWrites > failedBefore) break;
    }
    this.options.metrics.buffered.set({ table: TABLE }, this.queue.length);
    return { written: this.writtenTotal - writtenBefore, remaining: this.queue.length };
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
    // Writes the database never answered are as good as lost: counted here, ignored if they answer later.
    this.abandoned = true;
    let left = this.queue.take(this.queue.length).length;
    for (const write of this.inFlight) left += write.batch.length;
    if (left) {
      this.log.warn({ dropped: left, timedOut: flushed === undefined }, 'could not write every allocation record before closing; dropping the rest');
      this.drop('shutdown', left);
    }
    this.options.metrics.buffered.set({ table: TABLE }, 0);
    return { written: flushed?.written ?? 0, remaining: left + this.lostClosing };
  }

  private tick(): void {
    this.options.metrics.buffered.set({ table: TABLE }, this.queue.length);
    if (this.droppedSinceLog.size) {
      // invalid: a bad time or latency, or a request that is not JSON (a record() caller's bug).
      const dropped = Object.fromEntries(this.droppedSinceLog);
      this.log.warn({ dropped, buffered: this.queue.length }, 'dropped allocation records, by reason (see hangar_records_dropped_total)');
      this.droppedSinceLog.clear();
    }
    if (this.clock.monotonic() >= this.retryAt) this.startWrites(true);
  }

  /** Starts writes while the limit allows: full batches only, or also the last partial one. */
  private startWrites(partial: boolean): void {
    const limit = this.failures ? 1 : this.maxWritesInFlight;
    while (this.inFlight.size < limit && this.queue.length >= (partial ? 1 : this.batchSize)) {
      const share = Math.ceil(this.queue.length / (limit - this.inFlight.size));
      const batch = this.queue.take(Math.min(Math.max(this.batchSize, share), this.batchSize * BACKLOG_BATCHES));
      const write: Write = { batch, done: this.writeBatch(batch).finally(() => this.finished(write)) };
      this.inFlight.add(write);
    }
  }

  private finished(write: Write): void {
    this.inFlight.delete(write);
    // A backlog keeps flowing while the database keeps up.
    if (!this.closed && this.failures === 0) this.startWrites(false);
  }

  /** Writes one batch; on a database failure its rows go back to the front of the buffer. */
  private async writeBatch(batch: Pending[]): Promise<void> {
    const started = this.clock.monotonic();
    try {
      const written = await this.insert(batch);
      this.observe(started, 'ok');
      this.succeeded(batch.length, written);
    } catch (err) {
      this.observe(started, 'error');
      if (isRowError(err)) await this.writeOneByOne(batch);
      else this.failed(err, batch);
    }
  }

  /** A batch the database refused for its data: write row by row, so one bad row costs only itself. */
  private async writeOneByOne(batch: Pending[]): Promise<void> {
    for (const [i, pending] of batch.entries()) {
      try {
        this.succeeded(1, await this.insert([pending]));
      } catch (err) {
        if (!isRowError(err)) {
          this.failed(err, batch.slice(i));
          return;
        }
        this.drop('rejected', 1);
        this.log.warn({ id: pending.id, err }, 'the database refused an allocation record; dropped');
      }
    }
  }

  private async insert(rows: readonly Pending[]): Promise<number> {
    // A Buffer goes as a binary parameter, which for json is its text: no string to encode again.
    return (await answeredWithin(this.options.db.query(INSERT, [jsonArray(rows)]), this.writeTimeoutMs, this.clock)).rowCount ?? 0;
  }

  private succeeded(rows: number, written: number): void {
    if (this.abandoned) return;
    this.writtenTotal += written;
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
    if (this.abandoned) return;
    this.failedWrites++;
    if (this.closed) {
      // Nothing will retry after close.
      this.drop('shutdown', batch.length);
      this.lostClosing += batch.length;
      this.log.warn({ err, dropped: batch.length }, 'cannot write allocation records while closing; dropping them');
      return;
    }
    const now = this.clock.monotonic();
    if (now >= this.retryAt) this.failures++;
    const delay = backoffDelay(this.flushIntervalMs, this.maxRetryDelayMs, this.failures);
    this.retryAt = now + delay;
    // Writes that failed together may come back in another order than they left; rows carry their time.
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
    this.droppedSinceLog.set(reason, (this.droppedSinceLog.get(reason) ?? 0) + n);
  }
}

/** The entry's row, as a JSON object keyed by column, or undefined when it cannot be stored. */
function toPending(entry: AllocationRecord): Pending | undefined {
  const { result } = entry;
  const requestedAt = entry.requestedAt instanceof Date ? entry.requestedAt.getTime() : entry.requestedAt;
  if (!Number.isFinite(requestedAt) || !(entry.latencyMs >= 0) || !Number.isFinite(entry.latencyMs)) return undefined;
  if (entry.request === null || typeof entry.request !== 'object') return undefined;
  const id = entry.id ?? timeOrderedUuid(requestedAt);
  try {
    // The request's JSON goes in as text, so a prepared allocation's is not written again.
    const columns = JSON.stringify({
      id,
      requested_at: requestedAt,
      state: result.state,
      game_server: result.gameServerName || null,
      fleet: entry.fleet ?? result.metadata?.labels?.[FLEET_LABEL] ?? null,
      address: result.address || null,
      ports: result.ports ?? [],
      latency_ms: entry.latencyMs,
      client: entry.client ?? null,
      match_id: entry.matchId ?? result.metadata?.annotations?.[MATCH_ID_ANNOTATION] ?? null,
    });
    return { id, row: Buffer.from(`{"request":${entry.requestJson ?? JSON.stringify(entry.request)},${columns.slice(1)}`) };
  } catch {
    // Not JSON (a BigInt, a cycle).
    return undefined;
  }
}

/** `[row,row,...]`, in one buffer. */
function jsonArray(rows: readonly Pending[]): Buffer {
  let length = 2 + Math.max(0, rows.length - 1); // the brackets, and the commas between rows
  for (const { row } of rows) length += row.length;
  const out = Buffer.allocUnsafe(length);
  out[0] = 0x5b; // [
  let at = 1;
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    at += rows[i]!.row.copy(out, at);
  }
  out[at] = 0x5d; // ]
  return out;
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
