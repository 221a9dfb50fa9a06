import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { Bot } from './bot/bot.js';
import { mintConnectToken } from './protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from './protocol/protocol-constants.js';
import { freeUdpPort } from '../test/helpers/free-port.js';
import { startLoopbackArena } from '../test/helpers/loopback-arena.js';

// TICK_SPIN_MS reaches the tick loop: with players connected the server waits the last stretch
// before each tick on event-loop turns, unless its fleet set 0 (servers packed on shared cores).

const KEY = randomBytes(32);

async function spinTurnsWithOnePlayer(tickSpinMs: number | undefined): Promise<number> {
  const port = await freeUdpPort();
  const server = await startLoopbackArena({ tokenKey: KEY, serverId: 'arena-spin', port, capacity: 4, settings: { tickSpinMs, scoreLimit: 100 } });
  const bot = new Bot({ token: mintConnectToken({ key: KEY, protocolId: HANGAR_PROTOCOL_ID, serverId: 'arena-spin', playerId: 'p1', addresses: [`127.0.0.1:${port}`], expiresInSeconds: 30 }), seed: 1 });
  try {
    await bot.start();
    while (server.playerCount === 0) await new Promise((r) => setTimeout(r, 5));
    const from = server.loop.stats().ticks;
    while (server.loop.stats().ticks < from + 10) await new Promise((r) => setTimeout(r, 10));
    return server.loop.stats().spinTurns;
  } finally {
    await bot.stop();
    await server.stop();
  }
}

describe('ArenaServer tick timing', () => {
  it('spins before ticks while a player is connected by default, and not at all with tickSpinMs 0', async () => {
    expect(await spinTurnsWithOnePlayer(undefined)).toBeGreaterThan(0);
    expect(await spinTurnsWithOnePlayer(0)).toBe(0);
  });
});
