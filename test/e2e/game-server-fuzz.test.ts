import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGameServerMetrics, createRegistry } from '../../core/metrics.js';
import type { ArenaServer } from '../../gameserver/arena-server.js';
import { runSwarm } from '../../gameserver/bot/bot-swarm.js';
import { ClientEndpoint } from '../../gameserver/protocol/client-endpoint.js';
import { mintConnectToken } from '../../gameserver/protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../../gameserver/protocol/protocol-constants.js';
import { seededRandom } from '../../core/seeded-random.js';
import { freeUdpPort } from '../helpers/free-port.js';
import { startLoopbackArena } from '../helpers/loopback-arena.js';

// The game server under fire: while bots play, 100,000 hostile datagrams (random bytes, mutations
// of real packets, handshakes with forged, expired and foreign tokens) arrive over real UDP. After
// it, the server must still tick on time and every bot must still be connected.

const KEY = randomBytes(32);
const SERVER_ID = 'arena-fuzz';
const DATAGRAMS = 100_000;

describe('game server under a datagram fuzz', () => {
  let server: ArenaServer;
  let port: number;
  const registry = createRegistry();
  const metrics = createGameServerMetrics(registry);

  beforeAll(async () => {
    port = await freeUdpPort();
    server = await startLoopbackArena({ tokenKey: KEY, serverId: SERVER_ID, port, capacity: 64, metrics });
  });

  afterAll(async () => {
    await server.stop();
  });

  /** Real client packets to mutate: a request and a few payloads, captured from an endpoint. */
  function capturedPackets(): Buffer[] {
    const captured: Buffer[] = [];
    const token = mintConnectToken({ key: KEY, protocolId: HANGAR_PROTOCOL_ID, serverId: SERVER_ID, playerId: 'sniffed', addresses: [`127.0.0.1:${port}`], expiresInSeconds: 60 });
    const client = new ClientEndpoint({ token, now: Date.now, send: (d) => captured.push(Buffer.from(d)), onMessage: () => undefined });
    client.connect();
    client.update();
    return captured;
  }

  function hostile(random: () => number, seeds: Buffer[]): Buffer {
    const int = (n: number) => Math.floor(random() * n);
    const pick = seeds[int(seeds.length)]!;
    switch (int(7)) {
      case 0:
        return randomBytes(int(1400));
      case 1: {
        const copy = Buffer.from(pick);
        for (let i = 0, n = 1 + int(8); i < n; i++) copy[int(copy.length)]! ^= 1 << int(8);
        return copy;
      }
      case 2:
        return pick.subarray(0, int(pick.length));
      case 3:
        return Buffer.concat([pick, randomBytes(1 + int(200))]);
      case 4: {
        const copy = Buffer.from(pick);
        copy[3] = int(256);
        return copy;
      }
      case 5:
        return Buffer.concat([Buffer.from('HG'), randomBytes(int(1300))]);
      default:
        return pick;
    }
  }

  it('keeps ticking and keeps every bot connected through 100,000 hostile datagrams', async () => {
    const tokens = Array.from({ length: 16 }, (_, i) =>
      mintConnectToken({ key: KEY, protocolId: HANGAR_PROTOCOL_ID, serverId: SERVER_ID, playerId: `bot-${i}`, addresses: [`127.0.0.1:${port}`], expiresInSeconds: 60 }),
    );
    const swarm = runSwarm({ tokens, tickRate: 30, durationSeconds: 20, bindAddress: '127.0.0.1' });

    // Seeds: real requests for this server, for another server, expired, and under another key.
    const seeds = [
      ...capturedPackets(),
      ...[
        { serverId: 'another-server', key: KEY, expiresInSeconds: 60 },
        { serverId: SERVER_ID, key: KEY, expiresInSeconds: 60, now: Date.now() - 120_000 },
        { serverId: SERVER_ID, key: randomBytes(32), expiresInSeconds: 60 },
      ].flatMap((o) => {
        const out: Buffer[] = [];
        const token = mintConnectToken({ protocolId: HANGAR_PROTOCOL_ID, playerId: 'intruder', addresses: [`127.0.0.1:${port}`], ...o });
        const c = new ClientEndpoint({ token, now: Date.now, send: (d) => out.push(Buffer.from(d)), onMessage: () => undefined });
        c.connect();
        c.update();
        return out;
      }),
    ];

    await new Promise((r) => setTimeout(r, 3000)); // bots connected and playing
    const ticksBefore = server.loop.stats().ticks;
    const fuzzer = createSocket('udp4');
    await new Promise<void>((r) => fuzzer.bind(0, '127.0.0.1', () => r()));
    const random = seededRandom(404);
    const rejectedByReason = async () => {
      const text = await registry.metrics();
      return [...text.matchAll(/^game_server_packets_rejected_total\{reason="([^"]+)"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])] as const);
    };
    const totalOf = (rejected: ReadonlyArray<readonly [unknown, number]>) => rejected.reduce((n, [, v]) => n + v, 0);
    // The fuzzer shares this process's event loop with the server, which reads at most 32
    // datagrams a turn (libuv): bursts of 32, one per turn, keep the kernel from dropping most of
    // them. On a loaded machine it still drops some, which never reach the server: the fuzz goes
    // on until the server has refused DATAGRAMS of them (its counters reach the metrics each second).
    for (let sent = 0; sent < 3 * DATAGRAMS && totalOf(await rejectedByReason()) < DATAGRAMS; ) {
      for (let end = sent + 3200; sent < end; sent += 32) {
        for (let i = 0; i < 32; i++) fuzzer.send(hostile(random, seeds), port, '127.0.0.1');
        await new Promise((r) => setImmediate(r));
      }
    }
    await new Promise<void>((r) => fuzzer.close(() => r()));
    await new Promise((r) => setTimeout(r, 1100)); // the last second's counters

    const summary = await swarm;
    const stats = server.loop.stats();
    expect(summary.connected).toBe(16);
    expect(summary.stillConnected).toBe(16);
    expect(summary.badMessages).toBe(0);
    expect(stats.errors).toBe(0);
    // Still ticking: well over half the ticks the fuzz lasted were run (a shared CI machine may stall a few).
    expect(stats.ticks - ticksBefore).toBeGreaterThan(150);
    expect(server.loop.isProgressing()).toBe(true);
    // Every hostile datagram that reached the server was refused and counted by reason; none was accepted.
    const rejected = await rejectedByReason();
    expect(totalOf(rejected)).toBeGreaterThanOrEqual(DATAGRAMS);
    expect(rejected.map(([r]) => r)).toEqual(expect.arrayContaining(['foreign', 'unknown-address']));
  }, 60_000);
});
