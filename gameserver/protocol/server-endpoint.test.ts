import { describe, expect, it } from '@jest/globals';
import { createGameServerMetrics, Registry } from '../../core/metrics.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { readPublicToken, type ConnectTokenOptions } from './connect-token.js';
import { decodePacket, encodePacket, PACKET_TYPE_NAMES, type Packet } from './packet-codec.js';
import {
  DENIED_PACKET_BYTES,
  HANGAR_PROTOCOL_ID,
  KEEP_ALIVE_PACKET_BYTES,
  MAX_CHALLENGE_PACKET_BYTES,
  MAX_PLAYER_ID_BYTES,
  MAX_USER_DATA_BYTES,
  MIN_RESPONSE_PACKET_BYTES,
  REQUEST_PACKET_BYTES,
} from './protocol-constants.js';
import type { RejectReason } from './protocol-errors.js';
import { SERVER_ID, TestNet, testToken, TOKEN_KEY } from '../../test/helpers/protocol-test-harness.js';
import { ServerEndpoint, type ClientConnected } from './server-endpoint.js';

// The handshake as the server sees it, driven packet by packet: every check of PROTOCOL.md's
// "Server: processing a request" and "... a response", and the amplification rule over all of them.

const ALICE = { address: '192.0.2.10', port: 40_000 };
const MALLORY = { address: '198.51.100.66', port: 40_000 };

interface Exchange {
  /** What came in, unauthenticated (a request or a response). */
  in: { type: string; bytes: number };
  out: Array<{ type: string; bytes: number }>;
}

class Handshake {
  readonly clock = new FakeClock();
  readonly sent: Array<{ data: Buffer; address: string; port: number }> = [];
  readonly rejects: RejectReason[] = [];
  readonly connects: ClientConnected[] = [];
  readonly exchanges: Exchange[] = [];
  readonly server: ServerEndpoint;

  constructor(o: { maxClients?: number; serverId?: string; protocolId?: bigint } = {}) {
    this.server = new ServerEndpoint({
      protocolId: o.protocolId ?? HANGAR_PROTOCOL_ID,
      tokenKey: TOKEN_KEY,
      serverId: o.serverId ?? SERVER_ID,
      maxClients: o.maxClients ?? 4,
      now: () => this.clock.now(),
      send: (data, address, port) => this.sent.push({ data, address, port }),
      onConnect: (c) => this.connects.push(c),
      onDisconnect: () => {},
      onMessage: () => {},
      onReject: (reason) => this.rejects.push(reason),
    });
  }

  token(o: Partial<ConnectTokenOptions> = {}): Buffer {
    return testToken({ now: this.clock.now(), ...o });
  }

  /** Feeds one datagram from `from`; returns what the server sent in reply. */
  feed(data: Buffer, from: { address: string; port: number }): Array<{ data: Buffer; address: string; port: number }> {
    const before = this.sent.length;
    this.server.receive(data, from.address, from.port);
    const replies = this.sent.slice(before);
    const type = data[3] === 0 ? 'request' : data[3] === 3 ? 'response' : 'connected-type';
    this.exchanges.push({ in: { type, bytes: data.length }, out: replies.map((r) => ({ type: String(r.data[3]), bytes: r.data.length })) });
    return replies;
  }

  /** The server's reply to `token`'s holder, opened with the token's server→client key. */
  open(token: Buffer, reply: Buffer): Packet | undefined {
    const t = readPublicToken(token);
    return decodePacket(reply, { protocolId: t.protocolId, key: t.serverToClientKey });
  }

  /** Request, challenge, response: returns the response that was sent, and what it got back. */
  connect(token: Buffer, from = ALICE): { response: Buffer; replies: Buffer[] } {
    const [challenge] = this.feed(requestFor(token), from);
    const packet = this.open(token, challenge!.data);
    if (packet?.type !== 'challenge') throw new Error(`expected a challenge, got ${packet?.type}`);
    const response = encodePacket({ type: 'response', challengeToken: packet.challengeToken }, { protocolId: HANGAR_PROTOCOL_ID, key: Buffer.alloc(32) });
    return { response, replies: this.feed(response, from).map((r) => r.data) };
  }
}

function requestFor(token: Buffer): Buffer {
  const t = readPublicToken(token);
  return encodePacket({ type: 'request', protocolId: t.protocolId, expiresAt: t.expiresAt, tokenNonce: t.nonce, privateToken: t.privateToken }, { protocolId: t.protocolId, key: t.clientToServerKey });
}

describe('ServerEndpoint handshake', () => {
  it('connects a client with a valid token: challenge, response, keep-alive, onConnect with its player and user data', () => {
    const h = new Handshake();
    const token = h.token({ playerId: 'alice', userData: Buffer.from('match-7/red') });
    const [challenge] = h.feed(requestFor(token), ALICE);
    expect(challenge).toMatchObject(ALICE);
    expect(h.open(token, challenge!.data)?.type).toBe('challenge');
    expect(h.connects).toEqual([]);
    const { replies } = h.connect(token);
    expect(replies.map((r) => h.open(token, r)?.type)).toEqual(['keep-alive']);
    expect(h.connects).toEqual([{ index: 0, playerId: 'alice', userData: Buffer.from('match-7/red'), ...ALICE }]);
    expect(h.server.connectedCount).toBe(1);
    expect(h.rejects).toEqual([]);
  });

  it('through a ClientEndpoint: connecting, then connected, in a few ticks', () => {
    const net = new TestNet();
    const c = net.client();
    c.endpoint.connect();
    net.run(200);
    expect(c.states).toEqual(['connecting', 'connected']);
    expect(net.serverPackets.slice(0, 4)).toEqual([
      { direction: 'in', type: 'request', bytes: REQUEST_PACKET_BYTES },
      { direction: 'out', type: 'challenge', bytes: expect.any(Number) },
      { direction: 'in', type: 'response', bytes: expect.any(Number) },
      { direction: 'out', type: 'keep-alive', bytes: 34 },
    ]);
  });

  it('ignores an expired token, and a client does not even try one', () => {
    const h = new Handshake();
    const token = h.token({ expiresInSeconds: 10 });
    h.clock.advance(10_000);
    expect(h.feed(requestFor(token), ALICE)).toEqual([]);
    expect(h.rejects).toEqual(['token-expired']);

    const net = new TestNet();
    const c = net.client({ token: testToken({ now: net.clock.now() - 60_000 }) });
    c.endpoint.connect();
    expect(c.endpoint.state).toBe('expired');

    // A token that runs out while the client is still waiting for a challenge.
    const unanswered = net.client({ token: testToken({ now: net.clock.now(), expiresInSeconds: 2 }) });
    net.link.cut = true;
    unanswered.endpoint.connect();
    net.run(1_900);
    expect(unanswered.endpoint.state).toBe('connecting');
    net.run(200);
    expect(unanswered.states).toEqual(['connecting', 'expired']);
  });

  it('ignores a token with any bit of its private part, nonce, expiry or protocol id flipped', () => {
    const h = new Handshake();
    const request = requestFor(h.token());
    const reasons = new Set<RejectReason>();
    // Bytes 4..1055: protocol id, expiry, nonce, sealed private token (the padding after it is not part of the token).
    for (let byte = 4; byte < 1056; byte++) {
      const forged = Buffer.from(request);
      forged[byte]! ^= 1 << byte % 8;
      expect(h.feed(forged, ALICE)).toEqual([]);
      reasons.add(h.rejects.at(-1)!);
    }
    expect(h.rejects).toHaveLength(1052);
    expect([...reasons].sort()).toEqual(['bad-protocol-id', 'bad-token', 'token-expired']);
    expect(h.connects).toEqual([]);
  });

  it('ignores a token minted with another key, for another server, or for another protocol', () => {
    const h = new Handshake();
    expect(h.feed(requestFor(h.token({ key: Buffer.alloc(32, 0x01) })), ALICE)).toEqual([]);
    expect(h.feed(requestFor(h.token({ serverId: 'simple-other' })), ALICE)).toEqual([]);
    expect(h.feed(requestFor(h.token({ protocolId: HANGAR_PROTOCOL_ID + 1n })), ALICE)).toEqual([]);
    expect(h.rejects).toEqual(['bad-token', 'wrong-server', 'bad-protocol-id']);
  });

  it('answers a replayed request or response from the connected client with a keep-alive and no second slot', () => {
    const h = new Handshake();
    const token = h.token();
    const { response } = h.connect(token);
    for (const again of [requestFor(token), response, requestFor(token)]) {
      const replies = h.feed(again, ALICE);
      expect(replies.map((r) => h.open(token, r.data)?.type)).toEqual(['keep-alive']);
    }
    expect(h.connects).toHaveLength(1);
    expect(h.server.connectedCount).toBe(1);
  });

  it('refuses the token from a second address, before and after it connected, and a spent token afterwards', () => {
    const h = new Handshake();
    const token = h.token();
    h.feed(requestFor(token), ALICE);
    expect(h.feed(requestFor(token), MALLORY)).toEqual([]);
    expect(h.feed(requestFor(token), { address: ALICE.address, port: ALICE.port + 1 })).toEqual([]);
    h.connect(token);
    expect(h.feed(requestFor(token), MALLORY)).toEqual([]);
    expect(h.rejects).toEqual(['token-in-use', 'token-in-use', 'token-in-use']);

    h.server.disconnect(0);
    expect(h.feed(requestFor(token), ALICE)).toEqual([]);
    expect(h.rejects.at(-1)).toBe('token-used');
    expect(h.connects).toHaveLength(1);
  });

  it('refuses a second token from an address that is connected with another', () => {
    const h = new Handshake();
    h.connect(h.token({ playerId: 'alice' }));
    expect(h.feed(requestFor(h.token({ playerId: 'bob' })), ALICE)).toEqual([]);
    expect(h.rejects).toEqual(['address-connected']);
  });

  it('denies with a small packet when full, and a player already connected from elsewhere', () => {
    const h = new Handshake({ maxClients: 2 });
    h.connect(h.token({ playerId: 'p1' }), { address: '192.0.2.1', port: 1 });
    h.connect(h.token({ playerId: 'p2' }), { address: '192.0.2.2', port: 2 });
    const late = h.token({ playerId: 'p3' });
    const [denied] = h.feed(requestFor(late), { address: '192.0.2.3', port: 3 });
    expect(h.open(late, denied!.data)).toEqual({ type: 'denied', sequence: expect.any(Number), reason: 'server-full' });
    expect(denied!.data.length).toBe(27);

    h.server.disconnect(1);
    const twin = h.token({ playerId: 'p1' });
    const [again] = h.feed(requestFor(twin), { address: '192.0.2.4', port: 4 });
    expect(h.open(twin, again!.data)).toMatchObject({ type: 'denied', reason: 'player-connected' });
    expect(h.rejects).toEqual(['server-full', 'player-connected']);
  });

  it('denies a response that arrives once the server has filled up since its challenge', () => {
    const h = new Handshake({ maxClients: 1 });
    const slow = h.token({ playerId: 'slow' });
    const [challenge] = h.feed(requestFor(slow), ALICE);
    h.connect(h.token({ playerId: 'fast' }), MALLORY);
    const packet = h.open(slow, challenge!.data) as { challengeToken: Buffer };
    const [denied] = h.feed(encodePacket({ type: 'response', challengeToken: packet.challengeToken }, { protocolId: HANGAR_PROTOCOL_ID, key: Buffer.alloc(32) }), ALICE);
    expect(h.open(slow, denied!.data)).toMatchObject({ type: 'denied', reason: 'server-full' });
    expect(h.connects.map((c) => c.playerId)).toEqual(['fast']);
  });

  it('shows a ClientEndpoint why it was denied', () => {
    const net = new TestNet({ server: { maxClients: 1 } });
    const first = net.client();
    const second = net.client();
    first.endpoint.connect();
    net.run(200);
    second.endpoint.connect();
    net.run(200);
    expect(first.endpoint.state).toBe('connected');
    expect(second.states).toEqual(['connecting', 'denied']);
    expect(second.endpoint.deniedReason).toBe('server-full');
  });

  it('holds a closed client\'s index until it is released (holdClosedSlots), refusing newcomers meanwhile when it was the last', () => {
    const net = new TestNet({ server: { maxClients: 1, holdClosedSlots: true } });
    const first = net.client();
    first.endpoint.connect();
    net.run(200);
    first.endpoint.disconnect();
    net.run(200);
    expect(net.disconnects).toEqual([{ index: 0, reason: 'client-disconnected' }]);
    // Index 0 may still be addressed by a simulation that has not heard of the disconnect.
    const second = net.client();
    second.endpoint.connect();
    net.run(200);
    expect(second.endpoint.deniedReason).toBe('server-full');
    net.server.releaseSlot(0);
    net.server.releaseSlot(0); // twice: still one slot
    const third = net.client();
    const fourth = net.client();
    third.endpoint.connect();
    net.run(200);
    fourth.endpoint.connect();
    net.run(200);
    expect(net.connects.map((c) => [c.playerId, c.index])).toEqual([
      ['player-1', 0],
      ['player-3', 0],
    ]);
    expect(fourth.endpoint.deniedReason).toBe('server-full');
    // A connected client's slot is not released from under it.
    net.server.releaseSlot(0);
    const fifth = net.client();
    fifth.endpoint.connect();
    net.run(200);
    expect(fifth.endpoint.deniedReason).toBe('server-full');
  });

  it('ignores a forged challenge token, one echoed from another address, and one past its expiry', () => {
    const h = new Handshake();
    const token = h.token();
    const [challenge] = h.feed(requestFor(token), ALICE);
    const challengeToken = (h.open(token, challenge!.data) as { challengeToken: Buffer }).challengeToken;
    const response = (t: Buffer) => encodePacket({ type: 'response', challengeToken: t }, { protocolId: HANGAR_PROTOCOL_ID, key: Buffer.alloc(32) });
    for (let byte = 0; byte < challengeToken.length; byte++) {
      const forged = Buffer.from(challengeToken);
      forged[byte]! ^= 0x80;
      expect(h.feed(response(forged), ALICE)).toEqual([]);
    }
    expect(h.feed(response(challengeToken), MALLORY)).toEqual([]);
    expect(new Set(h.rejects)).toEqual(new Set(['bad-challenge']));

    h.clock.advance(5_001); // the token's timeout: 5 s
    expect(h.feed(response(challengeToken), ALICE)).toEqual([]);
    expect(h.rejects.at(-1)).toBe('challenge-expired');
    expect(h.connects).toEqual([]);
  });

  it('has sizes that make amplification impossible: each handshake reply is at most the smallest packet that can cause it', () => {
    expect(MAX_CHALLENGE_PACKET_BYTES).toBeLessThanOrEqual(REQUEST_PACKET_BYTES); // challenge ← request
    expect(DENIED_PACKET_BYTES).toBeLessThanOrEqual(MIN_RESPONSE_PACKET_BYTES); // denied ← request or response
    expect(KEEP_ALIVE_PACKET_BYTES).toBeLessThanOrEqual(MIN_RESPONSE_PACKET_BYTES); // keep-alive ← request or response
    expect([MAX_CHALLENGE_PACKET_BYTES, REQUEST_PACKET_BYTES, DENIED_PACKET_BYTES, KEEP_ALIVE_PACKET_BYTES, MIN_RESPONSE_PACKET_BYTES]).toEqual([527, 1100, 27, 34, 122]);
  });

  it('never sends a reply larger than the unauthenticated packet that caused it', () => {
    const h = new Handshake({ maxClients: 2 });
    // The largest challenge there can be: longest player id, most user data.
    const big = h.token({ playerId: 'p'.repeat(MAX_PLAYER_ID_BYTES), userData: Buffer.alloc(MAX_USER_DATA_BYTES, 1) });
    const { response: bigResponse } = h.connect(big, { address: '192.0.2.1', port: 1 });
    // The smallest response there can be, answered by a keep-alive: a one-byte player id, no user data.
    const small = h.token({ playerId: 'q' });
    const { response: smallResponse } = h.connect(small, { address: '192.0.2.2', port: 2 });
    h.feed(smallResponse, { address: '192.0.2.2', port: 2 });
    h.feed(bigResponse, { address: '192.0.2.1', port: 1 });
    h.feed(requestFor(small), { address: '192.0.2.2', port: 2 });
    // Denied: full, and already connected.
    h.feed(requestFor(h.token({ playerId: 'r' })), { address: '192.0.2.3', port: 3 });
    h.server.disconnect(0);
    h.feed(requestFor(h.token({ playerId: 'q' })), { address: '192.0.2.4', port: 4 });
    // Refusals, which get no reply at all.
    h.feed(requestFor(h.token({ key: Buffer.alloc(32, 1) })), MALLORY);
    h.feed(Buffer.concat([bigResponse.subarray(0, 4), Buffer.alloc(bigResponse.length - 4, 7)]), MALLORY);

    const replied = h.exchanges.filter((e) => e.out.length > 0);
    expect(replied.map((e) => `${e.in.type}→${e.out.map((o) => o.type).join(',')}`)).toEqual(
      expect.arrayContaining(['request→2', 'response→4', 'request→4', 'request→1']),
    );
    expect(Math.min(...h.exchanges.filter((e) => e.in.type === 'response').map((e) => e.in.bytes))).toBe(4 + 118);
    expect(Math.max(...h.exchanges.flatMap((e) => e.out.map((o) => o.bytes)))).toBe(26 + 501);
    for (const e of h.exchanges) {
      expect(e.out.length).toBeLessThanOrEqual(1);
      for (const o of e.out) expect(o.bytes).toBeLessThanOrEqual(e.in.bytes);
    }
  });

  it('reports packets and rejections with the label values of the game-server metrics', async () => {
    const metrics = createGameServerMetrics(new Registry());
    const net = new TestNet({
      server: {
        onPacket: (direction, type, bytes) => {
          (direction === 'in' ? metrics.packetsIn : metrics.packetsOut).inc({ type: PACKET_TYPE_NAMES[type] });
          (direction === 'in' ? metrics.bytesIn : metrics.bytesOut).inc({ type: PACKET_TYPE_NAMES[type] }, bytes);
        },
        onReject: (reason) => metrics.packetsRejected.inc({ reason }),
      },
    });
    net.client().endpoint.connect();
    net.run(200);
    net.server.receive(Buffer.from('not netcode'), MALLORY.address, MALLORY.port);
    const values = async (counter: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> }) =>
      (await counter.get()).values.map((v) => ({ ...v.labels, value: v.value }));
    expect(await values(metrics.packetsIn)).toEqual(expect.arrayContaining([{ type: 'request', value: 1 }, { type: 'response', value: 1 }]));
    expect(await values(metrics.bytesIn)).toEqual(expect.arrayContaining([{ type: 'request', value: 1100 }]));
    expect(await values(metrics.packetsOut)).toEqual(expect.arrayContaining([{ type: 'challenge', value: 1 }, { type: 'keep-alive', value: expect.any(Number) }]));
    expect(await values(metrics.packetsRejected)).toEqual([{ reason: 'foreign', value: 1 }]);
  });

  it('never answers connected-type packets from addresses it does not know', () => {
    const net = new TestNet();
    const c = net.client();
    c.endpoint.connect();
    net.run(200);
    const sent = net.serverSent.length;
    const keepAlive = net.serverSent.at(-1)!.data;
    net.server.receive(keepAlive, MALLORY.address, MALLORY.port);
    net.server.receive(Buffer.concat([keepAlive.subarray(0, 3), Buffer.of(5), keepAlive.subarray(4), Buffer.alloc(10)]), MALLORY.address, MALLORY.port);
    expect(net.serverSent.length).toBe(sent);
    expect(net.serverRejects).toEqual(['unknown-address', 'unknown-address']);
  });

  it('tells apart clients that share a port by their address, while any of them comes and goes', () => {
    const net = new TestNet();
    const port = 40_000;
    const clients = ['192.0.2.1', '192.0.2.2', '192.0.2.3'].map((address) => net.client({ address, port }));
    for (const c of clients) c.endpoint.connect();
    net.run(300);
    expect(clients.map((c) => c.endpoint.state)).toEqual(['connected', 'connected', 'connected']);
    const indexOf = new Map(net.connects.map((c) => [c.address, c.index]));
    const heard = () => net.serverMessages.splice(0).map((m) => `${m.index}:${m.payload.toString()}`);
    clients.forEach((c, i) => c.endpoint.send('unreliable', Buffer.from(`from ${i}`)));
    net.run(100);
    expect(heard().sort()).toEqual(clients.map((c, i) => `${indexOf.get(c.address)}:from ${i}`).sort());

    // The one in the middle of the port's chain leaves; the others still reach their own connections.
    net.server.disconnect(indexOf.get('192.0.2.2')!);
    net.run(100);
    clients.forEach((c, i) => c.endpoint.send('unreliable', Buffer.from(`again ${i}`)));
    net.run(100);
    expect(heard().sort()).toEqual([`${indexOf.get('192.0.2.1')}:again 0`, `${indexOf.get('192.0.2.3')}:again 2`]);
    expect(net.serverRejects).toEqual([]);
    expect(clients.map((c) => c.endpoint.state)).toEqual(['connected', 'disconnected', 'connected']);
  });
});
