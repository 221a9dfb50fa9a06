import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { testGameServer } from '../../test/helpers/game-servers.js';
import { keepGameServerLogs, pruneGameServerLogs } from './log-retention.js';

describe('game-server log retention', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** `<name>.log` files, the first the oldest, a minute apart. */
  function logs(...names: string[]) {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-logs-'));
    names.forEach((name, i) => {
      const file = path.join(dir, `${name}.log`);
      writeFileSync(file, `${name}\n`);
      const t = new Date(Date.UTC(2026, 0, 1, 12, i));
      utimesSync(file, t, t);
    });
  }

  it("keeps every existing server's file and the newest of those gone, and deletes the older ones", async () => {
    logs('gone-1', 'live-1', 'gone-2', 'gone-3', 'gone-4');
    writeFileSync(path.join(dir, 'notes.txt'), 'not a log\n');
    expect(await pruneGameServerLogs(dir, new Set(['live-1']), 2)).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['gone-3.log', 'gone-4.log', 'live-1.log', 'notes.txt']);
    // Within the bound: nothing to do.
    expect(await pruneGameServerLogs(dir, new Set(['live-1']), 2)).toBe(0);
  });

  it("prunes at start and then periodically, asking the store which servers exist", async () => {
    logs('old-1', 'old-2', 'arena-live');
    const store = new MemoryGameServerStore();
    await store.create(testGameServer('arena-live', { fleet: 'arena' }));
    const clock = new FakeClock();
    const stop = keepGameServerLogs({ dir, store, clock, log: silentLogger, keepGone: 1, everyMs: 1000 });
    for (let i = 0; i < 50 && readdirSync(dir).length > 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(dir).sort()).toEqual(['arena-live.log', 'old-2.log']);

    await store.delete('arena-live');
    writeFileSync(path.join(dir, 'arena-new.log'), 'new\n');
    const lastWritten = new Date(Date.UTC(2026, 0, 1, 12, 5));
    utimesSync(path.join(dir, 'arena-live.log'), lastWritten, lastWritten);
    clock.advance(1000);
    for (let i = 0; i < 50 && readdirSync(dir).length > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(dir)).toEqual(['arena-new.log']);
    stop();
  });
});
