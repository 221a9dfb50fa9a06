import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { GameServerState as S, transition, type GameServer } from '../../core/game-server.js';
import { silentLogger } from '../../core/logger.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { startLocalSdkServer, type LocalSdkServer, type LocalSdkServerOptions } from './local-sdk-server.js';
import type { SdkGameServer } from '../../gameserver/agones-sdk.js';
import { closeSdkTestClient, createSdkTestClient, type SdkTestClient } from '../../test/helpers/sdk-test-client.js';

// Every call goes through the official @google-cloud/agones-sdk client, against a real
// MemoryGameServerStore; time-driven behaviour (reserve, health) runs on a FakeClock.

const NAME = 'gs-1';
const CREATED = '2026-01-01T00:00:00.000Z';

function gameServer(state: GameServer['status']['state'] = S.Scheduled): GameServer {
  return {
    metadata: {
      name: NAME,
      namespace: 'default',
      uid: 'uid-1',
      resourceVersion: '0',
      generation: 1,
      creationTimestamp: CREATED,
      labels: { 'agones.dev/fleet': 'arena' },
      annotations: { note: 'hello' },
    },
    spec: {
      container: 'game',
      ports: [{ name: 'default', portPolicy: 'Dynamic', protocol: 'UDP', containerPort: 7777, hostPort: 7042 }],
      health: { disabled: false, initialDelaySeconds: 10, periodSeconds: 3, failureThreshold: 2 },
      scheduling: 'Packed',
      sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
      counters: { rooms: { count: 1, capacity: 10 } },
      lists: { players: { capacity: 3, values: ['p0'] } },
      eviction: { safe: 'Never' },
      template: { spec: { containers: [{ name: 'game', command: ['node', 'server.js'] }] } },
    },
    status: {
      state,
      address: '127.0.0.1',
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      ports: [{ name: 'default', port: 7042 }],
      nodeName: 'local',
      reservedUntil: null,
      players: null,
      counters: { rooms: { count: 1, capacity: 10 } },
      lists: { players: { capacity: 3, values: ['p0'] } },
    },
  };
}

interface Harness {
  store: MemoryGameServerStore;
  clock: FakeClock;
  server: LocalSdkServer;
  sdk: SdkTestClient;
  failures: string[];
  record(): Promise<GameServer>;
}

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: { record?: GameServer; featureGates?: LocalSdkServerOptions['featureGates'] } = {}): Promise<Harness> {
  const store = new MemoryGameServerStore();
  cleanups.push(() => store.close());
  const clock = new FakeClock();
  await store.create(options.record ?? gameServer());
  const failures: string[] = [];
  const server = await startLocalSdkServer({
    gameServerName: NAME,
    store,
    clock,
    log: silentLogger,
    featureGates: options.featureGates,
    onHealthFailure: (reason) => failures.push(reason),
  });
  cleanups.push(() => server.close());
  const sdk = createSdkTestClient(server.port);
  cleanups.push(() => closeSdkTestClient(sdk));
  const record = async () => (await store.get(NAME))!;
  return { store, clock, server, sdk, failures, record };
}

/** The gRPC status of a rejected SDK call. */
async function grpcError(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (err) {
    const { code, details } = err as { code: number; details: string };
    return { code, details };
  }
  throw new Error('expected the call to fail');
}

/** Polls (real time) until `condition` holds: for effects that travel over the network. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

// The SDK package's own message classes, for requests its methods cannot express.
const requireSdk = createRequire(createRequire(import.meta.url).resolve('@google-cloud/agones-sdk/package.json'));
const sdkPb = requireSdk('./lib/sdk_pb.js') as { Empty: new () => object };
interface JspbList {
  setName(v: string): JspbList;
  setCapacity(v: number): JspbList;
  setValuesList(v: string[]): JspbList;
}
const betaPb = requireSdk('./lib/beta/beta_pb.js') as {
  List: new () => JspbList;
  UpdateListRequest: new () => { setList(l: JspbList): void; setUpdateMask(m: object): void };
};
const fieldMaskPb = requireSdk('google-protobuf/google/protobuf/field_mask_pb.js') as { FieldMask: new () => { setPathsList(p: string[]): object } };

/** Sends UpdateList with an explicit mask (or none) through the SDK's own beta client. */
function updateListRaw(sdk: SdkTestClient, list: { name: string; capacity: number; values: string[] }, paths: string[] | undefined): Promise<unknown> {
  const request = new betaPb.UpdateListRequest();
  request.setList(new betaPb.List().setName(list.name).setCapacity(list.capacity).setValuesList(list.values));
  if (paths) request.setUpdateMask(new fieldMaskPb.FieldMask().setPathsList(paths));
  const updateList = sdk.beta.client.updateList as (req: object, cb: (err: Error | null) => void) => void;
  return new Promise((resolve, reject) => updateList.call(sdk.beta.client, request, (err) => (err ? reject(err) : resolve(undefined))));
}

/** A raw watch stream from the SDK's own core client, to observe how the server ends it. */
function rawWatch(sdk: SdkTestClient): { states: string[]; ended: Promise<{ code: number }> } {
  const watch = sdk.client.watchGameServer as (req: object) => ClientReadableStream<{ toObject(): SdkGameServer }>;
  const stream = watch.call(sdk.client, new sdkPb.Empty());
  const states: string[] = [];
  stream.on('data', (gs) => states.push(gs.toObject().status.state));
  const ended = new Promise<{ code: number }>((resolve) => stream.on('status', (s: { code: number }) => resolve(s)));
  stream.on('error', () => undefined);
  return { states, ended };
}

describe('startLocalSdkServer', () => {
  it('binds 127.0.0.1 on an ephemeral port', async () => {
    const { server, sdk } = await start();
    expect(server.port).toBeGreaterThan(0);
    await sdk.connect();
  });

  it('refuses to start for a game server the store does not have', async () => {
    const store = new MemoryGameServerStore();
    const options = { gameServerName: 'nope', store, clock: new FakeClock(), log: silentLogger, onHealthFailure: () => undefined };
    await expect(startLocalSdkServer(options)).rejects.toThrow('game server nope not found');
  });

  it('close() answers open health streams instead of waiting for the client', async () => {
    const { sdk, server } = await start();
    sdk.health(() => undefined);
    await waitFor(() => server.healthPings === 1, 'a ping');
    await server.close();
  });

  it('close() is idempotent', async () => {
    const { server } = await start();
    await Promise.all([server.close(), server.close()]);
    await server.close();
  });
});

describe('state changes', () => {
  it('Ready requests RequestReady (the controller makes it Ready)', async () => {
    const { sdk, record } = await start();
    await expect(sdk.ready()).resolves.toEqual({});
    expect((await record()).status.state).toBe(S.RequestReady);
    expect((await sdk.getGameServer()).status.state).toBe(S.RequestReady);
  });

  it('Allocate makes it Allocated and stamps agones.dev/last-allocated', async () => {
    const { sdk, record, clock } = await start({ record: gameServer(S.Ready) });
    await sdk.allocate();
    const gs = await record();
    expect(gs.status.state).toBe(S.Allocated);
    expect(gs.metadata.annotations['agones.dev/last-allocated']).toBe(new Date(clock.now()).toISOString());
  });

  it('Shutdown makes it Shutdown', async () => {
    const { sdk, record } = await start({ record: gameServer(S.Allocated) });
    await sdk.shutdown();
    expect((await record()).status.state).toBe(S.Shutdown);
  });

  it('Reserve(seconds) reserves until a deadline, then a clock timer returns it to Ready', async () => {
    const { sdk, record, clock } = await start({ record: gameServer(S.Ready) });
    await sdk.reserve(10);
    let gs = await record();
    expect(gs.status.state).toBe(S.Reserved);
    expect(gs.status.reservedUntil).toBe(new Date(clock.now() + 10_000).toISOString());
    clock.advance(9_999);
    expect((await record()).status.state).toBe(S.Reserved);
    clock.advance(1);
    gs = await record();
    expect(gs.status.state).toBe(S.Ready);
    expect(gs.status.reservedUntil).toBeNull();
  });

  it('Reserve(0) reserves until the next state change, with no deadline and no timer', async () => {
    const { sdk, record, clock } = await start({ record: gameServer(S.Ready) });
    const timersBefore = clock.pendingTimers;
    await sdk.reserve(0);
    const gs = await record();
    expect(gs.status.state).toBe(S.Reserved);
    expect(gs.status.reservedUntil).toBeNull();
    expect(clock.pendingTimers).toBe(timersBefore);
    clock.advance(24 * 3_600_000);
    expect((await record()).status.state).toBe(S.Reserved);
  });

  it('a later SDK state change cancels the reserve timer', async () => {
    const { sdk, record, clock } = await start({ record: gameServer(S.Ready) });
    const timersBefore = clock.pendingTimers;
    await sdk.reserve(10);
    expect(clock.pendingTimers).toBe(timersBefore + 1);
    await sdk.allocate();
    expect(clock.pendingTimers).toBe(timersBefore);
    clock.advance(60_000);
    expect((await record()).status.state).toBe(S.Allocated);
  });

  it('a state change by someone else (e.g. the allocator) cancels the reserve timer too', async () => {
    const { sdk, store, record, clock } = await start({ record: gameServer(S.Ready) });
    const timersBefore = clock.pendingTimers;
    await sdk.reserve(10);
    await store.update(NAME, (gs) => transition(gs, S.Allocated));
    expect(clock.pendingTimers).toBe(timersBefore);
    clock.advance(60_000);
    expect((await record()).status.state).toBe(S.Allocated);
  });

  it('a new Reserve replaces the previous deadline', async () => {
    const { sdk, record, clock } = await start({ record: gameServer(S.Ready) });
    await sdk.reserve(10);
    clock.advance(5_000);
    await sdk.reserve(10);
    clock.advance(9_999);
    expect((await record()).status.state).toBe(S.Reserved);
    clock.advance(1);
    expect((await record()).status.state).toBe(S.Ready);
  });

  it('a sidecar started during a timed reservation still ends it on time', async () => {
    const clockStart = new FakeClock().now();
    const reserved = gameServer(S.Reserved);
    reserved.status.reservedUntil = new Date(clockStart + 4_000).toISOString();
    const { record, clock } = await start({ record: reserved });
    clock.advance(3_999);
    expect((await record()).status.state).toBe(S.Reserved);
    clock.advance(1);
    expect((await record()).status.state).toBe(S.Ready);
  });

  it('Unhealthy cannot be left: Ready, Allocate, Reserve and Shutdown succeed without a change', async () => {
    const { sdk, record } = await start({ record: gameServer(S.Unhealthy) });
    const before = await record();
    await expect(sdk.ready()).resolves.toEqual({});
    await expect(sdk.allocate()).resolves.toEqual({});
    await expect(sdk.reserve(5)).resolves.toEqual({});
    await expect(sdk.shutdown()).resolves.toEqual({});
    const after = await record();
    expect(after.status.state).toBe(S.Unhealthy);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('Shutdown cannot be left either', async () => {
    const { sdk, record } = await start({ record: gameServer(S.Ready) });
    await sdk.shutdown();
    await sdk.ready();
    await sdk.allocate();
    expect((await record()).status.state).toBe(S.Shutdown);
  });

  it('a server being deleted is not moved', async () => {
    const deleting = gameServer(S.Ready);
    deleting.metadata.deletionTimestamp = CREATED;
    const { sdk, record } = await start({ record: deleting });
    await sdk.allocate();
    expect((await record()).status.state).toBe(S.Ready);
  });

  it('a move the GameServer model forbids (Ready while still Starting) is FAILED_PRECONDITION', async () => {
    const { sdk, record } = await start({ record: gameServer(S.Starting) });
    expect(await grpcError(sdk.ready())).toEqual({ code: 9, details: 'game server gs-1 cannot move from Starting to RequestReady' });
    expect((await record()).status.state).toBe(S.Starting);
  });

  it('a record that is gone is reported, not invented', async () => {
    const { sdk, store } = await start();
    await store.delete(NAME);
    expect(await grpcError(sdk.ready())).toEqual({ code: 2, details: 'game server gs-1 not found' });
    expect(await grpcError(sdk.getGameServer())).toEqual({ code: 2, details: 'game server gs-1 not found' });
  });
});

describe('store failures', () => {
  it('reach the client as 2 UNKNOWN naming the call, and nothing is stored', async () => {
    const store = new MemoryGameServerStore();
    cleanups.push(() => store.close());
    await store.create(gameServer(S.Ready));
    const failing = Object.assign(Object.create(store) as MemoryGameServerStore, {
      update: async () => {
        throw new Error('connection to the store lost');
      },
    });
    const server = await startLocalSdkServer({ gameServerName: NAME, store: failing, clock: new FakeClock(), log: silentLogger, onHealthFailure: () => undefined });
    cleanups.push(() => server.close());
    const sdk = createSdkTestClient(server.port);
    cleanups.push(() => closeSdkTestClient(sdk));
    expect(await grpcError(sdk.allocate())).toEqual({ code: 2, details: 'Allocate: connection to the store lost' });
    expect(await grpcError(sdk.beta.incrementCounter('rooms', 1))).toEqual({ code: 2, details: 'UpdateCounter: connection to the store lost' });
    expect((await store.get(NAME))!.status).toMatchObject({ state: S.Ready, counters: { rooms: { count: 1, capacity: 10 } } });
  });
});

describe('Health', () => {
  it('counts every ping', async () => {
    const { sdk, server } = await start();
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) sdk.health((err) => errors.push(err));
    await waitFor(() => server.healthPings === 3, '3 pings');
    expect(errors).toEqual([]);
  });

  it('reports a silent server after failureThreshold periods, and not before the initial delay', async () => {
    // spec.health: initialDelaySeconds 10, periodSeconds 3, failureThreshold 2
    const { failures, clock } = await start();
    clock.advance(9_999);
    expect(failures).toEqual([]);
    clock.advance(1); // first check: one failure
    clock.advance(2_999);
    expect(failures).toEqual([]);
    clock.advance(1); // second failed check
    expect(failures).toEqual(['no health ping for 13s (2 failed checks, periodSeconds 3, failureThreshold 2)']);
  });

  it('does not report a server that pings through the real client once per period', async () => {
    const { sdk, server, failures, clock } = await start();
    for (let i = 1; i <= 12; i++) {
      sdk.health(() => undefined);
      await waitFor(() => server.healthPings === i, `ping ${i}`);
      clock.advance(3_000);
    }
    expect(failures).toEqual([]);
  });

  it('does not check when spec.health.disabled', async () => {
    const record = gameServer();
    record.spec.health.disabled = true;
    const { failures, clock } = await start({ record });
    clock.advance(3_600_000);
    expect(failures).toEqual([]);
  });

  it('stops checking once the server is Unhealthy', async () => {
    const { failures, clock, store } = await start({ record: gameServer(S.Ready) });
    await store.update(NAME, (gs) => transition(gs, S.Unhealthy));
    clock.advance(3_600_000);
    expect(failures).toEqual([]);
  });

  it('does not change the state itself on failure: the caller applies the policy', async () => {
    const { failures, clock, record } = await start({ record: gameServer(S.Ready) });
    clock.advance(13_000);
    expect(failures).toHaveLength(1);
    expect((await record()).status.state).toBe(S.Ready);
  });
});

describe('GetGameServer', () => {
  it('returns the record as the SDK GameServer: metadata, health, state, addresses, ports, players, counters, lists', async () => {
    const record = gameServer(S.Ready);
    record.status.players = { count: 1, capacity: 4, ids: ['alice'] };
    const { sdk } = await start({ record, featureGates: { PlayerTracking: true } });
    await sdk.setLabel('map', 'dust');
    await sdk.setAnnotation('motd', 'Welcome, all!');

    const gs = await sdk.getGameServer();

    expect(gs.objectMeta).toEqual({
      name: NAME,
      namespace: 'default',
      uid: 'uid-1',
      resourceVersion: expect.any(String),
      generation: 1,
      creationTimestamp: Date.parse(CREATED) / 1000,
      deletionTimestamp: 0,
      labelsMap: [
        ['agones.dev/fleet', 'arena'],
        ['agones.dev/sdk-map', 'dust'],
      ],
      annotationsMap: [
        ['agones.dev/sdk-motd', 'Welcome, all!'],
        ['note', 'hello'],
      ],
    });
    expect(gs.spec).toEqual({ health: { disabled: false, periodSeconds: 3, failureThreshold: 2, initialDelaySeconds: 10 } });
    expect(gs.status).toEqual({
      state: 'Ready',
      address: '127.0.0.1',
      addressesList: [{ type: 'InternalIP', address: '127.0.0.1' }],
      portsList: [{ name: 'default', port: 7042 }],
      players: { count: 1, capacity: 4, idsList: ['alice'] },
      countersMap: [['rooms', { count: 1, capacity: 10 }]],
      listsMap: [['players', { capacity: 3, valuesList: ['p0'] }]],
    });
  });

  it('leaves players out without PlayerTracking, and counters and lists out without CountsAndLists', async () => {
    const record = gameServer();
    record.status.players = { count: 0, capacity: 4, ids: [] };
    const { sdk } = await start({ record, featureGates: { CountsAndLists: false } });
    const gs = await sdk.getGameServer();
    expect(gs.status.players).toBeUndefined();
    expect(gs.status.countersMap).toEqual([]);
    expect(gs.status.listsMap).toEqual([]);
  });
});

describe('WatchGameServer', () => {
  it('sends the current record first, then one message per change of this record', async () => {
    const { sdk, store } = await start();
    const seen: SdkGameServer[] = [];
    const errors: unknown[] = [];
    sdk.watchGameServer(
      (gs) => seen.push(gs),
      (err) => errors.push(err),
    );
    await waitFor(() => seen.length === 1, 'the snapshot');
    await sdk.ready();
    await store.update(NAME, (gs) => transition(gs, S.Ready)); // the controller's move
    await sdk.setLabel('map', 'dust');
    await sdk.allocate();
    await store.create({ ...gameServer(), metadata: { ...gameServer().metadata, name: 'other' } }); // not this record
    await waitFor(() => seen.length >= 5, '5 messages');
    await settle();
    expect(seen.map((gs) => gs.status.state)).toEqual([S.Scheduled, S.RequestReady, S.Ready, S.Ready, S.Allocated]);
    expect(seen[3]!.objectMeta.labelsMap).toContainEqual(['agones.dev/sdk-map', 'dust']);
    expect(errors).toEqual([]);
  });

  it('ends every watch stream when the server reaches Shutdown, after sending that state', async () => {
    const { sdk } = await start({ record: gameServer(S.Ready) });
    const first = rawWatch(sdk);
    const second = rawWatch(sdk);
    await waitFor(() => first.states.length === 1 && second.states.length === 1, 'snapshots');
    await sdk.shutdown();
    expect(await first.ended).toMatchObject({ code: 0 });
    expect(await second.ended).toMatchObject({ code: 0 });
    expect(first.states).toEqual([S.Ready, S.Shutdown]);
  });

  it('a watch opened after Shutdown gets the snapshot and ends', async () => {
    const { sdk } = await start({ record: gameServer(S.Shutdown) });
    const watch = rawWatch(sdk);
    expect(await watch.ended).toMatchObject({ code: 0 });
    expect(watch.states).toEqual([S.Shutdown]);
  });

  it('ends watch streams when the record is deleted, and on close()', async () => {
    const { sdk, store } = await start();
    const deleted = rawWatch(sdk);
    await waitFor(() => deleted.states.length === 1, 'snapshot');
    await store.delete(NAME);
    expect(await deleted.ended).toMatchObject({ code: 0 });

    const other = await start();
    const closed = rawWatch(other.sdk);
    await waitFor(() => closed.states.length === 1, 'snapshot');
    await other.server.close();
    expect(await closed.ended).toMatchObject({ code: 0 });
  });

  it('lets a game-server process that watched exit once it has called shutdown() and close()', async () => {
    const { server } = await start({ record: gameServer(S.Scheduled) });
    const script = `
      const AgonesSDK = require('@google-cloud/agones-sdk');
      const sdk = new AgonesSDK();
      (async () => {
        await sdk.connect();
        sdk.health(() => {});
        const states = [];
        const shutdownSeen = new Promise((resolve) => sdk.watchGameServer((gs) => {
          states.push(gs.status.state);
          if (gs.status.state === 'Shutdown') resolve();
        }));
        await sdk.ready();
        await sdk.shutdown();
        await shutdownSeen;
        sdk.close();
        console.log(JSON.stringify(states));
      })().catch((err) => { console.error(err); process.exit(2); });
    `;
    const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
    const child = spawn(process.execPath, ['-e', script], {
      cwd: repoRoot,
      env: { ...process.env, AGONES_SDK_GRPC_PORT: String(server.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = Date.now();
    const exit = await new Promise<{ code: number | null; ms: number }>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, ms: Date.now() - started });
      });
    });
    expect({ code: exit.code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(exit.ms).toBeLessThan(5_000);
    expect(JSON.parse(stdout)).toEqual([S.Scheduled, S.RequestReady, S.Shutdown]);
    await waitFor(() => server.healthPings === 1, 'the child ping');
  });
});

describe('SetLabel and SetAnnotation', () => {
  it('store agones.dev/sdk-<key>', async () => {
    const { sdk, record } = await start();
    await sdk.setLabel('map', 'dust');
    await sdk.setLabel('empty', '');
    await sdk.setAnnotation('motd', 'any text: spaces, UPPER, ünïcode');
    const gs = await record();
    expect(gs.metadata.labels).toMatchObject({ 'agones.dev/sdk-map': 'dust', 'agones.dev/sdk-empty': '' });
    expect(gs.metadata.annotations['agones.dev/sdk-motd']).toBe('any text: spaces, UPPER, ünïcode');
  });

  it('refuse a bad label key with INVALID_ARGUMENT, as the sidecar does', async () => {
    const { sdk, record } = await start();
    const err = await grpcError(sdk.setLabel('bad key', 'x'));
    expect(err.code).toBe(3);
    expect(err.details).toMatch(/^invalid label key "bad key": name part must consist of alphanumeric characters/);
    expect(Object.keys((await record()).metadata.labels)).toEqual(['agones.dev/fleet']);
  });

  it('refuse a bad label value (too long, or outside the label alphabet)', async () => {
    const { sdk } = await start();
    expect(await grpcError(sdk.setLabel('map', 'x'.repeat(64)))).toEqual({
      code: 3,
      details: `invalid label value "${'x'.repeat(64)}" for key "map": must be no more than 63 bytes`,
    });
    const err = await grpcError(sdk.setLabel('map', 'two words'));
    expect(err.code).toBe(3);
    expect(err.details).toMatch(/^invalid label value "two words" for key "map": a valid label must be an empty string or consist of/);
  });

  it('refuse keys that are valid alone but not once prefixed with agones.dev/sdk-', async () => {
    const { sdk } = await start();
    const prefixed = await grpcError(sdk.setLabel('example.com/map', 'dust'));
    expect(prefixed.code).toBe(3);
    expect(prefixed.details).toMatch(/^invalid label key "example.com\/map": it is stored as "agones.dev\/sdk-example.com\/map", which Kubernetes refuses: a valid label key/);
    const long = await grpcError(sdk.setAnnotation('k'.repeat(60), 'v'));
    expect(long).toEqual({
      code: 3,
      details: `invalid annotation key "${'k'.repeat(60)}": it is stored as "agones.dev/sdk-${'k'.repeat(60)}", which Kubernetes refuses: name part must be no more than 63 bytes`,
    });
  });

  it('refuse a bad annotation key', async () => {
    const { sdk } = await start();
    const err = await grpcError(sdk.setAnnotation('', 'v'));
    expect(err.code).toBe(3);
    expect(err.details).toMatch(/^invalid annotation key "": name part must be non-empty/);
  });

  it('still apply to an Unhealthy server (only its state is frozen)', async () => {
    const { sdk, record } = await start({ record: gameServer(S.Unhealthy) });
    await sdk.setLabel('map', 'dust');
    expect((await record()).metadata.labels['agones.dev/sdk-map']).toBe('dust');
  });
});

describe('alpha: player tracking', () => {
  it('every call is "PlayerTracking not enabled" (2 UNKNOWN) without the feature gate', async () => {
    const { sdk } = await start();
    const notEnabled = { code: 2, details: 'PlayerTracking not enabled' };
    expect(await grpcError(sdk.alpha.playerConnect('alice'))).toEqual(notEnabled);
    expect(await grpcError(sdk.alpha.playerDisconnect('alice'))).toEqual(notEnabled);
    expect(await grpcError(sdk.alpha.setPlayerCapacity(4))).toEqual(notEnabled);
    expect(await grpcError(sdk.alpha.getPlayerCapacity())).toEqual(notEnabled);
    expect(await grpcError(sdk.alpha.getPlayerCount())).toEqual(notEnabled);
    expect(await grpcError(sdk.alpha.isPlayerConnected('alice'))).toEqual(notEnabled);
    expect(await grpcError(sdk.alpha.getConnectedPlayers())).toEqual(notEnabled);
  });

  it('connects and disconnects players within the capacity, as the sidecar does', async () => {
    const { sdk, record } = await start({ featureGates: { PlayerTracking: true } });
    expect(await sdk.alpha.getPlayerCapacity()).toBe(0);
    expect(await sdk.alpha.getConnectedPlayers()).toEqual([]);
    expect(await grpcError(sdk.alpha.playerConnect('alice'))).toEqual({ code: 2, details: 'players are already at capacity' });

    await sdk.alpha.setPlayerCapacity(2);
    expect(await sdk.alpha.getPlayerCapacity()).toBe(2);
    expect(await sdk.alpha.playerConnect('alice')).toBe(true);
    expect(await sdk.alpha.playerConnect('alice')).toBe(false);
    expect(await sdk.alpha.playerConnect('bob')).toBe(true);
    expect(await grpcError(sdk.alpha.playerConnect('carol'))).toEqual({ code: 2, details: 'players are already at capacity' });
    expect(await sdk.alpha.getPlayerCount()).toBe(2);
    expect(await sdk.alpha.isPlayerConnected('bob')).toBe(true);
    expect(await sdk.alpha.isPlayerConnected('carol')).toBe(false);
    expect(await sdk.alpha.getConnectedPlayers()).toEqual(['alice', 'bob']);
    expect((await record()).status.players).toEqual({ count: 2, capacity: 2, ids: ['alice', 'bob'] });

    expect(await sdk.alpha.playerDisconnect('alice')).toBe(true);
    expect(await sdk.alpha.playerDisconnect('alice')).toBe(false);
    expect(await sdk.alpha.getPlayerCount()).toBe(1);
    expect((await record()).status.players).toEqual({ count: 1, capacity: 2, ids: ['bob'] });
    expect((await sdk.getGameServer()).status.players).toEqual({ count: 1, capacity: 2, idsList: ['bob'] });
  });

  it('starts from the capacity in the record (spec.players.initialCapacity)', async () => {
    const record = gameServer();
    record.status.players = { count: 0, capacity: 8, ids: [] };
    const { sdk } = await start({ record, featureGates: { PlayerTracking: true } });
    expect(await sdk.alpha.getPlayerCapacity()).toBe(8);
    expect(await sdk.alpha.playerConnect('alice')).toBe(true);
  });

  it('connects concurrently without losing anyone', async () => {
    const { sdk, record } = await start({ featureGates: { PlayerTracking: true } });
    await sdk.alpha.setPlayerCapacity(100);
    const ids = Array.from({ length: 25 }, (_, i) => `p${i}`);
    expect(await Promise.all(ids.map((id) => sdk.alpha.playerConnect(id)))).toEqual(ids.map(() => true));
    expect((await record()).status.players?.count).toBe(25);
  });
});

describe('beta: counters', () => {
  it('get, increment, decrement, set count and set capacity', async () => {
    const { sdk, record } = await start();
    expect(await sdk.beta.getCounterCount('rooms')).toBe(1);
    expect(await sdk.beta.getCounterCapacity('rooms')).toBe(10);
    await sdk.beta.incrementCounter('rooms', 4);
    await sdk.beta.decrementCounter('rooms', 2);
    expect(await sdk.beta.getCounterCount('rooms')).toBe(3);
    await sdk.beta.setCounterCount('rooms', 7);
    await sdk.beta.setCounterCapacity('rooms', 20);
    expect((await record()).status.counters.rooms).toEqual({ count: 7, capacity: 20 });
    expect((await sdk.getGameServer()).status.countersMap).toEqual([['rooms', { count: 7, capacity: 20 }]]);
  });

  it("refuses with the sidecar's messages (2 UNKNOWN) and keeps the counter as it was", async () => {
    const { sdk, record } = await start();
    expect(await grpcError(sdk.beta.getCounterCount('nope'))).toEqual({ code: 2, details: 'counter not found: nope' });
    expect(await grpcError(sdk.beta.incrementCounter('nope', 1))).toEqual({ code: 2, details: 'counter not found: nope' });
    expect(await grpcError(sdk.beta.incrementCounter('rooms', 10))).toEqual({
      code: 2,
      details: 'out of range. Count must be within range [0,Capacity]. Found Count: 11, Capacity: 10',
    });
    expect(await grpcError(sdk.beta.decrementCounter('rooms', 2))).toEqual({
      code: 2,
      details: 'out of range. Count must be within range [0,Capacity]. Found Count: -1, Capacity: 10',
    });
    expect(await grpcError(sdk.beta.setCounterCount('rooms', 11))).toEqual({
      code: 2,
      details: 'out of range. Count must be within range [0,Capacity]. Found Count: 11, Capacity: 10',
    });
    expect(await grpcError(sdk.beta.setCounterCapacity('rooms', -1))).toEqual({
      code: 2,
      details: 'out of range. Capacity must be greater than or equal to 0. Found Capacity: -1',
    });
    expect(await grpcError(sdk.beta.incrementCounter('rooms', 0))).toEqual({
      code: 2,
      details: 'invalid argument. Malformed CounterUpdateRequest: name:"rooms"',
    });
    expect((await record()).status.counters.rooms).toEqual({ count: 1, capacity: 10 });
  });

  it('lowering the capacity below the count clips the count, as the sidecar does', async () => {
    const { sdk, record } = await start();
    await sdk.beta.setCounterCount('rooms', 8);
    await sdk.beta.setCounterCapacity('rooms', 5);
    expect((await record()).status.counters.rooms).toEqual({ count: 5, capacity: 5 });
  });

  it('concurrent increments are all kept', async () => {
    const { sdk, record } = await start();
    await sdk.beta.setCounterCapacity('rooms', 100);
    await Promise.all(Array.from({ length: 30 }, () => sdk.beta.incrementCounter('rooms', 1)));
    expect((await record()).status.counters.rooms).toEqual({ count: 31, capacity: 100 });
  });

  it('every call is "CountsAndLists not enabled" without the feature gate', async () => {
    const { sdk } = await start({ featureGates: { CountsAndLists: false } });
    const notEnabled = { code: 2, details: 'CountsAndLists not enabled' };
    expect(await grpcError(sdk.beta.getCounterCount('rooms'))).toEqual(notEnabled);
    expect(await grpcError(sdk.beta.incrementCounter('rooms', 1))).toEqual(notEnabled);
    expect(await grpcError(sdk.beta.getListValues('players'))).toEqual(notEnabled);
    expect(await grpcError(sdk.beta.setListCapacity('players', 5))).toEqual(notEnabled);
    expect(await grpcError(sdk.beta.appendListValue('players', 'x'))).toEqual(notEnabled);
    expect(await grpcError(sdk.beta.deleteListValue('players', 'p0'))).toEqual(notEnabled);
  });
});

describe('beta: lists', () => {
  it('get capacity, values, length and contains; append and delete', async () => {
    const { sdk, record } = await start();
    expect(await sdk.beta.getListCapacity('players')).toBe(3);
    expect(await sdk.beta.getListValues('players')).toEqual(['p0']);
    await sdk.beta.appendListValue('players', 'p1');
    expect(await sdk.beta.getListLength('players')).toBe(2);
    expect(await sdk.beta.listContains('players', 'p1')).toBe(true);
    await sdk.beta.deleteListValue('players', 'p0');
    expect(await sdk.beta.listContains('players', 'p0')).toBe(false);
    expect((await record()).status.lists.players).toEqual({ capacity: 3, values: ['p1'] });
    expect((await sdk.getGameServer()).status.listsMap).toEqual([['players', { capacity: 3, valuesList: ['p1'] }]]);
  });

  it("refuses with the sidecar's messages and keeps the list as it was", async () => {
    const { sdk, record } = await start();
    expect(await grpcError(sdk.beta.getListValues('nope'))).toEqual({ code: 2, details: 'list not found: nope' });
    expect(await grpcError(sdk.beta.appendListValue('nope', 'x'))).toEqual({ code: 2, details: 'list not found: nope' });
    expect(await grpcError(sdk.beta.deleteListValue('nope', 'x'))).toEqual({ code: 2, details: 'list not found: nope' });
    expect(await grpcError(sdk.beta.appendListValue('players', 'p0'))).toEqual({ code: 2, details: 'already exists. Value: p0 already in List: players' });
    expect(await grpcError(sdk.beta.deleteListValue('players', 'zed'))).toEqual({ code: 2, details: 'not found: value zed not in list players' });
    await sdk.beta.appendListValue('players', 'p1');
    await sdk.beta.appendListValue('players', 'p2');
    expect(await grpcError(sdk.beta.appendListValue('players', 'p3'))).toEqual({
      code: 2,
      details: 'out of range. No available capacity. Current Capacity: 3, List Size: 3',
    });
    expect((await record()).status.lists.players).toEqual({ capacity: 3, values: ['p0', 'p1', 'p2'] });
  });

  it('setListCapacity (sent with an empty field mask) sets a non-zero capacity and drops values beyond it', async () => {
    const { sdk, record } = await start();
    await sdk.beta.setListCapacity('players', 1000);
    expect(await sdk.beta.getListCapacity('players')).toBe(1000);
    await sdk.beta.appendListValue('players', 'p1');
    await sdk.beta.setListCapacity('players', 1);
    expect((await record()).status.lists.players).toEqual({ capacity: 1, values: ['p0'] });
    // A capacity of 0 is a zero field, which an empty mask does not merge (as in Agones).
    await sdk.beta.setListCapacity('players', 0);
    expect(await sdk.beta.getListCapacity('players')).toBe(1);
  });

  it('setListCapacity refuses a capacity outside [0,1000] and a missing list', async () => {
    const { sdk } = await start();
    expect(await grpcError(sdk.beta.setListCapacity('players', 1001))).toEqual({
      code: 2,
      details: 'out of range. Capacity must be within range [0,1000]. Found Capacity: 1001',
    });
    expect(await grpcError(sdk.beta.setListCapacity('players', -1))).toEqual({
      code: 2,
      details: 'out of range. Capacity must be within range [0,1000]. Found Capacity: -1',
    });
    expect(await grpcError(sdk.beta.setListCapacity('nope', 5))).toEqual({ code: 2, details: 'not found. nope List not found' });
  });

  it('UpdateList with explicit mask paths applies exactly those fields', async () => {
    const { sdk, record } = await start();
    await updateListRaw(sdk, { name: 'players', capacity: 0, values: ['a', 'b', 'a'] }, ['values']);
    expect((await record()).status.lists.players).toEqual({ capacity: 3, values: ['a', 'b'] });
    await updateListRaw(sdk, { name: 'players', capacity: 1, values: [] }, ['capacity']);
    expect((await record()).status.lists.players).toEqual({ capacity: 1, values: ['a'] });
    await updateListRaw(sdk, { name: 'players', capacity: 0, values: [] }, ['capacity', 'values']);
    expect((await record()).status.lists.players).toEqual({ capacity: 0, values: [] });
  });

  it('UpdateList refuses unknown mask paths and a missing mask', async () => {
    const { sdk } = await start();
    expect(await grpcError(updateListRaw(sdk, { name: 'players', capacity: 5, values: [] }, ['capacity', 'bogus']))).toEqual({
      code: 2,
      details: 'invalid argument. Field Mask Path(s): [capacity bogus] are invalid for List. Use valid field name(s): [name capacity values]',
    });
    expect(await grpcError(updateListRaw(sdk, { name: 'players', capacity: 5, values: [] }, undefined))).toEqual({
      code: 2,
      details: 'invalid argument. List: name:"players" and UpdateMask <nil> cannot be nil',
    });
  });
});
