import { GameServerState as S, transition, type GameServer } from '../../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../../core/hangar-metadata.js';
import { changed, unchanged, type SdkRule } from './sdk-rule.js';


/**
 * Agones' sdkserver (updateState) silently skips state changes once the GameServer is being
 * deleted, Shutdown or Unhealthy: "there is no escaping". The SDK call still succeeds.
 */
export function isSdkStateFrozen(gs: GameServer): boolean {
  return Boolean(gs.metadata.deletionTimestamp) || gs.status.state === S.Unhealthy || gs.status.state === S.Shutdown;
}

/**
 * Ready (→ RequestReady; the controller then makes it Ready, as in Agones), Allocate (→ Allocated,
 * stamping `agones.dev/last-allocated`) and Shutdown. Any other illegal move (for example before
 * the runtime has made the server Scheduled) throws IllegalTransitionError from `transition()`.
 */
export function requestState(to: typeof S.RequestReady | typeof S.Allocated | typeof S.Shutdown, now: string): SdkRule<void> {
  return (gs) => {
    if (isSdkStateFrozen(gs)) return unchanged(undefined);
    const next = transition(gs, to);
    if (to !== S.Allocated) return changed(next, undefined);
    return changed({ ...next, metadata: { ...next.metadata, annotations: { ...next.metadata.annotations, [LAST_ALLOCATED_ANNOTATION]: now } } }, undefined);
  };
}

/**
 * Reserve(seconds): Reserved, with `status.reservedUntil` = now + seconds. Like Agones, only
 * seconds > 0 sets a deadline; 0 (or less) reserves until the next state change.
 */
export function reserve(seconds: number, nowMs: number): SdkRule<void> {
  return (gs) => {
    if (isSdkStateFrozen(gs)) return unchanged(undefined);
    const next = transition(gs, S.Reserved);
    const reservedUntil = seconds > 0 ? new Date(nowMs + seconds * 1000).toISOString() : null;
    return changed({ ...next, status: { ...next.status, reservedUntil } }, undefined);
  };
}

/**
 * The reserve timer ran out: back to Ready, but only if the server is still in the very
 * reservation that started the timer (same deadline); any other change since then wins.
 */
export function endReservation(reservedUntil: string): SdkRule<boolean> {
  return (gs) => {
    if (isSdkStateFrozen(gs) || gs.status.state !== S.Reserved || gs.status.reservedUntil !== reservedUntil) return unchanged(false);
    return changed(transition(gs, S.Ready), true);
  };
}
