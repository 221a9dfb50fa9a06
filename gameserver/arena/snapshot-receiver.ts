import { applySnapshot, NO_TICK, type EntityState, type SnapshotMessage } from './arena-messages.js';

// The client's side of delta snapshots: it keeps the states it reconstructed for recent ticks, so
// a delta against any of them can be applied, and acknowledges the newest one in its inputs.

export type ReceiveOutcome = 'applied' | 'old' | 'missing-base';

export class SnapshotReceiver {
  private readonly states = new Map<number, Map<number, EntityState>>();
  private newest = NO_TICK;

  constructor(private readonly depth = 32) {}

  /** The tick to acknowledge (NO_TICK before the first snapshot). */
  get ackTick(): number {
    return this.newest;
  }

  /** The entities as of the newest snapshot. */
  get current(): ReadonlyMap<number, EntityState> {
    return this.states.get(this.newest) ?? new Map();
  }

  receive(s: SnapshotMessage): ReceiveOutcome {
    if (this.newest !== NO_TICK && s.tick <= this.newest) return 'old';
    let base: Map<number, EntityState> | undefined;
    if (s.baseTick !== NO_TICK) {
      base = this.states.get(s.baseTick);
      if (!base) return 'missing-base';
    }
    this.states.set(s.tick, applySnapshot(base, s));
    this.newest = s.tick;
    for (const tick of this.states.keys()) if (tick + this.depth <= s.tick) this.states.delete(tick);
    return 'applied';
  }
}
