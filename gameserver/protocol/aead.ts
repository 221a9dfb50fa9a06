import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import * as sodium from 'sodium-native';
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES } from './protocol-constants.js';

// The protocol's two AEADs (PROTOCOL.md, "Cryptography"), both with 32-byte keys, 12-byte nonces
// and 16-byte tags:
// - tokens (a connect token's private part, a challenge token): AES-256-GCM from node:crypto, as
//   the connect-token format fixes; one of each per handshake.
// - packets (challenge and denied packets, and every packet of a connection): ChaCha20-Poly1305
//   (RFC 8439) from libsodium. node:crypto cannot seal without making a cipher object per packet
//   (createCipheriv, setAAD, update, final, getAuthTag, then its native finalizer in the next
//   scavenge): about 7 µs to seal and 6 µs to open a 90-byte body on this project's machines,
//   against about 1.6 µs each for one libsodium call that makes nothing. With a packet each way
//   per player and tick, that was half of a game server's CPU, and of the bots'.

export const TOKEN_AEAD_ALGORITHM = 'aes-256-gcm';
const TOKEN_AEAD_OPTIONS = { authTagLength: TAG_BYTES };

/** A 32-byte token key as a KeyObject, made once per key rather than once per token. */
export function aeadKey(raw: Buffer): KeyObject {
  if (raw.length !== KEY_BYTES) throw new RangeError(`an AEAD key is ${KEY_BYTES} bytes, not ${raw.length}`);
  return createSecretKey(raw);
}

/** Token AEAD: encrypts `plaintext` into `out` at `offset`, the tag right after it; returns the bytes written. */
export function seal(key: KeyObject, nonce: Buffer, ad: Buffer, plaintext: Buffer, out: Buffer, offset: number): number {
  const cipher = createCipheriv(TOKEN_AEAD_ALGORITHM, key, nonce, TOKEN_AEAD_OPTIONS);
  cipher.setAAD(ad);
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  ciphertext.copy(out, offset);
  cipher.getAuthTag().copy(out, offset + ciphertext.length);
  return ciphertext.length + TAG_BYTES;
}

/** Token AEAD: decrypts `data[start, end)`, whose last 16 bytes are the tag; undefined when authentication fails. */
export function open(key: KeyObject, nonce: Buffer, ad: Buffer, data: Buffer, start: number, end: number): Buffer | undefined {
  const decipher = createDecipheriv(TOKEN_AEAD_ALGORITHM, key, nonce, TOKEN_AEAD_OPTIONS);
  decipher.setAAD(ad);
  decipher.setAuthTag(data.subarray(end - TAG_BYTES, end));
  const plaintext = decipher.update(data.subarray(start, end - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}

/** A packet key: the 32 bytes, copied (a key must not change under a connection if its source buffer is reused). */
export function packetKey(raw: Buffer): Buffer {
  if (raw.length !== KEY_BYTES) throw new RangeError(`an AEAD key is ${KEY_BYTES} bytes, not ${raw.length}`);
  return Buffer.from(raw);
}

/** A nonce buffer whose first 6 bytes stay zero; packet-codec's `writeSequenceNonce` fills the last 6. */
export function newNonce(): Buffer {
  return Buffer.alloc(NONCE_BYTES);
}

/** Packet AEAD: encrypts `plaintext` into `out` at `offset`, the tag right after it; returns the bytes written. */
export function sealPacketBody(key: Buffer, nonce: Buffer, ad: Buffer, plaintext: Buffer, out: Buffer, offset: number): number {
  // The tag follows the ciphertext, as the attached form writes it: one view of `out`, not two.
  const sealed = plaintext.length + TAG_BYTES;
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out.subarray(offset, offset + sealed), plaintext, ad, null, nonce, key);
  return sealed;
}

/**
 * Packet AEAD: decrypts `data[start, end)`, whose last 16 bytes are the tag, in place; returns the
 * plaintext (a view of `data`), or undefined when authentication fails (leaving those bytes unusable).
 */
export function openPacketBody(key: Buffer, nonce: Buffer, ad: Buffer, data: Buffer, start: number, end: number): Buffer | undefined {
  const body = data.subarray(start, end - TAG_BYTES);
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(body, null, body, data.subarray(end - TAG_BYTES, end), ad, nonce, key);
  } catch {
    return undefined;
  }
  return body;
}
