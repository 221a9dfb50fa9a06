import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { StackUnreachableError, UsageError } from '../core/errors.js';
import { FLEETS, GAME_SERVERS, NOW, PROBLEMS, QUEUES, READY_STACK, startCannedStackApi, type CannedStackApi } from '../test/helpers/canned-stack-api.js';
import { renderStatus, runStatus } from './status.js';

const TABLES = [
  'FLEET   DESIRED  CURRENT  READY  ALLOCATED  RESERVED  PLAYERS  AUTOSCALER',
  'simple        3        3      1          1         0     4/30  Buffer: wants 3, limited',
  'duel          1        1      1          0         0        -  -',
  '',
  'NAME          FLEET   STATE      ADDRESS          AGE  RESTARTS',
  'duel-x1y2z    duel    Ready      127.0.0.1:7003  2h1m         0',
  'simple-9ab3c  simple  Allocated  127.0.0.1:7001  3m4s         1',
  'simple-2xk7q  simple  Ready      127.0.0.1:7000   12s         0',
  'simple-qq7rt  simple  Starting   -                 0s         0',
  'lobby         -       Ready      127.0.0.1:7010  1d2h         0',
  '',
  'QUEUE   FLEET   PLAYERS  WAITING  OLDEST  EST. WAIT',
  'battle  simple    10-50        7   1m15s        12s',
  'duel    duel          2        0       -          -',
  '',
  'problems in fleet files:',
  'config/fleets/broken.yaml:6:13: spec.replicas: Invalid input: expected number, received string',
];

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, io: { stdout: (l: string) => stdout.push(l), stderr: (l: string) => stderr.push(l) } };
}

describe('renderStatus', () => {
  it('shows fleets, then game servers grouped by fleet (oldest first), then fleet-file problems', () => {
    expect(renderStatus({ stack: READY_STACK, fleets: FLEETS, problems: PROBLEMS, gameServers: GAME_SERVERS, queues: QUEUES }, NOW)).toEqual(TABLES);
  });

  it('leaves out the PLAYERS and AUTOSCALER columns when no fleet has them, and says when there is nothing', () => {
    const plain = FLEETS.map((f) => ({ ...f, autoscaler: null, status: { ...f.status, players: null } }));
    expect(renderStatus({ stack: READY_STACK, fleets: plain, problems: [], gameServers: [], queues: [] }, NOW)).toEqual([
      'FLEET   DESIRED  CURRENT  READY  ALLOCATED  RESERVED',
      'simple        3        3      1          1         0',
      'duel          1        1      1          0         0',
      '',
      'no game servers',
    ]);
    expect(renderStatus({ stack: READY_STACK, fleets: [], problems: [], gameServers: [], queues: [] }, NOW)).toEqual(['no fleets', '', 'no game servers']);
  });

  it('says when an autoscaler has not synced yet, or cannot scale', () => {
    const [simple] = FLEETS;
    const unsynced = { ...simple!, autoscaler: { ...simple!.autoscaler!, status: null } };
    const problem = { code: 'AUTOSCALER_POLICY_FAILED', message: 'cannot apply the Counter policy: the fleet\'s template has no counter "rooms" (spec.template.spec.counters)' };
    const stuck = { ...simple!, name: 'stuck', autoscaler: { ...simple!.autoscaler!, status: { ...simple!.autoscaler!.status!, scalingLimited: false, ableToScale: false }, problem } };
    const lines = renderStatus({ stack: READY_STACK, fleets: [unsynced, stuck], problems: [], gameServers: [], queues: [] }, NOW);
    expect(lines[1]).toMatch(/ {2}Buffer: not synced yet$/);
    expect(lines[2]).toMatch(/ {2}Buffer: wants 3, unable to scale$/);
    // And why, under the table: otherwise only the stack's log says it.
    expect(lines[3]).toBe(`FleetAutoscaler simple-autoscaler cannot scale fleet stuck: ${problem.message}`);
    expect(lines[4]).toBe('');
  });

  it('lists an autoscaler whose fleet is not there, under the fleets, or in place of them', () => {
    const stray = { name: 'arena-autoscaler', policy: 'Webhook', fleetName: 'arena', status: null, problem: { code: 'FLEET_NOT_FOUND', message: 'fleet arena not found' } };
    const line = 'FleetAutoscaler arena-autoscaler (Webhook) has no fleet to scale: fleet arena not found';
    expect(renderStatus({ stack: READY_STACK, fleets: [], strayAutoscalers: [stray], problems: [], gameServers: [], queues: [] }, NOW)).toEqual(['no fleets', line, '', 'no game servers']);
    expect(renderStatus({ stack: READY_STACK, fleets: FLEETS, strayAutoscalers: [stray], problems: [], gameServers: [], queues: [] }, NOW).slice(0, 4)).toEqual([...TABLES.slice(0, 3), line]);
  });

  it('says when an autoscaler holds its fleet below what its policy asks, and why', () => {
    const [simple] = FLEETS;
    const problem = { code: 'PORT_UNAVAILABLE', message: 'Webhook asks for 100000 replicas; ... at most 25 can run here, so the fleet is held at 25' };
    const held = { ...simple!, autoscaler: { ...simple!.autoscaler!, problem } };
    const lines = renderStatus({ stack: READY_STACK, fleets: [held], problems: [], gameServers: [], queues: [] }, NOW);
    expect(lines[1]).toMatch(/ {2}Buffer: wants 3, limited$/);
    expect(lines[2]).toBe(`FleetAutoscaler simple-autoscaler holds back fleet simple: ${problem.message}`);
  });

  it('fits 100 columns with longer names, two ports and a limited autoscaler wanting hundreds', () => {
    const fleets = FLEETS.map((f) => ({
      ...f,
      name: `${f.name}-eu-west-1`,
      spec: { ...f.spec, replicas: 120 },
      autoscaler: f.autoscaler && { ...f.autoscaler, name: 'ranked-autoscaler', policy: 'Counter', status: { ...f.autoscaler.status!, desiredReplicas: 120 } },
    }));
    const gameServers = GAME_SERVERS.map((g) => ({ ...g, name: `${g.fleet ?? 'lobby'}-eu-west-1-x7k2p`, fleet: g.fleet && `${g.fleet}-eu-west-1`, ports: [...g.ports, { name: 'query', port: 17010 }] }));
    const lines = renderStatus({ stack: READY_STACK, fleets, problems: [], gameServers, queues: QUEUES }, NOW);
    expect(lines[1]).toMatch(/Counter: wants 120, limited$/);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);
  });

  it('says first when the stack is draining or not ready, and why, within 100 columns', () => {
    const drained = { ready: false, status: 'draining', checks: { store: true, queue: true }, drainingSince: new Date(NOW - 125_000).toISOString() } as const;
    const lines = renderStatus({ stack: drained, fleets: FLEETS, problems: PROBLEMS, gameServers: GAME_SERVERS, queues: QUEUES }, NOW);
    expect(lines.slice(0, 3)).toEqual([
      'stack draining since 11:57:55 UTC (2m5s ago): fleets are no longer scaled, healed or reloaded',
      '  from their files until it restarts; game servers, allocation and matchmaking go on',
      '',
    ]);
    expect(lines.slice(3)).toEqual(TABLES);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);

    const redisDown = { ready: false, status: 'not ready', checks: { store: true, queue: false } } as const;
    expect(renderStatus({ stack: redisDown, fleets: [], problems: [], gameServers: [], queues: [] }, NOW)).toEqual(['stack not ready: failing queue (its log names the cause)', '', 'no fleets', '', 'no game servers']);
    const starting = { ready: false, status: 'starting', checks: {} } as const;
    expect(renderStatus({ stack: starting, fleets: [], problems: [], gameServers: [], queues: [] }, NOW)[0]).toBe('stack starting');
  });
});

describe('hangar status against an HTTP server', () => {
  let api: CannedStackApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('prints once and exits 0 with --once, and when stdout is not a terminal', async () => {
    api = await startCannedStackApi();
    for (const [args, tty] of [[['--once'], true], [[], false]] as const) {
      const out = capture();
      expect(await runStatus([...args, '--api', api.url], out.io, { now: () => NOW, tty })).toBe(0);
      expect(out.stdout).toEqual(TABLES);
      expect(out.stderr).toEqual([]);
    }
    expect(api.requests.map((r) => `${r.method} ${r.url}`).sort()).toEqual(['GET /v1/fleets', 'GET /v1/fleets', 'GET /v1/gameservers', 'GET /v1/gameservers', 'GET /v1/queues', 'GET /v1/queues', 'GET /v1/stack', 'GET /v1/stack']);
  });

  it('on a terminal redraws in place every interval, shows a stack that went away, and stops with exit 0', async () => {
    api = await startCannedStackApi();
    const out = capture();
    const stop = new AbortController();
    let frames = 0;
    const io = {
      ...out.io,
      stdout: (l: string) => {
        out.stdout.push(l);
        frames++;
        if (frames === 2) void api!.close();
        if (frames === 3) stop.abort();
      },
    };
    expect(await runStatus(['--interval', '0.1', '--api', api.url], io, { now: () => NOW, tty: true, signal: stop.signal })).toBe(0);
    const [first, second, third] = out.stdout;
    const header = `Hangar at ${api.url}, 12:00:00 UTC, every 0.1s (Ctrl-C quits)`;
    const frame = [header, '', ...TABLES].map((l) => `${l}\x1b[K`).join('\n');
    expect(first).toBe(`\x1b[2J\x1b[H${frame}\x1b[J`);
    expect(second).toBe(`\x1b[H${frame}\x1b[J`);
    expect(third).toBe(`\x1b[H${header}\x1b[K\n\x1b[K\nhangar: cannot reach the Hangar stack at ${api.url}: is \`hangar up\` (npm start in the clone) running? (retrying)\x1b[K\x1b[J`);
    expect(out.stderr).toEqual([]);
  });

  it('cuts a live frame to the terminal height, saying how much is left out', async () => {
    api = await startCannedStackApi();
    const out = capture();
    const stop = new AbortController();
    const io = { ...out.io, stdout: (l: string) => (out.stdout.push(l), stop.abort()) };
    expect(await runStatus(['--api', api.url], io, { now: () => NOW, tty: true, rows: () => 8, signal: stop.signal })).toBe(0);
    const lines = out.stdout[0]!.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''));
    expect(lines).toEqual([`Hangar at ${api.url}, 12:00:00 UTC, every 1s (Ctrl-C quits)`, '', ...TABLES.slice(0, 4), '... 13 more lines: a taller window, or hangar status --once']);
  });

  it('fails with StackUnreachableError, before drawing anything, when the stack is not up', async () => {
    const url = await closedPortUrl();
    for (const tty of [false, true]) {
      const out = capture();
      await expect(runStatus(['--api', url], out.io, { now: () => NOW, tty })).rejects.toThrow(StackUnreachableError);
      expect(out.stdout).toEqual([]);
    }
  });

  it('rejects a bad --interval and positional arguments', async () => {
    const out = capture();
    await expect(runStatus(['--interval', '0'], out.io)).rejects.toThrow(new UsageError('--interval "0": give a number of seconds, at least 0.1'));
    // Past 2^31 ms a timer fires at once: the screen would be redrawn as fast as the stack answers.
    await expect(runStatus(['--interval', '3000000'], out.io)).rejects.toThrow(new UsageError('--interval "3000000": at most 86400 seconds (a day)'));
    await expect(runStatus(['--interval', 'fast'], out.io)).rejects.toThrow(UsageError);
    await expect(runStatus(['simple'], out.io)).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' });
  });
});

/** A URL on which nothing listens: a port just freed. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
