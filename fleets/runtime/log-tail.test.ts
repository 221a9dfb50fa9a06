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

  it('passes over stack frames and routine pino lines that followed the error', async () => {
    const text = [
      '{"level":30,"msg":"connected to the SDK server"}',
      'game server failed: PortUnavailableError: cannot serve the admin port on 127.0.0.1:9090',
      '    at startGameServerAdmin (file:///app/dist/gameserver/game-server-admin.js:72:15)',
      '    at async main (file:///app/dist/gameserver/main.js:78:13)',
      '{"level":30,"msg":"memory limit"}',
      '',
    ].join('\n');
    expect(await lastLogLine(log('trace.log', text))).toBe('game server failed: PortUnavailableError: cannot serve the admin port on 127.0.0.1:9090');
    // A warning or worse counts; when nothing counts, the last line is still better than nothing.
    expect(await lastLogLine(log('warn.log', '{"level":50,"msg":"bad"}\n{"level":40,"msg":"SDK unreachable"}\n{"level":30,"msg":"bye"}\n'))).toBe('SDK unreachable');
    expect(await lastLogLine(log('routine.log', '{"level":30,"msg":"hello"}\n{"level":30,"msg":"bye"}\n'))).toBe('bye');
  });

  it("gives node's uncaught-exception report as its error's headline, not node's version under it", async () => {
    const report = [
      'node:internal/modules/cjs/loader:1210',
      '  throw err;',
      '  ^',
      '',
      "Error: Cannot find module '/tmp/project/dist/bundle/gameserver/main.js'",
      '    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)',
      '    at node:internal/main/run_main_module:28:49 {',
      "  code: 'MODULE_NOT_FOUND',",
      '  requireStack: []',
      '}',
      '',
      'Node.js v20.20.2',
      '',
    ].join('\n');
    // The first attempt's report, then the restart's: the newest is given.
    const restarted = report.replace('main.js', 'first.js') + report;
    expect(await lastLogLine(log('uncaught.log', restarted))).toBe("Error: Cannot find module '/tmp/project/dist/bundle/gameserver/main.js'");
    const coded = ['TypeError [ERR_INVALID_ARG_TYPE]: The "path" argument must be of type string', '    at f (file:///a.js:1:1) {', "  code: 'ERR_INVALID_ARG_TYPE'", '}', '', 'Node.js v22.1.0'].join('\n');
    expect(await lastLogLine(log('coded.log', coded))).toBe('TypeError [ERR_INVALID_ARG_TYPE]: The "path" argument must be of type string');
    // A thrown value that is not an Error: its line, not the footer or node's hint.
    const thrown = ['file:///a.js:1', "throw 'boom'", '^', 'boom', '(Use `node --trace-uncaught ...` to show where the exception was thrown)', '', 'Node.js v20.20.2'].join('\n');
    expect(await lastLogLine(log('thrown.log', thrown))).toBe('boom');
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
