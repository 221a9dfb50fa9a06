import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { SignJWT, UnsecuredJWT } from 'jose';
import { pino } from 'pino';
import { loadPlayerAuthConfig, parseConfig, type PlayerAuthConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { PlayerAuth } from './player-auth.js';
import { problemsOf } from '../test/helpers/config-problems.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

function config(yaml: string, env: NodeJS.ProcessEnv = {}): Readonly<PlayerAuthConfig> {
  return loadPlayerAuthConfig(parseConfig(yaml, 'test.yaml', {}), env);
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('player auth config', () => {
  it('requires JWT_SECRET of at least 32 bytes outside development, naming the variable and never the secret', () => {
    expect(problemsOf(() => config('server: { environment: production }'))).toEqual([expect.stringMatching(/^JWT_SECRET is not set: .*server\.environment is production/)]);
    expect(problemsOf(() => config('server: { environment: staging }', { JWT_SECRET: 'short-secret' }))).toEqual([
      'JWT_SECRET must be at least 32 bytes (it has 12); generate one with `openssl rand -base64 48`',
    ]);
    expect(problemsOf(() => config('server: { environment: development }', { JWT_SECRET: 'short-secret' }))[0]).toMatch(/at least 32 bytes/);
  });

  it('reads the secret from JWT_SECRET or a mounted JWT_SECRET_FILE, not both, and hides it from serialisation', () => {
    const prod = config('server: { environment: production }', { JWT_SECRET: SECRET });
    expect(prod.secretSource).toBe('JWT_SECRET');
    expect(Buffer.from(prod.secret).toString()).toBe(SECRET);
    expect(JSON.stringify(prod)).not.toContain(SECRET);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'hangar-jwt-')), 'secret');
    writeFileSync(file, `${SECRET}\n`);
    const fromFile = config('server: { environment: production }', { JWT_SECRET_FILE: file });
    expect(fromFile.secretSource).toBe('JWT_SECRET_FILE');
    expect(Buffer.from(fromFile.secret).toString()).toBe(SECRET);
    expect(problemsOf(() => config('', { JWT_SECRET: SECRET, JWT_SECRET_FILE: file }))).toEqual(['JWT_SECRET and JWT_SECRET_FILE are both set: use one']);
    expect(problemsOf(() => config('', { JWT_SECRET_FILE: '/nonexistent/jwt' }))).toEqual(['JWT_SECRET_FILE: cannot read /nonexistent/jwt: ENOENT']);
  });

  it('makes up a random per-process secret in development only, and says so in a warning', () => {
    const a = config('server: { environment: development }');
    const b = config('server: { environment: development }');
    expect(a.secretSource).toBe('random');
    expect(a.secret.length).toBe(32);
    expect(Buffer.from(a.secret).equals(Buffer.from(b.secret))).toBe(false);
    const lines: string[] = [];
    new PlayerAuth({ config: a, clock: new FakeClock(), log: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }) });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: expect.stringMatching(/^JWT_SECRET is not set: .*random per-process secret/) });
  });

  it('allows guests in development, refuses them elsewhere unless lobby.auth.guest_login says so', () => {
    expect(config('server: { environment: development }').guestLogin).toBe(true);
    expect(config('server: { environment: production }', { JWT_SECRET: SECRET }).guestLogin).toBe(false);
    expect(config('server: { environment: production }\nlobby: { auth: { guest_login: true } }', { JWT_SECRET: SECRET }).guestLogin).toBe(true);
    expect(config('lobby: { auth: { guest_login: false } }').guestLogin).toBe(false);
  });

  it('has the lobby defaults: port 8080, one-hour tokens', () => {
    const cfg = parseConfig('', 'empty.yaml', {});
    expect(cfg.lobby).toMatchObject({ host: '127.0.0.1', port: 8080, auth: { issuer: 'hangar', audience: 'hangar-lobby', token_ttl_seconds: 3600, party_pass_ttl_seconds: 120 }, max_sockets_per_player: 8, heartbeat_seconds: 30 });
    expect(parseConfig('', 'e.yaml', { HANGAR_LOBBY__PORT: '8081' }).lobby.port).toBe(8081);
  });
});

describe('PlayerAuth', () => {
  const base = config('server: { environment: production }\nlobby: { auth: { guest_login: true } }', { JWT_SECRET: SECRET });
  const make = (overrides: Partial<PlayerAuthConfig> = {}, clock = new FakeClock()) => ({ auth: new PlayerAuth({ config: { ...base, secret: base.secret, ...overrides }, clock, log: silentLogger }), clock });

  it('logs a guest in with a fresh player id and verifies the token it issued', async () => {
    const { auth, clock } = make();
    const a = await auth.loginGuest('Ada');
    const b = await auth.loginGuest();
    expect(a.playerId).toMatch(/^guest-[0-9a-f-]{36}$/);
    expect(b.playerId).not.toBe(a.playerId);
    expect(a.expiresAt).toBe(clock.now() + 3600_000);
    expect(await auth.verify(a.token)).toEqual({ playerId: a.playerId, name: 'Ada', guest: true, expiresAt: a.expiresAt });
    expect(await auth.verify(b.token)).toEqual({ playerId: b.playerId, guest: true, expiresAt: b.expiresAt });
  });

  it('refuses guest login where it is disabled', async () => {
    const { auth } = make({ guestLogin: false });
    expect(await rejection(auth.loginGuest())).toMatchObject({ code: 'GUEST_LOGIN_DISABLED', message: expect.stringMatching(/guest login is disabled/) });
  });

  it('rejects an expired token, saying when it expired', async () => {
    const { auth, clock } = make({ tokenTtlSeconds: 60 });
    const { token } = await auth.issue('alice', { guest: false });
    clock.advance(59_000);
    expect((await auth.verify(token)).playerId).toBe('alice');
    clock.advance(1000);
    expect(await rejection(auth.verify(token))).toMatchObject({ code: 'PLAYER_UNAUTHENTICATED', message: 'the token expired at 2026-01-01T00:01:00.000Z: log in again' });
  });

  it('rejects forged, altered, unsigned, wrong-audience and wrong-issuer tokens, each with its reason', async () => {
    const { auth, clock } = make();
    const { token } = await auth.issue('alice', { guest: false });
    const now = Math.floor(clock.now() / 1000);
    const sign = (key: string, claims: { aud?: string; iss?: string; sub?: string } = {}) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(claims.sub ?? 'alice')
        .setIssuer(claims.iss ?? 'hangar')
        .setAudience(claims.aud ?? 'hangar-lobby')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(new TextEncoder().encode(key));
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' })).toString('base64url');
    const cases: Array<[string, string, RegExp]> = [
      ['another secret', await sign('someone-elses-secret-0123456789-abcdef'), /signature does not verify: it was forged/],
      ['an altered payload', `${header}.${altered}.${signature}`, /signature does not verify/],
      ['alg none', new UnsecuredJWT({ sub: 'alice' }).setIssuer('hangar').setAudience('hangar-lobby').setIssuedAt(now).setExpirationTime(now + 60).encode(), /not signed with HS256/],
      ['another audience', await sign(SECRET, { aud: 'admin-api' }), /for audience "admin-api", not this lobby's "hangar-lobby"/],
      ['another issuer', await sign(SECRET, { iss: 'elsewhere' }), /issued by "elsewhere", not "hangar"/],
      ['a bad player id', await sign(SECRET, { sub: 'has spaces' }), /does not name a valid player id/],
      ['not a JWT', 'hello', /not a well-formed JWT/],
      ['a huge token', 'x'.repeat(5000), /longer than 4096 characters/],
    ];
    for (const [what, bad, message] of cases) {
      const err = await rejection(auth.verify(bad));
      expect({ what, code: err.code, message: err.message }).toEqual({ what, code: 'PLAYER_UNAUTHENTICATED', message: expect.stringMatching(message) });
    }
  });

  it('refuses a token without an expiry', async () => {
    const { auth, clock } = make();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('hangar')
      .setAudience('hangar-lobby')
      .setIssuedAt(Math.floor(clock.now() / 1000))
      .sign(base.secret);
    expect((await rejection(auth.verify(token))).message).toBe('the token has no "exp" claim');
  });
});

describe('party passes', () => {
  const base = config('server: { environment: production }', { JWT_SECRET: SECRET });
  const make = (overrides: Partial<PlayerAuthConfig> = {}) => {
    const clock = new FakeClock();
    return { auth: new PlayerAuth({ config: { ...base, secret: base.secret, ...overrides }, clock, log: silentLogger }), clock };
  };
  /** A member whose login token is good for another hour from the clock's start. */
  const member = (playerId: string) => ({ playerId, expiresAt: new FakeClock().now() + 3_600_000 });

  it('admits the member of a pass to the ticket of the leader it names, until it expires', async () => {
    const { auth, clock } = make();
    const bob = await auth.issuePartyPass(member('bob'), 'alice');
    const carol = await auth.issuePartyPass(member('carol'), 'alice');
    expect(bob.expiresAt).toBe(clock.now() + 120_000);
    expect(await auth.partyOf('alice', [bob.pass, carol.pass])).toEqual(['bob', 'carol']);
    expect(await auth.partyOf('alice', [])).toEqual([]);
    clock.advance(120_000);
    expect(await rejection(auth.partyOf('alice', [bob.pass]))).toMatchObject({
      code: 'PARTY_PASS_INVALID',
      problems: ['party[0]: the pass of bob expired at 2026-01-01T00:02:00.000Z: ask them for a new one'],
    });
  });

  it('refuses every pass that is not a consent to this leader, each by its index and reason, in one error', async () => {
    const { auth, clock } = make();
    const now = Math.floor(clock.now() / 1000);
    const forge = (key: string, claims: { typ?: string; aud?: string; iss?: string } = {}) =>
      new SignJWT({ leader: 'alice' })
        .setProtectedHeader({ alg: 'HS256', typ: claims.typ ?? 'hangar-party-pass+jwt' })
        .setSubject('mallory')
        .setIssuer(claims.iss ?? 'hangar')
        .setAudience(claims.aud ?? 'hangar-lobby/party-pass')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(new TextEncoder().encode(key));
    const bob = (await auth.issuePartyPass(member('bob'), 'alice')).pass;
    const cases: Array<[string, string, string]> = [
      ['a valid pass', bob, ''],
      ['another leader', (await auth.issuePartyPass(member('carol'), 'mallory')).pass, 'the pass of carol names mallory as the party\'s leader, not you (alice): carol must make one for you'],
      ['another secret', await forge('someone-elses-secret-0123456789-abcdef'), 'the pass signature does not verify: it was forged, altered or signed with another secret'],
      ['a login token', (await auth.issue('dave', { guest: false })).token, 'a login token, not a party pass: the member asks for one with POST /v1/party-passes (or a party-pass message)'],
      ['another audience', await forge(SECRET, { aud: 'elsewhere' }), 'the pass is for audience "elsewhere", not "hangar-lobby/party-pass"'],
      ['another issuer', await forge(SECRET, { iss: 'elsewhere' }), 'the pass was issued by "elsewhere", not "hangar"'],
      ['a plain JWT typ', await forge(SECRET, { typ: 'JWT' }), 'the pass is not a party pass (its "typ" header is not hangar-party-pass+jwt)'],
      ['alg none', new UnsecuredJWT({ sub: 'mallory', leader: 'alice' }).setIssuer('hangar').setAudience('hangar-lobby/party-pass').setIssuedAt(now).setExpirationTime(now + 60).encode(), 'the pass is not signed with HS256, the only algorithm the lobby accepts'],
      ['the leader\'s own', (await auth.issuePartyPass(member('alice'), 'alice')).pass, "the pass is your own: list only the other members' passes"],
      ['a second pass of one member', (await auth.issuePartyPass(member('bob'), 'alice')).pass, 'a second pass of bob (party[0] is one already)'],
      ['not a JWT', 'a.b.c', expect.stringMatching(/^the pass is not a well-formed JWT/) as unknown as string],
    ];
    const err = await rejection(auth.partyOf('alice', cases.map((c) => c[1])));
    expect(err).toMatchObject({ code: 'PARTY_PASS_INVALID', message: expect.stringMatching(/^the party is refused: party\[1\]: the pass of carol/) });
    expect((err as unknown as { problems: string[] }).problems).toEqual(cases.slice(1).map(([, , why], i) => (typeof why === 'string' ? `party[${i + 1}]: ${why}` : expect.stringMatching(/^party\[10\]: the pass is not a well-formed JWT/))));
  });

  it('is never taken for a login token', async () => {
    const { auth } = make();
    const { pass } = await auth.issuePartyPass(member('bob'), 'alice');
    expect(await rejection(auth.verify(pass))).toMatchObject({ code: 'PLAYER_UNAUTHENTICATED', message: 'the token is a party pass, not a login token: log in with POST /v1/login' });
  });

  it('lasts lobby.auth.party_pass_ttl_seconds', async () => {
    const ttl = config('server: { environment: production }\nlobby: { auth: { party_pass_ttl_seconds: 30 } }', { JWT_SECRET: SECRET }).partyPassTtlSeconds;
    expect(ttl).toBe(30);
    const { auth, clock } = make({ partyPassTtlSeconds: ttl });
    expect((await auth.issuePartyPass(member('bob'), 'alice')).expiresAt).toBe(clock.now() + 30_000);
    expect(problemsOf(() => config('lobby: { auth: { party_pass_ttl_seconds: 5 } }'))).toEqual(['test.yaml:1:42: lobby.auth.party_pass_ttl_seconds: must be at least 10, got 5']);
  });

  it("never outlives the login token of the member who made it", async () => {
    const { auth, clock } = make();
    const tokenExpiresAt = clock.now() + 45_000; // sooner than the pass's 120 s
    const { pass, expiresAt } = await auth.issuePartyPass({ playerId: 'bob', expiresAt: tokenExpiresAt }, 'alice');
    expect(expiresAt).toBe(tokenExpiresAt);
    clock.advance(44_000);
    expect(await auth.partyOf('alice', [pass])).toEqual(['bob']);
    clock.advance(1000);
    expect(await rejection(auth.partyOf('alice', [pass]))).toMatchObject({ problems: ['party[0]: the pass of bob expired at 2026-01-01T00:00:45.000Z: ask them for a new one'] });
  });
});
