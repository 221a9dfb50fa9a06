import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { HealthState } from '../../core/admin-server.js';
import { GameServerState as S } from '../../core/game-server.js';
import type { Logger } from '../../core/logger.js';
import type { GameServerEvent } from '../../store/game-server-store.js';
import { agonesGameServer, deployedRole, FakeKubeApi } from '../../test/helpers/fake-kube-api.js';
import { addGameServerSourceCheck } from '../game-server-source.js';
import { fromAgonesGameServer } from './agones-game-server.js';
import { KubernetesGameServers, type KubernetesGameServersOptions } from './kubernetes-game-servers.js';

// The GameServer view against the fake API server, through the real @kubernetes/client-node
// informer: list then watch, the informer's own 410 relist, the restart this view owns after other
// errors, and release with its resourceVersion guard.

function setState(state: string): (o: Record<string, unknown>) => void {
  return (o) => ((o.status as { state: string }).state = state);
}

/** A logger whose records land in `lines`. */
function capturingLogger(lines: Array<Record<string, unknown>>): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

describe('KubernetesGameServers', () => {
  let fake: FakeKubeApi;
  let view: KubernetesGameServers;
  let events: Array<[GameServerEvent['type'], string, string]>;
  let delays: number[];
  let logs: Array<Record<string, unknown>>;

  async function startView(options: Partial<KubernetesGameServersOptions> = {}): Promise<void> {
    view = new KubernetesGameServers({
      kubeConfig: fake.kubeConfig(),
      namespace: 'default',
      log: capturingLogger(logs),
      delay: async (ms) => {
        delays.push(ms);
      },
      ...options,
    });
    view.watch((e) => events.push([e.type, e.object.metadata.name, e.object.status.state]));
    await view.start();
  }

  const requests = (verb: string) => fake.requests.filter((r) => r.verb === verb).length;

  beforeEach(async () => {
    // The allocator's Role in k8s/: allocate, read GameServers, and delete them to release.
    fake = await FakeKubeApi.start({ rules: deployedRole('hangar-allocator') });
    events = [];
    delays = [];
    logs = [];
  });
  afterEach(async () => {
    await view?.close();
    await fake.close();
  });

  it('lists, then follows the watch: added, modified and deleted, in order', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    fake.putGameServer(agonesGameServer('gs-2', { fleet: 'other' }));
    await startView();
    expect(events).toEqual([
      ['added', 'gs-1', 'Ready'],
      ['added', 'gs-2', 'Ready'],
    ]);
    expect((await view.list({ fleet: 'simple-game-server' })).map((g) => g.metadata.name)).toEqual(['gs-1']);

    fake.updateGameServer('gs-1', setState('Allocated'));
    fake.putGameServer(agonesGameServer('gs-3'));
    fake.removeGameServer('gs-2');
    await fake.until(() => events.length === 5, 'three watch events');
    expect(events.slice(2)).toEqual([
      ['modified', 'gs-1', 'Allocated'],
      ['added', 'gs-3', 'Ready'],
      ['deleted', 'gs-2', 'Ready'],
    ]);
    expect((await view.get('gs-1'))?.status.state).toBe(S.Allocated);
    expect(await view.get('gs-2')).toBeUndefined();
    expect((await view.list({ states: [S.Ready] })).map((g) => g.metadata.name)).toEqual(['gs-3']);
    expect(requests('list')).toBe(1);
  });

  it('holds each GameServer exactly as fromAgonesGameServer reads the API object', async () => {
    const obj = agonesGameServer('gs-1', { state: 'Allocated', labels: { mode: 'ctf' }, annotations: { 'hangar.dev/match-id': 'm-7' } });
    Object.assign(obj.status as object, { players: { count: 1, capacity: 4, ids: ['p-1'] } });
    fake.putGameServer(obj);
    await startView();
    expect(await view.get('gs-1')).toEqual(fromAgonesGameServer(fake.gameServer('gs-1')));
  });

  it('relists after a 410 (the informer does that itself) and reports what changed while it was away', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    fake.putGameServer(agonesGameServer('gs-2'));
    await startView();
    // While no watch is open: changes, then the history they were in is compacted away.
    fake.closeWatches();
    fake.updateGameServer('gs-1', setState('Allocated'));
    fake.removeGameServer('gs-2');
    fake.putGameServer(agonesGameServer('gs-3'));
    fake.compact();
    await fake.until(() => requests('list') === 2 && fake.watchCount === 1, 'the relist and a new watch');
    expect(events.slice(2)).toEqual([
      ['deleted', 'gs-2', 'Ready'],
      ['modified', 'gs-1', 'Allocated'],
      ['added', 'gs-3', 'Ready'],
    ]);
    expect((await view.list()).map((g) => [g.metadata.name, g.status.state])).toEqual([
      ['gs-1', 'Allocated'],
      ['gs-3', 'Ready'],
    ]);
  });

  it('restarts a dropped watch after a back-off, from where it was (no relist)', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    await startView();
    fake.failNext({ verb: 'watch' }, 500);
    fake.dropWatches();
    fake.updateGameServer('gs-1', setState('Allocated'));
    await fake.until(() => events.length === 2, 'the change made while the watch was down');
    expect(events[1]).toEqual(['modified', 'gs-1', 'Allocated']);
    // The drop, then the 500 on the first restart: the back-off doubles.
    expect(delays).toEqual([1000, 2000]);
    expect(requests('list')).toBe(1);
    expect(requests('watch')).toBe(3);
    const resumedFrom = fake.requests.filter((r) => r.verb === 'watch').map((r) => r.query.get('resourceVersion'));
    expect(resumedFrom[2]).toBe(resumedFrom[0]);
    expect(logs.filter((l) => l.msg === 'GameServer watch stopped; restarting after back-off').map((l) => (l.err as { code?: string }).code)).toEqual(['KUBE_UNAVAILABLE', 'KUBE_UNAVAILABLE']);

    // A restart that held resets the back-off.
    fake.dropWatches();
    fake.updateGameServer('gs-1', setState('Shutdown'));
    await fake.until(() => events.length === 3, 'the next change');
    expect(delays).toEqual([1000, 2000, 1000]);
  });

  it('fails to start with KUBE_FORBIDDEN when it may not list GameServers', async () => {
    await fake.close();
    fake = await FakeKubeApi.start({ rules: [{ apiGroups: ['allocation.agones.dev'], resources: ['gameserverallocations'], verbs: ['create'] }] });
    await expect(startView()).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN', message: expect.stringContaining('"list" on gameservers in API group agones.dev') });
    expect(fake.watchCount).toBe(0);
  });

  it('startRetrying: tries a first list that fails again after the back-off, and is current only once one holds', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    fake.failNext({ verb: 'list' }, 503, 2);
    view = new KubernetesGameServers({ kubeConfig: fake.kubeConfig(), namespace: 'default', log: capturingLogger(logs), delay: async (ms) => void delays.push(ms) });
    view.watch((e) => events.push([e.type, e.object.metadata.name, e.object.status.state]));
    expect(view.isCurrent()).toBe(false);
    const started = view.startRetrying();
    await fake.until(() => requests('list') === 2, 'the first retry');
    expect(view.isCurrent()).toBe(false);
    expect(() => view.requireCurrent('it cannot wait')).toThrow(expect.objectContaining({ code: 'KUBE_UNAVAILABLE', message: 'the view of GameServers in namespace default has not listed the GameServers yet: it cannot wait' }));
    await started;
    expect(view.isCurrent()).toBe(true);
    expect(requests('list')).toBe(3);
    expect(delays).toEqual([1000, 2000]);
    expect(events).toEqual([['added', 'gs-1', 'Ready']]);
  });

  it('startRetrying: never resolves once closed before a start held (its caller must not act on an empty view)', async () => {
    fake.failNext({ verb: 'list' }, 503, 1000);
    view = new KubernetesGameServers({ kubeConfig: fake.kubeConfig(), namespace: 'default', log: capturingLogger(logs), delay: (ms) => new Promise((r) => setTimeout(r, ms)), restartBackoff: { initialMs: 5, maxMs: 5 } });
    let resolved = false;
    void view.startRetrying().then(() => (resolved = true));
    await fake.until(() => requests('list') >= 2, 'a retry');
    await view.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(resolved).toBe(false);
    expect(view.isCurrent()).toBe(false);
  });

  it('keeps calling the other listeners when one throws, and skips objects it cannot read', async () => {
    await startView();
    const seen: string[] = [];
    view.watch(() => {
      throw new Error('listener bug');
    });
    view.watch((e) => seen.push(e.object.metadata.name));
    fake.putGameServer(agonesGameServer('gs-new', { state: 'Hibernating' }), { schema: false });
    fake.putGameServer(agonesGameServer('gs-1'));
    await fake.until(() => seen.length === 1, 'the readable GameServer');
    expect(seen).toEqual(['gs-1']);
    expect(await view.get('gs-new')).toBeUndefined();
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['ignoring a GameServer event Hangar cannot read', 'GameServer watch listener failed']));
  });

  it('stops watching on close', async () => {
    await startView();
    await fake.until(() => fake.watchCount === 1, 'the watch');
    await view.close();
    await fake.until(() => fake.watchCount === 0, 'the watch to close');
  });

  it('opens no watch after close, even when closed during its restart back-off or between list and watch', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    await startView({
      delay: (ms) => {
        delays.push(ms);
        return gate;
      },
    });
    // A dropped watch: the view waits out its back-off before restarting; closed meanwhile, it never does.
    fake.dropWatches();
    await fake.until(() => delays.length === 1, 'the restart back-off');
    const watchesBefore = requests('watch');
    await view.close();
    open();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(requests('watch')).toBe(watchesBefore);

    // Closed while the first list is being answered: the watch that follows is stopped at once.
    const second = new KubernetesGameServers({ kubeConfig: fake.kubeConfig(), namespace: 'default' });
    fake.beforeNext({ verb: 'list' }, () => void second.close());
    await second.start();
    await fake.until(() => fake.watchCount === 0, 'the late watch to be stopped');
  });

  it('asks the server to end each watch after 5 to 10 minutes, with bookmarks', async () => {
    await startView();
    const watch = fake.requests.find((r) => r.verb === 'watch')!;
    expect(Number(watch.query.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
    expect(Number(watch.query.get('timeoutSeconds'))).toBeLessThanOrEqual(600);
    expect(watch.query.get('allowWatchBookmarks')).toBe('true');
  });

  it('restarts a watch whose response headers never come', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    await startView({ watchBounds: { headersMs: 200 } });
    fake.hangNext({ verb: 'watch' });
    fake.dropWatches();
    await fake.until(() => requests('watch') === 2, 'the restart that hangs');
    fake.updateGameServer('gs-1', setState('Allocated'));
    await fake.until(() => events.length === 2, 'the change, through the watch after the stalled one');
    expect(events[1]).toEqual(['modified', 'gs-1', 'Allocated']);
    expect(requests('watch')).toBe(3);
    expect(logs.find((l) => l.msg === 'GameServer watch stopped; restarting after back-off' && String((l.err as { message: string }).message).includes('no response headers within 200 ms'))).toBeDefined();
  });

  it('restarts a watch that has gone silent past its server-side timeout', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    await startView({ watchBounds: { timeoutSeconds: () => 1, graceMs: 0 } });
    // The open watch hears nothing more (a dead connection); a new one replays what it missed.
    fake.holdWatches();
    fake.updateGameServer('gs-1', setState('Allocated'));
    await fake.until(() => events.length === 2, 'the change, through the watch after the silent one');
    expect(events[1]).toEqual(['modified', 'gs-1', 'Allocated']);
    expect(requests('watch')).toBe(2);
    expect(requests('list')).toBe(1);
  });

  it('backs off on watches the server accepts and then fails with an ERROR event other than 410', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    await startView();
    fake.errorNextWatches(500, 3);
    fake.dropWatches();
    fake.updateGameServer('gs-1', setState('Allocated'));
    await fake.until(() => events.length === 2, 'the change, once a watch holds');
    expect(events[1]).toEqual(['modified', 'gs-1', 'Allocated']);
    // The drop, then three watches failed by an ERROR event: each waits longer.
    expect(delays).toEqual([1000, 2000, 4000, 8000]);
    expect(requests('watch')).toBe(5);
    expect(requests('list')).toBe(1);
    const causes = logs.filter((l) => l.msg === 'GameServer watch stopped; restarting after back-off').map((l) => (l.err as { message: string }).message);
    expect(causes.slice(1)).toEqual(Array(3).fill(expect.stringContaining('the API server answered 500')));

    // A watch that delivers resets the back-off.
    fake.dropWatches();
    fake.updateGameServer('gs-1', setState('Shutdown'));
    await fake.until(() => events.length === 3, 'the next change');
    expect(delays).toEqual([1000, 2000, 4000, 8000, 1000]);
  });

  it('is not current while restarts keep failing past brokenAfterMs, and current again once one holds', async () => {
    await startView({ brokenAfterMs: 100, restartBackoff: { initialMs: 10, maxMs: 20 }, delay: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
    const health = new HealthState();
    health.markStarted();
    addGameServerSourceCheck(health, { backend: 'agones', view, kubeConfig: fake.kubeConfig(), namespace: 'default', site: { name: 'agones:test/default' } });
    expect(await health.readiness()).toMatchObject({ ready: true, checks: { 'gameserver-view': true } });
    fake.failNext({ verb: 'watch' }, 500, 15);
    fake.dropWatches();
    await fake.until(() => !view.isCurrent(), 'the view to count as broken');
    expect(await health.readiness()).toMatchObject({ ready: false, status: 'not ready', checks: { 'gameserver-view': false } });
    await fake.until(() => view.isCurrent(), 'a restart that holds');
    expect(requests('watch')).toBe(17);
    expect(await health.readiness()).toMatchObject({ ready: true });
  });

  it('is not current while every watch the server accepts is then failed with an ERROR event', async () => {
    await startView({ brokenAfterMs: 100, restartBackoff: { initialMs: 30, maxMs: 30 }, delay: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
    fake.errorNextWatches(500, 10);
    fake.dropWatches();
    await fake.until(() => !view.isCurrent(), 'the view to count as broken');
    await fake.until(() => view.isCurrent(), 'a watch that holds');
    expect(requests('watch')).toBe(12);
  });

  describe('release', () => {
    it('deletes a still-Allocated GameServer, guarded by its uid and resourceVersion', async () => {
      fake.putGameServer(agonesGameServer('gs-1', { state: 'Allocated' }));
      await startView();
      const before = fake.gameServer('gs-1')!;
      const result = await view.release('gs-1', 'ready');
      expect(result).toMatchObject({ outcome: 'deleted', replaced: true, gameServer: { metadata: { name: 'gs-1' } } });
      const del = fake.requests.find((r) => r.verb === 'delete');
      expect(del?.body).toEqual({ preconditions: { uid: before.metadata.uid, resourceVersion: before.metadata.resourceVersion } });
      // Agones' finalizer keeps it until the pod is gone: the view sees it marked for deletion.
      await fake.until(() => events.some(([type, name]) => type === 'modified' && name === 'gs-1'), 'the deletion mark');
      expect((await view.get('gs-1'))?.metadata.deletionTimestamp).toEqual(expect.any(String));
      expect(await view.release('gs-1', 'ready')).toMatchObject({ outcome: 'gone' });
    });

    it('re-reads after a 409 Conflict and deletes the new version', async () => {
      fake.putGameServer(agonesGameServer('gs-1', { state: 'Allocated' }));
      await startView();
      // The game server's SDK writes a label between Hangar's read and its delete.
      fake.beforeNext({ verb: 'delete' }, () => fake.updateGameServer('gs-1', (o) => ((o.metadata.labels as Record<string, string>)['agones.dev/sdk-ping'] = '1')));
      expect(await view.release('gs-1', 'shutdown')).toMatchObject({ outcome: 'deleted' });
      expect(requests('get')).toBe(2);
      expect(requests('delete')).toBe(2);
      expect(fake.gameServer('gs-1')?.metadata.deletionTimestamp).toEqual(expect.any(String));
    });

    it('leaves a server alone that went back to Ready before the retry', async () => {
      fake.putGameServer(agonesGameServer('gs-1', { state: 'Allocated' }));
      await startView();
      fake.beforeNext({ verb: 'delete' }, () => fake.updateGameServer('gs-1', setState('Ready')));
      expect(await view.release('gs-1', 'shutdown')).toMatchObject({ outcome: 'not-allocated', gameServer: { status: { state: 'Ready' } } });
      expect(fake.gameServer('gs-1')?.metadata.deletionTimestamp).toBeUndefined();
    });

    it('gives up with VERSION_CONFLICT when the server keeps changing', async () => {
      fake.putGameServer(agonesGameServer('gs-1', { state: 'Allocated' }));
      await startView({ maxConflictRetries: 2 });
      let n = 0;
      fake.beforeNext({ verb: 'delete' }, () => fake.updateGameServer('gs-1', (o) => ((o.metadata.annotations as Record<string, string>).n = String(++n))), 10);
      await expect(view.release('gs-1', 'shutdown')).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
      expect(requests('delete')).toBe(3);
    });

    it('does nothing for a server that is not Allocated, gone, or allocated again since', async () => {
      fake.putGameServer(agonesGameServer('ready-1'));
      fake.putGameServer(agonesGameServer('alloc-1', { state: 'Allocated', annotations: { 'agones.dev/last-allocated': '2026-09-01T10:00:00Z' } }));
      await startView();
      expect(await view.release('ready-1', 'shutdown')).toMatchObject({ outcome: 'not-allocated' });
      expect(await view.release('nope', 'shutdown')).toEqual({ outcome: 'gone' });
      expect(await view.release('alloc-1', 'shutdown', { lastAllocated: '2026-09-01T09:00:00Z' })).toMatchObject({ outcome: 'reallocated' });
      expect(requests('delete')).toBe(0);
      expect(await view.release('alloc-1', 'shutdown', { lastAllocated: '2026-09-01T10:00:00Z' })).toMatchObject({ outcome: 'deleted' });
    });

    it('surfaces a missing delete permission as KUBE_FORBIDDEN', async () => {
      await fake.close();
      fake = await FakeKubeApi.start({ rules: [{ apiGroups: ['agones.dev'], resources: ['gameservers'], verbs: ['get', 'list', 'watch'] }] });
      fake.putGameServer(agonesGameServer('gs-1', { state: 'Allocated' }));
      await startView();
      await expect(view.release('gs-1', 'shutdown')).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN', message: expect.stringContaining('"delete" on gameservers in API group agones.dev') });
    });
  });
});
