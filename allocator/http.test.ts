import { afterEach, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { GameServerState as S } from '../core/game-server.js';
import { startTestAllocator, type TestAllocator, type TestAllocatorOptions } from '../test/helpers/allocator-http.js';

const FLEET = { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] };

describe('allocator HTTP API', () => {
  let running: TestAllocator | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function start(options: TestAllocatorOptions = {}): Promise<TestAllocator> {
    running = await startTestAllocator(options);
    return running;
  }

  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('allocates from a GameServerAllocation or a bare spec, and says UnAllocated when none is Ready', async () => {
    const h = await start({ servers: 2 });
    const a = await post(`${h.url}/gameserverallocation`, { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: FLEET });
    expect(a.status).toBe(200);
    expect(await a.json()).toMatchObject({ state: 'Allocated', gameServerName: expect.stringMatching(/^gs-/), ports: expect.any(Array) });
    expect(((await (await post(`${h.url}/gameserverallocation`, FLEET)).json()) as { state: string }).state).toBe('Allocated');
    expect(((await (await post(`${h.url}/gameserverallocation`, FLEET)).json()) as { state: string }).state).toBe('UnAllocated');
  });

  it('names every problem of an invalid request, and answers malformed, oversized or mistyped bodies with JSON', async () => {
    const h = await start();
    const bad = await post(`${h.url}/gameserverallocation`, { selectors: [{ matchLabel: {} }], scheduling: 'Sometimes' });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; problems: string[] } };
    expect(body.error.code).toBe('ALLOCATION_INVALID');
    expect(body.error.problems.length).toBeGreaterThanOrEqual(2);
    expect(body.error.problems.join('\n')).toMatch(/selectors\[0\]\.matchLabel: unknown field "matchLabel" \(did you mean "matchLabels"\?\)/);

    const malformed = await post(`${h.url}/gameserverallocation`, '{"selectors": [');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    const huge = await post(`${h.url}/gameserverallocation`, { selectors: [{ matchLabels: { x: 'y'.repeat(70_000) } }] });
    expect(huge.status).toBe(413);
    const wait = await post(`${h.url}/gameserverallocation?waitForReadyMs=forever`, FLEET);
    expect(wait.status).toBe(400);
    expect(await wait.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'waitForReadyMs: give a whole number of milliseconds from 0 to 30000' } });
    // Nothing was allocated by any of these.
    expect((await h.store.list({ states: [S.Allocated] })).length).toBe(0);
  });

  it('requires an API key when keys are configured: 401 without or with a wrong one', async () => {
    const h = await start({ keys: { matchmaker: 'mm-0123456789abcdef' } });
    const none = await post(`${h.url}/gameserverallocation`, FLEET);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <API key>' } });
    expect((await post(`${h.url}/gameserverallocation`, FLEET, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(`${h.url}/gameserverallocation`, FLEET, { authorization: 'Bearer mm-0123456789abcdef' })).status).toBe(200);
  });

  it('limits each client’s rate with 429 and Retry-After', async () => {
    const h = await start({ rate: 1, burst: 2 });
    expect((await post(`${h.url}/gameserverallocation`, FLEET)).status).toBe(200);
    expect((await post(`${h.url}/gameserverallocation`, FLEET)).status).toBe(200);
    const limited = await post(`${h.url}/gameserverallocation`, FLEET);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
  });

  it('allocates a batch in order, with an error in place of each bad item', async () => {
    const h = await start({ servers: 2 });
    const res = await post(`${h.url}/gameserverallocation/batch`, { allocations: [FLEET, { selectors: 'all' }, FLEET, FLEET] });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ result?: { state: string }; error?: { code: string; message: string } }> };
    expect(results.map((r) => r.result?.state ?? r.error?.code)).toEqual(['Allocated', 'ALLOCATION_INVALID', 'Allocated', 'UnAllocated']);
    expect(results[1]!.error!.message).toMatch(/^allocations\[1\]: /);
    const bad = await post(`${h.url}/gameserverallocation/batch`, { allocations: FLEET, extra: 1 });
    expect(bad.status).toBe(400);
    const tooMany = await post(`${h.url}/gameserverallocation/batch`, { allocations: Array.from({ length: 1001 }, () => FLEET) });
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toBe('allocations: at most 1000 in one batch, got 1001');
  });

  it('allocates over one WebSocket, answering each message with its id, and refuses bad ones without closing', async () => {
    const h = await start({ servers: 3 });
    const ws = new WebSocket(h.ws);
    await new Promise((r) => ws.once('open', r));
    const replies: Array<{ id: unknown; result?: { state: string }; error?: { code: string; message: string } }> = [];
    ws.on('message', (d) => replies.push(JSON.parse(d.toString()) as (typeof replies)[number]));
    ws.send(JSON.stringify({ id: 1, allocation: FLEET }));
    ws.send('not json');
    ws.send(JSON.stringify({ id: 'x', allocation: FLEET, colour: 'red' }));
    ws.send(JSON.stringify({ id: 2, allocation: { selectors: [{ gameServerState: 'Sleeping' }] } }));
    ws.send(JSON.stringify({ id: 3, allocation: FLEET }));
    for (let i = 0; i < 100 && replies.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)?.result?.state).toBe('Allocated');
    expect(byId.get(3)?.result?.state).toBe('Allocated');
    expect(byId.get(2)?.error?.code).toBe('ALLOCATION_INVALID');
    expect(byId.get('x')?.error).toEqual({ code: 'BAD_REQUEST', message: 'unknown field colour' });
    expect(byId.get(null)?.error?.message).toMatch(/^not JSON: /);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('refuses a WebSocket upgrade without a valid API key, with a JSON 401', async () => {
    const h = await start({ keys: { matchmaker: 'mm-0123456789abcdef' } });
    const ws = new WebSocket(h.ws);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
    const ok = new WebSocket(h.ws, { headers: { authorization: 'Bearer mm-0123456789abcdef' } });
    await new Promise((r) => ok.once('open', r));
    ok.close();
  });
});
