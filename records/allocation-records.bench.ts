import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { unallocated, type AllocationResult, type GameServerAllocationSpec } from '../allocator/allocation.js';
import { silentLogger } from '../core/logger.js';
import { createRecordsMetrics, Registry } from '../core/metrics.js';
import { AllocationRecords, type AllocationRecord } from './allocation-records.js';
import { openDatabase, type Database } from './database.js';
import { migrate } from './migrate.js';
import { openTestDatabase } from './test-database.js';

// What an allocation pays for its record, and how fast records reach each database.
//   node dist/records/allocation-records.bench.js   (PostgreSQL on 127.0.0.1:5432, database test)

const spec: GameServerAllocationSpec = {
  selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' }, matchExpressions: [], gameServerState: 'Ready', counters: {}, lists: {} }],
  scheduling: 'Packed',
  priorities: [],
  metadata: { labels: {}, annotations: { 'hangar.dev/match-id': 'm-1' } },
  counters: {},
  lists: {},
};
const result: AllocationResult = {
  ...unallocated(),
  state: 'Allocated',
  gameServerName: 'arena-x7k2p-9qz4d',
  address: '10.0.0.7',
  addresses: [{ type: 'InternalIP', address: '10.0.0.7' }],
  ports: [{ name: 'default', port: 7042 }],
  nodeName: 'node-a',
  source: 'local',
  metadata: { labels: { 'agones.dev/fleet': 'arena' }, annotations: { 'hangar.dev/match-id': 'm-1' } },
};
const entry = (i: number): AllocationRecord => ({ requestedAt: 1_767_225_600_000 + i, request: spec, result, latencyMs: 0.8, client: 'matchmaker' });

const nullDb = { query: async () => ({ rowCount: 0 }) } as unknown as Database;
const downDb = { query: async () => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })) } as unknown as Database;

/** Median ns per call of fn, over 200 runs of 5000 calls each; `between` runs untimed after each run. */
async function medianNs(fn: (i: number) => void, between: () => Promise<unknown>): Promise<number> {
  const runs: number[] = [];
  for (let run = 0; run < 200; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 5000; i++) fn(i);
    runs.push(Number(process.hrtime.bigint() - start) / 5000);
    await between();
  }
  return runs.sort((a, b) => a - b)[100] ?? NaN;
}

async function recordCost(): Promise<string[]> {
  const entries = Array.from({ length: 5000 }, (_, i) => entry(i));
  const sink: AllocationRecord[] = [];
  const baseline = await medianNs((i) => sink.push(entries[i] as AllocationRecord), async () => (sink.length = 0));
  // The path every allocation takes while the database keeps up (flushed untimed between runs).
  const records = new AllocationRecords({ db: nullDb, log: silentLogger, metrics: createRecordsMetrics(new Registry()), batchSize: 5000, maxBuffered: 50_000, flushIntervalMs: 3_600_000 });
  const normal = await medianNs((i) => records.record(entries[i] as AllocationRecord), () => records.flush());
  await records.close();
  // Database down and the buffer full: every call drops the oldest and counts it.
  const full = new AllocationRecords({ db: downDb, log: silentLogger, metrics: createRecordsMetrics(new Registry()), batchSize: 500, maxBuffered: 10_000, flushIntervalMs: 3_600_000, closeTimeoutMs: 1000 });
  for (let i = 0; i < 10_000; i++) full.record(entry(i));
  const dropping = await medianNs((i) => full.record(entries[i] as AllocationRecord), async () => undefined);
  await full.close();
  return [
    '| record() path | ns per call (median of 200 × 5000) | baseline: Array.push of the same entry | ratio |',
    '|---|---|---|---|',
    `| buffer has room (the normal case) | ${normal.toFixed(0)} | ${baseline.toFixed(0)} | ${(normal / baseline).toFixed(1)}× |`,
    `| buffer full, database down (drop oldest + counter) | ${dropping.toFixed(0)} | ${baseline.toFixed(0)} | ${(dropping / baseline).toFixed(1)}× |`,
  ];
}

interface Throughput {
  rowsPerSecond: number;
  /** Event-loop delay while writing, ms: what an allocation arriving meanwhile could wait. */
  p99LoopDelayMs: number;
  maxLoopDelayMs: number;
  cpuUsPerRow: number;
}

/** Records `rows` entries in bursts of 1000 per event-loop turn and waits until all are written. */
async function throughput(db: Database, rows: number, batchSize: number): Promise<Throughput> {
  await db.query('TRUNCATE allocations');
  const records = new AllocationRecords({ db, log: silentLogger, metrics: createRecordsMetrics(new Registry()), batchSize, maxBuffered: rows, flushIntervalMs: 50 });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu = process.cpuUsage();
  const start = performance.now();
  delay.enable();
  for (let i = 0; i < rows; i += 1000) {
    for (let j = i; j < Math.min(rows, i + 1000); j++) records.record(entry(j));
    await new Promise((resolve) => setImmediate(resolve));
  }
  // flush, not close: close gives up after its timeout, and a large backlog may take longer.
  const { remaining } = await records.flush();
  const seconds = (performance.now() - start) / 1000;
  await records.close();
  delay.disable();
  const used = process.cpuUsage(cpu);
  if (remaining) throw new Error(`${remaining} rows were not written`);
  const { rows: count } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM allocations');
  if (count[0]?.n !== rows) throw new Error(`expected ${rows} rows, found ${count[0]?.n}`);
  return { rowsPerSecond: rows / seconds, p99LoopDelayMs: delay.percentile(99) / 1e6, maxLoopDelayMs: delay.max / 1e6, cpuUsPerRow: ((used.user + used.system) / rows) };
}

/** The baseline: one INSERT per row, one after the other. */
async function singleRowInserts(db: Database, rows: number): Promise<number> {
  await db.query('TRUNCATE allocations');
  const start = performance.now();
  for (let i = 0; i < rows; i++) {
    await db.query(
      'INSERT INTO allocations (id,requested_at,request,state,game_server,fleet,address,ports,latency_ms,client,match_id) VALUES (gen_random_uuid(),$1,$2,$3,$4,$5,$6,$7,$8,$9,$10)',
      [new Date(1_767_225_600_000 + i), JSON.stringify(spec), 'Allocated', result.gameServerName, 'arena', result.address, JSON.stringify(result.ports), 0.8, 'matchmaker', 'm-1'],
    );
  }
  return rows / ((performance.now() - start) / 1000);
}

async function writeRates(): Promise<string[]> {
  const lines = ['| database | rows | batch | rows/s | vs one INSERT per row | CPU µs/row (this process) | event-loop delay p99 / max |', '|---|---|---|---|---|---|---|'];
  const pgTest = await openTestDatabase('postgres');
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-bench-pglite-'));
  const targets: Array<{ name: string; db: Database; rows: number; drop: () => Promise<void> }> = [
    { name: 'PostgreSQL 15 (127.0.0.1)', db: pgTest.db, rows: 100_000, drop: () => pgTest.drop() },
    { name: 'PGlite, in memory', db: await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: 'memory://' }), rows: 20_000, drop: async () => undefined },
    { name: 'PGlite, on disk (the default)', db: await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: path.join(dir, 'pglite') }), rows: 20_000, drop: async () => undefined },
  ];
  try {
    for (const t of targets) {
      await migrate({ db: t.db, log: silentLogger });
      const single = await singleRowInserts(t.db, 2000);
      for (const batch of [50, 100, 250, 500, 2000]) {
        const r = await throughput(t.db, t.rows, batch);
        lines.push(`| ${t.name} | ${t.rows} | ${batch} | ${Math.round(r.rowsPerSecond)} | ${(r.rowsPerSecond / single).toFixed(1)}× (${Math.round(single)}/s) | ${r.cpuUsPerRow.toFixed(1)} | ${r.p99LoopDelayMs.toFixed(1)} / ${r.maxLoopDelayMs.toFixed(1)} ms |`);
      }
    }
  } finally {
    for (const t of targets) {
      await t.db.close();
      await t.drop();
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

async function main(): Promise<void> {
  console.log(`# allocation records · ${new Date().toISOString()} · Node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? '?'}\n`);
  console.log((await recordCost()).join('\n'));
  console.log('');
  console.log((await writeRates()).join('\n'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
