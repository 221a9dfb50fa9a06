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
//
// A party pass is a player's consent to be in one leader's tickets: a short-lived JWT with the
// same secret and issuer but an audience and `typ` of its own (so neither a pass nor a login token
// is ever taken for the other), `sub` the member and `leader` the leader. The member asks for it,
// hands it to the leader through the game's own channel (party chat, invite), and the leader's
// ticket lists it. Nothing is stored: any lobby process verifies a pass any other made.

/** Player ids as the lobby accepts them (in login tokens and party passes, and as a pass's leader). */
export const PLAYER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

// A token longer than this is refused before any crypto is spent on it.
const MAX_TOKEN_LENGTH = 4096;
/** The `typ` header of party passes (RFC 8725 explicit typing); login tokens are plain `JWT`. */
const PARTY_PASS_TYPE = 'hangar-party-pass+jwt';

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

/** A pass as the lobby gives it to the member. */
export interface IssuedPartyPass {
  pass: string;
  /** When it stops being accepted, epoch ms. */
  expiresAt: number;
}

/** A party whose passes do not all admit their members to this leader's ticket; one `party[i]: why` each. */
export class PartyPassInvalidError extends AppError {
  constructor(readonly problems: readonly string[]) {
    super(ErrorCode.PARTY_PASS_INVALID, `the party is refused: ${problems.join('; ')}`);
  }
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

  /** The audience of party passes: derived from the login tokens' own, so the two can never be equal. */
  private get partyPassAudience(): string {
    return `${this.config.audience}/party-pass`;
  }

  /**
   * A pass saying that `member` consents to be in `leaderId`'s tickets for
   * lobby.auth.party_pass_ttl_seconds, and no longer than the member's login token (`expiresAt`)
   * is good: a pass never vouches for a player after their own session has ended.
   */
  async issuePartyPass(member: Pick<PlayerIdentity, 'playerId' | 'expiresAt'>, leaderId: string): Promise<IssuedPartyPass> {
    const memberId = member.playerId;
    for (const id of [memberId, leaderId]) if (!PLAYER_ID_PATTERN.test(id)) throw new TypeError(`player id ${JSON.stringify(id)} does not match ${PLAYER_ID_PATTERN}`);
    const now = Math.floor(this.clock.now() / 1000);
    // Token expiries are whole seconds (JWT exp), so the floor loses nothing.
    const exp = Math.min(now + this.config.partyPassTtlSeconds, Math.floor(member.expiresAt / 1000));
    const pass = await new SignJWT({ leader: leaderId })
      .setProtectedHeader({ alg: 'HS256', typ: PARTY_PASS_TYPE })
      .setSubject(memberId)
      .setIssuer(this.config.issuer)
      .setAudience(this.partyPassAudience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.config.secret);
    return { pass, expiresAt: exp * 1000 };
  }

  /**
   * The other members of `leaderId`'s party, one per pass in order, when every pass verifies, names
   * `leaderId` as its leader, is not the leader's own and is the only one of its member; otherwise
   * PartyPassInvalidError with one `party[i]: why` for each pass that fails.
   */
  async partyOf(leaderId: string, passes: readonly string[]): Promise<string[]> {
    const read = await Promise.all(passes.map((p) => this.readPartyPass(p)));
    const problems: string[] = [];
    const seen = new Map<string, number>();
    read.forEach((r, i) => {
      const at = `party[${i}]`;
      if (typeof r === 'string') return void problems.push(`${at}: ${r}`);
      if (r.leaderId !== leaderId) return void problems.push(`${at}: the pass of ${r.memberId} names ${r.leaderId} as the party's leader, not you (${leaderId}): ${r.memberId} must make one for you`);
      if (r.memberId === leaderId) return void problems.push(`${at}: the pass is your own: list only the other members' passes`);
      const first = seen.get(r.memberId);
      if (first !== undefined) return void problems.push(`${at}: a second pass of ${r.memberId} (party[${first}] is one already)`);
      seen.set(r.memberId, i);
    });
    if (problems.length) throw new PartyPassInvalidError(problems);
    return read.map((r) => (r as { memberId: string }).memberId);
  }

  /** A pass's member and leader, or why it is not a valid pass. */
  private async readPartyPass(pass: string): Promise<{ memberId: string; leaderId: string } | string> {
    if (pass.length > MAX_TOKEN_LENGTH) return `the pass is longer than ${MAX_TOKEN_LENGTH} characters, so it is not one of ours`;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(pass, this.config.secret, {
        algorithms: ['HS256'],
        typ: PARTY_PASS_TYPE,
        issuer: this.config.issuer,
        audience: this.partyPassAudience,
        requiredClaims: ['sub', 'exp', 'iat', 'leader'],
        currentDate: new Date(this.clock.now()),
      }));
    } catch (err) {
      if (!(err instanceof jose.JOSEError)) throw err;
      // A login token signed by this lobby is the likeliest mistake: say so rather than name a header.
      if (err instanceof jose.JWTClaimValidationFailed && err.payload.aud === this.config.audience) return 'a login token, not a party pass: the member asks for one with POST /v1/party-passes (or a party-pass message)';
      return this.describe(err, 'pass');
    }
    const { sub, leader } = payload;
    if (typeof sub !== 'string' || !PLAYER_ID_PATTERN.test(sub)) return 'the pass does not name a valid player id (sub)';
    if (typeof leader !== 'string' || !PLAYER_ID_PATTERN.test(leader)) return 'the pass does not name a valid leader';
    return { memberId: sub, leaderId: leader };
  }

  private describe(err: InstanceType<typeof jose.JOSEError>, what: 'token' | 'pass' = 'token'): string {
    if (err instanceof jose.JWTExpired) {
      const when = new Date((err.payload.exp ?? 0) * 1000).toISOString();
      return what === 'token' ? `the token expired at ${when}: log in again` : `the pass of ${String(err.payload.sub)} expired at ${when}: ask them for a new one`;
    }
    if (err instanceof jose.JWSSignatureVerificationFailed) return `the ${what} signature does not verify: it was forged, altered or signed with another secret`;
    if (err instanceof jose.JOSEAlgNotAllowed) return `the ${what} is not signed with HS256, the only algorithm the lobby accepts`;
    if (err instanceof jose.JWTClaimValidationFailed) {
      if (err.reason === 'missing') return `the ${what} has no "${err.claim}" claim`;
      if (err.claim === 'aud') {
        if (what === 'token' && err.payload.aud === this.partyPassAudience) return 'the token is a party pass, not a login token: log in with POST /v1/login';
        return `the ${what} is for audience ${JSON.stringify(err.payload.aud)}, ${what === 'token' ? `not this lobby's "${this.config.audience}"` : `not "${this.partyPassAudience}"`}`;
      }
      if (err.claim === 'iss') return `the ${what} was issued by ${JSON.stringify(err.payload.iss)}, not "${this.config.issuer}"`;
      if (err.claim === 'typ') return `the ${what} is not a party pass (its "typ" header is not ${PARTY_PASS_TYPE})`;
      return `the ${what}'s "${err.claim}" claim is not valid (${err.message})`;
    }
    return `the ${what} is not a well-formed JWT (${err.message})`;
  }
}
