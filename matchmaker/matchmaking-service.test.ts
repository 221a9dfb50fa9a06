import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { StoreAllocationBackend } from '../allocator/allocation-backend.js';
import { Allocator } from '../allocator/allocator.js';
import { parseAllocationRequest } from '../allocator/allocation-schema.js';
import { AllocationInvalidError, PlayerAlreadyQueuedError } from '../core/errors.js';
import { GameServerState as S } from '../core/game-server.js';
import { EXPECTED_PLAYERS_ANNOTATION, GAME_PORT_LABEL, MATCH_ID_ANNOTATION, PLAYERS_LIST } from '../core/hangar-metadata.js';
import { silentLogger } from '../core/logger.js';
import { createAllocatorMetrics, createMatchmakerMetrics, createRegistry, type Registry } from '../core/metrics.js';
import { openPrivateToken, privateTokenAd, readPublicToken } from '../gameserver/protocol/connect-token.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { removeRedisKeys } from '../test/helpers/redis-keys.js';
import { TcpRelay } from '../test/helpers/tcp-relay.js';
import type { PreparedAllocation } from '../allocator/prepared-allocation.js';
import { InProcessAllocatorClient, wholeSpec, type AllocationRequest } from './allocator-client.js';
import { eventually } from './lobby/lobby-test-harness.js';
import { MatchmakerDrainingError, QueueNotFoundError, TicketAlreadyMatchedError, TicketNotFoundError, TicketNotOwnerError, TicketRejectedError } from './lobby/matchmaking.js';
import { MatchmakingService, QUEUE_LABEL } from './matchmaking-service.js';
import type { MatchEvents } from './queue/match-events.js';
import { MemoryMatchEvents } from './queue/memory-match-events.js';
import { MemoryTicketQueue } from './queue/memory-ticket-queue.js';
import { RedisMatchEvents } from './queue/redis-match-events.js';
import { RedisTicketQueue } from './queue/redis-ticket-queue.js';
import type { TicketQueue } from './queue/ticket-queue.js';
import { parseMatchmakingRules } from './rules.js';
import type { PlayerEvent, QueueRules } from './ticket.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The matchmaking loop over real parts: the allocator and its in-memory game-server store, the
// ticket queues (memory, and Redis for two processes), and a fake clock for waits and back-off.

const RULES = `
queues:
  - name: duel
    fleet: arena
    teams: { count: 2, size: 1 }
    skill: { initial: 100 }
    latency: { initial: 60 }
    ticketTtlSeconds: 5
  - name: duel-accept
    fleet: arena
    teams: { count: 2, size: 1 }
    accept: { timeoutSeconds: 10 }
  - name: squads
    fleet: arena
    teams: { count: 2, size: 2 }
    maxPartySize: 2
    backfill: true
`;
const QUEUES: readonly QueueRules[] = parseMatchmakingRules(RULES, 'matchmaking.yaml').queues;
const EU = { 'eu-west': 20 };
/** No lobby tells these services who is present: a grace longer than any test's clock keeps tickets of absent players, but for the tests about that. */
const NO_GRACE_LIMIT = 86_400;
/** matchmaker.claim_lease_seconds' default: claims are renewed every 2 s. */
const LEASE_SECONDS = 6;

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

function uint64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

/** Lets pending promise chains (queue calls, publishes) run; for steps that wait on a player. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  expect(condition()).toBe(true);
}

interface Harness {
  service: MatchmakingService;
  heard: Array<{ playerId: string; event: PlayerEvent }>;
  registry: Registry;
  of(playerId: string, type?: PlayerEvent['type']): PlayerEvent[];
}

describe('MatchmakingService', () => {
  let store: MemoryGameServerStore;
  let clock: FakeClock;
  let key: Buffer;
  let allocator: Allocator;
  let services: MatchmakingService[];

  beforeEach(() => {
    store = new MemoryGameServerStore();
    clock = new FakeClock();
    key = randomBytes(32);
    allocator = new Allocator({ backend: new StoreAllocationBackend(store, clock), clock, log: silentLogger, metrics: createAllocatorMetrics(createRegistry()) });
    services = [];
  });
  afterEach(async () => {
    for (const s of services) await s.close();
    await store.close();
  });

  function start(tickets: TicketQueue = new MemoryTicketQueue({ clock }), events: MatchEvents = new MemoryMatchEvents(), ticketGraceSeconds = NO_GRACE_LIMIT): Harness {
    const registry = createRegistry();
    const service = new MatchmakingService({ queues: QUEUES, tickets, events, allocator: new InProcessAllocatorClient(allocator), tokenKey: key, clock, log: silentLogger, metrics: createMatchmakerMetrics(registry), ticketGraceSeconds, claimLeaseSeconds: LEASE_SECONDS });
    services.push(service);
    const heard: Harness['heard'] = [];
    service.events((playerId, event) => heard.push({ playerId, event }));
    return { service, heard, registry, of: (playerId, type) => heard.filter((h) => h.playerId === playerId && (!type || h.event.type === type)).map((h) => h.event) };
  }

  /** A service whose allocator client records each request before this test's allocator takes it. */
  /**
   * alice, then bob 10 ms later, queue for the duel with an accept step at `maker`, which makes
   * their match (kicked, whether it was started or not) and asks them; the ask, once both have
   * heard it at `heard` (where their sockets are).
   */
  async function askedToAccept(maker: Harness, heard: Harness = maker): Promise<Extract<PlayerEvent, { type: 'accept' }>> {
    await maker.service.submit('alice', { queue: 'duel-accept', latencies: EU });
    clock.advance(10);
    await maker.service.submit('bob', { queue: 'duel-accept', latencies: EU });
    maker.service.kick('duel-accept');
    await eventually(() => heard.of('alice', 'accept').length === 1 && heard.of('bob', 'accept').length === 1);
    const ask = heard.of('alice', 'accept')[0]!;
    if (ask.type !== 'accept') throw new Error('unreachable');
    return ask;
  }

  function startRecording(): { service: MatchmakingService; requests: AllocationRequest[] } {
    const requests: AllocationRequest[] = [];
    const inProcess = new InProcessAllocatorClient(allocator);
    const service = new MatchmakingService({
      queues: QUEUES,
      tickets: new MemoryTicketQueue({ clock }),
      events: new MemoryMatchEvents(),
      allocator: { allocate: (request) => (requests.push(request), inProcess.allocate(request)), close: async () => {} },
      tokenKey: key,
      clock,
      log: silentLogger,
      metrics: createMatchmakerMetrics(createRegistry()),
      ticketGraceSeconds: NO_GRACE_LIMIT,
      claimLeaseSeconds: LEASE_SECONDS,
    });
    services.push(service);
    return { service, requests };
  }

  async function addServer(name: string, state: S = S.Ready, labels: Record<string, string> = {}, players: string[] = [], capacity = 10): Promise<void> {
    const gs = testGameServer(name, { fleet: 'arena', spec: testSpec({ lists: { [PLAYERS_LIST]: { capacity, values: [] } } }) });
    await store.create({
      ...gs,
      metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, ...labels } },
      status: { ...gs.status, state, address: '10.0.0.7', ports: [{ name: 'default', port: 7101 }], lists: { [PLAYERS_LIST]: { capacity, values: players } } },
    });
  }

  it('on close, tells the players of tickets waiting in a memory queue that they must submit again, and takes no new tickets', async () => {
    await addServer('gs-1');
    const tickets = new MemoryTicketQueue({ clock });
    const mm = start(tickets);
    const waiting = await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    const party = await mm.service.submit('bob', { queue: 'squads', latencies: EU, party: ['carol'] });
    await mm.service.idle();

    await mm.service.close();
    for (const [player, ticketId] of [['alice', waiting.ticketId], ['bob', party.ticketId], ['carol', party.ticketId]] as const) {
      expect(mm.of(player, 'failed')).toEqual([{ type: 'failed', ticketId, reason: expect.stringMatching(/shut down.*submit again/) }]);
      expect(await tickets.get(ticketId)).toBeUndefined();
    }
    await expect(mm.service.submit('dave', { queue: 'duel', latencies: EU })).rejects.toMatchObject({ code: 'MATCHMAKER_DRAINING' });
    expect(mm.of('dave')).toEqual([]);
    expect(await tickets.count('duel')).toBe(0);
  });

  it('matches two players onto a Ready server, each with a connect token bound to that server and to them', async () => {
    await addServer('gs-1');
    const mm = start();
    const alice = await mm.service.submit('alice', { queue: 'duel', latencies: EU, skill: 1000 });
    clock.advance(10);
    const bob = await mm.service.submit('bob', { queue: 'duel', latencies: EU, skill: 1050 });
    await mm.service.idle();

    const [a] = mm.of('alice', 'matched');
    const [b] = mm.of('bob', 'matched');
    if (a?.type !== 'matched' || b?.type !== 'matched') throw new Error('both should be matched');
    expect(a).toMatchObject({ ticketId: alice.ticketId, server: { name: 'gs-1', address: '10.0.0.7', port: 7101 } });
    expect(b.matchId).toBe(a.matchId);
    expect(new Set([a.team, b.team])).toEqual(new Set([0, 1]));

    const token = readPublicToken(Buffer.from(a.connectToken, 'base64'));
    expect(token).toMatchObject({ playerId: 'alice', addresses: ['10.0.0.7:7101'] });
    expect(token.expiresAt - token.createdAt).toBe(60_000);
    const ad = privateTokenAd(uint64(token.protocolId), uint64(BigInt(token.expiresAt)));
    const opened = openPrivateToken(createSecretKey(key), ad, token.nonce, token.privateToken);
    expect(opened).toMatchObject({ serverId: 'gs-1', playerId: 'alice' });
    expect(opened!.userData.toString()).toBe(a.matchId);

    const gs = (await store.get('gs-1'))!;
    expect(gs.status.state).toBe(S.Allocated);
    expect(gs.metadata.annotations).toMatchObject({ [MATCH_ID_ANNOTATION]: a.matchId, [EXPECTED_PLAYERS_ANNOTATION]: 'alice,bob' });
    expect(gs.metadata.labels[QUEUE_LABEL]).toBe('duel');
    expect(gs.status.lists[PLAYERS_LIST]!.values).toEqual(['alice', 'bob']);

    // A poll gives back the very event the player was told, connect token and all.
    expect(await mm.service.status('bob', bob.ticketId)).toEqual({ state: 'matched', ticketId: bob.ticketId, queue: 'duel', event: b });
    expect(await metric(mm.registry, 'hangar_matchmaker_matches_total', { queue: 'duel' })).toBe(1);
    const waits = (await mm.registry.getMetricsAsJSON()).find((m) => m.name === 'hangar_matchmaker_time_to_match_seconds')!.values;
    expect(waits.find((v) => (v as { metricName?: string }).metricName === 'hangar_matchmaker_time_to_match_seconds_count')?.value).toBe(2);
  });

  it("sends players the game's ports only, never the server's metrics port, by the name the fleet's hangar.dev/game-port label gives (default: default)", async () => {
    const serverWith = async (name: string, ports: Array<{ name: string; port: number }>, labels: Record<string, string> = {}) => {
      const gs = testGameServer(name, { fleet: 'arena', spec: testSpec({ lists: { [PLAYERS_LIST]: { capacity: 10, values: [] } } }) });
      await store.create({
        ...gs,
        metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, ...labels } },
        status: { ...gs.status, state: S.Ready, address: '10.0.0.7', ports, lists: { [PLAYERS_LIST]: { capacity: 10, values: [] } } },
      });
    };
    const matchTwo = async (a: string, b: string) => {
      const mm = start();
      await mm.service.submit(a, { queue: 'duel', latencies: EU });
      await mm.service.submit(b, { queue: 'duel', latencies: EU });
      await mm.service.idle();
      const event = mm.of(a, 'matched')[0];
      if (event?.type !== 'matched') throw new Error(`${a} should be matched`);
      return { server: event.server, addresses: readPublicToken(Buffer.from(event.connectToken, 'base64')).addresses };
    };

    await serverWith('gs-workers', [
      { name: 'metrics', port: 7100 },
      { name: 'default', port: 7101 },
      { name: 'default-1', port: 7102 },
    ]);
    expect(await matchTwo('alice', 'bob')).toEqual({
      server: { name: 'gs-workers', address: '10.0.0.7', port: 7101, ports: [{ name: 'default', port: 7101 }, { name: 'default-1', port: 7102 }] },
      addresses: ['10.0.0.7:7101', '10.0.0.7:7102'],
    });

    await serverWith('gs-renamed', [{ name: 'metrics', port: 7200 }, { name: 'game', port: 7201 }], { [GAME_PORT_LABEL]: 'game' });
    expect(await matchTwo('carol', 'dave')).toEqual({
      server: { name: 'gs-renamed', address: '10.0.0.7', port: 7201, ports: [{ name: 'game', port: 7201 }] },
      addresses: ['10.0.0.7:7201'],
    });
  });

  it('puts a match that finds no server back at the front of the queue, backs off, and makes it once a server is Ready', async () => {
    const mm = start();
    const alice = await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    clock.advance(10);
    await mm.service.submit('bob', { queue: 'duel', latencies: EU });
    await mm.service.idle();
    expect(mm.of('alice').map((e) => e.type)).toEqual(['queued', 'requeued']);
    expect(await metric(mm.registry, 'hangar_matchmaker_allocation_failures_total', { queue: 'duel', reason: 'no-server' })).toBe(1);
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'waiting' });

    clock.advance(10);
    await mm.service.submit('carol', { queue: 'duel', latencies: EU });
    await addServer('gs-1');
    mm.service.kick('duel');
    await mm.service.idle();
    expect(mm.of('alice', 'matched')).toHaveLength(0); // still backing off

    clock.advance(300);
    mm.service.kick('duel');
    await mm.service.idle();
    // The two oldest, in their old places, ahead of the newcomer.
    expect(mm.of('alice', 'matched')).toHaveLength(1);
    expect(mm.of('bob', 'matched')).toHaveLength(1);
    expect(mm.of('carol', 'matched')).toHaveLength(0);
  });

  it('asks every player to accept: a decline sends the decliner away and the other back to the queue', async () => {
    await addServer('gs-1');
    const mm = start();
    await mm.service.submit('alice', { queue: 'duel-accept', latencies: EU });
    await mm.service.submit('bob', { queue: 'duel-accept', latencies: EU });
    await until(() => mm.of('alice', 'accept').length === 1 && mm.of('bob', 'accept').length === 1);
    const ask = mm.of('alice', 'accept')[0]!;
    if (ask.type !== 'accept') throw new Error('unreachable');
    expect(ask.deadline).toBe(clock.now() + 10_000);

    await mm.service.accept('alice', ask.matchId, true);
    await expect(mm.service.accept('alice', ask.matchId, true)).rejects.toThrow(/accept step is over/);
    await expect(mm.service.accept('mallory', ask.matchId, true)).rejects.toBeInstanceOf(Error);
    await mm.service.accept('bob', ask.matchId, false);
    await mm.service.idle();
    expect(mm.of('bob').at(-1)).toMatchObject({ type: 'failed', reason: 'bob declined the match' });
    expect(mm.of('alice').at(-1)).toMatchObject({ type: 'requeued', matchId: ask.matchId, reason: 'another player declined the match; you keep your place' });
    expect((await store.get('gs-1'))!.status.state).toBe(S.Ready);

    await mm.service.submit('dave', { queue: 'duel-accept', latencies: EU });
    await until(() => mm.of('dave', 'accept').length === 1);
    const again = mm.of('dave', 'accept')[0]!;
    if (again.type !== 'accept') throw new Error('unreachable');
    await mm.service.accept('dave', again.matchId, true);
    await mm.service.accept('alice', again.matchId, true);
    await mm.service.idle();
    expect(mm.of('alice', 'matched')).toHaveLength(1);
    expect(mm.of('dave', 'matched')).toHaveLength(1);
  });

  it('drops everyone who did not answer in time', async () => {
    await addServer('gs-1');
    const mm = start();
    const alice = await mm.service.submit('alice', { queue: 'duel-accept', latencies: EU });
    await mm.service.submit('bob', { queue: 'duel-accept', latencies: EU });
    await until(() => mm.of('bob', 'accept').length === 1);
    const ask = mm.of('bob', 'accept')[0]!;
    if (ask.type !== 'accept') throw new Error('unreachable');
    await mm.service.accept('bob', ask.matchId, true);
    clock.advance(10_000);
    await mm.service.idle();
    expect(mm.of('alice').at(-1)).toMatchObject({ type: 'failed', reason: 'the match was not accepted in time' });
    expect(mm.of('bob').at(-1)).toMatchObject({ type: 'requeued', reason: 'another player did not accept in time; you keep your place' });
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'gone', event: { type: 'failed' } });
  });

  it("lists its queues' public rules, sorted by name, with the wait it has learned, and what waits in each for ops", async () => {
    const mm = start();
    const queues = await mm.service.queues();
    expect(queues.map((q) => q.name)).toEqual(['duel', 'duel-accept', 'squads']);
    expect(queues[0]).toEqual({
      name: 'duel',
      mode: 'duel',
      teams: { count: 2, size: 1 },
      minPlayers: 2,
      maxPlayers: 2,
      fillWaitSeconds: 30,
      maxPartySize: 1,
      maxLatencyMs: 60,
      ticketTtlSeconds: 5,
      acceptTimeoutSeconds: null,
      backfill: false,
      estimatedWaitSeconds: null,
    });
    expect(queues[1]).toMatchObject({ acceptTimeoutSeconds: 10 });
    expect(queues[2]).toMatchObject({ maxPartySize: 2, backfill: true, maxPlayers: 4 });
    expect(JSON.stringify(queues)).not.toContain('arena'); // the fleet is the matchmaker's business

    await addServer('gs-1');
    await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    clock.advance(4000);
    // What ops see meanwhile (hangar status): Alice has waited 4 s, alone.
    expect((await mm.service.queueStats())[0]).toEqual({ name: 'duel', fleet: 'arena', minPlayers: 2, maxPlayers: 2, waiting: 1, oldestWaitSeconds: 4, estimatedWaitSeconds: null });
    await mm.service.submit('bob', { queue: 'duel', latencies: EU });
    await mm.service.idle();
    // Alice waited 4 s, Bob none: the moving average learns 4, then 3.6.
    expect((await mm.service.queues())[0]!.estimatedWaitSeconds).toBe(4);
    expect(await mm.service.queueStats()).toEqual([
      { name: 'duel', fleet: 'arena', minPlayers: 2, maxPlayers: 2, waiting: 0, oldestWaitSeconds: null, estimatedWaitSeconds: 4 },
      { name: 'duel-accept', fleet: 'arena', minPlayers: 2, maxPlayers: 2, waiting: 0, oldestWaitSeconds: null, estimatedWaitSeconds: null },
      { name: 'squads', fleet: 'arena', minPlayers: 4, maxPlayers: 4, waiting: 0, oldestWaitSeconds: null, estimatedWaitSeconds: null },
    ]);
  });

  it("refuses what it cannot queue, and lets only the ticket's players cancel", async () => {
    const mm = start();
    const unknownQueue = mm.service.submit('alice', { queue: 'nope', latencies: EU });
    await expect(unknownQueue).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(unknownQueue).rejects.toThrow('queue nope does not exist; the queues are duel, duel-accept, squads');
    await expect(mm.service.submit('alice', { queue: 'duel', latencies: EU, party: ['bob'] })).rejects.toThrow(/party of 2 is larger than queue duel allows \(1\)/);
    await expect(mm.service.submit('alice', { queue: 'duel', latencies: { 'eu-west': 61 } })).rejects.toBeInstanceOf(TicketRejectedError);
    const t = await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    await expect(mm.service.submit('alice', { queue: 'squads', latencies: EU })).rejects.toBeInstanceOf(PlayerAlreadyQueuedError);

    await expect(mm.service.cancel('bob', t.ticketId)).rejects.toBeInstanceOf(TicketNotOwnerError);
    await expect(mm.service.status('bob', t.ticketId)).rejects.toBeInstanceOf(TicketNotOwnerError);
    expect(await mm.service.status('alice', t.ticketId)).toMatchObject({ state: 'waiting' });

    await mm.service.cancel('alice', t.ticketId);
    expect(mm.of('alice').at(-1)).toEqual({ type: 'cancelled', ticketId: t.ticketId, by: 'alice', reason: 'alice cancelled the ticket' });
    expect(await mm.service.status('alice', t.ticketId)).toMatchObject({ state: 'gone' });
    await mm.service.cancel('alice', t.ticketId); // a second cancel changes nothing

    await addServer('gs-1');
    const a = await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    await mm.service.submit('bob', { queue: 'duel', latencies: EU });
    await mm.service.idle();
    await expect(mm.service.cancel('alice', a.ticketId)).rejects.toBeInstanceOf(TicketAlreadyMatchedError);
  });

  it("tells a party whose member declined (or cancelled) while asked to accept which member it was", async () => {
    await addServer('gs-1');
    const mm = start();
    const queue = { ...QUEUES.find((q) => q.name === 'squads')!, name: 'squads-accept', acceptTimeoutSeconds: 10, backfill: false };
    const service = new MatchmakingService({ queues: [queue], tickets: new MemoryTicketQueue({ clock }), events: new MemoryMatchEvents(), allocator: new InProcessAllocatorClient(allocator), tokenKey: key, clock, log: silentLogger, metrics: createMatchmakerMetrics(createRegistry()), ticketGraceSeconds: NO_GRACE_LIMIT, claimLeaseSeconds: LEASE_SECONDS });
    services.push(service);
    const heard: Array<{ playerId: string; event: PlayerEvent }> = [];
    service.events((playerId, event) => heard.push({ playerId, event }));
    const party = await service.submit('bob', { queue: 'squads-accept', latencies: EU, party: ['carol'] });
    await service.submit('dave', { queue: 'squads-accept', latencies: EU, party: ['erin'] });
    await until(() => heard.filter((h) => h.event.type === 'accept').length === 4);
    const ask = heard.find((h) => h.event.type === 'accept')!.event as Extract<PlayerEvent, { type: 'accept' }>;
    await service.cancel('carol', party.ticketId); // a cancel while asked is a decline
    await service.idle();
    for (const p of ['bob', 'carol']) expect(heard.filter((h) => h.playerId === p).at(-1)!.event).toMatchObject({ type: 'failed', ticketId: party.ticketId, reason: 'carol declined the match' });
    for (const p of ['dave', 'erin']) expect(heard.filter((h) => h.playerId === p).at(-1)!.event).toMatchObject({ type: 'requeued', matchId: ask.matchId, reason: 'another player declined the match; you keep your place' });
    expect(mm.heard).toEqual([]);
  });

  it('lets a party member leave: the whole ticket leaves the queue, and every member is free to queue again', async () => {
    const mm = start();
    const party = await mm.service.submit('bob', { queue: 'squads', latencies: EU, party: ['carol'] });
    await expect(mm.service.cancel('dave', party.ticketId)).rejects.toBeInstanceOf(TicketNotOwnerError);
    await mm.service.cancel('carol', party.ticketId);
    // The leader hears which member left, and why the ticket is gone.
    for (const player of ['bob', 'carol']) expect(mm.of(player).at(-1)).toEqual({ type: 'cancelled', ticketId: party.ticketId, by: 'carol', reason: "carol left the party: its ticket is out of the queue" });
    expect(await mm.service.status('bob', party.ticketId)).toMatchObject({ state: 'gone', event: { type: 'cancelled', by: 'carol' } });
    await mm.service.cancel('carol', party.ticketId); // a second leave changes nothing
    await mm.service.submit('carol', { queue: 'squads', latencies: EU });
    await mm.service.submit('bob', { queue: 'squads', latencies: EU });
  });

  it("forgets a settled ticket once its connect tokens have expired, and keeps answering for a waiting one", async () => {
    await addServer('gs-1');
    const mm = start();
    const alice = await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    await mm.service.submit('bob', { queue: 'duel', latencies: EU });
    const carol = await mm.service.submit('carol', { queue: 'squads', latencies: EU }); // a squad needs four
    await mm.service.idle();
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'matched' });

    clock.advance(59_000); // the token (60 s) is still good
    mm.service.kick('squads');
    await mm.service.idle();
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'matched' });

    clock.advance(2_000);
    mm.service.kick('squads');
    await mm.service.idle();
    await expect(mm.service.status('alice', alice.ticketId)).rejects.toBeInstanceOf(TicketNotFoundError);
    expect(await mm.service.status('carol', carol.ticketId)).toMatchObject({ state: 'waiting' });
  });

  it('drops tickets past their time to live and tells their players', async () => {
    const mm = start();
    const t = await mm.service.submit('alice', { queue: 'duel', latencies: EU });
    clock.advance(5001);
    mm.service.kick('duel');
    await mm.service.idle();
    expect(mm.of('alice').at(-1)).toEqual({ type: 'timed-out', ticketId: t.ticketId });
    expect(await metric(mm.registry, 'hangar_matchmaker_tickets_expired_total', { queue: 'duel', reason: 'ttl' })).toBe(1);
    await mm.service.submit('alice', { queue: 'duel', latencies: EU }); // free to queue again
  });

  it('drops a ticket none of whose players was present for the grace, never matching it, and tells them why', async () => {
    await addServer('gs-1');
    const mm = start(undefined, undefined, 15);
    const ghost = await mm.service.submit('ghost', { queue: 'duel-accept', latencies: EU });
    clock.advance(15_001);
    await mm.service.submit('alice', { queue: 'duel-accept', latencies: EU });
    mm.service.kick('duel-accept');
    await mm.service.idle();
    // Alice is not asked to accept a match with a player who went away.
    expect(mm.of('alice', 'accept')).toEqual([]);
    const reason = 'no player of this ticket was at the lobby for 15 s: submit again';
    expect(mm.of('ghost').at(-1)).toEqual({ type: 'failed', ticketId: ghost.ticketId, reason });
    expect(await mm.service.status('ghost', ghost.ticketId)).toEqual({ state: 'gone', ticketId: ghost.ticketId, queue: 'duel-accept', event: { type: 'failed', ticketId: ghost.ticketId, reason } });
    expect(await metric(mm.registry, 'hangar_matchmaker_tickets_expired_total', { queue: 'duel-accept', reason: 'absent' })).toBe(1);
    expect(await metric(mm.registry, 'hangar_matchmaker_tickets_expired_total', { queue: 'duel-accept', reason: 'ttl' })).toBe(0);

    await mm.service.submit('bob', { queue: 'duel-accept', latencies: EU });
    mm.service.kick('duel-accept');
    await until(() => mm.of('alice', 'accept').length === 1 && mm.of('bob', 'accept').length === 1);
  });

  it('keeps the ticket of a player present within the grace, and of a party while any of its players is', async () => {
    const mm = start(undefined, undefined, 15);
    const alice = await mm.service.submit('alice', { queue: 'squads', latencies: EU });
    const party = await mm.service.submit('carol', { queue: 'squads', latencies: EU, party: ['dave'] });
    for (let i = 0; i < 4; i++) {
      clock.advance(10_000);
      await mm.service.present(['alice', 'dave', 'nobody']);
      mm.service.kick('squads');
      await mm.service.idle();
    }
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'waiting' });
    expect(await mm.service.status('carol', party.ticketId)).toMatchObject({ state: 'waiting' });
    clock.advance(15_001);
    mm.service.kick('squads');
    await mm.service.idle();
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'gone', event: { type: 'failed' } });
    expect(mm.of('carol', 'failed')).toHaveLength(1);
    expect(mm.of('dave', 'failed')).toHaveLength(1);
  });

  it('drops no ticket as absent for one grace after it could not tell the queue who is present', async () => {
    class QueueDownForTouches extends MemoryTicketQueue {
      down = false;
      override async touch(playerIds: readonly string[]): Promise<void> {
        if (this.down) throw new Error('the queue is unreachable');
        return super.touch(playerIds);
      }
    }
    const tickets = new QueueDownForTouches({ clock });
    const mm = start(tickets, undefined, 15);
    const alice = await mm.service.submit('alice', { queue: 'squads', latencies: EU });
    clock.advance(10_000);
    tickets.down = true;
    await expect(mm.service.present(['alice'])).rejects.toThrow('the queue is unreachable');
    tickets.down = false;
    clock.advance(10_000);
    mm.service.kick('squads');
    await mm.service.idle();
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'waiting' });
    clock.advance(5_001);
    mm.service.kick('squads');
    await mm.service.idle();
    expect(await mm.service.status('alice', alice.ticketId)).toMatchObject({ state: 'gone' });
  });

  it('backfills a running match that has room before forming new ones', async () => {
    await addServer('gs-busy', S.Allocated, { [QUEUE_LABEL]: 'squads' }, ['p1', 'p2', 'p3'], 4);
    await store.update('gs-busy', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [MATCH_ID_ANNOTATION]: 'match-7' } } }));
    await addServer('gs-other-queue', S.Allocated, { [QUEUE_LABEL]: 'duel' }, ['x'], 4);
    const mm = start();
    await mm.service.submit('dave', { queue: 'squads', latencies: EU });
    mm.service.kick('squads');
    await mm.service.idle();
    expect(mm.of('dave', 'matched')[0]).toMatchObject({ matchId: 'match-7', server: { name: 'gs-busy' } });
    expect((await store.get('gs-busy'))!.status.lists[PLAYERS_LIST]!.values).toEqual(['p1', 'p2', 'p3', 'dave']);
    expect((await store.get('gs-other-queue'))!.status.lists[PLAYERS_LIST]!.values).toEqual(['x']);

    // Full now: the next player waits for a match of their own.
    await mm.service.submit('erin', { queue: 'squads', latencies: EU });
    mm.service.kick('squads');
    await mm.service.idle();
    expect(mm.of('erin').map((e) => e.type)).toEqual(['queued']);
  });

  it("balances backfilled players across a match's teams, and forgets a match's team sizes an hour after they last changed", async () => {
    await addServer('gs-busy', S.Allocated, { [QUEUE_LABEL]: 'squads' }, ['p1'], 8);
    await store.update('gs-busy', (gs) => ({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [MATCH_ID_ANNOTATION]: 'match-7' } } }));
    const mm = start();
    const backfill = async (player: string) => {
      await mm.service.submit(player, { queue: 'squads', latencies: EU });
      mm.service.kick('squads');
      await mm.service.idle();
      return mm.of(player, 'matched')[0];
    };
    expect(await backfill('dave')).toMatchObject({ matchId: 'match-7', team: 0 });
    clock.advance(59 * 60_000);
    expect(await backfill('erin')).toMatchObject({ matchId: 'match-7', team: 1 });
    expect(await backfill('frank')).toMatchObject({ matchId: 'match-7', team: 0 }); // teams of 2 and 1 now
    clock.advance(60 * 60_000 + 1);
    // Forgotten: the next player is placed as in a match this process knows nothing of (team 1 if remembered).
    expect(await backfill('gina')).toMatchObject({ matchId: 'match-7', team: 0 });
  });

  it('after a backfill found no room, tries again only an interval later (a burst of rounds does not rescan every match)', async () => {
    await addServer('gs-busy', S.Allocated, { [QUEUE_LABEL]: 'squads' }, ['p1', 'p2', 'p3', 'p4'], 4);
    const mm = start();
    await mm.service.submit('erin', { queue: 'squads', latencies: EU });
    mm.service.kick('squads');
    await mm.service.idle();
    // A player leaves: room again, but within the interval of the miss the round does not look.
    await store.update('gs-busy', (gs) => ({ ...gs, status: { ...gs.status, lists: { [PLAYERS_LIST]: { capacity: 4, values: ['p1', 'p2', 'p3'] } } } }));
    mm.service.kick('squads');
    await mm.service.idle();
    expect(mm.of('erin', 'matched')).toHaveLength(0);
    clock.advance(250);
    mm.service.kick('squads');
    await mm.service.idle();
    expect(mm.of('erin', 'matched')[0]).toMatchObject({ server: { name: 'gs-busy' } });
  });

  it('asks the allocator, for a new match and for a backfill, exactly what a parsed request would be', async () => {
    await addServer('gs-busy', S.Allocated, { [QUEUE_LABEL]: 'squads' }, ['p1', 'p2', 'p3'], 4);
    await addServer('gs-1');
    const { service, requests } = startRecording();
    await service.submit('dave', { queue: 'squads', latencies: EU }); // backfills gs-busy
    clock.advance(10); // the oldest ticket is offered the room first
    await service.submit('erin', { queue: 'squads', latencies: EU, party: ['frank'] });
    service.kick('squads');
    await service.idle();
    clock.advance(250);
    await service.submit('gina', { queue: 'squads', latencies: EU, party: ['hal'] }); // no room left: a new match on gs-1
    service.kick('squads');
    await service.idle();
    const asked = requests.map(wholeSpec);
    const backfill = asked.find((s) => s.selectors[0]!.gameServerState === 'Allocated');
    const match = asked.find((s) => s.selectors[0]!.gameServerState === 'Ready');
    expect(backfill?.lists[PLAYERS_LIST]?.addValues).toEqual(['dave']);
    expect(match?.lists[PLAYERS_LIST]).toEqual({ addValues: expect.arrayContaining(['erin', 'frank', 'gina', 'hal']), deleteValues: [], capacity: 4 });
    for (const spec of [backfill, match]) expect(parseAllocationRequest(spec)).toEqual(spec);
    // Asked as the queue's template and the match's parts, so a stream client sends the template once.
    for (const request of requests) {
      expect('template' in request && Object.keys(request.parts).sort()).toEqual(['lists', 'metadata']);
      if ('template' in request) expect(parseAllocationRequest(request.template)).toEqual(request.template);
    }
  });

  it("asks for every match of a queue with the one template object, so a stream client sends it once a connection", async () => {
    await addServer('gs-1');
    await addServer('gs-2');
    const { service, requests } = startRecording();
    for (const player of ['ann', 'ben']) await service.submit(player, { queue: 'duel', latencies: EU, skill: 1000 });
    await service.idle();
    for (const player of ['cat', 'dan']) await service.submit(player, { queue: 'duel', latencies: EU, skill: 1000 });
    await service.idle();
    expect(requests).toHaveLength(2);
    const [first, second] = requests.map((r) => r as PreparedAllocation);
    expect(second!.template).toBe(first!.template);
    expect(second!.parts.metadata?.annotations?.[MATCH_ID_ANNOTATION]).not.toBe(first!.parts.metadata?.annotations?.[MATCH_ID_ANNOTATION]);
  });

  it('refuses, when it starts, a queue whose mode cannot label a game server', () => {
    const [squads] = QUEUES.filter((q) => q.name === 'squads');
    const start = () => new MatchmakingService({ queues: [{ ...squads!, mode: 'free for all' }], tickets: new MemoryTicketQueue({ clock }), events: new MemoryMatchEvents(), allocator: new InProcessAllocatorClient(allocator), tokenKey: key, clock, log: silentLogger, metrics: createMatchmakerMetrics(createRegistry()), ticketGraceSeconds: NO_GRACE_LIMIT, claimLeaseSeconds: LEASE_SECONDS });
    expect(start).toThrow(AllocationInvalidError);
  });

  it('gives back within a lease the tickets a stopped matchmaker had claimed, and matches them', async () => {
    await addServer('gs-1');
    const tickets = new MemoryTicketQueue({ clock });
    const mm = start(tickets);
    const alice = await mm.service.submit('alice', { queue: 'duel-accept', latencies: EU });
    clock.advance(10);
    // Another process claimed bob's ticket (and alice's), then died before making the match.
    const bob = { id: 'ticket-bob', queue: 'duel-accept', ownerId: 'bob', players: [{ playerId: 'bob', skill: 1000 }], latencies: EU, createdAt: clock.now() };
    await tickets.add(bob);
    expect(await tickets.claim([alice.ticketId, bob.id], 'match-of-a-dead-process', LEASE_SECONDS * 1000)).toBe(true);

    mm.service.start();
    clock.advance(LEASE_SECONDS * 1000 - 100); // the lease still runs: theirs
    await mm.service.idle();
    expect((await tickets.get(bob.id))!.state).toBe('claimed');

    clock.advance((LEASE_SECONDS / 3) * 1000 + 200); // past the lease by a renewal period: the next look for lapsed leases finds it
    await until(() => mm.of('alice', 'accept').length === 1);
    expect(mm.of('bob')[0]).toEqual({ type: 'requeued', ticketId: bob.id, matchId: 'match-of-a-dead-process', reason: expect.stringMatching(/matchmaker making your match stopped before it was made: that match is off/) });
    const ask = mm.of('alice', 'accept')[0]!;
    if (ask.type !== 'accept') throw new Error('unreachable');
    await mm.service.accept('alice', ask.matchId, true);
    await mm.service.accept('bob', ask.matchId, true);
    await mm.service.idle();
    expect(mm.of('bob', 'matched')).toHaveLength(1);
  });

  it('never delivers a match whose claim lapsed while it was being made (the process stalled), since the tickets may be matched elsewhere', async () => {
    await addServer('gs-1');
    const tickets = new MemoryTicketQueue({ clock });
    const mm = start(tickets); // never started: it renews nothing, as a stalled process would not
    const ask = await askedToAccept(mm);
    // Another process takes the tickets back once the lease ran out, and matches them again.
    clock.advance(LEASE_SECONDS * 1000 + 1);
    const released = await tickets.releaseStale(clock.now());
    expect(released.map((r) => r.matchId)).toEqual([ask.matchId, ask.matchId]);
    expect(await tickets.claim(released.map((r) => r.ticket.id), 'the-other-process-match', LEASE_SECONDS * 1000)).toBe(true);
    // The stalled process wakes up to both answers: it allocates, but must not tell anyone they are matched.
    await mm.service.accept('alice', ask.matchId, true);
    await mm.service.accept('bob', ask.matchId, true);
    await mm.service.idle();
    expect([...mm.of('alice', 'matched'), ...mm.of('bob', 'matched')]).toEqual([]);
    for (const r of released) expect(await tickets.get(r.ticket.id)).toMatchObject({ state: 'claimed', matchId: 'the-other-process-match' });
  });

  it('keeps its claim through a renewal that timed out on a silent Redis (a partition dropping packets), renewing it at the next once Redis answers', async () => {
    const prefix = `test-mm-${randomUUID()}:`;
    const relay = await TcpRelay.start('127.0.0.1', 6379);
    const tickets = new RedisTicketQueue({ connection: { host: '127.0.0.1', port: relay.port }, prefix, clock, commandTimeoutMs: 300 });
    const events = new RedisMatchEvents({ connection: REDIS_URL, prefix });
    const otherProcess = new RedisTicketQueue({ connection: REDIS_URL, prefix, clock });
    // What each renewal came to, as the service saw it.
    const renewals: string[] = [];
    const renew = tickets.renew.bind(tickets);
    tickets.renew = (...args) => renew(...args).then(
      (held) => (renewals.push(held ? 'renewed' : 'lost'), held),
      (err: unknown) => {
        renewals.push('failed');
        throw err;
      },
    );
    try {
      await addServer('gs-1');
      const mm = start(tickets, events);
      await events.subscribed();
      mm.service.start();
      const ask = await askedToAccept(mm);

      relay.swallowing = true;
      clock.advance((LEASE_SECONDS / 3) * 1000); // a renewal falls due, and hangs until the command timeout fails it
      await eventually(() => renewals.includes('failed'));
      await eventually(() => !tickets.isUp());
      relay.swallowing = false;
      await eventually(() => tickets.isUp(), 5000);
      clock.advance((LEASE_SECONDS / 3) * 1000); // the next renewal reaches Redis before the lease ran out
      await eventually(() => renewals.at(-1) === 'renewed');
      expect(renewals).not.toContain('lost');

      // Past the lease the claim had before the failed renewal: still held, so no other process takes the tickets back.
      clock.advance((LEASE_SECONDS / 3) * 1000 + 500);
      expect(await otherProcess.releaseStale(clock.now())).toEqual([]);
      await mm.service.accept('alice', ask.matchId, true);
      await mm.service.accept('bob', ask.matchId, true);
      await mm.service.idle();
      await eventually(() => mm.of('alice', 'matched').length === 1 && mm.of('bob', 'matched').length === 1);
      expect(mm.of('alice', 'requeued')).toEqual([]);
    } finally {
      for (const s of services.splice(0)) await s.close();
      await tickets.close();
      await events.close();
      await otherProcess.close();
      const admin = new Redis(REDIS_URL);
      await removeRedisKeys(admin, prefix);
      await admin.quit();
      await relay.close();
    }
  });

  it.each([
    ['dropped', true],
    ['silent (packets dropped, the connection open)', false],
  ])("answers status with gone, not waiting, for a ticket that ended while this process's event subscription was cut off: %s", async (_how, dropped) => {
    const prefix = `test-mm-${randomUUID()}:`;
    const relay = await TcpRelay.start('127.0.0.1', 6379);
    const tickets = [0, 1].map(() => new RedisTicketQueue({ connection: REDIS_URL, prefix, clock }));
    // Process A hears the others' news through the relay; B directly.
    const events = [new RedisMatchEvents({ connection: { host: '127.0.0.1', port: relay.port }, prefix, commandTimeoutMs: 300 }), new RedisMatchEvents({ connection: REDIS_URL, prefix })];
    try {
      const [a, b] = [start(tickets[0], events[0]), start(tickets[1], events[1])] as [Harness, Harness];
      await Promise.all(events.map((e) => e.subscribed()));
      const alice = await b.service.submit('alice', { queue: 'duel-accept', latencies: EU });
      clock.advance(10);
      const bob = await b.service.submit('bob', { queue: 'duel-accept', latencies: EU });
      b.service.kick('duel-accept');
      await eventually(() => a.of('alice', 'accept').length === 1);
      const ask = a.of('alice', 'accept')[0]!;
      if (ask.type !== 'accept') throw new Error('unreachable');
      expect(await a.service.status('alice', alice.ticketId)).toMatchObject({ state: 'accept-pending' });

      // A's subscription drops, and stays down while Alice declines at B: her ticket leaves the queue.
      relay.swallowing = true;
      if (dropped) relay.cut();
      await b.service.accept('alice', ask.matchId, false);
      await b.service.idle();
      await eventually(() => b.of('bob', 'requeued').length === 1);
      expect(await b.service.status('alice', alice.ticketId)).toMatchObject({ state: 'gone' });
      expect(a.of('bob', 'requeued')).toEqual([]);

      // A silent subscriber finds out when its keep-alive PING times out.
      await eventually(() => !events[0]!.isUp(), 5000);
      relay.swallowing = false;
      await eventually(() => events[0]!.isUp(), 5000);
      expect(await a.service.status('alice', alice.ticketId)).toEqual({
        state: 'gone',
        ticketId: alice.ticketId,
        queue: 'duel-accept',
        event: { type: 'failed', ticketId: alice.ticketId, reason: expect.stringMatching(/cut off from the others.*submit again/) },
      });
      // Bob's ticket is back in the queue: the queue, not missed news, answers for it.
      expect(await a.service.status('bob', bob.ticketId)).toMatchObject({ state: 'waiting' });
    } finally {
      for (const s of services.splice(0)) await s.close();
      for (const part of [...tickets, ...events]) await part.close();
      const admin = new Redis(REDIS_URL);
      await removeRedisKeys(admin, prefix);
      await admin.quit();
      await relay.close();
    }
  });

  /**
   * Two processes on one Redis: B makes a duel with an accept step, then stops renewing its claim
   * (it died); A is where alice's and bob's sockets are, and they have been asked.
   */
  async function askedByADeadMatchmaker() {
    const parts = redisParts();
    const [a, b] = parts.map((p) => start(p.tickets, p.events)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    return { parts, a, ask: await askedToAccept(b, a) };
  }

  it('refuses an answer to a match whose matchmaker died and whose tickets were given back, rather than accepting it into the void', async () => {
    const { parts, a, ask } = await askedByADeadMatchmaker();
    // While the claim holds, an answer at A travels to B.
    await a.service.accept('bob', ask.matchId, true);

    clock.advance(LEASE_SECONDS * 1000 + 1);
    expect(await parts[0]!.tickets.releaseStale(clock.now())).toHaveLength(2);
    await expect(a.service.accept('alice', ask.matchId, true)).rejects.toMatchObject({ code: 'MATCH_ACCEPT_CLOSED', message: expect.stringMatching(/matchmaker making it stopped/) });
  });

  it("closes the accept step at once for an answer sent after the dead matchmaker's lease ran out, before any other process has taken the tickets back, and tells every player the match is off", async () => {
    const { parts, a, ask } = await askedByADeadMatchmaker();
    // The lease has run out; no process has looked for abandoned claims since (they do every third of a lease).
    clock.advance(LEASE_SECONDS * 1000 + 1);
    await expect(a.service.accept('alice', ask.matchId, true)).rejects.toMatchObject({ code: 'MATCH_ACCEPT_CLOSED', message: expect.stringMatching(/matchmaker making it stopped/) });
    await eventually(() => a.of('alice', 'requeued').length === 1 && a.of('bob', 'requeued').length === 1);
    expect(a.of('bob', 'requeued')[0]).toMatchObject({ matchId: ask.matchId, reason: expect.stringMatching(/matchmaker making your match stopped/) });
    expect(await parts[0]!.tickets.get(ask.ticketId)).toMatchObject({ state: 'waiting' });
  });

  /** Two matchmaker processes' queues and buses on one Redis, under a prefix of their own. */
  const opened: Array<{ prefix: string; parts: Array<{ tickets: RedisTicketQueue; events: RedisMatchEvents }> }> = [];
  /** Two processes' queue and event bus on one Redis, under a prefix of the test's own; closed and their keys removed after it. */
  function redisParts() {
    const prefix = `test-mm-${randomUUID()}:`;
    const parts = [0, 1].map(() => ({ tickets: new RedisTicketQueue({ connection: REDIS_URL, prefix, clock }), events: new RedisMatchEvents({ connection: REDIS_URL, prefix }) }));
    opened.push({ prefix, parts });
    return parts;
  }
  afterEach(async () => {
    // The services first: they still use the queues while they close.
    for (const s of services.splice(0)) await s.close();
    const admin = new Redis(REDIS_URL);
    for (const { prefix, parts } of opened.splice(0)) {
      for (const p of parts) {
        await p.tickets.close();
        await p.events.close();
      }
      await removeRedisKeys(admin, prefix);
    }
    await admin.quit();
  });

  it('on close, a Redis queue keeps its waiting tickets for the other processes, and the closed one takes no new ones', async () => {
    const parts = redisParts();
    const [closing, staying] = parts.map((p) => start(p.tickets, p.events)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    const { ticketId } = await closing.service.submit('alice', { queue: 'duel', latencies: EU });
    await closing.service.close();
    await expect(closing.service.submit('bob', { queue: 'duel', latencies: EU })).rejects.toBeInstanceOf(MatchmakerDrainingError);
    expect(closing.of('alice', 'failed')).toEqual([]);
    expect(await parts[1]!.tickets.get(ticketId)).toMatchObject({ state: 'waiting' });

    // The process that stays matches her with a player who came to it.
    await addServer('gs-1');
    clock.advance(10);
    await staying.service.submit('bob', { queue: 'duel', latencies: EU });
    staying.service.kick('duel');
    await staying.service.idle();
    await until(() => staying.of('alice', 'matched').length === 1);
  });

  it('with two processes on one Redis, keeps a ticket whose player is present at the other process, and drops a ghost for both', async () => {
    const parts = redisParts();
    const [one, two] = parts.map((p) => start(p.tickets, p.events, 15)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    const kept = await one.service.submit('alice', { queue: 'squads', latencies: EU });
    const ghost = await one.service.submit('ghost', { queue: 'squads', latencies: EU });
    clock.advance(10_000);
    await two.service.present(['alice']);
    clock.advance(10_000);
    one.service.kick('squads');
    await one.service.idle();
    expect(await one.service.status('alice', kept.ticketId)).toMatchObject({ state: 'waiting' });
    await until(() => two.of('ghost', 'failed').length === 1);
    expect(await parts[1]!.tickets.get(ghost.ticketId)).toBeUndefined();
  });

  it('carries an accept answer given at another process to the one holding the match', async () => {
    await addServer('gs-1');
    const parts = redisParts();
    const [holder, other] = parts.map((p) => start(p.tickets, p.events)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    await holder.service.submit('alice', { queue: 'duel-accept', latencies: EU });
    clock.advance(10);
    await holder.service.submit('bob', { queue: 'duel-accept', latencies: EU });
    // Bob's socket is on the other process: he hears the ask there and answers there.
    await until(() => other.of('bob', 'accept').length === 1 && holder.of('alice', 'accept').length === 1);
    const ask = other.of('bob', 'accept')[0]!;
    if (ask.type !== 'accept') throw new Error('unreachable');
    await holder.service.accept('alice', ask.matchId, true);
    await other.service.accept('bob', ask.matchId, true);
    // Each process hears its own player's news over Redis, in no set order between them.
    await until(() => other.of('bob', 'matched').length === 1 && holder.of('alice', 'matched').length === 1);
    expect(holder.of('alice', 'matched')).toHaveLength(1);
    // The answer never reaches a player's listener.
    expect([...holder.heard, ...other.heard].some((h) => (h.event as { type: string }).type === 'answer')).toBe(false);
  });

  it('with two processes on one Redis, the live one takes back within seconds the match of one that died mid-accept, and its players hear the match is off', async () => {
    await addServer('gs-1');
    const parts = redisParts();
    const [dead, live] = parts.map((p) => start(p.tickets, p.events)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    live.service.start();
    // The dead one claims the match and asks; it never renews its lease (it was never started: it is gone).
    const ask = await askedToAccept(dead, live);
    const started = clock.now();
    while (live.of('bob', 'requeued').length === 0) {
      expect(clock.now() - started).toBeLessThanOrEqual((LEASE_SECONDS + LEASE_SECONDS / 3) * 1000);
      clock.advance(250);
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => live.of('alice', 'requeued').length === 1);
    for (const p of ['alice', 'bob']) {
      expect(live.of(p, 'requeued')[0]).toMatchObject({ matchId: ask.matchId, reason: expect.stringMatching(/stopped before it was made: that match is off, and you keep your place/) });
    }
    // The dead match's prompt is closed at the live process; its own new match asks them again.
    await expect(live.service.accept('alice', ask.matchId, true)).rejects.toMatchObject({ code: 'MATCH_ACCEPT_CLOSED' });
    await until(() => live.of('alice', 'accept').length === 2 && live.of('bob', 'accept').length === 2);
    const again = live.of('alice', 'accept')[1]!;
    if (again.type !== 'accept') throw new Error('unreachable');
    expect(again.matchId).not.toBe(ask.matchId);
    await live.service.accept('alice', again.matchId, true);
    await live.service.accept('bob', again.matchId, true);
    await until(() => live.of('alice', 'matched').length === 1 && live.of('bob', 'matched').length === 1);
  });

  it('with two processes on one Redis, a live matchmaker keeps its claim through an accept step longer than the lease', async () => {
    await addServer('gs-1');
    const parts = redisParts();
    const [holder, other] = parts.map((p) => start(p.tickets, p.events)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    holder.service.start();
    other.service.start();
    const ask = await askedToAccept(holder);
    // 9.5 s of a 10 s accept step: past a 6 s lease, renewed all along.
    for (let i = 0; i < 38; i++) {
      clock.advance(250);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect([...holder.heard, ...other.heard].filter((h) => h.event.type === 'requeued')).toEqual([]);
    await other.service.accept('alice', ask.matchId, true);
    await holder.service.accept('bob', ask.matchId, true);
    await until(() => holder.of('alice', 'matched').length === 1 && holder.of('bob', 'matched').length === 1);
  });

  it('with two processes on one Redis, matches every player exactly once', async () => {
    const parts = redisParts();
    const [one, two] = parts.map((p) => start(p.tickets, p.events)) as [Harness, Harness];
    await Promise.all(parts.map((p) => p.events.subscribed()));
    for (let i = 0; i < 20; i++) await addServer(`gs-${i}`);
    const players = Array.from({ length: 40 }, (_, i) => `player-${i}`);
    await Promise.all(players.map((p, i) => (i % 2 ? one : two).service.submit(p, { queue: 'duel', latencies: EU })));
    for (let round = 0; round < 5; round++) {
      one.service.kick('duel');
      two.service.kick('duel');
      await Promise.all([one.service.idle(), two.service.idle()]);
    }
    // Redis pub/sub is asynchronous: wait until both processes heard every match.
    await until(() => players.every((p) => one.of(p, 'matched').length && two.of(p, 'matched').length));
    await new Promise((r) => setTimeout(r, 50));
    for (const p of players) expect(one.of(p, 'matched')).toHaveLength(1);
    const servers = new Set(players.map((p) => (one.of(p, 'matched')[0] as Extract<PlayerEvent, { type: 'matched' }>).server.name));
    expect(servers.size).toBe(20);
    expect((await store.list()).every((gs) => gs.status.state === S.Allocated)).toBe(true);
  });
});

