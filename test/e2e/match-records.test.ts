import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REUSABLE_LABEL } from '../../core/hangar-metadata.js';
import type { GameServerSummary } from '../../fleets/http-api.js';
import type { LocalStack } from '../../fleets/local-stack.js';
import { runMatchmadeSwarm } from '../../gameserver/bot/matchmade-swarm.js';
import { arenaFleetYaml, stackFixture, startFixtureStack, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';

// The matches PostgreSQL keeps, on the real local stack, for the two ways they end that the
// journey test does not walk: one reusable game server playing match after match (each match keeps
// its own result, not the one before's, which the server still carries), and a server killed
// mid-match, or with the whole stack stopped under it (the match ends as abandoned instead of
// staying open for ever), but only its own: another stack's matches in the same database are not
// its to end.

const rules = `queues:
  - name: duel
    fleet: arena
    teams: { count: 2, size: 1 }
`;

interface MatchRow {
  id: string;
  game_server: string;
  site: string;
  players: Array<{ playerId: string }>;
  started_at: Date | null;
  ended_at: Date | null;
  result: { matchId?: string; reason?: string; abandoned?: boolean; scores?: Array<{ playerId: string }> } | null;
}

describe('match records on the local stack', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  let api: string;

  const servers = async () => ((await (await fetch(`${api}/v1/gameservers?fleet=arena`)).json()) as { items: GameServerSummary[] }).items;
  const matches = async () => (await stack.database.query<MatchRow>('SELECT id, game_server, site, players, started_at, ended_at, result FROM matches ORDER BY created_at')).rows;
  const duel = (durationSeconds: number) =>
    runMatchmadeSwarm({ lobbyUrl: `http://127.0.0.1:${stack.matchmaker.lobby.port}`, players: 2, queue: 'duel', latencies: { local: 10 }, tickRate: 30, durationSeconds, bindAddress: '127.0.0.1' });

  beforeAll(async () => {
    fixture = stackFixture({ matchmakingRules: rules });
    fixture.writeFleet('arena.yaml', arenaFleetYaml({ replicas: 1, players: 2, matchSeconds: 2, labels: { [REUSABLE_LABEL]: 'true' } }));
    await start();
  });

  const start = async () => {
    stack = await startFixtureStack(fixture);
    api = `http://127.0.0.1:${stack.apiPort}`;
  };

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  it('records each match a reusable server plays with its own result', async () => {
    const [server] = await waitFor('a Ready arena server', async () => {
      const ready = (await servers()).filter((g) => g.state === 'Ready');
      return ready.length === 1 ? ready : undefined;
    });
    for (let round = 1; round <= 2; round++) {
      const summary = await duel(20);
      expect(summary).toMatchObject({ matched: 2, connected: 2, failed: 0, lost: 0, matchesEnded: 2 });
      await waitFor(`match ${round} recorded with a result, the server Ready again`, async () => {
        const rows = await matches();
        const back = (await servers()).find((g) => g.name === server!.name)?.state === 'Ready';
        return rows.length === round && rows.every((r) => r.result) && back;
      });
    }
    const rows = await matches();
    expect(rows.map((r) => r.game_server)).toEqual([server!.name, server!.name]);
    // Its site: this stack's state directory on this host.
    expect(rows.map((r) => r.site)).toEqual([`local:${hostname()}:${fixture.stateDir}`, `local:${hostname()}:${fixture.stateDir}`]);
    for (const row of rows) {
      expect(row.result).toMatchObject({ matchId: row.id, reason: 'time' });
      expect(row.result!.scores!.map((s) => s.playerId).sort()).toEqual(row.players.map((p) => p.playerId).sort());
      // Ended by its own result, after it started, not when the next allocation found the last one's.
      expect(row.ended_at!.getTime()).toBeGreaterThan(row.started_at!.getTime() + 1500);
    }
  }, 90_000);

  it('ends a match whose server is killed mid-match as abandoned', async () => {
    const playing = duel(30);
    const victim = await waitFor('the duel under way on its server', async () => {
      const rows = await matches();
      const row = rows.length === 3 && rows[2]!.started_at ? rows[2] : undefined;
      return row && (await servers()).find((g) => g.name === row.game_server && g.state === 'Allocated');
    });
    process.kill(victim.pid!, 'SIGKILL');
    const [row] = await waitFor('the match ended without a result of its server', async () => {
      const ended = (await matches()).filter((r) => r.result?.abandoned);
      return ended.length ? ended : undefined;
    });
    expect(row!.game_server).toBe(victim.name);
    expect(row!.result).toEqual({ matchId: row!.id, abandoned: true, reason: 'its game server became Unhealthy (its process exited, or it stopped sending health pings) before it reported a result' });
    expect(row!.ended_at).not.toBeNull();
    // The bots lose their server: the run says so.
    expect(await playing).toMatchObject({ connected: 2, lost: 2 });
  }, 90_000);

  it("ends the matches a stopped stack left open when it starts again, and not another stack's", async () => {
    const before = (await matches()).length;
    const playing = duel(30);
    const { id } = await waitFor('a new match under way', async () => (await matches()).find((r, i) => i >= before && r.started_at));
    // Another local stack on this database, with its own state directory, is playing a match on a
    // server this stack does not have.
    const elsewhere = `local:${hostname()}:${fixture.dir}/other-stack/state`;
    await stack.database.query("INSERT INTO matches (id, queue, mode, fleet, game_server, created_at, site) VALUES ('elsewhere', 'duel', 'duel', 'arena', 'arena-other', now() - interval '1 minute', $1)", [elsewhere]);
    await stack.stop();
    await playing;
    await start();
    const row = await waitFor('the match ended as abandoned', async () => (await matches()).find((r) => r.id === id && r.result?.abandoned));
    // Ended by the new stack's sweep: the stopped one recorded no end.
    expect(row.result).toEqual({ matchId: id, abandoned: true, reason: 'its game server was gone when the matchmaker started, and no result had been recorded' });
    expect((await matches()).find((r) => r.id === 'elsewhere')).toMatchObject({ site: elsewhere, ended_at: null, result: null });
  }, 90_000);
});
