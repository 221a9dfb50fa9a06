import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { LobbyClient } from './lobby-client.js';
import { eventually, startTestLobby, type TestLobby } from './lobby-test-harness.js';

// The player's lobby client against a real lobby, through a TCP relay the test can cut (a dropped
// connection) and hold (the client cannot get back in yet).

class Relay {
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held: Socket[] = [];
  private holding = false;
  private server!: Server;
  /** Connections the relay was asked for. */
  accepted = 0;

  constructor(private readonly target: number) {}

  async listen(): Promise<number> {
    this.server = createServer((client) => {
      this.accepted++;
      if (this.holding) this.held.push(client);
      else this.pipe(client);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Drops every relayed connection, as a network fault would, and holds new ones until `release`. */
  cutAndHold(): void {
    this.holding = true;
    for (const [a, b] of this.pairs) (a.destroy(), b.destroy());
    this.pairs.clear();
  }

  release(): void {
    this.holding = false;
    for (const client of this.held.splice(0)) this.pipe(client);
  }

  async close(): Promise<void> {
    this.cutAndHold();
    for (const client of this.held.splice(0)) client.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private pipe(client: Socket): void {
    const upstream = createConnection(this.target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.pipe(upstream).pipe(client);
    const end = () => (client.destroy(), upstream.destroy(), this.pairs.delete(pair));
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }
}

const SERVER = { address: '127.0.0.1', port: 7100, ports: [{ name: 'default', port: 7100 }], name: 'arena-1' };

describe('LobbyClient', () => {
  let lobby: TestLobby | undefined;
  let relay: Relay | undefined;
  let client: LobbyClient | undefined;
  afterEach(async () => {
    client?.close();
    await relay?.close();
    await lobby?.close();
    [lobby, relay, client] = [undefined, undefined, undefined];
  });

  async function start(): Promise<{ lobby: TestLobby; relay: Relay; client: LobbyClient }> {
    lobby = await startTestLobby({ environment: 'development' });
    relay = new Relay(lobby.server.port);
    const port = await relay.listen();
    client = await LobbyClient.connectAsGuest(`http://127.0.0.1:${port}`, 'ada');
    return { lobby, relay, client };
  }

  it('reconnects after a dropped connection and hears, through the ticket status, the match pushed while it was away', async () => {
    const { lobby, relay, client } = await start();
    const { ticketId } = await client.submit({ queue: 'duel', latencies: { 'eu-west': 20 } });
    const matched = client.awaitMatch(ticketId);

    relay.cutAndHold();
    await eventually(() => lobby.server.connections === 0);
    // Matched while the player has no socket: the push reaches no one.
    lobby.matchmaking.match('match-1', [ticketId], SERVER);
    relay.release();

    expect(await matched).toMatchObject({ type: 'matched', ticketId, matchId: 'match-1', server: SERVER });
    expect(lobby.server.connections).toBe(1);
    const statuses = lobby.matchmaking.calls.filter((c) => c.method === 'status');
    expect(statuses).toEqual([{ method: 'status', playerId: client.playerId, args: [ticketId] }]);
  });

  it('goes on hearing pushes on the new socket', async () => {
    const { lobby, relay, client } = await start();
    const { ticketId } = await client.submit({ queue: 'duel', latencies: { 'eu-west': 20 } });
    const matched = client.awaitMatch(ticketId);
    relay.cutAndHold();
    await eventually(() => lobby.server.connections === 0);
    relay.release();
    await eventually(() => lobby.server.connections === 1);

    lobby.matchmaking.match('match-2', [ticketId], SERVER);
    expect(await matched).toMatchObject({ type: 'matched', ticketId, matchId: 'match-2' });
  });

  it('gives up at once on a close that asks for a new login (4001, token expired): the awaited match is rejected, naming the close', async () => {
    // A heartbeat longer than the token: the fake clock would otherwise pass a ping unanswered.
    lobby = await startTestLobby({ environment: 'development', tokenTtlSeconds: 60, heartbeatSeconds: 120 });
    client = await LobbyClient.connectAsGuest(lobby.url, 'ada');
    const { ticketId } = await client.submit({ queue: 'duel', latencies: { 'eu-west': 20 } });
    const matched = client.awaitMatch(ticketId);
    lobby.clock.advance(60_000);
    await expect(matched).rejects.toMatchObject({ code: 'LOBBY_CONNECTION_LOST', message: expect.stringContaining('4001 token expired') });
  });

  it('stops trying when the lobby refuses the login on the way back (401), instead of trying again and again', async () => {
    const { lobby, relay, client } = await start();
    const { ticketId } = await client.submit({ queue: 'duel', latencies: { 'eu-west': 20 } });
    const matched = client.awaitMatch(ticketId);
    // Counted before the cut: the client's first attempt to come back may reach the relay at once.
    const connectionsBefore = relay.accepted;
    relay.cutAndHold();
    await eventually(() => lobby.server.connections === 0);
    lobby.clock.advance(3600_000); // the login's token expires while the player is away
    relay.release();
    await expect(matched).rejects.toMatchObject({ code: 'LOBBY_CONNECTION_LOST', message: expect.stringMatching(/1006.*HTTP 401/) });
    expect(relay.accepted - connectionsBefore).toBe(1);
  });
});
