import { REPLAY_WINDOW_SIZE } from './protocol-constants.js';

// Replay protection (PROTOCOL.md, "Replay window"): the last 256 sequence numbers received. A
// packet older than the window, or one whose sequence is already in it, is dropped. `replayCheck`
// runs before decryption (cheap refusals first), `replayAccept` only after the tag verified, so
// forged packets cannot move the window. The window is a connection's own array, and its newest
// sequence the connection's newest received (both move on an authenticated packet only): no
// object of its own, whose first load per packet was a cold line (BENCHMARKS.md, helper-37).

export const ReplayCheck = { Fresh: 0, Replayed: 1, TooOld: 2 } as const;
export type ReplayCheck = (typeof ReplayCheck)[keyof typeof ReplayCheck];

/** A window that has accepted nothing: the sequence last accepted in each slot, -1 for none. */
export function newReplayWindow(): Float64Array {
  return new Float64Array(REPLAY_WINDOW_SIZE).fill(-1);
}

/** Whether `sequence` may be taken, `newest` being the newest accepted (-1 before the first). */
export function replayCheck(window: Float64Array, newest: number, sequence: number): ReplayCheck {
  // Nearly every packet is the newest yet, and nothing newer than the newest can have been
  // accepted: answered without loading the window's array.
  if (sequence > newest) return ReplayCheck.Fresh;
  if (sequence + REPLAY_WINDOW_SIZE <= newest) return ReplayCheck.TooOld;
  return window[sequence % REPLAY_WINDOW_SIZE] === sequence ? ReplayCheck.Replayed : ReplayCheck.Fresh;
}

/** Records an authenticated `sequence`; the caller moves its newest. */
export function replayAccept(window: Float64Array, sequence: number): void {
  window[sequence % REPLAY_WINDOW_SIZE] = sequence;
}
