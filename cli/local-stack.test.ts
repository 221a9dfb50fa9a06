import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import { localStackHere, readStackRecord, STACK_PID_FILE, writeStackRecord, type StackRecord } from './local-stack.js';

// A directory of its own, where no stack runs: `hangar up` would read the package's
// config/development.yaml there, as in the clone.
const cwd = mkdtempSync(path.join(tmpdir(), 'hangar-local-stack-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const upStackUrls = (env: NodeJS.ProcessEnv, dir = cwd) => localStackHere(env, dir).urls();

describe('localStackHere(...).urls()', () => {
  it('is where the config hangar up reads here listens, with the HANGAR_ overrides', () => {
    expect(upStackUrls({})).toEqual({ api: 'http://127.0.0.1:8000', lobby: 'http://127.0.0.1:8080' });
    expect(upStackUrls({ HANGAR_API__PORT: '18001', HANGAR_LOBBY__PORT: '18081' })).toEqual({ api: 'http://127.0.0.1:18001', lobby: 'http://127.0.0.1:18081' });
  });

  it('reaches a listener bound to every address on loopback', () => {
    expect(upStackUrls({ HANGAR_API__HOST: '0.0.0.0', HANGAR_LOBBY__HOST: '::' })).toEqual({ api: 'http://127.0.0.1:8000', lobby: 'http://[::1]:8080' });
    expect(upStackUrls({ HANGAR_API__HOST: '::1' })?.api).toBe('http://[::1]:8000');
  });

  it('is undefined when that config does not load: no stack runs from it', () => {
    expect(upStackUrls({ HANGAR_API__PORT: 'eighty' })).toBeUndefined();
  });
});

describe('localStackHere', () => {
  it('reads the config once, however often a command asks', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-once-'));
    try {
      mkdirSync(path.join(dir, 'config'));
      const file = path.join(dir, 'config', 'development.yaml');
      writeFileSync(file, 'api:\n  port: 18001\nlocal:\n  state_dir: first\n');
      const here = localStackHere({}, dir);
      expect(here.urls()?.api).toBe('http://127.0.0.1:18001');
      writeFileSync(file, 'api:\n  port: 18002\nlocal:\n  state_dir: second\n');
      expect([here.urls()?.api, here.stateDir()]).toEqual(['http://127.0.0.1:18001', 'first']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the record of a running hangar up', () => {
  // Its state directory, locked by this process as hangar up locks it.
  const stateDir = mkdtempSync(path.join(tmpdir(), 'hangar-recorded-state-'));
  writeFileSync(path.join(stateDir, STACK_PID_FILE), String(process.pid));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  const record: StackRecord = { pid: process.pid, api: 'http://127.0.0.1:18575', lobby: 'http://127.0.0.1:18585', stateDir, bounds: { portRange: { min: 27500, max: 27520 }, maxServers: 7 } };

  it('is where the commands run in its directory find that stack, whatever its config, until it stops', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-recorded-'));
    try {
      const forget = writeStackRecord(dir, record);
      const here = localStackHere({ HANGAR_API__PORT: 'eighty' }, dir);
      expect([here.urls(), here.stateDir(), here.bounds()]).toEqual([{ api: record.api, lobby: record.lobby }, stateDir, record.bounds]);
      // Another directory has its own.
      expect(upStackUrls({})?.api).toBe('http://127.0.0.1:8000');
      forget();
      expect(readStackRecord(dir)).toBeUndefined();
      expect(localStackHere({}, dir).stateDir()).toBe('.hangar');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is ignored once its process is gone, and left alone by a stack it has replaced', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-recorded-'));
    try {
      const gone = spawnSync(process.execPath, ['-e', '']).pid;
      writeStackRecord(dir, { ...record, pid: gone });
      expect(readStackRecord(dir)).toBeUndefined();
      expect(upStackUrls({}, dir)?.api).toBe('http://127.0.0.1:8000');
      // Its pid given since to another process: the state directory's lock says whose it is.
      writeStackRecord(dir, { ...record, pid: process.ppid });
      expect(readStackRecord(dir)).toBeUndefined();
      const older = writeStackRecord(dir, { ...record, pid: process.ppid });
      const latest = writeStackRecord(dir, record);
      older();
      expect(readStackRecord(dir)).toEqual(record);
      latest();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
