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
  // Rows by direction, then by packet type: looked up with the type's constant name, so counting a
  // datagram builds no key string. A field per direction, chosen by a comparison: an object indexed
  // by the direction's name was a megamorphic keyed load per datagram.
  private readonly packetsIn = new Map<string, [string, string, number, number]>();
  private readonly packetsOut = new Map<string, [string, string, number, number]>();
  private readonly rejects = new Map<string, number>();

  packet(direction: 'in' | 'out', type: string, bytes: number): void {
    this.count(direction, type, 1, bytes);
  }

  reject(reason: string): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
  }

  /** Adds what another counter (a worker's) counted. */
  add(s: CounterSnapshot): void {
    for (const [direction, type, packets, bytes] of s.packets) this.count(direction as 'in' | 'out', type, packets, bytes);
    for (const [reason, n] of s.rejects) this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + n);
  }

  /** What was counted since the last drain. */
  drain(): CounterSnapshot {
    const snapshot = { packets: [...this.packetsIn.values(), ...this.packetsOut.values()], rejects: [...this.rejects.entries()] };
    this.packetsIn.clear();
    this.packetsOut.clear();
    this.rejects.clear();
    return snapshot;
  }

  private count(direction: 'in' | 'out', type: string, packets: number, bytes: number): void {
    const rows = direction === 'in' ? this.packetsIn : this.packetsOut;
    const row = rows.get(type);
    if (row) {
      row[2] += packets;
      row[3] += bytes;
    } else {
      rows.set(type, [direction, type, packets, bytes]);
    }
  }
}

export function applyCounters(metrics: GameServerMetrics, s: CounterSnapshot): void {
  for (const [direction, type, packets, bytes] of s.packets) {
    (direction === 'in' ? metrics.packetsIn : metrics.packetsOut).inc({ type }, packets);
    (direction === 'in' ? metrics.bytesIn : metrics.bytesOut).inc({ type }, bytes);
  }
  for (const [reason, n] of s.rejects) metrics.packetsRejected.inc({ reason }, n);
}
