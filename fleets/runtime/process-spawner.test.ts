import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ProcessSpawner, type SpawnedProcess } from './process-spawner.js';

const exitOf = (p: SpawnedProcess) => new Promise<[number | null, string | null]>((resolve) => p.once('exit', (code, signal) => resolve([code, signal])));

describe('ProcessSpawner', () => {
  let spawner: ProcessSpawner;
  let dir: string;
  beforeAll(() => {
    spawner = new ProcessSpawner();
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-spawn-'));
  });
  afterAll(async () => {
    await spawner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const node = (script: string, logFile = path.join(dir, 'out.log')) =>
    spawner.spawn({ command: process.execPath, args: ['-e', script], cwd: dir, env: { GREETING: 'hi' }, logFile });

  it('runs a process with its env and cwd, appends its output to the log file, and reports its exit', async () => {
    const logFile = path.join(dir, 'a.log');
    const proc = node('console.log(process.env.GREETING, process.cwd()); console.error("oops"); process.exit(3)', logFile);
    const pid = await new Promise<number>((resolve) => proc.once('spawn', resolve));
    expect(pid).toBeGreaterThan(0);
    expect(await exitOf(proc)).toEqual([3, null]);
    expect(proc.exited).toBe(true);
    expect(readFileSync(logFile, 'utf8')).toBe(`hi ${dir}\noops\n`);
  });

  it('delivers signals', async () => {
    const proc = node('setInterval(() => {}, 1000)');
    await new Promise((resolve) => proc.once('spawn', resolve));
    const exited = exitOf(proc);
    proc.kill('SIGTERM');
    expect(await exited).toEqual([null, 'SIGTERM']);
  });

  it('reports a command that cannot start as an error, not an exit', async () => {
    const proc = spawner.spawn({ command: path.join(dir, 'no-such-binary'), args: [], cwd: dir, env: {}, logFile: path.join(dir, 'b.log') });
    const err = await new Promise<Error & { code?: string }>((resolve) => proc.once('error', resolve));
    expect(err.code).toBe('ENOENT');
    expect(proc.exited).toBe(true);
  });

  it('reports an unwritable log file as an error', async () => {
    const proc = node('1', path.join(dir, 'missing-dir', 'c.log'));
    const err = await new Promise<Error & { code?: string }>((resolve) => proc.once('error', resolve));
    expect(err.code).toBe('ENOENT');
  });
});
