import { randomBytes } from 'node:crypto';
import { collectYoungGeneration } from '../exposed-gc.js';
import { ClientEndpoint } from './client-endpoint.js';
import { mintConnectToken } from './connect-token.js';
import { KEY_BYTES } from './protocol-constants.js';
import { ServerEndpoint } from './server-endpoint.js';

// V8 interprets a function until it has run often enough to be compiled, so a fresh server pays
// several times the CPU for its first connections: its match's players, all arriving at once
// (BENCHMARKS.md, "Matchmaking": a fresh server's first 50 handshakes). Before it says Ready, a
// server runs its netcode's paths in memory: handshakes against throwaway endpoints with a
// throwaway key, then messages both ways on both channels, acks, and disconnects. No socket is
// touched and nothing is kept.
//
// The connections go through in rounds of ROUND_CONNECTIONS, the young generation collected after
// each (when node runs with --expose-gc): every path runs as often as with all of them at once, but
// only one round's connections and garbage are alive at a time. A connection holds ~35 KB of
// malloc'd memory, most of it typed arrays; 128 at once left an idle server's malloc heap ~10 MiB
// larger for good (glibc keeps a freed heap whose top is still in use); rounds of 16 still left it
// ~1 MiB larger than rounds of 4 do (BENCHMARKS.md, helper-46), which take no longer.

const WARM_UP_SERVER_ID = 'warm-up';
/** TEST-NET-1 (RFC 5737): an address no real peer has. */
const WARM_UP_ADDRESS = '192.0.2.1';
const TICK_MS = 33;
const ROUND_CONNECTIONS = 4;

interface Datagram {
  data: Buffer;
  port: number;
}

export interface NetcodeWarmUp {
  /** Connections that completed the handshake, and that were then closed by their client. */
  connected: number;
  disconnected: number;
  /** Messages delivered to the server and to the clients, both channels. */
  toServer: number;
  toClients: number;
  ms: number;
}

/** Runs `connections` connections through `exchanges` ticks of traffic each. */
export function warmUpNetcode(protocolId: bigint, connections: number, exchanges = 8): NetcodeWarmUp {
  const started = performance.now();
  const result: NetcodeWarmUp = { connected: 0, disconnected: 0, toServer: 0, toClients: 0, ms: 0 };
  if (connections <= 0) return result;
  const key = randomBytes(KEY_BYTES);
  for (let done = 0; done < connections; done += ROUND_CONNECTIONS) {
    warmUpRound(protocolId, key, Math.min(ROUND_CONNECTIONS, connections - done), exchanges, result);
    collectYoungGeneration();
  }
  result.ms = performance.now() - started;
  return result;
}

/** `connections` fresh clients of a fresh server: handshakes, `exchanges` ticks of traffic, disconnects. */
function warmUpRound(protocolId: bigint, key: Buffer, connections: number, exchanges: number, result: NetcodeWarmUp): void {
  let now = Date.now();
  const clock = () => now;
  const toServer: Datagram[] = [];
  const toClients: Datagram[] = [];
  // Copied: an endpoint may reuse its buffer once `send` returns, as a socket allows.
  const server = new ServerEndpoint({
    protocolId,
    tokenKey: key,
    serverId: WARM_UP_SERVER_ID,
    maxClients: connections,
    now: clock,
    send: (data, _address, port) => toClients.push({ data: Buffer.from(data), port }),
    onConnect: () => result.connected++,
    onDisconnect: () => result.disconnected++,
    onMessage: () => result.toServer++,
  });
  const clients = Array.from({ length: connections }, (_, i) => {
    const port = i + 1;
    const token = mintConnectToken({ key, protocolId, serverId: WARM_UP_SERVER_ID, playerId: `warm-up-${i}`, addresses: [`${WARM_UP_ADDRESS}:${port}`], expiresInSeconds: 60, now });
    return new ClientEndpoint({ token, now: clock, send: (data) => toServer.push({ data: Buffer.from(data), port }), onMessage: () => result.toClients++ });
  });
  const deliver = () => {
    while (toServer.length > 0 || toClients.length > 0) {
      for (const d of toServer.splice(0)) server.receive(d.data, WARM_UP_ADDRESS, d.port);
      for (const d of toClients.splice(0)) clients[d.port - 1]!.receive(d.data);
    }
  };

  for (const client of clients) client.connect();
  deliver();
  const input = Buffer.alloc(16);
  const snapshot = Buffer.alloc(300);
  const event = Buffer.alloc(40);
  for (let tick = 0; tick < exchanges; tick++) {
    now += TICK_MS;
    for (let i = 0; i < connections; i++) {
      const client = clients[i]!;
      client.send('unreliable', input);
      if (tick % 4 === 0) client.send('reliable', event);
      client.update();
      server.send(i, 'unreliable', snapshot);
      if (tick % 4 === 1) server.send(i, 'reliable', event);
    }
    server.update();
    deliver();
  }
  for (const client of clients) client.disconnect();
  deliver();
}
