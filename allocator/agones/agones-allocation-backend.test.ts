import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { exampleText } from '../../test/fixtures/agones/agones-fixtures.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { agonesGameServer, FakeKubeApi } from '../../test/helpers/fake-kube-api.js';
import { unallocated, type GameServerAllocationSpec, type GameServerSelector } from '../allocation.js';
import type { KubernetesUnavailableError } from '../../core/errors.js';
import { AgonesAllocationBackend, type AgonesAllocationBackendOptions } from './agones-allocation-backend.js';
import { kubeError } from './kube-request.js';

// The Agones backend against the fake API server, through the real @kubernetes/client-node.

const FLEET = 'simple-game-server';

function selector(overrides: Partial<GameServerSelector> = {}): GameServerSelector {
  return { matchLabels: { 'agones.dev/fleet': FLEET }, matchExpressions: [], gameServerState: 'Ready', counters: {}, lists: {}, ...overrides };
}

function spec(overrides: Partial<GameServerAllocationSpec> = {}): GameServerAllocationSpec {
  return { selectors: [selector()], scheduling: 'Packed', priorities: [], metadata: { labels: {}, annotations: {} }, counters: {}, lists: {}, ...overrides };
}

/** A Ready server of the fleet with a rooms Counter and a players List. */
function readyServer(name: string): Record<string, unknown> {
  const obj = agonesGameServer(name, { fleet: FLEET, hostPort: 7100 });
  Object.assign(obj.spec as object, { counters: { rooms: { count: 0, capacity: 4 } }, lists: { players: { capacity: 8, values: [] } } });
  Object.assign(obj.status as object, { counters: { rooms: { count: 0, capacity: 4 } }, lists: { players: { capacity: 8, values: [] } } });
  return obj;
}

describe('AgonesAllocationBackend', () => {
  let fake: FakeKubeApi;
  let delays: number[];
  let make: (options?: Partial<AgonesAllocationBackendOptions>) => AgonesAllocationBackend;
  beforeEach(async () => {
    fake = await FakeKubeApi.start();
    delays = [];
    make = (options = {}) =>
      new AgonesAllocationBackend({
        kubeConfig: fake.kubeConfig(),
        namespace: 'default',
        delay: async (ms) => {
          delays.push(ms);
        },
        random: () => 0,
        ...options,
      });
  });
  afterEach(async () => {
    await fake.close();
  });

  it('creates a GameServerAllocation as kubectl create would, and maps the Allocated status', async () => {
    fake.putGameServer(readyServer('gs-1'));
    const result = await make().allocate(spec({ metadata: { labels: { mode: 'ctf' }, annotations: { 'hangar.dev/match-id': 'm-1' } } }));

    const [request] = fake.requests;
    expect(request).toMatchObject({ method: 'POST', verb: 'create', group: 'allocation.agones.dev', resource: 'gameserverallocations', namespace: 'default' });
    expect(request!.contentType).toMatch(/^application\/json/);
    expect(request!.body).toEqual({ apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: spec({ metadata: { labels: { mode: 'ctf' }, annotations: { 'hangar.dev/match-id': 'm-1' } } }) });

    const lastAllocated = (fake.gameServer('gs-1')!.metadata.annotations as Record<string, string>)['agones.dev/last-allocated'];
    expect(result).toEqual({
      state: 'Allocated',
      gameServerName: 'gs-1',
      ports: [{ name: 'default', port: 7100 }],
      address: '34.105.12.7',
      addresses: [
        { type: 'InternalIP', address: '10.128.0.5' },
        { type: 'ExternalIP', address: '34.105.12.7' },
        { type: 'PodIP', address: '10.16.0.7' },
      ],
      nodeName: 'gke-hangar-default-pool-1a2b',
      source: 'local',
      metadata: {
        labels: { 'agones.dev/fleet': FLEET, 'agones.dev/gameserverset': `${FLEET}-7pjrq`, mode: 'ctf' },
        annotations: { 'agones.dev/ready-container-id': 'containerd://4b1f', 'agones.dev/sdk-version': '1.61.0', 'hangar.dev/match-id': 'm-1', 'agones.dev/last-allocated': lastAllocated },
      },
      counters: { rooms: { count: 0, capacity: 4 } },
      lists: { players: { capacity: 8, values: [] } },
    });
    expect((fake.gameServer('gs-1')!.status as { state: string }).state).toBe('Allocated');
  });

  it('returns UnAllocated when no server matches', async () => {
    fake.putGameServer(readyServer('gs-1'));
    expect(await make().allocate(spec({ selectors: [selector({ matchLabels: { 'agones.dev/fleet': 'other' } })] }))).toEqual(unallocated());
  });

  it('retries Contention with exponential back-off, then returns the allocation', async () => {
    fake.putGameServer(readyServer('gs-1'));
    fake.contendNext(2);
    const result = await make({ contention: { retries: 3, initialDelayMs: 100, maxDelayMs: 150 } }).allocate(spec());
    expect(result.state).toBe('Allocated');
    expect(fake.requests).toHaveLength(3);
    // random() = 0: half of each step (100, then 200 capped at 150).
    expect(delays).toEqual([50, 75]);
  });

  it('returns Contention once the retries are spent', async () => {
    fake.putGameServer(readyServer('gs-1'));
    fake.contendNext(10);
    const result = await make({ contention: { retries: 2, initialDelayMs: 100, maxDelayMs: 1000 }, random: () => 0.5 }).allocate(spec());
    expect(result).toEqual({ ...unallocated(), state: 'Contention' });
    expect(fake.requests).toHaveLength(3);
    expect(delays).toEqual([75, 150]);
  });

  it('surfaces a 403 as KUBE_FORBIDDEN naming the RBAC rule to add', async () => {
    await fake.close();
    fake = await FakeKubeApi.start({ rules: [{ apiGroups: ['agones.dev'], resources: ['gameservers'], verbs: ['get', 'list', 'watch'] }] });
    await expect(make().allocate(spec())).rejects.toMatchObject({
      code: 'KUBE_FORBIDDEN',
      message: expect.stringMatching(
        /^create gameserverallocations\.allocation\.agones\.dev in namespace default: the API server answered 403: gameserverallocations\.allocation\.agones\.dev is forbidden: User ".*" cannot create .*Grant Hangar's service account "create" on gameserverallocations in API group allocation\.agones\.dev \(namespace default\)/,
      ),
    });
  });

  it('surfaces a 500 as KUBE_UNAVAILABLE and does not retry it', async () => {
    fake.putGameServer(readyServer('gs-1'));
    fake.failNext({ verb: 'create' }, 500);
    await expect(make().allocate(spec())).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE', message: expect.stringContaining('the API server answered 500: Internal error occurred') });
    expect(fake.requests).toHaveLength(1);
  });

  it('sends a request the API server throttled (429) again after its Retry-After, a bounded number of times', async () => {
    fake.putGameServer(readyServer('gs-1'));
    fake.failNext({ resource: 'gameserverallocations' }, 429, 2);
    expect((await make().allocate(spec())).gameServerName).toBe('gs-1');
    expect(fake.requests).toHaveLength(3);
    expect(delays).toEqual([1000, 1000]);

    delays = [];
    fake.failNext({ resource: 'gameserverallocations' }, 429, 10);
    await expect(make({ throttledRetries: 2 }).allocate(spec())).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE', message: expect.stringContaining('the API server answered 429') });
    expect(fake.requests).toHaveLength(6);
    expect(delays).toEqual([1000, 1000]);
  });

  it("reads a 429's Retry-After (whole seconds; 1 s when it has none), and a 5xx carries none", () => {
    const action = { verb: 'create', resource: 'gameserverallocations', group: 'allocation.agones.dev', namespace: 'default' } as const;
    const retryAfter = (code: number, headers: Record<string, string>) => (kubeError(new ApiException(code, 'refused', '{}', headers), action) as KubernetesUnavailableError).retryAfterMs;
    expect(retryAfter(429, { 'retry-after': '3' })).toBe(3000);
    expect(retryAfter(429, { 'Retry-After': '2' })).toBe(2000);
    expect(retryAfter(429, {})).toBe(1000);
    expect(retryAfter(503, { 'retry-after': '3' })).toBeUndefined();
  });

  it('gives up on a request with no answer after the timeout on its clock', async () => {
    const clock = new FakeClock();
    fake.hangNext({ verb: 'create' });
    const pending = make({ clock, requestTimeoutMs: 2000 }).allocate(spec());
    await fake.until(() => fake.requests.length === 1, 'the allocation request');
    clock.advance(2000);
    await expect(pending).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE', message: 'create gameserverallocations.allocation.agones.dev in namespace default: no answer from the Kubernetes API server within 2000 ms' });
  });

  it('surfaces an unreachable API server as KUBE_UNAVAILABLE', async () => {
    const kubeConfig = fake.kubeConfig();
    await fake.close();
    await expect(make({ kubeConfig }).allocate(spec())).rejects.toMatchObject({ code: 'KUBE_UNAVAILABLE', message: expect.stringContaining('cannot reach the Kubernetes API server') });
    fake = await FakeKubeApi.start();
  });

  it('surfaces other refusals as KUBE_REQUEST_FAILED with their status (404: Agones not installed)', async () => {
    fake.failNext({ resource: 'gameserverallocations' }, 404);
    await expect(make().allocate(spec())).rejects.toMatchObject({ code: 'KUBE_REQUEST_FAILED', status: 404 });
  });

  it('refuses a players selector before sending anything: Agones 1.59 removed it', async () => {
    await expect(make().allocate(spec({ selectors: [selector(), selector({ players: { minAvailable: 2, maxAvailable: 0 } })] }))).rejects.toMatchObject({
      code: 'ALLOCATION_INVALID',
      message: expect.stringContaining('spec.selectors[1].players: Agones 1.59 removed the players selector'),
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('reaches the cluster through a kubeconfig as KubeConfig loads it', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(fake.kubeConfigYaml('arena'));
    fake.putGameServer({ ...readyServer('gs-9'), metadata: { ...(readyServer('gs-9').metadata as object), namespace: 'arena' } });
    expect((await make({ kubeConfig, namespace: 'arena' }).allocate(spec())).gameServerName).toBe('gs-9');
  });
});

// GameServerAllocation has no CRD (it is an aggregated API), so the body Hangar sends is held
// against the shape of allocator/allocation.ts, written out below as a strict JSON schema, and its
// field names against Agones' own full example (examples/gameserverallocation.yaml).
describe('the GameServerAllocation body', () => {
  const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
  const closed = (properties: Record<string, unknown>, optional: string[] = []) => ({
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  });
  const int = { type: 'integer', minimum: 0 };
  const SCHEMA = closed({
    apiVersion: { const: 'allocation.agones.dev/v1' },
    kind: { const: 'GameServerAllocation' },
    spec: closed({
      selectors: {
        type: 'array',
        items: closed(
          {
            matchLabels: stringMap,
            matchExpressions: { type: 'array', items: closed({ key: { type: 'string' }, operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: { type: 'array', items: { type: 'string' } } }) },
            gameServerState: { enum: ['Ready', 'Allocated'] },
            counters: { type: 'object', additionalProperties: closed({ minCount: int, maxCount: int, minAvailable: int, maxAvailable: int }) },
            lists: { type: 'object', additionalProperties: closed({ containsValue: { type: 'string' }, minAvailable: int, maxAvailable: int }) },
          },
          [],
        ),
      },
      scheduling: { enum: ['Packed', 'Distributed'] },
      priorities: { type: 'array', items: closed({ type: { enum: ['Counter', 'List'] }, key: { type: 'string' }, order: { enum: ['Ascending', 'Descending'] } }) },
      metadata: closed({ labels: stringMap, annotations: stringMap }),
      counters: { type: 'object', additionalProperties: closed({ action: { enum: ['Increment', 'Decrement'] }, amount: int, capacity: int }, ['action', 'amount', 'capacity']) },
      lists: { type: 'object', additionalProperties: closed({ addValues: { type: 'array', items: { type: 'string' } }, deleteValues: { type: 'array', items: { type: 'string' } }, capacity: int }, ['capacity']) },
    }),
  });

  /** Every field path of a document, with map keys (labels, counters, lists) and list indexes as `*`. */
  function fieldPaths(value: unknown, path = '', inMap = false): string[] {
    if (Array.isArray(value)) return value.flatMap((v) => fieldPaths(v, `${path}[*]`));
    if (value === null || typeof value !== 'object') return [path];
    return Object.entries(value).flatMap(([k, v]) => {
      const here = `${path}.${inMap ? '*' : k}`;
      return [here, ...fieldPaths(v, here, ['matchLabels', 'labels', 'annotations', 'counters', 'lists'].includes(k) && !inMap)];
    });
  }

  /** The spec of Agones' example with every field, in Hangar's (defaulted) type. */
  const FULL: GameServerAllocationSpec = {
    selectors: [
      selector({ matchLabels: { 'agones.dev/fleet': 'green-fleet' } }),
      selector({
        matchLabels: { game: 'my-game' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['cache'] }],
        counters: { rooms: { minCount: 1, maxCount: 5, minAvailable: 1, maxAvailable: 10 } },
        lists: { players: { containsValue: 'x6k8z', minAvailable: 1, maxAvailable: 10 } },
      }),
    ],
    scheduling: 'Packed',
    priorities: [{ type: 'Counter', key: 'rooms', order: 'Ascending' }],
    metadata: { labels: { mode: 'deathmatch' }, annotations: { map: 'garden22' } },
    counters: { rooms: { action: 'Increment', amount: 1, capacity: 5 } },
    lists: { players: { addValues: ['x7un', '8inz'], deleteValues: ['alice'], capacity: 40 } },
  };

  let fake: FakeKubeApi;
  beforeEach(async () => {
    fake = await FakeKubeApi.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("fits allocation.ts's shape and uses only field names Agones' example uses", async () => {
    await new AgonesAllocationBackend({ kubeConfig: fake.kubeConfig(), namespace: 'default' }).allocate(FULL);
    const sent = fake.requests[0]!.body;
    const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);
    expect(validate(sent) ? [] : validate.errors).toEqual([]);

    const example = parse(exampleText('gameserverallocation.yaml')) as Record<string, unknown>;
    const known = new Set(fieldPaths({ apiVersion: example.apiVersion, kind: example.kind, spec: example.spec }));
    expect(fieldPaths(sent).filter((p) => !known.has(p))).toEqual([]);
  });
});
