import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { keepLogBounded, rotateIfLarge } from './log-rotation.js';

describe("hangar up's log rotation", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves a log within the bound alone, and moves one past it to .1 at start', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-log-'));
    const log = path.join(dir, 'hangar.log');
    writeFileSync(log, 'x'.repeat(100));
    expect(rotateIfLarge(log, 100)).toBe(false);
    writeFileSync(log, 'y'.repeat(101));
    expect(rotateIfLarge(log, 100)).toBe(true);
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('y'.repeat(101));
    expect(existsSync(log)).toBe(false);
    expect(rotateIfLarge(log, 100)).toBe(false);
  });

  it('while the stack runs, rotates the open log past the bound and goes on writing to a new file', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-log-'));
    const log = path.join(dir, 'hangar.log');
    const file = pino.destination({ dest: log, append: true, sync: true });
    const clock = new FakeClock();
    const stop = keepLogBounded(log, file, clock, 1000, 60_000);
    file.write('a'.repeat(1500) + '\n');
    clock.advance(60_000);
    file.write('after\n');
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('a'.repeat(1500) + '\n');
    expect(readFileSync(log, 'utf8')).toBe('after\n');
    stop();
    file.end();
  });
});
