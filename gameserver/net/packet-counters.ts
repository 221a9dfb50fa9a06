import type { GameServerMetrics } from '../../core/metrics.js';
import { PACKET_TYPE_NAMES, type PacketType } from '../protocol/packet-codec.js';

// Packet, byte and reject counts gathered on the network path (a worker thread or the main one)
// and handed to the metrics in bulk: a labelled prom-client increment per datagram would cost
// more than the datagram's own bookkeeping. Each drain also carries the connected players'
// round-trip times, so the metrics sample them once a drain (a second) wherever the netcode runs.

export interface CounterSnapshot {
  /** [direction, packet type, packets, bytes] */
  packets: Array<[string, string, number, number]>;
  /** [reason, count] */
  rejects: Array<[string, number]>;
  /** Each connected player's smoothed round-trip time at the drain, ms (players not yet measured left out). */
  rttMs: number[];
}

const TYPES = PACKET_TYPE_NAMES.length;

export class PacketCounters {
  // Packets and bytes by direction and packet type, at (in ? 0 : TYPES) + type: counting a
  // datagram is two stores, where a Map keyed by the type's name was a hash lookup per datagram.
  private readonly packets = new Float64Array(2 * TYPES);
  private readonly bytes = new Float64Array(2 * TYPES);
  private readonly rejects = new Map<string, number>();
  /** Round-trip times from added (workers') snapshots, until the next drain. */
  private rttMs: number[] = [];

  packet(direction: 'in' | 'out', type: PacketType, bytes: number): void {
    const i = (direction === 'in' ? 0 : TYPES) + type;
    this.packets[i]! += 1;
    this.bytes[i]! += bytes;
  }

  reject(reason: string): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
  }

  /** Adds what another counter (a worker's) counted. */
  add(s: CounterSnapshot): void {
    for (const [direction, type, packets, bytes] of s.packets) {
      const index = PACKET_TYPE_NAMES.indexOf(type as (typeof PACKET_TYPE_NAMES)[number]);
      if (index < 0 || (direction !== 'in' && direction !== 'out')) throw new RangeError(`packet counters: no ${direction} packets of type "${type}"`);
      const i = (direction === 'in' ? 0 : TYPES) + index;
      this.packets[i]! += packets;
      this.bytes[i]! += bytes;
    }
    for (const [reason, n] of s.rejects) this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + n);
    for (const ms of s.rttMs) this.rttMs.push(ms);
  }

  /** What was counted since the last drain, with `rttMs`: the round-trip times of this thread's players now. */
  drain(rttMs: readonly number[] = []): CounterSnapshot {
    const packets: CounterSnapshot['packets'] = [];
    for (let i = 0; i < 2 * TYPES; i++) {
      if (this.packets[i] === 0) continue;
      packets.push([i < TYPES ? 'in' : 'out', PACKET_TYPE_NAMES[i % TYPES]!, this.packets[i]!, this.bytes[i]!]);
    }
    const snapshot = { packets, rejects: [...this.rejects.entries()], rttMs: this.rttMs.concat(rttMs) };
    this.packets.fill(0);
    this.bytes.fill(0);
    this.rejects.clear();
    this.rttMs = [];
    return snapshot;
  }
}

export function applyCounters(metrics: GameServerMetrics, s: CounterSnapshot): void {
  for (const [direction, type, packets, bytes] of s.packets) {
    (direction === 'in' ? metrics.packetsIn : metrics.packetsOut).inc({ type }, packets);
    (direction === 'in' ? metrics.bytesIn : metrics.bytesOut).inc({ type }, bytes);
  }
  for (const [reason, n] of s.rejects) metrics.packetsRejected.inc({ reason }, n);
  for (const ms of s.rttMs) metrics.playerRtt.observe(ms / 1000);
}
