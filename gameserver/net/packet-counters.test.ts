import { describe, expect, it } from '@jest/globals';
import { PacketType } from '../protocol/packet-codec.js';
import { PacketCounters } from './packet-counters.js';

describe('PacketCounters', () => {
  it('counts packets and bytes by direction and type, and starts afresh after each drain', () => {
    const counters = new PacketCounters();
    counters.packet('in', PacketType.Payload, 40);
    counters.packet('in', PacketType.Payload, 42);
    counters.packet('out', PacketType.Payload, 300);
    counters.packet('out', PacketType.KeepAlive, 32);
    counters.reject('bad-tag');
    expect(counters.drain()).toEqual({
      packets: [
        ['in', 'payload', 2, 82],
        ['out', 'keep-alive', 1, 32],
        ['out', 'payload', 1, 300],
      ],
      rejects: [['bad-tag', 1]],
      rttMs: [],
    });
    expect(counters.drain([12.5, 40])).toEqual({ packets: [], rejects: [], rttMs: [12.5, 40] });
    expect(counters.drain()).toEqual({ packets: [], rejects: [], rttMs: [] });
  });

  it("adds a worker's counts to its own, and names what it cannot count", () => {
    const worker = new PacketCounters();
    worker.packet('in', PacketType.Request, 1100);
    worker.reject('bad-tag');
    const totals = new PacketCounters();
    totals.packet('in', PacketType.Request, 1100);
    totals.add(worker.drain([20]));
    // The workers' players' round-trip times, then this thread's own (none on the worker path).
    expect(totals.drain([5])).toEqual({ packets: [['in', 'request', 2, 2200]], rejects: [['bad-tag', 1]], rttMs: [20, 5] });
    expect(totals.drain()).toEqual({ packets: [], rejects: [], rttMs: [] });
    expect(() => totals.add({ packets: [['in', 'handshake', 1, 10]], rejects: [], rttMs: [] })).toThrow('packet counters: no in packets of type "handshake"');
  });
});
