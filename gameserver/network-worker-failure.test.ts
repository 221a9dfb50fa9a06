import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { GameServerState as S, type GameServer } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import { createGameServerMetrics, Registry } from '../core/metrics.js';
import { startLocalSdkServer } from '../fleets/sdk-server/local-sdk-server.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { freeTcpPort, freeUdpPort } from '../test/helpers/free-port.js';
import { testGameServer, testSpec } from '../test/helpers/game-servers.js';
import { FAULTY_NETWORK_WORKER, injectFault } from '../test/helpers/network-worker-faults.js';
import { AgonesAgent } from './agones-agent.js';
import { agonesHooks, ArenaServer } from './arena-server.js';
import { Bot } from './bot/bot.js';
import { startGameServerAdmin, type GameServerAdmin } from './game-server-admin.js';
import { WorkerNetwork } from './net/worker-network.js';
import { mintConnectToken } from './protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from './protocol/protocol-constants.js';

// A game server mid-match on two network workers, one of which fails: the whole server as
// gameserver/main.ts puts it together (arena, real workers over real sockets, a real AgonesAgent on
// Hangar's local SDK server, the admin port), with bots for players. What an operator must see: the
// failure logged once and counted, the lost players gone from the counts and the players List, the
// server not ready and taking nobody new, the other worker's players still playing, and Shutdown
// once they are done.

const NAME = 'gs-net-fail';
const KEY = randomBytes(32);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  for (let waited = 0; waited < 8000; waited += 10) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface LogLine {
  level: number;
  msg: string;
  worker?: number;
  port?: number;
  connectionsDropped?: number;
  playersLeft?: number;
  err?: { code?: string; message: string; stack: string };
}

describe('a game server whose network worker fails mid-match', () => {
  it('reports it once, drops its players from the counts and the players List, goes not ready, keeps the rest playing, and shuts down after them', async () => {
    const ports = [await freeUdpPort(), await freeUdpPort()];
    const metricsPort = await freeTcpPort();
    const store = new MemoryGameServerStore();
    cleanups.push(() => store.close());
    const base = testGameServer(NAME, { fleet: 'arena', spec: testSpec({ lists: { players: { capacity: 8, values: [] } } }) });
    const record: GameServer = {
      ...base,
      status: {
        ...base.status,
        state: S.Allocated,
        address: '127.0.0.1',
        ports: [
          { name: 'default', port: ports[0]! },
          { name: 'default-1', port: ports[1]! },
          { name: 'metrics', port: metricsPort },
        ],
      },
    };
    await store.create(record);
    const sdkServer = await startLocalSdkServer({ gameServerName: NAME, store, clock: new FakeClock(), log: silentLogger, onHealthFailure: () => undefined });
    cleanups.push(() => sdkServer.close());
    process.env.AGONES_SDK_GRPC_PORT = String(sdkServer.port);

    const lines: LogLine[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
    const registry = new Registry();
    const metrics = createGameServerMetrics(registry);
    const agent = await AgonesAgent.connect({ log: silentLogger, metrics, noShowSeconds: 0 });
    cleanups.push(() => agent.close());

    // As gameserver/main.ts wires them.
    let admin: GameServerAdmin | undefined;
    const arena = new ArenaServer({
      settings: { tickRate: 30, tickSpinMs: 0, matchSeconds: 600, scoreLimit: 10_000, capacity: 8, viewRadius: 30, maxVisible: 8 },
      network: new WorkerNetwork({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: NAME, maxClients: 8, bindAddress: '127.0.0.1', ports }, FAULTY_NETWORK_WORKER),
      log,
      metrics,
      hooks: agonesHooks(agent, { onMatchEnd: () => undefined, retire: (reason) => void admin?.retire(reason) }),
    });
    await arena.start();
    cleanups.push(() => arena.stop());
    admin = await startGameServerAdmin({ agent, registry, metrics, log: silentLogger, host: '127.0.0.1', isListening: () => arena.isListening, isNetworkWhole: () => arena.isNetworkWhole });
    cleanups.push(() => admin!.close());
    admin.markStarted();
    const url = (p: string) => `http://127.0.0.1:${metricsPort}${p}`;
    const ready = async () => {
      const res = await fetch(url('/health/ready'));
      return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, boolean> } };
    };

    // Each bot's token names one port: alice on worker 0, bob and carol on worker 1.
    const bots = new Map<string, Bot>();
    const join = async (playerId: string, worker: number) => {
      const token = mintConnectToken({ key: KEY, protocolId: HANGAR_PROTOCOL_ID, serverId: NAME, playerId, addresses: [`127.0.0.1:${ports[worker]}`], expiresInSeconds: 30 });
      const bot = new Bot({ token, seed: bots.size + 1 });
      bots.set(playerId, bot);
      await bot.start();
      return bot;
    };
    const botTicker = setInterval(() => {
      for (const bot of bots.values()) bot.tick();
    }, 33);
    cleanups.push(async () => {
      clearInterval(botTicker);
      for (const bot of bots.values()) await bot.stop();
    });
    const alice = await join('alice', 0);
    const bob = await join('bob', 1);
    await join('carol', 1);
    const playersList = async () => (await store.get(NAME))!.status.lists.players!;
    await until('three players in, and listed', async () => arena.playerCount === 3 && (await playersList()).values.length === 3);
    await until('snapshots for bob', () => bob.stats.snapshots > 0);
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready', checks: { listening: true, sdk: true, network: true } } });

    injectFault(ports[1]!, 'throw');
    await until('the failure counted', async () => (await registry.getSingleMetric('game_server_errors_total')!.get()).values.find((v) => v.labels.error_type === 'network_worker')?.value === 1);

    // Logged once, naming the worker, its port and what it threw.
    const failures = lines.filter((l) => l.msg.startsWith('network worker failed'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      level: 50,
      worker: 1,
      port: ports[1],
      connectionsDropped: 2,
      playersLeft: 1,
      // pino prints the cause after the message, and its stack after the error's.
      err: { code: 'NETWORK_WORKER_FAILED', message: `network worker 1 (UDP port ${ports[1]}) threw an uncaught exception: injected fault in the network worker on port ${ports[1]}`, stack: expect.stringContaining('caused by: Error: injected fault') },
    });

    // The counts are true again: the simulation's, the agent's, the gauge's and the players List's.
    expect(arena.playerCount).toBe(1);
    expect(agent.playerCount).toBe(1);
    expect((await registry.getSingleMetric('game_server_player_count')!.get()).values[0]!.value).toBe(1);
    await until('the players List down to alice', async () => (await playersList()).values.join() === 'alice');

    // Not ready, and says why; still live; no seats left for a backfill.
    expect(await ready()).toEqual({ status: 503, body: { status: 'not ready', checks: { listening: true, sdk: true, network: false } } });
    expect(await (await fetch(url('/metrics'))).text()).toMatch(/^hangar_readiness_check\{check="network"\} 0$/m);
    expect((await fetch(url('/health/live'))).status).toBe(200);
    expect(agent.mayAcceptPlayer()).toBe(false);
    await until('the players List closed', async () => (await playersList()).capacity === 1);

    // Alice plays on: snapshots keep coming from worker 0.
    const before = alice.stats.snapshots;
    await until('ten more snapshots for alice', () => alice.stats.snapshots >= before + 10);
    expect(alice.state).toBe('connected');
    expect(alice.stats.badMessages).toBe(0);
    // A newcomer on the healthy worker is refused: the server takes nobody new.
    const dave = await join('dave', 0);
    await until('dave refused', () => dave.state === 'disconnected');
    expect(arena.playerCount).toBe(1);
    expect((await store.get(NAME))!.status.state).toBe(S.Allocated);

    // The last player leaves: the server shuts down through the SDK, and the fleet replaces it.
    await alice.stop();
    bots.delete('alice');
    await until('Shutdown', async () => (await store.get(NAME))!.status.state === S.Shutdown);
    expect(lines.filter((l) => l.msg.startsWith('network worker failed'))).toHaveLength(1);
  });
});
