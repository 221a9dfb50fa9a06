import { request, type Server } from 'node:http';
import { text } from 'node:stream/consumers';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import { HealthState } from '../core/admin-server.js';
import { errorHandler, notFoundHandler } from '../core/http-errors.js';
import { silentLogger } from '../core/logger.js';
import { createAutoscalerMetrics, createControllerMetrics, createRegistry } from '../core/metrics.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { simpleFleetYaml } from '../test/helpers/local-stack-fixture.js';
import { StepRuntime } from '../test/helpers/step-runtime.js';
import { FleetAutoscalerController } from './autoscaler/autoscaler-controller.js';
import { autoscaledFleets, FleetController } from './fleet-controller.js';
import { createFleetApi } from './http-api.js';
import { ResourceApplier } from './resource-applier.js';
import type { ServerBounds } from './runtime/server-bounds.js';

describe('POST /v1/fleets/:name/scale', () => {
  let controller: FleetController;
  let autoscalers: FleetAutoscalerController;
  let applier: ResourceApplier;
  let server: Server | undefined;
  const store = new MemoryGameServerStore();
  const runtime = new StepRuntime(store);

  beforeEach(() => {
    const registry = createRegistry();
    const clock = new FakeClock();
    controller = new FleetController({ store, runtime, clock, log: silentLogger, metrics: createControllerMetrics(registry), namespace: 'default' });
    autoscalers = new FleetAutoscalerController({ fleets: autoscaledFleets(controller), clock, log: silentLogger, metrics: createAutoscalerMetrics(registry) });
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7999 }, maxServers: 100 } });
  });

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await autoscalers.close();
    await controller.close();
  });

  /** How a scale request is sent: from which local address (127.0.0.2 stands for another machine), with which bearer token. */
  interface Caller {
    from?: string;
    token?: string;
  }

  /** The API of a stack whose bounds are `bounds`, whatever already runs. */
  async function api(bounds: ServerBounds, adminToken?: string): Promise<(fleet: string, replicas: number, caller?: Caller) => Promise<{ status: number; body: Record<string, unknown> }>> {
    const app = express();
    app.use(createFleetApi({ store, runtime, controller, autoscalers, applier, health: new HealthState(), bounds, adminToken, queues: async () => [] }));
    app.use(notFoundHandler);
    app.use(errorHandler(silentLogger));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server!.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    return (fleet, replicas, caller = {}) =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string> = { 'content-type': 'application/json', ...(caller.token ? { authorization: `Bearer ${caller.token}` } : {}) };
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/fleets/${fleet}/scale`, localAddress: caller.from, headers }, async (res) => {
          resolve({ status: res.statusCode!, body: JSON.parse(await text(res)) as Record<string, unknown> });
        });
        req.on('error', reject);
        req.end(JSON.stringify({ replicas }));
      });
  }

  it('takes a scale down while the fleets run more servers than local.max_servers, and refuses one up, naming the numbers', async () => {
    await applier.applyText(simpleFleetYaml('a', 6), 'a.yaml');
    await applier.applyText(simpleFleetYaml('b', 2), 'b.yaml');
    // The same fleets under a lower local.max_servers than the 8 servers they run.
    const scale = await api({ portRange: { min: 7000, max: 7999 }, maxServers: 4 });
    expect(await scale('a', 5)).toMatchObject({ status: 200, body: { spec: expect.objectContaining({ replicas: 5 }) } });
    expect(await scale('a', 5)).toMatchObject({ status: 200 });
    expect(await scale('b', 3)).toEqual({
      status: 400,
      body: {
        error: {
          code: 'BAD_REQUEST',
          message:
            "replicas: fleet b: 3 servers beside the 5 other game servers (fleets' and standalone) pass local.max_servers 4, the most game-server processes this stack runs for its machine's memory: at most 0 can run here (raise local.max_servers for more, if the memory is there)",
        },
      },
    });
    expect(controller.liveReplicas('b')).toBe(2);
  });

  it('takes changes to fleets from this machine only while ADMIN_TOKEN is not set: applying a fleet runs its command here', async () => {
    await applier.applyText(simpleFleetYaml('a', 1), 'a.yaml');
    const scale = await api({ portRange: { min: 7000, max: 7999 }, maxServers: 100 });
    expect(await scale('a', 2, { from: '127.0.0.2' })).toEqual({
      status: 403,
      body: { error: { code: 'FORBIDDEN', message: 'POST /v1/fleets/a/scale changes fleets, which only callers on this machine may do while ADMIN_TOKEN is not set' } },
    });
    expect(controller.liveReplicas('a')).toBe(1);
    expect(await scale('a', 2)).toMatchObject({ status: 200 });
  });

  it('with ADMIN_TOKEN set, takes changes to fleets from whoever sends it, and from nobody else', async () => {
    await applier.applyText(simpleFleetYaml('a', 1), 'a.yaml');
    const scale = await api({ portRange: { min: 7000, max: 7999 }, maxServers: 100 }, 'op-secret');
    for (const caller of [{}, { token: 'guess' }, { from: '127.0.0.2', token: 'op-secre' }]) {
      expect(await scale('a', 3, caller)).toEqual({
        status: 401,
        body: { error: { code: 'UNAUTHENTICATED', message: 'POST /v1/fleets/a/scale changes fleets: it needs Authorization: Bearer <ADMIN_TOKEN>' } },
      });
    }
    expect(controller.liveReplicas('a')).toBe(1);
    expect(await scale('a', 3, { from: '127.0.0.2', token: 'op-secret' })).toMatchObject({ status: 200 });
    expect(controller.liveReplicas('a')).toBe(3);
  });
});
