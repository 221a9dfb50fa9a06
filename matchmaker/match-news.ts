import type { Clock } from '../core/clock.js';
import { GameServerState } from '../core/game-server.js';
import { CLAIMED_ANNOTATION, LAST_ALLOCATED_ANNOTATION, MATCH_ID_ANNOTATION, MATCH_RESULT_ANNOTATION } from '../core/hangar-metadata.js';
import type { Logger } from '../core/logger.js';
import type { MatchRecords } from '../records/match-records.js';
import type { GameServerEvent, GameServerStore } from '../store/game-server-store.js';

// What a change to a game server says about the match it was allocated for, as the matchmaker's
// watch reads it: the match started (its first player arrived), it ended with the result its server
// reported, or it ended without one, because the server was deleted or went back to Ready before
// reporting (killed, its players never came), or it became Unhealthy. A reusable server still carries its last
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
  // Unhealthy is terminal (Agones deletes the server next): the match ends now, and the record says
  // the server failed rather than only that it was deleted.
  if (state === GameServerState.Unhealthy) {
    return { ...news, ended: { result: { matchId, abandoned: true, reason: 'its game server became Unhealthy (its process exited, or it stopped sending health pings) before it reported a result' } } };
  }
  if (event.type === 'deleted') return { ...news, ended: { result: { matchId, abandoned: true, reason: `its game server was deleted (last state ${state}) before it reported a result` } } };
  if (state === GameServerState.Ready) {
    return { ...news, ended: { result: { matchId, abandoned: true, reason: 'its game server went back to Ready before it reported a result (its players did not come, or the allocation was released)' } } };
  }
  return news;
}

/**
 * Writes to `records` what each change of `gameServers` (the local store, the Redis store, or
 * Agones' GameServers) says about its match; returns the function that stops watching.
 */
const ENDS_REMEMBERED = 10_000;

export function recordMatchNews(gameServers: Pick<GameServerStore, 'watch'>, records: Pick<MatchRecords, 'matchStarted' | 'matchEnded'>, clock: Clock, log: Logger): () => void {
  // Matches this process saw start and not yet end: each start is written once.
  const started = new Set<string>();
  // Matches whose end this process wrote, the newest ENDS_REMEMBERED: a server keeps its result
  // through every later change (its players leaving, a reusable server back to Ready), and only the
  // first end counts, so each is written once rather than once per change.
  const ended = new Set<string>();
  return gameServers.watch((e) => {
    const news = matchNews(e);
    if (!news) return;
    if (news.started && !started.has(news.matchId) && !ended.has(news.matchId)) {
      started.add(news.matchId);
      records.matchStarted(news.matchId, new Date(clock.now()));
    }
    if (news.unreadableResult !== undefined) log.warn({ matchId: news.matchId, result: news.unreadableResult }, 'a game server reported a match result that is not JSON');
    if (!news.ended || ended.has(news.matchId)) return;
    started.delete(news.matchId);
    ended.add(news.matchId);
    if (ended.size > ENDS_REMEMBERED) ended.delete(ended.values().next().value as string);
    records.matchEnded(news.matchId, news.ended.result, new Date(clock.now()));
  });
}
