import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { WebSocketServer } from 'ws';
import { StoreAllocationBackend } from '../../allocator/allocation-backend.js';
import { Allocator } from '../../allocator/allocator.js';
import { ClientAuth } from '../../allocator/client-auth.js';
import { allocationRequestListener, attachAllocationStream } from '../../allocator/http.js';
import { RateLimiter } from '../../allocator/rate-limiter.js';
import { GameServerState as S } from '../../core/game-server.js';
import { silentLogger } from '../../core/logger.js';
import { createAllocatorMetrics, createRegistry, type Registry } from '../../core/metrics.js';
import type { AllocationRecord } from '../../records/allocation-records.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { FakeClock } from './fake-clock.js';
import { testGameServer } from './game-servers.js';

// A real allocator HTTP server (REST, batch and stream) on 127.0.0.1 over a memory store of Ready
// servers of fleet `arena` (gs-N at 127.0.0.1:7000+N), with a fake clock for the rate limiter.

export interface TestAllocatorOptions {
  /** API keys by client name; none means loopback callers only. */
  keys?: Record<string, string>;
  /** Who may allocate, instead of `keys` (a test that changes the keys while it runs). */
  auth?: ClientAuth;
  rate?: number;
  burst?: number;
  /** Ready servers gs-0, gs-1, ... (default 5). */
  servers?: number;
  /** 0 picks a free port. */
  port?: number;
  /** How often streams are pinged (the allocator's default unless given). */
  pingIntervalMs?: number;
}

export interface TestAllocator {
  url: string;
  /** The stream's ws:// URL. */
  ws: string;
  store: MemoryGameServerStore;
  /** The allocator's metrics. */
  registry: Registry;
  /** What the allocator recorded, in order. */
  records: AllocationRecord[];
  /** Ends every stream (upgraded sockets are no longer the HTTP server's) and closes the port. */
  stop(): Promise<void>;
}

export async function startTestAllocator(options: TestAllocatorOptions = {}): Promise<TestAllocator> {
  const store = new MemoryGameServerStore();
  for (let i = 0; i < (options.servers ?? 5); i++) {
    const gs = testGameServer(`gs-${i}`, { fleet: 'arena' });
    await store.create({ ...gs, status: { ...gs.status, state: S.Ready, address: '127.0.0.1', ports: [{ name: 'default', port: 7000 + i }] } });
  }
  const clock = new FakeClock();
  const registry = createRegistry();
  const metrics = createAllocatorMetrics(registry);
  const records: AllocationRecord[] = [];
  const http = {
    allocator: new Allocator({ backend: new StoreAllocationBackend(store, clock), clock, log: silentLogger, metrics, recorder: { record: (entry) => records.push(entry) } }),
    auth: options.auth ?? new ClientAuth({ apiKeys: Object.entries(options.keys ?? {}).map(([client, key]) => ({ client, key })), mutualTls: false }),
    limiter: new RateLimiter(clock, options.rate ?? 1000, options.burst ?? 1000),
    metrics,
    log: silentLogger,
    pingIntervalMs: options.pingIntervalMs,
  };
  const server = createServer(allocationRequestListener(http, express()));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const streams: WebSocketServer = attachAllocationStream(server, http);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/gameserverallocation/stream`,
    store,
    registry,
    records,
    stop: async () => {
      for (const ws of streams.clients) ws.terminate();
      await new Promise((r) => (server.closeAllConnections(), server.close(r)));
      await store.close();
    },
  };
}
