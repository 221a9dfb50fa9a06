import { seededRandom } from '../../core/seeded-random.js';
// An in-memory network for the protocol's tests and benchmark: datagrams are delayed, and with a
// seeded PRNG lost, duplicated and reordered, so every run of a test sees the same weather.

export interface LossyLinkOptions {
  seed: number;
  /** Probability that a datagram is dropped. */
  loss?: number;
  /** Probability that a delivered datagram arrives twice. */
  duplicate?: number;
  latencyMs?: number;
  /** Extra random delay up to this much: datagrams overtake each other. */
  jitterMs?: number;
}

interface InFlight {
  due: number;
  order: number;
  data: Buffer;
  deliver: (data: Buffer) => void;
}

export class LossyLink {
  private readonly random: () => number;
  private inFlight: InFlight[] = [];
  private order = 0;
  sent = 0;
  dropped = 0;
  duplicated = 0;
  /** While true every datagram is lost: a cable pulled out. */
  cut = false;

  constructor(private readonly o: LossyLinkOptions) {
    this.random = seededRandom(o.seed);
  }

  /** Carries `data` towards `deliver`, at `now`; the link keeps its own copy. */
  push(now: number, data: Buffer, deliver: (data: Buffer) => void): void {
    this.sent++;
    if (this.random() < (this.o.loss ?? 0) || this.cut) {
      this.dropped++;
      return;
    }
    const copies = this.random() < (this.o.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      const due = now + (this.o.latencyMs ?? 0) + this.random() * (this.o.jitterMs ?? 0);
      this.inFlight.push({ due, order: this.order++, data: Buffer.from(data), deliver });
    }
  }

  /** Delivers every datagram due by `now`, earliest first. */
  deliverDue(now: number): number {
    const due = this.inFlight.filter((p) => p.due <= now).sort((a, b) => a.due - b.due || a.order - b.order);
    if (due.length === 0) return 0;
    this.inFlight = this.inFlight.filter((p) => p.due > now);
    for (const p of due) p.deliver(p.data);
    return due.length;
  }

  get pending(): number {
    return this.inFlight.length;
  }
}
