import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { WebSocketServer } from 'ws';
import { StoreAllocationBackend } from '../allocator/allocation-backend.js';
import { parseAllocationRequest } from '../allocator/allocation-schema.js';
import { Allocator } from '../allocator/allocator.js';
import { ClientAuth } from '../allocator/client-auth.js';
import { attachAllocationStream, createAllocatorRouter } from '../allocator/http.js';
import { RateLimiter } from '../allocator/rate-limiter.js';
import { ConfigError } from '../core/errors.js';
import { GameServerState as S } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import { createAllocatorMetrics, createRegistry } from '../core/metrics.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { allocatorStreamUrl, AllocatorUnavailableError, StreamAllocatorClient } from './allocator-client.js';

// The standalone matchmaker's way to the allocator: its WebSocket stream, over a real allocator
// HTTP server with an API key.

const SPEC = parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] });
const KEY = 'matchmaker-key-0123456789abcdef';

describe('StreamAllocatorClient', () => {
  let server: Server | undefined;
  let streams: WebSocketServer | undefined;
  let client: StreamAllocatorClient | undefined;
  afterEach(async () => {
    await client?.close();
    await stopAllocator();
    client = undefined;
  });

  /** Upgraded sockets are no longer the HTTP server's: they are ended one by one. */
  async function stopAllocator(): Promise<void> {
    for (const ws of streams?.clients ?? []) ws.terminate();
    if (server) await new Promise((r) => (server!.closeAllConnections(), server!.close(r)));
    server = streams = undefined;
  }

  async function startAllocator(servers: number, port = 0): Promise<string> {
    const store = new MemoryGameServerStore();
    for (let i = 0; i < servers; i++) {
      const gs = testGameServer(`gs-${i}`, { fleet: 'arena' });
      await store.create({ ...gs, status: { ...gs.status, state: S.Ready } });
    }
    const clock = new FakeClock();
    const metrics = createAllocatorMetrics(createRegistry());
    const http = {
      allocator: new Allocator({ backend: new StoreAllocationBackend(store, clock), clock, log: silentLogger, metrics }),
      auth: new ClientAuth({ apiKeys: new Map([['matchmaker', KEY]]), mutualTls: false }),
      limiter: new RateLimiter(clock, 1000, 1000),
      metrics,
      log: silentLogger,
    };
    const app = express();
    app.use(createAllocatorRouter(http));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(port, '127.0.0.1', () => resolve(s));
    });
    streams = attachAllocationStream(server, http);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('allocates over one connection, many at once, each answer to its own request', async () => {
    const url = await startAllocator(30);
    client = new StreamAllocatorClient({ url, apiKey: KEY, log: silentLogger });
    const results = await Promise.all(Array.from({ length: 40 }, () => client!.allocate(SPEC)));
    const allocated = results.filter((r) => r.state === 'Allocated');
    expect(allocated).toHaveLength(30);
    expect(new Set(allocated.map((r) => r.gameServerName)).size).toBe(30);
    expect(results.filter((r) => r.state === 'UnAllocated')).toHaveLength(10);
  });

  it('fails clearly with a wrong key or no allocator, and reconnects once the allocator is back', async () => {
    const url = await startAllocator(2);
    const port = new URL(url).port;
    const wrong = new StreamAllocatorClient({ url, apiKey: 'not-the-key-0123456789', log: silentLogger });
    await expect(wrong.allocate(SPEC)).rejects.toThrow(/refused the stream: HTTP 401/);
    await wrong.close();

    client = new StreamAllocatorClient({ url, apiKey: KEY, log: silentLogger });
    expect((await client.allocate(SPEC)).state).toBe('Allocated');
    await stopAllocator();
    await expect(client.allocate(SPEC)).rejects.toBeInstanceOf(AllocatorUnavailableError);

    await startAllocator(1, Number(port));
    expect((await client.allocate(SPEC)).state).toBe('Allocated');
  });

  it('takes the base URL ops write, or the stream URL, and names a bad one', () => {
    expect(allocatorStreamUrl('http://allocator:8000')).toBe('ws://allocator:8000/gameserverallocation/stream');
    expect(allocatorStreamUrl('https://allocator.example:8443/')).toBe('wss://allocator.example:8443/gameserverallocation/stream');
    expect(allocatorStreamUrl('ws://127.0.0.1:8000/gameserverallocation/stream')).toBe('ws://127.0.0.1:8000/gameserverallocation/stream');
    expect(() => allocatorStreamUrl('allocator:8000')).toThrow(ConfigError);
    expect(() => allocatorStreamUrl('ftp://allocator')).toThrow(/must be http, https, ws or wss, not ftp/);
    expect(() => allocatorStreamUrl('not a url')).toThrow(/ALLOCATOR_URL \(matchmaker.allocator_url\) "not a url" is not a URL/);
  });
});
