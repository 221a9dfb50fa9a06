import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { ConfigError } from '../../core/errors.js';
import { loadConfig } from '../../core/config.js';
import { loadSecrets } from '../../core/secrets.js';
import { createLogger } from '../../core/logger.js';
import { startLocalStack, type LocalStack } from '../../fleets/local-stack.js';
import type { GameServerSummary } from '../../fleets/http-api.js';
import { probePort } from '../../fleets/runtime/port-allocator.js';
import { repeatedTopLevelKeys } from '../helpers/repeated-keys.js';
import { isAlive, simpleFleetYaml, stackFixture, startFixtureStack, udpRequest, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';

// The real local stack in this process, with real game-server processes (the example server,
// built by `npm test`'s pretest step) talking to real SDK servers through the official SDK.

describe('local stack end to end', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  let api: string;
  // The stack's warnings, as an operator reads them.
  const warnings: Array<{ msg: string; gsName?: string; reason?: string }> = [];
  // Every record the stack logs, as written.
  const lines: string[] = [];

  const servers = async (query = ''): Promise<GameServerSummary[]> => {
    const res = await fetch(`${api}/v1/gameservers${query}`);
    return ((await res.json()) as { items: GameServerSummary[] }).items;
  };
  const ready = (fleet: string, n: number) =>
    waitFor(`${n} Ready servers in ${fleet}`, async () => {
      const list = await servers(`?fleet=${fleet}&state=Ready`);
      return list.length === n ? list : undefined;
    });

  beforeAll(async () => {
    fixture = stackFixture();
    fixture.writeFleet('arena.yaml', simpleFleetYaml('arena', 3));
    // Health checks start late: a machine loaded by the whole suite must not kill it before it exits by itself.
    const lateHealth = { initialDelaySeconds: 60, periodSeconds: 5, failureThreshold: 3 };
    fixture.writeFleet('crashy.yaml', simpleFleetYaml('crashy', 1, lateHealth, `["node", "-e", "console.error('crashy: ENCRYPTION_KEY is required'); process.exit(3)"]`));
    fixture.writeFleet('broken.yaml', simpleFleetYaml('broken', 2).replace('replicas: 2', 'replicas: -1'));
    const config = loadConfig({ file: fixture.configFile, env: {} });
    const log = createLogger({
      level: 'info',
      destination: {
        write: (line: string) => {
          lines.push(line);
          const record = JSON.parse(line) as (typeof warnings)[number] & { level: number };
          if (record.level >= 40) warnings.push(record);
        },
      },
    });
    stack = await startLocalStack({ config, log, clock: systemClock, cwd: process.cwd(), database: fixture.database });
    api = `http://127.0.0.1:${stack.apiPort}`;
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  it('brings the fleet to its replicas, each Ready with a port inside the range that answers over UDP', async () => {
    const list = await ready('arena', 3);
    for (const gs of list) {
      expect(gs.address).toBe('127.0.0.1');
      expect(gs.ports).toHaveLength(1);
      const port = gs.ports[0]!.port;
      expect(port).toBeGreaterThanOrEqual(fixture.portRange.min);
      expect(port).toBeLessThanOrEqual(fixture.portRange.max);
      expect(gs.pid).toEqual(expect.any(Number));
      expect(gs.fleet).toBe('arena');
      expect(await udpRequest(port, 'PING')).toBe('PONG');
    }
    expect(new Set(list.map((g) => g.ports[0]!.port)).size).toBe(3);
  });

  it('lists fleets with their status and the problems of files it could not apply', async () => {
    const res = await fetch(`${api}/v1/fleets`);
    const body = (await res.json()) as { items: Array<{ name: string; status: { readyReplicas: number } }>; problems: Array<{ file: string; path: string; severity: string }> };
    expect(body.items.map((f) => f.name)).toEqual(['arena', 'crashy']);
    expect(body.problems).toEqual([expect.objectContaining({ path: 'spec.replicas', severity: 'error', file: expect.stringMatching(/broken\.yaml$/) })]);
  });

  it('replaces a game server killed with SIGKILL', async () => {
    const [victim] = await ready('arena', 3);
    process.kill(victim!.pid!, 'SIGKILL');
    const after = await waitFor('the killed server to be replaced', async () => {
      const list = await servers('?fleet=arena&state=Ready');
      return list.length === 3 && !list.some((g) => g.name === victim!.name) ? list : undefined;
    });
    expect(after).toHaveLength(3);
    // Killed, it was stopped mid-sentence: its last log line is context, not the reason.
    expect(warnings).toContainEqual(expect.objectContaining({ msg: 'game server is Unhealthy', gsName: victim!.name, reason: expect.stringMatching(/^process exited \(signal SIGKILL( \(its last log line: ".*"\))?\) while Ready$/) }));
  });

  it('moves a server that stops health pings to Unhealthy, then replaces it', async () => {
    const [victim] = await ready('arena', 3);
    expect(await udpRequest(victim!.ports[0]!.port, 'UNHEALTHY')).toBe('OK');
    await waitFor('the silent server to be replaced', async () => {
      const list = await servers('?fleet=arena&state=Ready');
      return list.length === 3 && !list.some((g) => g.name === victim!.name);
    });
  });

  it('lets a game server allocate itself through the SDK, and keeps it', async () => {
    const [gs] = await ready('arena', 3);
    expect(await udpRequest(gs!.ports[0]!.port, 'ALLOCATE')).toBe('OK');
    const allocated = await waitFor('Allocated', async () => (await servers('?state=Allocated')).find((g) => g.name === gs!.name));
    expect(allocated.state).toBe('Allocated');
    // An Allocated server counts toward the replicas: the fleet stays at 3 in all.
    expect((await servers('?fleet=arena')).filter((g) => g.state === 'Ready' || g.state === 'Allocated')).toHaveLength(3);
  });

  it('restarts a process that exits before Ready, with back-off, and says how often and what it said last', async () => {
    const crashy = await waitFor('a restart', async () => (await servers('?fleet=crashy')).find((g) => g.restarts >= 2));
    expect(['Scheduled', 'Starting']).toContain(crashy.state);
    expect(crashy.lastExit).toBe('code 3: "crashy: ENCRYPTION_KEY is required"');
  });

  it('answers bad queries with a JSON error that names the problem', async () => {
    const bad = await fetch(`${api}/v1/gameservers?state=Sleeping`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^state "Sleeping" is not a GameServer state/);
    const unknown = await fetch(`${api}/v1/gameservers?colour=red`);
    expect(unknown.status).toBe(400);
    const missing = await fetch(`${api}/v1/gameservers/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'GS_NOT_FOUND', message: 'game server nope not found' } });
    expect((await fetch(`${api}/v1/fleets/nope`)).status).toBe(404);
  });

  it('once drained, says so at /v1/stack and refuses changes to fleets, changing nothing, while its servers keep running', async () => {
    expect(await (await fetch(`${api}/v1/stack`)).json()).toEqual({ ready: true, status: 'ready', checks: { store: true, queue: true } });
    const before = await servers('?fleet=arena');
    expect((await fetch(`http://127.0.0.1:${stack.adminPort}/admin/drain`, { method: 'POST' })).status).toBe(200);

    const state = (await (await fetch(`${api}/v1/stack`)).json()) as { status: string; drainingSince: string };
    expect(state.status).toBe('draining');
    expect(Date.now() - Date.parse(state.drainingSince)).toBeLessThan(60_000);
    const scale = await fetch(`${api}/v1/fleets/arena/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"replicas": 5}' });
    expect(scale.status).toBe(503);
    const { error } = (await scale.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('STACK_DRAINING');
    expect(error.message).toContain(`draining since ${state.drainingSince}`);
    const apply = await fetch(`${api}/v1/apply?file=more.yaml`, { method: 'POST', body: simpleFleetYaml('more', 1) });
    expect(apply.status).toBe(503);
    expect(((await (await fetch(`${api}/v1/fleets/arena`)).json()) as { spec: { replicas: number } }).spec.replicas).toBe(3);
    expect((await fetch(`${api}/v1/fleets/more`)).status).toBe(404);
    expect((await servers('?fleet=arena')).map((g) => g.pid)).toEqual(before.map((g) => g.pid));
  });

  it('writes log records that name each field once', async () => {
    const records = lines.map((line) => JSON.parse(line) as { msg: string; pid: number; component?: string; childPid?: number });
    expect(records).toContainEqual(expect.objectContaining({ msg: 'SDK server listening', component: 'sdk-server', pid: process.pid }));
    expect(records).toContainEqual(expect.objectContaining({ msg: 'game-server process started', component: 'local-runtime', pid: process.pid, childPid: expect.any(Number) }));
    expect(lines.filter((line) => repeatedTopLevelKeys(line).length > 0)).toEqual([]);
  });

  it('on stop leaves no game-server process and frees every port', async () => {
    const list = await servers();
    const pids = list.flatMap((g) => (g.pid ? [g.pid] : []));
    const ports = list.flatMap((g) => g.ports.map((p) => p.port));
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await stack.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    for (const port of ports) expect(await probePort(port, 'UDP', '127.0.0.1')).toBe(true);
    expect(await stack.store.list()).toEqual([]);
  });
});

describe('a local stack whose connect-token key file holds no key', () => {
  it('refuses to start, naming the file, before it opens anything', async () => {
    const fixture = stackFixture();
    try {
      const keyFile = path.join(fixture.stateDir, 'secrets', 'hangar', 'encryption-key');
      mkdirSync(path.dirname(keyFile), { recursive: true });
      writeFileSync(keyFile, 'not a key\n');
      const start = startFixtureStack(fixture);
      await expect(start).rejects.toThrow(ConfigError);
      await expect(start).rejects.toMatchObject({ problems: [`the local stack's key in ${path.dirname(path.dirname(keyFile))}/hangar/encryption-key must be 32 bytes, as 64 hex characters or base64 (43 or 44 characters); it has 9 characters`] });
    } finally {
      await fixture.cleanup();
    }
  });
});

describe('a local stack given the standalone allocator\'s mutual TLS settings', () => {
  it('refuses to start, naming them, instead of refusing every allocation over its plain HTTP', async () => {
    const fixture = stackFixture();
    try {
      const secrets = loadSecrets({ ALLOCATOR_TLS_CERT_FILE: '/tls/cert.pem', ALLOCATOR_TLS_KEY_FILE: '/tls/key.pem', ALLOCATOR_TLS_CA_FILE: '/tls/ca.pem' });
      await expect(startFixtureStack(fixture, { secrets })).rejects.toMatchObject({
        problems: ['ALLOCATOR_TLS_CERT_FILE, ALLOCATOR_TLS_KEY_FILE, ALLOCATOR_TLS_CA_FILE: the local stack serves its API over plain HTTP, without mutual TLS (the standalone allocator, node dist/allocator/main.js, serves it); unset them, and use ALLOCATOR_API_KEYS for keys'],
      });
    } finally {
      await fixture.cleanup();
    }
  });
});

describe('a local stack whose records database is still opening when it stops', () => {
  it('stops its game servers at once, then waits for the database', async () => {
    // A PostgreSQL that takes connections and never answers: the stack's database opens only when its connect timeout gives up.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const fixture = stackFixture();
    let stack: LocalStack | undefined;
    try {
      fixture.writeFleet('duel.yaml', simpleFleetYaml('duel', 2));
      const database = { ...fixture.database, host: '127.0.0.1', port: (silent.address() as { port: number }).port, connectTimeoutMs: 20_000 };
      stack = await startFixtureStack(fixture, { database });
      const api = `http://127.0.0.1:${stack.apiPort}`;
      const list = await waitFor('2 Ready servers', async () => {
        const items = ((await (await fetch(`${api}/v1/gameservers?state=Ready`)).json()) as { items: GameServerSummary[] }).items;
        return items.length === 2 ? items : undefined;
      });
      const pids = list.map((g) => g.pid!);
      let stopped = false;
      const stopping = stack.stop().then(() => (stopped = true));
      await waitFor('the game servers gone', async () => pids.every((pid) => !isAlive(pid)), 10_000);
      expect(stopped).toBe(false);
      await stopping;
    } finally {
      await stack?.stop();
      for (const socket of sockets) socket.destroy();
      silent.close();
      await fixture.cleanup();
    }
  }, 60_000);
});
