import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { lastLogLine } from './log-tail.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hangar-log-tail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function log(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('lastLogLine', () => {
  it('is the last non-empty line, trimmed', async () => {
    expect(await lastLogLine(log('plain.log', 'starting\ngame server: environment ENCRYPTION_KEY: is required\n\n  \n'))).toBe('game server: environment ENCRYPTION_KEY: is required');
  });

  it("reads a pino line as its message and its error's message", async () => {
    const line = JSON.stringify({ level: 60, time: 1, pid: 2, msg: 'could not reach the SDK server', err: { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:9357', stack: 'Error: …' } });
    expect(await lastLogLine(log('pino.log', `{"level":30,"msg":"listening"}\n${line}\n`))).toBe('could not reach the SDK server: connect ECONNREFUSED 127.0.0.1:9357');
    expect(await lastLogLine(log('not-pino.log', '{"half a line\n'))).toBe('{"half a line');
  });

  it('reads only the end of a long log, and cuts a long line', async () => {
    const file = log('long.log', `${'x'.repeat(1_000_000)}\n${'why '.repeat(200)}\n`);
    const line = await lastLogLine(file);
    expect(line).toHaveLength(300);
    expect(line).toMatch(/^why why .*…$/);
  });

  it('is undefined for an empty log, and fails for a missing one', async () => {
    expect(await lastLogLine(log('empty.log', ''))).toBeUndefined();
    await expect(lastLogLine(path.join(dir, 'missing.log'))).rejects.toThrow(/ENOENT/);
  });
});
