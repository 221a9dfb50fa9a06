import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { newNonce, openPacketBody, packetKey, sealPacketBody } from './aead.js';

// The packet AEAD calls sodium-native's addon directly, whose C takes every length on trust: these
// check that the lengths libsodium relies on are refused here when wrong, and that a seal is
// RFC 8439's (against node:crypto's OpenSSL; packet-codec.test.ts checks whole packets the same way).

const KEY = packetKey(Buffer.alloc(32, 0x42));
const AD = Buffer.from('prefix+protocol');
const NONCE = newNonce().fill(7, 6);

describe('packet AEAD (sodium-native, called directly)', () => {
  it('seals as RFC 8439 ChaCha20-Poly1305 does, at an offset, and opens in place', () => {
    const plaintext = Buffer.from('a snapshot of the arena, or an input');
    const out = Buffer.alloc(5 + plaintext.length + 16, 0xee);
    expect(sealPacketBody(KEY, NONCE, AD, plaintext, out, 5)).toBe(plaintext.length + 16);
    const cipher = createCipheriv('chacha20-poly1305', KEY, NONCE, { authTagLength: 16 });
    cipher.setAAD(AD, { plaintextLength: plaintext.length });
    expect(out.subarray(5)).toEqual(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
    expect(out.subarray(0, 5)).toEqual(Buffer.alloc(5, 0xee));
    expect(openPacketBody(KEY, NONCE, AD, out, 5, out.length)).toEqual(plaintext);
  });

  it('opens nothing whose tag, additional data or nonce differ', () => {
    const plaintext = Buffer.from('input');
    const sealedBody = () => {
      const out = Buffer.alloc(plaintext.length + 16);
      sealPacketBody(KEY, NONCE, AD, plaintext, out, 0);
      return out;
    };
    const tampered = sealedBody();
    tampered[tampered.length - 1]! ^= 1;
    expect(openPacketBody(KEY, NONCE, AD, tampered, 0, tampered.length)).toBeUndefined();
    expect(openPacketBody(KEY, NONCE, Buffer.from('other'), sealedBody(), 0, plaintext.length + 16)).toBeUndefined();
    expect(openPacketBody(KEY, newNonce(), AD, sealedBody(), 0, plaintext.length + 16)).toBeUndefined();
  });

  it('refuses the lengths libsodium would read or write past', () => {
    const plaintext = Buffer.alloc(20);
    expect(() => sealPacketBody(KEY, NONCE, AD, plaintext, Buffer.alloc(35), 0)).toThrow(/36-byte sealed body does not fit a 35-byte buffer at 0/);
    expect(() => sealPacketBody(KEY, NONCE, AD, plaintext, Buffer.alloc(40), 5)).toThrow(RangeError);
    expect(() => sealPacketBody(KEY.subarray(0, 31), NONCE, AD, plaintext, Buffer.alloc(36), 0)).toThrow(/32-byte key and a 12-byte nonce, not 31 and 12/);
    expect(() => sealPacketBody(KEY, NONCE.subarray(1), AD, plaintext, Buffer.alloc(36), 0)).toThrow(/not 32 and 11/);
    const data = Buffer.alloc(30);
    expect(() => openPacketBody(KEY, NONCE, AD, data, 20, 30)).toThrow(/bytes 20\.\.30 of a 30-byte packet hold no 16-byte tag/);
    expect(() => openPacketBody(KEY, NONCE, AD, data, 0, 31)).toThrow(RangeError);
    expect(() => openPacketBody(KEY, NONCE.subarray(0, 8), AD, data, 0, 30)).toThrow(RangeError);
  });
});
