import { renameSync, statSync } from 'node:fs';
import type { Cancel, Clock } from '../core/clock.js';

// `hangar up`'s own log (`<state_dir>/hangar.log`) is appended to for as long as stacks run here;
// with bots playing for days it would fill the disk. Past `maxBytes` it becomes `hangar.log.1`
// (replacing the one before) and a new file is opened: at most twice the bound on disk.

/** What rotation needs of the open log file: pino.destination's SonicBoom. */
export interface ReopenableFile {
  reopen(file?: string): void;
}

export const MAX_LOG_BYTES = 50 * 1024 * 1024;

/** Rotates `path` when it is past `maxBytes`; true when it did. */
export function rotateIfLarge(path: string, maxBytes: number, reopen?: ReopenableFile): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  renameSync(path, `${path}.1`);
  reopen?.reopen();
  return true;
}

/** Checks `path` every `everyMs` (default a minute) and rotates it past `maxBytes`; the returned function stops it. */
export function keepLogBounded(path: string, file: ReopenableFile, clock: Clock, maxBytes = MAX_LOG_BYTES, everyMs = 60_000): Cancel {
  return clock.every(everyMs, () => {
    try {
      rotateIfLarge(path, maxBytes, file);
    } catch {
      // The directory went away or is read-only now: the log keeps going to the open file.
    }
  });
}
