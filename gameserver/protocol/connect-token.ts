import { randomBytes, type KeyObject } from 'node:crypto';
import { aeadKey, open, seal } from './aead.js';
import { readTimestamp, writeTimestamp } from './packet-codec.js';
import {
  DEFAULT_TIMEOUT_SECONDS,
  KEY_BYTES,
  MAX_ADDRESS_BYTES,
  MAX_PLAYER_ID_BYTES,
  MAX_SERVER_ADDRESSES,
  MAX_SERVER_ID_BYTES,
  MAX_TIMEOUT_SECONDS,
  MAX_USER_DATA_BYTES,
  NONCE_BYTES,
  PRIVATE_TOKEN_BYTES,
  PRIVATE_TOKEN_PLAINTEXT_BYTES,
  PROTOCOL_ID_BYTES,
  PROTOCOL_VERSION,
  TAG_BYTES,
  TIMESTAMP_BYTES,
} from './protocol-constants.js';
import { ConnectTokenError } from './protocol-errors.js';
import { parseServerAddress } from './server-address.js';

// Connect tokens (PROTOCOL.md, "Connect token"). A backend that shares a 32-byte key with the game
// servers mints one per player and game server; the client reads the public part and hands the
// sealed private part to the server in its connection request.

/** "HGCT": Hangar connect token. */
const TOKEN_MAGIC = Buffer.from('HGCT', 'latin1');
const MAX_PROTOCOL_ID = 2n ** 64n - 1n;

// Offsets of the public token's fixed fields.
const VERSION_OFFSET = TOKEN_MAGIC.length;
const PROTOCOL_ID_OFFSET = VERSION_OFFSET + 1;
const CREATED_AT_OFFSET = PROTOCOL_ID_OFFSET + PROTOCOL_ID_BYTES;
const EXPIRES_AT_OFFSET = CREATED_AT_OFFSET + TIMESTAMP_BYTES;
const TIMEOUT_OFFSET = EXPIRES_AT_OFFSET + TIMESTAMP_BYTES;
const NONCE_OFFSET = TIMEOUT_OFFSET + 2;
const PRIVATE_OFFSET = NONCE_OFFSET + NONCE_BYTES;
const CLIENT_KEY_OFFSET = PRIVATE_OFFSET + PRIVATE_TOKEN_BYTES;
const SERVER_KEY_OFFSET = CLIENT_KEY_OFFSET + KEY_BYTES;
const PLAYER_ID_OFFSET = SERVER_KEY_OFFSET + KEY_BYTES;
/** The additional data of the private part: token magic and version, protocol id, expiry. */
const PRIVATE_TOKEN_AD_BYTES = TOKEN_MAGIC.length + 1 + PROTOCOL_ID_BYTES + TIMESTAMP_BYTES;

export interface ConnectTokenOptions {
  /** The 32-byte key the backend shares with the game servers. */
  key: Buffer;
  protocolId: bigint;
  /** The GameServer's name: the only server that accepts the token. */
  serverId: string;
  playerId: string;
  /** The server's UDP addresses, "host:port" (one per network worker); the client picks one by player id. */
  addresses: string[];
  expiresInSeconds: number;
  /** Silence after which either side drops the connection (default 5). */
  timeoutSeconds?: number;
  /** Up to 256 bytes the server receives with the connection: match id, team... */
  userData?: Buffer;
  /** Minting time, ms since the epoch (default Date.now()). */
  now?: number;
}

/** What every token for one game server shares: all but the key and the player. */
export type ServerTokenOptions = Omit<ConnectTokenOptions, 'key' | 'playerId'>;

/** What a client reads from its token. */
export interface PublicConnectToken {
  protocolId: bigint;
  createdAt: number;
  expiresAt: number;
  timeoutSeconds: number;
  playerId: string;
  addresses: string[];
  clientToServerKey: Buffer;
  serverToClientKey: Buffer;
  /** The private part's nonce and sealed bytes, passed on to the server as they are. */
  nonce: Buffer;
  privateToken: Buffer;
}

/** What only the backend and the server can read. */
export interface PrivateConnectToken {
  createdAt: number;
  timeoutSeconds: number;
  clientToServerKey: Buffer;
  serverToClientKey: Buffer;
  serverId: string;
  playerId: string;
  userData: Buffer;
}

export function mintConnectToken(o: ConnectTokenOptions): Buffer {
  refuseIfAny([...checkKey(o.key), ...checkServerOptions(o), ...checkPlayerId(o.playerId)]);
  return serverTokens(o, aeadKey(o.key), () => randomBytes(TOKEN_RANDOM_BYTES))(o.playerId);
}

/** Random bytes a token needs: its two connection keys, then its nonce. */
const TOKEN_RANDOM_BYTES = 2 * KEY_BYTES + NONCE_BYTES;
/** Tokens' worth of random bytes drawn at once by a minter: one CSPRNG call costs about as much as minting the rest of a token. */
const RANDOM_POOL_TOKENS = 256;

/**
 * Mints token after token under one key, for a backend that mints thousands a second: the key is
 * made into a KeyObject once, and random bytes are drawn from the CSPRNG for many tokens at once.
 * Each drawn byte goes into one token only: the pool moves forward and a refill is a new buffer.
 */
export class ConnectTokenMinter {
  private readonly key: KeyObject;
  private pool = Buffer.alloc(0);
  private used = 0;

  constructor(key: Buffer) {
    const problems = checkKey(key);
    if (problems.length) throw new ConnectTokenError(`cannot mint connect tokens: ${problems.join('; ')}`);
    this.key = aeadKey(key);
  }

  /**
   * Mints the tokens of one server's players (a match's): what they share is checked and laid out
   * once, not once a token (outside the cipher, that was most of a token's cost).
   */
  forServer(o: ServerTokenOptions): (playerId: string) => Buffer {
    refuseIfAny(checkServerOptions(o));
    const tokenFor = serverTokens(o, this.key, () => this.fresh());
    return (playerId) => {
      refuseIfAny(checkPlayerId(playerId));
      return tokenFor(playerId);
    };
  }

  /** The next token's random bytes, never handed out before. */
  private fresh(): Buffer {
    if (this.used + TOKEN_RANDOM_BYTES > this.pool.length) {
      this.pool = randomBytes(RANDOM_POOL_TOKENS * TOKEN_RANDOM_BYTES);
      this.used = 0;
    }
    return this.pool.subarray(this.used, (this.used += TOKEN_RANDOM_BYTES));
  }
}

/**
 * Mints tokens from checked options, sealed under `key`, for player after player: the fields every
 * token of the server shares (the public part's header and address list, the private part's
 * additional data, its timestamps and server id) are laid out once. `fresh` gives
 * TOKEN_RANDOM_BYTES random bytes no other token gets.
 */
function serverTokens(o: ServerTokenOptions, key: KeyObject, fresh: () => Buffer): (playerId: string) => Buffer {
  const createdAt = Math.floor(o.now ?? Date.now());
  const expiresAt = createdAt + Math.round(o.expiresInSeconds * 1000);
  const timeoutSeconds = o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const userData = o.userData ?? Buffer.alloc(0);

  const header = Buffer.alloc(NONCE_OFFSET);
  TOKEN_MAGIC.copy(header, 0);
  header[VERSION_OFFSET] = PROTOCOL_VERSION;
  header.writeBigUInt64BE(o.protocolId, PROTOCOL_ID_OFFSET);
  writeTimestamp(header, createdAt, CREATED_AT_OFFSET);
  writeTimestamp(header, expiresAt, EXPIRES_AT_OFFSET);
  header.writeUInt16BE(timeoutSeconds, TIMEOUT_OFFSET);
  const ad = privateTokenAd(header.subarray(PROTOCOL_ID_OFFSET, CREATED_AT_OFFSET), header.subarray(EXPIRES_AT_OFFSET, TIMEOUT_OFFSET));
  // Addresses are latin1: a byte per character.
  const addressList = Buffer.alloc(1 + o.addresses.reduce((n, a) => n + 1 + a.length, 0));
  let q = addressList.writeUInt8(o.addresses.length, 0);
  for (const a of o.addresses) {
    q = addressList.writeUInt8(a.length, q);
    q += addressList.write(a, q, 'latin1');
  }

  // The private part: timestamps, keys, server id, then the player's id and the user data, zero padded.
  const plaintext = Buffer.alloc(PRIVATE_TOKEN_PLAINTEXT_BYTES);
  writeTimestamp(plaintext, createdAt, 0);
  const keysAt = plaintext.writeUInt16BE(timeoutSeconds, TIMESTAMP_BYTES);
  let playerAt = plaintext.writeUInt8(Buffer.byteLength(o.serverId, 'utf8'), keysAt + 2 * KEY_BYTES);
  playerAt += plaintext.write(o.serverId, playerAt, 'utf8');
  /** Where the last token's fields ended: what lies beyond is still zero. */
  let written = playerAt;

  return (playerId) => {
    const random = fresh();
    const keys = random.subarray(0, 2 * KEY_BYTES); // client→server, then server→client: as both parts lay them out
    const nonce = random.subarray(2 * KEY_BYTES, TOKEN_RANDOM_BYTES);
    const playerIdBytes = Buffer.byteLength(playerId, 'utf8');

    keys.copy(plaintext, keysAt);
    let p = plaintext.writeUInt8(playerIdBytes, playerAt);
    p += plaintext.write(playerId, p, 'utf8');
    p = plaintext.writeUInt16BE(userData.length, p);
    p += userData.copy(plaintext, p);
    if (p < written) plaintext.fill(0, p, written);
    written = p;

    // Every byte is written below, so the token need not be zeroed first.
    const token = Buffer.allocUnsafe(PLAYER_ID_OFFSET + 1 + playerIdBytes + addressList.length);
    header.copy(token, 0);
    nonce.copy(token, NONCE_OFFSET);
    seal(key, nonce, ad, plaintext, token, PRIVATE_OFFSET);
    keys.copy(token, CLIENT_KEY_OFFSET);
    let t = token.writeUInt8(playerIdBytes, PLAYER_ID_OFFSET);
    t += token.write(playerId, t, 'utf8');
    addressList.copy(token, t);
    return token;
  };
}

function checkKey(key: Buffer): string[] {
  return Buffer.isBuffer(key) && key.length === KEY_BYTES ? [] : [`key must be ${KEY_BYTES} bytes`];
}

function refuseIfAny(problems: string[]): void {
  if (problems.length) throw new ConnectTokenError(`cannot mint a connect token: ${problems.join('; ')}`);
}

function checkPlayerId(playerId: string): string[] {
  const problems: string[] = [];
  checkText('playerId', playerId, MAX_PLAYER_ID_BYTES, problems);
  return problems;
}

function checkServerOptions(o: ServerTokenOptions): string[] {
  const problems: string[] = [];
  if (o.protocolId < 0n || o.protocolId > MAX_PROTOCOL_ID) problems.push('protocolId must fit 64 unsigned bits');
  checkText('serverId', o.serverId, MAX_SERVER_ID_BYTES, problems);
  if (o.addresses.length < 1 || o.addresses.length > MAX_SERVER_ADDRESSES) problems.push(`addresses: give 1 to ${MAX_SERVER_ADDRESSES}, not ${o.addresses.length}`);
  for (const a of o.addresses) {
    if (a.length > MAX_ADDRESS_BYTES || !parseServerAddress(a)) problems.push(`address ${JSON.stringify(a)} is not host:port`);
  }
  if (!(o.expiresInSeconds > 0) || !Number.isFinite(o.expiresInSeconds)) problems.push(`expiresInSeconds must be a positive number, not ${o.expiresInSeconds}`);
  const timeout = o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_SECONDS) problems.push(`timeoutSeconds must be an integer from 1 to ${MAX_TIMEOUT_SECONDS}, not ${timeout}`);
  if (o.userData && o.userData.length > MAX_USER_DATA_BYTES) problems.push(`userData is ${o.userData.length} bytes, at most ${MAX_USER_DATA_BYTES}`);
  if (o.now !== undefined && !(o.now >= 0)) problems.push(`now must be milliseconds since the epoch, not ${o.now}`);
  return problems;
}

function checkText(name: string, value: string, maxBytes: number, problems: string[]): void {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < 1 || bytes > maxBytes) problems.push(`${name} must be 1 to ${maxBytes} bytes of UTF-8, not ${bytes}`);
}

/** The private part's additional data, from the protocol id and expiry as they are on the wire. */
export function privateTokenAd(protocolId: Buffer, expiresAt: Buffer): Buffer {
  const ad = Buffer.allocUnsafe(PRIVATE_TOKEN_AD_BYTES);
  TOKEN_MAGIC.copy(ad, 0);
  ad[TOKEN_MAGIC.length] = PROTOCOL_VERSION;
  protocolId.copy(ad, TOKEN_MAGIC.length + 1);
  expiresAt.copy(ad, TOKEN_MAGIC.length + 1 + PROTOCOL_ID_BYTES);
  return ad;
}

/** A client's view of its token; a ConnectTokenError when the bytes are not a Hangar connect token. */
export function readPublicToken(token: Buffer): PublicConnectToken {
  const fail = (why: string): never => {
    throw new ConnectTokenError(`not a usable connect token: ${why}`);
  };
  if (token.length < TOKEN_MAGIC.length || !token.subarray(0, TOKEN_MAGIC.length).equals(TOKEN_MAGIC)) fail('it does not start with HGCT');
  if (token.length < PLAYER_ID_OFFSET + 1) fail('truncated');
  if (token[VERSION_OFFSET] !== PROTOCOL_VERSION) fail(`version ${token[VERSION_OFFSET]}, this client speaks ${PROTOCOL_VERSION}`);
  const createdAt = readTimestamp(token, CREATED_AT_OFFSET);
  const expiresAt = readTimestamp(token, EXPIRES_AT_OFFSET);
  if (expiresAt <= createdAt) fail('it expires before it was created');
  const timeoutSeconds = token.readUInt16BE(TIMEOUT_OFFSET);
  if (timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) fail(`timeout ${timeoutSeconds} s`);
  let p = PLAYER_ID_OFFSET;
  const field = (length: number): Buffer => {
    if (p + length > token.length) fail('truncated');
    const bytes = token.subarray(p, p + length);
    p += length;
    return bytes;
  };
  const playerId = field(field(1)[0]!).toString('utf8');
  if (!playerId) fail('no player id');
  const count = field(1)[0]!;
  if (count < 1 || count > MAX_SERVER_ADDRESSES) fail(`${count} server addresses`);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const address = field(field(1)[0]!).toString('latin1');
    if (!parseServerAddress(address)) fail(`address ${JSON.stringify(address)} is not host:port`);
    addresses.push(address);
  }
  if (p !== token.length) fail('trailing bytes');
  return {
    protocolId: token.readBigUInt64BE(PROTOCOL_ID_OFFSET),
    createdAt,
    expiresAt,
    timeoutSeconds,
    playerId,
    addresses,
    clientToServerKey: Buffer.from(token.subarray(CLIENT_KEY_OFFSET, SERVER_KEY_OFFSET)),
    serverToClientKey: Buffer.from(token.subarray(SERVER_KEY_OFFSET, PLAYER_ID_OFFSET)),
    nonce: Buffer.from(token.subarray(NONCE_OFFSET, PRIVATE_OFFSET)),
    privateToken: Buffer.from(token.subarray(PRIVATE_OFFSET, CLIENT_KEY_OFFSET)),
  };
}

/**
 * The server's reading of a private part: undefined unless it authenticates under `key` with this
 * additional data and its fields are well formed.
 */
export function openPrivateToken(key: KeyObject, ad: Buffer, nonce: Buffer, sealed: Buffer): PrivateConnectToken | undefined {
  if (sealed.length !== PRIVATE_TOKEN_BYTES) return undefined;
  const plaintext = open(key, nonce, ad, sealed, 0, sealed.length);
  if (!plaintext) return undefined;
  // Authentic means minted by our backend, but a bug there must not become an exception here.
  const createdAt = readTimestamp(plaintext, 0);
  let p = TIMESTAMP_BYTES;
  const timeoutSeconds = plaintext.readUInt16BE(p);
  p += 2;
  if (timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) return undefined;
  const clientToServerKey = plaintext.subarray(p, (p += KEY_BYTES));
  const serverToClientKey = plaintext.subarray(p, (p += KEY_BYTES));
  const serverIdLength = plaintext[p++]!;
  if (serverIdLength < 1 || serverIdLength > MAX_SERVER_ID_BYTES) return undefined;
  const serverId = plaintext.toString('utf8', p, (p += serverIdLength));
  const playerIdLength = plaintext[p++]!;
  if (playerIdLength < 1 || playerIdLength > MAX_PLAYER_ID_BYTES) return undefined;
  const playerId = plaintext.toString('utf8', p, (p += playerIdLength));
  const userDataLength = plaintext.readUInt16BE(p);
  p += 2;
  if (userDataLength > MAX_USER_DATA_BYTES) return undefined;
  const userData = plaintext.subarray(p, p + userDataLength);
  return { createdAt, timeoutSeconds, clientToServerKey, serverToClientKey, serverId, playerId, userData };
}

/** The tag of a sealed private part: what the server binds to the first address that used it. */
export function privateTokenTag(sealed: Buffer): Buffer {
  return sealed.subarray(sealed.length - TAG_BYTES);
}
