import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';

// Hot reload: calls `onChange` once a burst of file-system events in the fleets directory (or on
// one file of a directory: the matchmaking rules) has settled (editors save through temporary files
// and renames, several events per save). Runs of `onChange` never overlap: a change during one run
// schedules exactly one more.

export interface FleetDirectoryWatcherOptions {
  dir: string;
  clock: Clock;
  log: Logger;
  onChange: () => Promise<void>;
  /** Quiet time before a burst counts as settled. */
  settleMs?: number;
  /** Only this file of `dir` (its name), not every YAML file in it: the matchmaking rules. */
  file?: string;
}

export function watchFleetDirectory(options: FleetDirectoryWatcherOptions): () => void {
  const settle = options.settleMs ?? 150;
  const what = options.file === undefined ? 'the fleets directory' : path.join(options.dir, options.file);
  let cancelTimer: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const run = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = options
      .onChange()
      .catch((err: unknown) => options.log.error({ err, dir: options.dir }, `reading ${what} again failed`))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };

  let watcher: FSWatcher;
  try {
    watcher = watch(options.dir, { persistent: false }, (_event, file) => {
      if (file && (options.file === undefined ? !/\.ya?ml$/.test(file) : file !== options.file)) return;
      cancelTimer?.();
      cancelTimer = options.clock.setTimeout(run, settle);
    });
  } catch (err) {
    options.log.warn({ err, dir: options.dir }, `cannot watch ${what}: edits need a restart`);
    return () => undefined;
  }
  watcher.on('error', (err) => options.log.warn({ err, dir: options.dir }, `watching ${what} stopped`));
  return () => {
    closed = true;
    cancelTimer?.();
    watcher.close();
  };
}
