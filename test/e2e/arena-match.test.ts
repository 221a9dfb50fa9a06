import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadSecrets, parseKey } from '../../core/secrets.js';
import { MATCH_RESULT_ANNOTATION } from '../../core/hangar-metadata.js';
import type { GameServerSummary } from '../../fleets/http-api.js';
import type { LocalStack } from '../../fleets/local-stack.js';
import { runSwarm } from '../../gameserver/bot/bot-swarm.js';
import { mintConnectToken } from '../../gameserver/protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../../gameserver/protocol/protocol-constants.js';
import { arenaFleetYaml, stackFixture, startFixtureStack, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';

// A whole match on the local stack: the real arena game server (built by `npm test`'s pretest),
// its network path on two worker threads, bots connecting with tokens of the key the stack was
// given (ENCRYPTION_KEY, as a standalone matchmaker beside it would have it).
// The match runs to its time limit, every bot is told, the result lands on the GameServer, the
// server shuts down through the SDK and the fleet replaces it.

const KEY = randomBytes(32);

describe('an arena match on the local stack', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  let api: string;
  const results: string[] = [];
  /** Each record of a server whose players List had no room left while it still ran: its seats closed. */
  const seatsClosed = new Set<string>();

  const servers = async () => ((await (await fetch(`${api}/v1/gameservers?fleet=arena`)).json()) as { items: GameServerSummary[] }).items;

  beforeAll(async () => {
    fixture = stackFixture();
    fixture.writeFleet('arena.yaml', arenaFleetYaml({ replicas: 1, players: 50, matchSeconds: 4, networkWorkers: 2 }));
    const secrets = loadSecrets({ ENCRYPTION_KEY: KEY.toString('base64') });
    stack = await startFixtureStack(fixture, { secrets });
    api = `http://127.0.0.1:${stack.apiPort}`;
    stack.store.watch((e) => {
      const result = e.object.metadata.annotations[MATCH_RESULT_ANNOTATION];
      if (result && !results.includes(result)) results.push(result);
      const players = e.object.status.lists?.players;
      if (players && e.object.status.state !== 'Shutdown' && players.capacity <= players.values.length) seatsClosed.add(e.object.metadata.name);
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  it('plays to the time limit over two network workers, records the result, and is replaced', async () => {
    const [gs] = await waitFor('a Ready arena server', async () => {
      const list = (await servers()).filter((g) => g.state === 'Ready');
      return list.length ? list : undefined;
    });
    // The stack's game servers get ENCRYPTION_KEY through the fleet's secretKeyRef: its local Secret holds it.
    expect(parseKey(stack.secrets.read('hangar', 'encryption-key')!)).toEqual(KEY);
    const key = KEY;
    const addresses = gs!.ports.filter((p) => p.name.startsWith('default')).map((p) => `${gs!.address}:${p.port}`);
    expect(addresses).toHaveLength(2);
    const tokens = Array.from({ length: 12 }, (_, i) =>
      mintConnectToken({ key, protocolId: HANGAR_PROTOCOL_ID, serverId: gs!.name, playerId: `player-${i}`, addresses, expiresInSeconds: 60 }),
    );

    const swarm = runSwarm({ tokens, tickRate: 30, durationSeconds: 7, bindAddress: '127.0.0.1' });
    const metricsPort = gs!.ports.find((p) => p.name === 'metrics')!.port;
    const playing = await waitFor('12 players on the game server', async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      // Packet counters reach the metrics once a second from the workers: wait for both.
      return /^game_server_player_count 12$/m.test(text) && /^game_server_packets_received_total\{type="payload"\} \d+/m.test(text) ? text : undefined;
    });
    expect(playing).toMatch(/^game_server_connection_count 12$/m);
    // Each player's round-trip time, from the workers, once a second: a loopback's, well under a tick.
    const rtt = await waitFor('round-trip times from both workers', async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const count = Number(/^game_server_player_rtt_seconds_count (\d+)/m.exec(text)?.[1] ?? 0);
      return count >= 12 ? text : undefined;
    });
    const under = (le: string) => Number(rtt.split('\n').find((l) => l.startsWith(`game_server_player_rtt_seconds_bucket{le="${le}"} `))!.split(' ')[1]);
    expect(under('0.03') / under('+Inf')).toBeGreaterThan(0.9);
    const during = (await servers()).find((g) => g.name === gs!.name)!;
    expect(during.lists.players!.values).toHaveLength(12);

    const summary = await swarm;
    expect(summary).toMatchObject({ players: 12, connected: 12, failed: 0, badMessages: 0, matchesEnded: 12 });
    // Snapshots stop when the match ends (4 s into the 7 s run): judge delivery by the ticks missed.
    expect(summary.loss).toBeLessThan(0.05);

    await waitFor('the result on the GameServer', async () => results.length > 0);
    const result = JSON.parse(results[0]!) as { reason: string; scores: unknown[] };
    expect(result.reason).toBe('time');
    expect(result.scores).toHaveLength(12);
    // Ended, it closed its seats before shutting down: no backfill could send it players it would refuse.
    await waitFor('the seats closed before Shutdown', async () => seatsClosed.has(gs!.name));

    const replaced = await waitFor('a new Ready server in place of the finished one', async () => {
      const list = await servers();
      return list.length === 1 && list[0]!.name !== gs!.name && list[0]!.state === 'Ready' ? list[0] : undefined;
    });
    expect(replaced.name).not.toBe(gs!.name);
  }, 60_000);
});
