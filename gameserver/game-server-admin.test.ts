import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Cancel } from '../core/clock.js';
import { GameServerState as S, type GameServer } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import { createGameServerMetrics, Registry } from '../core/metrics.js';
import { startLocalSdkServer } from '../fleets/sdk-server/local-sdk-server.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { AgonesAgent } from './agones-agent.js';
import { adminPortOf, DEFAULT_ADMIN_PORT, startGameServerAdmin, type GameServerAdminAgent, type GameServerAdminOptions } from './game-server-admin.js';
import { readMemoryLimit } from './memory-limit.js';
import { freeTcpPort } from '../test/helpers/free-port.js';

// Real HTTP against the admin port; the Agones side is a small fake, except in the last test,
// which drains a real AgonesAgent connected to Hangar's local SDK server.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class FakeAgent implements GameServerAdminAgent {
  state: string = S.Scheduled;
  ports: Record<string, number> = {};
  accepting = true;
  shutdowns = 0;
  private readonly players = new Set<string>();
  private readonly emptyListeners = new Set<() => void>();

  get playerCount(): number {
    return this.players.size;
  }

  port(name: string): number | undefined {
    return this.ports[name];
  }

  stopAcceptingPlayers(): void {
    this.accepting = false;
  }

  onPlayersEmpty(listener: () => void): Cancel {
    this.emptyListeners.add(listener);
    return () => this.emptyListeners.delete(listener);
  }

  async shutdown(): Promise<void> {
    this.shutdowns++;
    this.state = S.Shutdown;
  }

  join(id: string): void {
    this.players.add(id);
  }

  leave(id: string): void {
    this.players.delete(id);
    if (this.players.size === 0) for (const l of [...this.emptyListeners]) l();
  }
}

function cgroupFixture(files: Record<string, string>, ownCgroup = '/', selfCgroup = `0::${ownCgroup}\n`): { cgroupRoot: string; selfCgroupFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-cgroup-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const cgroupRoot = path.join(dir, 'cgroup');
  mkdirSync(cgroupRoot);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(cgroupRoot, file)), { recursive: true });
    writeFileSync(path.join(cgroupRoot, file), text);
  }
  const selfCgroupFile = path.join(dir, 'self-cgroup');
  writeFileSync(selfCgroupFile, selfCgroup);
  return { cgroupRoot, selfCgroupFile };
}

async function start(overrides: Partial<GameServerAdminOptions> = {}) {
  const agent = new FakeAgent();
  const registry = new Registry();
  const metrics = createGameServerMetrics(registry);
  const clock = new FakeClock();
  let listening = false;
  const drains: string[] = [];
  const memory = cgroupFixture({ 'memory.max': '536870912\n' });
  const admin = await startGameServerAdmin({
    agent,
    registry,
    metrics,
    log: silentLogger,
    clock,
    host: '127.0.0.1',
    fallbackPort: 0,
    isListening: () => listening,
    onDrain: () => void drains.push('game'),
    memoryLimitSources: memory,
    ...overrides,
  });
  cleanups.push(() => admin.close());
  const url = (p: string) => `http://127.0.0.1:${admin.port}${p}`;
  const ready = async () => {
    const res = await fetch(url('/health/ready'));
    return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, boolean> } };
  };
  return { agent, admin, clock, registry, memory, drains, url, ready, listen: () => void (listening = true) };
}

describe('game server admin port', () => {
  it('is the GameServer port named metrics (or metrics-tcp), else ADMIN_PORT, else 9090', () => {
    const agent = new FakeAgent();
    expect(adminPortOf(agent)).toBe(DEFAULT_ADMIN_PORT);
    expect(DEFAULT_ADMIN_PORT).toBe(9090);
    expect(adminPortOf(agent, 9100)).toBe(9100);
    agent.ports = { default: 7001, 'metrics-tcp': 7003 };
    expect(adminPortOf(agent, 9100)).toBe(7003);
    agent.ports = { default: 7001, metrics: 7002, 'metrics-tcp': 7003 };
    expect(adminPortOf(agent, 9100)).toBe(7002);
  });

  it('binds the metrics port from the GameServer status', async () => {
    const port = await freeTcpPort();
    const agent = new FakeAgent();
    agent.ports = { metrics: port };
    const admin = await startGameServerAdmin({
      agent,
      registry: new Registry(),
      metrics: createGameServerMetrics(new Registry()),
      log: silentLogger,
      clock: new FakeClock(),
      host: '127.0.0.1',
      isListening: () => true,
    });
    cleanups.push(() => admin.close());
    expect(admin.port).toBe(port);
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });

  it('says which port it could not bind', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as { port: number }).port;
    // Without a metrics port (the fixed fallback, shared by every server on the host), it says how to give each its own.
    await expect(start({ fallbackPort: port })).rejects.toMatchObject({
      code: 'LISTEN_FAILED',
      message: `cannot listen on 127.0.0.1:${port} for the game server's admin port (ADMIN_PORT, as the GameServer has no port named metrics or metrics-tcp: give its fleet one, protocol TCP, portPolicy Passthrough, so each server has its own): another program is using it`,
    });
    const withMetricsPort = new FakeAgent();
    withMetricsPort.ports = { 'metrics-tcp': port };
    await expect(start({ agent: withMetricsPort })).rejects.toMatchObject({
      code: 'LISTEN_FAILED',
      message: `cannot listen on 127.0.0.1:${port} for the game server's admin port (its GameServer port named metrics-tcp): another program is using it`,
    });
  });

  it('is live at once, started when told, ready only while listening and Ready/Allocated/Reserved', async () => {
    const { agent, admin, url, ready, listen } = await start();
    expect((await fetch(url('/health/live'))).status).toBe(200);
    expect((await fetch(url('/health/startup'))).status).toBe(503);
    admin.markStarted();
    expect((await fetch(url('/health/startup'))).status).toBe(200);
    expect(await ready()).toEqual({ status: 503, body: { status: 'not ready', checks: { listening: false, sdk: false } } });
    listen();
    agent.state = S.RequestReady;
    expect((await ready()).status).toBe(503);
    for (const state of [S.Ready, S.Allocated, S.Reserved]) {
      agent.state = state;
      expect(await ready()).toEqual({ status: 200, body: { status: 'ready', checks: { listening: true, sdk: true } } });
    }
    agent.state = S.Unhealthy;
    expect((await ready()).status).toBe(503);
  });

  it('drains with nobody connected: refuses players, runs the game hook, shuts down through the SDK, not ready', async () => {
    const { agent, admin, url, ready, listen, drains } = await start();
    admin.markStarted();
    listen();
    agent.state = S.Ready;
    const res = await fetch(url('/admin/drain'), { method: 'POST' });
    expect(res.status).toBe(200);
    expect(agent.accepting).toBe(false);
    expect(drains).toEqual(['game']);
    expect(agent.shutdowns).toBe(1);
    expect((await ready()).body.status).toBe('draining');
    await fetch(url('/admin/drain'), { method: 'POST' });
    expect(agent.shutdowns).toBe(1);
  });

  it('drains with players connected: shuts down only when the last one leaves', async () => {
    const { agent, admin, url, listen } = await start();
    admin.markStarted();
    listen();
    agent.state = S.Allocated;
    agent.join('p1');
    agent.join('p2');
    expect((await fetch(url('/admin/drain'), { method: 'POST' })).status).toBe(200);
    expect(agent.accepting).toBe(false);
    agent.leave('p1');
    expect(agent.shutdowns).toBe(0);
    agent.leave('p2');
    await new Promise((r) => setImmediate(r));
    expect(agent.shutdowns).toBe(1);
  });

  it('retires without a drain: not ready on its own check, refuses players, shuts down after the last one, once', async () => {
    let networkWhole = true;
    const { agent, admin, url, ready, listen } = await start({ isNetworkWhole: () => networkWhole });
    admin.markStarted();
    listen();
    agent.state = S.Allocated;
    agent.join('p1');
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready', checks: { listening: true, sdk: true, network: true } } });
    expect(admin.retiring).toBe(false);
    networkWhole = false;
    await admin.retire('a network worker failed');
    expect(admin.retiring).toBe(true);
    expect(agent.accepting).toBe(false);
    expect(await ready()).toEqual({ status: 503, body: { status: 'not ready', checks: { listening: true, sdk: true, network: false } } });
    // A drain on top changes nothing: the server is on its way out already.
    expect((await fetch(url('/admin/drain'), { method: 'POST' })).status).toBe(200);
    expect(agent.shutdowns).toBe(0);
    agent.leave('p1');
    await new Promise((r) => setImmediate(r));
    expect(agent.shutdowns).toBe(1);
  });

  it('retires with nobody connected by shutting down at once; a drain counts as retiring', async () => {
    const idle = await start();
    await idle.admin.retire('a network worker failed');
    expect(idle.agent.shutdowns).toBe(1);
    const drained = await start();
    await fetch(drained.url('/admin/drain'), { method: 'POST' });
    expect(drained.admin.retiring).toBe(true);
  });

  it('requires the admin token for drain when one is set', async () => {
    const { agent, url } = await start({ adminToken: 's3cret' });
    expect((await fetch(url('/admin/drain'), { method: 'POST' })).status).toBe(401);
    expect(agent.shutdowns).toBe(0);
    expect((await fetch(url('/admin/drain'), { method: 'POST', headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect(agent.shutdowns).toBe(1);
  });

  it('serves the memory gauges and keeps them current', async () => {
    const { url, clock, memory } = await start({ memoryRefreshMs: 1000 });
    const scrape = async () => await (await fetch(url('/metrics'))).text();
    const text = await scrape();
    expect(text).toMatch(/^game_server_memory_limit_bytes 536870912$/m);
    const rss = Number(/^game_server_memory_usage_bytes (\d+)$/m.exec(text)?.[1]);
    expect(rss).toBeGreaterThan(1_000_000);
    writeFileSync(path.join(memory.cgroupRoot, 'memory.max'), '268435456\n'); // resized in place
    clock.advance(1000);
    expect(await scrape()).toMatch(/^game_server_memory_limit_bytes 268435456$/m);
  });

  it('drains a real AgonesAgent: the GameServer goes to Shutdown through the SDK', async () => {
    const store = new MemoryGameServerStore();
    cleanups.push(() => store.close());
    const metricsPort = await freeTcpPort();
    const base = testGameServer('gs-admin');
    const record: GameServer = { ...base, status: { ...base.status, state: S.Ready, address: '127.0.0.1', ports: [{ name: 'metrics', port: metricsPort }] } };
    await store.create(record);
    const sdkServer = await startLocalSdkServer({ gameServerName: 'gs-admin', store, clock: new FakeClock(), log: silentLogger, onHealthFailure: () => undefined });
    cleanups.push(() => sdkServer.close());
    process.env.AGONES_SDK_GRPC_PORT = String(sdkServer.port);
    const agent = await AgonesAgent.connect({ log: silentLogger, clock: new FakeClock() });
    cleanups.push(() => agent.close());
    const registry = new Registry();
    const admin = await startGameServerAdmin({
      agent,
      registry,
      metrics: createGameServerMetrics(registry),
      log: silentLogger,
      clock: new FakeClock(),
      host: '127.0.0.1',
      isListening: () => true,
    });
    cleanups.push(() => admin.close());
    expect(admin.port).toBe(metricsPort);
    admin.markStarted();
    expect((await fetch(`http://127.0.0.1:${metricsPort}/health/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/admin/drain`, { method: 'POST' })).status).toBe(200);
    expect((await store.get('gs-admin'))!.status.state).toBe(S.Shutdown);
    expect(agent.mayAcceptPlayer()).toBe(false);
  });
});

describe('readMemoryLimit', () => {
  it('reads the cgroup v2 memory.max of the own cgroup', () => {
    expect(readMemoryLimit({ ...cgroupFixture({ 'memory.max': '1073741824\n' }), machineBytes: 8 * 2 ** 30 })).toEqual({ bytes: 2 ** 30, source: 'cgroup' });
  });

  it('takes the smallest limit of the cgroup and its ancestors', () => {
    const fixture = cgroupFixture({ 'kubepods/memory.max': '2147483648', 'kubepods/pod1/memory.max': 'max', 'kubepods/pod1/game/memory.max': '3221225472' }, '/kubepods/pod1/game');
    expect(readMemoryLimit({ ...fixture, machineBytes: 8 * 2 ** 30 })).toEqual({ bytes: 2 * 2 ** 30, source: 'cgroup' });
  });

  it('reads cgroup v1 memory.limit_in_bytes where the node still runs v1', () => {
    const self = '9:name=systemd:/\n4:memory:/kubepods/pod1\n0::/\n';
    const limited = cgroupFixture({ 'memory/kubepods/pod1/memory.limit_in_bytes': '536870912\n' }, '/', self);
    expect(readMemoryLimit({ ...limited, machineBytes: 8 * 2 ** 30 })).toEqual({ bytes: 2 ** 29, source: 'cgroup' });
    const unlimited = cgroupFixture({ 'memory/kubepods/pod1/memory.limit_in_bytes': '9223372036854771712\n' }, '/', self);
    expect(readMemoryLimit({ ...unlimited, machineBytes: 4096 })).toEqual({ bytes: 4096, source: 'machine' });
  });

  it('falls back to the machine memory when there is no limit ("max") or no cgroup at all', () => {
    expect(readMemoryLimit({ ...cgroupFixture({ 'memory.max': 'max\n' }), machineBytes: 4096 })).toEqual({ bytes: 4096, source: 'machine' });
    expect(readMemoryLimit({ ...cgroupFixture({}), machineBytes: 4096 })).toEqual({ bytes: 4096, source: 'machine' });
    expect(readMemoryLimit({ cgroupRoot: '/nonexistent', selfCgroupFile: '/nonexistent', machineBytes: 4096 })).toEqual({ bytes: 4096, source: 'machine' });
  });
});
