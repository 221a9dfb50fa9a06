import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCannedStackApi, type CannedStackApi } from '../test/helpers/canned-stack-api.js';
import { startTestAllocator } from '../test/helpers/allocator-http.js';
import { startTestLobby } from '../matchmaker/lobby/lobby-test-harness.js';
import { runCli } from './commands.js';

// The ops commands through the CLI's dispatch: which exit code and which lines each outcome gives.

let api: CannedStackApi;
let closedUrl: string;
beforeAll(async () => {
  api = await startCannedStackApi();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((resolve) => server.close(resolve));
});
afterAll(() => api.close());

/** Run in a directory where no stack runs: the package's config says where the stack would be. */
const NO_STACK = mkdtempSync(path.join(tmpdir(), 'hangar-commands-'));
afterAll(() => rmSync(NO_STACK, { recursive: true, force: true }));

async function hangar(argv: string[], env: NodeJS.ProcessEnv = { HANGAR_API_URL: api.url }): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, env, NO_STACK);
  return { code, stdout, stderr };
}

describe('hangar status, fleet and gs', () => {
  it('reach the stack at HANGAR_API_URL, or at --api, which wins', async () => {
    expect(await hangar(['fleet', 'scale', 'duel', '2'])).toMatchObject({ code: 0, stdout: ['fleet duel scaled to 2 replicas'] });
    expect(await hangar(['fleet', 'scale', 'duel', '2', '--api', api.url], { HANGAR_API_URL: closedUrl })).toMatchObject({ code: 0 });
    expect((await hangar(['status', '--once'])).stdout[0]).toBe('FLEET   DESIRED  CURRENT  READY  ALLOCATED  RESERVED  PLAYERS  AUTOSCALER');
    expect((await hangar(['gs', 'list', '--state', 'Starting'])).stdout[1]).toMatch(/^simple-qq7rt {2}simple {2}Starting/);
  });

  it('exit 1 with one line when the stack is not running', async () => {
    for (const argv of [['status'], ['fleet', 'list'], ['fleet', 'scale', 'simple', '1'], ['gs', 'list']]) {
      expect(await hangar(argv, { HANGAR_API_URL: closedUrl })).toEqual({
        code: 1,
        stdout: [],
        stderr: [`hangar: cannot reach the Hangar stack at ${closedUrl}: is \`hangar up\` (npm start in the clone) running? [STACK_UNREACHABLE]`],
      });
    }
  });

  it("name the log in the state directory hangar up would use here when a local stack takes a request and does not answer", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const env = { HANGAR_API_URL: silentUrl, HANGAR_LOCAL__STATE_DIR: '/tmp/elsewhere/state', ENCRYPTION_KEY: '00'.repeat(32) };
      const silentFor = (log: string) => [`hangar: cannot reach the Hangar stack at ${silentUrl}: it took the request but did not answer within 10 s: busy or stuck (its log is ${log}) [STACK_UNREACHABLE]`];
      // In parallel: each waits out the client's 10 s.
      const runs = await Promise.all([
        hangar(['status', '--once'], env),
        hangar(['fleet', 'list'], env),
        hangar(['gs', 'list'], env),
        hangar(['allocate', '--fleet', 'simple'], env),
        hangar(['bots', '--players', '1', '--duration', '1', '--fleet', 'simple'], env),
        hangar(['bots', '--players', '1', '--duration', '1', '--fleet', 'simple', '--state-dir', 'my-state'], env),
      ]);
      for (const run of runs.slice(0, -1)) expect(run).toEqual({ code: 1, stdout: [], stderr: silentFor('/tmp/elsewhere/state/hangar.log') });
      expect(runs.at(-1)).toEqual({ code: 1, stdout: [], stderr: silentFor('my-state/hangar.log') });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);

  it('reach the stack hangar up would run here when neither --api nor HANGAR_API_URL names one: its api.port, as HANGAR_API__PORT moves it', async () => {
    const apiPort = new URL(api.url).port;
    expect(await hangar(['fleet', 'scale', 'duel', '2'], { HANGAR_API__PORT: apiPort })).toMatchObject({ code: 0, stdout: ['fleet duel scaled to 2 replicas'] });
    expect(await hangar(['gs', 'list', '--state', 'Starting'], { HANGAR_API__PORT: apiPort })).toMatchObject({ code: 0 });
    const closedPort = new URL(closedUrl).port;
    expect(await hangar(['fleet', 'list'], { HANGAR_API__PORT: closedPort })).toMatchObject({ code: 1, stderr: [expect.stringContaining(`cannot reach the Hangar stack at ${closedUrl}:`)] });
    // A variable still wins over the config.
    expect(await hangar(['fleet', 'list'], { HANGAR_API__PORT: closedPort, HANGAR_API_URL: api.url })).toMatchObject({ code: 0 });
  });

  it('exit 1 with the API message for a fleet that does not exist', async () => {
    for (const argv of [['fleet', 'scale', 'nope', '3'], ['gs', 'list', '--fleet', 'nope'], ['bots', '--players', '2', '--duration', '1', '--fleet', 'nope']]) {
      expect(await hangar(argv, { HANGAR_API_URL: api.url, ENCRYPTION_KEY: '00'.repeat(32) })).toEqual({ code: 1, stdout: [], stderr: ['hangar: fleet nope not found [FLEET_NOT_FOUND]'] });
    }
  });

  it('exit 1 without the usage when the bots have no server to play on: the arguments were fine', async () => {
    const bots = (target: string) => hangar(['bots', '--players', '2', '--duration', '1', '--gameserver', target], { HANGAR_API_URL: api.url, ENCRYPTION_KEY: '00'.repeat(32) });
    expect(await bots('nope')).toEqual({ code: 1, stdout: [], stderr: ['hangar: game server nope not found [GS_NOT_FOUND]'] });
    expect(await bots('simple-qq7rt')).toEqual({ code: 1, stdout: [], stderr: ['hangar: bots: game server simple-qq7rt has no port (it is Starting)'] });
  });

  it('exit 2 with the usage on bad arguments, naming what is wrong', async () => {
    const cases: Array<[string[], string]> = [
      [['fleet', 'scale', 'simple', '-2'], 'hangar: fleet scale: N must be a non-negative integer, not -2'],
      [['fleet', 'scale', 'simple', 'lots'], 'hangar: fleet scale: N must be a non-negative integer, not "lots"'],
      [['fleet', 'apply'], 'hangar: fleet apply: -f FILE is required (-f - reads stdin)'],
      [['fleet'], 'hangar: fleet: which command? use fleet list, scale, apply or delete'],
      [['gs', 'list', '--state', 'Running'], expect.stringMatching(/^hangar: --state "Running" is not a GameServer state: one of PortAllocation, /) as unknown as string],
      [['status', '--interval=-1'], 'hangar: --interval "-1": give a number of seconds, at least 0.1'],
      [['status', '--colour'], expect.stringMatching(/^hangar: Unknown option '--colour'/) as unknown as string],
      [['status', '--api', 'localhost:8000'], 'hangar: --api "localhost:8000" is not an http:// or https:// URL, like http://127.0.0.1:8000'],
    ];
    for (const [argv, line] of cases) {
      const run = await hangar(argv);
      expect(run).toMatchObject({ code: 2, stdout: [] });
      expect(run.stderr[0]).toEqual(line);
      // The command's own usage, not every command's: the error stays the first thing read.
      const command = argv[0]!;
      expect(run.stderr[1]).toMatch(new RegExp(`^usage:\\n  ${command} `));
      expect(run.stderr[1]).toContain(`${command} takes --api URL`);
      expect(run.stderr[1]).toMatch(/\n\nhangar help lists every command\.$/);
      expect(run.stderr[1]).not.toContain('validate FILE');
    }
    const badEnv = await hangar(['status'], { HANGAR_API_URL: 'ftp://stack' });
    expect(badEnv).toMatchObject({ code: 2, stdout: [] });
    expect(badEnv.stderr[0]).toBe('hangar: HANGAR_API_URL "ftp://stack" is not an http:// or https:// URL, like http://127.0.0.1:8000');
  });

  it('exit 2 with the usage for a negative number, naming the option, the value and what it takes', async () => {
    // parseArgs alone calls `--interval -1` "ambiguous": the value looked like an option.
    const cases: Array<[string[], string]> = [
      [['status', '--interval', '-1'], 'hangar: --interval "-1": give a number of seconds, at least 0.1'],
      [['bots', '--players', '-5', '--fleet', 'simple'], 'hangar: bots: --players "-5": give a whole number from 1 to 10000'],
      [['bots', '--fleet', 'simple', '--duration', '-.5'], 'hangar: bots: --duration "-.5": give a whole number from 1 to 86400'],
      [['bots', '--fleet', 'simple', '--duration', 'abc'], 'hangar: bots: --duration "abc": give a whole number from 1 to 86400'],
      [['bots', '--matchmake', '--duration', '-3'], 'hangar: bots: --duration "-3": give a whole number from 1 to 86400'],
      [['allocate', '--fleet', 'simple', '--wait-for-ready', '-5'], 'hangar: allocate: --wait-for-ready "-5": give a whole number of milliseconds from 0 to 30000'],
      [['token', '--server', 's', '--player', 'p', '--address', '127.0.0.1:7000', '--expires', '-3'], 'hangar: token: --expires "-3": give a number of seconds, more than 0'],
      [['fleet', 'scale', 'arena', '-1'], 'hangar: fleet scale: N must be a non-negative integer, not -1'],
    ];
    for (const [argv, line] of cases) {
      const run = await hangar(argv);
      expect(run).toMatchObject({ code: 2, stdout: [] });
      expect(run.stderr[0]).toEqual(line);
      expect(run.stderr[1]).toMatch(new RegExp(`^usage:\\n  ${argv[0]!} `));
    }
  });

  it("print the command's usage and exit 0 for --help or -h after it, every command's for help and --help", async () => {
    const cases: Array<[string[], string[]]> = [
      [['up', '--help'], ['  up [--config FILE]']],
      [['bots', '--matchmake', '-h'], ['  bots --players N --duration SECONDS', '  bots --matchmake --players N', 'bots takes --api URL']],
      [['fleet', 'scale', '--help'], ['  fleet list', '  fleet scale NAME N', '  fleet apply -f FILE', 'fleet takes --api URL']],
      [['token', '-h'], ['  token --server NAME --player ID']],
    ];
    for (const [argv, lines] of cases) {
      const run = await hangar(argv);
      expect(run).toMatchObject({ code: 0, stderr: [] });
      expect(run.stdout[0]).toMatch(/^usage:\n/);
      for (const line of lines) expect(run.stdout[0]).toContain(line);
      expect(run.stdout[0]).not.toContain('  allocate --fleet NAME');
    }
    for (const argv of [['--help'], ['help'], ['help', '--help'], ['no-such-command', '--help']]) {
      const run = await hangar(argv);
      expect(run.stdout[0]).toMatch(/^usage: hangar <command> \[options\]\n/);
      expect(run.stdout[0]).toContain('status, fleet, gs, allocate and bots take --api URL');
    }
  });

  it('hangar allocate: the server, or why none was given, or its JSON; the API key as a bearer token', async () => {
    expect(await hangar(['allocate', '--fleet', 'duel'], { HANGAR_API_URL: api.url, HANGAR_API_KEY: 'k-123' })).toEqual({
      code: 0,
      stdout: ['allocated duel-x1y2z at 127.0.0.1 (default 7003)'],
      stderr: [],
    });
    const sent = api.requests.at(-1)!;
    expect(sent).toMatchObject({ method: 'POST', url: '/gameserverallocation', authorization: 'Bearer k-123' });
    expect(JSON.parse(sent.body)).toEqual({ apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'duel' } }] } });
    // duel's one Ready server is taken now (the canned fleet API still counts it Ready).
    expect(await hangar(['allocate', '--fleet', 'duel'])).toEqual({
      code: 1,
      stdout: [],
      stderr: ['no game server allocated from fleet duel: UnAllocated (fleet duel: 1 Ready, 0 Allocated, 0 Reserved of 1)'],
    });
    expect(await hangar(['allocate', '--fleet', 'dule'])).toEqual({
      code: 1,
      stdout: [],
      stderr: ['no game server allocated from fleet dule: UnAllocated (the stack has no fleet dule: hangar fleet list shows its fleets)'],
    });
    expect(await hangar(['allocate', '--fleet', 'simple', '--label', 'mode=ranked'])).toEqual({
      code: 1,
      stdout: [],
      stderr: ['no game server allocated from fleet simple: UnAllocated (fleet simple: 1 Ready, 1 Allocated, 0 Reserved of 3; no Ready one has mode=ranked)'],
    });
    const json = await hangar(['allocate', '--fleet', 'simple', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout[0]!)).toMatchObject({ state: 'Allocated', gameServerName: 'simple-2xk7q', ports: [{ name: 'default', port: 7000 }] });
    const usage = await hangar(['allocate', '--fleet', 'simple', '--wait-for-ready', '2s']);
    expect(usage).toMatchObject({ code: 2, stdout: [] });
    expect(usage.stderr[0]).toBe('hangar: allocate: --wait-for-ready "2s": give a whole number of milliseconds from 0 to 30000');
    // Past the allocator's bound: the option is named, with exit 2, not the API's waitForReadyMs with exit 1.
    const tooLong = await hangar(['allocate', '--fleet', 'simple', '--wait-for-ready', '30001']);
    expect(tooLong).toMatchObject({ code: 2, stdout: [] });
    expect(tooLong.stderr[0]).toBe('hangar: allocate: --wait-for-ready "30001": give a whole number of milliseconds from 0 to 30000');
  });

  it('hangar allocate against an allocator that requires keys: names $HANGAR_API_KEY when it is missing or refused, never the key', async () => {
    const allocator = await startTestAllocator({ keys: { ops: 'ops-0123456789abcdef' } });
    try {
      expect(await hangar(['allocate', '--fleet', 'arena'], { HANGAR_API_URL: allocator.url })).toEqual({
        code: 1,
        stdout: [],
        stderr: [`hangar: the allocator at ${allocator.url} requires an API key: set $HANGAR_API_KEY to one of its keys (ALLOCATOR_API_KEYS or ALLOCATOR_API_KEYS_FILE where it runs) [UNAUTHENTICATED]`],
      });
      expect(await hangar(['allocate', '--fleet', 'arena'], { HANGAR_API_URL: allocator.url, HANGAR_API_KEY: 'wrong-0123456789abcdef' })).toEqual({
        code: 1,
        stdout: [],
        stderr: [`hangar: the allocator at ${allocator.url} refused the key in $HANGAR_API_KEY: the API key is not valid; set it to one of the allocator's keys (ALLOCATOR_API_KEYS or ALLOCATOR_API_KEYS_FILE where it runs) [UNAUTHENTICATED]`],
      });
      expect(await hangar(['allocate', '--fleet', 'arena'], { HANGAR_API_URL: allocator.url, HANGAR_API_KEY: 'ops-0123456789abcdef' })).toMatchObject({ code: 0, stdout: [expect.stringMatching(/^allocated gs-\d at 127\.0\.0\.1/)] });
    } finally {
      await allocator.stop();
    }
  });

  it('are in the usage text', async () => {
    const usage = (await hangar(['help'])).stdout.join('\n');
    for (const command of ['status [--once] [--interval SECONDS]', 'fleet list', 'fleet scale NAME N', 'fleet apply -f FILE', 'gs list [--fleet NAME] [--state STATE]', '--api URL']) {
      expect(usage).toContain(command);
    }
  });
});

describe('hangar bots --matchmake', () => {
  it('asks the lobby about its queue before any bot logs in: no lobby or no such queue is one line and exit 1', async () => {
    const lobby = await startTestLobby({ environment: 'development' });
    try {
      expect(await hangar(['bots', '--matchmake', '--players', '2', '--queue', 'ranked', '--lobby', lobby.url])).toEqual({
        code: 1,
        stdout: [],
        stderr: ['hangar: bots: the lobby has no queue ranked; its queues are duel, squad (--queue NAME)'],
      });
      expect(lobby.matchmaking.calls).toEqual([]);
      // Without --lobby: the lobby of the stack hangar up would run here (lobby.port, HANGAR_LOBBY__PORT).
      expect(await hangar(['bots', '--matchmake', '--players', '2', '--queue', 'ranked'], { HANGAR_LOBBY__PORT: new URL(lobby.url).port })).toMatchObject({
        code: 1,
        stderr: ['hangar: bots: the lobby has no queue ranked; its queues are duel, squad (--queue NAME)'],
      });
      expect(await hangar(['bots', '--matchmake', '--players', '2', '--lobby', closedUrl])).toEqual({
        code: 1,
        stdout: [],
        stderr: [`hangar: bots: no lobby answers at ${closedUrl} (ECONNREFUSED): is the stack running (hangar up), or is --lobby wrong?`],
      });
      const notLobby = await hangar(['bots', '--matchmake', '--players', '2', '--lobby', api.url]);
      expect(notLobby).toMatchObject({ code: 1, stdout: [] });
      expect(notLobby.stderr).toEqual([expect.stringMatching(new RegExp(`^hangar: bots: the lobby at ${api.url} did not list its queues: `))]);
    } finally {
      await lobby.close();
    }
  });

  it('warns when the bots alone are too few to start a match of the queue, then queues them anyway', async () => {
    const lobby = await startTestLobby({ environment: 'development' });
    try {
      const run = await hangar(['bots', '--matchmake', '--players', '2', '--queue', 'squad', '--duration', '1', '--lobby', lobby.url]);
      expect(run.stderr.slice(0, 2)).toEqual([
        'queue squad starts a match with at least 6 players: 2 bots will wait for real players to join them (or give --players 6)',
        `2 bots → lobby ${lobby.url}, queue squad, for at most 1 s`,
      ]);
      expect(lobby.matchmaking.calls.filter((c) => c.method === 'submit')).toHaveLength(2);
      expect(run.stdout[0]).toBe('matchmaking: 0/2 matched into 0 matches (not matched: 2 still waiting at the end)');
    } finally {
      await lobby.close();
    }
  });
});
