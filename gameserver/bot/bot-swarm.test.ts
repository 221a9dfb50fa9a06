import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freeUdpPort } from '../../test/helpers/free-port.js';
import type { ArenaServer } from '../arena-server.js';
import { mintConnectToken } from '../protocol/connect-token.js';
import { HANGAR_PROTOCOL_ID } from '../protocol/protocol-constants.js';
import { summarize, Swarm } from './bot-swarm.js';
import type { BotStats } from './bot.js';
import { startLoopbackArena } from '../../test/helpers/loopback-arena.js';

// What the bot summary says when the server goes away mid-run (a crash, a pulled cable): bots
// that had connected and then heard nothing are counted as lost, not as connected and fine.

const KEY = randomBytes(32);
const SERVER_ID = 'arena-bots';

describe('bot swarm', () => {
  let server: ArenaServer;
  let serverPort: number;
  let relayPort: number;
  /** Carries datagrams between the bots and the server until `cut`. */
  const relay = createSocket('udp4');
  let cut = false;

  beforeAll(async () => {
    serverPort = await freeUdpPort();
    server = await startLoopbackArena({ tokenKey: KEY, serverId: SERVER_ID, port: serverPort, capacity: 8 });
    // The server sees one peer, the relay; what it sends goes back to the bot that sent last.
    let lastBot: RemoteInfo | undefined;
    relay.on('message', (data, from) => {
      if (cut) return;
      if (from.port === serverPort) {
        if (lastBot) relay.send(data, lastBot.port, lastBot.address);
      } else {
        lastBot = from;
        relay.send(data, serverPort, '127.0.0.1');
      }
    });
    await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', () => resolve()));
    relayPort = relay.address().port;
  });

  afterAll(async () => {
    relay.close();
    await server.stop();
  });

  it('counts a bot its server disconnected before any match end as dropped, not as fine', () => {
    const bot = (state: BotStats['state'], matchEnded: boolean): BotStats => ({ state, connectedAtMs: 1000, snapshots: 30, missedSnapshots: 0, badMessages: 0, events: 1, rttMs: 1, matchEnded });
    // Turned away (say, by a server allocated to another match), played to the end, still playing.
    const summary = summarize([bot('disconnected', false), bot('disconnected', true), bot('connected', false)], 5, 6000);
    expect(summary).toMatchObject({ players: 3, connected: 3, stillConnected: 1, lost: 0, dropped: 1, failed: 0, matchesEnded: 1 });
  });

  it('counts a bot whose server stopped answering as lost, not as connected', async () => {
    const token = mintConnectToken({ key: KEY, protocolId: HANGAR_PROTOCOL_ID, serverId: SERVER_ID, playerId: 'bot-0', addresses: [`127.0.0.1:${relayPort}`], expiresInSeconds: 60, timeoutSeconds: 1 });
    const swarm = new Swarm({ tickRate: 30, bindAddress: '127.0.0.1' });
    const bot = await swarm.join(token);
    for (let i = 0; i < 100 && bot.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(bot.state).toBe('connected');
    cut = true;
    for (let i = 0; i < 150 && bot.state === 'connected'; i++) await new Promise((r) => setTimeout(r, 20));
    const summary = await swarm.stop();
    expect(summary).toMatchObject({ players: 1, connected: 1, failed: 0, stillConnected: 0, lost: 1, dropped: 0 });
  });
});
