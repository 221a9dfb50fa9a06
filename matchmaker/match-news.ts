import { GameServerState } from '../core/game-server.js';
import { CLAIMED_ANNOTATION, LAST_ALLOCATED_ANNOTATION, MATCH_ID_ANNOTATION, MATCH_RESULT_ANNOTATION } from '../core/hangar-metadata.js';
import type { GameServerEvent } from '../store/game-server-store.js';

// What a change to a game server says about the match it was allocated for, as the matchmaker's
// watch reads it: the match started (its first player arrived), it ended with the result its server
// reported, or it ended without one, because the server was deleted or went back to Ready before
// reporting (killed, Unhealthy, its players never came). A reusable server still carries its last
// match's result when the next match is allocated to it: a result that names another match is that
// match's, not this one's.

export interface MatchNews {
  matchId: string;
  /** The allocation was claimed: its first player arrived. */
  started: boolean;
  /** The match is over: the server's result, or why there is none. */
  ended?: { result: unknown };
  /** The server's result annotation, when it is not JSON. */
  unreadableResult?: string;
}

export function matchNews(event: GameServerEvent): MatchNews | undefined {
  const gs = event.object;
  const annotations = gs.metadata.annotations;
  const matchId = annotations[MATCH_ID_ANNOTATION];
  if (!matchId) return undefined;
  const claimed = annotations[CLAIMED_ANNOTATION];
  const news: MatchNews = { matchId, started: !!claimed && claimed === annotations[LAST_ALLOCATED_ANNOTATION] };
  const written = annotations[MATCH_RESULT_ANNOTATION];
  if (written) {
    let result: unknown;
    try {
      result = JSON.parse(written);
    } catch {
      return { ...news, unreadableResult: written };
    }
    // A result that does not say which match it is for is taken as this one's.
    const namesMatch = typeof result === 'object' && result !== null && 'matchId' in result;
    if (!namesMatch || (result as { matchId: unknown }).matchId === matchId) return { ...news, ended: { result } };
  }
  const state = gs.status.state;
  if (event.type === 'deleted') return { ...news, ended: { result: { matchId, abandoned: true, reason: `its game server was deleted (last state ${state}) before it reported a result` } } };
  if (state === GameServerState.Ready) {
    return { ...news, ended: { result: { matchId, abandoned: true, reason: 'its game server went back to Ready before it reported a result (its players did not come, or the allocation was released)' } } };
  }
  return news;
}
