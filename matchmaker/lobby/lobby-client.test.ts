import { afterEach, describe, expect, it } from '@jest/globals';
import { TcpRelay } from '../../test/helpers/tcp-relay.js';
import { LobbyClient } from './lobby-client.js';
import { eventually, startTestLobby, type TestLobby } from './lobby-test-harness.js';

// The player's lobby client against a real lobby, through a TCP relay the test can cut (a dropped
// connection) and hold (the client cannot get back in yet).

const DUEL = { queue: 'duel', latencies: { 'eu-west': 20 } };
const SERVER = { address: '127.0.0.1', port: 7100, ports: [{ name: 'default', port: 7100 }], name: 'arena-1' };

describe('LobbyClient', () => {
  let lobby: TestLobby | undefined;
  let relay: TcpRelay | undefined;
  let client: LobbyClient | undefined;
  afterEach(async () => {
    client?.close();
    await relay?.close();
    await lobby?.close();
    [lobby, relay, client] = [undefined, undefined, undefined];
  });

  /** A guest at a real lobby through the relay, waiting on the duel ticket it submitted. */
  async function start() {
    lobby = await startTestLobby({ environment: 'development' });
    relay = await TcpRelay.start('127.0.0.1', lobby.server.port);
    client = await LobbyClient.connectAsGuest(`http://127.0.0.1:${relay.port}`, 'ada');
    const { ticketId } = await client.submit(DUEL);
    return { lobby, relay, client, ticketId, matched: client.awaitMatch(ticketId) };
  }

  /** The player's connection dropped, and its way back in held until `relay.release()`. */
  async function dropConnection(lobby: TestLobby, relay: TcpRelay): Promise<void> {
    relay.hold();
    relay.cut();
    await eventually(() => lobby.server.connections === 0);
  }

  it('reconnects after a dropped connection and hears, through the ticket status, the match pushed while it was away', async () => {
    const { lobby, relay, client, ticketId, matched } = await start();
    await dropConnection(lobby, relay);
    // Matched while the player has no socket: the push reaches no one.
    lobby.matchmaking.match('match-1', [ticketId], SERVER);
    relay.release();

    expect(await matched).toMatchObject({ type: 'matched', ticketId, matchId: 'match-1', server: SERVER });
    expect(lobby.server.connections).toBe(1);
    const statuses = lobby.matchmaking.calls.filter((c) => c.method === 'status');
    expect(statuses).toEqual([{ method: 'status', playerId: client.playerId, args: [ticketId] }]);
  });

  it('goes on hearing pushes on the new socket', async () => {
    const { lobby, relay, ticketId, matched } = await start();
    await dropConnection(lobby, relay);
    relay.release();
    await eventually(() => lobby.server.connections === 1);

    lobby.matchmaking.match('match-2', [ticketId], SERVER);
    expect(await matched).toMatchObject({ type: 'matched', ticketId, matchId: 'match-2' });
  });

  it('gives up at once on a close that asks for a new login (4001, token expired): the awaited match is rejected, naming the close', async () => {
    // A heartbeat longer than the token: the fake clock would otherwise pass a ping unanswered.
    lobby = await startTestLobby({ environment: 'development', tokenTtlSeconds: 60, heartbeatSeconds: 120 });
    client = await LobbyClient.connectAsGuest(lobby.url, 'ada');
    const { ticketId } = await client.submit(DUEL);
    const matched = client.awaitMatch(ticketId);
    lobby.clock.advance(60_000);
    await expect(matched).rejects.toMatchObject({ code: 'LOBBY_CONNECTION_LOST', message: expect.stringContaining('4001 token expired') });
  });

  it('stops trying when the lobby refuses the login on the way back (401), instead of trying again and again', async () => {
    const { lobby, relay, matched } = await start();
    // Counted before the cut: the client's first attempt to come back may reach the relay at once.
    const connectionsBefore = relay.accepted;
    await dropConnection(lobby, relay);
    lobby.clock.advance(3600_000); // the login's token expires while the player is away
    relay.release();
    await expect(matched).rejects.toMatchObject({ code: 'LOBBY_CONNECTION_LOST', message: expect.stringMatching(/1006.*HTTP 401/) });
    expect(relay.accepted - connectionsBefore).toBe(1);
  });
});
