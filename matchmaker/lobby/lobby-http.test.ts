import { afterEach, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { startTestLobby, TEST_QUEUES, TEST_SECRET, type TestLobby, type TestLobbyOptions } from './lobby-test-harness.js';

const SERVER = { address: '10.0.0.7', port: 7010, ports: [{ name: 'default', port: 7010 }], name: 'arena-x7k2p' };
const TICKET = { queue: 'duel', latencies: { 'eu-west': 24 } };

describe('lobby HTTP', () => {
  let lobby: TestLobby | undefined;
  afterEach(async () => {
    await lobby?.close();
    lobby = undefined;
  });
  const start = async (options: TestLobbyOptions = {}) => (lobby = await startTestLobby(options));

  describe('login', () => {
    it('logs guests in during development, with a token the lobby then accepts', async () => {
      const l = await start({ environment: 'development' });
      const res = await l.http('POST', '/v1/login', { body: { guest: true, name: 'Ada' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ token: expect.any(String), tokenType: 'Bearer', playerId: expect.stringMatching(/^guest-/), name: 'Ada', expiresAt: l.clock.now() + 3600_000 });
      const other = await l.http('POST', '/v1/login', { body: { guest: true } });
      expect(other.body.playerId).not.toBe(res.body.playerId);
      const submitted = await l.http('POST', '/v1/tickets', { token: res.body.token as string, body: TICKET });
      expect(submitted.status).toBe(201);
      expect(l.matchmaking.calls[0]?.playerId).toBe(res.body.playerId);
    });

    it('refuses guests in production unless lobby.auth.guest_login allows them', async () => {
      const l = await start({ environment: 'production' });
      expect(await l.http('POST', '/v1/login', { body: { guest: true } })).toMatchObject({
        status: 403,
        body: { error: { code: 'GUEST_LOGIN_DISABLED', message: 'guest login is disabled here (set lobby.auth.guest_login: true to allow it)' } },
      });
      await l.close();
      const allowed = (lobby = await startTestLobby({ environment: 'production', guestLogin: true }));
      expect((await allowed.http('POST', '/v1/login', { body: { guest: true } })).status).toBe(200);
    });

    it('says plainly that only guest login exists, naming the fields', async () => {
      const l = await start({ environment: 'development' });
      const res = await l.http('POST', '/v1/login', { body: { username: 'ada', password: 'hunter2' } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          code: 'LOBBY_REQUEST_INVALID',
          message: 'invalid body: guest: only guest login is available: send { "guest": true } (no identity provider is configured); username: unknown field; password: unknown field',
          problems: ['guest: only guest login is available: send { "guest": true } (no identity provider is configured)', 'username: unknown field', 'password: unknown field'],
        },
      });
      expect(JSON.stringify(res.body)).not.toContain('hunter2');
    });
  });

  it('lists the queues without a token, so a client can show them before login; the address still pays', async () => {
    const l = await start({ rate: { address_per_second: 1, address_burst: 2 } });
    const listed = await l.http('GET', '/v1/queues');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ queues: TEST_QUEUES });
    expect(l.matchmaking.calls).toEqual([]);
    expect(await l.metric('game_server_request_duration_seconds_count', { type: 'queues' })).toBe(1);
    expect((await l.http('GET', '/v1/queues')).status).toBe(200);
    expect(await l.http('GET', '/v1/queues')).toMatchObject({ status: 429, body: { error: { code: 'LOBBY_RATE_LIMITED' } } });
  });

  it('submits, reads, accepts and cancels tickets, and a polling client gets the matched event', async () => {
    const l = await start();
    const alice = await l.token('alice');
    const bob = await l.token('bob');
    const created = await l.http('POST', '/v1/tickets', { token: alice, body: { ...TICKET, skill: 1500, party: [await l.partyPass('bob', 'alice')] } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/tickets/ticket-1');
    expect(created.body).toEqual({ ticketId: 'ticket-1', estimatedWaitSeconds: 30 });
    expect(l.matchmaking.calls[0]).toEqual({ method: 'submit', playerId: 'alice', args: [{ ...TICKET, skill: 1500, party: ['bob'] }] });

    expect(await l.http('GET', '/v1/tickets/ticket-1', { token: bob })).toMatchObject({ status: 200, body: { state: 'waiting', ticketId: 'ticket-1', queue: 'duel' } });
    l.matchmaking.propose('match-1', ['ticket-1'], l.clock.now() + 10_000);
    expect((await l.http('GET', '/v1/tickets/ticket-1', { token: alice })).body).toMatchObject({ state: 'accept-pending', event: { type: 'accept', matchId: 'match-1' } });
    expect(await l.http('POST', '/v1/matches/match-1/accept', { token: alice, body: { accept: true } })).toMatchObject({ status: 200, body: { matchId: 'match-1', accepted: true } });
    expect(await l.http('POST', '/v1/matches/match-1/accept', { token: bob, body: { accept: false } })).toMatchObject({ status: 200, body: { matchId: 'match-1', accepted: false } });
    expect((await l.http('POST', '/v1/matches/match-1/accept', { token: bob, body: { accept: true } })).body).toEqual({
      error: { code: 'MATCH_ACCEPT_CLOSED', message: 'match match-1 no longer takes answers: you already answered' },
    });

    l.matchmaking.match('match-2', ['ticket-1'], SERVER);
    const status = await l.http('GET', '/v1/tickets/ticket-1', { token: bob });
    expect(status.body).toEqual({
      state: 'matched',
      ticketId: 'ticket-1',
      queue: 'duel',
      event: { type: 'matched', ticketId: 'ticket-1', matchId: 'match-2', team: 0, server: SERVER, connectToken: Buffer.from('match-2/bob').toString('base64') },
    });
    expect(await l.http('DELETE', '/v1/tickets/ticket-1', { token: alice })).toMatchObject({ status: 409, body: { error: { code: 'TICKET_ALREADY_MATCHED' } } });

    const second = await l.http('POST', '/v1/tickets', { token: alice, body: { ...TICKET, queue: 'squad' } });
    expect(await l.http('DELETE', `/v1/tickets/${second.body.ticketId as string}`, { token: alice })).toEqual({
      status: 200,
      headers: expect.anything(),
      body: { ticketId: 'ticket-2', cancelled: true },
    });
    expect((await l.http('GET', '/v1/tickets/ticket-2', { token: alice })).body).toMatchObject({ state: 'gone', event: { type: 'cancelled' } });
    expect(await l.http('GET', '/v1/tickets/ticket-99', { token: alice })).toMatchObject({ status: 404, body: { error: { code: 'TICKET_NOT_FOUND', message: 'ticket ticket-99 not found' } } });
    expect(await l.http('POST', '/v1/tickets', { token: alice, body: { ...TICKET, queue: 'ranked' } })).toMatchObject({
      status: 404,
      body: { error: { code: 'QUEUE_NOT_FOUND', message: 'queue ranked does not exist; the queues are duel, squad' } },
    });
    expect(await l.metric('game_server_request_duration_seconds_count', { type: 'status' })).toBe(5);
  });

  it('answers 403 to cancelling someone else’s ticket, and the ticket keeps waiting', async () => {
    const l = await start();
    await l.http('POST', '/v1/tickets', { token: await l.token('alice'), body: TICKET });
    const mallory = await l.token('mallory');
    expect(await l.http('DELETE', '/v1/tickets/ticket-1', { token: mallory })).toMatchObject({
      status: 403,
      body: { error: { code: 'TICKET_NOT_OWNER', message: 'ticket ticket-1 is not yours: you are not one of its players' } },
    });
    expect((await l.http('GET', '/v1/tickets/ticket-1', { token: await l.token('alice') })).body).toMatchObject({ state: 'waiting' });
  });

  describe('parties', () => {
    const SQUAD = { queue: 'squad', latencies: { local: 10 } };

    it('puts no one in a ticket by naming their id, so no player can lock another out of matchmaking or drag them into a match', async () => {
      const l = await start();
      const [alice, bob] = await Promise.all([l.token('alice'), l.token('bob')]);
      expect(await l.http('POST', '/v1/tickets', { token: alice, body: { ...SQUAD, party: ['bob'] } })).toMatchObject({
        status: 400,
        body: { error: { code: 'LOBBY_REQUEST_INVALID', problems: ['party[0]: must be a party pass (the member gets one with POST /v1/party-passes or a party-pass message), not a player id'] } },
      });
      expect(l.matchmaking.calls).toEqual([]);
      // Bob queues as he likes, and hears of no ticket but his own.
      expect(await l.http('POST', '/v1/tickets', { token: bob, body: SQUAD })).toMatchObject({ status: 201, body: { ticketId: 'ticket-1' } });
      expect(l.matchmaking.calls).toEqual([{ method: 'submit', playerId: 'bob', args: [SQUAD] }]);
    });

    it('makes a party of the members whose passes name the leader; any member may take the party out of the queue', async () => {
      const l = await start();
      const bob = await l.token('bob');
      const issued = await l.http('POST', '/v1/party-passes', { token: bob, body: { leader: 'alice' } });
      expect(issued).toMatchObject({ status: 200, body: { pass: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), expiresAt: l.clock.now() + 120_000 } });
      const created = await l.http('POST', '/v1/tickets', { token: await l.token('alice'), body: { ...SQUAD, party: [issued.body.pass, await l.partyPass('carol', 'alice')] } });
      expect(created.status).toBe(201);
      expect(l.matchmaking.calls).toEqual([{ method: 'submit', playerId: 'alice', args: [{ ...SQUAD, party: ['bob', 'carol'] }] }]);
      expect(await l.metric('game_server_request_duration_seconds_count', { type: 'party-pass' })).toBe(2);

      // Bob changes his mind: he leaves, and the party's ticket leaves the queue with him.
      expect(await l.http('DELETE', '/v1/tickets/ticket-1', { token: bob })).toMatchObject({ status: 200, body: { ticketId: 'ticket-1', cancelled: true } });
      expect((await l.http('GET', '/v1/tickets/ticket-1', { token: await l.token('carol') })).body).toMatchObject({
        state: 'gone',
        event: { type: 'cancelled', by: 'bob', reason: 'bob left the party: its ticket is out of the queue' },
      });
      expect((await l.http('POST', '/v1/tickets', { token: bob, body: SQUAD })).status).toBe(201);
    });

    it('refuses a forged, expired, foreign, misdirected or repeated pass, or a login token, naming each, and queues nothing', async () => {
      const l = await start();
      const expired = await l.partyPass('erin', 'alice');
      l.clock.advance(120_000);
      const now = Math.floor(l.clock.now() / 1000);
      const forged = await new SignJWT({ leader: 'alice' })
        .setProtectedHeader({ alg: 'HS256', typ: 'hangar-party-pass+jwt' })
        .setSubject('bob')
        .setIssuer('hangar')
        .setAudience('hangar-lobby/party-pass')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(new TextEncoder().encode('not-the-lobby-secret-0123456789-abcdef'));
      const bob = await l.partyPass('bob', 'alice');
      const party = [bob, await l.partyPass('carol', 'mallory'), forged, await l.token('dave'), expired, bob];
      const res = await l.http('POST', '/v1/tickets', { token: await l.token('alice'), body: { ...SQUAD, party } });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        error: {
          code: 'PARTY_PASS_INVALID',
          message: expect.stringMatching(/^the party is refused: party\[1\]: /),
          problems: [
            "party[1]: the pass of carol names mallory as the party's leader, not you (alice): carol must make one for you",
            'party[2]: the pass signature does not verify: it was forged, altered or signed with another secret',
            'party[3]: a login token, not a party pass: the member asks for one with POST /v1/party-passes (or a party-pass message)',
            'party[4]: the pass of erin expired at 2026-01-01T00:02:00.000Z: ask them for a new one',
            'party[5]: a second pass of bob (party[0] is one already)',
          ],
        },
      });
      expect(l.matchmaking.calls).toEqual([]);
      expect(await l.metric('game_server_errors_total', { error_type: 'PARTY_PASS_INVALID' })).toBe(1);

      // Nor is a pass a login token, nor may a player be a member of their own party.
      expect(await l.http('GET', '/v1/tickets/ticket-1', { token: bob })).toMatchObject({
        status: 401,
        body: { error: { code: 'PLAYER_UNAUTHENTICATED', message: 'the token is a party pass, not a login token: log in with POST /v1/login' } },
      });
      expect(await l.http('POST', '/v1/party-passes', { token: await l.token('alice'), body: { leader: 'alice' } })).toMatchObject({
        status: 400,
        body: { error: { code: 'LOBBY_REQUEST_INVALID', problems: ["leader: is you (alice): a pass is for joining another player's party"] } },
      });
      expect(await l.http('POST', '/v1/party-passes', { body: { leader: 'alice' } })).toMatchObject({ status: 401, body: { error: { code: 'PLAYER_UNAUTHENTICATED' } } });
    });

    it("gives a pass that expires with the member's login token when that comes first", async () => {
      const l = await start({ tokenTtlSeconds: 60 });
      const bob = await l.token('bob');
      const tokenExpiresAt = l.clock.now() + 60_000;
      l.clock.advance(10_000);
      const issued = await l.http('POST', '/v1/party-passes', { token: bob, body: { leader: 'alice' } });
      expect(issued).toMatchObject({ status: 200, body: { expiresAt: tokenExpiresAt } });
      l.clock.advance(50_000);
      const alice = await l.token('alice');
      expect(await l.http('POST', '/v1/tickets', { token: alice, body: { ...SQUAD, party: [issued.body.pass] } })).toMatchObject({
        status: 403,
        body: { error: { code: 'PARTY_PASS_INVALID', problems: ['party[0]: the pass of bob expired at 2026-01-01T00:01:00.000Z: ask them for a new one'] } },
      });
    });

    it('accepts a pass made by another lobby process sharing the secret: nothing about a pass is kept', async () => {
      const first = await start();
      const second = await startTestLobby();
      try {
        const pass = await first.partyPass('bob', 'alice');
        expect((await second.http('POST', '/v1/tickets', { token: await second.token('alice'), body: { ...SQUAD, party: [pass] } })).status).toBe(201);
        expect(second.matchmaking.calls).toEqual([{ method: 'submit', playerId: 'alice', args: [{ ...SQUAD, party: ['bob'] }] }]);
      } finally {
        await second.close();
      }
    });
  });

  it('answers 401 with the reason for a missing, malformed, forged, expired or foreign token, and calls nothing', async () => {
    const l = await start({ tokenTtlSeconds: 60 });
    const now = Math.floor(l.clock.now() / 1000);
    const sign = (secret: string, audience: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer('hangar').setAudience(audience).setIssuedAt(now).setExpirationTime(now + 600).sign(new TextEncoder().encode(secret));
    const forged = await sign('not-the-lobby-secret-0123456789-abcdef', 'hangar-lobby');
    const foreign = await sign(TEST_SECRET, 'admin');
    const expired = await l.token('alice');
    l.clock.advance(60_000);
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^send Authorization: Bearer <token> \(POST \/v1\/login gives one\)$/],
      [{ authorization: 'Basic YWxpY2U6cHc=' }, /must be "Bearer <token>"/],
      [{ authorization: `Bearer ${forged}` }, /signature does not verify: it was forged/],
      [{ authorization: `Bearer ${expired}` }, /^the token expired at/],
      [{ authorization: `Bearer ${foreign}` }, /for audience "admin"/],
    ];
    for (const [headers, message] of cases) {
      const res = await l.http('POST', '/v1/tickets', { headers, body: TICKET });
      expect({ headers, status: res.status, body: res.body }).toEqual({ headers, status: 401, body: { error: { code: 'PLAYER_UNAUTHENTICATED', message: expect.stringMatching(message) } } });
    }
    // Tokens stay out of URLs on HTTP: a query token is not looked at.
    expect((await l.http('GET', `/v1/tickets/ticket-1?token=${await l.token('alice')}`)).status).toBe(401);
    expect(l.matchmaking.calls).toEqual([]);
    expect(await l.metric('game_server_errors_total', { error_type: 'PLAYER_UNAUTHENTICATED' })).toBe(6);
  });

  it('refuses malformed, mistyped, unknown or oversized input with the field named, and calls nothing', async () => {
    const l = await start();
    const token = await l.token('alice');
    const cases: Array<[string, string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, string, RegExp]> = [
      ['POST', '/v1/tickets', { raw: '{"queue": "duel",' }, 400, 'LOBBY_REQUEST_INVALID', /^invalid body: body: not JSON \(/],
      ['POST', '/v1/tickets', { raw: '"duel"' }, 400, 'LOBBY_REQUEST_INVALID', /^invalid body: body: must be a JSON object$/],
      ['POST', '/v1/tickets', { raw: 'queue=duel', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 400, 'LOBBY_REQUEST_INVALID', /send a JSON object with Content-Type: application\/json/],
      ['POST', '/v1/tickets', { body: [TICKET] }, 400, 'LOBBY_REQUEST_INVALID', /^invalid body: body: must be a JSON object$/],
      ['POST', '/v1/tickets', { body: { ...TICKET, region: 'eu' } }, 400, 'LOBBY_REQUEST_INVALID', /^invalid body: region: unknown field$/],
      ['POST', '/v1/tickets', { body: { ...TICKET, latencies: { eu: -5 } } }, 400, 'LOBBY_REQUEST_INVALID', /latencies\.eu: must be from 0 to 10000 ms/],
      ['POST', '/v1/tickets', { body: { ...TICKET, party: 'bob' } }, 400, 'LOBBY_REQUEST_INVALID', /party: Invalid input: expected array, received string/],
      ['POST', '/v1/tickets', { body: { ...TICKET, queue: 'q'.repeat(20_000) } }, 413, 'LOBBY_REQUEST_TOO_LARGE', /^the request body is larger than 16384 bytes$/],
      ['GET', `/v1/tickets/${encodeURIComponent('a b')}`, {}, 400, 'LOBBY_REQUEST_INVALID', /^invalid ticketId: ticketId: must be an id of/],
      ['DELETE', `/v1/tickets/${'t'.repeat(129)}`, {}, 400, 'LOBBY_REQUEST_INVALID', /ticketId: must be an id/],
      ['POST', '/v1/matches/m-1/accept', { body: { accept: 'yes' } }, 400, 'LOBBY_REQUEST_INVALID', /accept: Invalid input: expected boolean, received string/],
      ['POST', '/v1/matches/m-1/accept', { body: {} }, 400, 'LOBBY_REQUEST_INVALID', /accept: required/],
      ['POST', '/v1/login', { raw: '{' }, 400, 'LOBBY_REQUEST_INVALID', /not JSON/],
      ['PUT', '/v1/tickets', { body: TICKET }, 404, 'NOT_FOUND', /^no route PUT \/v1\/tickets$/],
    ];
    for (const [method, path, options, status, code, message] of cases) {
      const res = await l.http(method, path, { token, ...options });
      expect({ method, path, status: res.status, code: (res.body.error as { code: string }).code, message: (res.body.error as { message: string }).message }).toEqual({
        method,
        path,
        status,
        code,
        message: expect.stringMatching(message),
      });
    }
    expect(l.matchmaking.calls).toEqual([]);
    expect(await l.metric('game_server_errors_total', { error_type: 'LOBBY_REQUEST_TOO_LARGE' })).toBe(1);
  });

  it('limits each player with 429 and Retry-After, others unaffected, and nothing changes', async () => {
    const l = await start({ rate: { player_per_second: 0.5, player_burst: 2 } });
    const alice = await l.token('alice');
    expect((await l.http('POST', '/v1/tickets', { token: alice, body: TICKET })).status).toBe(201);
    expect((await l.http('GET', '/v1/tickets/ticket-1', { token: alice })).status).toBe(200);
    const limited = await l.http('DELETE', '/v1/tickets/ticket-1', { token: alice });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(limited.body).toEqual({ error: { code: 'LOBBY_RATE_LIMITED', message: 'player alice is sending requests too fast; retry in 2000 ms' } });
    expect(l.matchmaking.calls.map((c) => c.method)).toEqual(['submit', 'status']);
    expect((await l.http('GET', '/v1/tickets/ticket-1', { token: await l.token('bob') })).status).toBe(403);
    l.clock.advance(2000);
    expect((await l.http('DELETE', '/v1/tickets/ticket-1', { token: alice })).status).toBe(200);
  });

  it('limits each client address before reading anything, logins included', async () => {
    const l = await start({ environment: 'development', rate: { address_per_second: 1, address_burst: 3 } });
    for (let i = 0; i < 3; i++) expect((await l.http('POST', '/v1/login', { body: { guest: true } })).status).toBe(200);
    const limited = await l.http('POST', '/v1/login', { body: { guest: true } });
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'LOBBY_RATE_LIMITED', message: 'too many requests from 127.0.0.1; retry in 1000 ms' } } });
    expect(limited.headers.get('retry-after')).toBe('1');
    // A forged token costs the address too, before any signature is checked.
    expect((await l.http('GET', '/v1/tickets/t-1', { headers: { authorization: 'Bearer forged' } })).status).toBe(429);
  });
});
