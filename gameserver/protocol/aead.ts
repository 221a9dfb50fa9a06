import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES } from './protocol-constants.js';

// The one AEAD of the protocol. AES-256-GCM measured faster than ChaCha20-Poly1305 through
// node:crypto on these machines (AES-NI; figures in PROTOCOL.md), at the same key, nonce and tag sizes.

export const AEAD_ALGORITHM = 'aes-256-gcm';
const AEAD_OPTIONS = { authTagLength: TAG_BYTES };

/** A 32-byte key as a KeyObject, made once per key rather than once per packet. */
export function aeadKey(raw: Buffer): KeyObject {
  if (raw.length !== KEY_BYTES) throw new RangeError(`an AEAD key is ${KEY_BYTES} bytes, not ${raw.length}`);
  return createSecretKey(raw);
}

/** A nonce buffer whose first 6 bytes stay zero; `writeSequenceNonce` fills the last 6. */
export function newNonce(): Buffer {
  return Buffer.alloc(NONCE_BYTES);
}

export function writeSequenceNonce(nonce: Buffer, sequence: number): Buffer {
  nonce.writeUIntBE(sequence, NONCE_BYTES - 6, 6);
  return nonce;
}

/** Encrypts `plaintext` into `out` at `offset`, the tag right after it; returns the bytes written. */
export function seal(key: KeyObject, nonce: Buffer, ad: Buffer, plaintext: Buffer, out: Buffer, offset: number): number {
  const cipher = createCipheriv(AEAD_ALGORITHM, key, nonce, AEAD_OPTIONS);
  cipher.setAAD(ad);
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  ciphertext.copy(out, offset);
  cipher.getAuthTag().copy(out, offset + ciphertext.length);
  return ciphertext.length + TAG_BYTES;
}

/** Decrypts `data[start, end)`, whose last 16 bytes are the tag; undefined when authentication fails. */
export function open(key: KeyObject, nonce: Buffer, ad: Buffer, data: Buffer, start: number, end: number): Buffer | undefined {
  const decipher = createDecipheriv(AEAD_ALGORITHM, key, nonce, AEAD_OPTIONS);
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
