import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { UsageError } from '../core/errors.js';
import { ApiError } from './api-client.js';
import { GAME_SERVERS, NOW, startCannedStackApi, type CannedStackApi } from '../test/helpers/canned-stack-api.js';
import { formatAddress, renderGameServerTable, runGs } from './gs.js';

let api: CannedStackApi;
beforeEach(async () => {
  api = await startCannedStackApi();
});
afterEach(() => api.close());

async function gs(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runGs(args, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { apiUrlFromEnv: api.url, now: () => NOW });
  return { code, stdout, stderr };
}

describe('hangar gs list', () => {
  it('prints every game server, oldest first, with its address, age, pid, restarts and why it last exited', async () => {
    expect(await gs(['list'])).toEqual({
      code: 0,
      stdout: [
        'NAME          FLEET   STATE      ADDRESS          AGE   PID  RESTARTS  LAST EXIT',
        'lobby         -       Ready      127.0.0.1:7010  1d2h  4100         0  -',
        'duel-x1y2z    duel    Ready      127.0.0.1:7003  2h1m  4201         0  -',
        'simple-9ab3c  simple  Allocated  127.0.0.1:7001  3m4s  4243         1  code 1: "game server: environment ENCRYPTION_KEY: is required"',
        'simple-2xk7q  simple  Ready      127.0.0.1:7000   12s  4242         0  -',
        'simple-qq7rt  simple  Starting   -                 0s     -         0  -',
      ],
      stderr: [],
    });
  });

  it('filters by fleet and state, taking the state in any letter case', async () => {
    expect((await gs(['list', '--fleet', 'simple', '--state', 'ready'])).stdout).toEqual([
      'NAME          FLEET   STATE  ADDRESS         AGE   PID  RESTARTS  LAST EXIT',
      'simple-2xk7q  simple  Ready  127.0.0.1:7000  12s  4242         0  -',
    ]);
    expect(api.requests.map((r) => r.url)).toEqual(['/v1/gameservers?fleet=simple&state=Ready']);
  });

  it('says so when nothing matches', async () => {
    expect(await gs(['list', '--fleet', 'duel', '--state', 'Allocated'])).toEqual({ code: 0, stdout: ['no game servers in fleet duel in state Allocated'], stderr: [] });
  });

  it('passes on the API error for a fleet that does not exist', async () => {
    await expect(gs(['list', '--fleet', 'nope'])).rejects.toThrow(new ApiError(404, 'FLEET_NOT_FOUND', 'fleet nope not found'));
  });

  it('rejects an unknown state, subcommand or option without a request', async () => {
    await expect(gs(['list', '--state', 'Running'])).rejects.toThrow(
      new UsageError('--state "Running" is not a GameServer state: one of PortAllocation, Creating, Starting, Scheduled, RequestReady, Ready, Reserved, Allocated, Shutdown, Error, Unhealthy'),
    );
    await expect(gs(['ls'])).rejects.toThrow(new UsageError('unknown gs command "ls": use gs list'));
    await expect(gs([])).rejects.toThrow(new UsageError('gs: which command? use gs list'));
    await expect(gs(['list', '--colour'])).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    expect(api.requests).toEqual([]);
  });
});

describe('renderGameServerTable', () => {
  it('leaves out the pid for hangar status', () => {
    expect(renderGameServerTable(GAME_SERVERS.slice(3, 4), NOW, { pid: false })).toEqual([
      'NAME          FLEET   STATE  ADDRESS         AGE  RESTARTS',
      'simple-2xk7q  simple  Ready  127.0.0.1:7000  12s         0',
    ]);
  });

  it('shows every port of a server, and - before it has an address', () => {
    expect(formatAddress({ address: '127.0.0.1', ports: [{ name: 'game', port: 7000 }, { name: 'query', port: 7001 }] })).toBe('127.0.0.1:7000,7001');
    expect(formatAddress({ address: '127.0.0.1', ports: [] })).toBe('127.0.0.1');
    expect(formatAddress({ address: '', ports: [{ name: 'game', port: 7000 }] })).toBe('-');
  });
});
