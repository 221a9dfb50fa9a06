import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { GameServerState as S } from '../core/game-server.js';
import { createLogger } from '../core/logger.js';
import { loadSecrets } from '../core/secrets.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { startTestAllocator, type TestAllocator, type TestAllocatorOptions } from '../test/helpers/allocator-http.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { waitFor } from '../test/helpers/local-stack-fixture.js';
import { parseAllocationRequest } from './allocation-schema.js';
import { API_KEYS_RELOAD_MS, ClientAuth, reloadApiKeysFile } from './client-auth.js';

const FLEET = { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }] };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: { state?: string; error?: { code: string; message: string; problems?: string[] } };
  /** The request went out on a connection an earlier request had used (keep-alive held). */
  reused: boolean;
}

/** A request through node:http, for what fetch will not send: chunks as given, any headers, one keep-alive connection. */
function send(url: string, options: { path?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer | Array<string | Buffer>; agent?: Agent }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${options.path ?? '/gameserverallocation'}`, { method: options.method ?? 'POST', headers: options.headers ?? { 'content-type': 'application/json' }, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, headers: res.headers, json: res.headers['content-type']?.startsWith('application/json') ? (JSON.parse(text) as Answer['json']) : {}, reused: req.reusedSocket });
      });
    });
    req.on('error', reject);
    const parts = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    // Written one by one without a Content-Length: node sends them as chunks.
    for (const part of parts) req.write(part);
    req.end();
  });
}

/** A body of exactly `bytes` bytes that selects the arena fleet and carries one label of filler. */
function bodyOf(bytes: number): string {
  const empty = JSON.stringify({ metadata: { labels: { filler: '' } }, ...FLEET });
  return empty.replace('"filler":""', `"filler":"${'x'.repeat(bytes - empty.length)}"`);
}

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

  const post = (url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal });

  it('allocates from a GameServerAllocation or a bare spec, and says UnAllocated when none is Ready', async () => {
    const h = await start({ servers: 2 });
    const a = await post(`${h.url}/gameserverallocation`, { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: FLEET });
    expect(a.status).toBe(200);
    expect(await a.json()).toMatchObject({ state: 'Allocated', gameServerName: expect.stringMatching(/^gs-/), ports: expect.any(Array) });
    expect(((await (await post(`${h.url}/gameserverallocation`, FLEET)).json()) as { state: string }).state).toBe('Allocated');
    expect(((await (await post(`${h.url}/gameserverallocation`, FLEET)).json()) as { state: string }).state).toBe('UnAllocated');
  });

  /** How many allocations wait for a Ready server: each wait watches the store while it lasts. */
  function countWaits(h: TestAllocator): () => number {
    let watching = 0;
    const watch = h.store.watch.bind(h.store);
    h.store.watch = (listener, options) => {
      watching++;
      const unwatch = watch(listener, options);
      return () => {
        watching--;
        unwatch();
      };
    };
    return () => watching;
  }

  /** After a caller went away: its wait ended, recorded UnAllocated, and a server Ready since is left Ready (no allocation for nobody). */
  async function expectNoneTakenForNobody(h: TestAllocator, waits: () => number): Promise<void> {
    await waitFor('the wait to end', async () => waits() === 0 && h.records.length === 1);
    expect(h.records[0]!.result.state).toBe('UnAllocated');
    const gs = testGameServer('gs-late', { fleet: 'arena' });
    await h.store.create({ ...gs, status: { ...gs.status, state: S.Ready, address: '127.0.0.1', ports: [{ name: 'default', port: 7000 }] } });
    expect((await h.store.get('gs-late'))?.status.state).toBe(S.Ready);
    expect(h.records).toHaveLength(1);
  }

  it.each([
    ['a request', '/gameserverallocation?waitForReadyMs=30000', FLEET],
    // The items after the one waiting are not allocated either: one record only.
    ['a batch', '/gameserverallocation/batch', { allocations: [FLEET, FLEET], waitForReadyMs: 30000 }],
  ])('stops %s waiting for a Ready server once its caller is gone, instead of allocating the next one for nobody', async (_what, route, body) => {
    const h = await start({ servers: 0 });
    const waits = countWaits(h);
    const caller = new AbortController();
    const waiting = post(`${h.url}${route}`, body, {}, caller.signal).catch((err: unknown) => err);
    await waitFor('the request to wait', async () => waits() === 1);
    caller.abort();
    expect(await waiting).toMatchObject({ name: 'AbortError' });
    // Its connection closed, the wait ends (recorded UnAllocated) without a server to allocate.
    await expectNoneTakenForNobody(h, waits);
  });

  it('stops a stream’s waits for a Ready server when its client closes the connection', async () => {
    const h = await start({ servers: 0 });
    const waits = countWaits(h);
    const ws = new WebSocket(h.ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ id: 1, allocation: FLEET, waitForReadyMs: 30000 }));
    await waitFor('the allocation to wait', async () => waits() === 1);
    ws.close();
    await expectNoneTakenForNobody(h, waits);
  });

  it('pings each stream and drops one whose client stopped answering (a half-open connection), ending its waits', async () => {
    const h = await start({ servers: 0, pingIntervalMs: 50 });
    const waits = countWaits(h);
    // A client that answers the first pings, then none: as a connection behind a proxy that went dead.
    const ws = new WebSocket(h.ws, { autoPong: false });
    let pings = 0;
    let answering = true;
    ws.on('ping', () => (pings++, answering && ws.pong()));
    const closed = new Promise<number>((r) => ws.once('close', r));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ id: 1, allocation: FLEET, waitForReadyMs: 30000 }));
    await waitFor('the allocation to wait and pings to be answered', async () => waits() === 1 && pings >= 3);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    answering = false;
    // Dropped without a close handshake: what a dead peer gets (1006 on this end).
    expect(await closed).toBe(1006);
    await expectNoneTakenForNobody(h, waits);
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

  it('reads a body of exactly 64 KiB and refuses one byte more with 413 TOO_LARGE, declared or chunked, keeping the connection', async () => {
    const h = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const json = { 'content-type': 'application/json' };
    const at = await send(h.url, { headers: { ...json, 'content-length': String(64 * 1024) }, body: bodyOf(64 * 1024), agent });
    // Read and parsed: what refuses it is validation (the label is far too long for a label).
    expect(at.status).toBe(400);
    expect(at.json.error!.code).toBe('ALLOCATION_INVALID');
    expect(at.json.error!.problems).toEqual(['spec.metadata.labels[filler]: must be no more than 63 bytes']);
    const over = await send(h.url, { headers: { ...json, 'content-length': String(64 * 1024 + 1) }, body: bodyOf(64 * 1024 + 1), agent });
    expect(over.status).toBe(413);
    expect(over.json).toEqual({ error: { code: 'TOO_LARGE', message: 'the body is larger than 65536 bytes' } });
    const overChunked = await send(h.url, { body: Array.from({ length: 65 }, (_, i) => (i === 0 ? '{"selectors": [' : ' '.repeat(1024))), agent });
    expect(overChunked.status).toBe(413);
    expect(overChunked.json.error!.code).toBe('TOO_LARGE');
    const after = await send(h.url, { body: JSON.stringify(FLEET), agent });
    expect(after).toMatchObject({ status: 200, reused: true, json: { state: 'Allocated' } });
    agent.destroy();
    const errors = await h.registry.getSingleMetricAsString('game_server_errors_total');
    expect(errors).toMatch(/error_type="TOO_LARGE"} 2$/m);
    expect(errors).toMatch(/error_type="ALLOCATION_INVALID"} 1$/m);
  });

  it('reads bodies as express.json() did: chunked, gzip, UTF-16, a BOM; a body of another Content-Type refused, naming it; top-level scalars, bad charsets and encodings refused', async () => {
    const h = await start({ servers: 10 });
    const fleet = JSON.stringify(FLEET);
    const allocated = { status: 200, json: { state: 'Allocated' } };
    expect(await send(h.url, { body: [fleet.slice(0, 7), fleet.slice(7)] })).toMatchObject(allocated);
    expect(await send(h.url, { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(fleet) })).toMatchObject(allocated);
    expect(await send(h.url, { headers: { 'content-type': 'application/json; charset=utf-16le' }, body: Buffer.from(fleet, 'utf16le') })).toMatchObject(allocated);
    expect(await send(h.url, { headers: { 'content-type': 'Application/JSON; charset="UTF-8"' }, body: `\uFEFF${fleet}` })).toMatchObject(allocated);
    // Not read at all, and said so: not "spec: missing required field" about a body that has one.
    for (const [headers, came] of [[{ 'content-type': 'text/plain' }, 'as text/plain'], [{ 'content-type': 'application/x-www-form-urlencoded' }, 'as application/x-www-form-urlencoded'], [{}, 'without a Content-Type']] as Array<[Record<string, string>, string]>) {
      for (const path of ['/gameserverallocation', '/gameserverallocation/batch']) {
        const wrongType = await send(h.url, { path, headers, body: fleet });
        expect([wrongType.status, wrongType.json.error]).toEqual([400, { code: 'BAD_REQUEST', message: `the body was not read: send it with Content-Type: application/json (it came ${came})` }]);
      }
    }
    const refused = async (headers: Record<string, string>, body: string, status: number, message: string | RegExp) => {
      const answer = await send(h.url, { headers: { 'content-type': 'application/json', ...headers }, body });
      expect(answer.status).toBe(status);
      expect(answer.json.error).toEqual({ code: 'BAD_REQUEST', message: typeof message === 'string' ? message : expect.stringMatching(message) });
    };
    await refused({}, '{"selectors": [', 400, /^the body is not JSON: /);
    await refused({}, '"arena"', 400, 'the body must be a JSON object or array, not string');
    await refused({}, 'null', 400, 'the body must be a JSON object or array, not null');
    await refused({ 'content-type': 'application/json; charset=latin1' }, fleet, 415, 'unsupported charset "LATIN1"');
    await refused({ 'content-encoding': 'compress' }, fleet, 415, 'unsupported content encoding "compress"');
    await refused({ 'content-encoding': 'gzip' }, fleet, 400, /^the body could not be read: /);
    const unknown = await send(h.url, { body: JSON.stringify({ ...FLEET, colour: 'red' }) });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error!.problems).toEqual([expect.stringMatching(/^spec\.colour: unknown field "colour"/)]);
    // Four allocated above; nothing by the refused ones.
    expect((await h.store.list({ states: [S.Allocated] })).length).toBe(4);
  });

  it('serves its routes as express matched them (any case, a trailing slash) and hands every other request to the app behind', async () => {
    const h = await start();
    const fleet = JSON.stringify(FLEET);
    expect(await send(h.url, { path: '/GameServerAllocation/?waitForReadyMs=0', body: fleet })).toMatchObject({ status: 200, json: { state: 'Allocated' } });
    expect((await send(h.url, { path: '/gameserverallocation/batch/', body: JSON.stringify({ allocations: [FLEET] }) })).status).toBe(200);
    for (const [method, path] of [['GET', '/gameserverallocation'], ['POST', '/gameserverallocationx'], ['POST', '/gameserverallocation/other']]) {
      const other = await send(h.url, { method, path, body: method === 'POST' ? fleet : undefined });
      expect(other.status).toBe(404);
      expect(other.headers['x-powered-by']).toBe('Express');
    }
    const options = await send(h.url, { method: 'OPTIONS', path: '/gameserverallocation/batch' });
    expect(options).toMatchObject({ status: 200, headers: { allow: 'POST' } });
    const duration = await h.registry.getSingleMetricAsString('game_server_request_duration_seconds');
    expect(duration).toMatch(/_count{type="allocation"} 1$/m);
    expect(duration).toMatch(/_count{type="batch"} 1$/m);
  });

  it('requires an API key when keys are configured: 401 without or with a wrong one', async () => {
    const h = await start({ keys: { matchmaker: 'mm-0123456789abcdef' } });
    const none = await post(`${h.url}/gameserverallocation`, FLEET);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <API key>' } });
    // Who asks is checked before the body is read: a stranger's oversized body is a 401, not a 413.
    expect((await post(`${h.url}/gameserverallocation`, bodyOf(100_000))).status).toBe(401);
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
    // A batch larger than the burst can never pass: no Retry-After.
    const never = await post(`${h.url}/gameserverallocation/batch`, { allocations: [FLEET, FLEET, FLEET] });
    expect(never.status).toBe(429);
    expect(never.headers.get('retry-after')).toBeNull();
    expect(await never.json()).toEqual({ error: { code: 'RATE_LIMITED', message: "a batch of 3 is more than client local's burst allows" } });
  });

  it('allocates a batch in order, with an error in place of each bad item', async () => {
    const h = await start({ servers: 2 });
    const res = await post(`${h.url}/gameserverallocation/batch`, { allocations: [FLEET, { selectors: 'all' }, FLEET, FLEET] });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ result?: { state: string }; error?: { code: string; message: string } }> };
    expect(results.map((r) => r.result?.state ?? r.error?.code)).toEqual(['Allocated', 'ALLOCATION_INVALID', 'Allocated', 'UnAllocated']);
    expect(results[1]!.error!.message).toMatch(/^allocations\[1\]: /);
    // Each problem names its field where it is in the batch, as the message does.
    expect((results[1]!.error as { problems?: string[] }).problems).toEqual([expect.stringMatching(/^allocations\[1\]\.spec\.selectors: expected a list/)]);
    const bad = await post(`${h.url}/gameserverallocation/batch`, { allocations: FLEET, extra: 1 });
    expect(bad.status).toBe(400);
    const tooMany = await post(`${h.url}/gameserverallocation/batch`, { allocations: Array.from({ length: 1001 }, () => FLEET) });
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toBe('allocations: at most 1000 in one batch, got 1001');
  });

  it('refuses a query parameter a route does not read, allocating nothing: a batch takes waitForReadyMs in its body', async () => {
    const h = await start({ servers: 1 });
    const batch = await post(`${h.url}/gameserverallocation/batch?waitForReadyMs=5000`, { allocations: [FLEET] });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toEqual({
      error: { code: 'BAD_REQUEST', message: 'query: unknown parameter waitForReadyMs (a batch takes no query parameters: send { "allocations": [...], "waitForReadyMs": N })' },
    });
    const one = await post(`${h.url}/gameserverallocation?waitForReadyMS=5000`, FLEET);
    expect(one.status).toBe(400);
    expect(await one.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'query: unknown parameter waitForReadyMS (this route takes only waitForReadyMs)' } });
    expect((await h.store.list({ states: [S.Allocated] })).length).toBe(0);
    const inBody = await post(`${h.url}/gameserverallocation/batch`, { allocations: [FLEET], waitForReadyMs: 0 });
    expect(((await inBody.json()) as { results: Array<{ result: { state: string } }> }).results[0]!.result.state).toBe('Allocated');
  });

  it('takes waitForReadyMs as a JSON number in a batch or stream message, refusing a string there, and as digits in the query string', async () => {
    const h = await start({ servers: 2 });
    const refusal = 'waitForReadyMs: give a whole number of milliseconds from 0 to 30000 (a JSON number, not the string "100")';
    const batch = await post(`${h.url}/gameserverallocation/batch`, { allocations: [FLEET], waitForReadyMs: '100' });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toEqual({ error: { code: 'BAD_REQUEST', message: refusal } });
    const s = await streamOf(h);
    s.ws.send(JSON.stringify({ id: 1, allocation: FLEET, waitForReadyMs: '100' }));
    expect((await s.until(1)).get(1)).toEqual({ id: 1, error: { code: 'BAD_REQUEST', message: refusal } });
    s.ws.close();
    expect((await h.store.list({ states: [S.Allocated] })).length).toBe(0);
    for (const text of ['1e3', '0x10', ' 5', '']) {
      const res = await post(`${h.url}/gameserverallocation?waitForReadyMs=${encodeURIComponent(text)}`, FLEET);
      expect({ text, status: res.status }).toEqual({ text, status: 400 });
    }
    expect(await (await post(`${h.url}/gameserverallocation?waitForReadyMs=100`, FLEET)).json()).toMatchObject({ state: 'Allocated' });
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
    // Answers leave in the order they are ready: one without an id could not be told apart, so nothing is allocated for it.
    ws.send(JSON.stringify({ allocation: FLEET }));
    ws.send(JSON.stringify({ id: { n: 4 }, allocation: FLEET }));
    for (let i = 0; i < 100 && replies.length < 7; i++) await new Promise((r) => setTimeout(r, 10));
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)?.result?.state).toBe('Allocated');
    expect(byId.get(3)?.result?.state).toBe('Allocated');
    expect(byId.get(2)?.error?.code).toBe('ALLOCATION_INVALID');
    expect(byId.get('x')?.error).toEqual({ code: 'BAD_REQUEST', message: 'unknown field colour' });
    expect(replies.filter((r) => r.id === null).map((r) => r.error?.message)).toEqual([expect.stringMatching(/^not JSON: /), 'id: required, a number or string (the answer carries it back)']);
    expect(replies.find((r) => typeof r.id === 'object' && r.id !== null)?.error).toEqual({ code: 'BAD_REQUEST', message: 'id: required, a number or string (the answer carries it back), got {"n":4}' });
    expect((await h.store.list({ states: [S.Allocated] })).length).toBe(2);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('takes a list of allocations in one WebSocket message, and answers such a client in lists', async () => {
    const h = await start({ servers: 2 });
    const ws = new WebSocket(h.ws);
    await new Promise((r) => ws.once('open', r));
    const frames: unknown[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    ws.send(JSON.stringify([{ id: 1, allocation: FLEET }, 7, { id: 2, allocation: { selectors: [{ gameServerState: 'Sleeping' }] } }, { id: 3, allocation: FLEET }, { id: 4, allocation: FLEET }]));
    for (let i = 0; i < 100 && frames.flat().length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    ws.send(JSON.stringify({ id: 5, allocation: FLEET }));
    for (let i = 0; i < 100 && frames.flat().length < 6; i++) await new Promise((r) => setTimeout(r, 10));
    expect(frames.slice(0, -1).every(Array.isArray)).toBe(true);
    const replies = frames.flat() as Array<{ id: unknown; result?: { state: string }; error?: { code: string; message: string } }>;
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect([1, 3, 4].map((id) => byId.get(id)?.result?.state).sort()).toEqual(['Allocated', 'Allocated', 'UnAllocated']);
    expect(byId.get(2)?.error?.code).toBe('ALLOCATION_INVALID');
    expect(byId.get(null)?.error).toEqual({ code: 'BAD_REQUEST', message: 'send { "id": ..., "allocation": GameServerAllocation }, or a list of them' });
    expect(byId.get(5)?.result?.state).toBe('UnAllocated');
    ws.send('[]');
    for (let i = 0; i < 100 && frames.flat().length < 7; i++) await new Promise((r) => setTimeout(r, 10));
    expect(frames.at(-1)).toEqual({ id: null, error: { code: 'BAD_REQUEST', message: 'an empty list: send one { "id": ..., "allocation": GameServerAllocation } or more' } });
    ws.close();
  });

  it('says on the upgrade that the stream takes lists, so a client knows it may send them', async () => {
    const h = await start({ servers: 1 });
    const ws = new WebSocket(h.ws);
    const res = await new Promise<{ headers: Record<string, unknown> }>((resolve) => ws.once('upgrade', resolve));
    expect(res.headers['hangar-stream-lists']).toBe('1');
    ws.close();
  });

  /** A stream connection whose replies (lists flattened) are kept; `until(n)` waits for n of them. */
  async function streamOf(h: TestAllocator) {
    const ws = new WebSocket(h.ws);
    const upgraded = new Promise<Record<string, unknown>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)));
    await new Promise((r) => ws.once('open', r));
    const headers = await upgraded;
    const replies: Array<{ id: unknown; result?: { state: string; gameServerName: string; metadata: { annotations: Record<string, string> } }; prepared?: string; error?: { code: string; message: string; problems?: string[] } }> = [];
    ws.on('message', (d) => replies.push(...([] as (typeof replies)[number][]).concat(JSON.parse(d.toString()) as (typeof replies)[number])));
    const until = async (n: number) => {
      for (let i = 0; i < 200 && replies.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(replies.length).toBeGreaterThanOrEqual(n);
      return new Map(replies.map((r) => [r.id, r]));
    };
    return { ws, headers, replies, until };
  }

  const TEMPLATE = { selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' } }], metadata: { labels: { 'hangar.dev/queue': 'ranked' } } };
  const MATCH = (n: number) => ({ metadata: { annotations: { 'hangar.dev/match-id': `m-${n}` } }, lists: { players: { addValues: [`p-${n}`] } } });

  it('keeps a template for the connection and allocates with only each match’s parts, recording the whole request', async () => {
    const h = await start({ servers: 3 });
    const s = await streamOf(h);
    expect(s.headers['hangar-stream-templates']).toBe('1');
    s.ws.send(JSON.stringify([{ id: 1, prepare: 'ranked', allocation: { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: TEMPLATE } }, { id: 2, template: 'ranked', allocation: MATCH(2) }]));
    s.ws.send(JSON.stringify({ id: 3, template: 'ranked', allocation: MATCH(3), waitForReadyMs: 0 }));
    const byId = await s.until(3);
    expect(byId.get(1)).toEqual({ id: 1, prepared: 'ranked' });
    for (const n of [2, 3]) expect(byId.get(n)?.result).toMatchObject({ state: 'Allocated', metadata: { annotations: { 'hangar.dev/match-id': `m-${n}` } } });
    // Each record holds the request the allocation was, whole, as a full request would have put it.
    const whole = (n: number) => JSON.stringify(parseAllocationRequest({ ...TEMPLATE, ...MATCH(n), metadata: { ...TEMPLATE.metadata, ...MATCH(n).metadata } }));
    expect(h.records.map((r) => r.requestJson ?? JSON.stringify(r.request))).toEqual([whole(2), whole(3)]);
    expect(h.records.map((r) => JSON.stringify(r.request))).toEqual([whole(2), whole(3)]);
    // A template is not an allocation: it is not timed as one.
    expect(await h.registry.getSingleMetricAsString('game_server_request_duration_seconds')).toMatch(/_count{type="stream"} 2$/m);
    s.ws.close();
  });

  it('answers every bad prepare or prepared allocation with an error naming the field, and keeps the connection and its templates', async () => {
    const h = await start({ servers: 5 });
    const s = await streamOf(h);
    s.ws.send(
      JSON.stringify([
        { id: 1, prepare: 'ranked', allocation: TEMPLATE },
        { id: 2, template: 'casual', allocation: MATCH(2) },
        { id: 3, prepare: 'no spaces', allocation: TEMPLATE },
        { id: 4, prepare: 7, allocation: TEMPLATE },
        { id: 5, prepare: 'bad', allocation: { selectors: [{ gameServerState: 'Sleeping' }] } },
        { id: 6, template: 'bad', allocation: MATCH(6) },
        { id: 7, template: 'ranked', allocation: { selectors: [], ...MATCH(7) } },
        { id: 8, template: 'ranked', allocation: { metadata: { labels: { 'hangar.dev/queue': 'not valid!' } } } },
        { id: 9, prepare: 'x', template: 'ranked', allocation: TEMPLATE },
        { id: 10, prepare: 'x', allocation: TEMPLATE, waitForReadyMs: 100 },
        { id: 11, template: 'ranked' },
        { id: 12, template: 'ranked', allocation: MATCH(12) },
      ]),
    );
    const byId = await s.until(12);
    expect(byId.get(1)?.prepared).toBe('ranked');
    expect(byId.get(2)?.error).toEqual({ code: 'BAD_REQUEST', message: 'template: no template "casual" on this connection: send { "id": ..., "prepare": name, "allocation": GameServerAllocation } first' });
    expect(byId.get(3)?.error).toEqual({ code: 'BAD_REQUEST', message: `prepare: a template's name is 1 to 64 letters, digits, '.', '_', ':' or '-', got "no spaces"` });
    expect(byId.get(4)?.error?.message).toMatch(/^prepare: .* got 7$/);
    expect(byId.get(5)?.error).toMatchObject({ code: 'ALLOCATION_INVALID', problems: [expect.stringMatching(/^spec\.selectors\[0\]\.gameServerState: /)] });
    // A template refused is not kept.
    expect(byId.get(6)?.error?.message).toMatch(/^template: no template "bad"/);
    expect(byId.get(7)?.error).toMatchObject({ code: 'ALLOCATION_INVALID', problems: ['allocation.selectors: not allowed in a prepared allocation: its template gives it (send metadata, counters, lists)'] });
    expect(byId.get(8)?.error).toMatchObject({ code: 'ALLOCATION_INVALID', problems: [expect.stringMatching(/^allocation\.metadata\.labels\[hangar\.dev\/queue\]: /)] });
    expect(byId.get(9)?.error).toEqual({ code: 'BAD_REQUEST', message: 'template: not allowed with prepare (a template is kept, not allocated)' });
    expect(byId.get(10)?.error).toEqual({ code: 'BAD_REQUEST', message: 'waitForReadyMs: not allowed with prepare (a template is kept, not allocated)' });
    expect(byId.get(11)?.error).toEqual({ code: 'BAD_REQUEST', message: 'allocation: required' });
    expect(byId.get(12)?.result?.state).toBe('Allocated');
    expect(h.records).toHaveLength(1);
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    s.ws.close();
  });

  it('keeps at most 256 templates a connection, replaces one by name, and forgets them all with the connection', async () => {
    const h = await start({ servers: 4 });
    const s = await streamOf(h);
    s.ws.send(JSON.stringify(Array.from({ length: 257 }, (_, i) => ({ id: i, prepare: `t${i}`, allocation: TEMPLATE }))));
    let byId = await s.until(257);
    expect([...byId.values()].filter((r) => r.prepared)).toHaveLength(256);
    expect(byId.get(256)?.error).toEqual({ code: 'BAD_REQUEST', message: 'prepare: this connection has 256 templates already, the most it may keep; reuse or replace one of them' });
    // Full, a template of a name it has is replaced; an allocation already sent keeps the one it named.
    s.ws.send(JSON.stringify([{ id: 'a', template: 't0', allocation: MATCH(1) }, { id: 'b', prepare: 't0', allocation: { ...TEMPLATE, metadata: { labels: { 'hangar.dev/queue': 'casual' } } } }, { id: 'c', template: 't0', allocation: MATCH(2) }]));
    byId = await s.until(260);
    expect(byId.get('b')?.prepared).toBe('t0');
    expect(h.records.map((r) => r.request.metadata.labels['hangar.dev/queue'])).toEqual(['ranked', 'casual']);
    s.ws.close();
    const again = await streamOf(h);
    again.ws.send(JSON.stringify({ id: 1, template: 't0', allocation: MATCH(3) }));
    expect((await again.until(1)).get(1)?.error?.message).toMatch(/^template: no template "t0" on this connection/);
    again.ws.close();
  });

  it('closes a stream that sends a message over 64 KiB with 1009, and goes on serving the others', async () => {
    const h = await start({ servers: 1 });
    const other = new WebSocket(h.ws);
    await new Promise((r) => other.once('open', r));
    const big = new WebSocket(h.ws);
    await new Promise((r) => big.once('open', r));
    const closed = new Promise<number>((r) => big.once('close', (code) => r(code)));
    big.send(JSON.stringify([{ id: 1, allocation: { ...FLEET, metadata: { labels: { filler: 'x'.repeat(64 * 1024) } } } }]));
    expect(await closed).toBe(1009);
    const answer = new Promise<{ id: number; result: { state: string } }>((r) => other.once('message', (d) => r(JSON.parse(d.toString()) as { id: number; result: { state: string } })));
    other.send(JSON.stringify({ id: 2, allocation: FLEET }));
    expect(await answer).toMatchObject({ id: 2, result: { state: 'Allocated' } });
    other.close();
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

  it('reads a mounted keys file again: a rotation keeps both keys valid, then the removed key is refused and its stream closed; logs never hold a key', async () => {
    const OLD = 'old-0123456789abcdef';
    const NEW = 'new-0123456789abcdef';
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-keys-'));
    const file = path.join(dir, 'allocator-api-keys');
    writeFileSync(file, `matchmaker=${OLD}\n`);
    const logged: string[] = [];
    const log = createLogger({ level: 'trace', destination: { write: (line: string) => void logged.push(line) } });
    const clock = new FakeClock();
    const secrets = loadSecrets({ ALLOCATOR_API_KEYS: 'ops=ops-0123456789abcdef', ALLOCATOR_API_KEYS_FILE: file });
    const auth = new ClientAuth({ apiKeys: secrets.allocatorApiKeys, mutualTls: false });
    const stopReloading = reloadApiKeysFile({ file, auth, keys: secrets.allocatorApiKeys, clock, log });
    try {
      const h = await start({ auth });
      const status = async (key: string) => (await post(`${h.url}/gameserverallocation`, FLEET, { authorization: `Bearer ${key}` })).status;
      const stream = new WebSocket(h.ws, { headers: { authorization: `Bearer ${OLD}` } });
      await new Promise((r) => stream.once('open', r));
      const streamClosed = new Promise<[number, string]>((resolve) => stream.once('close', (code, reason) => resolve([code, reason.toString()])));

      // Rotation, step 1: the new key beside the old one.
      writeFileSync(file, `matchmaker=${OLD}\nmatchmaker=${NEW}\n`);
      clock.advance(API_KEYS_RELOAD_MS);
      expect([await status(OLD), await status(NEW), await status('ops-0123456789abcdef')]).toEqual([200, 200, 200]);
      expect(stream.readyState).toBe(WebSocket.OPEN);

      // A file with a bad entry changes nothing, and says so once however often it is read.
      writeFileSync(file, `matchmaker=${NEW}\nbroken line\n`);
      clock.advance(API_KEYS_RELOAD_MS * 3);
      expect(await status(OLD)).toBe(200);
      expect(logged.filter((l) => l.includes('not reloaded'))).toHaveLength(1);
      expect(logged.find((l) => l.includes('not reloaded'))).toContain('ALLOCATOR_API_KEYS_FILE entry 2: expected name=key with a key of at least 16 characters');

      // Step 2: the old key gone. Refused at once, and the stream it opened is closed.
      writeFileSync(file, `matchmaker=${NEW}\n`);
      clock.advance(API_KEYS_RELOAD_MS);
      expect([await status(OLD), await status(NEW), await status('ops-0123456789abcdef')]).toEqual([401, 200, 200]);
      expect(await streamClosed).toEqual([1008, 'the API key this stream was opened with is no longer valid']);
      expect(JSON.parse(logged.filter((l) => l.includes('keys reloaded')).at(-1)!)).toMatchObject({ file, clients: { ops: 1, matchmaker: 1 } });
      expect(logged.join('\n')).not.toMatch(/0123456789abcdef/);
    } finally {
      stopReloading();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
