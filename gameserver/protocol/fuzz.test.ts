import { describe, expect, it } from '@jest/globals';
import { seededRandom } from '../../core/seeded-random.js';
import { decodePacket, encodePacket } from './packet-codec.js';
import { HANGAR_PROTOCOL_ID, MAX_PACKET_BYTES } from './protocol-constants.js';
import { ProtocolError } from './protocol-errors.js';
import { TestNet } from '../../test/helpers/protocol-test-harness.js';

// Mutated real traffic, thrown at the codec and at both endpoints: nothing may throw but a
// ProtocolError from decodePacket, nothing may connect, and a connected client must stay connected.

const random = seededRandom(2026);
const int = (n: number) => Math.floor(random() * n);

function mutate(data: Buffer): Buffer {
  switch (int(6)) {
    case 0: {
      const copy = Buffer.from(data);
      for (let i = 0, n = 1 + int(4); i < n; i++) copy[int(copy.length)]! ^= 1 << int(8);
      return copy;
    }
    case 1:
      return data.subarray(0, int(data.length));
    case 2:
      return Buffer.concat([data, Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)))]);
    case 3: {
      const copy = Buffer.from(data);
      copy[3] = int(9); // another packet type, same bytes
      return copy;
    }
    case 4: {
      const copy = Buffer.from(data);
      copy.fill(int(256), 4 + int(Math.max(1, copy.length - 4)));
      return copy;
    }
    default:
      return Buffer.concat([Buffer.from('HG'), Buffer.from(Array.from({ length: int(MAX_PACKET_BYTES + 8) }, () => int(256)))]);
  }
}

describe('fuzzing', () => {
  it('decodePacket returns a packet, undefined, or throws a ProtocolError: nothing else', () => {
    const key = Buffer.alloc(32, 3);
    const keys = { protocolId: HANGAR_PROTOCOL_ID, key };
    const seeds = [
      encodePacket({ type: 'keep-alive', sequence: 5, ack: 4, ackBits: 7, ackDelayUs: 320 }, keys),
      encodePacket({ type: 'payload', sequence: 6, ack: 4, ackBits: 7, ackDelayUs: 320, messages: [{ channel: 'reliable', id: 1, payload: Buffer.from('abc') }, { channel: 'unreliable', payload: Buffer.from('de') }] }, keys),
      encodePacket({ type: 'disconnect', sequence: 7 }, keys),
      encodePacket({ type: 'denied', sequence: 2 ** 47, reason: 'server-full' }, keys),
      encodePacket({ type: 'response', challengeToken: Buffer.alloc(200, 9) }, keys),
      encodePacket({ type: 'request', protocolId: HANGAR_PROTOCOL_ID, expiresAt: 1, tokenNonce: Buffer.alloc(12), privateToken: Buffer.alloc(1024) }, keys),
    ];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const data = mutate(seeds[int(seeds.length)]!);
      let outcome: string;
      try {
        outcome = decodePacket(data, keys)?.type ?? 'foreign';
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        outcome = err.reason;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()]).toEqual(expect.arrayContaining(['bad-tag', 'truncated', 'bad-length', 'bad-type', 'oversized', 'foreign']));
  });

  it('endpoints survive mutated traffic: no exception, no new connection, the real one unharmed', () => {
    const net = new TestNet();
    const victim = net.client();
    victim.endpoint.connect();
    const captured: Buffer[] = [];
    for (let tick = 0; tick < 60; tick++) {
      victim.endpoint.send('reliable', Buffer.from(`r${tick}`));
      net.server.send(0, 'unreliable', Buffer.from(`u${tick}`));
      net.run(1000 / 30);
    }
    captured.push(...net.serverReceived.map((d) => d.data), ...net.serverSent.map((d) => d.data));
    expect(captured.map((d) => d[3])).toEqual(expect.arrayContaining([0, 2, 3, 4, 5]));
    const sentBefore = net.serverSent.length;

    for (let i = 0; i < 5_000; i++) {
      const data = mutate(captured[int(captured.length)]!);
      // From the victim's own address (a spoofer) and from elsewhere, and at the client.
      net.server.receive(data, victim.address, victim.port);
      net.server.receive(data, '203.0.113.9', 4000 + int(3));
      victim.endpoint.receive(data);
    }
    expect(net.connects).toHaveLength(1);
    // A spoofed copy of the victim's own request or response may get the idempotent keep-alive, nothing else.
    const replies = net.serverSent.slice(sentBefore);
    expect(new Set(replies.map((r) => r.data[3]))).toEqual(new Set(replies.length ? [4] : []));
    expect(replies.every((r) => r.address === victim.address && r.port === victim.port)).toBe(true);

    victim.endpoint.send('reliable', Buffer.from('still here'));
    net.run(300);
    expect(victim.endpoint.state).toBe('connected');
    expect(net.serverMessages.at(-1)?.payload.toString()).toBe('still here');
  });
});
