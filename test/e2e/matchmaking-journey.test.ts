import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GameServerSummary } from '../../fleets/http-api.js';
import type { ApplyResult } from '../../fleets/resource-applier.js';
import type { LocalStack } from '../../fleets/local-stack.js';
import { runMatchmadeSwarm } from '../../gameserver/bot/matchmade-swarm.js';
import { LobbyClient } from '../../matchmaker/lobby/lobby-client.js';
import { arenaFleetYaml, stackFixture, startFixtureStack, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';

// The player's journey on the real local stack, as `hangar bots --matchmake` walks it: guest login
// at the lobby, a ticket over the WebSocket, the accept step, the matchmaker's allocation and
// connect token, UDP to the real arena game server, the match to its end; then the servers shut
// down, the fleet replaces them, and the matches and their results are in PostgreSQL.

const rules = `queues:
  - name: squads
    fleet: arena
    teams: { count: 2, size: 2 }
    maxPartySize: 2
    latency: { initial: 50 }
    accept: { timeoutSeconds: 5 }
`;

describe('the player journey on the local stack', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  let api: string;

  const servers = async () => ((await (await fetch(`${api}/v1/gameservers?fleet=arena`)).json()) as { items: GameServerSummary[] }).items;

  beforeAll(async () => {
    fixture = stackFixture({ matchmakingRules: rules });
    fixture.writeFleet('arena.yaml', arenaFleetYaml({ replicas: 2, players: 8, matchSeconds: 3 }));
    stack = await startFixtureStack(fixture);
    api = `http://127.0.0.1:${stack.apiPort}`;
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  it('logs 8 bots in, matches them in two matches, connects them over UDP, plays to the end, and records it', async () => {
    const before = await waitFor('2 Ready arena servers', async () => {
      const ready = (await servers()).filter((g) => g.state === 'Ready');
      return ready.length === 2 ? ready : undefined;
    });

    const summary = await runMatchmadeSwarm({
      lobbyUrl: `http://127.0.0.1:${stack.matchmaker.lobby.port}`,
      players: 8,
      queue: 'squads',
      latencies: { local: 10 },
      tickRate: 30,
      durationSeconds: 30,
      bindAddress: '127.0.0.1',
    });
    expect(summary.lobbyFailures).toEqual({});
    expect(summary).toMatchObject({ players: 8, matched: 8, matches: 2, connected: 8, failed: 0, badMessages: 0, matchesEnded: 8, lobbyFailures: {}, stillWaiting: 0 });
    // Connected comes after matched, which comes after the accept step's round trip.
    expect(summary.timeToMatchMs.p50).toBeGreaterThan(0);
    expect(summary.timeToConnectedMs.p50).toBeGreaterThan(summary.timeToMatchMs.p50);

    const { rows } = await stack.database.query<{ id: string; game_server: string; players: unknown[]; created_at: Date; started_at: Date | null }>('SELECT id, game_server, players, created_at, started_at FROM matches ORDER BY created_at');
    expect(rows).toHaveLength(2);
    // Started when the first player reached the server, after the match was made.
    for (const r of rows) expect(r.started_at!.getTime()).toBeGreaterThanOrEqual(r.created_at.getTime());
    expect(new Set(rows.map((r) => r.game_server))).toEqual(new Set(before.map((g) => g.name)));
    for (const r of rows) expect(r.players).toHaveLength(4);
    const results = await waitFor('both results recorded', async () => {
      const got = await stack.database.query<{ result: { reason: string } | null }>('SELECT result FROM matches WHERE result IS NOT NULL');
      return got.rows.length === 2 ? got.rows : undefined;
    });
    expect(results.map((r) => r.result!.reason)).toEqual(['time', 'time']);
    // Every player came: each session dated from matched, to connected (as the server reported it), to ended.
    const sessions = await stack.database.query<{ matched_at: Date; connected_at: Date | null; ended_at: Date | null }>('SELECT matched_at, connected_at, ended_at FROM player_sessions');
    expect(sessions.rows).toHaveLength(8);
    for (const s of sessions.rows) {
      expect(s.connected_at!.getTime()).toBeGreaterThanOrEqual(s.matched_at.getTime());
      expect(s.ended_at!.getTime()).toBeGreaterThan(s.connected_at!.getTime());
    }

    await waitFor('two new Ready servers in place of the finished ones', async () => {
      const list = await servers();
      return list.length === 2 && list.every((g) => g.state === 'Ready' && !before.some((b) => b.name === g.name));
    });
  }, 90_000);

  it('matches a party together, on one team, only with the consent of its members: a player id alone queues no one', async () => {
    await waitFor('a Ready arena server', async () => (await servers()).some((g) => g.state === 'Ready'));
    const lobby = `http://127.0.0.1:${stack.matchmaker.lobby.port}`;
    const [alice, bob, carol, dave] = (await Promise.all(['alice', 'bob', 'carol', 'dave'].map((name) => LobbyClient.connectAsGuest(lobby, name)))) as [LobbyClient, LobbyClient, LobbyClient, LobbyClient];
    try {
      const squads = { queue: 'squads', latencies: { local: 10 } };
      // Carol's id is no secret, but naming it puts her in no ticket: she stays free to queue.
      await expect(alice.submit({ ...squads, party: [carol.playerId] })).rejects.toMatchObject({ code: 'LOBBY_REQUEST_INVALID', problems: [expect.stringMatching(/^party\[0\]: must be a party pass/)] });

      const { pass } = await bob.partyPass(alice.playerId);
      const tickets = await Promise.all([alice.submit({ ...squads, party: [pass] }), carol.submit(squads), dave.submit(squads)]);
      const [a, b, c, d] = await Promise.all([alice.awaitMatch(tickets[0].ticketId), bob.awaitMatch(tickets[0].ticketId), carol.awaitMatch(tickets[1].ticketId), dave.awaitMatch(tickets[2].ticketId)]);
      expect(new Set([a, b, c, d].map((m) => m.matchId)).size).toBe(1);
      expect(b.team).toBe(a.team);
      expect(c.team).toBe(d.team);
      expect(c.team).not.toBe(a.team);
      expect(b.connectToken).not.toBe(a.connectToken);
    } finally {
      for (const client of [alice, bob, carol, dave]) client.close();
    }
  }, 30_000);

  it("warns at the fleet's MAX_PLAYERS when a queue's largest match no longer fits, whether the file is edited or applied", async () => {
    // The fixture lives in the system's temporary directory, outside where the tests run: named whole.
    const rulesFile = path.join(fixture.dir, 'matchmaking.yaml');
    const short = arenaFleetYaml({ replicas: 2, players: 3, matchSeconds: 3 });
    const lines = short.split('\n');
    const maxPlayersLine = lines.indexOf('                - name: MAX_PLAYERS') + 2;
    const warning = {
      line: maxPlayersLine,
      col: lines[maxPlayersLine - 1]!.indexOf('"3"') + 1,
      path: 'spec.template.spec.template.spec.containers[0].env[1].value',
      message: `queue squads (${rulesFile}): matches of up to 4 players go to fleet arena, whose game server admits 3 (MAX_PLAYERS here): players past 3 would be turned away`,
      severity: 'warning',
    };
    const reloaded = () => new Promise<Map<string, ApplyResult>>((resolve) => stack.onReload(resolve));

    let next = reloaded();
    fixture.writeFleet('arena.yaml', short);
    const fleetFile = path.join(fixture.fleetsDir, 'arena.yaml');
    expect((await next).get(fleetFile)?.problems).toEqual([{ file: fleetFile, ...warning }]);

    const apply = async (yaml: string) => fetch(`${api}/v1/apply?file=arena-short.yaml`, { method: 'POST', body: yaml });
    // While arena.yaml holds the fleet, an apply of it is refused (its next read would undo it)...
    expect((await apply(short)).status).toBe(409);
    // ...so the apply path is checked with the fleet out of the directory, and the file takes it back after.
    next = reloaded();
    rmSync(fleetFile);
    await next;
    expect(await (await apply(short)).json()).toMatchObject({ warnings: [{ file: 'arena-short.yaml', ...warning }] });
    expect(await (await apply(arenaFleetYaml({ replicas: 2, players: 4, matchSeconds: 3 }))).json()).toMatchObject({ warnings: [] });

    next = reloaded();
    fixture.writeFleet('arena.yaml', arenaFleetYaml({ replicas: 2, players: 4, matchSeconds: 3 }));
    expect((await next).get(fleetFile)?.problems).toEqual([]);
  }, 30_000);
});
