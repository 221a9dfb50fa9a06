import { REPLAY_WINDOW_SIZE } from './protocol-constants.js';

// Replay protection (PROTOCOL.md, "Replay window"): the last 256 sequence numbers received. A
// packet older than the window, or one whose sequence is already in it, is dropped. `check` runs
// before decryption (cheap refusals first), `accept` only after the tag verified, so forged
// packets cannot move the window.

export const ReplayCheck = { Fresh: 0, Replayed: 1, TooOld: 2 } as const;
export type ReplayCheck = (typeof ReplayCheck)[keyof typeof ReplayCheck];

export class ReplayWindow {
  private readonly received = new Float64Array(REPLAY_WINDOW_SIZE).fill(-1);
  /** The newest sequence accepted, -1 before the first. */
  newest = -1;

  check(sequence: number): ReplayCheck {
    // Nearly every packet is the newest yet, and nothing newer than the newest can have been
    // accepted: answered without loading the window's array (a cold load per packet).
    if (sequence > this.newest) return ReplayCheck.Fresh;
    if (sequence + REPLAY_WINDOW_SIZE <= this.newest) return ReplayCheck.TooOld;
    return this.received[sequence % REPLAY_WINDOW_SIZE] === sequence ? ReplayCheck.Replayed : ReplayCheck.Fresh;
  }

  accept(sequence: number): void {
    this.received[sequence % REPLAY_WINDOW_SIZE] = sequence;
    if (sequence > this.newest) this.newest = sequence;
  }
}
