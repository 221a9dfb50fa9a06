import type { KeyObject } from 'node:crypto';
import { open, seal } from './aead.js';
import { readTimestamp, writeTimestamp } from './packet-codec.js';
import {
  CHALLENGE_PLAINTEXT_FIXED_BYTES,
  CHALLENGE_SEQUENCE_BYTES,
  KEY_BYTES,
  MAX_PLAYER_ID_BYTES,
  MAX_TIMEOUT_SECONDS,
  MAX_USER_DATA_BYTES,
  NONCE_BYTES,
  TAG_BYTES,
  TIMESTAMP_BYTES,
} from './protocol-constants.js';

// The challenge token (PROTOCOL.md, "Challenge token"): everything the server needs to finish a
// handshake, sealed under a key only this server process knows and bound to the client's address.
// The server keeps nothing per pending client; the client echoes the token in its response.

export interface ChallengeContents {
  /** The tag of the connect token's private part: its identity for the one-address rule. */
  tokenTag: Buffer;
  /** The response must arrive before this (ms since the epoch). */
  expiresAt: number;
  timeoutSeconds: number;
  clientToServerKey: Buffer;
  serverToClientKey: Buffer;
  playerId: string;
  userData: Buffer;
}

/** The additional data binding a challenge token to one client address and port. */
export function challengeAd(address: string, port: number): Buffer {
  const ad = Buffer.allocUnsafe(Buffer.byteLength(address, 'latin1') + 2);
  const n = ad.write(address, 0, 'latin1');
  ad.writeUInt16BE(port, n);
  return ad;
}

export function sealChallengeToken(key: KeyObject, sequence: number, ad: Buffer, c: ChallengeContents): Buffer {
  const playerId = Buffer.from(c.playerId, 'utf8');
  const plaintext = Buffer.allocUnsafe(CHALLENGE_PLAINTEXT_FIXED_BYTES + playerId.length + c.userData.length);
  let p = c.tokenTag.copy(plaintext, 0);
  writeTimestamp(plaintext, c.expiresAt, p);
  p = plaintext.writeUInt16BE(c.timeoutSeconds, p + TIMESTAMP_BYTES);
  p += c.clientToServerKey.copy(plaintext, p);
  p += c.serverToClientKey.copy(plaintext, p);
  p = plaintext.writeUInt8(playerId.length, p);
  p += playerId.copy(plaintext, p);
  p = plaintext.writeUInt16BE(c.userData.length, p);
  c.userData.copy(plaintext, p);

  const token = Buffer.allocUnsafe(CHALLENGE_SEQUENCE_BYTES + plaintext.length + TAG_BYTES);
  writeTimestamp(token, sequence, 0);
  seal(key, challengeNonce(token), ad, plaintext, token, CHALLENGE_SEQUENCE_BYTES);
  return token;
}

/** The contents of a challenge token sealed by this key for this address; undefined if it is not one. */
export function openChallengeToken(key: KeyObject, ad: Buffer, token: Buffer): ChallengeContents | undefined {
  const plaintext = open(key, challengeNonce(token), ad, token, CHALLENGE_SEQUENCE_BYTES, token.length);
  if (!plaintext || plaintext.length < CHALLENGE_PLAINTEXT_FIXED_BYTES) return undefined;
  const tokenTag = plaintext.subarray(0, TAG_BYTES);
  let p = TAG_BYTES;
  const expiresAt = readTimestamp(plaintext, p);
  p += TIMESTAMP_BYTES;
  const timeoutSeconds = plaintext.readUInt16BE(p);
  p += 2;
  const clientToServerKey = plaintext.subarray(p, (p += KEY_BYTES));
  const serverToClientKey = plaintext.subarray(p, (p += KEY_BYTES));
  const playerIdLength = plaintext[p++]!;
  if (playerIdLength < 1 || playerIdLength > MAX_PLAYER_ID_BYTES || p + playerIdLength + 2 > plaintext.length) return undefined;
  const playerId = plaintext.toString('utf8', p, (p += playerIdLength));
  const userDataLength = plaintext.readUInt16BE(p);
  p += 2;
  if (userDataLength > MAX_USER_DATA_BYTES || p + userDataLength !== plaintext.length) return undefined;
  if (timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) return undefined;
  return { tokenTag, expiresAt, timeoutSeconds, clientToServerKey, serverToClientKey, playerId, userData: plaintext.subarray(p) };
}

/** 4 zero bytes, then the token's own u64 sequence. */
function challengeNonce(token: Buffer): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  token.copy(nonce, NONCE_BYTES - CHALLENGE_SEQUENCE_BYTES, 0, CHALLENGE_SEQUENCE_BYTES);
  return nonce;
}
