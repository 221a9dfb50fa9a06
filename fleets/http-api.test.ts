import type { Server } from 'node:http';
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

  /** The API of a stack whose bounds are `bounds`, whatever already runs. */
  async function api(bounds: ServerBounds): Promise<(fleet: string, replicas: number) => Promise<{ status: number; body: Record<string, unknown> }>> {
    const app = express();
    app.use(createFleetApi({ store, runtime, controller, autoscalers, applier, health: new HealthState(), bounds, queues: async () => [] }));
    app.use(notFoundHandler);
    app.use(errorHandler(silentLogger));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server!.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    return async (fleet, replicas) => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/fleets/${fleet}/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
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
});
