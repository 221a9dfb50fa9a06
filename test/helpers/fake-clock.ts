import type { Cancel, Clock } from '../../core/clock.js';

interface Timer {
  id: number;
  due: number;
  fn: () => void;
  every?: number;
}

/** A Clock that moves only when told to; timers fire in due order as `advance` passes them. */
export class FakeClock implements Clock {
  private t: number;
  private nextId = 0;
  private timers: Timer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    return this.add({ id: this.nextId++, due: this.t + ms, fn });
  }

  every(ms: number, fn: () => void): Cancel {
    return this.add({ id: this.nextId++, due: this.t + ms, fn, every: ms });
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.due <= end).sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!next) break;
      this.t = next.due;
      if (next.every) next.due += next.every;
      else this.timers = this.timers.filter((x) => x !== next);
      next.fn();
    }
    this.t = end;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  private add(timer: Timer): Cancel {
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
}
