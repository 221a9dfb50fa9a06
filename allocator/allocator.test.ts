import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GameServerState as S, transition, type GameServer } from '../core/game-server.js';
import { ACKS_ALLOCATION_LABEL, ALLOCATION_OBSERVED_ANNOTATION, CLAIM_TIMEOUT_LABEL, CLAIMED_ANNOTATION, LAST_ALLOCATED_ANNOTATION, NO_SHOW_ACTION_LABEL } from '../core/hangar-metadata.js';
import { silentLogger } from '../core/logger.js';
import { createAllocatorMetrics, createRegistry, type Registry } from '../core/metrics.js';
import type { AllocationRecord } from '../records/allocation-records.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { allocationResult, StoreAllocationBackend } from './allocation-backend.js';
import { compareAllocationTimes } from './allocation.js';
import { parseAllocationRequest } from './allocation-schema.js';
import { Allocator } from './allocator.js';
import { ClaimWatchdog } from './claim-watchdog.js';

const fleetRequest = (fleet: string) => parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': fleet } }] });
const settle = () => new Promise((r) => setImmediate(r));

async function addServer(store: MemoryGameServerStore, name: string, state: GameServer['status']['state'], labels: Record<string, string> = {}, lists = {}): Promise<void> {
  const gs = testGameServer(name, { fleet: 'arena', spec: testSpec({ lists }) });
  await store.create({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, ...labels } }, status: { ...gs.status, state } });
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

describe('Allocator', () => {
  let store: MemoryGameServerStore;
  let clock: FakeClock;
  let registry: Registry;
  let records: AllocationRecord[];
  let allocator: Allocator;

  beforeEach(() => {
    store = new MemoryGameServerStore();
    clock = new FakeClock();
    registry = createRegistry();
    records = [];
    allocator = new Allocator({
      backend: new StoreAllocationBackend(store, clock),
      clock,
      log: silentLogger,
      metrics: createAllocatorMetrics(registry),
      ackTimeoutMs: 500,
      recorder: { record: (r) => records.push(r) },
    });
  });
  afterEach(() => store.close());

  it('allocates a Ready server in Agones’ result shape, counts and records it', async () => {
    await addServer(store, 'gs-1', S.Ready);
    const result = await allocator.allocate(fleetRequest('arena'), { client: 'matchmaker' });
    expect(result).toMatchObject({ state: 'Allocated', gameServerName: 'gs-1', source: 'local', metadata: { labels: { 'agones.dev/fleet': 'arena' } } });
    expect((await store.get('gs-1'))!.status.state).toBe(S.Allocated);
    expect(await metric(registry, 'agones_gameservers_allocations_total', { status: 'Allocated' })).toBe(1);
    expect(records).toEqual([expect.objectContaining({ client: 'matchmaker', result: expect.objectContaining({ gameServerName: 'gs-1' }) })]);

    const none = await allocator.allocate(fleetRequest('arena'), { client: 'matchmaker' });
    expect(none.state).toBe('UnAllocated');
    expect(await metric(registry, 'agones_gameservers_allocations_total', { status: 'UnAllocated' })).toBe(1);
  });

  it('waits, within its bound, for a server to become Ready', async () => {
    await addServer(store, 'gs-1', S.Scheduled);
    const pending = allocator.allocate(fleetRequest('arena'), { client: 'mm', waitForReadyMs: 2000 });
    await settle();
    await store.update('gs-1', (gs) => transition(transition(gs, S.RequestReady), S.Ready));
    expect(await pending).toMatchObject({ state: 'Allocated', gameServerName: 'gs-1' });

    const late = allocator.allocate(fleetRequest('arena'), { client: 'mm', waitForReadyMs: 2000 });
    await settle();
    clock.advance(2000);
    expect((await late).state).toBe('UnAllocated');
  });

  it('answers only once a server that acknowledges allocations has echoed this one', async () => {
    await addServer(store, 'gs-1', S.Ready, { [ACKS_ALLOCATION_LABEL]: 'true' });
    let answered = false;
    const pending = allocator.allocate(fleetRequest('arena'), { client: 'mm' }).then((r) => {
      answered = true;
      return r;
    });
    await settle();
    await settle();
    expect(answered).toBe(false);
    const allocatedAt = (await store.get('gs-1'))!.metadata.annotations[LAST_ALLOCATED_ANNOTATION]!;
    await store.update('gs-1', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [ALLOCATION_OBSERVED_ANNOTATION]: allocatedAt } } }));
    expect((await pending).state).toBe('Allocated');
    expect(await metric(registry, 'hangar_allocation_ack_timeouts_total')).toBe(0);
  });

  it('takes the echo of a later allocation of the same server as the acknowledgement of an earlier one', async () => {
    await addServer(store, 'gs-1', S.Allocated, { [ACKS_ALLOCATION_LABEL]: 'true' }, { players: { capacity: 10, values: [] } });
    const backfill = parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' }, gameServerState: 'Allocated' }] });
    const first = allocator.allocate(backfill, { client: 'mm' });
    await settle();
    clock.advance(1);
    const second = allocator.allocate(backfill, { client: 'mm' });
    await settle();
    // The server saw only the second allocation, and echoes that one.
    const latest = (await store.get('gs-1'))!.metadata.annotations[LAST_ALLOCATED_ANNOTATION]!;
    await store.update('gs-1', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [ALLOCATION_OBSERVED_ANNOTATION]: latest } } }));
    expect((await first).state).toBe('Allocated');
    expect((await second).state).toBe('Allocated');
    expect(await metric(registry, 'hangar_allocation_ack_timeouts_total')).toBe(0);
  });

  it('answers anyway when the acknowledgement does not come within the bound, and counts it', async () => {
    await addServer(store, 'gs-1', S.Ready, { [ACKS_ALLOCATION_LABEL]: 'true' });
    const pending = allocator.allocate(fleetRequest('arena'), { client: 'mm' });
    await settle();
    clock.advance(500);
    expect((await pending).state).toBe('Allocated');
    expect(await metric(registry, 'hangar_allocation_ack_timeouts_total')).toBe(1);
  });
});

describe('ClaimWatchdog', () => {
  const [T0, T1, T2] = ['2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02Z'];
  let store: MemoryGameServerStore;
  let clock: FakeClock;
  let registry: Registry;
  let watchdog: ClaimWatchdog;

  beforeEach(() => {
    store = new MemoryGameServerStore();
    clock = new FakeClock();
    registry = createRegistry();
    watchdog = new ClaimWatchdog({ backend: new StoreAllocationBackend(store, clock), clock, log: silentLogger, metrics: createAllocatorMetrics(registry), claimTimeoutSeconds: 60 });
  });
  afterEach(() => {
    watchdog.close();
    return store.close();
  });

  const allocated = async (name: string, labels: Record<string, string> = {}, lists: Record<string, { capacity: number; values: string[] }> = { players: { capacity: 10, values: [] } }) => {
    await addServer(store, name, S.Allocated, labels, lists);
    await store.update(name, (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [LAST_ALLOCATED_ANNOTATION]: T1 } } }));
    watchdog.track(allocationResult((await store.get(name))!));
    await settle();
  };

  it('shuts down an allocation no player reached in time, by default', async () => {
    await allocated('gs-1');
    clock.advance(59_000);
    await settle();
    expect((await store.get('gs-1'))!.status.state).toBe(S.Allocated);
    clock.advance(1000);
    await settle();
    expect((await store.get('gs-1'))!.status.state).toBe(S.Shutdown);
    expect(await metric(registry, 'hangar_allocations_unclaimed_total', { action: 'shutdown' })).toBe(1);
  });

  it('puts it back to Ready when the label says so, after the label’s own timeout', async () => {
    await allocated('gs-1', { [NO_SHOW_ACTION_LABEL]: 'ready', [CLAIM_TIMEOUT_LABEL]: '5' });
    clock.advance(5000);
    await settle();
    expect((await store.get('gs-1'))!.status.state).toBe(S.RequestReady);
    expect(await metric(registry, 'hangar_allocations_unclaimed_total', { action: 'ready' })).toBe(1);
  });

  it('stops watching once a player shows up in the players List', async () => {
    await allocated('gs-1');
    await store.update('gs-1', (gs) => ({ ...gs, status: { ...gs.status, lists: { players: { capacity: 10, values: ['p1'] } } } }));
    expect(watchdog.watching).toBe(0);
    clock.advance(60_000);
    await settle();
    expect((await store.get('gs-1'))!.status.state).toBe(S.Allocated);
  });

  it('takes the claim a server that acknowledges allocations reports, not the List the allocation filled', async () => {
    await allocated('gs-1', { [ACKS_ALLOCATION_LABEL]: 'true' }, { players: { capacity: 10, values: ['expected-1'] } });
    expect(watchdog.watching).toBe(1);
    await store.update('gs-1', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [CLAIMED_ANNOTATION]: T1 } } }));
    expect(watchdog.watching).toBe(0);
  });

  it('releases only the allocation it names, and says whether it released anything', async () => {
    const backend = new StoreAllocationBackend(store, clock);
    await allocated('gs-1');
    expect(await backend.release('gs-1', 'shutdown', T0)).toBe(false);
    expect((await store.get('gs-1'))!.status.state).toBe(S.Allocated);
    expect(await backend.release('gs-1', 'shutdown', T1)).toBe(true);
    expect((await store.get('gs-1'))!.status.state).toBe(S.Shutdown);
    expect(await backend.release('gs-1', 'shutdown', T1)).toBe(false);
    expect(await backend.release('nope', 'shutdown')).toBe(false);
  });

  it('leaves alone a server that `claimed` finds claimed in the version it would release', async () => {
    const backend = new StoreAllocationBackend(store, clock);
    await allocated('gs-1');
    const claimed = (gs: GameServer) => (gs.status.lists.players?.values.length ?? 0) > 0;
    await store.update('gs-1', (gs) => ({ ...gs, status: { ...gs.status, lists: { players: { capacity: 10, values: ['p1'] } } } }));
    expect(await backend.release('gs-1', 'shutdown', T1, claimed)).toBe(false);
    expect((await store.get('gs-1'))!.status.state).toBe(S.Allocated);
  });

  it('ends the clock when the server is allocated again, and ignores versions from before its allocation', async () => {
    await allocated('gs-1');
    await store.update('gs-1', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [LAST_ALLOCATED_ANNOTATION]: T0 } } }));
    expect(watchdog.watching).toBe(1);
    await store.update('gs-1', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [LAST_ALLOCATED_ANNOTATION]: T2 } } }));
    expect(watchdog.watching).toBe(0);
  });

  it('leaves alone servers that report no players at all', async () => {
    await allocated('gs-1', {}, {});
    expect(watchdog.watching).toBe(0);
  });
});

describe('compareAllocationTimes', () => {
  it("orders Agones' nanosecond times (trailing zeros dropped) and Hangar's millisecond ones", () => {
    expect(compareAllocationTimes('2026-11-28T08:10:19.44812Z', '2026-11-28T08:10:19.448123Z')).toBeLessThan(0);
    expect(compareAllocationTimes('2026-11-28T08:10:19.4481231Z', '2026-11-28T08:10:19.448123Z')).toBeGreaterThan(0);
    expect(compareAllocationTimes('2026-11-28T08:10:19.5Z', '2026-11-28T08:10:19.500000000Z')).toBe(0);
    expect(compareAllocationTimes('2026-11-28T10:10:19+02:00', '2026-11-28T08:10:19.001Z')).toBeLessThan(0);
    expect(compareAllocationTimes('2026-11-28T08:10:20Z', '2026-11-28T08:10:19.999999999Z')).toBeGreaterThan(0);
  });

  it('takes a time it cannot read as a different, later allocation', () => {
    expect(compareAllocationTimes('soon', '2026-11-28T08:10:19Z')).toBeGreaterThan(0);
    expect(compareAllocationTimes('2026-11-28T08:10:19Z', 'soon')).toBeLessThan(0);
    expect(compareAllocationTimes('soon', 'soon')).toBe(0);
  });
});
