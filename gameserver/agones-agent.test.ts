import { afterEach, describe, expect, it } from '@jest/globals';
import { systemClock } from '../core/clock.js';
import { GameServerState as S, type GameServer } from '../core/game-server.js';
import { ACKS_ALLOCATION_LABEL, ALLOCATION_OBSERVED_ANNOTATION, CLAIMED_ANNOTATION, EXPECTED_PLAYERS_ANNOTATION, LAST_ALLOCATED_ANNOTATION, MATCH_ID_ANNOTATION, NO_SHOW_ACTION_LABEL } from '../core/hangar-metadata.js';
import { silentLogger } from '../core/logger.js';
import { createGameServerMetrics, Registry } from '../core/metrics.js';
import type { GameServerSpec } from '../core/resources.js';
import { startLocalSdkServer, type LocalSdkServer, type LocalSdkServerOptions } from '../fleets/sdk-server/local-sdk-server.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { AgonesAgent, allocationOf, healthPingIntervalMs, type AgonesAgentOptions, type Allocation, type NoShowAction } from './agones-agent.js';
import { SdkUnreachableError } from '../core/errors.js';

// The agent drives the real @google-cloud/agones-sdk client against Hangar's local SDK server
// (a MemoryGameServerStore behind it). The tests play the controller and the allocator by
// writing the record; the agent's own timers (pings, no-show) run on a FakeClock.

const NAME = 'gs-agent';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Polls (real time) for effects that travel over gRPC. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface HarnessOptions {
  spec?: Partial<GameServerSpec>;
  labels?: Record<string, string>;
  featureGates?: LocalSdkServerOptions['featureGates'];
  agent?: Partial<AgonesAgentOptions>;
}

async function startSdkServer(store: MemoryGameServerStore, options: { port?: number; featureGates?: LocalSdkServerOptions['featureGates'] } = {}): Promise<LocalSdkServer> {
  const server = await startLocalSdkServer({
    gameServerName: NAME,
    store,
    clock: new FakeClock(),
    log: silentLogger,
    featureGates: options.featureGates,
    onHealthFailure: () => undefined,
    port: options.port,
  });
  cleanups.push(() => server.close());
  return server;
}

async function harness(options: HarnessOptions = {}) {
  const store = new MemoryGameServerStore();
  cleanups.push(() => store.close());
  const spec = testSpec({ lists: { players: { capacity: 3, values: [] } }, ...options.spec });
  const base = testGameServer(NAME, { fleet: 'arena', spec });
  const scheduled: GameServer = {
    ...base,
    metadata: { ...base.metadata, labels: { ...base.metadata.labels, ...options.labels } },
    status: {
      ...base.status,
      state: S.Scheduled,
      address: '127.0.0.1',
      ports: [
        { name: 'default', port: 7001 },
        { name: 'metrics', port: 7002 },
      ],
    },
  };
  await store.create(scheduled);
  const server = await startSdkServer(store, { featureGates: options.featureGates });
  process.env.AGONES_SDK_GRPC_PORT = String(server.port); // the SDK reads it when constructed

  const clock = new FakeClock();
  const registry = new Registry();
  const metrics = createGameServerMetrics(registry);
  const events = { allocated: [] as Allocation[], states: [] as string[], noShows: [] as NoShowAction[] };
  const agent = await AgonesAgent.connect({
    log: silentLogger,
    clock,
    metrics,
    onAllocated: (a) => events.allocated.push(a),
    onStateChange: (s) => events.states.push(s),
    onNoShow: (action) => events.noShows.push(action),
    ...options.agent,
  });
  cleanups.push(() => agent.close());

  const gs = async () => (await store.get(NAME))!;
  const errors = async (type: string) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'game_server_errors_total');
    return metric?.values.find((v) => v.labels.error_type === type)?.value ?? 0;
  };
  /** What the controller does with RequestReady. */
  const controllerMakesReady = () => store.update(NAME, (r) => ({ ...r, status: { ...r.status, state: r.status.state === S.RequestReady ? S.Ready : r.status.state } }));
  /** What the allocator does: Allocated, with the match's annotations. */
  const allocate = (annotations: Record<string, string>) =>
    store.update(NAME, (r) => ({ ...r, metadata: { ...r.metadata, annotations: { ...r.metadata.annotations, ...annotations } }, status: { ...r.status, state: S.Allocated } }));
  return { store, server, clock, agent, events, gs, errors, controllerMakesReady, allocate };
}

describe('AgonesAgent', () => {
  it('reads the GameServer: ports by name, labels, health spec, capacity from the players List', async () => {
    const { agent } = await harness({ labels: { [NO_SHOW_ACTION_LABEL]: 'ready' } });
    expect(agent.state).toBe(S.Scheduled);
    expect(agent.port('default')).toBe(7001);
    expect(agent.port('metrics')).toBe(7002);
    expect(agent.port('nope')).toBeUndefined();
    expect(agent.labels).toMatchObject({ 'agones.dev/fleet': 'arena', [NO_SHOW_ACTION_LABEL]: 'ready' });
    expect(agent.gameServer.spec.health).toMatchObject({ periodSeconds: 5, failureThreshold: 3 });
    expect(agent.playerCapacity).toBe(3);
  });

  it('marks Ready when told, and follows the state through the watch', async () => {
    const { agent, gs, events, controllerMakesReady } = await harness();
    await agent.ready();
    expect((await gs()).status.state).toBe(S.RequestReady);
    await controllerMakesReady();
    await waitFor(() => agent.state === S.Ready, 'Ready through the watch');
    expect(events.states).toEqual([S.RequestReady, S.Ready]);
  });

  it('pings health at once and then every min(period/3, 1 s); the SDK server counts them', async () => {
    expect(healthPingIntervalMs(5)).toBe(1000);
    expect(healthPingIntervalMs(1.5)).toBe(500);
    expect(healthPingIntervalMs(0)).toBe(1000);
    const { agent, server, clock } = await harness();
    await waitFor(() => server.healthPings === 1, 'the first ping');
    clock.advance(3000);
    await waitFor(() => server.healthPings === 4, 'three more pings');
    expect(agent.healthPingsSent).toBe(4);
  });

  it('sends no ping while isHealthy() says no', async () => {
    let healthy = true;
    const { server, clock } = await harness({ agent: { isHealthy: () => healthy } });
    await waitFor(() => server.healthPings === 1, 'the first ping');
    healthy = false;
    clock.advance(5000);
    healthy = true;
    clock.advance(1000);
    await waitFor(() => server.healthPings === 2, 'the next healthy ping');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.healthPings).toBe(2);
  });

  it('sets labels and annotations through the SDK (Agones prefixes them agones.dev/sdk-)', async () => {
    const { agent, gs } = await harness();
    await agent.setAnnotation('match-result', '{"winner":"p1"}');
    await agent.setLabel('phase', 'ended');
    const record = await gs();
    expect(record.metadata.annotations['agones.dev/sdk-match-result']).toBe('{"winner":"p1"}');
    expect(record.metadata.labels['agones.dev/sdk-phase']).toBe('ended');
  });

  it('calls onAllocated with the match id and expected players from the annotations, and labels', async () => {
    const { agent, events, allocate } = await harness();
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1', [EXPECTED_PLAYERS_ANNOTATION]: 'p1, p2,,p3' });
    await waitFor(() => events.allocated.length === 1, 'onAllocated');
    expect(events.allocated[0]).toMatchObject({ matchId: 'm-1', expectedPlayers: ['p1', 'p2', 'p3'], labels: { 'agones.dev/fleet': 'arena' } });
    expect(events.allocated[0]!.annotations[MATCH_ID_ANNOTATION]).toBe('m-1');
    expect(agent.state).toBe(S.Allocated);
    // Allocated again for another match (a backfill allocation): a new onAllocated.
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-2', [EXPECTED_PLAYERS_ANNOTATION]: 'p9' });
    await waitFor(() => events.allocated.length === 2, 'the second onAllocated');
    expect(events.allocated[1]).toMatchObject({ matchId: 'm-2', expectedPlayers: ['p9'] });
  });

  it('announces that it acknowledges allocations, and echoes each allocation time it observes', async () => {
    const { gs, allocate } = await harness();
    await waitFor(async () => (await gs()).metadata.labels[ACKS_ALLOCATION_LABEL] === 'true', 'the acks-allocation label');
    await allocate({ [LAST_ALLOCATED_ANNOTATION]: '2026-01-01T00:00:01.000Z' });
    await waitFor(async () => (await gs()).metadata.annotations[ALLOCATION_OBSERVED_ANNOTATION] === '2026-01-01T00:00:01.000Z', 'the first echo');
    await allocate({ [LAST_ALLOCATED_ANNOTATION]: '2026-01-01T00:00:02.000Z' });
    await waitFor(async () => (await gs()).metadata.annotations[ALLOCATION_OBSERVED_ANNOTATION] === '2026-01-01T00:00:02.000Z', 'the echo of a backfill allocation');
  });

  it("reports an allocation's first player as its claim, once", async () => {
    const { agent, gs, allocate } = await harness();
    await allocate({ [LAST_ALLOCATED_ANNOTATION]: '2026-01-01T00:00:05.000Z' });
    await waitFor(() => agent.state === S.Allocated, 'Allocated');
    expect((await gs()).metadata.annotations[CLAIMED_ANNOTATION]).toBeUndefined();
    agent.playerConnected('p1');
    agent.playerConnected('p2');
    await waitFor(async () => (await gs()).metadata.annotations[CLAIMED_ANNOTATION] === '2026-01-01T00:00:05.000Z', 'the claim');
  });

  it('reads an allocation without Hangar annotations as no match id and no expected players', () => {
    const gs = { objectMeta: { annotationsMap: [], labelsMap: [['a', 'b']] } } as unknown as Parameters<typeof allocationOf>[0];
    expect(allocationOf(gs)).toEqual({ matchId: undefined, expectedPlayers: [], labels: { a: 'b' }, annotations: {} });
  });

  it('keeps the players List in step with connects and disconnects, in order per player (PlayerTracking off)', async () => {
    const { agent, gs, errors } = await harness();
    const alpha = (agent as unknown as { sdk: { alpha: { playerConnect(id: string): Promise<unknown>; playerDisconnect(id: string): Promise<unknown> } } }).sdk.alpha;
    let alphaCalls = 0;
    const [connect, disconnect] = [alpha.playerConnect.bind(alpha), alpha.playerDisconnect.bind(alpha)];
    alpha.playerConnect = (id) => (alphaCalls++, connect(id));
    alpha.playerDisconnect = (id) => (alphaCalls++, disconnect(id));
    agent.playerConnected('p1');
    agent.playerConnected('p2');
    agent.playerDisconnected('p2');
    agent.playerConnected('p2');
    agent.playerDisconnected('p1');
    expect(agent.playerCount).toBe(1); // the game's view changes at once
    await agent.flushPlayerUpdates();
    expect((await gs()).status.lists.players!.values).toEqual(['p2']);
    // The GameServer shows no alpha players status, so no alpha call is made only to be refused.
    expect(alphaCalls).toBe(0);
    expect(await errors('sdk_player_tracking')).toBe(0);
    expect(await errors('sdk_players_list')).toBe(0);
  });

  it('refuses players beyond the fleet capacity and while draining', async () => {
    const { agent } = await harness();
    for (const id of ['a', 'b', 'c']) {
      expect(agent.mayAcceptPlayer()).toBe(true);
      agent.playerConnected(id);
    }
    expect(agent.mayAcceptPlayer()).toBe(false);
    agent.playerDisconnected('a');
    expect(agent.mayAcceptPlayer()).toBe(true);
    agent.stopAcceptingPlayers();
    expect(agent.mayAcceptPlayer()).toBe(false);
    await agent.flushPlayerUpdates();
  });

  it('while draining keeps the players List full, so that no backfill sends it players it would refuse', async () => {
    const { agent, gs, errors } = await harness();
    agent.playerConnected('a');
    agent.playerConnected('b');
    await agent.flushPlayerUpdates();
    expect((await gs()).status.lists.players).toEqual({ capacity: 3, values: ['a', 'b'] });
    agent.stopAcceptingPlayers();
    await agent.flushPlayerUpdates();
    expect((await gs()).status.lists.players).toEqual({ capacity: 2, values: ['a', 'b'] });
    agent.playerDisconnected('a');
    await agent.flushPlayerUpdates();
    expect((await gs()).status.lists.players).toEqual({ capacity: 1, values: ['b'] });
    expect(await errors('sdk_players_list')).toBe(0);
  });

  it("reopens the seats drained at a match's end when Ready again (a reusable server's next match), before asking for Ready", async () => {
    const { agent, store, gs, errors, allocate, controllerMakesReady } = await harness();
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1' });
    agent.playerConnected('a');
    agent.playerConnected('b');
    await agent.flushPlayerUpdates();
    agent.stopAcceptingPlayers();
    await agent.flushPlayerUpdates();
    expect((await gs()).status.lists.players).toEqual({ capacity: 2, values: ['a', 'b'] });
    expect(agent.mayAcceptPlayer()).toBe(false);
    // The record at each write: the room must be back while it is still Allocated.
    const writes: string[] = [];
    cleanups.push(store.watch((e) => writes.push(`${e.object.status.state} ${e.object.status.lists.players?.capacity}`)));
    // The next match: its players dropped, then Ready at once (their List calls, and the closings after them, still under way).
    agent.playerDisconnected('a');
    agent.playerDisconnected('b');
    await agent.ready();
    expect((await gs()).status.lists.players).toEqual({ capacity: 3, values: [] });
    expect(writes.find((w) => w.endsWith(' 3'))).toBe(`${S.Allocated} 3`);
    expect(writes.at(-1)).toBe(`${S.RequestReady} 3`);
    await controllerMakesReady();
    await waitFor(() => agent.state === S.Ready, 'Ready through the watch');
    expect(agent.mayAcceptPlayer()).toBe(true);
    expect(await errors('sdk_players_list')).toBe(0);
  });

  it('keeps the seats closed when a drain (retiring) comes while they reopen', async () => {
    const { agent, gs, allocate } = await harness();
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1' });
    agent.playerConnected('a');
    agent.playerConnected('b');
    await agent.flushPlayerUpdates();
    agent.stopAcceptingPlayers();
    const ready = agent.ready();
    agent.stopAcceptingPlayers();
    await ready;
    await agent.flushPlayerUpdates();
    expect((await gs()).status.lists.players).toEqual({ capacity: 2, values: ['a', 'b'] });
    agent.playerDisconnected('a');
    expect(agent.mayAcceptPlayer()).toBe(false);
    await agent.flushPlayerUpdates();
  });

  it('uses alpha player tracking too when the feature gate is on', async () => {
    const { agent, gs, errors } = await harness({ featureGates: { PlayerTracking: true }, spec: { players: { initialCapacity: 10 } } });
    agent.playerConnected('p1');
    agent.playerConnected('p2');
    await agent.flushPlayerUpdates();
    expect((await gs()).status.players).toEqual({ count: 2, capacity: 10, ids: ['p1', 'p2'] });
    expect((await gs()).status.lists.players!.values).toEqual(['p1', 'p2']);
    agent.playerDisconnected('p1');
    await agent.flushPlayerUpdates();
    expect((await gs()).status.players!.ids).toEqual(['p2']);
    expect((await gs()).status.lists.players!.values).toEqual(['p2']);
    expect(await errors('sdk_player_tracking')).toBe(0);
  });

  it('takes capacity from alpha player tracking when there is no players List', async () => {
    const { agent, gs } = await harness({ featureGates: { PlayerTracking: true }, spec: { lists: {}, players: { initialCapacity: 2 } } });
    expect(agent.playerCapacity).toBe(2);
    agent.playerConnected('p1');
    await agent.flushPlayerUpdates();
    expect((await gs()).status.players!.ids).toEqual(['p1']);
  });

  it('accepts a player the allocator already put in the List, without asking the SDK to list them again', async () => {
    const { agent, gs, errors } = await harness({ spec: { lists: { players: { capacity: 3, values: ['p1'] } } } });
    // The real client, counted on its way through: a whole match arrives at once, one call per player adds up.
    const beta = (agent as unknown as { sdk: { beta: { appendListValue(list: string, value: string): Promise<unknown> } } }).sdk.beta;
    const appended: string[] = [];
    const append = beta.appendListValue.bind(beta);
    beta.appendListValue = (list, value) => (appended.push(value), append(list, value));
    agent.playerConnected('p1');
    agent.playerConnected('p2');
    await agent.flushPlayerUpdates();
    expect(appended).toEqual(['p2']);
    expect((await gs()).status.lists.players!.values).toEqual(['p1', 'p2']);
    expect(await errors('sdk_players_list')).toBe(0);
  });

  it('no-show: goes back to Ready when the label says so, and counts it', async () => {
    const { gs, clock, events, errors, allocate } = await harness({ labels: { [NO_SHOW_ACTION_LABEL]: 'ready' }, agent: { noShowSeconds: 30 } });
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1', [EXPECTED_PLAYERS_ANNOTATION]: 'p1,p2' });
    await waitFor(() => events.allocated.length === 1, 'onAllocated');
    clock.advance(29_999);
    expect(events.noShows).toEqual([]);
    clock.advance(1);
    expect(events.noShows).toEqual(['ready']);
    await waitFor(async () => (await gs()).status.state === S.RequestReady, 'Ready requested');
    expect(await errors('no_show')).toBe(1);
  });

  it('no-show: shuts down by default', async () => {
    const { gs, clock, events, errors, allocate } = await harness();
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1', [EXPECTED_PLAYERS_ANNOTATION]: 'p1' });
    await waitFor(() => events.allocated.length === 1, 'onAllocated');
    clock.advance(60_000);
    expect(events.noShows).toEqual(['shutdown']);
    await waitFor(async () => (await gs()).status.state === S.Shutdown, 'Shutdown');
    expect(await errors('no_show')).toBe(1);
  });

  it('no-show: any player arriving in time cancels it, and a backfill allocation of a busy server arms none', async () => {
    const { agent, gs, clock, events, allocate } = await harness();
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1', [EXPECTED_PLAYERS_ANNOTATION]: 'p1,p2' });
    await waitFor(() => events.allocated.length === 1, 'onAllocated');
    clock.advance(10_000);
    agent.playerConnected('p2');
    clock.advance(120_000);
    // Backfill: newcomers expected on a server that is already playing.
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1b', [EXPECTED_PLAYERS_ANNOTATION]: 'late-1' });
    await waitFor(() => events.allocated.length === 2, 'the backfill allocation');
    clock.advance(120_000);
    expect(events.noShows).toEqual([]);
    await agent.flushPlayerUpdates();
    expect((await gs()).status.state).toBe(S.Allocated);
  });

  it('no-show: with no expected players listed, any player cancels it', async () => {
    const { agent, clock, events, allocate } = await harness();
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-1' });
    await waitFor(() => events.allocated.length === 1, 'onAllocated');
    agent.playerConnected('anyone');
    clock.advance(120_000);
    expect(events.noShows).toEqual([]);
    await agent.flushPlayerUpdates();
  });

  it('recovers when the SDK server restarts: a new client, health pings and the watch resume', async () => {
    const { store, server, agent, clock, events, errors, allocate } = await harness();
    await waitFor(() => server.healthPings === 1, 'the first ping');
    const port = server.port;
    await server.close();
    const restarted = await startSdkServer(store, { port });
    // Reconnection attempts back off on the agent's clock: let it run while waiting.
    await waitFor(() => {
      clock.advance(100);
      return agent.recoveries === 1;
    }, 'the agent to reconnect');
    await waitFor(() => restarted.healthPings === 1, 'the ping sent on reconnecting');
    clock.advance(2000);
    await waitFor(() => restarted.healthPings === 3, 'a ping a second on the new health stream');
    expect(server.healthPings).toBe(1);
    expect(await errors('sdk_stream_lost')).toBe(1);
    // The watch resumed on the new client.
    await allocate({ [MATCH_ID_ANNOTATION]: 'm-after-restart' });
    await waitFor(() => events.allocated.length === 1, 'onAllocated through the new watch');
    expect(events.allocated[0]!.matchId).toBe('m-after-restart');
  });

  it("does not take another game server's SDK server, on its own SDK server's port, for its own: it reports the loss at once and leaves the other server alone", async () => {
    const lost: Error[] = [];
    const { server, agent, clock, errors } = await harness({ agent: { onSdkLost: (err) => lost.push(err) } });
    await waitFor(() => server.healthPings === 1, 'the first ping');
    const port = server.port;
    await server.close();
    // A new stack (its store has none of the old records) starts a server's sidecar on the freed port.
    const other = new MemoryGameServerStore();
    cleanups.push(() => other.close());
    const fresh = testGameServer(NAME, { fleet: 'arena' });
    await other.create({ ...fresh, status: { ...fresh.status, state: S.Scheduled } });
    const stranger = await startSdkServer(other, { port });
    await waitFor(() => {
      clock.advance(100);
      return lost.length === 1;
    }, 'the loss to be reported');
    expect(lost[0]).toMatchObject({ code: 'SDK_SERVES_ANOTHER', message: expect.stringContaining(`localhost:${port}`) });
    expect(agent.recoveries).toBe(0);
    clock.advance(5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stranger.healthPings).toBe(0);
    // Its calls wait for its own SDK server: none reaches the other one (a Ready, a Shutdown at its match's end).
    // (They fail once the agent is closed at the test's end.)
    for (const call of [agent.ready(), agent.shutdown()]) call.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await other.get(NAME))!.status.state).toBe(S.Scheduled);
    expect(await errors('sdk_connect')).toBe(1);
  });

  it('shuts down cleanly: Shutdown through the SDK, then close() leaves no timer, stream or channel open', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const socketsBefore = sockets();
    const { agent, gs, clock, events } = await harness();
    await agent.ready();
    agent.playerConnected('p1');
    await agent.shutdown();
    expect(agent.mayAcceptPlayer()).toBe(false);
    await waitFor(() => events.states.includes(S.Shutdown), 'Shutdown through the watch');
    expect((await gs()).status.state).toBe(S.Shutdown);
    await agent.close();
    expect(clock.pendingTimers).toBe(0);
    // No TCP connection of the SDK client is left (the server side closes with it).
    await waitFor(() => sockets() <= socketsBefore, 'the SDK connections to close');
  });

  it('fails with a clear, coded error when no SDK server answers', async () => {
    const store = new MemoryGameServerStore();
    cleanups.push(() => store.close());
    await store.create(testGameServer(NAME));
    const server = await startSdkServer(store);
    const port = server.port;
    await server.close(); // nothing listens on this port any more
    process.env.AGONES_SDK_GRPC_PORT = String(port);
    const failed = AgonesAgent.connect({ log: silentLogger, clock: systemClock, connectTimeoutMs: 300 });
    await expect(failed).rejects.toBeInstanceOf(SdkUnreachableError);
    await expect(failed).rejects.toMatchObject({ code: 'SDK_UNREACHABLE', message: expect.stringContaining(`localhost:${port}`) });
  });
});
