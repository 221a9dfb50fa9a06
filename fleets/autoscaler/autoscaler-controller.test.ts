import { afterEach, describe, expect, it } from '@jest/globals';
import { pino, type Logger } from 'pino';
import { ErrorCode } from '../../core/errors.js';
import type { GameServer } from '../../core/game-server.js';
import { createAutoscalerMetrics, Registry } from '../../core/metrics.js';
import { AUTOSCALING_API_VERSION, type AutoscalerPolicy, type FleetAutoscalerResource, type FleetStatus } from '../../core/resources.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { testGameServer, testSpec } from '../../test/helpers/game-servers.js';
import { FleetAutoscalerController, type AutoscaledFleet, type AutoscaledFleets, type FleetAutoscalerControllerOptions } from './autoscaler-controller.js';
import { addLoads, boundsCeiling, loadOf, type ServerBounds, type ServerLoad } from '../runtime/server-bounds.js';
import { fleetViewFixture } from './fleet-view-fixture.js';
import { answer, selfSignedPair, webhookServerFixture, type WebhookHandler, type WebhookServerFixture } from './webhook-server-fixture.js';

/** Fleets in memory, as the fleet controller would show them: scale() sets spec.replicas and tells watchers. */
class MemoryAutoscaledFleets implements AutoscaledFleets {
  private readonly fleets = new Map<string, AutoscaledFleet>();
  private readonly orders = new Map<string, GameServer[]>();
  private readonly listeners = new Set<(fleet: string) => void>();
  private readonly viewCounts = new Map<string, number>();
  private gate: Promise<void> | undefined;
  readonly scaled: Array<{ fleet: string; replicas: number }> = [];
  inFlight = 0;
  maxInFlight = 0;
  scaleError: Error | undefined;

  put(fleet: AutoscaledFleet, notify = true): void {
    this.fleets.set(fleet.name, fleet);
    if (notify) this.notify(fleet.name);
  }

  /** Changes the fleet's status (game servers came, went, got allocated). */
  setStatus(name: string, status: Partial<FleetStatus>, notify = true): void {
    const fleet = this.get(name);
    this.put({ ...fleet, status: { ...fleet.status, ...status } }, notify);
  }

  setScaleDownOrder(name: string, servers: GameServer[]): void {
    this.orders.set(name, servers);
  }

  /** What the servers of every fleet but `name` take of the bounds. */
  loadBesides(name: string): ServerLoad {
    return addLoads(...[...this.fleets.values()].filter((f) => f.name !== name).map((f) => loadOf(f.spec.replicas, f.spec.template.spec.ports)));
  }

  get(name: string): AutoscaledFleet {
    const fleet = this.fleets.get(name);
    if (!fleet) throw new Error(`no fleet ${name}`);
    return fleet;
  }

  views(name: string): number {
    return this.viewCounts.get(name) ?? 0;
  }

  /** Holds every view() until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  notify(name: string): void {
    for (const l of this.listeners) l(name);
  }

  async view(name: string): Promise<AutoscaledFleet | undefined> {
    this.viewCounts.set(name, this.views(name) + 1);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      const fleet = this.fleets.get(name);
      return fleet && structuredClone(fleet);
    } finally {
      this.inFlight--;
    }
  }

  async scaleDownOrder(name: string): Promise<readonly GameServer[]> {
    return this.orders.get(name) ?? [];
  }

  async scale(name: string, replicas: number): Promise<void> {
    if (this.scaleError) throw this.scaleError;
    this.scaled.push({ fleet: name, replicas });
    const fleet = this.get(name);
    this.put({ ...fleet, spec: { ...fleet.spec, replicas } });
  }

  watch(listener: (fleet: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function autoscaler(name: string, fleetName: string, policy: AutoscalerPolicy, seconds = 30): FleetAutoscalerResource {
  return { apiVersion: AUTOSCALING_API_VERSION, kind: 'FleetAutoscaler', metadata: { name, labels: {}, annotations: {} }, spec: { fleetName, policy, sync: { type: 'FixedInterval', fixedInterval: { seconds } } } };
}

const bufferOf = (bufferSize: number | `${number}%`, minReplicas: number, maxReplicas: number): AutoscalerPolicy => ({ type: 'Buffer', buffer: { bufferSize, minReplicas, maxReplicas } });

interface Harness {
  clock: FakeClock;
  fleets: MemoryAutoscaledFleets;
  registry: Registry;
  controller: FleetAutoscalerController;
  logs: Array<Record<string, unknown>>;
}

let harnesses: Harness[] = [];
let servers: WebhookServerFixture[] = [];

function harness(options: { withScaleDownOrder?: boolean; fleets?: AutoscaledFleet[]; bounds?: ServerBounds; boundedChange?: FleetAutoscalerControllerOptions['boundedChange'] } = {}): Harness {
  const clock = new FakeClock();
  const fleets = new MemoryAutoscaledFleets();
  for (const f of options.fleets ?? [arena()]) fleets.put(f, false);
  const registry = new Registry();
  const logs: Array<Record<string, unknown>> = [];
  const log: Logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  // A fleet source without scaleDownOrder, as one that cannot list game servers would be.
  const source: AutoscaledFleets =
    options.withScaleDownOrder === false ? { view: (n) => fleets.view(n), scale: (n, r) => fleets.scale(n, r), watch: (l) => fleets.watch(l) } : fleets;
  const { bounds } = options;
  const controller = new FleetAutoscalerController({
    fleets: source,
    clock,
    log,
    metrics: createAutoscalerMetrics(registry),
    ...(bounds && { replicaCeiling: async (name, fleet, replicas) => boundsCeiling(replicas, fleet.spec.template.spec.ports, bounds, fleets.loadBesides(name), fleet.spec.replicas) }),
    boundedChange: options.boundedChange,
  });
  const h = { clock, fleets, registry, controller, logs };
  harnesses.push(h);
  return h;
}

function arena(status: Partial<FleetStatus> = {}, specReplicas = status.replicas ?? 3): AutoscaledFleet {
  return fleetViewFixture({ name: 'arena', specReplicas, status: { replicas: 3, readyReplicas: 3, ...status } });
}

async function serve(handler: WebhookHandler, tls?: Parameters<typeof webhookServerFixture>[1]): Promise<WebhookServerFixture> {
  const server = await webhookServerFixture(handler, tls);
  servers.push(server);
  return server;
}

/** Every series of the autoscaler metrics, as `metric{label=value,...}` → value. */
async function series(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const labels = Object.entries(v.labels)
        .map(([k, x]) => `${k}=${x}`)
        .join(',');
      out[`${metric.name}{${labels}}`] = v.value;
    }
  }
  return out;
}

afterEach(async () => {
  await Promise.all(harnesses.map((h) => h.controller.close()));
  await Promise.all(servers.map((s) => s.close()));
  harnesses = [];
  servers = [];
});

describe('FleetAutoscalerController', () => {
  it('syncs as soon as an autoscaler is applied, scales the fleet and reports it as Agones does', async () => {
    const { controller, fleets, clock, registry, logs } = harness({ fleets: [arena({ replicas: 3, readyReplicas: 0, allocatedReplicas: 3 })] });
    controller.apply(autoscaler('arena-autoscaler', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();

    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 5 }]);
    expect(controller.status('arena-autoscaler')).toEqual({
      currentReplicas: 3,
      desiredReplicas: 5,
      lastScaleTime: new Date(clock.now()).toISOString(),
      ableToScale: true,
      scalingLimited: false,
      lastAppliedPolicy: 'Buffer',
    });
    expect(controller.list()).toEqual([expect.objectContaining({ problem: null, status: controller.status('arena-autoscaler') })]);
    expect(logs).toContainEqual(expect.objectContaining({ component: 'autoscaler', fleet: 'arena', from: 3, to: 5, limited: false, policy: 'Buffer', msg: 'scaling fleet' }));
    expect(await series(registry)).toEqual({
      'agones_fleet_autoscalers_able_to_scale{name=arena-autoscaler,fleet_name=arena}': 1,
      'agones_fleet_autoscalers_buffer_limits{name=arena-autoscaler,fleet_name=arena,type=max}': 10,
      'agones_fleet_autoscalers_buffer_limits{name=arena-autoscaler,fleet_name=arena,type=min}': 0,
      'agones_fleet_autoscalers_buffer_size{name=arena-autoscaler,fleet_name=arena,type=count}': 2,
      'agones_fleet_autoscalers_current_replicas_count{name=arena-autoscaler,fleet_name=arena}': 3,
      'agones_fleet_autoscalers_desired_replicas_count{name=arena-autoscaler,fleet_name=arena}': 5,
      'agones_fleet_autoscalers_limited{name=arena-autoscaler,fleet_name=arena}': 0,
    });
  });

  it('reports a percentage buffer as buffer_size{type=percentage}', async () => {
    const { controller, registry } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf('20%', 1, 10)));
    await controller.idle();
    expect(await series(registry)).toMatchObject({ 'agones_fleet_autoscalers_buffer_size{name=a,fleet_name=arena,type=percentage}': 20 });
  });

  it('syncs again on its fixed interval, on time', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10), 30));
    await controller.idle();
    const synced = fleets.views('arena');
    // A change nobody is told about: only the interval finds it.
    fleets.setStatus('arena', { allocatedReplicas: 4 }, false);

    clock.advance(29_999);
    await controller.idle();
    expect(fleets.views('arena')).toBe(synced);
    expect(fleets.get('arena').spec.replicas).toBe(2);

    clock.advance(1);
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(6);
    // The interval's sync, then one more for the fleet change its own scale made.
    expect(fleets.views('arena')).toBe(synced + 2);

    clock.advance(30_000);
    await controller.idle();
    expect(fleets.views('arena')).toBe(synced + 3);
  });

  it('syncs right after its fleet changes, without waiting for the interval', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10), 600));
    await controller.idle();
    clock.advance(1000);
    await controller.idle();
    fleets.setStatus('arena', { readyReplicas: 0, allocatedReplicas: 3 });
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(5);
    expect(controller.status('a')).toMatchObject({ currentReplicas: 3, desiredReplicas: 5 });
  });

  it('batches a change that comes within 100 ms of a change-triggered sync into one sync at the end', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10), 600));
    await controller.idle();
    clock.advance(1000);
    await controller.idle();
    fleets.setStatus('arena', { allocatedReplicas: 1 });
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(3);
    fleets.setStatus('arena', { allocatedReplicas: 2 });
    fleets.setStatus('arena', { allocatedReplicas: 3 });
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(3);
    clock.advance(99);
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(3);
    clock.advance(1);
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(5);
  });

  it('settle(fleet) syncs a change held for the batch at once, resolves after it, and keeps the batch for later changes', async () => {
    const { controller, fleets, clock } = harness({ fleets: [arena(), fleetViewFixture({ name: 'other', specReplicas: 1, status: { replicas: 1, readyReplicas: 1 } })] });
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10), 600));
    await controller.idle();
    clock.advance(1000);
    await controller.idle();
    await controller.settle('other'); // no autoscaler: at once
    fleets.setStatus('arena', { allocatedReplicas: 1 });
    await controller.idle();
    fleets.setStatus('arena', { allocatedReplicas: 0 }); // held for the batch that sync opened
    expect(fleets.get('arena').spec.replicas).toBe(3);
    const timers = clock.pendingTimers;
    await controller.settle('arena');
    expect(fleets.get('arena').spec.replicas).toBe(2);
    expect(clock.pendingTimers).toBe(timers); // its own time limit is cancelled
    const views = fleets.views('arena');
    fleets.setStatus('arena', { allocatedReplicas: 2 });
    await controller.idle();
    expect(fleets.views('arena')).toBe(views); // still batched
    clock.advance(100);
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(4);
  });

  it('settle(fleet) stops waiting for a sync that takes longer than 1 s', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10), 600));
    await controller.idle();
    const release = fleets.hold();
    fleets.notify('arena');
    let settled = false;
    const settling = controller.settle('arena').then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    clock.advance(999);
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    await settling;
    release();
    await controller.idle();
  });

  it('coalesces a burst of 100 allocations into a handful of syncs, and ends where the last one says', async () => {
    const { controller, fleets, clock } = harness({ fleets: [arena({ replicas: 102, readyReplicas: 102 }, 102)] });
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 200)));
    await controller.idle();
    clock.advance(1000);
    await controller.idle();
    const before = fleets.views('arena');

    // 100 allocations over 100 ms, with the controller free to run between them.
    for (let i = 1; i <= 100; i++) {
      fleets.setStatus('arena', { readyReplicas: 102 - i, allocatedReplicas: i });
      if (i % 10 === 0) {
        clock.advance(10);
        await controller.idle();
      }
    }
    for (let i = 0; i < 5; i++) {
      clock.advance(100);
      await controller.idle();
    }

    const syncs = fleets.views('arena') - before;
    expect(syncs).toBeGreaterThanOrEqual(2);
    expect(syncs).toBeLessThanOrEqual(4);
    expect(fleets.get('arena').spec.replicas).toBe(102);
  });

  it('never runs two syncs of one autoscaler at once', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10), 1));
    await controller.idle();
    const release = fleets.hold();
    for (let i = 0; i < 20; i++) {
      fleets.notify('arena');
      clock.advance(1000);
    }
    release();
    await controller.idle();
    expect(fleets.maxInFlight).toBe(1);
  });

  it('reports scalingLimited when a bound held the fleet back', async () => {
    const { controller, fleets, registry } = harness({ fleets: [arena({ replicas: 4, readyReplicas: 0, allocatedReplicas: 4 })] });
    controller.apply(autoscaler('a', 'arena', bufferOf(5, 0, 6)));
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(6);
    expect(controller.status('a')).toMatchObject({ desiredReplicas: 6, scalingLimited: true, ableToScale: true });
    expect(await series(registry)).toMatchObject({ 'agones_fleet_autoscalers_limited{name=a,fleet_name=arena}': 1 });
  });

  it('holds a percent buffer with a huge maxReplicas at what the port range holds', async () => {
    const { controller, fleets } = harness({ fleets: [arena({ replicas: 90, readyReplicas: 0, allocatedReplicas: 90 })], bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 1000 } });
    controller.apply(autoscaler('a', 'arena', bufferOf('90%', 1, 1_000_000)));
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 100 }]);
    expect(controller.status('a')).toMatchObject({ scalingLimited: true, desiredReplicas: 100 });
    expect(controller.list()[0]!.problem?.message).toMatch(/^Buffer asks for 900 replicas; .* at most 100 can run here \(widen local.port_range for more\), so the fleet is held at 100$/);
  });

  it("holds the fleet at what local.max_servers leaves beside the other fleets' servers when the port range holds more, and says so", async () => {
    const duel = fleetViewFixture({ name: 'duel', specReplicas: 12, status: { replicas: 12, readyReplicas: 12 } });
    const { controller, fleets, logs } = harness({ fleets: [arena(), duel], bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 30 } });
    controller.apply(autoscaler('a', 'arena', bufferOf(50, 0, 1000)));
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 18 }]);
    expect(controller.status('a')).toMatchObject({ scalingLimited: true, desiredReplicas: 18 });
    expect(controller.list()[0]!.problem).toEqual({
      code: ErrorCode.MAX_SERVERS_REACHED,
      message:
        "Buffer asks for 50 replicas; 50 servers beside the 12 other game servers (fleets' and standalone) pass local.max_servers 30, the most game-server processes this stack runs for its machine's memory: at most 18 can run here (raise local.max_servers for more, if the memory is there), so the fleet is held at 18",
    });
    expect(logs.filter((l) => l.level === 40).map((l) => [l.asked, l.held])).toEqual([[50, 18]]);
  });

  it('checks its ceiling and scales as one bounded change, after the one under way, so together they stay within local.max_servers', async () => {
    // What FleetController.boundedChange does: each change starts once the one before it ends.
    let tail: Promise<unknown> = Promise.resolve();
    const boundedChange = <T>(change: () => Promise<T>): Promise<T> => {
      const run = tail.then(change);
      tail = run.catch(() => undefined);
      return run;
    };
    const duel = fleetViewFixture({ name: 'duel', specReplicas: 12, status: { replicas: 12, readyReplicas: 12 } });
    const { controller, fleets } = harness({ fleets: [arena(), duel], bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 30 }, boundedChange });
    // A scale of duel under way, checked already: it adds 6 servers once it ends.
    let release!: () => void;
    const underWay = boundedChange(() => new Promise<void>((resolve) => (release = resolve)).then(() => fleets.scale('duel', 18)));
    controller.apply(autoscaler('a', 'arena', bufferOf(50, 0, 1000)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fleets.scaled).toEqual([]);
    release();
    await underWay;
    await controller.idle();
    expect(fleets.scaled).toEqual([
      { fleet: 'duel', replicas: 18 },
      { fleet: 'arena', replicas: 12 },
    ]);
  });

  it("syncs when another fleet shrinks while it is held at local.max_servers, instead of holding its fleet back until its next interval", async () => {
    const duel = fleetViewFixture({ name: 'duel', specReplicas: 12, status: { replicas: 12, readyReplicas: 12 } });
    const { controller, fleets, clock } = harness({ fleets: [arena(), duel], bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 30 } });
    controller.apply(autoscaler('a', 'arena', bufferOf(20, 0, 1000)));
    await controller.idle();
    expect(controller.list()[0]!.problem?.code).toBe(ErrorCode.MAX_SERVERS_REACHED);
    // Its own scale's change batch has ended; its interval (30 s) is far off.
    clock.advance(100);
    await controller.idle();
    await fleets.scale('duel', 2);
    await controller.idle();
    expect(fleets.scaled).toEqual([
      { fleet: 'arena', replicas: 18 },
      { fleet: 'duel', replicas: 2 },
      { fleet: 'arena', replicas: 20 },
    ]);
    expect(controller.list()[0]!.problem).toBeNull();
  });

  it('scales down a stack past local.max_servers as its policy asks, and holds a fleet that would grow there where it is', async () => {
    const duel = fleetViewFixture({ name: 'duel', specReplicas: 12, status: { replicas: 12, readyReplicas: 12 } });
    const shrinking = harness({ fleets: [arena({ replicas: 10, readyReplicas: 10, allocatedReplicas: 0 }), duel], bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 15 } });
    shrinking.controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 1000)));
    await shrinking.controller.idle();
    expect(shrinking.fleets.scaled).toEqual([{ fleet: 'arena', replicas: 2 }]);
    expect(shrinking.controller.list()[0]!.problem).toBeNull();

    const growing = harness({ fleets: [arena({ replicas: 10, readyReplicas: 0, allocatedReplicas: 10 }), duel], bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 15 } });
    growing.controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 1000)));
    await growing.controller.idle();
    expect(growing.fleets.scaled).toEqual([]);
    expect(growing.controller.list()[0]!.problem?.message).toMatch(/^Buffer asks for 12 replicas; 12 servers beside the 12 other game servers .* at most 3 can run here .*, so the fleet is held at 10$/);
  });

  it('sets lastScaleTime only when the replicas change', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    const scaledAt = controller.status('a')!.lastScaleTime;
    expect(scaledAt).toBe(new Date(clock.now()).toISOString());

    clock.advance(30_000);
    await controller.idle();
    expect(controller.status('a')!.lastScaleTime).toBe(scaledAt);

    fleets.setStatus('arena', { allocatedReplicas: 1 });
    await controller.idle();
    expect(controller.status('a')!.lastScaleTime).toBe(new Date(clock.now()).toISOString());
    expect(controller.status('a')!.lastScaleTime).not.toBe(scaledAt);
  });

  it('reports ableToScale false while the fleet is missing, without retrying, and recovers when it appears', async () => {
    const { controller, fleets, clock, registry, logs } = harness({ fleets: [] });
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    expect(controller.status('a')).toEqual({ currentReplicas: 0, desiredReplicas: 0, lastScaleTime: null, ableToScale: false, scalingLimited: false, lastAppliedPolicy: '' });
    expect(controller.list()[0]!.problem).toEqual({ code: ErrorCode.FLEET_NOT_FOUND, message: 'fleet arena not found' });
    expect(await series(registry)).toMatchObject({ 'agones_fleet_autoscalers_able_to_scale{name=a,fleet_name=arena}': 0 });
    expect(logs.filter((l) => l.msg === 'cannot scale fleet')).toHaveLength(1);

    clock.advance(10_000);
    await controller.idle();
    expect(fleets.views('arena')).toBe(1);
    clock.advance(20_000);
    await controller.idle();
    expect(fleets.views('arena')).toBe(2);
    expect(logs.filter((l) => l.msg === 'cannot scale fleet')).toHaveLength(1);

    fleets.put(arena());
    await controller.idle();
    expect(controller.status('a')).toMatchObject({ ableToScale: true, desiredReplicas: 2 });
    expect(controller.list()[0]!.problem).toBeNull();
  });

  it('leaves a fleet that is being deleted alone', async () => {
    const deleting = { ...arena(), metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } };
    const { controller, fleets } = harness({ fleets: [deleting] });
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    expect(fleets.scaled).toEqual([]);
    expect(controller.status('a')).toMatchObject({ ableToScale: false, desiredReplicas: 0, lastAppliedPolicy: '' });
  });

  it('stops syncing a removed autoscaler and drops its metric series', async () => {
    const { controller, fleets, clock, registry } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    controller.apply(autoscaler('other', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    controller.remove('a');
    const synced = fleets.views('arena');

    fleets.setStatus('arena', { allocatedReplicas: 5 });
    clock.advance(60_000);
    await controller.idle();
    // Only "other" synced: once for the change, once for each interval (and its own scale).
    expect(controller.status('a')).toBeUndefined();
    expect(controller.list().map((e) => e.resource.metadata.name)).toEqual(['other']);
    expect(Object.keys(await series(registry)).filter((k) => k.includes('name=a,'))).toEqual([]);
    expect(Object.keys(await series(registry)).filter((k) => k.includes('name=other,'))).toHaveLength(7);
    expect(fleets.views('arena') - synced).toBeLessThanOrEqual(4);
  });

  it('replacing an autoscaler keeps its status and moves its metrics to the new fleet', async () => {
    const { controller, registry } = harness({ fleets: [arena(), fleetViewFixture({ name: 'lobby', specReplicas: 1, status: { replicas: 1, readyReplicas: 1 } })] });
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    const scaledAt = controller.status('a')!.lastScaleTime;
    controller.apply(autoscaler('a', 'lobby', { type: 'Webhook', webhook: { service: { name: 'hook', namespace: 'default' } } }));
    // The new spec's first sync has not run yet: the old status stands.
    expect(controller.status('a')).toMatchObject({ ableToScale: true, lastScaleTime: scaledAt });
    await controller.idle();
    const names = Object.keys(await series(registry));
    expect(names.filter((k) => k.includes('fleet_name=arena'))).toEqual([]);
    expect(names.filter((k) => k.includes('fleet_name=lobby'))).toHaveLength(4);
    expect(controller.status('a')).toMatchObject({ ableToScale: false, lastScaleTime: scaledAt });
    expect(controller.list()[0]!.problem).toMatchObject({ code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED, message: expect.stringContaining('cannot be reached locally') });
  });

  it('leaves the fleet and the status alone while a Schedule is inactive', async () => {
    const { controller, fleets, clock } = harness();
    const start = new Date(clock.now() + 60_000).toISOString();
    controller.apply(autoscaler('a', 'arena', { type: 'Schedule', schedule: { between: { start }, policy: bufferOf(6, 0, 10) } }));
    await controller.idle();
    expect(fleets.scaled).toEqual([]);
    expect(controller.status('a')).toMatchObject({ ableToScale: false, lastAppliedPolicy: '' });
    clock.advance(60_000);
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 6 }]);
    expect(controller.status('a')).toMatchObject({ ableToScale: true, desiredReplicas: 6, lastAppliedPolicy: 'Schedule' });
  });

  it("reports a Chain's deciding entry id as lastAppliedPolicy", async () => {
    const { controller, clock } = harness();
    const later = new Date(clock.now() + 3_600_000).toISOString();
    const chain: AutoscalerPolicy = {
      type: 'Chain',
      chain: [
        { id: 'evening', type: 'Schedule', schedule: { between: { start: later }, policy: bufferOf(8, 0, 10) } },
        { id: 'default', ...bufferOf(2, 0, 10) },
      ],
    };
    controller.apply(autoscaler('a', 'arena', chain));
    await controller.idle();
    expect(controller.status('a')).toMatchObject({ desiredReplicas: 2, lastAppliedPolicy: 'default' });
    clock.advance(3_600_000);
    await controller.idle();
    expect(controller.status('a')).toMatchObject({ desiredReplicas: 8, lastAppliedPolicy: 'evening' });
  });

  it('sizes a Counter fleet with the game servers in scale-down order', async () => {
    const rooms = { rooms: { count: 0, capacity: 10 } };
    const fleet = fleetViewFixture({ name: 'arena', specReplicas: 4, status: { replicas: 4, readyReplicas: 4 }, templateCounters: rooms, counters: { rooms: { count: 5, capacity: 40 } } });
    const { controller, fleets } = harness({ fleets: [fleet] });
    const server = (name: string, count: number) => {
      const gs = testGameServer(name, { fleet: 'arena', spec: testSpec({ counters: rooms }) });
      return { ...gs, status: { ...gs.status, counters: { rooms: { count, capacity: 10 } } } };
    };
    fleets.setScaleDownOrder('arena', [server('a', 0), server('b', 0), server('c', 0), server('d', 5)]);
    controller.apply(autoscaler('a', 'arena', { type: 'Counter', counter: { key: 'rooms', bufferSize: 10, minCapacity: 0, maxCapacity: 100 } }));
    await controller.idle();
    // Removing a, b and c would leave 5 free rooms; removing a and b leaves exactly 10.
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 2 }]);
    expect(controller.status('a')).toMatchObject({ lastAppliedPolicy: 'Counter', ableToScale: true });
  });

  it('says so when a Counter policy meets a fleet source that cannot list game servers', async () => {
    const { controller } = harness({ withScaleDownOrder: false, fleets: [fleetViewFixture({ name: 'arena', templateCounters: { rooms: { count: 0, capacity: 5 } } })] });
    controller.apply(autoscaler('a', 'arena', { type: 'Counter', counter: { key: 'rooms', bufferSize: 5, minCapacity: 0, maxCapacity: 100 } }));
    await controller.idle();
    expect(controller.list()[0]!.problem).toMatchObject({ code: ErrorCode.AUTOSCALER_POLICY_FAILED, message: expect.stringContaining('scale-down order') });
  });

  it('reports a policy that cannot decide as unable to scale, and retries with back-off', async () => {
    const { controller, fleets, clock, registry } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    const scaledAt = controller.status('a')!.lastScaleTime;
    controller.apply(autoscaler('a', 'arena', { type: 'Counter', counter: { key: 'rooms', bufferSize: 5, minCapacity: 0, maxCapacity: 100 } }));
    await controller.idle();
    expect(controller.status('a')).toEqual({ currentReplicas: 0, desiredReplicas: 0, lastScaleTime: scaledAt, ableToScale: false, scalingLimited: false, lastAppliedPolicy: '' });
    expect(controller.list()[0]!.problem).toMatchObject({ code: ErrorCode.AUTOSCALER_POLICY_FAILED });
    expect(await series(registry)).toMatchObject({ 'agones_fleet_autoscalers_able_to_scale{name=a,fleet_name=arena}': 0 });
    const synced = fleets.views('arena');
    clock.advance(100);
    await controller.idle();
    expect(fleets.views('arena')).toBe(synced + 1);
  });

  it('keeps the status when scaling the fleet fails, and retries', async () => {
    const { controller, fleets, clock } = harness();
    fleets.scaleError = new Error('fleet store unavailable');
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    expect(controller.status('a')).toMatchObject({ ableToScale: false, desiredReplicas: 0, lastScaleTime: null });
    expect(controller.list()[0]!.problem).toEqual({ code: 'INTERNAL', message: 'fleet store unavailable' });
    fleets.scaleError = undefined;
    clock.advance(100);
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 2 }]);
    expect(controller.status('a')).toMatchObject({ ableToScale: true, desiredReplicas: 2 });
  });

  it('syncs nothing after close', async () => {
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', bufferOf(2, 0, 10)));
    await controller.idle();
    await controller.close();
    const synced = fleets.views('arena');
    fleets.notify('arena');
    clock.advance(120_000);
    await controller.idle();
    expect(fleets.views('arena')).toBe(synced);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('FleetAutoscalerController with a Webhook policy on a real server', () => {
  const webhook = (url: string, caBundle?: string): AutoscalerPolicy => ({ type: 'Webhook', webhook: { url, ...(caBundle && { caBundle }) } });
  const scaleTo =
    (replicas: number): WebhookHandler =>
    (_req, res) =>
      answer(res, 200, { response: { scale: true, replicas } });

  it('scales to what the webhook answers', async () => {
    const server = await serve(scaleTo(9));
    const { controller, fleets } = harness();
    controller.apply(autoscaler('a', 'arena', webhook(server.url)));
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 9 }]);
    expect(controller.status('a')).toMatchObject({ ableToScale: true, desiredReplicas: 9, lastAppliedPolicy: 'Webhook' });
    expect(JSON.parse(server.received[0]!.body)).toMatchObject({ request: { name: 'arena', status: { replicas: 3 } } });
  });

  it('reports an error status, leaves the fleet alone, and recovers on a retry', async () => {
    let status = 500;
    const server = await serve((_req, res) => (status === 200 ? answer(res, 200, { response: { scale: true, replicas: 7 } }) : answer(res, status, 'boom')));
    const { controller, fleets, clock } = harness();
    controller.apply(autoscaler('a', 'arena', webhook(server.url)));
    await controller.idle();
    expect(fleets.scaled).toEqual([]);
    expect(controller.status('a')).toMatchObject({ ableToScale: false });
    expect(controller.list()[0]!.problem).toEqual({ code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED, message: `bad status code 500 from the webhook at ${server.url}` });

    status = 200;
    clock.advance(100);
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 7 }]);
    expect(controller.status('a')).toMatchObject({ ableToScale: true, desiredReplicas: 7 });
  });

  it('reports a bad body and leaves the fleet alone', async () => {
    const server = await serve((_req, res) => answer(res, 200, { response: { scale: true, replicas: -2 } }));
    const { controller, fleets } = harness();
    controller.apply(autoscaler('a', 'arena', webhook(server.url)));
    await controller.idle();
    expect(fleets.scaled).toEqual([]);
    expect(controller.list()[0]!.problem).toMatchObject({ code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED, message: expect.stringContaining('must not be negative') });
  });

  it('gives up on a webhook that does not answer in 15 s', async () => {
    const server = await serve(() => undefined);
    const { controller, fleets, clock } = harness();
    const received = server.nextRequest();
    controller.apply(autoscaler('a', 'arena', webhook(server.url)));
    await received;
    clock.advance(15_000);
    await controller.idle();
    expect(fleets.scaled).toEqual([]);
    expect(controller.list()[0]!.problem).toMatchObject({ message: `the webhook at ${server.url} did not answer within 15000 ms` });
  });

  it('calls an https webhook that its caBundle vouches for', async () => {
    const pair = selfSignedPair();
    const server = await serve(scaleTo(4), pair);
    const { controller, fleets } = harness();
    controller.apply(autoscaler('a', 'arena', webhook(server.url, Buffer.from(pair.cert).toString('base64'))));
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 4 }]);
  });

  it('holds the fleet at what the port range holds when the webhook asks for more, says why, and warns once', async () => {
    let replicas = 100_000;
    const server = await serve((_req, res) => answer(res, 200, { response: { scale: true, replicas } }));
    const { controller, fleets, clock, registry, logs } = harness({ bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 1000 } });
    controller.apply(autoscaler('a', 'arena', webhook(server.url)));
    await controller.idle();
    replicas = 200_000;
    clock.advance(30_000);
    await controller.idle();
    expect(fleets.scaled).toEqual([{ fleet: 'arena', replicas: 100 }]);
    expect(controller.status('a')).toMatchObject({ ableToScale: true, scalingLimited: true, desiredReplicas: 100 });
    expect(controller.list()[0]!.problem).toEqual({
      code: ErrorCode.PORT_UNAVAILABLE,
      message:
        'Webhook asks for 200000 replicas; 200000 servers take 200000 host ports (1 each, its Dynamic and Passthrough ports), and local.port_range 7000-7099 holds 100: at most 100 can run here (widen local.port_range for more), so the fleet is held at 100',
    });
    expect(await series(registry)).toMatchObject({ 'agones_fleet_autoscalers_limited{name=a,fleet_name=arena}': 1 });
    expect(logs.filter((l) => l.level === 40).map((l) => [l.asked, l.held])).toEqual([[100_000, 100]]);

    replicas = 40;
    clock.advance(30_000);
    await controller.idle();
    expect(fleets.get('arena').spec.replicas).toBe(40);
    expect(controller.list()[0]!.problem).toBeNull();
    expect(controller.status('a')).toMatchObject({ scalingLimited: false, desiredReplicas: 40 });
  });

  it('drops the answer of a call that was in flight when the autoscaler was removed', async () => {
    const server = await serve(() => undefined);
    const { controller, fleets, logs } = harness();
    const received = server.nextRequest();
    controller.apply(autoscaler('a', 'arena', webhook(server.url)));
    await received;
    controller.remove('a');
    await controller.idle();
    expect(fleets.scaled).toEqual([]);
    expect(logs.filter((l) => l.level === 40)).toEqual([]);
  });
});
