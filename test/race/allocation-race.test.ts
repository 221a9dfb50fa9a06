import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { RaceAllocatorReport, RaceConfig, RaceWatcherReport } from './race-config.js';
import { removeRedisKeys } from '../helpers/redis-keys.js';

// Four allocator processes on one Redis, each with several allocations in flight, all after the
// same servers (Packed: always the first Ready one by name), every server handed back to the pool
// right after: at least 100,000 allocations, no server handed out twice in one Ready period, and
// no allocation that found nothing (the pool is larger than the servers all lanes can hold, so a
// Ready server exists at every moment; a fifth process, watching, confirms it). Allocation
// contention between replicas (Agones #1856, #4190) must not happen here. The children run the
// compiled JavaScript (`npm test` builds first).

const REDIS = { host: '127.0.0.1', port: 6379 };
const ALLOCATORS = 4;
const LANES = 8;
const POOL = 400;
const TOTAL = 100_000;
const DIST = path.resolve('dist/test/race');

const children: ChildProcess[] = [];
let prefix = '';

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill();
  const admin = new Redis(REDIS);
  await removeRedisKeys(admin, prefix);
  await admin.quit();
});

function start(script: string, config: RaceConfig): ChildProcess {
  const file = path.join(DIST, script);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (npm test does)`);
  const child = fork(file, [JSON.stringify(config)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return child;
}

function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T): void => {
      if (m.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(m);
    };
    const onExit = (code: number | null): void => reject(new Error(`child exited (${code}) before sending ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

it(`${ALLOCATORS} allocator processes make ${TOTAL} allocations: none twice, none failed while a server was Ready`, async () => {
  prefix = `hangar-race:${randomUUID()}:`;
  const config: RaceConfig = { redis: REDIS, prefix, pool: POOL, target: TOTAL / ALLOCATORS, concurrency: LANES, worker: 0 };
  const watcher = start('race-watcher.js', config);
  await nextMessage(watcher, 'ready');

  const started = performance.now();
  const allocators = Array.from({ length: ALLOCATORS }, (_, worker) => start('race-allocator.js', { ...config, worker }));
  const reports = await Promise.all(allocators.map((child) => nextMessage<RaceAllocatorReport>(child, 'report')));
  const elapsedMs = performance.now() - started;
  watcher.send({ type: 'stop', lastSeq: Math.max(...reports.map((r) => r.lastSeq)) });
  const watched = await nextMessage<RaceWatcherReport>(watcher, 'report');

  const allocations = reports.flatMap((r) => r.allocations);
  const failures = reports.reduce((n, r) => n + r.failures, 0);
  const twice = allocations.length - new Set(allocations).size;
  process.stdout.write(
    `allocation race: ${allocations.length} allocations (each handed back through the store) in ${(elapsedMs / 1000).toFixed(1)} s, ` +
      `${Math.round(allocations.length / (elapsedMs / 1000))}/s over ${ALLOCATORS} processes × ${LANES} in flight; ` +
      `allocate latency p50 ${Math.max(...reports.map((r) => r.latencyMs.p50)).toFixed(2)} ms, p99 ${Math.max(...reports.map((r) => r.latencyMs.p99)).toFixed(2)} ms; ` +
      `CPU per allocation+return in an allocator ${(reports.reduce((n, r) => n + r.cpuMs, 0) / allocations.length * 1000).toFixed(0)} µs; ` +
      `${failures} found nothing; fewest Ready at any moment ${watched.minReady}; ${twice} handed out twice\n`,
  );

  expect(allocations.length).toBeGreaterThanOrEqual(TOTAL);
  expect(twice).toBe(0);
  expect(failures).toBe(0);
  // What another process saw agrees: every version in order, each allocation once, a Ready server throughout.
  expect(watched.gaps).toBe(0);
  expect(watched.allocatedTwice).toBe(0);
  expect(watched.allocationsSeen).toBe(allocations.length);
  expect(watched.minReady).toBeGreaterThan(0);
}, 120_000);
