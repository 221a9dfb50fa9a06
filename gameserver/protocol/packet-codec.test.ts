import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { decodePacket, encodePacket, peekPacketType, type Packet } from './packet-codec.js';
import { HANGAR_PROTOCOL_ID, MAX_PACKET_BYTES, REQUEST_PACKET_BYTES, REQUEST_UNPADDED_BYTES } from './protocol-constants.js';
import { MessageTooLargeError, ProtocolError } from './protocol-errors.js';

// Fixtures are written byte by byte, as PROTOCOL.md lays them out. Encrypted packets are given as
// their clear header and their body before sealing; the test seals the body with node:crypto
// directly (OpenSSL's ChaCha20-Poly1305, nonce = 6 zero bytes + the sequence, AD = prefix + protocol
// id), so the crypto construction is checked against the spec, and libsodium, which the codec seals
// with, against another implementation of RFC 8439.

const KEY = Buffer.alloc(32, 0x11);
const KEYS = { protocolId: HANGAR_PROTOCOL_ID, key: KEY };

function bytes(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
}

function sealed(header: Buffer, body: Buffer): Buffer {
  const nonce = Buffer.concat([Buffer.alloc(6), header.subarray(4, 10)]);
  const ad = Buffer.concat([header.subarray(0, 4), bytes('48 41 4e 47 41 52 00 02')]);
  const cipher = createCipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 });
  cipher.setAAD(ad, { plaintextLength: body.length });
  const ciphertext = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]);
}

const TOKEN_NONCE = bytes('00 01 02 03 04 05 06 07 08 09 0a 0b');
const PRIVATE_TOKEN = Buffer.alloc(1024, 0xab);
const CHALLENGE_TOKEN = Buffer.alloc(118, 0xcd); // the shortest a challenge token can be

const REQUEST = Buffer.concat([
  bytes('48 47'), // magic "HG"
  bytes('02'), // version
  bytes('00'), // type: request
  bytes('48 41 4e 47 41 52 00 02'), // protocol id
  bytes('00 00 01 9b 76 db 1d 30'), // token expires at: 1767225630000 ms (2026-01-01T00:00:30Z)
  TOKEN_NONCE, // token nonce (12)
  PRIVATE_TOKEN, // sealed private token (1,024: opaque to the client)
  Buffer.alloc(44), // padding to 1,100
]);

const RESPONSE = Buffer.concat([
  bytes('48 47 02'), // magic, version
  bytes('03'), // type: response
  CHALLENGE_TOKEN, // the challenge token, echoed as received
]);

const DENIED = sealed(
  bytes(
    '48 47 02', // magic, version
    '01', // type: denied
    '80 00 00 00 00 07', // sequence: handshake bit + 7
  ),
  bytes('01'), // reason: server full
);

const CHALLENGE = sealed(
  bytes(
    '48 47 02', // magic, version
    '02', // type: challenge
    '80 00 12 34 56 78', // sequence (handshake space)
  ),
  CHALLENGE_TOKEN, // body: the challenge token
);

const KEEP_ALIVE = sealed(
  bytes(
    '48 47 02', // magic, version
    '04', // type: keep-alive
    '00 00 00 00 01 2c', // sequence 300
  ),
  bytes(
    '01 2b', // ack: 299
    '80 00 00 03', // ack bits: 298, 297 and 267 received
    '03 e8', // ack delay: 1000 × 16 µs = 16 ms since 299 arrived
  ),
);

const PAYLOAD = sealed(
  bytes(
    '48 47 02', // magic, version
    '05', // type: payload
    '00 00 00 01 00 00', // sequence 65536
  ),
  bytes(
    'ff ff', // ack: 65535
    '00 00 00 00', // ack bits: none
    'ff ff', // ack delay: the most, 65535 × 16 µs (1.05 s or longer)
    '01', // message: reliable
    '00 2a', //   id 42
    '00 03', //   length 3
    '61 62 63', //   "abc"
    '00', // message: unreliable
    '00 02', //   length 2
    '78 79', //   "xy"
    '00', // message: unreliable
    '00 00', //   length 0
  ),
);

const DISCONNECT = sealed(
  bytes(
    '48 47 02', // magic, version
    '06', // type: disconnect
    '00 00 00 00 00 09', // sequence 9
  ),
  Buffer.alloc(0), // no body, only the tag
);

const FIXTURES: Array<[string, Buffer, Packet]> = [
  ['request', REQUEST, { type: 'request', protocolId: HANGAR_PROTOCOL_ID, expiresAt: 1767225630000, tokenNonce: TOKEN_NONCE, privateToken: PRIVATE_TOKEN }],
  ['denied', DENIED, { type: 'denied', sequence: 2 ** 47 + 7, reason: 'server-full' }],
  ['challenge', CHALLENGE, { type: 'challenge', sequence: 2 ** 47 + 0x12345678, challengeToken: CHALLENGE_TOKEN }],
  ['response', RESPONSE, { type: 'response', challengeToken: CHALLENGE_TOKEN }],
  ['keep-alive', KEEP_ALIVE, { type: 'keep-alive', sequence: 300, ack: 299, ackBits: 0x8000_0003, ackDelayUs: 16_000 }],
  [
    'payload',
    PAYLOAD,
    {
      type: 'payload',
      sequence: 65536,
      ack: 65535,
      ackBits: 0,
      ackDelayUs: 65535 * 16,
      messages: [
        { channel: 'reliable', id: 42, payload: Buffer.from('abc') },
        { channel: 'unreliable', payload: Buffer.from('xy') },
        { channel: 'unreliable', payload: Buffer.alloc(0) },
      ],
    },
  ],
  ['disconnect', DISCONNECT, { type: 'disconnect', sequence: 9 }],
];

describe('packet codec', () => {
  it.each(FIXTURES)('decodes a %s packet and encodes it back to the same bytes', (_name, wire, packet) => {
    expect(decodePacket(wire, KEYS)).toEqual(packet);
    expect(encodePacket(packet, KEYS).equals(wire)).toBe(true);
  });

  it('has the sizes PROTOCOL.md gives', () => {
    expect([REQUEST.length, DENIED.length, KEEP_ALIVE.length, DISCONNECT.length]).toEqual([1100, 27, 34, 26]);
    expect(REQUEST_UNPADDED_BYTES).toBe(1056); // 44 bytes of padding
    expect(PAYLOAD.length).toBe(26 /* overhead */ + 8 /* acks */ + (5 + 3) + (3 + 2) + (3 + 0));
  });

  it('returns undefined for traffic that is not ours', () => {
    for (const foreign of [Buffer.alloc(0), bytes('48'), bytes('48 48 01 04'), Buffer.from('QLKN\x00ping'), bytes('00 01 00 00 00 01 00 00 00 00 00 00')]) {
      expect(decodePacket(foreign, KEYS)).toBeUndefined();
    }
  });

  const flip = (data: Buffer, index: number): Buffer => {
    const copy = Buffer.from(data);
    copy[index]! ^= 0x01;
    return copy;
  };
  const MALFORMED: Array<[string, Buffer, string]> = [
    ['magic alone', bytes('48 47'), 'truncated'],
    ['prefix without a sequence', bytes('48 47 02 04'), 'truncated'],
    ['version 1 (AES-256-GCM packets)', Buffer.concat([bytes('48 47 01'), KEEP_ALIVE.subarray(3)]), 'bad-version'],
    ['a later version', Buffer.concat([bytes('48 47 03'), KEEP_ALIVE.subarray(3)]), 'bad-version'],
    ['version 0', Buffer.concat([bytes('48 47 00'), REQUEST.subarray(3)]), 'bad-version'],
    ['unknown type 7', Buffer.concat([bytes('48 47 02 07'), KEEP_ALIVE.subarray(4)]), 'bad-type'],
    ['unknown type 255', Buffer.concat([bytes('48 47 02 ff'), KEEP_ALIVE.subarray(4)]), 'bad-type'],
    ['request one byte short', REQUEST.subarray(0, REQUEST_PACKET_BYTES - 1), 'truncated'],
    ['request one byte long', Buffer.concat([REQUEST, bytes('00')]), 'bad-length'],
    ['request for another protocol', Buffer.concat([REQUEST.subarray(0, 4), bytes('00 00 00 00 00 00 00 01'), REQUEST.subarray(12)]), 'bad-protocol-id'],
    ['response with a short challenge token', RESPONSE.subarray(0, RESPONSE.length - 1), 'truncated'],
    ['response with a long challenge token', Buffer.concat([RESPONSE, Buffer.alloc(400)]), 'bad-length'],
    ['keep-alive without its tag', KEEP_ALIVE.subarray(0, KEEP_ALIVE.length - 16), 'truncated'],
    ['keep-alive with an extra byte', Buffer.concat([KEEP_ALIVE, bytes('00')]), 'bad-length'],
    ['denied with an extra byte', Buffer.concat([DENIED, bytes('00')]), 'bad-length'],
    ['disconnect with a byte missing', DISCONNECT.subarray(0, 25), 'truncated'],
    ['payload with no message', Buffer.concat([bytes('48 47 02 05'), KEEP_ALIVE.subarray(4)]), 'truncated'],
    ['oversized datagram', Buffer.concat([bytes('48 47 02 05'), Buffer.alloc(MAX_PACKET_BYTES - 3)]), 'oversized'],
    ['flipped tag bit', flip(KEEP_ALIVE, KEEP_ALIVE.length - 1), 'bad-tag'],
    ['flipped ciphertext bit', flip(PAYLOAD, 12), 'bad-tag'],
    ['flipped sequence bit (the nonce)', flip(KEEP_ALIVE, 9), 'bad-tag'],
    ['packet type changed (additional data)', Buffer.concat([bytes('48 47 02 06'), KEEP_ALIVE.subarray(4, 10), KEEP_ALIVE.subarray(KEEP_ALIVE.length - 16)]), 'bad-tag'],
    [
      'payload whose message length overruns the body',
      sealed(bytes('48 47 02 05 00 00 00 00 00 01'), bytes('00 00 00 00 00 00 00 00', '00 00 05 61 62')),
      'bad-body',
    ],
    ['payload with an unknown channel', sealed(bytes('48 47 02 05 00 00 00 00 00 01'), bytes('00 00 00 00 00 00 00 00', '07 00 00')), 'bad-body'],
    ['payload with a cut message header', sealed(bytes('48 47 02 05 00 00 00 00 00 01'), bytes('00 00 00 00 00 00 00 00', '00 00 00 01 00')), 'bad-body'],
    ['denied with an unknown reason', sealed(bytes('48 47 02 01 80 00 00 00 00 01'), bytes('09')), 'bad-body'],
  ];

  it.each(MALFORMED)('refuses with its reason: %s', (_name, data, reason) => {
    let thrown: unknown;
    try {
      decodePacket(data, KEYS);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect((thrown as ProtocolError).reason).toBe(reason);
    expect((thrown as ProtocolError).code).toBe('PROTOCOL_MALFORMED_PACKET');
  });

  it('refuses packets sealed for the other direction or another protocol id', () => {
    expect(() => decodePacket(KEEP_ALIVE, { protocolId: HANGAR_PROTOCOL_ID, key: Buffer.alloc(32, 0x22) })).toThrow(expect.objectContaining({ reason: 'bad-tag' }));
    expect(() => decodePacket(KEEP_ALIVE, { protocolId: HANGAR_PROTOCOL_ID + 1n, key: KEY })).toThrow(expect.objectContaining({ reason: 'bad-tag' }));
  });

  it('peeks the type of every fixture without a key', () => {
    expect(FIXTURES.map(([, wire]) => peekPacketType(wire))).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('will not encode a payload packet over 1,198 bytes of messages, nor one without messages', () => {
    const big: Packet = { type: 'payload', sequence: 1, ack: 0, ackBits: 0, ackDelayUs: 0, messages: [{ channel: 'unreliable', payload: Buffer.alloc(1196) }] };
    expect(() => encodePacket(big, KEYS)).toThrow(MessageTooLargeError);
    const fits: Packet = { type: 'payload', sequence: 1, ack: 0, ackBits: 0, ackDelayUs: 0, messages: [{ channel: 'unreliable', payload: Buffer.alloc(1195) }] };
    expect(encodePacket(fits, KEYS).length).toBe(MAX_PACKET_BYTES);
    expect(MAX_PACKET_BYTES).toBe(1232); // + 48 bytes of IPv6 and UDP headers: IPv6's minimum MTU
    expect(() => encodePacket({ type: 'payload', sequence: 1, ack: 0, ackBits: 0, ackDelayUs: 0, messages: [] }, KEYS)).toThrow(RangeError);
  });
});
