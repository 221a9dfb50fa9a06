import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Cancel, Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { GameServerStore } from '../../store/game-server-store.js';

// The local stack's game-server log files (`<state_dir>/logs/<name>.log`, one per server). Servers
// come and go with every match, so the files would pile up for as long as stacks run here. A
// server's file stays while the server exists; of the servers gone, the newest `keepGone` files
// stay for a post-mortem (more than Kubernetes keeps: a pod's logs go with it) and older ones are deleted.

export const KEEP_GONE_SERVER_LOGS = 200;

/** Deletes the log files in `dir` of servers not in `existing`, but for the newest `keepGone` of them; how many it deleted. */
export async function pruneGameServerLogs(dir: string, existing: ReadonlySet<string>, keepGone = KEEP_GONE_SERVER_LOGS): Promise<number> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.log') && !existing.has(f.slice(0, -'.log'.length)));
  if (names.length <= keepGone) return 0;
  const files = await Promise.all(names.map(async (name) => ({ name, mtimeMs: (await stat(path.join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })));
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  let deleted = 0;
  for (const { name } of files.slice(keepGone)) {
    if (await unlink(path.join(dir, name)).then(() => true, () => false)) deleted++;
  }
  return deleted;
}

export interface LogRetentionOptions {
  dir: string;
  store: Pick<GameServerStore, 'list'>;
  clock: Clock;
  log: Logger;
  keepGone?: number;
  /** How often the directory is pruned, after once at start (default 60 s). */
  everyMs?: number;
}

/** Prunes `dir` now and then every `everyMs`; the returned function stops it. */
export function keepGameServerLogs(options: LogRetentionOptions): Cancel {
  let running = false;
  const prune = async () => {
    if (running) return;
    running = true;
    try {
      const existing = new Set((await options.store.list()).map((gs) => gs.metadata.name));
      const deleted = await pruneGameServerLogs(options.dir, existing, options.keepGone);
      if (deleted) options.log.info({ deleted, dir: options.dir }, 'deleted the log files of game servers long gone');
    } catch (err) {
      options.log.warn({ err, dir: options.dir }, 'could not prune the game servers’ log files');
    } finally {
      running = false;
    }
  };
  void prune();
  return options.clock.every(options.everyMs ?? 60_000, () => void prune());
}
