import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// Callgrind sees V8's JIT-compiled code as nameless addresses ("0x000000000d143040"): the code
// lives in anonymous memory with no symbol table. Node run with --perf-basic-prof writes where
// each code object lies to /tmp/perf-<pid>.map ("start size name" in hex, one a line); this names
// every such address in a callgrind output file after the code object that holds it, so that
// callgrind_annotate shows JavaScript functions by name (code objects that moved or died after
// the map line was written could be misnamed; V8 does not move code during a run this short).
//
//   node dist/bench/callgrind-jit-names.js callgrind.out.X [/tmp/perf-PID.map]   → callgrind.out.X.named
// (the map's pid is read from the output file's "pid:" line when not given)

interface CodeRange {
  start: number;
  end: number;
  name: string;
}

function readPerfMap(file: string): CodeRange[] {
  const ranges: CodeRange[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (!match) continue;
    const start = parseInt(match[1]!, 16);
    ranges.push({ start, end: start + parseInt(match[2]!, 16), name: match[3]! });
  }
  // A later line for the same memory is newer code: sorted by start, the last written wins ties.
  return ranges.map((r, i) => ({ r, i })).sort((a, b) => a.r.start - b.r.start || a.i - b.i).map(({ r }) => r);
}

/** The code object holding `address`, by binary search over ranges sorted by start. */
function nameAt(ranges: CodeRange[], address: number): string | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  let found: CodeRange | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= address) {
      found = ranges[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found && address < found.end ? found.name : undefined;
}

/** Rewrites the nameless functions of a callgrind output; returns how many of them were named. */
export function nameJitFrames(callgrindOut: string, perfMap?: string): { named: number; unnamed: number; file: string; perfMap: string } {
  const text = readFileSync(callgrindOut, 'utf8');
  const pid = /^pid: (\d+)$/m.exec(text)?.[1];
  const map = perfMap ?? (pid ? `/tmp/perf-${pid}.map` : undefined);
  if (!map) throw new Error(`${callgrindOut}: no "pid:" line, so no perf map to read; give its path`);
  const ranges = readPerfMap(map);
  let named = 0;
  let unnamed = 0;
  // Function names appear in "fn=(id) name" and "cfn=(id) name" lines (the id alone after the
  // first use), with "'N" after the name for a recursion depth.
  const out = text.replace(/^(c?fn=\(\d+\)) 0x([0-9a-f]+)('\d+)?$/gm, (line, head: string, hex: string, depth: string | undefined) => {
    const name = nameAt(ranges, parseInt(hex, 16));
    if (name === undefined) {
      unnamed++;
      return line;
    }
    named++;
    return `${head} ${name} [JIT]${depth ?? ''}`;
  });
  const file = `${callgrindOut}.named`;
  writeFileSync(file, out);
  return { named, unnamed, file, perfMap: map };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [callgrindOut, perfMap] = process.argv.slice(2);
  if (!callgrindOut) {
    console.error('usage: node dist/bench/callgrind-jit-names.js callgrind.out.X [/tmp/perf-PID.map]');
    process.exit(2);
  }
  const { named, unnamed, file } = nameJitFrames(callgrindOut, perfMap);
  console.log(`${file}: ${named} nameless functions named, ${unnamed} left (not in the map)`);
}
