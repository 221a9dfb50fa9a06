import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nameJitFrames } from './callgrind-jit-names.js';

describe('nameJitFrames', () => {
  it("names callgrind's nameless frames after the code object of the perf map that holds them, and leaves the rest", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jit-names-'));
    try {
      const out = path.join(dir, 'callgrind.out.1');
      const map = path.join(dir, 'perf-4242.map');
      writeFileSync(map, ['d100000 80 JS:*flush file:///x/connection.js:112:10', 'd100080 40 JS:~tick file:///x/arena-game.js:94:9', 'd200000 10 old code', 'd200000 20 JS:*newer file:///x/y.js:1:1', ''].join('\n'));
      writeFileSync(
        out,
        ['pid: 4242', 'fn=(1) 0x000000000d100010', '5 10', 'cfn=(2) 0x000000000d1000bf', 'calls=1 0', '5 3', "fn=(3) 0x000000000d100000'2", '1 1', 'fn=(4) 0x000000000d300000', '1 1', 'fn=(5) memcpy', '1 1', 'fn=(2)', '1 3', 'fn=(6) 0x000000000d200008', '1 1', ''].join('\n'),
      );
      const result = nameJitFrames(out, map);
      expect(result).toEqual({ named: 4, unnamed: 1, file: `${out}.named`, perfMap: map });
      const named = readFileSync(result.file, 'utf8').split('\n');
      expect(named).toEqual(
        expect.arrayContaining([
          'fn=(1) JS:*flush file:///x/connection.js:112:10 [JIT]',
          'cfn=(2) JS:~tick file:///x/arena-game.js:94:9 [JIT]',
          "fn=(3) JS:*flush file:///x/connection.js:112:10 [JIT]'2",
          'fn=(4) 0x000000000d300000',
          'fn=(5) memcpy',
          'fn=(2)',
          'fn=(6) JS:*newer file:///x/y.js:1:1 [JIT]',
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which file lacks a pid when no map is given', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jit-names-'));
    try {
      const out = path.join(dir, 'callgrind.out.2');
      writeFileSync(out, 'fn=(1) 0x000000000d100010\n');
      expect(() => nameJitFrames(out)).toThrow(`${out}: no "pid:" line, so no perf map to read; give its path`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
