import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { openPacketBody, packetKey, sealPacketBody, type PacketKey } from './aead.js';
import { ENCRYPTED_OVERHEAD } from './protocol-constants.js';

// The packet AEAD (native/packet-aead) against RFC 8439 and against node:crypto's ChaCha20-Poly1305,
// another binding of the same algorithm: what one seals the other opens, so the wire format is
// the protocol's whichever side runs which. The addon builds the nonce and additional data from
// the packet's header, so a packet here is prefix [0, 4), sequence [4, 10), body, tag.

const PROTOCOL_ID = 0x1122_3344_5566_7788n;
const AD_TAIL = Buffer.from('1122334455667788', 'hex');

function packetHeader(sequence: number): Buffer {
  const header = Buffer.alloc(10);
  header.write('HG', 0, 'latin1');
  header[2] = 2;
  header[3] = 4;
  header.writeUIntBE(sequence, 4, 6);
  return header;
}

function nodeSeal(key: Buffer, header: Buffer, body: Buffer): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, Buffer.concat([Buffer.alloc(6), header.subarray(4, 10)]), { authTagLength: 16 });
  cipher.setAAD(Buffer.concat([header.subarray(0, 4), AD_TAIL]), { plaintextLength: body.length });
  const ciphertext = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]);
}

function nodeOpen(key: Buffer, packet: Buffer): Buffer {
  const decipher = createDecipheriv('chacha20-poly1305', key, Buffer.concat([Buffer.alloc(6), packet.subarray(4, 10)]), { authTagLength: 16 });
  decipher.setAAD(Buffer.concat([packet.subarray(0, 4), AD_TAIL]), { plaintextLength: packet.length - ENCRYPTED_OVERHEAD });
  decipher.setAuthTag(packet.subarray(packet.length - 16));
  return Buffer.concat([decipher.update(packet.subarray(10, packet.length - 16)), decipher.final()]);
}

function seal(key: PacketKey, header: Buffer, body: Buffer): Buffer {
  const packet = Buffer.alloc(ENCRYPTED_OVERHEAD + body.length);
  header.copy(packet);
  sealPacketBody(key, body, body.length, packet);
  return packet;
}

describe('packet AEAD', () => {
  it('matches the AEAD test vector of RFC 8439, section 2.8.2', () => {
    // Nonce 07 00 00 00 40 41 | 42 43 44 45 46 47: the first six bytes are the key's nonce head,
    // the last six the packet's sequence. Additional data 50 51 52 53 | c0 .. c7: the packet's
    // prefix, then the protocol id.
    const rawKey = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
    const key = packetKey(rawKey, 0xc0c1_c2c3_c4c5_c6c7n, Buffer.from('070000004041', 'hex'));
    const header = Buffer.from('50515253424344454647', 'hex');
    const plaintext = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const ciphertext = Buffer.from(
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
        '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
        '3ff4def08e4b7a9de576d26586cec64b6116',
      'hex',
    );
    const tag = Buffer.from('1ae10b594f09e26a7e902ecbd0600691', 'hex');

    const packet = seal(key, header, plaintext);
    expect(packet.subarray(10, 10 + plaintext.length)).toEqual(ciphertext);
    expect(packet.subarray(10 + plaintext.length)).toEqual(tag);
    expect(openPacketBody(key, packet)).toBe(true);
    expect(packet.subarray(10, 10 + plaintext.length).toString()).toBe(plaintext.toString());
  });

  it.each([0, 1, 66, 1200])('seals what node:crypto opens and opens what it seals, %i-byte body', (length) => {
    const rawKey = randomBytes(32);
    const key = packetKey(rawKey, PROTOCOL_ID);
    for (const sequence of [0, 1, 2 ** 47 + 12_345, 2 ** 48 - 1]) {
      const body = randomBytes(length);
      const ours = seal(key, packetHeader(sequence), body);
      expect(nodeOpen(rawKey, ours)).toEqual(body);

      const theirs = nodeSeal(rawKey, packetHeader(sequence), body);
      expect(ours).toEqual(theirs);
      expect(openPacketBody(key, theirs)).toBe(true);
      expect(theirs.subarray(10, 10 + length)).toEqual(body);
    }
  });

  it('seals the first bodyLength bytes of a larger body buffer', () => {
    const rawKey = randomBytes(32);
    const body = randomBytes(100);
    const packet = Buffer.alloc(ENCRYPTED_OVERHEAD + 40);
    packetHeader(9).copy(packet);
    sealPacketBody(packetKey(rawKey, PROTOCOL_ID), body, 40, packet);
    expect(nodeOpen(rawKey, packet)).toEqual(body.subarray(0, 40));
  });

  it('rejects a packet whose tag, ciphertext, header or key differs', () => {
    const rawKey = randomBytes(32);
    const key = packetKey(rawKey, PROTOCOL_ID);
    const packet = seal(key, packetHeader(77), randomBytes(66));
    const flipped = (index: number) => {
      const copy = Buffer.from(packet);
      copy[index]! ^= 0x01;
      return copy;
    };
    expect(openPacketBody(key, flipped(packet.length - 1))).toBe(false); // tag
    expect(openPacketBody(key, flipped(20))).toBe(false); // ciphertext
    expect(openPacketBody(key, flipped(3))).toBe(false); // prefix: additional data
    expect(openPacketBody(key, flipped(9))).toBe(false); // sequence: nonce
    expect(openPacketBody(packetKey(rawKey, PROTOCOL_ID + 1n), Buffer.from(packet))).toBe(false); // protocol id: additional data
    expect(openPacketBody(packetKey(randomBytes(32), PROTOCOL_ID), Buffer.from(packet))).toBe(false);
    expect(openPacketBody(key, packet)).toBe(true); // and the key still opens a good one after failures
  });

  it('keeps its own copy of the key', () => {
    const rawKey = randomBytes(32);
    const original = Buffer.from(rawKey);
    const key = packetKey(rawKey, PROTOCOL_ID);
    rawKey.fill(0);
    expect(nodeOpen(original, seal(key, packetHeader(1), Buffer.from('still the first key')))).toEqual(Buffer.from('still the first key'));
  });

  it('refuses bad keys and protocol ids with errors that say what is wrong', () => {
    expect(() => packetKey(Buffer.alloc(31), PROTOCOL_ID)).toThrow('an AEAD key is 32 bytes, not 31');
    expect(() => packetKey(Buffer.alloc(32), 2n ** 64n)).toThrow('the protocol id is not a u64');
    expect(() => packetKey(Buffer.alloc(32), -1n)).toThrow('the protocol id is not a u64');
    expect(() => packetKey(Buffer.alloc(32), 5 as unknown as bigint)).toThrow('the protocol id is not a bigint');
    expect(() => packetKey(Buffer.alloc(32), PROTOCOL_ID, Buffer.alloc(5))).toThrow('a nonce head is 6 bytes');
  });

  it('refuses out-of-range lengths and arguments of the wrong kind, touching nothing', () => {
    const key = packetKey(randomBytes(32), PROTOCOL_ID);
    const body = Buffer.alloc(10, 0xaa);
    const packet = Buffer.alloc(ENCRYPTED_OVERHEAD + 10, 0xbb);
    expect(() => sealPacketBody(key, body, 11, Buffer.alloc(ENCRYPTED_OVERHEAD + 11))).toThrow('the body length is past the body buffer');
    expect(() => sealPacketBody(key, body, -1, packet)).toThrow('the body length is past the body buffer');
    expect(() => sealPacketBody(key, body, 10, Buffer.alloc(ENCRYPTED_OVERHEAD + 9))).toThrow('the packet buffer is not 26 bytes longer than the body');
    expect(() => sealPacketBody(key, body, 9, packet)).toThrow('the packet buffer is not 26 bytes longer than the body');
    expect(() => sealPacketBody(key, body, '10' as unknown as number, packet)).toThrow('the body length is not a number');
    expect(() => sealPacketBody(key, 'body' as unknown as Buffer, 4, packet)).toThrow('the body is not a Buffer');
    expect(() => openPacketBody(key, Buffer.alloc(ENCRYPTED_OVERHEAD - 1))).toThrow('a sealed packet is at least 26 bytes');
    expect(() => openPacketBody(key, Array.from(packet) as unknown as Buffer)).toThrow('the packet is not a Buffer');
    expect(() => openPacketBody(Buffer.alloc(32) as unknown as PacketKey, packet)).toThrow('the key is not a packet key');
    expect(() => openPacketBody({} as PacketKey, packet)).toThrow('the key is not a packet key');
    expect(body.every((b) => b === 0xaa) && packet.every((b) => b === 0xbb)).toBe(true);
  });
});
