import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { agonesGameServer, FakeKubeApi } from '../../test/helpers/fake-kube-api.js';

// The fake API server (test/helpers/fake-kube-api.ts) held to the API's rules through the real
// client library, so the backend's tests stand on something that behaves like Kubernetes.

const GS = { group: 'agones.dev', version: 'v1', namespace: 'default', plural: 'gameservers' } as const;

interface WatchLog {
  events: Array<{ type: string; name: string; rv: string; code?: number }>;
  done: Promise<unknown>;
  stop: () => void;
}

async function watchFrom(kc: KubeConfig, resourceVersion: string): Promise<WatchLog> {
  const events: WatchLog['events'] = [];
  let finish!: (err: unknown) => void;
  const done = new Promise<unknown>((resolve) => (finish = resolve));
  const controller = await new Watch(kc).watch(
    '/apis/agones.dev/v1/namespaces/default/gameservers',
    { resourceVersion },
    (type, obj: { metadata?: { name: string; resourceVersion: string }; code?: number }) =>
      events.push({ type, name: obj.metadata?.name ?? '', rv: obj.metadata?.resourceVersion ?? '', ...(obj.code !== undefined && { code: obj.code }) }),
    (err) => finish(err),
  );
  return { events, done, stop: () => controller.abort() };
}

/** The Status body of a client-node ApiException. */
async function statusOf(p: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  const err = await p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiException);
  const body = JSON.parse((err as ApiException<string>).body) as { kind: string; status: string; code: number; reason: string; message: string };
  expect(body).toMatchObject({ kind: 'Status', status: 'Failure', code: (err as ApiException<string>).code });
  return body;
}

describe('FakeKubeApi', () => {
  let fake: FakeKubeApi;
  let kc: KubeConfig;
  let api: CustomObjectsApi;
  beforeEach(async () => {
    fake = await FakeKubeApi.start();
    kc = fake.kubeConfig();
    api = kc.makeApiClient(CustomObjectsApi);
  });
  afterEach(async () => {
    await fake.close();
  });

  it('lists with the current resourceVersion and watches from it, in order', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    const list = (await api.listNamespacedCustomObject(GS)) as { kind: string; metadata: { resourceVersion: string }; items: Array<{ metadata: { name: string } }> };
    expect(list.kind).toBe('GameServerList');
    expect(list.metadata.resourceVersion).toBe(fake.resourceVersion);
    expect(list.items.map((i) => i.metadata.name)).toEqual(['gs-1']);

    const watch = await watchFrom(kc, list.metadata.resourceVersion);
    fake.putGameServer(agonesGameServer('gs-2'));
    fake.updateGameServer('gs-1', (o) => ((o.status as { state: string }).state = 'Allocated'));
    fake.removeGameServer('gs-2');
    await fake.until(() => watch.events.length === 3, 'three events');
    expect(watch.events.map((e) => [e.type, e.name])).toEqual([
      ['ADDED', 'gs-2'],
      ['MODIFIED', 'gs-1'],
      ['DELETED', 'gs-2'],
    ]);
    expect(watch.events.map((e) => Number(e.rv))).toEqual([...watch.events.map((e) => Number(e.rv))].sort((a, b) => a - b));
    watch.stop();
  });

  it('replays the events after a past resourceVersion, and sends the current objects to a watch without one', async () => {
    const first = fake.putGameServer(agonesGameServer('gs-1'));
    fake.putGameServer(agonesGameServer('gs-2'));
    const resumed = await watchFrom(kc, first.metadata.resourceVersion as string);
    await fake.until(() => resumed.events.length === 1, 'the replayed event');
    expect(resumed.events.map((e) => [e.type, e.name])).toEqual([['ADDED', 'gs-2']]);
    const fresh = await watchFrom(kc, '');
    await fake.until(() => fresh.events.length === 2, 'the current objects');
    expect(fresh.events.map((e) => [e.type, e.name])).toEqual([
      ['ADDED', 'gs-1'],
      ['ADDED', 'gs-2'],
    ]);
    resumed.stop();
    fresh.stop();
  });

  it('holds back what watches are sent while answers go on, then sends it in order', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    const watch = await watchFrom(kc, fake.resourceVersion);
    fake.holdWatches();
    fake.updateGameServer('gs-1', (o) => ((o.status as { state: string }).state = 'Allocated'));
    fake.putGameServer(agonesGameServer('gs-2'));
    expect(((await api.getNamespacedCustomObject({ ...GS, name: 'gs-1' })) as { status: { state: string } }).status.state).toBe('Allocated');
    await new Promise((r) => setTimeout(r, 50));
    expect(watch.events).toEqual([]);
    fake.releaseWatches();
    await fake.until(() => watch.events.length === 2, 'the held events');
    expect(watch.events.map((e) => [e.type, e.name])).toEqual([
      ['MODIFIED', 'gs-1'],
      ['ADDED', 'gs-2'],
    ]);
    watch.stop();
  });

  it('answers a watch from before a compaction with a 410 Expired ERROR event, then ends the stream', async () => {
    const old = fake.putGameServer(agonesGameServer('gs-1'));
    fake.putGameServer(agonesGameServer('gs-2'));
    fake.compact();
    const watch = await watchFrom(kc, old.metadata.resourceVersion as string);
    expect(await watch.done).toBeNull();
    expect(watch.events).toEqual([{ type: 'ERROR', name: '', rv: '', code: 410 }]);
  });

  it('fails the next watches as asked with an ERROR event carrying the Status, then ends each stream', async () => {
    const gs = fake.putGameServer(agonesGameServer('gs-1'));
    fake.errorNextWatches(500);
    const failed = await watchFrom(kc, gs.metadata.resourceVersion as string);
    expect(await failed.done).toBeNull();
    expect(failed.events).toEqual([{ type: 'ERROR', name: '', rv: '', code: 500 }]);
    const next = await watchFrom(kc, '');
    await fake.until(() => next.events.length === 1, 'the next watch, answered as usual');
    expect(next.events[0]).toMatchObject({ type: 'ADDED', name: 'gs-1' });
    next.stop();
  });

  it('refuses an update without a resourceVersion (422) or with a stale one (409 Conflict)', async () => {
    const v1 = fake.putGameServer(agonesGameServer('gs-1'));
    fake.updateGameServer('gs-1', (o) => ((o.metadata.labels as Record<string, string>).mode = 'ctf'));
    const stale = { ...v1, metadata: { ...v1.metadata, labels: { mode: 'duel' } } };
    expect(await statusOf(api.replaceNamespacedCustomObject({ ...GS, name: 'gs-1', body: stale }))).toMatchObject({
      code: 409,
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on gameservers.agones.dev "gs-1": the object has been modified; please apply your changes to the latest version and try again',
    });
    const { resourceVersion: _rv, ...noVersion } = v1.metadata;
    expect(await statusOf(api.replaceNamespacedCustomObject({ ...GS, name: 'gs-1', body: { ...v1, metadata: noVersion } }))).toMatchObject({ code: 422, reason: 'Invalid' });

    const current = fake.gameServer('gs-1')!;
    const replaced = (await api.replaceNamespacedCustomObject({ ...GS, name: 'gs-1', body: { ...current, metadata: { ...current.metadata, labels: { mode: 'duel' } } } })) as {
      metadata: { resourceVersion: string; labels: Record<string, string> };
    };
    expect(replaced.metadata.labels).toEqual({ mode: 'duel' });
    expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(Number(current.metadata.resourceVersion));
  });

  it('patches: a merge patch with a stale resourceVersion is a 409, a failed JSON-patch test a 422, strategic merge a 415', async () => {
    const v1 = fake.putGameServer(agonesGameServer('gs-1'));
    fake.updateGameServer('gs-1', (o) => ((o.status as { state: string }).state = 'Allocated'));
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const patch = (body: unknown, options = merge) => api.patchNamespacedCustomObject({ ...GS, name: 'gs-1', body }, options);

    expect(await statusOf(patch({ metadata: { resourceVersion: v1.metadata.resourceVersion, labels: { a: 'b' } } }))).toMatchObject({ code: 409, reason: 'Conflict' });
    const merged = (await patch({ metadata: { labels: { a: 'b' } } })) as { metadata: { labels: Record<string, string> } };
    expect(merged.metadata.labels.a).toBe('b');

    const test = [
      { op: 'test', path: '/metadata/resourceVersion', value: v1.metadata.resourceVersion },
      { op: 'replace', path: '/status/state', value: 'Ready' },
    ];
    expect(await statusOf(patch(test, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)))).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(await statusOf(patch({ metadata: {} }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)))).toMatchObject({ code: 415 });
    expect(await statusOf(patch({ spec: { scheduling: 'Sideways' } }))).toMatchObject({ code: 422, message: expect.stringContaining('spec.scheduling') });
  });

  it('deletes with preconditions (409 on a stale resourceVersion), and only marks an object that has finalizers', async () => {
    const v1 = fake.putGameServer(agonesGameServer('gs-1'));
    fake.updateGameServer('gs-1', (o) => ((o.status as { state: string }).state = 'Allocated'));
    const del = (resourceVersion: string) => api.deleteNamespacedCustomObject({ ...GS, name: 'gs-1', body: { preconditions: { resourceVersion } } });
    expect(await statusOf(del(v1.metadata.resourceVersion as string))).toMatchObject({
      code: 409,
      message: expect.stringContaining(`Precondition failed: ResourceVersion in precondition: ${String(v1.metadata.resourceVersion)}`),
    });
    await del(fake.resourceVersion);
    expect(fake.gameServer('gs-1')?.metadata.deletionTimestamp).toEqual(expect.any(String));
    fake.updateGameServer('gs-1', (o) => (o.metadata.finalizers = []));
    expect(fake.gameServer('gs-1')).toBeUndefined();
    expect(await statusOf(api.getNamespacedCustomObject({ ...GS, name: 'gs-1' }))).toMatchObject({ code: 404, reason: 'NotFound', message: 'gameservers.agones.dev "gs-1" not found' });
  });

  it('validates GameServers against the Agones CRD, and completes a generateName', async () => {
    const bad = agonesGameServer('gs-1');
    (bad.spec as Record<string, unknown>).health = { periodSeconds: 'often' };
    expect(await statusOf(api.createNamespacedCustomObject({ ...GS, body: bad }))).toMatchObject({ code: 422, message: expect.stringContaining('spec.health.periodSeconds') });
    expect(() => fake.putGameServer(bad)).toThrow('spec.health.periodSeconds');

    const { name: _name, ...unnamed } = agonesGameServer('ignored').metadata as Record<string, unknown>;
    const created = (await api.createNamespacedCustomObject({ ...GS, body: { ...agonesGameServer('ignored'), metadata: unnamed } })) as { metadata: { name: string; uid: string } };
    expect(created.metadata.name).toMatch(/^simple-game-server-7pjrq-[a-z0-9]{5}$/);
    expect(created.metadata.uid).toEqual(expect.any(String));
  });

  it('allocates the first Ready match of the selectors in order, labels it, and says UnAllocated when nothing matches', async () => {
    fake.putGameServer(agonesGameServer('blue-1', { fleet: 'blue' }));
    fake.putGameServer(agonesGameServer('green-1', { fleet: 'green', labels: { tier: 'cache' } }));
    const allocate = (spec: unknown) =>
      api.createNamespacedCustomObject({ group: 'allocation.agones.dev', version: 'v1', namespace: 'default', plural: 'gameserverallocations', body: { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec } }) as Promise<{
        status: { state: string; gameServerName: string; metadata?: { labels: Record<string, string> } };
      }>;
    const first = await allocate({
      selectors: [{ matchLabels: { 'agones.dev/fleet': 'red' } }, { matchExpressions: [{ key: 'tier', operator: 'In', values: ['cache'] }] }],
      metadata: { labels: { mode: 'ctf' } },
    });
    expect(first.status).toMatchObject({ state: 'Allocated', gameServerName: 'green-1', metadata: { labels: { mode: 'ctf', tier: 'cache' } } });
    expect((fake.gameServer('green-1')!.status as { state: string }).state).toBe('Allocated');
    expect((await allocate({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'green' } }] })).status).toMatchObject({ state: 'UnAllocated', gameServerName: '' });
    expect(await statusOf(allocate({ scheduling: 'Sideways' }))).toMatchObject({ code: 422 });
  });

  it('carries out a request whose answer it then drops, cutting the connection', async () => {
    fake.putGameServer(agonesGameServer('blue-1', { fleet: 'blue' }));
    fake.dropNextAnswer({ verb: 'create', resource: 'gameserverallocations' });
    const body = { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': 'blue' } }] } };
    const create = () => api.createNamespacedCustomObject({ group: 'allocation.agones.dev', version: 'v1', namespace: 'default', plural: 'gameserverallocations', body });
    const err = await create().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApiException);
    expect((fake.gameServer('blue-1')!.status as { state: string }).state).toBe('Allocated');
    expect(await create()).toMatchObject({ status: { state: 'UnAllocated' } });
  });

  it('authenticates the bearer token (401) and enforces RBAC rules with the API server message (403)', async () => {
    const strict = await FakeKubeApi.start({ rules: [{ apiGroups: ['agones.dev'], resources: ['gameservers'], verbs: ['get', 'list', 'watch'] }] });
    try {
      const client = strict.kubeConfig().makeApiClient(CustomObjectsApi);
      await client.listNamespacedCustomObject(GS);
      expect(await statusOf(client.deleteNamespacedCustomObject({ ...GS, name: 'gs-1' }))).toMatchObject({
        code: 403,
        reason: 'Forbidden',
        message: 'gameservers.agones.dev "gs-1" is forbidden: User "system:serviceaccount:default:hangar-allocator" cannot delete resource "gameservers" in API group "agones.dev" in the namespace "default"',
      });
      const wrongToken = new KubeConfig();
      wrongToken.loadFromString(strict.kubeConfigYaml().replace('hangar-test-token', 'stolen'));
      await expect(wrongToken.makeApiClient(CustomObjectsApi).listNamespacedCustomObject(GS)).rejects.toMatchObject({ code: 401 });
    } finally {
      await strict.close();
    }
  });
});
