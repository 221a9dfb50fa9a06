import net from 'node:net';
import { describe, expect, it } from '@jest/globals';
import type { AllocationResult, GameServerAllocationSpec } from '../allocator/allocation.js';
import { unallocated } from '../allocator/allocation.js';
import { createLogger, silentLogger } from '../core/logger.js';
import { createRecordsMetrics, Registry, type RecordsMetrics } from '../core/metrics.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { AllocationRecords, type AllocationRecord } from './allocation-records.js';
import { openDatabase, type Database } from './database.js';
import { migrate } from './migrate.js';
import { openTestDatabase, testPostgresConfig, type TestDatabaseKind } from './test-database.js';

const spec: GameServerAllocationSpec = {
  selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' }, matchExpressions: [], gameServerState: 'Ready', counters: {}, lists: {} }],
  scheduling: 'Packed',
  priorities: [],
  metadata: { labels: {}, annotations: { 'hangar.dev/match-id': 'm-1' } },
  counters: {},
  lists: {},
};

function allocated(name: string): AllocationResult {
  return {
    ...unallocated(),
    state: 'Allocated',
    gameServerName: name,
    address: '10.0.0.7',
    addresses: [{ type: 'InternalIP', address: '10.0.0.7' }],
    ports: [{ name: 'default', port: 7042 }],
    nodeName: 'node-a',
    source: 'local',
    metadata: { labels: { 'agones.dev/fleet': 'arena' }, annotations: { 'hangar.dev/match-id': 'm-1' } },
  };
}

function entry(i: number, result: AllocationResult = allocated(`arena-${i}`)): AllocationRecord {
  return { id: uuid(i), requestedAt: Date.UTC(2026, 0, 1, 0, 0, 0, i), request: spec, result, latencyMs: 1.5, client: 'matchmaker' };
}

function uuid(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function counter(metrics: RecordsMetrics, which: 'written' | 'dropped', labels: Record<string, string>): Promise<number> {
  const { values } = await metrics[which].get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

/** The rows of one INSERT: its only parameter is a JSON array of them, in UTF-8. */
function rowsOf(values: unknown[]): Array<Record<string, unknown>> {
  expect(values[0]).toBeInstanceOf(Buffer);
  return JSON.parse((values[0] as Buffer).toString('utf8')) as Array<Record<string, unknown>>;
}

type Behaviour = 'ok' | 'down' | 'hang' | ((text: string, values: unknown[]) => { rowCount: number });

/** A database double: records every INSERT, and answers as told. */
class FakeDatabase {
  behaviour: Behaviour = 'ok';
  attempts = 0;
  readonly ids: string[] = [];

  query = async (text: string, values: unknown[] = []) => {
    this.attempts++;
    const b = this.behaviour;
    if (b === 'down') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    if (b === 'hang') return new Promise<never>(() => undefined);
    if (typeof b === 'function') return b(text, values);
    const rows = rowsOf(values);
    this.ids.push(...rows.map((r) => r.id as string));
    return { rowCount: rows.length };
  };
}

function writer(db: FakeDatabase, options: Partial<ConstructorParameters<typeof AllocationRecords>[0]> = {}) {
  const clock = new FakeClock();
  const metrics = createRecordsMetrics(new Registry());
  const records = new AllocationRecords({ db: db as never, log: silentLogger, metrics, clock, flushIntervalMs: 1000, batchSize: 10, maxBuffered: 100, ...options });
  return { records, clock, metrics };
}

describe('AllocationRecords', () => {
  it('records an entry as it was when recorded, not as it is when its batch is written', async () => {
    const db = new FakeDatabase();
    const rows: Array<Record<string, unknown>> = [];
    db.behaviour = (_text, values) => (rows.push(...rowsOf(values)), { rowCount: rowsOf(values).length });
    const { records } = writer(db);
    const request = structuredClone(spec);
    const result = allocated('arena-1');
    records.record({ ...entry(1, result), request });
    // The caller's objects are its own again as soon as record() returns.
    request.metadata.labels['changed'] = 'later';
    result.ports.push({ name: 'changed', port: 1 });
    await records.flush();
    expect(rows).toEqual([expect.objectContaining({ request: spec, ports: [{ name: 'default', port: 7042 }] })]);
    await records.close();
  });

  it('writes every row of a backlog of thousands, in order, each once, its text intact', async () => {
    const db = new FakeDatabase();
    const players: unknown[] = [];
    db.behaviour = (_text, values) => {
      const rows = rowsOf(values);
      db.ids.push(...rows.map((r) => r.id as string));
      players.push(...rows.map((r) => (r.request as GameServerAllocationSpec).metadata.labels.player));
      return { rowCount: rows.length };
    };
    const { records } = writer(db, { batchSize: 500, maxBuffered: 5000 });
    const player = (i: number) => `ü "${i}" 🎮`;
    for (let i = 0; i < 2000; i++) records.record({ ...entry(i), request: { ...spec, metadata: { labels: { player: player(i) }, annotations: {} } } });
    await records.flush();
    expect(db.ids).toEqual(Array.from({ length: 2000 }, (_, i) => uuid(i)));
    expect(players).toEqual(Array.from({ length: 2000 }, (_, i) => player(i)));
    await records.close();
  });

  it('writes a full batch at once, without waiting for the interval', async () => {
    const db = new FakeDatabase();
    const { records, metrics } = writer(db, { batchSize: 3 });
    records.record(entry(1));
    records.record(entry(2));
    await settle();
    expect(db.attempts).toBe(0);
    records.record(entry(3));
    expect(db.attempts).toBe(0); // not on the caller's stack
    await settle();
    expect(db.ids).toEqual([uuid(1), uuid(2), uuid(3)]);
    expect(await counter(metrics, 'written', { table: 'allocations' })).toBe(3);
    await records.close();
  });

  it('writes what is buffered every interval', async () => {
    const db = new FakeDatabase();
    const { records, clock } = writer(db);
    records.record(entry(1));
    records.record(entry(2));
    clock.advance(999);
    await settle();
    expect(db.attempts).toBe(0);
    clock.advance(1);
    await settle();
    expect(db.ids).toEqual([uuid(1), uuid(2)]);
    await records.close();
  });

  it('builds one multi-row INSERT with the derived columns, its rows in one JSON parameter', async () => {
    const statements: Array<{ text: string; values: unknown[] }> = [];
    const db = new FakeDatabase();
    db.behaviour = (text, values) => (statements.push({ text, values }), { rowCount: rowsOf(values).length });
    const { records } = writer(db);
    records.record(entry(1));
    records.record({ ...entry(2, unallocated()), client: undefined, requestedAt: new Date(Date.UTC(2026, 0, 1)) });
    await records.flush();
    expect(statements).toHaveLength(1);
    expect(statements[0]?.text).toMatch(/^INSERT INTO allocations \(id,requested_at,request,state,game_server,fleet,address,ports,latency_ms,client,match_id\) SELECT .* FROM json_to_recordset\(\$1::json\) .* ON CONFLICT \(id\) DO NOTHING$/);
    expect(statements[0]?.values).toHaveLength(1);
    expect(rowsOf(statements[0]?.values ?? [])).toEqual([
      {
        id: uuid(1), requested_at: Date.UTC(2026, 0, 1, 0, 0, 0, 1), request: spec, state: 'Allocated', game_server: 'arena-1', fleet: 'arena', address: '10.0.0.7',
        ports: [{ name: 'default', port: 7042 }], latency_ms: 1.5, client: 'matchmaker', match_id: 'm-1',
      },
      { id: uuid(2), requested_at: Date.UTC(2026, 0, 1), request: spec, state: 'UnAllocated', game_server: null, fleet: null, address: null, ports: [], latency_ms: 1.5, client: null, match_id: null },
    ]);
    await records.close();
  });

  it("writes a request's JSON as given (a prepared allocation's, built from its template), as the request column's text", async () => {
    const statements: Array<{ values: unknown[] }> = [];
    const db = new FakeDatabase();
    db.behaviour = (_text, values) => (statements.push({ values }), { rowCount: rowsOf(values).length });
    const { records } = writer(db);
    // Spaced unlike JSON.stringify, so the row shows which text it took.
    const requestJson = JSON.stringify(spec, null, 1);
    records.record({ ...entry(1), requestJson });
    records.record(entry(2));
    await records.flush();
    const text = (statements[0]!.values[0] as Buffer).toString('utf8');
    expect(text).toContain(`"request":${requestJson},`);
    expect(text).toContain(`"request":${JSON.stringify(spec)},`);
    expect(rowsOf(statements[0]!.values).map((r) => r.request)).toEqual([spec, spec]);
    await records.close();
  });

  it('keeps a few full batches in flight while the database keeps up, and one at a time after a failure', async () => {
    const answers: Array<() => void> = [];
    const db = new FakeDatabase();
    let fail = false;
    db.behaviour = (_text, values) =>
      new Promise((resolve, reject) => answers.push(() => (fail ? reject(Object.assign(new Error('Connection terminated unexpectedly'), {})) : resolve({ rowCount: rowsOf(values).length })))) as never;
    const { records, clock } = writer(db, { batchSize: 10, maxWritesInFlight: 2, maxBuffered: 1000 });
    for (let i = 0; i < 30; i++) records.record(entry(i));
    await settle();
    expect(db.attempts).toBe(2);
    for (let i = 30; i < 40; i++) records.record(entry(i));
    answers.shift()?.();
    await settle();
    // One answered: the next full batch goes at once.
    expect(db.attempts).toBe(3);
    fail = true;
    answers.splice(0).forEach((answer) => answer());
    await settle();
    // Two failed together: one failure, one probe after the interval.
    expect(records.buffered).toBe(25);
    clock.advance(1000);
    await settle();
    expect(db.attempts).toBe(4);
    fail = false;
    db.behaviour = 'ok';
    answers.splice(0).forEach((answer) => answer());
    expect(await records.flush()).toEqual({ written: 25, remaining: 0 });
    await records.close();
  });

  it('shares a backlog among the writes that can start, in INSERTs of up to four batches', async () => {
    const sizes: number[] = [];
    const db = new FakeDatabase();
    db.behaviour = (_text, values) => {
      const rows = rowsOf(values);
      sizes.push(rows.length);
      db.ids.push(...rows.map((r) => r.id as string));
      return { rowCount: rows.length };
    };
    const { records } = writer(db, { batchSize: 10, maxWritesInFlight: 3, maxBuffered: 1000 });
    for (let i = 0; i < 45; i++) records.record(entry(i));
    await settle();
    expect(sizes).toEqual([15, 15, 15]);
    for (let i = 45; i < 245; i++) records.record(entry(i));
    await settle(20);
    expect(sizes.slice(3)).toEqual([40, 40, 40, 40, 40]);
    expect(await records.flush()).toEqual({ written: 0, remaining: 0 });
    expect(db.ids).toEqual(Array.from({ length: 245 }, (_, i) => uuid(i)));
    await records.close();
  });

  it('keeps up with an event loop saturated by allocations', async () => {
    const db = new FakeDatabase();
    const { records, metrics } = writer(db, { batchSize: 500, maxWritesInFlight: 3, maxBuffered: 5000 });
    // 400 allocations answered every turn: the writes must take rows as fast as they are recorded.
    for (let turn = 0; turn < 100; turn++) {
      for (let i = 0; i < 400; i++) records.record(entry(turn * 400 + i));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await records.flush();
    expect(await counter(metrics, 'dropped', {})).toBe(0);
    expect(db.ids).toHaveLength(40_000);
    await records.close();
  });

  it('never throws or waits while the database is down: keeps the newest, drops and counts the oldest, backs off', async () => {
    const db = new FakeDatabase();
    db.behaviour = 'down';
    const { records, clock, metrics } = writer(db, { maxRetryDelayMs: 8000 });
    for (let i = 0; i < 1000; i++) {
      expect(() => records.record(entry(i))).not.toThrow();
      if (i % 50 === 0) {
        clock.advance(1000);
        await settle();
      }
    }
    // One minute of failing: attempts back off to one per 8 s, instead of one per second or per batch.
    for (let s = 0; s < 60; s++) {
      clock.advance(1000);
      await settle();
    }
    expect(db.attempts).toBeLessThan(20);
    expect(records.buffered).toBe(100);
    expect(await counter(metrics, 'dropped', { reason: 'buffer_full' })).toBe(900);

    db.behaviour = 'ok';
    expect(await records.flush()).toEqual({ written: 100, remaining: 0 });
    expect(db.ids).toEqual(Array.from({ length: 100 }, (_, i) => uuid(900 + i)));
    expect(await counter(metrics, 'written', {})).toBe(100);
    await records.close();
  });

  it('retries a failed batch with the same ids, so a commit whose answer was lost is not written twice', async () => {
    const attempts: unknown[][] = [];
    const db = new FakeDatabase();
    db.behaviour = (_text, values) => {
      attempts.push(rowsOf(values).map((r) => r.id));
      if (attempts.length === 1) throw Object.assign(new Error('Connection terminated unexpectedly'), {});
      return { rowCount: rowsOf(values).length };
    };
    const { records } = writer(db);
    for (let i = 0; i < 3; i++) records.record({ ...entry(i), id: undefined });
    expect(await records.flush()).toEqual({ written: 0, remaining: 3 });
    expect(await records.flush()).toEqual({ written: 3, remaining: 0 });
    expect(attempts[1]).toEqual(attempts[0]);
    expect(new Set(attempts[0]).size).toBe(3);
    await records.close();
  });

  it('keeps memory bounded when the database hangs, and close gives up after its timeout', async () => {
    const db = new FakeDatabase();
    db.behaviour = 'hang';
    const { records, clock, metrics } = writer(db, { closeTimeoutMs: 5000 });
    for (let i = 0; i < 10; i++) records.record(entry(i));
    await settle();
    for (let i = 10; i < 1000; i++) records.record(entry(i));
    // One batch of 10 is stuck in the database; the buffer holds at most 100 more.
    expect(records.buffered).toBe(100);
    expect(await counter(metrics, 'dropped', { reason: 'buffer_full' })).toBe(890);
    const closing = records.close();
    await settle();
    clock.advance(5000);
    // The batches the database never answered count as dropped too.
    expect(await closing).toEqual({ written: 0, remaining: 110 });
    expect(await counter(metrics, 'dropped', { reason: 'shutdown' })).toBe(110);
  });

  it('gives up on a write that gets no answer, and retries it', async () => {
    const db = new FakeDatabase();
    db.behaviour = 'hang';
    const { records, clock } = writer(db, { writeTimeoutMs: 5000 });
    for (let i = 0; i < 3; i++) records.record(entry(i));
    clock.advance(1000);
    await settle();
    expect(db.attempts).toBe(1);
    // Hanging: the timer starts no second write behind the first.
    clock.advance(4999);
    await settle();
    expect(db.attempts).toBe(1);
    expect(records.buffered).toBe(0);
    clock.advance(1);
    await settle();
    expect(records.buffered).toBe(3);
    db.behaviour = 'ok';
    clock.advance(1000);
    await settle();
    expect(db.ids).toEqual([uuid(0), uuid(1), uuid(2)]);
    await records.close();
  });

  it('drops a row the database refuses, and writes the rest of its batch', async () => {
    const db = new FakeDatabase();
    db.behaviour = (_text, values) => {
      const rows = rowsOf(values);
      if (rows.some((r) => r.id === uuid(2))) throw Object.assign(new Error('new row violates check constraint'), { code: '23514' });
      return { rowCount: rows.length };
    };
    const { records, metrics } = writer(db);
    for (const i of [1, 2, 3]) records.record(entry(i));
    expect(await records.flush()).toEqual({ written: 2, remaining: 0 });
    expect(db.attempts).toBe(4); // the batch, then one at a time
    expect(await counter(metrics, 'dropped', { reason: 'rejected' })).toBe(1);
    await records.close();
  });

  it('drops entries that cannot be stored, and counts ids already written', async () => {
    const db = new FakeDatabase();
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(s) } });
    const { records, metrics, clock } = writer(db, { log });
    records.record({ ...entry(1), latencyMs: Number.NaN });
    records.record({ ...entry(2), requestedAt: new Date('not a date') });
    records.record({ ...entry(3), request: { big: 1n } as unknown as GameServerAllocationSpec });
    records.record(entry(4));
    db.behaviour = (_text, values) => ({ rowCount: rowsOf(values).length - 1 });
    records.record(entry(5));
    expect(await records.flush()).toEqual({ written: 1, remaining: 0 });
    expect(await counter(metrics, 'dropped', { reason: 'invalid' })).toBe(3);
    expect(await counter(metrics, 'dropped', { reason: 'duplicate' })).toBe(1);
    // The periodic warning names its reasons: an invalid entry has no line of its own.
    clock.advance(1000);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; dropped?: unknown })).toContainEqual(expect.objectContaining({ dropped: { invalid: 3, duplicate: 1 } }));
    await records.close();
  });

  it('writes what is buffered on close, then counts records made after it', async () => {
    const db = new FakeDatabase();
    const { records, metrics, clock } = writer(db);
    records.record({ ...entry(1), id: undefined });
    const closing = records.close();
    expect(records.close()).toBe(closing);
    expect(await closing).toEqual({ written: 1, remaining: 0 });
    // Made by the writer: time-ordered, from the request's time (2026-01-01T00:00:00.001Z).
    expect(db.ids).toEqual([expect.stringMatching(/^019b76da-a801-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)]);
    records.record(entry(2));
    clock.advance(10_000);
    await settle();
    expect(db.attempts).toBe(1);
    expect(await counter(metrics, 'dropped', { reason: 'closed' })).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('drops what it cannot write when the database is down at close', async () => {
    const db = new FakeDatabase();
    db.behaviour = 'down';
    const { records, metrics } = writer(db);
    for (let i = 0; i < 25; i++) records.record(entry(i));
    expect(await records.close()).toEqual({ written: 0, remaining: 25 });
    expect(await counter(metrics, 'dropped', { reason: 'shutdown' })).toBe(25);
    expect(records.buffered).toBe(0);
  });

  it('refuses settings that are not positive whole numbers', () => {
    expect(() => writer(new FakeDatabase(), { batchSize: 0 })).toThrow('batchSize must be a positive whole number, not 0');
    expect(() => writer(new FakeDatabase(), { flushIntervalMs: 2.5 })).toThrow('flushIntervalMs');
  });
});

/** A TCP relay in front of PostgreSQL, to take "the database" down and bring it back. */
class Relay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(5432, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

const kinds: TestDatabaseKind[] = ['postgres', 'pglite'];

describe.each(kinds)('AllocationRecords on %s', (kind) => {
  /** A writer on a migrated database of this kind, flushed by hand; the database dropped afterwards. */
  async function withRecords(run: (db: Database, records: AllocationRecords, metrics: RecordsMetrics) => Promise<void>): Promise<void> {
    const test = await openTestDatabase(kind);
    try {
      await migrate({ db: test.db, log: silentLogger });
      const metrics = createRecordsMetrics(new Registry());
      await run(test.db, new AllocationRecords({ db: test.db, log: silentLogger, metrics, batchSize: 100, flushIntervalMs: 60_000 }), metrics);
    } finally {
      await test.drop();
    }
  }

  it('round-trips records through multi-row INSERTs', async () => {
    await withRecords(async (db, records, metrics) => {
      for (let i = 0; i < 250; i++) records.record(entry(i, i % 5 === 0 ? unallocated() : allocated(`arena-${i}`)));
      expect(await records.flush()).toEqual({ written: 250, remaining: 0 });
      expect(await records.close()).toEqual({ written: 0, remaining: 0 });

      const { rows } = await db.query('SELECT * FROM allocations ORDER BY requested_at');
      expect(rows).toHaveLength(250);
      expect(rows[0]).toEqual({
        id: uuid(0), requested_at: new Date(Date.UTC(2026, 0, 1)), request: spec, state: 'UnAllocated', game_server: null, fleet: null, address: null, ports: [], latency_ms: 1.5, client: 'matchmaker', match_id: null,
      });
      expect(rows[1]).toEqual({
        id: uuid(1), requested_at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 1)), request: spec, state: 'Allocated', game_server: 'arena-1', fleet: 'arena', address: '10.0.0.7',
        ports: [{ name: 'default', port: 7042 }], latency_ms: 1.5, client: 'matchmaker', match_id: 'm-1',
      });
      expect(await counter(metrics, 'written', { table: 'allocations' })).toBe(250);
      const { values } = await metrics.flushDuration.get();
      expect(values.find((v) => v.metricName === 'hangar_records_flush_duration_seconds_count' && v.labels.outcome === 'ok')?.value).toBe(3);
    });
  });

  it('writes the rest of the batch one by one and drops only the refused row', async () => {
    await withRecords(async (db, records, metrics) => {
      // Allocated without a server: allocations_allocated_has_server refuses it.
      for (let i = 0; i < 20; i++) records.record(entry(i, allocated(i === 7 ? '' : `arena-${i}`)));
      expect(await records.flush()).toEqual({ written: 19, remaining: 0 });
      expect(await counter(metrics, 'dropped', { reason: 'rejected' })).toBe(1);
      const { rows } = await db.query<{ id: string }>('SELECT id FROM allocations ORDER BY requested_at');
      expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => uuid(i)).filter((_, i) => i !== 7));
      await records.close();
    });
  });
});

describe('AllocationRecords on postgres under load', () => {
  it('writes every one of 20,000 records exactly once, several INSERTs in flight on the pool, with time-ordered ids of its own', async () => {
    const test = await openTestDatabase('postgres');
    const { db } = test;
    try {
      await migrate({ db, log: silentLogger });
      const metrics = createRecordsMetrics(new Registry());
      const records = new AllocationRecords({ db, log: silentLogger, metrics, maxBuffered: 20_000, flushIntervalMs: 60_000 });
      let mostInFlight = 0;
      const { query } = db;
      let inFlight = 0;
      db.query = (async (text: string, values?: unknown[]) => {
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        try {
          return await query.call(db, text, values);
        } finally {
          inFlight--;
        }
      }) as typeof db.query;
      // As an allocator would: a burst each event-loop turn.
      for (let i = 0; i < 20_000; i += 200) {
        // Every other entry without an id: the writer makes one.
        for (let j = i; j < i + 200; j++) records.record({ ...entry(j, j % 7 === 0 ? unallocated() : allocated(`arena-${j % 1000}`)), id: j % 2 ? undefined : uuid(j) });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await records.flush();
      expect(await records.close()).toEqual({ written: 0, remaining: 0 });
      expect(mostInFlight).toBeGreaterThan(1);
      const { rows } = await db.query<{ n: number; ids: number; unallocated: number }>(
        "SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, count(*) FILTER (WHERE state = 'UnAllocated')::int AS unallocated FROM allocations",
      );
      expect(rows[0]).toEqual({ n: 20_000, ids: 20_000, unallocated: Math.ceil(20_000 / 7) });
      expect(await counter(metrics, 'written', {})).toBe(20_000);
      expect(await counter(metrics, 'dropped', {})).toBe(0);
      const made = await db.query<{ id: string; requested_at: Date }>("SELECT id::text, requested_at FROM allocations WHERE substr(id::text, 15, 1) = '7'");
      expect(made.rows).toHaveLength(10_000);
      expect(made.rows.filter((r) => parseInt(r.id.slice(0, 8) + r.id.slice(9, 13), 16) !== r.requested_at.getTime())).toEqual([]);
    } finally {
      await test.drop();
    }
  });
});

describe('AllocationRecords when the database goes away', () => {
  it('PostgreSQL: drops and counts the oldest while it is down, then writes the newest when it is back', async () => {
    const relay = new Relay();
    await relay.up();
    const config = { ...testPostgresConfig(), port: relay.port, connectTimeoutMs: 1000 };
    const test = await openTestDatabase('postgres');
    const db = await openDatabase({ config, log: silentLogger, schema: test.schema });
    try {
      await migrate({ db, log: silentLogger });
      const metrics = createRecordsMetrics(new Registry());
      const records = new AllocationRecords({ db, log: silentLogger, metrics, batchSize: 50, maxBuffered: 100, flushIntervalMs: 20, maxRetryDelayMs: 40 });
      for (let i = 0; i < 10; i++) records.record(entry(i));
      expect(await records.flush()).toEqual({ written: 10, remaining: 0 });

      await relay.down();
      for (let i = 10; i < 310; i++) {
        records.record(entry(i));
        if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
      }
      expect(await records.flush()).toEqual({ written: 0, remaining: 100 });
      expect(await counter(metrics, 'dropped', { reason: 'buffer_full' })).toBe(200);

      await relay.up();
      expect(await records.flush()).toEqual({ written: 100, remaining: 0 });
      await records.close();
      const { rows } = await test.db.query<{ id: string }>('SELECT id FROM allocations ORDER BY requested_at');
      expect(rows.map((r) => r.id)).toEqual([...Array.from({ length: 10 }, (_, i) => uuid(i)), ...Array.from({ length: 100 }, (_, i) => uuid(210 + i))]);
    } finally {
      await db.close();
      await relay.down();
      await test.drop();
    }
  });

  it('PGlite: record never throws after the database is closed under it', async () => {
    const test = await openTestDatabase('pglite');
    const { db } = test;
    await migrate({ db, log: silentLogger });
    const metrics = createRecordsMetrics(new Registry());
    const records = new AllocationRecords({ db, log: silentLogger, metrics, batchSize: 50, maxBuffered: 100, flushIntervalMs: 20 });
    records.record(entry(1));
    expect(await records.flush()).toEqual({ written: 1, remaining: 0 });
    await db.close();
    for (let i = 2; i < 302; i++) records.record(entry(i));
    expect(await records.flush()).toEqual({ written: 0, remaining: 100 });
    expect(await counter(metrics, 'dropped', { reason: 'buffer_full' })).toBe(200);
    expect(await records.close()).toEqual({ written: 0, remaining: 100 });
    expect(await counter(metrics, 'dropped', { reason: 'shutdown' })).toBe(100);
  });
});
