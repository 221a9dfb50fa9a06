// The part of sodium-native (libsodium's bindings) the netcode uses: the IETF ChaCha20-Poly1305
// AEAD, its tag attached or detached. (DefinitelyTyped's @types/sodium-native, at 2.3.9, declares only the
// XChaCha variant.) Both functions throw on bad arguments; decryption also when the tag fails.
declare module 'sodium-native' {
  export const crypto_aead_chacha20poly1305_ietf_KEYBYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_ABYTES: number;
  /** Seals `m` into `c`, the tag right after the ciphertext (`c` is 16 bytes longer than `m`). */
  export function crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  /** Seals `m` into `c` (same length; may be `m` itself) and writes the tag to `mac`. */
  export function crypto_aead_chacha20poly1305_ietf_encrypt_detached(c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  /** Opens `c` into `m` (same length; may be `c` itself) if `mac` verifies; throws otherwise. */
  export function crypto_aead_chacha20poly1305_ietf_decrypt_detached(m: Uint8Array, nsec: null, c: Uint8Array, mac: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): void;
}
