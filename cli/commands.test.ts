import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCannedStackApi, type CannedStackApi } from '../test/helpers/canned-stack-api.js';
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

async function hangar(argv: string[], env: NodeJS.ProcessEnv = { HANGAR_API_URL: api.url }): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, env);
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
        stderr: [`hangar: cannot reach the Hangar stack at ${closedUrl}: is \`npm start\` running? [STACK_UNREACHABLE]`],
      });
    }
  });

  it('exit 1 with the API message for a fleet that does not exist', async () => {
    for (const argv of [['fleet', 'scale', 'nope', '3'], ['gs', 'list', '--fleet', 'nope']]) {
      expect(await hangar(argv)).toEqual({ code: 1, stdout: [], stderr: ['hangar: fleet nope not found [FLEET_NOT_FOUND]'] });
    }
  });

  it('exit 2 with the usage on bad arguments, naming what is wrong', async () => {
    const cases: Array<[string[], string]> = [
      [['fleet', 'scale', 'simple', '-2'], 'hangar: fleet scale: N must be a non-negative integer, not -2'],
      [['fleet', 'scale', 'simple', 'lots'], 'hangar: fleet scale: N must be a non-negative integer, not "lots"'],
      [['fleet', 'apply'], 'hangar: fleet apply: -f FILE is required (-f - reads stdin)'],
      [['fleet'], 'hangar: fleet: which command? use fleet list, scale or apply'],
      [['gs', 'list', '--state', 'Running'], expect.stringMatching(/^hangar: --state "Running" is not a GameServer state: one of PortAllocation, /) as unknown as string],
      [['status', '--interval=-1'], 'hangar: --interval "-1": give a number of seconds, at least 0.1'],
      [['status', '--colour'], expect.stringMatching(/^hangar: Unknown option '--colour'/) as unknown as string],
      [['status', '--api', 'localhost:8000'], 'hangar: --api "localhost:8000" is not an http:// or https:// URL, like http://127.0.0.1:8000'],
    ];
    for (const [argv, line] of cases) {
      const run = await hangar(argv);
      expect(run).toMatchObject({ code: 2, stdout: [] });
      expect(run.stderr[0]).toEqual(line);
      expect(run.stderr[1]).toMatch(/^usage: hangar <command> \[options\]\n/);
    }
    const badEnv = await hangar(['status'], { HANGAR_API_URL: 'ftp://stack' });
    expect(badEnv).toMatchObject({ code: 2, stdout: [] });
    expect(badEnv.stderr[0]).toBe('hangar: HANGAR_API_URL "ftp://stack" is not an http:// or https:// URL, like http://127.0.0.1:8000');
  });

  it('print the usage and exit 0 for --help or -h after any command', async () => {
    for (const argv of [['up', '--help'], ['bots', '--matchmake', '-h'], ['fleet', 'scale', '--help'], ['--help']]) {
      const run = await hangar(argv);
      expect(run).toMatchObject({ code: 0, stderr: [] });
      expect(run.stdout[0]).toMatch(/^usage: hangar <command> \[options\]\n/);
    }
  });

  it('are in the usage text', async () => {
    const usage = (await hangar(['help'])).stdout.join('\n');
    for (const command of ['status [--once] [--interval SECONDS]', 'fleet list', 'fleet scale NAME N', 'fleet apply -f FILE', 'gs list [--fleet NAME] [--state STATE]', '--api URL']) {
      expect(usage).toContain(command);
    }
  });
});
