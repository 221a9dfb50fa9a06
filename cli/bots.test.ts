import { describe, expect, it } from '@jest/globals';
import type { MatchmadeSummary } from '../gameserver/bot/matchmade-swarm.js';
import { matchmadeSummaryLines } from './bots.js';

// The summary `hangar bots --matchmake` ends with: every bot accounted for, in words.

function summary(overrides: Partial<MatchmadeSummary>): MatchmadeSummary {
  return {
    players: 10,
    connected: 8,
    stillConnected: 8,
    lost: 0,
    dropped: 0,
    failed: 2,
    failures: {},
    durationSeconds: 15.06,
    rttMs: { p50: 16.6, p99: 30.2 },
    loss: 0,
    snapshotsPerSecond: 30,
    badMessages: 0,
    matchesEnded: 0,
    matched: 8,
    matches: 1,
    lobbyFailures: {},
    stillWaiting: 2,
    timeToMatchMs: { p50: 100, p99: 101, max: 101 },
    timeToConnectedMs: { p50: 123, p99: 123, max: 123 },
    ...overrides,
  };
}

describe('hangar bots --matchmake summary', () => {
  it('says which players were never matched and why, and lists connection failures only when there are some', () => {
    expect(matchmadeSummaryLines(summary({}))).toEqual([
      'matchmaking: 8/10 matched into 1 matches (not matched: 2 still waiting at the end)',
      'time to match p50 100 ms, p99 101 ms; time to connected p50 123 ms, p99 123 ms (from ticket submitted)',
      'bots: 8/10 connected over 15.1 s',
      'rtt p50 16.6 ms, p99 30.2 ms; snapshot loss 0.00 %; 30.0 snapshots/s per bot',
      'bad messages 0; matches ended 0',
    ]);
    const lines = matchmadeSummaryLines(summary({ connected: 7, failed: 3, failures: { 'timed out': 1 }, stillWaiting: 1, lobbyFailures: { 'TIMED-OUT': 1 } }));
    expect(lines[0]).toBe('matchmaking: 8/10 matched into 1 matches (not matched: 1 TIMED-OUT, 1 still waiting at the end)');
    expect(lines[2]).toBe('bots: 7/10 connected (1 timed out) over 15.1 s');
    expect(matchmadeSummaryLines(summary({ lost: 2, stillConnected: 6 }))[2]).toBe('bots: 8/10 connected, then 2 timed out (their server stopped answering) over 15.1 s');
    expect(matchmadeSummaryLines(summary({ dropped: 2, stillConnected: 6 }))[2]).toBe('bots: 8/10 connected, then 2 disconnected by their server before their match ended over 15.1 s');
  });
});
