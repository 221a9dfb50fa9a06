import { describe, expect, it } from '@jest/globals';
import { readSequence } from './packet-codec.js';
import { MAX_RELIABLE_MESSAGE_BYTES, MAX_UNRELIABLE_MESSAGE_BYTES, RELIABLE_WINDOW_SIZE } from './protocol-constants.js';
import { MessageTooLargeError, ReliableWindowFullError } from './protocol-errors.js';
import { TestNet, type TestClient } from '../../test/helpers/protocol-test-harness.js';

// Channels, acks, keep-alives, timeouts and disconnects between a ServerEndpoint and a
// ClientEndpoint, over an in-memory link that loses, duplicates and reorders datagrams (seeded).

const TICK_MS = 1000 / 30;
const BAD_WEATHER = { seed: 7, loss: 0.2, duplicate: 0.1, latencyMs: 30, jitterMs: 50 };

function connected(net: TestNet, client = net.client()): TestClient {
  client.endpoint.connect();
  for (let i = 0; i < 300 && client.endpoint.state !== 'connected'; i++) net.run(TICK_MS);
  expect(client.endpoint.state).toBe('connected');
  return client;
}

const message = (n: number) => Buffer.from(`m${n}`);
const numbers = (messages: Array<{ payload: Buffer }>) => messages.map((m) => Number(m.payload.toString().slice(1)));
const sequencesOf = (datagrams: Array<{ data: Buffer }>) => datagrams.filter((d) => d.data[3] === 4 || d.data[3] === 5).map((d) => readSequence(d.data));

describe('channels over a lossy, duplicating, reordering link', () => {
  it('delivers thousands of reliable messages both ways exactly once and in order; unreliable ones at most once', () => {
    const net = new TestNet({ link: BAD_WEATHER });
    const c = connected(net);
    const total = 3000;
    let up = 0;
    let down = 0;
    let unreliableSent = 0;
    let windowFull = 0;
    for (let tick = 0; tick < 20_000 && (numbers(net.serverMessages.filter((m) => m.channel === 'reliable')).length < total || numbers(c.messages.filter((m) => m.channel === 'reliable')).length < total); tick++) {
      for (let k = 0; k < 12 && up < total; k++) {
        try {
          c.endpoint.send('reliable', message(up));
          up++;
        } catch (err) {
          if (!(err instanceof ReliableWindowFullError)) throw err;
          windowFull++;
          break;
        }
      }
      for (let k = 0; k < 12 && down < total; k++) {
        try {
          net.server.send(0, 'reliable', message(down));
          down++;
        } catch (err) {
          if (!(err instanceof ReliableWindowFullError)) throw err;
          windowFull++;
          break;
        }
      }
      if (unreliableSent < 1000) c.endpoint.send('unreliable', message(unreliableSent++));
      net.run(TICK_MS);
    }
    const expected = Array.from({ length: total }, (_, i) => i);
    expect(numbers(net.serverMessages.filter((m) => m.channel === 'reliable'))).toEqual(expected);
    expect(numbers(c.messages.filter((m) => m.channel === 'reliable'))).toEqual(expected);

    const unreliable = numbers(net.serverMessages.filter((m) => m.channel === 'unreliable'));
    expect(new Set(unreliable).size).toBe(unreliable.length);
    expect(unreliable.length).toBeGreaterThan(unreliableSent * 0.7); // 20% of datagrams are lost
    expect(unreliable.length).toBeLessThan(unreliableSent);

    // The weather really was bad, and the replay window took the duplicates.
    expect(net.link.dropped / net.link.sent).toBeGreaterThan(0.15);
    expect(net.link.duplicated).toBeGreaterThan(0);
    expect(net.serverRejects.filter((r) => r === 'replayed').length).toBeGreaterThan(0);
    expect(net.serverRejects.filter((r) => r !== 'replayed' && r !== 'too-old')).toEqual([]);
    expect(c.rejects.filter((r) => r !== 'replayed' && r !== 'too-old')).toEqual([]);
    expect(c.endpoint.state).toBe('connected');
    expect(windowFull).toBeGreaterThan(0); // the senders outran the acks and had to wait
  });

  it('reports each acked packet once, only packets the peer received, and nearly all of them', () => {
    const net = new TestNet({ link: BAD_WEATHER });
    const c = connected(net);
    for (let tick = 0; tick < 300; tick++) {
      c.endpoint.send('unreliable', message(tick));
      net.server.send(0, 'unreliable', message(tick));
      net.run(TICK_MS);
    }
    const received = new Set(sequencesOf(net.serverReceived));
    expect(new Set(c.acks).size).toBe(c.acks.length);
    for (const s of c.acks) expect(received.has(s)).toBe(true);
    expect(c.acks.length).toBeGreaterThan(received.size * 0.95);

    const serverAcks = net.serverAcks.map((a) => a.sequence);
    expect(new Set(serverAcks).size).toBe(serverAcks.length);
    expect(serverAcks.length).toBeGreaterThan(200);
    expect(c.endpoint.rttMs).toBeGreaterThan(30);
    expect(net.server.rttMs(0)).toBeGreaterThan(30);
  });
});

describe('round-trip time', () => {
  it('measures the link, not how long each side held a packet before its next send', () => {
    // 10 ms each way; each side sends once a tick, the server 20 ms of its tick after the client,
    // so an ack waits up to a tick at the peer: the raw time from send to ack is 20 + that hold.
    const net = new TestNet({ link: { seed: 3, latencyMs: 10 } });
    const c = connected(net);
    for (let ms = 0; ms < 3000; ms++) {
      if (ms % 33 === 0) c.endpoint.send('unreliable', message(ms));
      if (ms % 33 === 20) net.server.send(0, 'unreliable', message(ms));
      net.run(1, 1);
    }
    // Within a step of the delivery loop (1 ms) and the delay's 16 µs rounding.
    expect(c.endpoint.rttMs).toBeGreaterThanOrEqual(19);
    expect(c.endpoint.rttMs).toBeLessThanOrEqual(22);
    expect(net.server.rttMs(0)).toBeGreaterThanOrEqual(19);
    expect(net.server.rttMs(0)).toBeLessThanOrEqual(22);
  });
});

describe('a connection', () => {
  it('packs several messages into one packet, and splits what does not fit one', () => {
    const net = new TestNet();
    const c = connected(net);
    net.run(500);
    const before = net.serverReceived.length;
    for (let i = 0; i < 10; i++) c.endpoint.send('unreliable', message(i));
    c.endpoint.send('reliable', message(10));
    net.run(2 * TICK_MS);
    expect(net.serverReceived.slice(before).filter((d) => d.data[3] === 5)).toHaveLength(1);
    expect(numbers(net.serverMessages)).toEqual([10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const after = net.serverReceived.length;
    for (let i = 0; i < 5; i++) c.endpoint.send('unreliable', Buffer.alloc(1000, i));
    net.run(2 * TICK_MS);
    expect(net.serverReceived.slice(after).filter((d) => d.data[3] === 5).map((d) => d.data.length)).toEqual(Array(5).fill(26 + 8 + 3 + 1000));
  });

  it('copies an unreliable message when it is queued, so its buffer may be reused before the update', () => {
    const net = new TestNet();
    const c = connected(net);
    const scratch = Buffer.from('first');
    net.server.send(0, 'unreliable', scratch);
    scratch.write('again');
    net.server.send(0, 'unreliable', scratch);
    scratch.fill(0);
    net.run(2 * TICK_MS);
    expect(c.messages.filter((m) => m.channel === 'unreliable').map((m) => m.payload.toString())).toEqual(['first', 'again']);
  });

  it('refuses a message that can never fit one packet, on either channel', () => {
    const net = new TestNet();
    const c = connected(net);
    expect(() => c.endpoint.send('unreliable', Buffer.alloc(MAX_UNRELIABLE_MESSAGE_BYTES + 1))).toThrow(MessageTooLargeError);
    expect(() => net.server.send(0, 'reliable', Buffer.alloc(MAX_RELIABLE_MESSAGE_BYTES + 1))).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE', message: 'a 1194-byte reliable message cannot fit one packet (at most 1193 bytes)' }),
    );
    c.endpoint.send('unreliable', Buffer.alloc(MAX_UNRELIABLE_MESSAGE_BYTES, 1));
    net.server.send(0, 'reliable', Buffer.alloc(MAX_RELIABLE_MESSAGE_BYTES, 2));
    net.run(200);
    expect(net.serverMessages.map((m) => m.payload.length)).toEqual([1195]);
    expect(c.messages.map((m) => m.payload.length)).toEqual([1193]);
    expect(Math.max(...net.serverReceived.map((d) => d.data.length))).toBe(1232);
  });

  it('throws a clear error when the reliable window overflows, and recovers once acks come back', () => {
    const net = new TestNet();
    const c = connected(net);
    net.link.cut = true;
    for (let i = 0; i < RELIABLE_WINDOW_SIZE; i++) net.server.send(0, 'reliable', message(i));
    expect(() => net.server.send(0, 'reliable', message(RELIABLE_WINDOW_SIZE))).toThrow(
      expect.objectContaining({ code: 'RELIABLE_WINDOW_FULL', message: '256 reliable messages are still unacknowledged: the peer is not keeping up' }),
    );
    net.run(1000);
    net.link.cut = false;
    net.run(1000);
    expect(numbers(c.messages)).toHaveLength(RELIABLE_WINDOW_SIZE);
    net.server.send(0, 'reliable', message(RELIABLE_WINDOW_SIZE));
    net.run(200);
    expect(numbers(c.messages).at(-1)).toBe(RELIABLE_WINDOW_SIZE);
  });

  it('stays up on keep-alives alone (10 a second each way) for a minute of silence', () => {
    const net = new TestNet({ link: { seed: 3, loss: 0.2 } });
    const c = connected(net);
    const before = net.serverPackets.length;
    net.run(60_000);
    expect(c.endpoint.state).toBe('connected');
    expect(net.server.connectedCount).toBe(1);
    const packets = net.serverPackets.slice(before);
    expect(new Set(packets.map((p) => p.type))).toEqual(new Set(['keep-alive']));
    const out = packets.filter((p) => p.direction === 'out').length;
    expect(out).toBeGreaterThan(550);
    expect(out).toBeLessThan(650);
  });

  it('times out after the token timeout of silence, on both sides, not before', () => {
    const net = new TestNet();
    const c = connected(net);
    net.link.cut = true;
    net.run(4_900);
    expect(c.endpoint.state).toBe('connected');
    expect(net.disconnects).toEqual([]);
    net.run(300);
    expect(c.states.at(-1)).toBe('timed-out');
    expect(net.disconnects).toEqual([{ index: 0, reason: 'timed-out' }]);
    expect(net.server.connectedCount).toBe(0);
  });

  it('disconnects cleanly: the server sees the client leave, the client sees the server let it go', () => {
    const net = new TestNet({ link: BAD_WEATHER });
    const leaving = connected(net);
    const kicked = connected(net, net.client({ address: '192.0.2.20' }));
    leaving.endpoint.disconnect();
    net.run(200);
    expect(leaving.endpoint.state).toBe('disconnected');
    expect(net.disconnects).toEqual([{ index: 0, reason: 'client-disconnected' }]);

    net.server.disconnect(1);
    net.run(200);
    expect(net.disconnects.at(-1)).toEqual({ index: 1, reason: 'server-disconnected' });
    expect(kicked.states).toEqual(['connecting', 'connected', 'disconnected']);
    // Three disconnect packets each way; whatever arrives after the first is for a closed connection.
    expect(net.serverPackets.filter((p) => p.type === 'disconnect').map((p) => p.direction)).toEqual(expect.arrayContaining(['out', 'out', 'out']));
    expect(net.server.connectedCount).toBe(0);
  });

  it('drops messages sent to a slot that is no longer connected, and refuses an index outside the server', () => {
    const net = new TestNet();
    connected(net);
    net.server.disconnect(0);
    expect(() => net.server.send(0, 'reliable', message(1))).not.toThrow();
    expect(() => net.server.send(8, 'reliable', message(1))).toThrow(RangeError);
  });
});
