import type { GameServerMetrics } from '../../core/metrics.js';

// Packet, byte and reject counts gathered on the network path (a worker thread or the main one)
// and handed to the metrics in bulk: a labelled prom-client increment per datagram would cost
// more than the datagram's own bookkeeping.

export interface CounterSnapshot {
  /** [direction, packet type, packets, bytes] */
  packets: Array<[string, string, number, number]>;
  /** [reason, count] */
  rejects: Array<[string, number]>;
}

export class PacketCounters {
  private packets = new Map<string, [string, string, number, number]>();
  private rejects = new Map<string, number>();

  packet(direction: 'in' | 'out', type: string, bytes: number): void {
    const key = direction === 'in' ? `i${type}` : `o${type}`;
    const row = this.packets.get(key);
    if (row) {
      row[2]++;
      row[3] += bytes;
    } else {
      this.packets.set(key, [direction, type, 1, bytes]);
    }
  }

  reject(reason: string): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
  }

  /** Adds what another counter (a worker's) counted. */
  add(s: CounterSnapshot): void {
    for (const [direction, type, packets, bytes] of s.packets) {
      const key = direction === 'in' ? `i${type}` : `o${type}`;
      const row = this.packets.get(key);
      if (row) {
        row[2] += packets;
        row[3] += bytes;
      } else {
        this.packets.set(key, [direction, type, packets, bytes]);
      }
    }
    for (const [reason, n] of s.rejects) this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + n);
  }

  /** What was counted since the last drain. */
  drain(): CounterSnapshot {
    const snapshot = { packets: [...this.packets.values()], rejects: [...this.rejects.entries()] };
    this.packets = new Map();
    this.rejects = new Map();
    return snapshot;
  }
}

export function applyCounters(metrics: GameServerMetrics, s: CounterSnapshot): void {
  for (const [direction, type, packets, bytes] of s.packets) {
    (direction === 'in' ? metrics.packetsIn : metrics.packetsOut).inc({ type }, packets);
    (direction === 'in' ? metrics.bytesIn : metrics.bytesOut).inc({ type }, bytes);
  }
  for (const [reason, n] of s.rejects) metrics.packetsRejected.inc({ reason }, n);
}
