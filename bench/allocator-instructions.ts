import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { ALLOCATION_PATH } from '../allocator/stream-protocol.js';
import type { Clock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { StreamAllocatorClient } from '../matchmaker/allocator-client.js';
import { ACKING_FLEET, matchAllocation, SILENT_FLEET, startBenchAllocator } from './allocator-fleet.js';
import { dropSchema } from './allocator-load.js';
import { CALLGRIND_ARGS, counted, MEASURED_FRAME, readCounts, repeatabilityLines, repeatableNodeArgs, valgrindInstalled, youngGenerationUsed, type CallgrindCounts } from './callgrind-count.js';
import { nameJitFrames } from './callgrind-jit-names.js';

// The allocator's work per stream allocation counted in instructions, which a noisy machine cannot
// move. The allocator server of bench/allocator-load.ts (bench/allocator-fleet.ts
// startBenchAllocator: the allocation service over a memory store, records to PostgreSQL, two fake
// fleets that refill themselves) runs under valgrind's callgrind; this process, not under valgrind,
// is the load: the matchmaker's own StreamAllocatorClient with its prepared allocations, in bursts
// of `burst` allocations asked for in one turn (so each burst's frames are the same run after run)
// and the next burst once all are answered. The warm-up runs uninstrumented (several times faster;
// V8 has optimized what it will by its end), then callgrind is told to instrument (through
// valgrind's gdbserver, callgrind_control) and, after a full collection, a window of ack wait off (the fleet that
// does not acknowledge) and one of ack wait on (the fleet that does, its echo written on the
// allocator's thread as the local stack's game servers write theirs), each delimited by a callgrind dump (the server calls `counted` at its start and end, with
// --dump-before on its frame): what a window counts is the server's work for its allocations, their
// records' INSERTs included (the window ends once all are written), and the fake game servers'
// writes back to Ready (store work that shares the thread, as in bench/allocator-load.ts). V8
// compiling inside a window (now and then a function reaches its budget late) is counted apart, as
// are glibc's malloc internals; a run now and then has V8 deoptimize something inside a window and
// count a sixth more, which the medians of three runs leave out. What it does not see: syscalls
// and the kernel, cache misses and branch mispredictions, and the garbage collector (reported
// instead as young-generation bytes allocated per allocation: no scavenge falls in a window).
//
//   npx tsc -p tsconfig.json && node dist/bench/allocator-instructions.js
//   BENCH_INSTR_ALLOCATIONS=20000,1000 warm-up allocations of each fleet, then counted ones of each (default 20000,1000;
//                                      multiples of the records' batch of 500, so full batches are written)
//   BENCH_INSTR_BURST=100              allocations asked for together (default 100)
//   BENCH_INSTR_RUNS=3                 valgrind runs per build (default 3)
//   BENCH_INSTR_BASELINE=/path/dist    also count another build's allocator (a worktree of main, built), run by run
//   BENCH_INSTR_OUT=/path/dir          keep the callgrind outputs there, the windows' with JavaScript functions named for
//                                      callgrind_annotate: callgrind.out.<build>.<run>.2.named (ack wait off), .4.named (on)
//   BENCH_DATABASE_URL                 the records' PostgreSQL (default postgres://127.0.0.1:5432/test; a schema of its own, dropped)
//
// Needs valgrind and PostgreSQL; runs valgrind at nice 10. A run takes 1-2 minutes on a slow
// two-core machine (three per build by default), so this is not part of `npm run bench`.

const POOL = 1000;
/**
 * The allocator's clock runs this many times slower than the wall's: under callgrind the allocator
 * runs some 50 times slower than natively, and with its own clock slowed as much, its timers (the
 * records' 1 s flush, above all) fire as rarely for the work done as they would natively, rather
 * than at moments that differ from run to run in the middle of a window.
 */
const CLOCK_SLOWDOWN = 50;
const SEMI_SPACE_MIB = 64;
const DISTINCT = 256;
const WINDOWS = [
  ['ack wait off', SILENT_FLEET],
  ['ack wait on', ACKING_FLEET],
] as const;

function slowedClock(factor: number): Clock {
  const wallStart = Date.now();
  const monotonicStart = performance.now();
  return {
    now: () => wallStart + Math.floor((Date.now() - wallStart) / factor),
    monotonic: () => monotonicStart + (performance.now() - monotonicStart) / factor,
    setTimeout(fn, ms) {
      const t = setTimeout(fn, ms * factor);
      t.unref();
      return () => clearTimeout(t);
    },
    every(ms, fn) {
      const t = setInterval(fn, ms * factor);
      t.unref();
      return () => clearInterval(t);
    },
  };
}

// ---- the server, under valgrind: `--server <dist>`, driven by lines on its stdin ----

/**
 * `records N`: waits until N records are written (checking every 50 ms); recorded.
 * `start`: a full collection, then a dump (all before it is not counted); started.
 * `end`: a dump (the window's count), then the young-generation bytes allocated since `start`
 * (no scavenge can have run between: the semi-space holds more); ended.
 */
async function serve(dist: string): Promise<void> {
  const { server, recordsMetrics } = await startBenchAllocator(POOL, pathToFileURL(`${dist}/`), slowedClock(CLOCK_SLOWDOWN));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
  const written = async () => (await recordsMetrics.written.get()).values.reduce((n, v) => n + v.value, 0);
  let youngAtStart = 0;
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, arg] = line.split(' ');
    if (command === 'records') {
      void (async () => {
        while ((await written()) < Number(arg)) await new Promise((r) => setTimeout(r, 50));
        say({ type: 'recorded' });
      })();
    } else if (command === 'start') {
      // No argument: node 20's V8 takes `{ type: 'major' }` as a scavenge (gameserver/exposed-gc.ts).
      gc();
      youngAtStart = youngGenerationUsed();
      counted(() => {});
      say({ type: 'started' });
    } else if (command === 'end') {
      counted(() => {});
      say({ type: 'ended', youngBytes: youngGenerationUsed() - youngAtStart });
    } else if (command === 'stop') {
      process.exit(0);
    }
  });
  server.listen(0, '127.0.0.1', () => say({ type: 'listening', port: (server.address() as AddressInfo).port }));
}

// ---- the driver and load ----

interface WindowCount extends CallgrindCounts {
  build: string;
  run: number;
  window: string;
  allocations: number;
  youngBytes: number;
}

/** Lines from the server's stdout, one JSON message at a time. */
function messages(child: ChildProcess): (type: string) => Promise<Record<string, unknown>> {
  const queue: Array<Record<string, unknown>> = [];
  let waiting: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    queue.push(JSON.parse(line) as Record<string, unknown>);
    waiting?.();
  });
  let exited: Error | undefined;
  child.on('exit', (code) => {
    exited = new Error(`the server exited (${code}) early`);
    waiting?.();
  });
  return async (type) => {
    for (;;) {
      const next = queue.shift();
      if (next) {
        if (next.type !== type) throw new Error(`the server said ${JSON.stringify(next)}, expected ${type}`);
        return next;
      }
      if (exited) throw exited;
      await new Promise<void>((resolve) => (waiting = resolve));
    }
  };
}

async function allocateAll(client: StreamAllocatorClient, fleet: string, count: number, burst: number): Promise<void> {
  const asks = Array.from({ length: DISTINCT }, (_, n) => matchAllocation(fleet, n));
  for (let done = 0; done < count; done += burst) {
    const results = await Promise.all(Array.from({ length: Math.min(burst, count - done) }, (_, i) => client.allocate(asks[(done + i) % DISTINCT]!)));
    const failed = results.find((r) => r.state !== 'Allocated');
    if (failed) throw new Error(`an allocation of ${fleet} came back ${failed.state}: the pool ran dry`);
  }
}

async function countRun(build: string, dist: string, run: number, settings: { warmUp: number; counted: number; burst: number; outDir?: string; database: string }): Promise<WindowCount[]> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'allocator-instructions-'));
  const outFile = path.join(settings.outDir ?? scratch, `callgrind.out.${build.replace(/\W+/g, '-')}.${run}`);
  const apiKey = randomBytes(16).toString('hex');
  const schema = `bench_instr_${randomBytes(4).toString('hex')}`;
  const nodeArgs = [...repeatableNodeArgs(SEMI_SPACE_MIB), '--no-flush-bytecode', ...(settings.outDir ? ['--perf-basic-prof'] : [])];
  const child = spawn('nice', ['-n', '10', 'valgrind', ...CALLGRIND_ARGS, '--instr-atstart=no', `--dump-before=${MEASURED_FRAME}`, `--callgrind-out-file=${outFile}`, process.execPath, ...nodeArgs, new URL(import.meta.url).pathname, '--server', dist], {
    env: {
      ...process.env,
      DATABASE_URL: settings.database,
      HANGAR_RECORDS__SCHEMA: schema,
      ALLOCATOR_API_KEYS: `matchmaker=${apiKey}`,
      HANGAR_ALLOCATOR__RATE_LIMIT_PER_SECOND: '1000000',
      HANGAR_ALLOCATOR__RATE_LIMIT_BURST: '10000000',
      HANGAR_LOCAL__STATE_DIR: scratch,
      LOG_LEVEL: 'warn',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    // The build's own tree: its config/ is read from there, whatever directory the bench runs in.
    cwd: path.resolve(dist, '..'),
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const next = messages(child);
  const ask = (line: string) => child.stdin!.write(`${line}\n`);
  let client: StreamAllocatorClient | undefined;
  try {
    const { port } = await next('listening');
    // Under valgrind a burst of cold code takes seconds: no allocation is given up on here.
    client = new StreamAllocatorClient({ url: `ws://127.0.0.1:${String(port)}${ALLOCATION_PATH}/stream`, apiKey, log: silentLogger, timeoutMs: 3_600_000 });
    for (const [, fleet] of WINDOWS) await allocateAll(client, fleet, settings.warmUp, settings.burst);
    let recorded = WINDOWS.length * settings.warmUp;
    ask(`records ${recorded}`);
    await next('recorded');
    // Warmed up uninstrumented, several times faster; instrumenting from here (through valgrind's
    // gdbserver) translates the JIT's code afresh, and counts nothing until the first window starts.
    execFileSync('callgrind_control', ['--instr=on', String(child.pid)], { stdio: 'ignore' });
    const windows: Array<{ window: string; youngBytes: number }> = [];
    for (const [window, fleet] of WINDOWS) {
      ask('start');
      await next('started');
      await allocateAll(client, fleet, settings.counted, settings.burst);
      // The window ends once its records are written: their INSERTs are part of an allocation's work.
      recorded += settings.counted;
      ask(`records ${recorded}`);
      await next('recorded');
      ask('end');
      windows.push({ window, youngBytes: (await next('ended')).youngBytes as number });
    }
    await client.close();
    client = undefined;
    ask('stop');
    await new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode !== 0) throw new Error(`valgrind run of ${build} failed (exit ${child.exitCode}):\n${stderr.split('\n').slice(-30).join('\n')}`);
    return windows.map(({ window, youngBytes }, i) => {
      // Dumps: 1 start-up and warm-up (and the records' waits), then per window its count and what followed.
      const dump = `${outFile}.${2 + 2 * i}`;
      if (!existsSync(dump)) throw new Error(`${dump}: no such dump (did the window's dump happen?)`);
      if (settings.outDir) nameJitFrames(dump);
      const counts = readCounts(dump);
      // V8 still optimizes a function now and then inside a window (one called per INSERT or per
      // frame reaches its budget late): a one-off, counted apart like malloc's internals.
      return { build, run, window, allocations: settings.counted, youngBytes, ...counts, instructions: counts.instructions - counts.compilingOrCollecting };
    });
  } finally {
    await client?.close();
    if (child.exitCode === null) child.kill('SIGKILL');
    if (settings.outDir) rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
    await dropSchema(settings.database, schema).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function benchAllocatorInstructions(): Promise<string> {
  if (!valgrindInstalled()) return 'valgrind is not installed (apt-get install valgrind): instruction counts skipped';
  const env = process.env;
  const [warmUp, countedAllocations] = (env.BENCH_INSTR_ALLOCATIONS ?? '20000,1000').split(',').map(Number) as [number, number];
  const settings = { warmUp, counted: countedAllocations, burst: Number(env.BENCH_INSTR_BURST ?? 100), outDir: env.BENCH_INSTR_OUT, database: env.BENCH_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test' };
  const runs = Number(env.BENCH_INSTR_RUNS ?? 3);
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const builds: Array<[string, string]> = [['this build', here], ...(env.BENCH_INSTR_BASELINE ? [['baseline', path.resolve(env.BENCH_INSTR_BASELINE)] as [string, string]] : [])];
  const results: WindowCount[] = [];
  for (let r = 1; r <= runs; r++) for (const [build, dist] of builds) results.push(...(await countRun(build, dist, r, settings)));
  const per = (x: WindowCount, n: number) => Math.round(n / x.allocations).toLocaleString('en-US');
  const lines = [
    `${warmUp} warm-up and ${countedAllocations} counted stream allocations of each fleet, in bursts of ${settings.burst}; the allocator's work under callgrind, its records' INSERTs included`,
    '',
    '| build | run | window | instructions per allocation | compiling or collecting, apart | glibc malloc internals, apart | young-generation bytes per allocation |',
    '|---|---|---|---|---|---|---|',
    ...results.map((x) => `| ${x.build} | ${x.run} | ${x.window} | ${per(x, x.instructions)} | ${per(x, x.compilingOrCollecting)} | ${per(x, x.mallocInternals)} | ${per(x, x.youngBytes)} |`),
  ];
  for (const [window] of WINDOWS) {
    lines.push('', `${window}:`);
    lines.push(...repeatabilityLines(results.filter((x) => x.window === window).map((x) => ({ build: x.build, perUnit: x.instructions / x.allocations })), builds.map(([build]) => build)));
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [mode, dist] = process.argv.slice(2);
  const main = mode === '--server' ? serve(path.resolve(dist!)).then(() => '') : benchAllocatorInstructions();
  main.then(
    (out) => out && console.log(out),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
