import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { StoreAllocationBackend } from '../../allocator/allocation-backend.js';
import { Allocator } from '../../allocator/allocator.js';
import { loadPlayerAuthConfig, parseConfig } from '../../core/config.js';
import { silentLogger } from '../../core/logger.js';
import { createAllocatorMetrics, createMatchmakerMetrics, createRegistry, type Registry } from '../../core/metrics.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { removeRedisKeys } from '../../test/helpers/redis-keys.js';
import { TcpRelay } from '../../test/helpers/tcp-relay.js';
import { InProcessAllocatorClient } from '../allocator-client.js';
import { MatchmakingService } from '../matchmaking-service.js';
import { PlayerAuth } from '../player-auth.js';
import { RedisMatchEvents } from '../queue/redis-match-events.js';
import { RedisTicketQueue } from '../queue/redis-ticket-queue.js';
import { parseMatchmakingRules } from '../rules.js';
import { startLobbyServer, type LobbyServer } from './lobby-server.js';
import { eventually, startTestLobby, TEST_SECRET, TestSocket, type TestLobby } from './lobby-test-harness.js';
import type { Matchmaking } from './matchmaking.js';

// Tickets of players who went away (LOBBY.md): two lobby processes, each with its matchmaking
// service, sharing one Redis ticket queue, with real WebSocket and HTTP clients and a fake clock
// (so the grace and the lobbies' reports move only when a test says).

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const GRACE_SECONDS = 15;
/** Eight players a match: the few players here never make one, so only leaving ends their tickets. */
const RULES = parseMatchmakingRules('queues:\n  - name: squads\n    fleet: arena\n    teams: { count: 2, size: 4 }\n    maxPartySize: 4\n', 'matchmaking.yaml').queues;
const SUBMIT = { queue: 'squads', latencies: { 'eu-west': 20 } };
/** matchmaker.redis_command_timeout_seconds, short: the relay's silence must fail within a test. */
const COMMAND_TIMEOUT_MS = 300;

interface Process {
  lobby: LobbyServer;
  service: MatchmakingService;
  registry: Registry;
  /** Resolves once every `present` the lobby made so far has reached the queue (or failed to). */
  reported(): Promise<void>;
  /** While set, this process's lobby cannot tell the queue who is present (its Redis unreachable; the others reach theirs). */
  cutOff: boolean;
  /** The lobby's view of the queue (the matchmaker's readiness check). */
  queueUp(): boolean;
  close(): Promise<void>;
}

describe('tickets of players who leave the lobby, over two lobby processes on one Redis', () => {
  let clock: FakeClock;
  let prefix: string;
  let auth: PlayerAuth;
  let processes: Process[];
  let sockets: TestSocket[];
  beforeEach(() => {
    clock = new FakeClock();
    prefix = `test-presence-${randomUUID()}:`;
    const config = parseConfig('server: { environment: production }', 'test.yaml', {});
    auth = new PlayerAuth({ config: loadPlayerAuthConfig(config, { JWT_SECRET: TEST_SECRET }), clock, log: silentLogger });
    processes = [];
    sockets = [];
  });
  afterEach(async () => {
    for (const s of sockets) s.ws.terminate();
    for (const p of processes) await p.close();
    const admin = new Redis(REDIS);
    await removeRedisKeys(admin, prefix);
    await admin.quit();
  });

  /** A lobby process with its matchmaking service; `relay`, when given, stands between it and Redis. */
  async function startProcess(relay?: TcpRelay): Promise<Process> {
    const connection = relay ? { host: '127.0.0.1', port: relay.port } : REDIS;
    const tickets = new RedisTicketQueue({ connection, prefix, clock, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    const events = new RedisMatchEvents({ connection, prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    const store = new MemoryGameServerStore();
    const allocator = new Allocator({ backend: new StoreAllocationBackend(store, clock), clock, log: silentLogger, metrics: createAllocatorMetrics(createRegistry()) });
    const registry = createRegistry();
    const metrics = createMatchmakerMetrics(registry);
    const service = new MatchmakingService({ queues: RULES, tickets, events, allocator: new InProcessAllocatorClient(allocator), tokenKey: randomBytes(32), clock, log: silentLogger, metrics, ticketGraceSeconds: GRACE_SECONDS, claimLeaseSeconds: 6 });
    await events.subscribed();
    const inFlight = new Set<Promise<void>>();
    const matchmaking: Matchmaking = {
      queues: () => service.queues(),
      submit: (playerId, request) => service.submit(playerId, request),
      cancel: (playerId, ticketId) => service.cancel(playerId, ticketId),
      status: (playerId, ticketId) => service.status(playerId, ticketId),
      accept: (playerId, matchId, accept) => service.accept(playerId, matchId, accept),
      events: (listener) => service.events(listener),
      present: (playerIds) => {
        const told = p.cutOff ? Promise.reject(new Error('connect ECONNREFUSED (the test cut this lobby off from Redis)')) : service.present(playerIds);
        inFlight.add(told);
        const done = () => void inFlight.delete(told);
        told.then(done, done);
        return told;
      },
    };
    const config = parseConfig('', 'test.yaml', {});
    const lobby = await startLobbyServer({
      host: '127.0.0.1',
      port: 0,
      matchmaking,
      auth,
      settings: { ...config.lobby, rate_limit: { ...config.lobby.rate_limit, player_burst: 1000, address_burst: 10_000 }, ticket_grace_seconds: GRACE_SECONDS },
      queueUp: () => p.queueUp(),
      clock,
      metrics,
      log: silentLogger,
    });
    const p: Process = {
      lobby,
      service,
      registry,
      cutOff: false,
      queueUp: () => !p.cutOff && tickets.isUp() && events.isUp(),
      reported: async () => {
        while (inFlight.size) await Promise.allSettled(inFlight);
      },
      close: async () => {
        await service.close();
        await lobby.close();
        await tickets.close();
        await events.close();
        await store.close();
      },
    };
    processes.push(p);
    return p;
  }

  async function connect(p: Process, playerId: string): Promise<TestSocket> {
    const { token } = await auth.issue(playerId, { guest: false });
    const before = p.lobby.connections;
    const ws = new WebSocket(`ws://127.0.0.1:${p.lobby.port}/v1/lobby`, { headers: { authorization: `Bearer ${token}` } });
    const socket = new TestSocket(ws);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    sockets.push(socket);
    await eventually(() => p.lobby.connections === before + 1);
    await p.reported();
    return socket;
  }

  /** Closes `socket` and waits until its lobby has seen it go and told the queue. */
  async function leave(p: Process, socket: TestSocket): Promise<void> {
    const before = p.lobby.connections;
    await socket.close();
    await eventually(() => p.lobby.connections === before - 1);
    await p.reported();
  }

  async function http(p: Process, playerId: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const { token } = await auth.issue(playerId, { guest: false });
    const res = await fetch(`http://127.0.0.1:${p.lobby.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function submitOver(socket: TestSocket): Promise<string> {
    const reply = await socket.request({ type: 'submit', id: randomUUID(), ...SUBMIT });
    return (reply.result as { ticketId: string }).ticketId;
  }

  /** Time passes: the lobbies' reports fall due and reach the queue, then a round runs on `p`. */
  async function advance(ms: number, p: Process): Promise<void> {
    clock.advance(ms);
    for (const q of processes) await q.reported();
    p.service.kick('squads');
    await p.service.idle();
  }

  const state = async (p: Process, playerId: string, ticketId: string) => (await p.service.status(playerId, ticketId)).state;
  const absentDropped = (p: Process) => p.registry.getSingleMetric('hangar_matchmaker_tickets_expired_total')!.get().then((m) => m.values.find((v) => v.labels.reason === 'absent')?.value ?? 0);

  it('drops the ticket of a player who left and did not come back within the grace, and keeps those of players who reconnect, hold another socket, or poll', async () => {
    const [a, b] = [await startProcess(), await startProcess()];

    // Frank queues and goes away; Alice's connection drops on A and she comes back on B.
    const frank = await connect(a, 'frank');
    const frankTicket = await submitOver(frank);
    const alice = await connect(a, 'alice');
    const aliceTicket = await submitOver(alice);
    // Erin has a socket on each process, and closes the one on A.
    const erinOnA = await connect(a, 'erin');
    const erinTicket = await submitOver(erinOnA);
    await connect(b, 'erin');
    // Carol has no socket: she polls over HTTP, at B. Dave submits over HTTP at A and never asks again.
    const carolTicket = (await http(b, 'carol', 'POST', '/v1/tickets', SUBMIT)).body.ticketId as string;
    const daveTicket = (await http(a, 'dave', 'POST', '/v1/tickets', SUBMIT)).body.ticketId as string;

    await leave(a, frank);
    await leave(a, alice);
    await leave(a, erinOnA);
    await advance(10_000, a);
    const aliceBack = await connect(b, 'alice');
    expect((await http(b, 'carol', 'GET', `/v1/tickets/${carolTicket}`)).body.state).toBe('waiting');
    // Lobbies report requests every third of the grace: Dave's submit counted from A's first report, at 5 s.
    await advance(10_001, a);
    // Frank and Dave were last seen over the grace ago; the others since.
    expect(await state(a, 'frank', frankTicket)).toBe('gone');
    expect(await state(a, 'dave', daveTicket)).toBe('gone');
    for (const [player, ticket] of [['alice', aliceTicket], ['erin', erinTicket], ['carol', carolTicket]] as const) expect(await state(a, player, ticket)).toBe('waiting');
    expect(await absentDropped(a)).toBe(2);

    // A player back after the grace finds out why, over HTTP (a poll) or a socket (a push missed, then a status).
    const reason = `no player of this ticket was at the lobby for ${GRACE_SECONDS} s: submit again`;
    expect((await http(b, 'dave', 'GET', `/v1/tickets/${daveTicket}`)).body).toEqual({ state: 'gone', ticketId: daveTicket, queue: 'squads', event: { type: 'failed', ticketId: daveTicket, reason } });
    const frankBack = await connect(b, 'frank');
    expect((await frankBack.request({ type: 'status', id: 1, ticketId: frankTicket })).result).toEqual({ state: 'gone', ticketId: frankTicket, queue: 'squads', event: { type: 'failed', ticketId: frankTicket, reason } });
    // Alice, who came back, heard nothing of it.
    expect(aliceBack.pushes).toEqual([]);

    // Carol stops polling: her ticket goes a grace later; the players with a socket open stay.
    await advance(20_000, b);
    expect(await state(b, 'carol', carolTicket)).toBe('gone');
    expect(await state(b, 'alice', aliceTicket)).toBe('waiting');
    expect(await state(b, 'erin', erinTicket)).toBe('waiting');
  });

  it('hands the sockets of a lobby process the matchmaker cannot hear to another, before the others would drop their tickets as absent', async () => {
    const [a, b] = [await startProcess(), await startProcess()];
    const alice = await connect(a, 'alice');
    const aliceTicket = await submitOver(alice);
    a.cutOff = true;
    await advance(5000, b); // A's report finds its queue unreachable: once is not yet an outage
    expect(a.lobby.connections).toBe(1);
    await advance(5000, b); // unreachable at two reports in a row: A asks its clients to reconnect
    expect(await alice.closed).toEqual({ code: 1013, reason: 'this lobby cannot reach the matchmaker: reconnect' });
    // Alice's client reconnects, to B this time (A is not ready: the load balancer sends her on).
    await connect(b, 'alice');
    await advance(5001, b); // a grace since A last told anyone of her
    expect(await state(b, 'alice', aliceTicket)).toBe('waiting');
    expect(await absentDropped(b)).toBe(0);

    // Once per outage: a client that comes back to A while it is still cut off stays.
    const bob = await connect(a, 'bob');
    await advance(20_000, b);
    expect(a.lobby.connections).toBe(1);
    // Reachable again, A would hand its sockets off in the next outage.
    a.cutOff = false;
    await advance(5000, b);
    a.cutOff = true;
    await advance(5000, b);
    await advance(5000, b);
    expect((await bob.closed).code).toBe(1013);
  });

  it('hands off the sockets of a lobby process whose Redis went silent (packets dropped, the connection still open), as it does when Redis refuses', async () => {
    const relay = await TcpRelay.start('127.0.0.1', 6379);
    try {
      const [a, b] = [await startProcess(relay), await startProcess()];
      const alice = await connect(a, 'alice');
      const aliceTicket = await submitOver(alice);
      relay.swallowing = true;
      // A's report hangs on the silent connection until the command timeout fails it (advance waits for it).
      const started = Date.now();
      await advance(5000, b);
      expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 1500);
      await eventually(() => !a.queueUp());
      expect(a.lobby.connections).toBe(1); // once is not yet an outage
      await advance(5000, b); // its report failed, and the next finds the queue unreachable: as early as for a refusal
      expect(await alice.closed).toEqual({ code: 1013, reason: 'this lobby cannot reach the matchmaker: reconnect' });
      await connect(b, 'alice');
      await advance(5001, b);
      expect(await state(b, 'alice', aliceTicket)).toBe('waiting');
      expect(await absentDropped(b)).toBe(0);

      // The partition heals: A reaches the queue again, and its answers are its own.
      relay.swallowing = false;
      await eventually(() => a.queueUp(), 5000);
      expect(await state(a, 'alice', aliceTicket)).toBe('waiting');
    } finally {
      for (const p of processes.splice(0)) await p.close();
      await relay.close();
    }
  });
});

describe('the lobby tells the matchmaker who is present', () => {
  let lobby: TestLobby | undefined;
  afterEach(async () => {
    await lobby?.close();
    lobby = undefined;
  });

  it('at once when a socket opens or closes, and every third of the grace for open sockets and HTTP requests since the last report', async () => {
    const l = (lobby = await startTestLobby({ ticketGraceSeconds: 30 }));
    const { sightings } = l.matchmaking;
    const alice = await l.connect({ playerId: 'alice' });
    await eventually(() => sightings.length === 1);
    expect(sightings).toEqual([['alice']]);
    await l.connect({ playerId: 'alice' });
    const token = await l.token('bob');
    await l.http('GET', '/v1/tickets/ticket-9', { token });
    l.clock.advance(10_000);
    expect(sightings.slice(1)).toEqual([['alice'], ['bob', 'alice']]);

    // Bob made no request since: only the socket's player is reported. Alice still has one socket open.
    await alice.close();
    await eventually(() => sightings.length === 4);
    l.clock.advance(10_000);
    expect(sightings.slice(3)).toEqual([['alice'], ['alice']]);
  });
});
