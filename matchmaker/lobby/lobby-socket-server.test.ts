import { afterEach, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { eventually, startTestLobby, TEST_QUEUES, TEST_SECRET, type TestLobby, type TestLobbyOptions } from './lobby-test-harness.js';

const SERVER = { address: '10.0.0.7', port: 7010, ports: [{ name: 'default', port: 7010 }], name: 'arena-x7k2p' };
const SUBMIT = { type: 'submit', queue: 'duel', latencies: { 'eu-west': 24, 'us-east': 95 } };

describe('lobby WebSocket', () => {
  let lobby: TestLobby | undefined;
  afterEach(async () => {
    await lobby?.close();
    lobby = undefined;
  });
  const start = async (options: TestLobbyOptions = {}) => (lobby = await startTestLobby(options));

  it('answers every message type with its id, and pushes the ticket’s events', async () => {
    const l = await start();
    const alice = await l.connect({ playerId: 'alice' });
    const bob = await l.connect({ playerId: 'bob' });

    expect(await alice.request({ ...SUBMIT, id: 1, skill: 1200 })).toEqual({ id: 1, result: { ticketId: 'ticket-1', estimatedWaitSeconds: 30 } });
    expect(await alice.next((m) => m.type === 'queued')).toEqual({ type: 'queued', ticketId: 'ticket-1', queue: 'duel', estimatedWaitSeconds: 30 });
    expect(l.matchmaking.calls[0]).toEqual({ method: 'submit', playerId: 'alice', args: [{ queue: 'duel', latencies: { 'eu-west': 24, 'us-east': 95 }, skill: 1200 }] });
    expect(await alice.request({ type: 'status', id: 'a', ticketId: 'ticket-1' })).toEqual({ id: 'a', result: { state: 'waiting', ticketId: 'ticket-1', queue: 'duel', estimatedWaitSeconds: 30 } });
    await bob.request({ ...SUBMIT, id: 1 });

    const deadline = l.clock.now() + 10_000;
    l.matchmaking.propose('match-1', ['ticket-1', 'ticket-2'], deadline);
    const acceptEvent = { type: 'accept', ticketId: 'ticket-1', matchId: 'match-1', deadline };
    expect(await alice.next((m) => m.type === 'accept')).toEqual(acceptEvent);
    expect((await alice.request({ type: 'status', id: 2, ticketId: 'ticket-1' })).result).toEqual({ state: 'accept-pending', ticketId: 'ticket-1', queue: 'duel', event: acceptEvent });
    expect(await alice.request({ type: 'accept', id: 3, matchId: 'match-1' })).toEqual({ id: 3, result: { matchId: 'match-1', accepted: true } });
    expect(await bob.request({ type: 'decline', id: 3, matchId: 'match-1' })).toEqual({ id: 3, result: { matchId: 'match-1', accepted: false } });
    expect(Object.fromEntries(l.matchmaking.answers('match-1'))).toEqual({ alice: true, bob: false });

    l.matchmaking.match('match-2', ['ticket-1'], SERVER);
    const matched = await alice.next((m) => m.type === 'matched');
    expect(matched).toEqual({ type: 'matched', ticketId: 'ticket-1', matchId: 'match-2', team: 0, server: SERVER, connectToken: Buffer.from('match-2/alice').toString('base64') });
    expect((await alice.request({ type: 'status', id: 4, ticketId: 'ticket-1' })).result).toEqual({ state: 'matched', ticketId: 'ticket-1', queue: 'duel', event: matched });

    expect(await alice.request({ ...SUBMIT, id: 5, queue: 'squad' })).toEqual({ id: 5, result: { ticketId: 'ticket-3', estimatedWaitSeconds: 30 } });
    expect(await alice.request({ type: 'cancel', id: 6, ticketId: 'ticket-3' })).toEqual({ id: 6, result: { ticketId: 'ticket-3', cancelled: true } });
    const cancelled = { type: 'cancelled', ticketId: 'ticket-3', by: 'alice', reason: 'alice cancelled the ticket' };
    expect(await alice.next((m) => m.type === 'cancelled')).toEqual(cancelled);
    expect((await alice.request({ type: 'status', id: 7, ticketId: 'ticket-3' })).result).toEqual({ state: 'gone', ticketId: 'ticket-3', queue: 'squad', event: cancelled });

    const ping = await alice.request({ type: 'ping', id: 8 });
    expect(ping).toEqual({ id: 8, result: { pong: true, time: l.clock.now() } });
    expect(await l.metric('game_server_request_duration_seconds_count', { type: 'submit' })).toBe(3);
    expect(await l.metric('game_server_request_duration_seconds_count', { type: 'ping' })).toBe(1);
  });

  it('answers the matchmaker’s refusals with their codes, and they change nothing', async () => {
    const l = await start();
    const alice = await l.connect({ playerId: 'alice' });
    const mallory = await l.connect({ playerId: 'mallory' });
    await alice.request({ ...SUBMIT, id: 1 });

    const stolen = await mallory.request({ type: 'cancel', id: 'c', ticketId: 'ticket-1' });
    expect(stolen).toEqual({ id: 'c', error: { code: 'TICKET_NOT_OWNER', message: 'ticket ticket-1 is not yours: you are not one of its players' } });
    expect((await mallory.request({ type: 'status', id: 's', ticketId: 'ticket-1' })).error?.code).toBe('TICKET_NOT_OWNER');
    expect((await alice.request({ type: 'status', id: 2, ticketId: 'ticket-1' })).result?.state).toBe('waiting');
    expect(alice.pushes.filter((m) => m.type === 'cancelled')).toEqual([]);

    expect(await alice.request({ type: 'queues', id: 'q' })).toEqual({ id: 'q', result: { queues: TEST_QUEUES } });
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ ...SUBMIT, queue: 'ranked' }, 'QUEUE_NOT_FOUND', 'queue ranked does not exist; the queues are duel, squad'],
      [{ ...SUBMIT }, 'TICKET_REJECTED', 'player alice already has ticket ticket-1 waiting'],
      [{ type: 'cancel', ticketId: 'ticket-99' }, 'TICKET_NOT_FOUND', 'ticket ticket-99 not found'],
      [{ type: 'accept', matchId: 'match-9' }, 'MATCH_NOT_FOUND', 'match match-9 not found, or you are not in it'],
    ];
    for (const [i, [message, code, text]] of cases.entries()) {
      expect(await alice.request({ ...message, id: 100 + i })).toEqual({ id: 100 + i, error: { code, message: text } });
    }
    l.matchmaking.propose('m-1', ['ticket-1'], l.clock.now() + 5000);
    await alice.request({ type: 'accept', id: 200, matchId: 'm-1' });
    expect((await alice.request({ type: 'decline', id: 201, matchId: 'm-1' })).error).toEqual({ code: 'MATCH_ACCEPT_CLOSED', message: 'match m-1 no longer takes answers: you already answered' });
    l.matchmaking.match('m-1', ['ticket-1'], SERVER);
    expect((await alice.request({ type: 'cancel', id: 202, ticketId: 'ticket-1' })).error?.code).toBe('TICKET_ALREADY_MATCHED');
    expect((await alice.request({ type: 'status', id: 203, ticketId: 'ticket-1' })).result?.state).toBe('matched');
    expect(await l.metric('game_server_errors_total', { error_type: 'TICKET_NOT_OWNER' })).toBe(2);
  });

  it("gives a party pass that expires with the member's login token when that comes first", async () => {
    const l = await start({ tokenTtlSeconds: 60, heartbeatSeconds: 600 });
    const bob = await l.connect({ playerId: 'bob' });
    const tokenExpiresAt = l.clock.now() + 60_000;
    l.clock.advance(30_000);
    expect(await bob.request({ type: 'party-pass', id: 'p', leader: 'alice' })).toEqual({ id: 'p', result: { pass: expect.any(String), expiresAt: tokenExpiresAt } });
  });

  it('gives a member a party pass for the leader, and a leader whose ticket lists it a party; every refused pass is named', async () => {
    // No heartbeat while the clock jumps past a pass's lifetime: the sockets would be dropped for want of pongs.
    const l = await start({ heartbeatSeconds: 600 });
    const alice = await l.connect({ playerId: 'alice' });
    const bob = await l.connect({ playerId: 'bob' });
    const carol = await l.connect({ playerId: 'carol' });
    const expired = (await carol.request({ type: 'party-pass', id: 'p', leader: 'alice' })).result!.pass as string;
    l.clock.advance(120_000);
    const issued = await bob.request({ type: 'party-pass', id: 'p', leader: 'alice' });
    expect(issued).toEqual({ id: 'p', result: { pass: expect.any(String), expiresAt: l.clock.now() + 120_000 } });
    const pass = issued.result!.pass as string;
    const now = Math.floor(l.clock.now() / 1000);
    const forged = await new SignJWT({ leader: 'alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'hangar-party-pass+jwt' })
      .setSubject('dave')
      .setIssuer('hangar')
      .setAudience('hangar-lobby/party-pass')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode('not-the-lobby-secret-0123456789-abcdef'));
    const toMallory = (await carol.request({ type: 'party-pass', id: 'm', leader: 'mallory' })).result!.pass as string;

    const refused = await alice.request({ ...SUBMIT, id: 1, queue: 'squad', party: [expired, forged, toMallory, await l.token('erin'), pass] });
    expect(refused).toEqual({
      id: 1,
      error: {
        code: 'PARTY_PASS_INVALID',
        message: expect.any(String),
        problems: [
          'party[0]: the pass of carol expired at 2026-01-01T00:02:00.000Z: ask them for a new one',
          'party[1]: the pass signature does not verify: it was forged, altered or signed with another secret',
          "party[2]: the pass of carol names mallory as the party's leader, not you (alice): carol must make one for you",
          'party[3]: a login token, not a party pass: the member asks for one with POST /v1/party-passes (or a party-pass message)',
        ],
      },
    });
    expect(l.matchmaking.calls).toEqual([]);
    // Mallory cannot use a pass made out to alice either.
    expect((await (await l.connect({ playerId: 'mallory' })).request({ ...SUBMIT, id: 2, queue: 'squad', party: [pass] })).error?.problems).toEqual([
      "party[0]: the pass of bob names alice as the party's leader, not you (mallory): bob must make one for you",
    ]);

    expect(await alice.request({ ...SUBMIT, id: 3, queue: 'squad', party: [pass] })).toEqual({ id: 3, result: { ticketId: 'ticket-1', estimatedWaitSeconds: 30 } });
    expect(l.matchmaking.calls).toEqual([{ method: 'submit', playerId: 'alice', args: [{ queue: 'squad', latencies: SUBMIT.latencies, party: ['bob'] }] }]);
    expect(await bob.next((m) => m.type === 'queued')).toMatchObject({ ticketId: 'ticket-1' });
    expect(await l.metric('game_server_request_duration_seconds_count', { type: 'party-pass' })).toBe(3);
  });

  it('pushes reach every socket of their player and no other player', async () => {
    const l = await start();
    const alice1 = await l.connect({ playerId: 'alice' });
    const alice2 = await l.connect({ token: await l.token('alice'), via: 'query' });
    const bob = await l.connect({ playerId: 'bob' });
    const carol = await l.connect({ playerId: 'carol' });

    l.matchmaking.emit('alice', { type: 'timed-out', ticketId: 't-1' });
    l.matchmaking.emit('bob', { type: 'failed', ticketId: 't-2', reason: 'no game server Ready' });
    l.matchmaking.emit('nobody-connected', { type: 'timed-out', ticketId: 't-3' });
    // A party's ticket reaches its members through the matchmaker's pushes.
    await alice1.request({ ...SUBMIT, id: 1, queue: 'squad', party: [await l.partyPass('bob', 'alice')] });
    await eventually(() => bob.pushes.length === 2 && alice2.pushes.length === 2);
    await carol.request({ type: 'ping', id: 1 });

    expect(alice1.pushes).toEqual([{ type: 'timed-out', ticketId: 't-1' }, { type: 'queued', ticketId: 'ticket-1', queue: 'squad', estimatedWaitSeconds: 30 }]);
    expect(alice2.pushes).toEqual(alice1.pushes);
    expect(bob.pushes).toEqual([{ type: 'failed', ticketId: 't-2', reason: 'no game server Ready' }, { type: 'queued', ticketId: 'ticket-1', queue: 'squad', estimatedWaitSeconds: 30 }]);
    expect(carol.pushes).toEqual([]);
    // The reply went to the socket that asked, not the player's other socket.
    expect(alice2.received.filter((m) => 'id' in m)).toEqual([]);
    await alice1.close();
    l.matchmaking.emit('alice', { type: 'cancelled', ticketId: 't-4', by: 'alice', reason: 'alice cancelled the ticket' });
    await eventually(() => alice2.pushes.length === 3);
    expect(alice1.pushes).toHaveLength(2);
  });

  it('refuses bad messages with the request id and the field, calls nothing, and keeps the socket open', async () => {
    const l = await start();
    const alice = await l.connect({ playerId: 'alice' });
    const bad: Array<[string | Buffer, unknown, RegExp]> = [
      ['{"type": "submit", "id": 1,', null, /^invalid message: message: not JSON \(/],
      [Buffer.from([1, 2, 3]), null, /^invalid message: message: send JSON text frames, not binary$/],
      ['[1]', null, /^invalid message: message: must be a JSON object$/],
      [JSON.stringify({ type: 'join', id: 1 }), 1, /^invalid message: type: must be one of queues, submit, party-pass, cancel, status, accept, decline, ping$/],
      [JSON.stringify({ type: 'ping' }), null, /^invalid message: id: required$/],
      [JSON.stringify({ ...SUBMIT, id: 2, colour: 'red' }), 2, /^invalid message: colour: unknown field$/],
      [JSON.stringify({ ...SUBMIT, id: 3, latencies: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`r${i}`, 1])) }), 3, /latencies: must measure 1 to 32 regions, got 33$/],
      [JSON.stringify({ ...SUBMIT, id: 4, latencies: { 'eu-west': 10_001 } }), 4, /latencies\.eu-west: must be from 0 to 10000 ms$/],
      [JSON.stringify({ ...SUBMIT, id: 5, skill: 'high' }), 5, /skill: Invalid input: expected number, received string$/],
      [JSON.stringify({ ...SUBMIT, id: 6, party: Array.from({ length: 17 }, (_, i) => `a.b.${i}`) }), 6, /party: at most 16 other players$/],
      [JSON.stringify({ ...SUBMIT, id: 9, party: ['bob'] }), 9, /party\[0\]: must be a party pass .*not a player id$/],
      [JSON.stringify({ type: 'party-pass', id: 10, leader: 'alice' }), 10, /leader: is you \(alice\): a pass is for joining another player's party$/],
      [JSON.stringify({ type: 'cancel', id: 7, ticketId: '../../etc' }), 7, /ticketId: must be an id of/],
      [JSON.stringify({ type: 'accept', id: 8, matchId: 'm', accept: true }), 8, /accept: unknown field$/],
    ];
    for (const [frame, id, message] of bad) {
      const before = alice.received.length;
      alice.ws.send(frame);
      await eventually(() => alice.received.length === before + 1);
      const reply = alice.received[before]!;
      expect(reply).toEqual({ id, error: { code: 'LOBBY_REQUEST_INVALID', message: expect.stringMatching(message), problems: expect.any(Array) } });
    }
    expect(l.matchmaking.calls).toEqual([]);
    expect(alice.ws.readyState).toBe(WebSocket.OPEN);
    expect(await l.metric('game_server_errors_total', { error_type: 'LOBBY_REQUEST_INVALID' })).toBe(bad.length);
    expect((await alice.request({ type: 'ping', id: 'still-here' })).result).toMatchObject({ pong: true });
  });

  it('closes the socket on a frame over 16 KiB (1009), before reading it', async () => {
    const l = await start();
    const alice = await l.connect({ playerId: 'alice' });
    alice.ws.send(JSON.stringify({ ...SUBMIT, id: 1, queue: 'x'.repeat(17 * 1024) }));
    expect((await alice.closed).code).toBe(1009);
    expect(l.matchmaking.calls).toEqual([]);
    await eventually(() => l.server.connections === 0);
    expect(await l.metric('game_server_errors_total', { error_type: 'LOBBY_REQUEST_TOO_LARGE' })).toBe(1);
  });

  it('refuses upgrades without a valid token, on other paths, and beyond the socket limit, with a JSON body', async () => {
    const l = await start({ maxSocketsPerPlayer: 2, tokenTtlSeconds: 60 });
    const now = Math.floor(l.clock.now() / 1000);
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer('hangar').setAudience('hangar-lobby').setIssuedAt(now).setExpirationTime(now + 60).sign(new TextEncoder().encode('not-the-lobby-secret-0123456789-abcdef'));
    const otherAudience = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer('hangar').setAudience('admin').setIssuedAt(now).setExpirationTime(now + 60).sign(new TextEncoder().encode(TEST_SECRET));
    const expired = await l.token('alice');
    l.clock.advance(60_000);

    const cases: Array<[string, Record<string, string>, number, string, RegExp]> = [
      ['/v1/lobby', {}, 401, 'PLAYER_UNAUTHENTICATED', /^send a player token: Authorization: Bearer <token>, or \?token=<token>/],
      ['/v1/lobby', { authorization: 'Basic YWxpY2U6cHc=' }, 401, 'PLAYER_UNAUTHENTICATED', /^the Authorization header must be "Bearer <token>"$/],
      ['/v1/lobby', { authorization: `Bearer ${forged}` }, 401, 'PLAYER_UNAUTHENTICATED', /signature does not verify/],
      [`/v1/lobby?token=${forged}`, {}, 401, 'PLAYER_UNAUTHENTICATED', /signature does not verify/],
      ['/v1/lobby', { authorization: `Bearer ${otherAudience}` }, 401, 'PLAYER_UNAUTHENTICATED', /audience "admin"/],
      ['/v1/lobby', { authorization: `Bearer ${expired}` }, 401, 'PLAYER_UNAUTHENTICATED', /^the token expired at 2026-01-01T00:01:00\.000Z: log in again$/],
      ['/v1/lobby?token=', {}, 401, 'PLAYER_UNAUTHENTICATED', /not a well-formed JWT/],
      ['/v1/elsewhere', { authorization: `Bearer ${await l.token('alice')}` }, 404, 'NOT_FOUND', /^no WebSocket at \/v1\/elsewhere: connect to \/v1\/lobby$/],
    ];
    for (const [path, headers, status, code, message] of cases) {
      const refused = await l.refusedUpgrade(path, headers);
      expect({ path, status: refused.status, body: refused.body }).toEqual({ path, status, body: { error: { code, message: expect.stringMatching(message) } } });
      expect(refused.headers['content-type']).toBe('application/json; charset=utf-8');
    }

    await l.connect({ playerId: 'alice' });
    await l.connect({ playerId: 'alice' });
    const third = await l.refusedUpgrade('/v1/lobby', { authorization: `Bearer ${await l.token('alice')}` });
    expect(third.status).toBe(429);
    expect(third.body).toEqual({ error: { code: 'LOBBY_RATE_LIMITED', message: 'player alice already has 2 lobby connections open (at most 2): close one first' } });
    await l.connect({ playerId: 'bob' });
    expect(l.server.connections).toBe(3);
    expect(l.matchmaking.calls).toEqual([]);
    expect(await l.metric('game_server_errors_total', { error_type: 'PLAYER_UNAUTHENTICATED' })).toBe(7);
    expect(await l.metric('game_server_connection_count')).toBe(3);
  });

  it('limits each player over all its sockets without closing them, and closes a socket that keeps pushing (1008)', async () => {
    const l = await start({ rate: { player_per_second: 1, player_burst: 3, close_after_refusals: 4 } });
    const a1 = await l.connect({ playerId: 'alice' });
    const a2 = await l.connect({ playerId: 'alice' });
    const bob = await l.connect({ playerId: 'bob' });
    for (const id of [1, 2]) expect((await a1.request({ type: 'ping', id })).result).toMatchObject({ pong: true });
    expect((await a2.request({ type: 'ping', id: 3 })).result).toMatchObject({ pong: true });
    const limited = await a2.request({ ...SUBMIT, id: 4 });
    expect(limited).toEqual({ id: 4, error: { code: 'LOBBY_RATE_LIMITED', message: 'player alice is sending requests too fast; retry in 1000 ms' } });
    expect(l.matchmaking.calls).toEqual([]);
    expect((await a1.request({ type: 'ping', id: 5 })).error?.code).toBe('LOBBY_RATE_LIMITED');
    expect(a1.ws.readyState).toBe(WebSocket.OPEN);
    expect((await bob.request({ type: 'ping', id: 1 })).result).toMatchObject({ pong: true });

    l.clock.advance(1000);
    expect((await a2.request({ type: 'ping', id: 6 })).result).toMatchObject({ pong: true });

    // Four refusals fit a socket's budget; the fifth closes it. Garbage pays the rate like anything else.
    for (let i = 0; i < 4; i++) expect((await a2.request({ type: 'ping', id: 10 + i })).error?.code).toBe('LOBBY_RATE_LIMITED');
    a2.ws.send('garbage');
    expect(await a2.closed).toEqual({ code: 1008, reason: 'rate limit exceeded repeatedly' });
    expect(a2.received.at(-1)).toEqual({ id: null, error: { code: 'LOBBY_RATE_LIMITED', message: expect.stringMatching(/^player alice is sending requests too fast/) } });
    expect(a1.ws.readyState).toBe(WebSocket.OPEN);
    expect(await l.metric('game_server_errors_total', { error_type: 'RATE_LIMIT_CLOSED' })).toBe(1);
  });

  it('limits each client address across players', async () => {
    const l = await start({ rate: { address_per_second: 1, address_burst: 4 } });
    const alice = await l.connect({ playerId: 'alice' });
    const bob = await l.connect({ playerId: 'bob' });
    expect((await alice.request({ type: 'ping', id: 1 })).result).toBeDefined();
    expect((await bob.request({ type: 'ping', id: 1 })).result).toBeDefined();
    expect((await bob.request({ type: 'ping', id: 2 })).error).toEqual({ code: 'LOBBY_RATE_LIMITED', message: 'too many requests from 127.0.0.1; retry in 1000 ms' });
    const refused = await l.refusedUpgrade('/v1/lobby', { authorization: `Bearer ${await l.token('carol')}` });
    expect(refused).toMatchObject({ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'LOBBY_RATE_LIMITED' } } });
  });

  it('pings every socket each heartbeat and drops the ones that stopped answering', async () => {
    const l = await start({ heartbeatSeconds: 30 });
    const live = await l.connect({ playerId: 'alice' });
    const dead = await l.connect({ playerId: 'bob' }, { autoPong: false });
    const pinged = Promise.all([live, dead].map((s) => new Promise((r) => s.ws.once('ping', r))));
    l.clock.advance(30_000);
    await pinged;
    // The live client's pong went out before this request on the same connection, so once the
    // reply is back the server has seen the pong (messages themselves do not count as life).
    await live.request({ type: 'ping', id: 1 });
    l.clock.advance(30_000);
    expect((await dead.closed).code).toBe(1006);
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    await eventually(() => l.server.connections === 1);
    expect(await l.metric('game_server_errors_total', { error_type: 'HEARTBEAT_TIMEOUT' })).toBe(1);
    expect(await l.metric('game_server_connection_count')).toBe(1);
  });

  it('closes a socket when its token expires (4001)', async () => {
    // No heartbeat inside the jump: the fake clock gives pongs no time to arrive.
    const l = await start({ tokenTtlSeconds: 120, heartbeatSeconds: 600 });
    const alice = await l.connect({ playerId: 'alice' });
    l.clock.advance(119_000);
    expect((await alice.request({ type: 'ping', id: 1 })).result).toBeDefined();
    l.clock.advance(1000);
    expect(await alice.closed).toEqual({ code: 4001, reason: 'token expired: log in again and reconnect' });
  });

  it('says going away (1001) to every socket when it closes', async () => {
    const l = await start();
    const alice = await l.connect({ playerId: 'alice' });
    const bob = await l.connect({ playerId: 'bob' });
    await l.server.close();
    expect((await alice.closed).code).toBe(1001);
    expect((await bob.closed).code).toBe(1001);
    expect(await l.metric('game_server_connection_count')).toBe(0);
    lobby = undefined;
  });
});
