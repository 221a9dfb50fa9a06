import { afterEach, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { parseAllocationParts, parseAllocationRequest } from '../allocator/allocation-schema.js';
import { mergeAllocation, type PreparedAllocation } from '../allocator/prepared-allocation.js';
import { ConfigError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { startTestAllocator, type TestAllocator } from '../test/helpers/allocator-http.js';
import { allocatorStreamUrl, AllocatorUnavailableError, StreamAllocatorClient } from './allocator-client.js';

// The standalone matchmaker's way to the allocator: its WebSocket stream, over a real allocator
// HTTP server with an API key.

const SPEC = parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] });
const KEY = 'matchmaker-key-0123456789abcdef';
// As the matchmaker asks: one template object for the queue, each match's parts.
const TEMPLATE = parseAllocationRequest({ selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }], metadata: { labels: { 'hangar.dev/queue': 'ranked' } } });
const prepared = (n: number): PreparedAllocation => ({ template: TEMPLATE, parts: parseAllocationParts({ metadata: { annotations: { 'hangar.dev/match-id': `m-${n}` } }, lists: { players: { addValues: [`p-${n}`], capacity: 4 } } }, 'allocation') });

/** A stand-in allocator that says what it takes on the upgrade, keeps every frame, and answers as told. */
async function fakeAllocator(headers: string[], answer: (message: Record<string, unknown>) => object): Promise<{ url: string; frames: unknown[]; close: () => Promise<void> }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('headers', (h) => h.push(...headers));
  const frames: unknown[] = [];
  server.on('connection', (ws) =>
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown> | Array<Record<string, unknown>>;
      frames.push(message);
      if (!Array.isArray(message)) return ws.send(JSON.stringify(answer(message)));
      ws.send(JSON.stringify(message.map(answer)));
    }),
  );
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, frames, close: () => new Promise((r) => server.close(() => r())) };
}

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

  it('pings the stream, and drops one the allocator stopped answering (half-open behind a proxy): its allocations fail, the next reconnects', async () => {
    // A stand-in whose first connection goes dead once an allocation is sent (no pong, no answer, no close); later ones answer.
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    let connections = 0;
    let pings = 0;
    server.on('connection', (ws) => {
      const n = ++connections;
      let dead = false;
      ws.on('ping', () => (pings++, dead || ws.pong()));
      ws.on('message', (data) => {
        if (n === 1) return void (dead = true);
        const { id } = JSON.parse(data.toString()) as { id: number };
        ws.send(JSON.stringify({ id, result: { state: 'Allocated', gameServerName: `gs-${id}` } }));
      });
    });
    await new Promise((r) => server.once('listening', r));
    try {
      // An allocation's own timeout far off: only the heartbeat can end the wait within the test's time.
      client = new StreamAllocatorClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log: silentLogger, timeoutMs: 60_000, pingIntervalMs: 50 });
      const first = client.allocate(SPEC);
      await expect(first).rejects.toThrow(new AllocatorUnavailableError('the allocator stream closed'));
      expect(pings).toBeGreaterThanOrEqual(1);
      expect((await client.allocate(SPEC)).state).toBe('Allocated');
      expect(connections).toBe(2);
    } finally {
      await client?.close();
      client = undefined;
      await new Promise((r) => server.close(r));
    }
  }, 10_000);

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

  it('sends a template once a connection to an allocator that keeps them, then only each match’s parts; the allocator records the whole request', async () => {
    const url = await startAllocator(12);
    client = new StreamAllocatorClient({ url, apiKey: KEY, log: silentLogger });
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => client!.allocate(prepared(n))));
    expect(results.map((r) => r.state)).toEqual(Array(10).fill('Allocated'));
    expect(results.map((r) => r.metadata.annotations['hangar.dev/match-id'])).toEqual(Array.from({ length: 10 }, (_, n) => `m-${n}`));
    const whole = (n: number) => JSON.stringify(mergeAllocation(TEMPLATE, prepared(n).parts));
    expect(allocator!.records.map((r) => r.requestJson)).toEqual(Array.from({ length: 10 }, (_, n) => whole(n)));
    // A new connection gets the template again.
    const port = Number(new URL(url).port);
    await allocator!.stop();
    await expect(client.allocate(prepared(99))).rejects.toBeInstanceOf(AllocatorUnavailableError);
    await startAllocator(1, port);
    expect((await client.allocate(prepared(10))).state).toBe('Allocated');
    expect(allocator!.records[0]?.requestJson).toBe(whole(10));
  });

  it('puts the template on the wire once, sends it again after the allocator refused it, and sends whole allocations where templates are not kept', async () => {
    let refuse = true;
    const keeps = await fakeAllocator(['hangar-stream-lists: 1', 'hangar-stream-templates: 1'], (m) => {
      if (m.prepare !== undefined) return refuse ? ((refuse = false), { id: m.id, error: { code: 'RATE_LIMITED', message: 'slow down' } }) : { id: m.id, prepared: m.prepare };
      return { id: m.id, result: { state: 'Allocated', gameServerName: `gs-${String(m.id)}` } };
    });
    try {
      client = new StreamAllocatorClient({ url: keeps.url, log: silentLogger, timeoutMs: 2000 });
      await Promise.all([0, 1, 2].map((n) => client!.allocate(prepared(n))));
      await Promise.all([3, 4].map((n) => client!.allocate(prepared(n))));
      const messages = keeps.frames.flat() as Array<Record<string, unknown>>;
      const prepares = messages.filter((m) => m.prepare !== undefined);
      expect(prepares.map((m) => m.prepare)).toEqual(['t1', 't2']);
      expect(prepares.every((m) => JSON.stringify(m.allocation) === JSON.stringify(TEMPLATE))).toBe(true);
      const allocations = messages.filter((m) => m.prepare === undefined);
      expect(allocations.map((m) => m.template)).toEqual(['t1', 't1', 't1', 't2', 't2']);
      expect(allocations[0]!.allocation).toEqual(prepared(0).parts);
    } finally {
      await client?.close();
      client = undefined;
      await keeps.close();
    }

    const older = await fakeAllocator(['hangar-stream-lists: 1'], (m) => ({ id: m.id, result: { state: 'Allocated', gameServerName: `gs-${String(m.id)}` } }));
    try {
      client = new StreamAllocatorClient({ url: older.url, log: silentLogger, timeoutMs: 2000 });
      await Promise.all([0, 1].map((n) => client!.allocate(prepared(n))));
      expect((older.frames.flat() as Array<Record<string, unknown>>).map((m) => Object.keys(m).sort())).toEqual([['allocation', 'id'], ['allocation', 'id']]);
      expect((older.frames.flat() as Array<{ allocation: unknown }>).map((m) => m.allocation)).toEqual([0, 1].map((n) => JSON.parse(JSON.stringify(mergeAllocation(TEMPLATE, prepared(n).parts)))));
    } finally {
      await client?.close();
      client = undefined;
      await older.close();
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
