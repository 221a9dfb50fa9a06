import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { acquirePidLock } from './pid-lock.js';

describe('acquirePidLock', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pid-lock-'));
  const file = path.join(dir, 'x.pid');
  afterEach(() => rmSync(file, { force: true }));

  it('holds the pid while taken, names the holder to anyone else, and is free again once released', () => {
    const lock = acquirePidLock(file);
    if (!lock.acquired) throw new Error('the first take should win');
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    expect(acquirePidLock(file)).toEqual({ acquired: false, owner: process.pid });
    lock.release();
    expect(existsSync(file)).toBe(false);
    expect(acquirePidLock(file).acquired).toBe(true);
  });

  it('names another live process that holds it, and takes over from one that has died', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      writeFileSync(file, String(holder.pid));
      expect(acquirePidLock(file)).toEqual({ acquired: false, owner: holder.pid });
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    expect(acquirePidLock(file).acquired).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
  });

  it('takes over a file that holds no pid at all', () => {
    writeFileSync(file, 'garbage');
    expect(acquirePidLock(file).acquired).toBe(true);
  });
});
