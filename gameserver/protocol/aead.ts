import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
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

// sodium-native's addon itself, not the functions its index.js wraps around it. Each wrapper runs
// a dozen asserts per call (typed-array checks and byte lengths against constants read from the
// addon's exports, an object of a thousand properties that V8 keeps as a dictionary: lookups that
// stay out of line in optimized code; Builtins_LoadIC alone was 1.9 % of the arena server's
// samples at 1,000 players, BENCHMARKS.md, helper-45). The checks that matter for memory safety
// (every length libsodium relies on, which the addon's C takes on trust) are made here instead.
interface SodiumBinding {
  /** Seals `m` into `c` (exactly 16 bytes longer: the tag follows); the ciphertext's length, or < 0. */
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array, npub: Uint8Array, k: Uint8Array): number;
  /** Opens `c` (its tag last) into `m` (exactly 16 bytes shorter; may start where `c` does): m's length, or < 0 when the tag fails. */
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, c: Uint8Array, ad: Uint8Array, npub: Uint8Array, k: Uint8Array): number;
}
const sodium = createRequire(import.meta.url)('sodium-native/binding.js') as SodiumBinding;
const encrypt = sodium.crypto_aead_chacha20poly1305_ietf_encrypt;
// The attached form, not the detached one: each typed array the addon takes costs it about 250
// instructions of N-API (napi_get_typedarray_info), and the detached form takes one more (the tag).
const decrypt = sodium.crypto_aead_chacha20poly1305_ietf_decrypt;

/** What libsodium reads of the key and nonce without a length: checked before every packet AEAD call. */
function checkKeyAndNonce(key: Buffer, nonce: Buffer): void {
  if (key.length !== KEY_BYTES || nonce.length !== NONCE_BYTES) throw new RangeError(`a packet AEAD takes a ${KEY_BYTES}-byte key and a ${NONCE_BYTES}-byte nonce, not ${key.length} and ${nonce.length}`);
}

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
  checkKeyAndNonce(key, nonce);
  if (!(offset >= 0 && offset + sealed <= out.length)) throw new RangeError(`a ${sealed}-byte sealed body does not fit a ${out.length}-byte buffer at ${offset}`);
  if (encrypt(out.subarray(offset, offset + sealed), plaintext, ad, nonce, key) !== sealed) throw new Error('libsodium could not seal a packet');
  return sealed;
}

/**
 * Packet AEAD: decrypts `data[start, end)`, whose last 16 bytes are the tag, in place; returns the
 * plaintext (a view of `data`), or undefined when authentication fails (leaving those bytes unusable).
 */
export function openPacketBody(key: Buffer, nonce: Buffer, ad: Buffer, data: Buffer, start: number, end: number): Buffer | undefined {
  checkKeyAndNonce(key, nonce);
  if (!(start >= 0 && start + TAG_BYTES <= end && end <= data.length)) throw new RangeError(`bytes ${start}..${end} of a ${data.length}-byte packet hold no ${TAG_BYTES}-byte tag`);
  const body = data.subarray(start, end - TAG_BYTES);
  return decrypt(body, data.subarray(start, end), ad, nonce, key) === body.length ? body : undefined;
}
