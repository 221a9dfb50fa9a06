import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

// What the instruction-count benches (bench/arena-instructions.ts, bench/allocator-instructions.ts)
// share: how node runs under valgrind's callgrind so that one build counts the same run after run,
// how the counted part is marked, and how a callgrind output is read.

/**
 * The counted part is marked by calls into JSON.parse's reviver: JIT-compiled JavaScript has no
 * name callgrind could switch on, and the reviver's caller is a C++ function that the optimizer
 * never inlines and that nothing else here calls (a reviver is never passed otherwise). Given to
 * `--toggle-collect`, counting is on only inside `counted`'s work; given to `--dump-before`, every
 * `counted` call dumps what was counted since the last one and starts afresh.
 */
export const MEASURED_FRAME = 'v8::internal::JsonParseInternalizer::Internalize(*';

export function counted(work: () => void): void {
  JSON.parse('0', () => {
    work();
    return 0;
  });
}

/** callgrind, and the self-modifying-code check that V8's JIT needs. */
export const CALLGRIND_ARGS = ['--tool=callgrind', '--smc-check=all-non-file'];

/**
 * One thread, so no compiler or GC work of a background thread lands in the count; fixed seeds;
 * a young generation big enough that no scavenge falls inside the counted part (after a full
 * collection); no incremental marking, whose steps (and write barriers' marking work) came inside
 * the counted part of some runs and not others even right after a full collection (V8 sets the old
 * generation's limit by how fast its collections ran, a time); no memory reducer, which starts
 * collections when the process looks idle, by the clock.
 */
export function repeatableNodeArgs(semiSpaceMiB: number): string[] {
  return ['--single-threaded', '--expose-gc', '--hash-seed=1', '--random-seed=1', `--min-semi-space-size=${semiSpaceMiB}`, `--max-semi-space-size=${semiSpaceMiB}`, '--no-incremental-marking', '--no-memory-reducer'];
}

export function valgrindInstalled(): boolean {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Young-generation bytes in use now: their growth between two points with no scavenge between is what was allocated there. */
export function youngGenerationUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') used += space.space_used_size;
  return used;
}

export interface CallgrindCounts {
  /** Everything counted, less glibc's malloc internals. */
  instructions: number;
  /**
   * Instructions inside glibc's malloc and free: how long they take depends on the state of the
   * process's malloc heap, which node's helper threads change at moments that differ from run to
   * run (0.3-0.5 % of the arena bench's total moved with them between runs of one build), so they
   * are counted apart, not in `instructions`. The calls themselves (napi's, V8's) are in it.
   */
  mallocInternals: number;
  /** Instructions of V8's compilers, deoptimizer and garbage collector: 0 when the harness works, and a run with any is no measure. */
  compilingOrCollecting: number;
}

/** What a callgrind output (one dump) counted, split as CallgrindCounts says, from callgrind_annotate's flat profile. */
export function readCounts(callgrindOut: string): CallgrindCounts {
  const total = /^totals: (\d+)$/m.exec(readFileSync(callgrindOut, 'utf8'));
  if (!total) throw new Error(`${callgrindOut}: no "totals:" line (not a callgrind output?)`);
  const flat = execFileSync('callgrind_annotate', ['--threshold=100', callgrindOut], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  let compilingOrCollecting = 0;
  let mallocInternals = 0;
  for (const line of flat.split('\n')) {
    const match = /^\s*([\d,]+) \(/.exec(line);
    if (!match) continue;
    const n = Number(match[1]!.replaceAll(',', ''));
    if (/v8::internal::(compiler::|maglev::|Deoptimizer|Compiler::|Scavenger|MarkCompactCollector|IncrementalMarking|\w*MarkingVisitor|Heap::CollectGarbage|MarkingBarrier|WriteBarrier::Marking)/.test(line)) compilingOrCollecting += n;
    else if (/\/malloc\/(malloc|arena)\.c:/.test(line)) mallocInternals += n;
  }
  return { instructions: Number(total[1]) - mallocInternals, mallocInternals, compilingOrCollecting };
}

/**
 * "build: median M, spread S % over N runs" for each build, then "this build / baseline: R×" (of
 * the medians) when there are two: a median, because a run now and then has V8 optimize a function
 * again inside the counted part, and that one run should not move the figure.
 */
export function repeatabilityLines(runs: Array<{ build: string; perUnit: number }>, builds: string[]): string[] {
  const own = (build: string) => runs.filter((x) => x.build === build).map((x) => x.perUnit).sort((a, b) => a - b);
  const median = (xs: number[]) => (xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2);
  const lines = builds.map((build) => {
    const xs = own(build);
    if (xs.length === 0) return `${build}: no run to go by`;
    const m = median(xs);
    return `${build}: median ${Math.round(m).toLocaleString('en-US')}, spread ${(((xs[xs.length - 1]! - xs[0]!) / m) * 100).toFixed(2)} % over ${xs.length} runs`;
  });
  if (builds.length === 2 && own(builds[0]!).length > 0 && own(builds[1]!).length > 0) lines.push(`${builds[0]} / ${builds[1]}: ${(median(own(builds[0]!)) / median(own(builds[1]!))).toFixed(4)}×`);
  return lines;
}
