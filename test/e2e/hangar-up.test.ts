import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { GameServerSummary } from '../../fleets/http-api.js';
import { arenaFleetYaml, isAlive, simpleFleetYaml, stackFixture, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';
import { freeTcpPort } from '../helpers/free-port.js';

// `hangar up` as a user runs it: the built CLI in its own process, stopped with Ctrl-C (SIGINT).

const CLI = path.resolve('dist/cli/main.js');

/**
 * The CLI run to its end without blocking this process: spawnSync would stop it reading the stack's
 * output pipes (the stack then blocks on a full pipe) and hold its keep-alive sockets idle past the
 * API's timeout.
 */
function runToEnd(args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const run = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
  let stdout = '';
  let stderr = '';
  run.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => run.once('close', (status) => resolve({ status, stdout, stderr })));
}

// Each test's stack, stopped and cleaned up after it.
let fixture: StackFixture | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await fixture?.cleanup();
});

/**
 * `hangar up` (on the fixture's config unless `args` and `options` say otherwise), both its pipes
 * read (a stack whose pipe fills up blocks on its next line); resolves once it prints its API
 * address, and fails if it exits first.
 */
async function startUp(args: string[] = ['--config', fixture!.configFile], options: SpawnOptions = { env: fixture!.env }): Promise<{ up: ChildProcess; api: string; output: { stdout: string; stderr: string } }> {
  const up = spawn(process.execPath, [CLI, 'up', ...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  child = up;
  const output = { stdout: '', stderr: '' };
  up.stdout!.on('data', (d: Buffer) => (output.stdout += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output.stderr += d.toString()));
  const api = await waitFor('the API address line', async () => {
    if (up.exitCode !== null) throw new Error(`hangar up exited ${up.exitCode}: ${output.stderr}`);
    return /API (http:\/\/[\d.]+:\d+)/.exec(output.stdout)?.[1];
  });
  return { up, api, output };
}

/** The stack's Ready game servers once there are `count` of them. */
function readyServers(api: string, count: number, timeoutMs?: number): Promise<GameServerSummary[]> {
  return waitFor(`${count} Ready servers`, async () => {
    const items = ((await (await fetch(`${api}/v1/gameservers?state=Ready`)).json()) as { items: GameServerSummary[] }).items;
    return items.length === count ? items : undefined;
  }, timeoutMs);
}

describe('hangar up', () => {
  it('runs the fleet, prints progress, and on Ctrl-C stops every game server and exits 0', async () => {
    fixture = stackFixture();
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 2));
    const { up, api, output } = await startUp();
    const list = await readyServers(api, 2);
    await waitFor('the fleet summary line', async () => output.stdout.includes('fleet duel: 2/2 Ready'));
    expect(output.stdout).toMatch(/duel-\w{5}-\w{5} {2}Ready {2}127\.0\.0\.1:\d+/);

    // A second stack from the same directory stops at once, and leaves the first one's servers be.
    const second = await runToEnd([CLI, 'up', '--config', fixture.configFile], fixture.env);
    expect(second.status).toBe(1);
    expect(second.stderr.trim().split('\n')).toEqual([
      `hangar: a local stack already runs from ${fixture.stateDir} (process ${up.pid}): stop it first (Ctrl-C where it runs, or kill ${up.pid}), or give this one another local.state_dir [STACK_ALREADY_RUNNING]`,
    ]);
    const after = ((await (await fetch(`${api}/v1/gameservers?state=Ready`)).json()) as { items: GameServerSummary[] }).items;
    expect(after.map((g) => g.name).sort()).toEqual(list.map((g) => g.name).sort());

    const pids = list.map((g) => g.pid!);
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output.stdout).toContain('stopped: no game server left running');
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(path.join(fixture.stateDir, 'stack.pid'))).toBe(false);
  });

  it('on a second Ctrl-C kills the game servers still stopping, says so, and exits 130 instead of leaving them behind', async () => {
    fixture = stackFixture();
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 2));
    const { up, api, output } = await startUp();
    const list = await readyServers(api, 2);
    const pids = list.map((g) => g.pid!);
    try {
      // A hung server: SIGTERM cannot stop it, so the first Ctrl-C waits out its grace.
      process.kill(pids[0]!, 'SIGSTOP');
      const exited = new Promise<[number | null, string | null]>((resolve) => up.once('exit', (code, signal) => resolve([code, signal])));
      up.kill('SIGINT');
      await waitFor('the stop to begin', async () => output.stdout.includes('SIGINT: stopping every game server (Ctrl-C again to force)'));
      up.kill('SIGINT');
      expect(await exited).toEqual([130, null]);
      expect(output.stderr).toMatch(/^SIGINT again: killed [12] game server process\(es\) still running; exiting now$/m);
      await waitFor('every game server gone', async () => pids.every((pid) => !isAlive(pid)), 5_000);
      expect(existsSync(path.join(fixture.stateDir, 'stack.pid'))).toBe(false);
    } finally {
      for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    }
  });

  it('on a Ctrl-C during start-up says so, stops what has started (game servers included) once it can, and exits 0', async () => {
    fixture = stackFixture();
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 2));
    const up = spawn(process.execPath, [CLI, 'up', '--config', fixture.configFile], { env: fixture.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = up;
    let stdout = '';
    up.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    up.stderr!.resume();
    const exited = new Promise<[number | null, string | null]>((resolve) => up.once('exit', (code, signal) => resolve([code, signal])));
    // Its lock taken, its stack not yet started (the records database, the fleets applied).
    const lockFile = path.join(fixture.stateDir, 'stack.pid');
    for (const end = Date.now() + 10_000; !existsSync(lockFile) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 2));
    up.kill('SIGINT');
    expect(await exited).toEqual([0, null]);
    expect(stdout).toContain('SIGINT during start-up: stopping as soon as the stack has started (Ctrl-C again to exit at once)');
    expect(stdout).toContain('stopped: no game server left running');
    expect(existsSync(path.join(fixture.stateDir, 'stack.pid'))).toBe(false);
    // Each game server it ran is recorded while it runs (process-records.ts): none is left.
    const processes = path.join(fixture.stateDir, 'processes');
    expect(existsSync(processes) ? readdirSync(processes) : []).toEqual([]);
  });

  it('answers the preStop drain of a game server nobody is on, though the server stops because of it', async () => {
    fixture = stackFixture();
    fixture.writeFleet('arena.yaml', arenaFleetYaml({ replicas: 1, players: 4, matchSeconds: 60, env: { WARM_UP_PLAYERS: '0' } }));
    const { api } = await startUp();
    const ready = async () => ((await (await fetch(`${api}/v1/gameservers?state=Ready`)).json()) as { items: GameServerSummary[] }).items;
    const [gs] = await waitFor('a Ready server', async () => ((await ready()).length === 1 ? ready() : undefined), 30_000);
    const metricsPort = gs!.ports.find((p) => p.name === 'metrics')!.port;
    // As Kubernetes' preStop hook runs it: Shutdown through the SDK stops the server, and with it
    // its admin port, while the answer is on its way.
    const drain = await runToEnd(['scripts/admin-request.mjs', 'drain'], { PATH: process.env.PATH, ADMIN_PORT: String(metricsPort) });
    expect(drain).toEqual({ status: 0, stdout: `POST http://127.0.0.1:${metricsPort}/admin/drain: 200 {"status":"drained"}\n`, stderr: '' });
    await waitFor('the drained server replaced', async () => {
      const now = await ready();
      return now.length === 1 && now[0]!.name !== gs!.name;
    }, 30_000);
  }, 60_000);

  it('stops every game server and exits 0 when its output pipe closes, instead of dying on the write and orphaning them', async () => {
    fixture = stackFixture();
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 2));
    const { up, api, output } = await startUp();
    const list = await readyServers(api, 2);
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    // Nobody reads its output any more; the next line it prints (the fleet scaling up) hits the closed pipe.
    up.stdout!.destroy();
    await fetch(`${api}/v1/fleets/duel/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas: 3 }) });
    expect(await exited).toBe(0);
    expect(output.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(list.map((g) => g.pid!).filter(isAlive)).toEqual([]);
  });

  it('leaves no game server running when it is killed outright: each one sees its stack gone and exits at once', async () => {
    fixture = stackFixture();
    // Long before their SDK connection would be given up.
    fixture.writeFleet('arena.yaml', arenaFleetYaml({ replicas: 2, players: 4, matchSeconds: 60, env: { SDK_LOST_SECONDS: '300', WARM_UP_PLAYERS: '0' } }));
    const { up, api } = await startUp();
    const list = await readyServers(api, 2, 30_000);
    const pids = list.map((g) => g.pid!);
    expect(pids.filter(isAlive)).toHaveLength(2);
    up.kill('SIGKILL');
    // Far sooner than SDK_LOST_SECONDS; a loaded machine may take seconds to stop an arena server.
    await waitFor('every game server gone', async () => pids.every((pid) => !isAlive(pid)), 15_000);
    for (const g of list) expect(readFileSync(g.logFile!, 'utf8')).toContain('the local stack that ran this game server is gone');
  }, 60_000);

  it('stops the game servers a stack killed outright left running before it takes their ports, and runs its own', async () => {
    fixture = stackFixture();
    // Processes that watch nothing (neither their SDK server nor their stack) and never end by themselves.
    const idle = '["node", "-e", "setInterval(() => {}, 1000)"]';
    fixture.writeFleet('idle.yaml', simpleFleetYaml('idle', 2, { initialDelaySeconds: 600, periodSeconds: 5, failureThreshold: 3 }, idle));
    const servers = async (api: string) => ((await (await fetch(`${api}/v1/gameservers?fleet=idle`)).json()) as { items: GameServerSummary[] }).items;
    const first = await startUp();
    const left = await waitFor('2 running processes', async () => {
      const pids = (await servers(first.api)).map((g) => g.pid).filter((pid): pid is number => typeof pid === 'number');
      return pids.length === 2 ? pids : undefined;
    });
    let own: number[] = [];
    try {
      first.up.kill('SIGKILL');
      await new Promise((resolve) => first.up.once('exit', resolve));
      expect(left.filter(isAlive)).toHaveLength(2);

      const second = await startUp();
      await waitFor('the servers left running to be gone', async () => left.every((pid) => !isAlive(pid)), 2000);
      own = await waitFor('2 running processes of its own', async () => {
        const pids = (await servers(second.api)).map((g) => g.pid).filter((pid): pid is number => typeof pid === 'number');
        return pids.length === 2 ? pids : undefined;
      });
      expect(own.filter((pid) => left.includes(pid))).toEqual([]);
      expect(readFileSync(path.join(fixture.stateDir, 'hangar.log'), 'utf8').match(/stopped a game server that an earlier stack on this state directory left running/g)).toHaveLength(2);
      // Stopped as a user stops it, it stops its own servers (which nothing else would: they watch nothing).
      const exited = new Promise((resolve) => second.up.once('exit', resolve));
      second.up.kill('SIGINT');
      await exited;
      expect(own.filter(isAlive)).toEqual([]);
    } finally {
      // Had the stacks not stopped them, nothing would: these processes never end by themselves.
      for (const pid of [...left, ...own].filter(isAlive)) process.kill(-pid, 'SIGKILL');
    }
  }, 90_000);

  it('prints every config problem and exits 1 on a bad config', () => {
    fixture = stackFixture();
    writeFileSync(fixture.configFile, 'api:\n  port: high\nlocal:\n  port_range:\n    min: -1\nextra: true\n');
    const run = spawnSync(process.execPath, [CLI, 'up', '--config', fixture.configFile], { encoding: 'utf8', env: fixture.env });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      `${fixture.configFile}:2:9: api.port: expected a number, got "high"`,
      `${fixture.configFile}:5:10: local.port_range.min: must be at least 0, got -1`,
      `${fixture.configFile}:6:1: extra: unknown field "extra"; allowed here: server, limits, performance, logging, api, admin, allocator, records, local, matchmaker, lobby`,
    ]);
    // A port clash is refused at load, before anything binds, naming both keys.
    writeFileSync(fixture.configFile, 'admin:\n  port: 8000\n');
    const clash = spawnSync(process.execPath, [CLI, 'up', '--config', fixture.configFile], { encoding: 'utf8', env: fixture.env });
    expect(clash.status).toBe(1);
    expect(clash.stderr.trim().split('\n')).toEqual([
      `${fixture.configFile}:2:9: admin.port: 8000 is also api.port's default (both on 127.0.0.1): each listener needs a port of its own, or the second fails to bind at start`,
    ]);
  });

  it('names a port another program holds, stops what it started, and exits 1', async () => {
    fixture = stackFixture();
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 1));
    const holder = createServer();
    const port = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
    try {
      const run = spawnSync(process.execPath, [CLI, 'up', '--config', fixture.configFile], { encoding: 'utf8', env: { ...fixture.env, HANGAR_LOBBY__PORT: String(port) }, timeout: 30_000 });
      expect(run.stderr).toContain(`hangar: cannot listen on 127.0.0.1:${port} for the lobby (lobby.port): another program is using it [LISTEN_FAILED]`);
      expect(run.status).toBe(1);
    } finally {
      holder.close();
    }
  });

  it('with its store in a Redis that is down, says so and exits 1 instead of retrying forever', async () => {
    fixture = stackFixture();
    const closed = await freeTcpPort();
    const env = { ...fixture.env, HANGAR_ALLOCATOR__BACKEND: 'redis', REDIS_URL: `redis://127.0.0.1:${closed}` };
    const run = spawnSync(process.execPath, [CLI, 'up', '--config', fixture.configFile], { encoding: 'utf8', env, timeout: 30_000 });
    expect(run.stderr).toContain('hangar: Redis is unreachable: the command was not sent: reconnecting failed (the log says why) [REDIS_UNAVAILABLE]');
    expect(run.status).toBe(1);
    expect(readFileSync(path.join(fixture.stateDir, 'hangar.log'), 'utf8')).toContain(`cannot reach Redis at 127.0.0.1:${closed} for the game-server store: connect ECONNREFUSED`);
  });

  it('rejects unknown commands and options with usage and exit 2', () => {
    const unknown = spawnSync(process.execPath, [CLI, 'fly'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^hangar: unknown command "fly"\nusage: hangar <command>/);
    const badOption = spawnSync(process.execPath, [CLI, 'up', '--colour'], { encoding: 'utf8' });
    expect(badOption.status).toBe(2);
    expect(badOption.stderr).toMatch(/Unknown option '--colour'/);
  });
});

describe('ops commands against a running hangar up', () => {
  const hangar = (api: string, ...args: string[]) => runToEnd([CLI, ...args, '--api', api]);

  it('shows status, lists and scales fleets and game servers, applies YAML, and names unknown fleets', async () => {
    fixture = stackFixture();
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 2));
    const { up, api, output } = await startUp();
    await waitFor('2 Ready', async () => output.stdout.includes('fleet duel: 2/2 Ready'));

    const status = await hangar(api, 'status', '--once');
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/^FLEET +DESIRED +CURRENT +READY +ALLOCATED +RESERVED/m);
    expect(status.stdout).toMatch(/^duel +2 +2 +2 +0 +0/m);
    expect(status.stdout.match(/duel-\w{5}-\w{5} +duel +Ready +127\.0\.0\.1:\d+/g)).toHaveLength(2);
    // The matchmaker's queues (config/matchmaking.yaml), nobody waiting.
    expect(status.stdout).toMatch(/^QUEUE +FLEET +PLAYERS +WAITING +OLDEST +EST\. WAIT\nbattle +arena +10-50 +0 +- +-$/m);

    const scaled = await hangar(api, 'fleet', 'scale', 'duel', '3');
    expect(scaled.status).toBe(0);
    await waitFor('3 Ready after the scale', async () => ((await hangar(api, 'gs', 'list', '--fleet', 'duel', '--state', 'Ready')).stdout.match(/ Ready /g) ?? []).length === 3);

    const unknown = await hangar(api, 'fleet', 'scale', 'nope', '1');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('fleet nope not found');
    const badN = await hangar(api, 'fleet', 'scale', 'duel', '-1');
    expect(badN.status).toBe(2);

    const file = path.join(fixture.dir, 'more.yaml');
    writeFileSync(file, simpleFleetYaml('more', 1));
    const applied = await hangar(api, 'fleet', 'apply', '-f', file);
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain('fleet.agones.dev/more created');
    writeFileSync(file, simpleFleetYaml('more', 1).replace('portPolicy: Passthrough', 'portPolicy: Often'));
    const invalid = await hangar(api, 'fleet', 'apply', '-f', file);
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: spec\\.template\\.spec\\.ports\\[0\\]\\.portPolicy: `));

    up.kill('SIGINT');
    await new Promise((resolve) => up.once('exit', resolve));
    const down = await hangar(api, 'gs', 'list');
    expect(down.status).toBe(1);
    expect(down.stderr).toContain(`cannot reach the Hangar stack at ${api}`);
  }, 90_000);
});

describe('commands run where hangar up --config FILE runs', () => {
  it("find that stack (its ports, its state directory's key), not the one the default config would run, and lose it once it stops", async () => {
    fixture = stackFixture({ matchmakingRules: readFileSync('config/matchmaking.yaml', 'utf8') });
    // Its game servers run where it runs: the server's path is absolute.
    fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 1, undefined, `["node", "${path.resolve('dist/examples/simple-game-server/main.js')}"]`));
    // Ports 0: only the running stack knows where it listens.
    const { up, api, output } = await startUp(['--config', 'config.yaml'], { cwd: fixture.dir, env: fixture.env });
    await waitFor('1 Ready', async () => output.stdout.includes('fleet duel: 1/1 Ready'));
    const here = (...args: string[]) => runToEnd([CLI, ...args], fixture!.env, fixture!.dir);

    const list = await here('fleet', 'list');
    expect(list).toMatchObject({ status: 0, stderr: '' });
    expect(list.stdout).toMatch(/^duel +1 +1 +1 +0 +0$/m);
    const [gs] = ((await (await fetch(`${api}/v1/gameservers`)).json()) as { items: GameServerSummary[] }).items;
    const token = await here('token', '--server', gs!.name, '--player', 'p1', '--address', '127.0.0.1:7000');
    expect(token).toMatchObject({ status: 0, stderr: '' });

    up.kill('SIGINT');
    await new Promise((resolve) => up.once('exit', resolve));
    // Gone: the commands read the config hangar up would read there again (the package's, moved by HANGAR_API__PORT).
    const closed = await freeTcpPort();
    const after = await runToEnd([CLI, 'gs', 'list'], { ...fixture.env, HANGAR_API__PORT: String(closed) }, fixture.dir);
    expect(after.status).toBe(1);
    expect(after.stderr).toContain(`cannot reach the Hangar stack at http://127.0.0.1:${closed}`);
  }, 60_000);
});

describe('hangar up outside the clone', () => {
  /** The fixture's stack settings as overrides, for a config file that is not the fixture's. */
  const overrides = (f: StackFixture): NodeJS.ProcessEnv => ({
    ...f.env,
    HANGAR_API__PORT: '0',
    HANGAR_ADMIN__PORT: '0',
    HANGAR_LOBBY__PORT: '0',
    HANGAR_LOCAL__PORT_RANGE__MIN: String(f.portRange.min),
    HANGAR_LOCAL__PORT_RANGE__MAX: String(f.portRange.max),
    HANGAR_LOCAL__TERMINATION_GRACE_SECONDS: '3',
    HANGAR_LOGGING__OUTPUTS__CONSOLE__ENABLED: 'false',
    HANGAR_RECORDS__SCHEMA: /schema: (\S+)/.exec(readFileSync(f.configFile, 'utf8'))![1]!,
  });

  it("runs the package's own config, fleets and matchmaking rules from any directory, its state where it runs", async () => {
    fixture = stackFixture();
    // A relative state directory: it resolves where `hangar up` runs, not in the package.
    const { up, api, output } = await startUp([], { cwd: fixture.dir, env: { ...overrides(fixture), HANGAR_LOCAL__STATE_DIR: 'here' } });
    expect(output.stdout).toContain(`config: ${path.resolve('config/development.yaml')} (the hangar package's own: there is no config/development.yaml here; --config FILE reads another)`);
    const fleets = ((await (await fetch(`${api}/v1/fleets`)).json()) as { items: Array<{ name: string }>; problems: unknown[] }).items;
    expect(fleets.map((f) => f.name)).toEqual(['arena']);
    const queues = ((await (await fetch(`${api}/v1/queues`)).json()) as { items: Array<{ name: string }> }).items;
    expect(queues.length).toBeGreaterThan(0);
    // The package's arena fleet runs the package's game-server bundle.
    await waitFor('a Ready arena server', async () => (((await (await fetch(`${api}/v1/gameservers?state=Ready`)).json()) as { items: unknown[] }).items.length > 0 ? true : undefined), 30_000);
    expect(existsSync(path.join(fixture.dir, 'here', 'hangar.log'))).toBe(true);
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    up.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 60_000);

  it('names the config paths it tried when neither the directory nor the package has one, and a --config file relative to where it runs', () => {
    fixture = stackFixture();
    const none = spawnSync(process.execPath, [CLI, 'up'], { cwd: fixture.dir, encoding: 'utf8', env: { ...overrides(fixture), GAME_SERVER_ENV: 'nowhere' } });
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe(`config/nowhere.yaml: no such config file in ${fixture.dir} nor in the hangar package (${path.resolve('config/nowhere.yaml')}); pass --config FILE`);
    const missing = spawnSync(process.execPath, [CLI, 'up', '--config', 'mine.yaml'], { cwd: fixture.dir, encoding: 'utf8', env: overrides(fixture) });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(new RegExp(`^${path.join(fixture.dir, 'mine.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read config file: ENOENT`));
  });
});
