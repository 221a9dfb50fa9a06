import { afterEach, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { parseAllocationRequest } from '../allocator/allocation-schema.js';
import { ConfigError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { startTestAllocator, type TestAllocator } from '../test/helpers/allocator-http.js';
import { allocatorStreamUrl, AllocatorUnavailableError, StreamAllocatorClient } from './allocator-client.js';

// The standalone matchmaker's way to the allocator: its WebSocket stream, over a real allocator
// HTTP server with an API key.

const SPEC = parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] });
const KEY = 'matchmaker-key-0123456789abcdef';

describe('StreamAllocatorClient', () => {
  let allocator: TestAllocator | undefined;
  let client: StreamAllocatorClient | undefined;
  afterEach(async () => {
    await client?.close();
    await allocator?.stop();
    allocator = client = undefined;
  });

  async function startAllocator(servers: number, port = 0): Promise<string> {
    allocator = await startTestAllocator({ servers, port, keys: { matchmaker: KEY } });
    return allocator.url;
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
    await allocator!.stop();
    allocator = undefined;
    await expect(client.allocate(SPEC)).rejects.toBeInstanceOf(AllocatorUnavailableError);

    await startAllocator(1, Number(port));
    expect((await client.allocate(SPEC)).state).toBe('Allocated');
  });

  it('sends one allocation a message to an allocator that does not say it takes lists (one older than the client)', async () => {
    // What an allocator before lists did: a list is not an allocation, refused with no id.
    const older = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const frames: unknown[] = [];
    older.on('connection', (ws) =>
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString()) as { id: number };
        frames.push(message);
        if (Array.isArray(message)) return ws.send(JSON.stringify({ id: null, error: { code: 'BAD_REQUEST', message: 'send { "id": ..., "allocation": GameServerAllocation }' } }));
        ws.send(JSON.stringify({ id: message.id, result: { state: 'Allocated', gameServerName: `gs-${message.id}` } }));
      }),
    );
    await new Promise((r) => older.once('listening', r));
    try {
      client = new StreamAllocatorClient({ url: `http://127.0.0.1:${(older.address() as AddressInfo).port}`, log: silentLogger, timeoutMs: 2000 });
      const results = await Promise.all(Array.from({ length: 5 }, () => client!.allocate(SPEC)));
      expect(results.map((r) => r.state)).toEqual(Array(5).fill('Allocated'));
      expect(new Set(results.map((r) => r.gameServerName)).size).toBe(5);
      expect(frames.some(Array.isArray)).toBe(false);
    } finally {
      await client?.close();
      client = undefined;
      await new Promise((r) => older.close(r));
    }
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
