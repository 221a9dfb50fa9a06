import { randomUUID } from 'node:crypto';
import { errors as jose, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Clock } from '../core/clock.js';
import type { PlayerAuthConfig } from '../core/config.js';
import { AppError, ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

// Who a player is. Tokens are JWTs signed with HS256 and JWT_SECRET (core/config.ts'
// loadPlayerAuthConfig): `sub` is the player id, with `iss`, `aud`, `iat`, `exp` and a `jti`. Every
// lobby process sharing the secret, issuer and audience accepts every other's tokens, so players
// may land on any of them.

/** Player ids as the lobby accepts them (in tokens, and as party members). */
export const PLAYER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

// A token longer than this is refused before any crypto is spent on it.
const MAX_TOKEN_LENGTH = 4096;

export interface PlayerIdentity {
  playerId: string;
  /** The display name a guest chose, when one did. */
  name?: string;
  guest: boolean;
  /** When the token stops being accepted, epoch ms. */
  expiresAt: number;
}

export interface IssuedToken {
  token: string;
  playerId: string;
  name?: string;
  expiresAt: number;
}

export class PlayerUnauthenticatedError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.PLAYER_UNAUTHENTICATED, message, options);
  }
}

export class GuestLoginDisabledError extends AppError {
  constructor() {
    super(ErrorCode.GUEST_LOGIN_DISABLED, 'guest login is disabled here (set lobby.auth.guest_login: true to allow it)');
  }
}

export interface PlayerAuthOptions {
  config: PlayerAuthConfig;
  clock: Clock;
  log: Logger;
}

export class PlayerAuth {
  private readonly config: PlayerAuthConfig;
  private readonly clock: Clock;

  constructor(options: PlayerAuthOptions) {
    this.config = options.config;
    this.clock = options.clock;
    if (options.config.secretSource === 'random') {
      options.log.warn(
        { component: 'player-auth' },
        'JWT_SECRET is not set: player tokens are signed with a random per-process secret (development only); they stop verifying when this process restarts and no other lobby process accepts them',
      );
    }
  }

  /** A token for a new guest player with a fresh id; GuestLoginDisabledError where guests are not allowed. */
  loginGuest(name?: string): Promise<IssuedToken> {
    if (!this.config.guestLogin) return Promise.reject(new GuestLoginDisabledError());
    return this.issue(`guest-${randomUUID()}`, { name, guest: true });
  }

  /**
   * Signs a token for `playerId`. Guest login is the only caller today: a password or an external
   * identity provider (OIDC, a platform's session ticket) is out of scope; one would verify its
   * credential and then call this with the player id it vouches for.
   */
  async issue(playerId: string, claims: { name?: string; guest: boolean }): Promise<IssuedToken> {
    if (!PLAYER_ID_PATTERN.test(playerId)) throw new TypeError(`player id ${JSON.stringify(playerId)} does not match ${PLAYER_ID_PATTERN}`);
    const now = Math.floor(this.clock.now() / 1000);
    const exp = now + this.config.tokenTtlSeconds;
    const payload: JWTPayload = { ...(claims.name !== undefined ? { name: claims.name } : {}), ...(claims.guest ? { guest: true } : {}) };
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(playerId)
      .setIssuer(this.config.issuer)
      .setAudience(this.config.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.config.secret);
    return { token, playerId, ...(claims.name !== undefined ? { name: claims.name } : {}), expiresAt: exp * 1000 };
  }

  /** The player a token names; PlayerUnauthenticatedError saying what is wrong with it otherwise. */
  async verify(token: string): Promise<PlayerIdentity> {
    if (token.length > MAX_TOKEN_LENGTH) throw new PlayerUnauthenticatedError(`the token is longer than ${MAX_TOKEN_LENGTH} characters, so it is not one of ours`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.config.secret, {
        algorithms: ['HS256'],
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(this.clock.now()),
      }));
    } catch (err) {
      if (err instanceof jose.JOSEError) throw new PlayerUnauthenticatedError(this.describe(err), { cause: err });
      throw err;
    }
    if (typeof payload.sub !== 'string' || !PLAYER_ID_PATTERN.test(payload.sub)) throw new PlayerUnauthenticatedError('the token does not name a valid player id (sub)');
    return {
      playerId: payload.sub,
      ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
      guest: payload.guest === true,
      expiresAt: (payload.exp as number) * 1000,
    };
  }

  private describe(err: InstanceType<typeof jose.JOSEError>): string {
    if (err instanceof jose.JWTExpired) return `the token expired at ${new Date((err.payload.exp ?? 0) * 1000).toISOString()}: log in again`;
    if (err instanceof jose.JWSSignatureVerificationFailed) return 'the token signature does not verify: it was forged, altered or signed with another secret';
    if (err instanceof jose.JOSEAlgNotAllowed) return 'the token is not signed with HS256, the only algorithm the lobby accepts';
    if (err instanceof jose.JWTClaimValidationFailed) {
      if (err.reason === 'missing') return `the token has no "${err.claim}" claim`;
      if (err.claim === 'aud') return `the token is for audience ${JSON.stringify(err.payload.aud)}, not this lobby's "${this.config.audience}"`;
      if (err.claim === 'iss') return `the token was issued by ${JSON.stringify(err.payload.iss)}, not "${this.config.issuer}"`;
      return `the token's "${err.claim}" claim is not valid (${err.message})`;
    }
    return `the token is not a well-formed JWT (${err.message})`;
  }
}
