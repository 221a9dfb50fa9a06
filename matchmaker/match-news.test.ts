import { describe, expect, it } from '@jest/globals';
import { GameServerState, type GameServer } from '../core/game-server.js';
import { CLAIMED_ANNOTATION, LAST_ALLOCATED_ANNOTATION, MATCH_ID_ANNOTATION, MATCH_RESULT_ANNOTATION } from '../core/hangar-metadata.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { GameServerEvent, GameServerEventType } from '../store/game-server-store.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { matchNews, recordMatchNews } from './match-news.js';

const ALLOCATED_AT = '2026-11-28T01:00:00.000Z';

/** A game server in `state` with these annotations, as a watch event of `type`. */
function event(state: GameServerState, annotations: Record<string, string>, type: GameServerEventType = 'modified') {
  const gs: GameServer = testGameServer('gs-1', { fleet: 'arena' });
  return { type, object: { ...gs, metadata: { ...gs.metadata, annotations }, status: { ...gs.status, state } } };
}

describe('matchNews', () => {
  const allocated = { [MATCH_ID_ANNOTATION]: 'm-2', [LAST_ALLOCATED_ANNOTATION]: ALLOCATED_AT };
  const claimed = { ...allocated, [CLAIMED_ANNOTATION]: ALLOCATED_AT };

  it('says nothing of a server without a match, and that a match started once its allocation is claimed', () => {
    expect(matchNews(event(GameServerState.Ready, {}))).toBeUndefined();
    expect(matchNews(event(GameServerState.Allocated, allocated))).toEqual({ matchId: 'm-2', started: false });
    expect(matchNews(event(GameServerState.Allocated, claimed))).toEqual({ matchId: 'm-2', started: true });
    // A claim of an earlier allocation of the same server is not this one's.
    expect(matchNews(event(GameServerState.Allocated, { ...allocated, [CLAIMED_ANNOTATION]: '2026-11-28T00:00:00.000Z' }))?.started).toBe(false);
  });

  it("ends a match with its server's result, and not with the result a reusable server kept from its last match", () => {
    const result = { matchId: 'm-2', winner: 'p1' };
    expect(matchNews(event(GameServerState.Allocated, { ...claimed, [MATCH_RESULT_ANNOTATION]: JSON.stringify(result) }))?.ended).toEqual({ result });
    // A result that names no match (another game's server) is taken as this match's.
    expect(matchNews(event(GameServerState.Shutdown, { ...claimed, [MATCH_RESULT_ANNOTATION]: '{"winner":"p2"}' }))?.ended).toEqual({ result: { winner: 'p2' } });
    const stale = { ...claimed, [MATCH_RESULT_ANNOTATION]: JSON.stringify({ matchId: 'm-1', winner: 'p9' }) };
    expect(matchNews(event(GameServerState.Allocated, stale))).toEqual({ matchId: 'm-2', started: true });
    expect(matchNews(event(GameServerState.Allocated, { ...claimed, [MATCH_RESULT_ANNOTATION]: 'done!' }))).toEqual({ matchId: 'm-2', started: true, unreadableResult: 'done!' });
  });

  it('ends a match its server never reported on as abandoned: the server Unhealthy, deleted, or back to Ready', () => {
    const unhealthy = { result: { matchId: 'm-2', abandoned: true, reason: 'its game server became Unhealthy (its process exited, or it stopped sending health pings) before it reported a result' } };
    expect(matchNews(event(GameServerState.Unhealthy, claimed))?.ended).toEqual(unhealthy);
    expect(matchNews(event(GameServerState.Unhealthy, claimed, 'deleted'))?.ended).toEqual(unhealthy);
    expect(matchNews(event(GameServerState.Shutdown, claimed, 'deleted'))?.ended).toEqual({
      result: { matchId: 'm-2', abandoned: true, reason: 'its game server was deleted (last state Shutdown) before it reported a result' },
    });
    const released = { ...allocated, [MATCH_RESULT_ANNOTATION]: JSON.stringify({ matchId: 'm-1' }) };
    expect(matchNews(event(GameServerState.Ready, released))?.ended).toEqual({
      result: { matchId: 'm-2', abandoned: true, reason: 'its game server went back to Ready before it reported a result (its players did not come, or the allocation was released)' },
    });
    // A reusable server back to Ready after reporting: its match ended with its result.
    expect(matchNews(event(GameServerState.Ready, { ...claimed, [MATCH_RESULT_ANNOTATION]: '{"matchId":"m-2"}' }))?.ended).toEqual({ result: { matchId: 'm-2' } });
  });
});

describe('recordMatchNews', () => {
  it("writes a match's start and end once each, however many changes of its server carry them", () => {
    let listener: (e: GameServerEvent) => void = () => undefined;
    const written: string[] = [];
    recordMatchNews(
      { watch: (fn) => ((listener = fn), () => undefined) },
      { matchStarted: (id) => void written.push(`started ${id}`), matchEnded: (id, result) => void written.push(`ended ${id} ${JSON.stringify(result)}`) },
      systemClock,
      silentLogger,
    );
    const claimed = { [MATCH_ID_ANNOTATION]: 'm-2', [LAST_ALLOCATED_ANNOTATION]: ALLOCATED_AT, [CLAIMED_ANNOTATION]: ALLOCATED_AT };
    const reported = { ...claimed, [MATCH_RESULT_ANNOTATION]: '{"matchId":"m-2","winner":"p1"}' };
    listener(event(GameServerState.Allocated, claimed));
    listener(event(GameServerState.Allocated, claimed));
    // The result, then the players leaving one by one, the server going back to Ready and being deleted.
    for (let i = 0; i < 3; i++) listener(event(GameServerState.Allocated, reported));
    listener(event(GameServerState.Ready, reported));
    listener(event(GameServerState.Ready, reported, 'deleted'));
    expect(written).toEqual(['started m-2', 'ended m-2 {"matchId":"m-2","winner":"p1"}']);
  });
});
