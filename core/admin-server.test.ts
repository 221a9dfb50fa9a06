import { afterEach, describe, expect, it } from '@jest/globals';
import { HealthState, startAdminServer, type AdminServer } from './admin-server.js';
import { silentLogger } from './logger.js';
import { createRegistry } from './metrics.js';

describe('admin server', () => {
  let server: AdminServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(adminToken?: string) {
    const health = new HealthState();
    server = await startAdminServer({ host: '127.0.0.1', port: 0, health, registry: createRegistry(), log: silentLogger, adminToken });
    const url = (p: string) => `http://127.0.0.1:${server!.port}${p}`;
    return { health, url };
  }

  it('reports live at once, startup and ready only after start-up', async () => {
    const { health, url } = await start();
    expect((await fetch(url('/health/live'))).status).toBe(200);
    expect((await fetch(url('/health/startup'))).status).toBe(503);
    const notReady = await fetch(url('/health/ready'));
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'starting', checks: {} });
    health.markStarted();
    expect((await fetch(url('/health/startup'))).status).toBe(200);
    expect((await fetch(url('/health/ready'))).status).toBe(200);
  });

  it('is not ready while a readiness check fails, and says which', async () => {
    const { health, url } = await start();
    health.markStarted();
    let dbUp = false;
    health.addReadinessCheck('database', () => dbUp);
    health.addReadinessCheck('throws', () => {
      throw new Error('boom');
    });
    const res = await fetch(url('/health/ready'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', checks: { database: false, throws: false } });
    dbUp = true;
    expect(await (await fetch(url('/health/ready'))).json()).toEqual({ status: 'not ready', checks: { database: true, throws: false } });
  });

  it('reports an advisory check without letting it decide readiness', async () => {
    const { health, url } = await start();
    health.markStarted();
    let viewCurrent = false;
    health.addReadinessCheck('queue', () => true);
    health.addReadinessCheck('gameserver-view', () => viewCurrent, { gates: false });
    const res = await fetch(url('/health/ready'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { queue: true, 'gameserver-view': false }, advisory: ['gameserver-view'] });
    const scrape = async () => (await (await fetch(url('/metrics'))).text()).split('\n').filter((l) => l.startsWith('hangar_readiness_check{'));
    expect(await scrape()).toEqual(['hangar_readiness_check{check="queue"} 1', 'hangar_readiness_check{check="gameserver-view"} 0']);
    viewCurrent = true;
    expect(await (await fetch(url('/health/ready'))).json()).toEqual({ status: 'ready', checks: { queue: true, 'gameserver-view': true }, advisory: ['gameserver-view'] });
  });

  it('exports each readiness check as a gauge, evaluated when scraped', async () => {
    const { health, url } = await start();
    let redisUp = false;
    health.addReadinessCheck('redis', () => redisUp);
    const scrape = async () => (await (await fetch(url('/metrics'))).text()).split('\n').filter((l) => l.startsWith('hangar_readiness_check{'));
    expect(await scrape()).toEqual(['hangar_readiness_check{check="redis"} 0']);
    redisUp = true;
    expect(await scrape()).toEqual(['hangar_readiness_check{check="redis"} 1']);
  });

  it('serves Prometheus metrics', async () => {
    const { url } = await start();
    const res = await fetch(url('/metrics'));
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('drains once: readiness goes 503 and every hook runs before the reply', async () => {
    const { health, url } = await start();
    health.markStarted();
    let hookRuns = 0;
    health.onDrain(async () => {
      await new Promise((r) => setTimeout(r, 20));
      hookRuns++;
    });
    const asked = Date.now();
    const [a, b] = await Promise.all([fetch(url('/admin/drain'), { method: 'POST' }), fetch(url('/admin/drain'), { method: 'POST' })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(hookRuns).toBe(1);
    const ready = await fetch(url('/health/ready'));
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; drainingSince: string };
    expect(body.status).toBe('draining');
    // The first drain's start, which the second did not move.
    expect(Date.parse(body.drainingSince)).toBeGreaterThanOrEqual(asked);
    expect(Date.parse(body.drainingSince)).toBeLessThanOrEqual(Date.now());
  });

  it('answers a drain whose hook closes the server (the process stopping because of it)', async () => {
    // A game server with nobody on it shuts down at once when drained, and its stop closes the admin server.
    const { health, url } = await start();
    const admin = server!;
    health.onDrain(async () => {
      void admin.close();
      await new Promise((r) => setTimeout(r, 50));
    });
    const res = await fetch(url('/admin/drain'), { method: 'POST' });
    expect([res.status, await res.json()]).toEqual([200, { status: 'drained' }]);
    await admin.close();
    await expect(fetch(url('/health/live'))).rejects.toThrow();
    server = undefined;
  });

  it('requires the admin token for drain when one is set', async () => {
    const { url } = await start('t0ken');
    const denied = await fetch(url('/admin/drain'), { method: 'POST' });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'POST /admin/drain needs Authorization: Bearer <ADMIN_TOKEN>' } });
    // Near misses of every length (a compare of unequal lengths must refuse, not throw) and other schemes.
    for (const authorization of ['Bearer wrong', 'Bearer t0ke', 'Bearer t0ken0', 'Bearer ', 'Basic t0ken', 't0ken']) {
      expect((await fetch(url('/admin/drain'), { method: 'POST', headers: { authorization } })).status).toBe(401);
    }
    expect((await fetch(url('/admin/drain'), { method: 'POST', headers: { authorization: 'Bearer t0ken' } })).status).toBe(200);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { url } = await start();
    const res = await fetch(url('/nope'));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /nope' } });
  });

  it('takes probes as express did: a query, a trailing slash, HEAD for GET', async () => {
    const { url } = await start();
    expect((await fetch(url('/health/live?probe=kubelet'))).status).toBe(200);
    expect((await fetch(url('/health/live/'))).status).toBe(200);
    const head = await fetch(url('/health/live'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(url('/health/live'), { method: 'POST' })).status).toBe(404);
  });

  it('answers a route that fails with a JSON 500 and goes on serving', async () => {
    const registry = createRegistry();
    registry.metrics = () => Promise.reject(new Error('collector broke'));
    server = await startAdminServer({ host: '127.0.0.1', port: 0, health: new HealthState(), registry, log: silentLogger });
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect((await fetch(`http://127.0.0.1:${server.port}/health/live`)).status).toBe(200);
  });

  it('with a drain delay, stops being ready at once and runs the drain hooks only after the delay', async () => {
    const health = new HealthState({ drainDelayMs: 200 });
    health.markStarted();
    let closed = false;
    health.onDrain(() => {
      closed = true;
    });
    const started = performance.now();
    const draining = health.drain();
    expect((await health.readiness()).ready).toBe(false);
    expect(closed).toBe(false);
    await draining;
    expect(closed).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });
});
