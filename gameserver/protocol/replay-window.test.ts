import { describe, expect, it } from '@jest/globals';
import { REPLAY_WINDOW_SIZE } from './protocol-constants.js';
import { TestNet } from '../../test/helpers/protocol-test-harness.js';
import { newReplayWindow, replayAccept, ReplayCheck, replayCheck } from './replay-window.js';

/** A window and its newest, moved as a connection moves them. */
function windowOf() {
  const window = newReplayWindow();
  let newest = -1;
  return {
    check: (s: number) => replayCheck(window, newest, s),
    accept: (s: number) => {
      replayAccept(window, s);
      newest = Math.max(newest, s);
    },
  };
}

describe('replay window', () => {
  it('accepts each sequence once, in any order, within the last 256', () => {
    const w = windowOf();
    for (const s of [3, 0, 2, 1, 10]) {
      expect(w.check(s)).toBe(ReplayCheck.Fresh);
      w.accept(s);
    }
    expect([0, 1, 2, 3, 10].map((s) => w.check(s))).toEqual(Array(5).fill(ReplayCheck.Replayed));
    expect([4, 9, 11, 1_000_000].map((s) => w.check(s))).toEqual(Array(4).fill(ReplayCheck.Fresh));
  });

  it('drops what is 256 or more behind the newest, even if never seen', () => {
    const w = windowOf();
    w.accept(300);
    expect(w.check(300 - REPLAY_WINDOW_SIZE)).toBe(ReplayCheck.TooOld);
    expect(w.check(300 - REPLAY_WINDOW_SIZE + 1)).toBe(ReplayCheck.Fresh);
    expect(w.check(0)).toBe(ReplayCheck.TooOld);
    // A slot reused by a newer sequence does not let the older one through.
    w.accept(45);
    w.accept(45 + REPLAY_WINDOW_SIZE);
    expect(w.check(45)).toBe(ReplayCheck.TooOld);
  });

  it('is moved only by accept: checking is free of side effects', () => {
    const w = windowOf();
    w.check(5);
    w.check(5000);
    expect(w.check(5)).toBe(ReplayCheck.Fresh);
    expect(w.check(0)).toBe(ReplayCheck.Fresh);
  });
});

describe('replay protection between endpoints', () => {
  it('drops duplicated and stale datagrams and counts each by reason; forged ones do not move the window', () => {
    const net = new TestNet();
    const c = net.client();
    c.endpoint.connect();
    net.run(300);
    c.endpoint.send('unreliable', Buffer.from('once'));
    net.run(100);
    const payload = net.serverReceived.find((d) => d.data[3] === 5)!;
    const replay = () => net.server.receive(payload.data, payload.address, payload.port);

    replay();
    replay();
    expect(net.serverRejects).toEqual(['replayed', 'replayed']);
    expect(net.serverMessages.map((m) => m.payload.toString())).toEqual(['once']);

    // More than a window of newer packets: the old one is now too old rather than a duplicate.
    for (let i = 0; i < REPLAY_WINDOW_SIZE + 10; i++) {
      c.endpoint.send('unreliable', Buffer.from([i]));
      net.run(1000 / 30);
    }
    replay();
    expect(net.serverRejects.at(-1)).toBe('too-old');

    // A forged packet with a fresh sequence fails its tag and leaves that sequence usable.
    const fresh = Buffer.from(net.serverReceived.at(-1)!.data);
    fresh.writeUIntBE(fresh.readUIntBE(4, 6) + 1, 4, 6);
    net.server.receive(fresh, payload.address, payload.port);
    expect(net.serverRejects.at(-1)).toBe('bad-tag');
    const counts = net.serverRejects.reduce<Record<string, number>>((n, r) => ({ ...n, [r]: (n[r] ?? 0) + 1 }), {});
    expect(counts).toEqual({ replayed: 2, 'too-old': 1, 'bad-tag': 1 });
    net.run(200);
    expect(c.endpoint.state).toBe('connected');
    expect(net.serverRejects).toHaveLength(4);
  });
});
