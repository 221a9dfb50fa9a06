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
    expect(cfg.lobby).toMatchObject({ host: '127.0.0.1', port: 8080, auth: { issuer: 'hangar', audience: 'hangar-lobby', token_ttl_seconds: 3600 }, max_sockets_per_player: 8, heartbeat_seconds: 30 });
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
