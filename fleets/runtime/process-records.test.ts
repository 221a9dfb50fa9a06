import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../core/logger.js';
import { isAlive } from '../../test/helpers/local-stack-fixture.js';
import { ProcessRecords } from './process-records.js';

// Real processes, as the runtime spawns them: detached, each leading its own process group.

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function records(): ProcessRecords {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-records-'));
  dirs.push(dir);
  return new ProcessRecords(path.join(dir, 'processes'), silentLogger);
}

/** A detached node process, and the signal that ends it; `ignoreTerm` makes it outlive a SIGTERM. */
async function server(options: { ignoreTerm?: boolean } = {}): Promise<{ pid: number; ended: Promise<NodeJS.Signals | null> }> {
  const code = `${options.ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000); process.stdout.write('up');`;
  const child = spawn(process.execPath, ['-e', code], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  // Its handlers are in place once it says so.
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  return { pid: child.pid!, ended };
}

describe('ProcessRecords', () => {
  it('stops the recorded processes still running, SIGKILLs one that ignores SIGTERM after the grace, and forgets every record', async () => {
    const r = records();
    const polite = await server();
    const stubborn = await server({ ignoreTerm: true });
    const gone = await server();
    r.add('arena-a', polite.pid);
    r.add('arena-b', stubborn.pid);
    r.add('arena-gone', gone.pid);
    process.kill(gone.pid, 'SIGKILL');
    await gone.ended;

    const stopped = await r.stopLeftovers(300);
    expect(stopped.sort()).toEqual(['arena-a', 'arena-b']);
    expect(await polite.ended).toBe('SIGTERM');
    expect(await stubborn.ended).toBe('SIGKILL');
    expect(readdirSync(r.dir)).toEqual([]);
  });

  it('never signals a process the record does not name: a pid since given to another process (another start time) is left alone', async () => {
    const r = records();
    const other = await server();
    r.add('arena-a', other.pid);
    const file = path.join(r.dir, 'arena-a.json');
    const recorded = JSON.parse(readFileSync(file, 'utf8')) as { startTicks: string };
    // The record's process started at another time: the pid now belongs to someone else.
    writeFileSync(file, JSON.stringify({ ...recorded, startTicks: String(Number(recorded.startTicks) - 1) }));
    expect(await r.stopLeftovers(300)).toEqual([]);
    expect(isAlive(other.pid)).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it('forgets the record of a process that exited, and ignores an unreadable or impossible one', async () => {
    const r = records();
    r.add('arena-a', (await server()).pid);
    r.remove('arena-a');
    expect(existsSync(path.join(r.dir, 'arena-a.json'))).toBe(false);
    writeFileSync(path.join(r.dir, 'arena-x.json'), 'not json');
    // Whatever it says of its start, a pid of 1 is never signalled (-1 would reach every process).
    writeFileSync(path.join(r.dir, 'arena-y.json'), JSON.stringify({ pid: 1, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), startTicks: '1' }));
    writeFileSync(path.join(r.dir, 'arena-z.json'), 'null');
    expect(await r.stopLeftovers(300)).toEqual([]);
    expect(readdirSync(r.dir)).toEqual([]);
    expect(await records().stopLeftovers(300)).toEqual([]);
  });
});
