import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEY_BYTES, NONCE_BYTES, SEQUENCE_BYTES, TAG_BYTES } from './protocol-constants.js';

// The protocol's two AEADs (PROTOCOL.md, "Cryptography"), both with 32-byte keys, 12-byte nonces
// and 16-byte tags:
// - tokens (a connect token's private part, a challenge token): AES-256-GCM from node:crypto, as
//   the connect-token format fixes; one of each per handshake.
// - packets (challenge and denied packets, and every packet of a connection): ChaCha20-Poly1305
//   (RFC 8439) from the OpenSSL node is linked with, through our addon native/packet-aead. Its
//   calls take the packet buffer and integers: the nonce and additional data come from the packet's
//   header and its key's protocol id, and each key keeps an OpenSSL context keyed once. node:crypto
//   makes a cipher object per packet (about 7 µs to seal a 90-byte body here); with sodium-native,
//   used before, crossing into the library (its wrappers, N-API taking five or six typed arrays a
//   call) cost about as many instructions as the cipher (BENCHMARKS.md, "instructions per player-tick").

const ADDON = path.join('native', 'packet-aead', 'build', 'Release', 'packet_aead.node');

interface PacketAeadAddon {
  createKey(raw: Buffer, protocolId: bigint, nonceHead: Buffer): PacketKey;
  seal(key: PacketKey, body: Buffer, bodyLength: number, packet: Buffer): void;
  open(key: PacketKey, packet: Buffer): boolean;
}

/** The addon, from the package root above this file, both as source and as build output (dist/). */
function loadPacketAead(): PacketAeadAddon {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, ADDON))) return createRequire(import.meta.url)(path.join(dir, ADDON)) as PacketAeadAddon;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`the packet AEAD addon (${ADDON}) is not built above ${here}: run \`npm run build:native\` (needs python3, make and a C compiler)`);
}

const packetAead = loadPacketAead();

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

/**
 * A packet key: the 32 bytes (copied, so a reused source buffer cannot change a connection's key)
 * and the protocol id of the packets it seals, in an OpenSSL context freed when the key is collected.
 */
declare const packetKeyBrand: unique symbol;
export type PacketKey = { readonly [packetKeyBrand]: true };

/** The 6 bytes before a packet's sequence in its nonce: zero in the protocol; RFC 8439's test vectors set them. */
const PACKET_NONCE_HEAD = Buffer.alloc(NONCE_BYTES - SEQUENCE_BYTES);

export function packetKey(raw: Buffer, protocolId: bigint, nonceHead = PACKET_NONCE_HEAD): PacketKey {
  if (raw.length !== KEY_BYTES) throw new RangeError(`an AEAD key is ${KEY_BYTES} bytes, not ${raw.length}`);
  return packetAead.createKey(raw, protocolId, nonceHead);
}

/**
 * Packet AEAD: seals `body[0, bodyLength)` into `packet`, which is ENCRYPTED_OVERHEAD bytes longer
 * and holds the packet's prefix and sequence already (they are its nonce and additional data);
 * the sealed body follows them, its tag last.
 */
export function sealPacketBody(key: PacketKey, body: Buffer, bodyLength: number, packet: Buffer): void {
  packetAead.seal(key, body, bodyLength, packet);
}

/**
 * Packet AEAD: opens the sealed body of `packet` (prefix, sequence, then the body and its tag) in
 * place; false when authentication fails (leaving those bytes unusable).
 */
export function openPacketBody(key: PacketKey, packet: Buffer): boolean {
  return packetAead.open(key, packet);
}
