import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { GameServer } from '../../core/game-server.js';
import { ALLOCATION_ID_ANNOTATION, LAST_ALLOCATED_ANNOTATION } from '../../core/hangar-metadata.js';
import { silentLogger } from '../../core/logger.js';
import { createAllocatorMetrics, createRegistry, type Registry } from '../../core/metrics.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { agonesGameServer, deployedRole, FakeKubeApi } from '../../test/helpers/fake-kube-api.js';
import { parseAllocationRequest } from '../allocation-schema.js';
import { Allocator } from '../allocator.js';
import { ClaimWatchdog } from '../claim-watchdog.js';
import { AgonesAllocationBackend } from './agones-allocation-backend.js';
import { AgonesBackend } from './agones-backend.js';
import { KubernetesGameServers } from './kubernetes-game-servers.js';

// The Allocator and its claim watchdog over the Agones backend, against the fake API server with the
// allocator's Role from k8s/base/rbac.yaml: the view of GameServers is a watch, which trails the
// allocations' answers, other allocator replicas allocate from the same GameServers, and every
// allocation is a request to the Kubernetes API.

/** A Ready server whose players List says who is connected (what the watchdog reads for a claim). */
function readyServer(name: string): Record<string, unknown> {
  const obj = agonesGameServer(name, { fleet: 'arena' });
  Object.assign(obj.spec as object, { lists: { players: { capacity: 8, values: [] } } });
  Object.assign(obj.status as object, { lists: { players: { capacity: 8, values: [] } } });
  return obj;
}

const request = parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] });
const annotations = (name: string, fake: FakeKubeApi) => (fake.gameServer(name)!.metadata.annotations ?? {}) as Record<string, string>;

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
}

describe('the Allocator on Agones', () => {
  let fake: FakeKubeApi;
  let view: KubernetesGameServers;
  let clock: FakeClock;
  let registry: Registry;
  let watchdog: ClaimWatchdog;
  let allocator: Allocator;

  beforeEach(async () => {
    fake = await FakeKubeApi.start({ rules: deployedRole('hangar-allocator') });
    const kubeConfig = fake.kubeConfig();
    view = new KubernetesGameServers({ kubeConfig, namespace: 'default', log: silentLogger });
    viewed.clear();
    view.watch((e) => viewed.set(e.object.metadata.name, e.object));
    await view.start();
    clock = new FakeClock();
    const backend = new AgonesBackend(new AgonesAllocationBackend({ kubeConfig, namespace: 'default' }), view, { clock, log: silentLogger });
    registry = createRegistry();
    const metrics = createAllocatorMetrics(registry);
    watchdog = new ClaimWatchdog({ backend, clock, log: silentLogger, metrics, claimTimeoutSeconds: 60 });
    allocator = new Allocator({ backend, clock, log: silentLogger, metrics, watchdog });
  });
  afterEach(async () => {
    watchdog.close();
    await view.close();
    await fake.close();
  });

  /** The view's latest version of each server, as its watch delivered it. */
  const viewed = new Map<string, GameServer>();
  const seen = (name: string, state: string) => fake.until(() => viewed.get(name)?.status.state === state, `the view to show ${name} ${state}`);
  /** `name` Ready, allocated, and seen Allocated by the view. */
  const allocateSeen = async (name: string) => {
    fake.putGameServer(readyServer(name));
    await seen(name, 'Ready');
    await allocator.allocate(request, { client: 'matchmaker' });
    await seen(name, 'Allocated');
  };
  /** The watchdog let `name` be: not deleted, not counted. */
  const leftAlone = async (name: string) => {
    expect(fake.requests.filter((r) => r.verb === 'delete')).toEqual([]);
    expect(fake.gameServer(name)!.metadata.deletionTimestamp).toBeUndefined();
    expect(await metric(registry, 'hangar_allocations_unclaimed_total')).toBe(0);
  };

  it('starts the claim clock on the answer, while the watch still shows the server Ready, and releases it when no player came', async () => {
    fake.putGameServer(readyServer('gs-1'));
    await seen('gs-1', 'Ready');
    fake.holdWatches();
    const result = await allocator.allocate(request, { client: 'matchmaker' });
    expect(result).toMatchObject({ state: 'Allocated', gameServerName: 'gs-1' });
    await new Promise((r) => setTimeout(r, 50));
    expect((await view.get('gs-1'))!.status.state).toBe('Ready');
    expect(watchdog.watching).toBe(1);

    fake.releaseWatches();
    await seen('gs-1', 'Allocated');
    clock.advance(60_000);
    await fake.until(() => fake.gameServer('gs-1')?.metadata.deletionTimestamp !== undefined, 'the unclaimed server to be deleted');
    expect(watchdog.watching).toBe(0);
    // Counted once the delete's answer is in.
    for (let i = 0; i < 100 && (await metric(registry, 'hangar_allocations_unclaimed_total')) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metric(registry, 'hangar_allocations_unclaimed_total')).toBe(1);
  });

  it('keeps the clock of a server allocated before the view held it at all, and releases it', async () => {
    fake.holdWatches();
    fake.putGameServer(readyServer('new-1'));
    expect((await allocator.allocate(request, { client: 'matchmaker' })).gameServerName).toBe('new-1');
    await new Promise((r) => setTimeout(r, 50));
    expect(await view.get('new-1')).toBeUndefined();
    expect(watchdog.watching).toBe(1);
    fake.releaseWatches();
    await seen('new-1', 'Allocated');
    clock.advance(60_000);
    await fake.until(() => fake.gameServer('new-1')?.metadata.deletionTimestamp !== undefined, 'the unclaimed server to be deleted');
  });

  it('leaves alone, and does not count, a server allocated again elsewhere after its view was read', async () => {
    await allocateSeen('gs-1');
    const ours = annotations('gs-1', fake)[LAST_ALLOCATED_ANNOTATION]!;
    // Between the watchdog's look at its view and its release, the game server went back to Ready
    // (its own no-show) and another allocator replica allocated it for a new match.
    const theirs = new Date(Date.parse(ours) + 1500).toISOString();
    fake.beforeNext({ verb: 'get', resource: 'gameservers' }, () =>
      fake.updateGameServer('gs-1', (o) => ((o.metadata.annotations as Record<string, string>)[LAST_ALLOCATED_ANNOTATION] = theirs)),
    );
    clock.advance(60_000);
    await fake.until(() => fake.requests.some((r) => r.verb === 'get' && r.name === 'gs-1'), 'the release to read the server');
    await fake.until(() => viewed.get('gs-1')?.metadata.annotations[LAST_ALLOCATED_ANNOTATION] === theirs, 'the view to see the new allocation');
    await new Promise((r) => setTimeout(r, 50));

    await leftAlone('gs-1');
  });

  it('does not release a server whose player came while its view trailed (a watch down or behind)', async () => {
    await allocateSeen('gs-1');
    // The watch stops delivering; the player connects and the game server lists them.
    fake.holdWatches();
    fake.updateGameServer('gs-1', (o) => ((o.status as { lists: { players: { values: string[] } } }).lists.players.values = ['p1']));
    clock.advance(60_000);
    await fake.until(() => fake.requests.some((r) => r.verb === 'get' && r.name === 'gs-1'), 'the release to read the server');
    await new Promise((r) => setTimeout(r, 50));

    expect((await view.get('gs-1'))!.status.lists.players!.values).toEqual([]);
    await leftAlone('gs-1');
  });

  it('releases an unclaimed server on time while the watch is down, judging it on the API server\'s version', async () => {
    fake.putGameServer(readyServer('gs-1'));
    await seen('gs-1', 'Ready');
    fake.holdWatches();
    await allocator.allocate(request, { client: 'matchmaker' });
    clock.advance(60_000);
    await fake.until(() => fake.gameServer('gs-1')?.metadata.deletionTimestamp !== undefined, 'the unclaimed server to be deleted');
    expect((await view.get('gs-1'))!.status.state).toBe('Ready');
  });

  it('tries a release the API server failed again a period later', async () => {
    await allocateSeen('gs-1');
    fake.failNext({ verb: 'get', resource: 'gameservers' }, 503);
    clock.advance(60_000);
    for (let i = 0; i < 100 && (await metric(registry, 'game_server_errors_total')) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metric(registry, 'game_server_errors_total')).toBe(1);
    expect(fake.gameServer('gs-1')!.metadata.deletionTimestamp).toBeUndefined();
    expect(watchdog.watching).toBe(1);
    clock.advance(60_000);
    await fake.until(() => fake.gameServer('gs-1')?.metadata.deletionTimestamp !== undefined, 'the unclaimed server to be deleted');
    expect(watchdog.watching).toBe(0);
  });

  it('ends the clock when the watch shows the server allocated again, and ignores versions from before its allocation', async () => {
    fake.putGameServer(readyServer('gs-1'));
    await seen('gs-1', 'Ready');
    fake.holdWatches();
    // An event from before the allocation (a label the game set while Ready) reaches the view after
    // the answer: it ends nothing.
    fake.updateGameServer('gs-1', (o) => ((o.metadata.labels as Record<string, string>)['agones.dev/sdk-map'] = 'dust'));
    await allocator.allocate(request, { client: 'matchmaker' });
    fake.releaseWatches();
    await seen('gs-1', 'Allocated');
    expect(watchdog.watching).toBe(1);
    const later = new Date(Date.parse(annotations('gs-1', fake)[LAST_ALLOCATED_ANNOTATION]!) + 1000).toISOString();
    fake.updateGameServer('gs-1', (o) => ((o.metadata.annotations as Record<string, string>)[LAST_ALLOCATED_ANNOTATION] = later));
    await fake.until(() => watchdog.watching === 0, 'the clock to end');
  });

  it('makes no last try beside an attempt in flight when the wait runs out, so it never allocates two servers', async () => {
    const allocations = () => fake.requests.filter((r) => r.resource === 'gameserverallocations').length;
    const pending = allocator.allocate(request, { client: 'matchmaker', waitForReadyMs: 10_000 });
    await fake.until(() => allocations() === 2, 'the first attempts');
    // The attempt a new Ready server sets off is in flight when the wait runs out, and a second
    // server becomes Ready at that moment too.
    fake.beforeNext({ verb: 'create', resource: 'gameserverallocations' }, () => {
      fake.putGameServer(readyServer('gs-2'));
      clock.advance(10_000);
    });
    fake.putGameServer(readyServer('gs-1'));
    expect(await pending).toMatchObject({ state: 'Allocated', gameServerName: 'gs-1' });
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.gameServer('gs-2')!.status).toMatchObject({ state: 'Ready' });
    expect(allocations()).toBe(3);
  });

  it('releases a server allocated by a request whose answer was lost, once the view shows it', async () => {
    fake.putGameServer(readyServer('gs-1'));
    fake.putGameServer(readyServer('gs-2'));
    await seen('gs-2', 'Ready');
    fake.holdWatches();
    fake.dropNextAnswer({ verb: 'create', resource: 'gameserverallocations' });
    await expect(allocator.allocate(request, { client: 'matchmaker' })).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE' });
    const id = annotations('gs-1', fake)[ALLOCATION_ID_ANNOTATION];
    expect(fake.gameServer('gs-1')!.status).toMatchObject({ state: 'Allocated' });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // The view shows it only later (its watch was behind): then it is released.
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.requests.filter((r) => r.verb === 'delete')).toEqual([]);
    fake.releaseWatches();
    await fake.until(() => fake.gameServer('gs-1')?.metadata.deletionTimestamp !== undefined, 'the lost allocation\'s server to be deleted');

    // An allocation answered, and its server, are left alone.
    const answered = await allocator.allocate(request, { client: 'matchmaker' });
    expect(answered).toMatchObject({ state: 'Allocated', gameServerName: 'gs-2', metadata: { annotations: { [ALLOCATION_ID_ANNOTATION]: expect.any(String) } } });
    expect(answered.metadata.annotations[ALLOCATION_ID_ANNOTATION]).not.toBe(id);
    await seen('gs-2', 'Allocated');
    expect(fake.requests.filter((r) => r.verb === 'delete').map((r) => r.name)).toEqual(['gs-1']);
  });

  it('refuses to wait for a Ready server on a view whose watch is down, and still allocates a Ready one', async () => {
    const kubeConfig = fake.kubeConfig();
    const broken = new KubernetesGameServers({ kubeConfig, namespace: 'default', brokenAfterMs: 50, restartBackoff: { initialMs: 60_000, maxMs: 60_000 }, delay: () => new Promise(() => {}) });
    await broken.start();
    const backend = new AgonesBackend(new AgonesAllocationBackend({ kubeConfig, namespace: 'default' }), broken, { clock, log: silentLogger });
    const degraded = new Allocator({ backend, clock, log: silentLogger, metrics: createAllocatorMetrics(createRegistry()) });
    try {
      fake.dropWatches();
      await fake.until(() => !broken.isCurrent(), 'the view to count as broken');
      const allocations = () => fake.requests.filter((r) => r.resource === 'gameserverallocations').length;

      await expect(degraded.allocate(request, { client: 'matchmaker', waitForReadyMs: 10_000 })).rejects.toMatchObject({
        code: 'KUBE_UNAVAILABLE',
        message: expect.stringMatching(/^the view of GameServers in namespace default has had no working watch for \d+ s: it cannot wait for a game server to become Ready \(waitForReadyMs\), and none is; nothing was allocated$/),
      });
      expect(allocations()).toBe(1);
      expect(await degraded.allocate(request, { client: 'matchmaker' })).toMatchObject({ state: 'UnAllocated' });

      fake.putGameServer(readyServer('gs-1'));
      expect(await degraded.allocate(request, { client: 'matchmaker', waitForReadyMs: 10_000 })).toMatchObject({ state: 'Allocated', gameServerName: 'gs-1' });
    } finally {
      await broken.close();
    }
  });

  it('waits for a Ready server without allocating again on every change of the servers it cannot have', async () => {
    for (const name of ['busy-1', 'busy-2']) {
      fake.putGameServer(readyServer(name));
      fake.updateGameServer(name, (o) => ((o.status as { state: string }).state = 'Allocated'));
      await seen(name, 'Allocated');
    }
    fake.putGameServer({ ...readyServer('other-1'), metadata: { ...(readyServer('other-1').metadata as object), labels: { 'agones.dev/fleet': 'other' } } });
    await seen('other-1', 'Ready');
    const allocations = () => fake.requests.filter((r) => r.resource === 'gameserverallocations').length;
    const pending = allocator.allocate(request, { client: 'matchmaker', waitForReadyMs: 10_000 });
    // The answer's attempt, and one more once the wait watches (for a server Ready in between).
    await fake.until(() => allocations() === 2, 'the first attempts');

    // Players come and go on the running matches, and another fleet's server changes: none of it
    // can be this allocation's, and none of it is a reason to ask Agones again.
    for (let i = 0; i < 20; i++) {
      const name = i % 2 ? 'busy-1' : 'busy-2';
      fake.updateGameServer(name, (o) => ((o.status as { lists: { players: { values: string[] } } }).lists.players.values = [`p${i}`]));
      fake.updateGameServer('other-1', (o) => ((o.metadata.labels as Record<string, string>).round = String(i)));
      await fake.until(() => viewed.get('other-1')?.metadata.labels.round === String(i), 'the view to see the change');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(allocations()).toBe(2);

    fake.putGameServer(readyServer('fresh-1'));
    expect(await pending).toMatchObject({ state: 'Allocated', gameServerName: 'fresh-1' });
    expect(allocations()).toBe(3);
  });
});
