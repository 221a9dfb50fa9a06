import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';

// The memory a game server may use: its cgroup limit, or the machine's memory when there is none.
// cgroup v2 (memory.max) first; v1 (memory/…/memory.limit_in_bytes) for nodes that still run it.
// The process's own cgroup and every ancestor are read and the smallest limit applies; inside a
// container the cgroup namespace makes the own path "/", so the root's file is the container's.

export interface MemoryLimitSources {
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Default /proc/self/cgroup: names the process's cgroup ("0::<path>" for v2, "N:memory:<path>" for v1). */
  selfCgroupFile?: string;
  /** Default os.totalmem(). */
  machineBytes?: number;
}

export interface MemoryLimit {
  bytes: number;
  source: 'cgroup' | 'machine';
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The smallest numeric `file` in `own` (a cgroup path under `root`) and its ancestors up to `root`. */
function smallestUpward(root: string, own: string, file: string): number {
  let limit = Infinity;
  for (let dir = path.posix.resolve(root, `.${own}`); dir.startsWith(root); dir = path.posix.dirname(dir)) {
    const value = readText(path.posix.join(dir, file))?.trim();
    // "max" (v2) is no limit; v1 writes a huge number for none, which the machine's size caps below.
    if (value && /^\d+$/.test(value)) limit = Math.min(limit, Number(value));
    if (dir === root) break;
  }
  return limit;
}

export function readMemoryLimit(sources: MemoryLimitSources = {}): MemoryLimit {
  const root = path.posix.resolve(sources.cgroupRoot ?? '/sys/fs/cgroup');
  const machine = sources.machineBytes ?? totalmem();
  const self = readText(sources.selfCgroupFile ?? '/proc/self/cgroup') ?? '';
  const v2 = /^0::(\/.*)$/m.exec(self)?.[1];
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(\/.*)$/m.exec(self)?.[1];
  const limit = Math.min(
    v2 === undefined ? Infinity : smallestUpward(root, v2, 'memory.max'),
    v1 === undefined ? Infinity : smallestUpward(path.posix.join(root, 'memory'), v1, 'memory.limit_in_bytes'),
  );
  return limit < machine ? { bytes: limit, source: 'cgroup' } : { bytes: machine, source: 'machine' };
}
