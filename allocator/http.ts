import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppError } from '../core/errors.js';
import { asCodedError, httpStatusFor, sendError, sendErrorBody, sendJson, type ErrorBody } from '../core/http-errors.js';
import { JsonBodyError, readJsonBody } from '../core/json-body.js';
import type { Logger } from '../core/logger.js';
import type { AllocatorMetrics } from '../core/metrics.js';
import { parseAllocationParts, parseAllocationRequest } from './allocation-schema.js';
import type { AllocationResult } from './allocation.js';
import { MAX_WAIT_FOR_READY_MS, type Allocator } from './allocator.js';
import type { ClientAuth } from './client-auth.js';
import type { RateLimiter } from './rate-limiter.js';
import { AllocationTemplate } from './prepared-allocation.js';
import { ALLOCATION_PATH, heartbeat, MAX_TEMPLATES, STREAM_FRAME_LIMIT_BYTES, STREAM_LISTS_HEADER, STREAM_PATH, STREAM_PING_INTERVAL_MS, STREAM_TEMPLATES_HEADER, TEMPLATE_NAME } from './stream-protocol.js';

// The allocator's HTTP face, on the API port:
//   POST /gameserverallocation[?waitForReadyMs=N]   one allocation: Agones' GameServerAllocation
//                                                   (or its spec) in, Agones' status shape out
//   POST /gameserverallocation/batch                { allocations: [...], waitForReadyMs? } → { results: [...] }
//   GET  /gameserverallocation/stream (WebSocket)   { id, allocation, waitForReadyMs? } → { id, result } | { id, error }
//                                                   or a list of those in one message; a client
//                                                   that has sent a list gets the answers of one
//                                                   turn of the event loop together, in a list.
//                                                   { id, prepare: name, allocation } → { id, prepared: name }
//                                                   keeps a template for the connection, and
//                                                   { id, template: name, allocation: parts, waitForReadyMs? }
//                                                   allocates with it (allocator/prepared-allocation.ts)
// The batch and the stream exist so a matchmaker's throughput is not capped by the cost of one
// HTTP request per allocation. Every error is JSON naming what is wrong; 401/403 for who, 429 for
// how often (with Retry-After), 400 for what, 413 for a body over 64 KiB (8 MiB for a batch).

export const BATCH_PATH = `${ALLOCATION_PATH}/batch`;
export const MAX_BATCH = 1000;
const BODY_LIMIT_BYTES = 64 * 1024;
const BATCH_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export interface AllocatorHttpOptions {
  allocator: Allocator;
  auth: ClientAuth;
  limiter: RateLimiter;
  metrics: AllocatorMetrics;
  log: Logger;
  /** Aborted when the allocator drains: each stream answers what it has in flight, then closes (1001) so its client reconnects elsewhere. */
  draining?: AbortSignal;
  /** How often a stream is pinged (STREAM_PING_INTERVAL_MS unless a test says otherwise). */
  pingIntervalMs?: number;
}

/** How long a draining stream may go on answering before it is closed anyway. */
const STREAM_DRAIN_GRACE_MS = 5000;

/** An error as the API reports it; anything not ours is an internal error (and logged). */
function errorBody(err: unknown, log: Logger): { status: number; body: ErrorBody } {
  const coded = asCodedError(err);
  if (coded) {
    const problems = (coded as AppError & { problems?: readonly string[] }).problems;
    return { status: httpStatusFor(coded.code), body: { code: coded.code, message: coded.message, ...(problems ? { problems } : {}) } };
  }
  log.error({ err }, 'allocation failed');
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
}

/**
 * The URL's query parameters, refusing any the route does not read: a parameter it ignored (a
 * batch's `?waitForReadyMs`, which goes in its body) would change nothing, silently.
 */
function queryOf(url: string, takes: 'waitForReadyMs' | undefined): Record<string, string | string[] | undefined> {
  const at = url.indexOf('?');
  if (at < 0) return {};
  const query = parseQuery(url.slice(at + 1));
  const unknown = Object.keys(query).filter((k) => k !== takes);
  if (unknown.length) {
    const hint = takes ? `this route takes only ${takes}` : 'a batch takes no query parameters: send { "allocations": [...], "waitForReadyMs": N }';
    throw new RequestError(`query: unknown parameter ${unknown.join(', ')} (${hint})`);
  }
  return query;
}

/** `waitForReadyMs` from a JSON body or stream message: a number, as documented (a string is refused, not read as one). */
function waitFor(value: unknown, where: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_WAIT_FOR_READY_MS) {
    const hint = typeof value === 'string' ? ` (a JSON number, not the string ${JSON.stringify(value)})` : '';
    throw new RequestError(`${where}: give a whole number of milliseconds from 0 to ${MAX_WAIT_FOR_READY_MS}${hint}`);
  }
  return value;
}

/** `?waitForReadyMs=N`, which a query string carries as text: decimal digits, else refused as waitFor refuses. */
function waitForQuery(value: string | string[] | undefined): number {
  if (value === undefined) return 0;
  return waitFor(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN, 'waitForReadyMs');
}

/** A problem of a batch's item `i` (`spec.x: ...`, or `(request): ...` for the item as a whole), named where it is in the batch. */
function itemProblem(i: number, problem: string): string {
  return problem.startsWith('(request)') ? `allocations[${i}]${problem.slice('(request)'.length)}` : `allocations[${i}].${problem}`;
}

class RequestError extends Error {}

/** Aborted when `res`'s connection closes before its answer is sent: the caller is gone, and an allocation made now would be for nobody. */
function callerGone(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => res.writableFinished || gone.abort());
  return gone.signal;
}

/**
 * `json` as read, refusing a body that was sent but not read because it was not declared JSON
 * (`curl -d` sends form data): validating it as absent would answer "spec: missing required field"
 * about a body that has a spec.
 */
function bodyReadAsJson(req: IncomingMessage, json: unknown): unknown {
  const sent = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (json === undefined && sent) {
    throw new JsonBodyError(400, 'BAD_REQUEST', `the body was not read: send it with Content-Type: application/json (it came ${req.headers['content-type'] ? `as ${req.headers['content-type']}` : 'without a Content-Type'})`);
  }
  return json;
}

type Route = 'allocation' | 'batch';

/** Which route a POST's URL names, matched as express matched it: any case, one trailing slash allowed. */
function routeOf(url: string): Route | undefined {
  if (url === ALLOCATION_PATH) return 'allocation';
  const query = url.indexOf('?');
  let path = query < 0 ? url : url.slice(0, query);
  if (!path.startsWith('/')) path = URL.canParse(path) ? new URL(path).pathname : path; // absolute-form, as a proxy sends
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  path = path.toLowerCase();
  return path === ALLOCATION_PATH ? 'allocation' : path === BATCH_PATH ? 'batch' : undefined;
}

/**
 * The REST routes on node:http itself, in front of `others` (an express app), which gets every
 * other request: express's router, body-parser and res.json() cost more than the allocation
 * behind them (BENCHMARKS.md, "Allocator under load"). Who asks is checked before the body is
 * read, so strangers cannot make the allocator parse megabytes.
 */
export function allocationRequestListener(options: AllocatorHttpOptions, others: RequestListener): RequestListener {
  const { allocator, auth, limiter, metrics, log } = options;

  /** Takes `n` allocations from the client's rate; answers 429 itself and returns false. */
  const withinRate = (client: string, res: ServerResponse, n: number): boolean => {
    const retryMs = limiter.take(client, n);
    if (retryMs === 0) return true;
    metrics.rateLimited.inc({ client });
    // An infinite wait: the batch is larger than the burst, so no Retry-After would help.
    const retry = Number.isFinite(retryMs);
    const message = retry ? `client ${client} is over its allocation rate; retry in ${retryMs} ms` : `a batch of ${n} is more than client ${client}'s burst allows`;
    sendErrorBody(res, 429, { code: 'RATE_LIMITED', message }, retry ? { 'retry-after': String(Math.ceil(retryMs / 1000)) } : undefined);
    return false;
  };

  const refuse = (res: ServerResponse, err: unknown) => {
    const { status, body }: { status: number; body: ErrorBody } =
      err instanceof RequestError
        ? { status: 400, body: { code: 'BAD_REQUEST', message: err.message } }
        : err instanceof JsonBodyError
          ? { status: err.status, body: { code: err.code, message: err.message } }
          : errorBody(err, log);
    metrics.errors.inc({ error_type: body.code });
    sendErrorBody(res, status, body);
  };

  async function allocateOne(req: IncomingMessage, res: ServerResponse, client: string): Promise<void> {
    const json = bodyReadAsJson(req, await readJsonBody(req, BODY_LIMIT_BYTES));
    const started = performance.now();
    if (!withinRate(client, res, 1)) return;
    try {
      const waitForReadyMs = waitForQuery(queryOf(req.url!, 'waitForReadyMs').waitForReadyMs);
      // A caller gone while its request waits for a Ready server (hangar allocate stopped with Ctrl-C) takes none.
      const result = await allocator.allocate(parseAllocationRequest(json), { client, waitForReadyMs, signal: callerGone(res) });
      sendJson(res, 200, JSON.stringify(result));
    } catch (err) {
      refuse(res, err);
    } finally {
      metrics.requestDuration.observe({ type: 'allocation' }, (performance.now() - started) / 1000);
    }
  }

  async function allocateBatch(req: IncomingMessage, res: ServerResponse, client: string): Promise<void> {
    const json = bodyReadAsJson(req, await readJsonBody(req, BATCH_BODY_LIMIT_BYTES));
    const started = performance.now();
    try {
      queryOf(req.url!, undefined);
      const body = json as { allocations?: unknown; waitForReadyMs?: unknown } | undefined;
      if (!body || typeof body !== 'object' || !Array.isArray(body.allocations)) throw new RequestError('body: send { "allocations": [GameServerAllocation, ...] }');
      const unknown = Object.keys(body).filter((k) => k !== 'allocations' && k !== 'waitForReadyMs');
      if (unknown.length) throw new RequestError(`body: unknown field ${unknown.join(', ')}`);
      if (body.allocations.length > MAX_BATCH) throw new RequestError(`allocations: at most ${MAX_BATCH} in one batch, got ${body.allocations.length}`);
      const waitForReadyMs = waitFor(body.waitForReadyMs, 'waitForReadyMs');
      if (!withinRate(client, res, Math.max(1, body.allocations.length))) return;
      // In order, one at a time: a batch is a queue of requests, answered in the order sent. A
      // caller gone takes nothing more: the item waiting stops, the items after it are not allocated.
      const signal = callerGone(res);
      const results: Array<{ result: AllocationResult } | { error: ErrorBody }> = [];
      for (const [i, raw] of body.allocations.entries()) {
        if (signal.aborted) return;
        try {
          results.push({ result: await allocator.allocate(parseAllocationRequest(raw), { client, waitForReadyMs, signal }) });
        } catch (err) {
          const { body: error } = errorBody(err, log);
          metrics.errors.inc({ error_type: error.code });
          const problems = error.problems?.map((p) => itemProblem(i, p));
          results.push({ error: { ...error, message: `allocations[${i}]: ${error.message}`, ...(problems ? { problems } : {}) } });
        }
      }
      sendJson(res, 200, JSON.stringify({ results }));
    } catch (err) {
      refuse(res, err);
    } finally {
      metrics.requestDuration.observe({ type: 'batch' }, (performance.now() - started) / 1000);
    }
  }

  return (req, res) => {
    const route = req.method === 'POST' || req.method === 'OPTIONS' ? routeOf(req.url!) : undefined;
    if (!route) return others(req, res);
    // What express answered for a path it had routes for.
    if (req.method === 'OPTIONS') return void res.writeHead(200, { allow: 'POST', 'content-type': 'text/plain; charset=utf-8', 'content-length': 4 }).end('POST');
    const who = auth.authenticate(req);
    if ('status' in who) return sendError(res, who.status, who.code, who.message);
    (route === 'allocation' ? allocateOne : allocateBatch)(req, res, who.client).catch((err: unknown) => {
      // A body that could not be read (the handlers answer everything after it themselves).
      if (!res.headersSent) refuse(res, err);
    });
  };
}

const MESSAGE_FIELDS = new Set(['id', 'allocation', 'waitForReadyMs', 'template', 'prepare']);

/** Checked without building a list of keys, which only a refusal needs. */
function hasOnlyMessageFields(message: object): boolean {
  for (const key in message) if (!MESSAGE_FIELDS.has(key)) return false;
  return true;
}

/** Allocations over one WebSocket: many in flight, each answered with its `id`. */
export function attachAllocationStream(server: Server, options: AllocatorHttpOptions): WebSocketServer {
  const { allocator, auth, limiter, metrics, log } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: STREAM_FRAME_LIMIT_BYTES });
  wss.on('headers', (headers) => headers.push(`${STREAM_LISTS_HEADER}: 1`, `${STREAM_TEMPLATES_HEADER}: 1`));
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== STREAM_PATH) return;
    const who = auth.authenticate(req);
    if ('status' in who) {
      const body = JSON.stringify({ error: { code: who.code, message: who.message } });
      socket.end(`HTTP/1.1 ${who.status} ${who.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (who.keyDigest) keyed.set(ws, who.keyDigest);
      ws.once('close', () => keyed.delete(ws));
      serve(ws, socket, who.client);
    });
  });
  // A stream lives as long as its client; one opened with a key since taken away (a rotation
  // finished, a leaked key removed) is closed, and its client must come back with a valid key.
  const keyed = new Map<WebSocket, Buffer>();
  auth.onKeysChanged(() => {
    for (const [ws, digest] of keyed) {
      if (auth.isKeyValid(digest)) continue;
      keyed.delete(ws);
      ws.close(1008, 'the API key this stream was opened with is no longer valid');
    }
  });

  function serve(ws: WebSocket, socket: Duplex, client: string): void {
    // A stream lives as long as its client would keep it: on a drain it goes once its allocations
    // in flight are answered (the answers leave on the next tick, before the close), else after a grace.
    let inFlight = 0;
    let goingAway = false;
    const goAway = () => {
      goingAway = true;
      const close = () => ws.close(1001, 'the allocator is draining: reconnect');
      if (inFlight === 0) return void setImmediate(close);
      setTimeout(close, STREAM_DRAIN_GRACE_MS).unref();
    };
    const settled = () => {
      inFlight--;
      if (goingAway && inFlight === 0) setImmediate(() => ws.close(1001, 'the allocator is draining: reconnect'));
    };
    // Without a listener, ws's 'error' (a frame over maxPayload, a protocol error) is thrown and ends the process:
    // one client's bad frame would take the allocator down. ws closes that socket itself (1009, 1002).
    ws.on('error', (err: Error & { code?: string }) => {
      metrics.errors.inc({ error_type: err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'TOO_LARGE' : 'BAD_REQUEST' });
      log.debug({ err, client }, 'allocation stream error');
    });
    if (options.draining?.aborted) goAway();
    else options.draining?.addEventListener('abort', goAway, { once: true });
    // A client gone (the connection closed, or dropped by the heartbeat) takes no server: its
    // allocations waiting for a Ready one stop, as a REST caller's do.
    const gone = new AbortController();
    const signal = gone.signal;
    const stopHeartbeat = heartbeat(ws, options.pingIntervalMs ?? STREAM_PING_INTERVAL_MS, () => log.info({ client }, 'allocation stream dropped: its client stopped answering pings'));
    ws.once('close', () => {
      options.draining?.removeEventListener('abort', goAway);
      stopHeartbeat();
      gone.abort();
    });
    // The answers of one turn of the event loop leave together: in one frame (a JSON array) once
    // the client has shown it reads arrays by sending one, else in one write of a frame each.
    let outbox: string[] = [];
    let arrays = false;
    // This connection's templates, by name: bounded, and gone with the connection.
    const templates = new Map<string, AllocationTemplate>();
    const flush = () => {
      const answers = outbox;
      outbox = [];
      if (ws.readyState !== ws.OPEN) return;
      if (arrays && answers.length > 1) {
        // The brackets go on the ends before the join, so the frame's text is copied once, by
        // the join; brackets around the joined text would be copied again to be sent.
        answers[0] = `[${answers[0]!}`;
        answers[answers.length - 1] += ']';
        return ws.send(answers.join(','));
      }
      socket.cork();
      for (const answer of answers) ws.send(answer);
      socket.uncork();
    };
    const send = (id: unknown, field: 'result' | 'error' | 'prepared', payload: unknown) => {
      if (outbox.length === 0) process.nextTick(flush);
      outbox.push(`{"id":${JSON.stringify(id)},"${field}":${JSON.stringify(payload)}}`);
    };
    // Plain functions of the message's id and start, not closures made per message: less garbage at tens of thousands a second.
    const reply = (id: unknown, started: number, field: 'result' | 'error', payload: object) => {
      send(id, field, payload);
      metrics.requestDuration.observe({ type: 'stream' }, (performance.now() - started) / 1000);
    };
    const fail = (id: unknown, started: number, error: ErrorBody) => {
      metrics.errors.inc({ error_type: error.code });
      reply(id, started, 'error', error);
    };
    const allocate = (message: unknown, started: number) => {
      if (!message || typeof message !== 'object' || Array.isArray(message)) return fail(null, started, { code: 'BAD_REQUEST', message: 'send { "id": ..., "allocation": GameServerAllocation }, or a list of them' });
      const m = message as { id?: unknown; allocation?: unknown; waitForReadyMs?: unknown; template?: unknown; prepare?: unknown };
      const id = m.id ?? null;
      if (!hasOnlyMessageFields(m)) {
        const unknown = Object.keys(m).filter((k) => !MESSAGE_FIELDS.has(k));
        return fail(id, started, { code: 'BAD_REQUEST', message: `unknown field ${unknown.join(', ')}` });
      }
      // Answers come back in the order they are ready, not sent: one without an id could not be matched to its message.
      if (typeof id !== 'number' && typeof id !== 'string') {
        return fail(id, started, { code: 'BAD_REQUEST', message: `id: required, a number or string (the answer carries it back)${m.id === undefined ? '' : `, got ${JSON.stringify(m.id)}`}` });
      }
      if (m.allocation === undefined) return fail(id, started, { code: 'BAD_REQUEST', message: 'allocation: required' });
      if (m.prepare !== undefined) return prepare(id, started, m.prepare, m);
      const template = m.template === undefined ? undefined : templates.get(m.template as string);
      if (m.template !== undefined && !template) {
        return fail(id, started, { code: 'BAD_REQUEST', message: `template: no template ${JSON.stringify(m.template)} on this connection: send { "id": ..., "prepare": name, "allocation": GameServerAllocation } first` });
      }
      const retryMs = limiter.take(client);
      if (retryMs > 0) {
        metrics.rateLimited.inc({ client });
        return fail(id, started, { code: 'RATE_LIMITED', message: `client ${client} is over its allocation rate; retry in ${retryMs} ms` });
      }
      let waitForReadyMs: number;
      try {
        waitForReadyMs = waitFor(m.waitForReadyMs, 'waitForReadyMs');
      } catch (err) {
        return fail(id, started, { code: 'BAD_REQUEST', message: (err as Error).message });
      }
      let allocation: Promise<AllocationResult>;
      try {
        if (template) {
          const spec = template.allocation(parseAllocationParts(m.allocation, 'allocation'), 'allocation');
          allocation = allocator.allocate(spec, { client, waitForReadyMs, template, signal });
        } else {
          allocation = allocator.allocate(parseAllocationRequest(m.allocation), { client, waitForReadyMs, signal });
        }
      } catch (err) {
        return fail(id, started, errorBody(err, log).body);
      }
      inFlight++;
      allocation.then(
        (result) => {
          reply(id, started, 'result', result);
          settled();
        },
        (err: unknown) => {
          fail(id, started, errorBody(err, log).body);
          settled();
        },
      );
    };
    /** Keeps `name`'s template for this connection (replacing one of that name), validated and defaulted once. */
    const prepare = (id: unknown, started: number, name: unknown, m: { template?: unknown; waitForReadyMs?: unknown; allocation?: unknown }) => {
      const mixed = m.template !== undefined ? 'template' : m.waitForReadyMs !== undefined ? 'waitForReadyMs' : undefined;
      if (mixed) return fail(id, started, { code: 'BAD_REQUEST', message: `${mixed}: not allowed with prepare (a template is kept, not allocated)` });
      if (typeof name !== 'string' || !TEMPLATE_NAME.test(name)) {
        return fail(id, started, { code: 'BAD_REQUEST', message: `prepare: a template's name is 1 to 64 letters, digits, '.', '_', ':' or '-', got ${JSON.stringify(name) ?? String(name)}` });
      }
      if (!templates.has(name) && templates.size >= MAX_TEMPLATES) {
        return fail(id, started, { code: 'BAD_REQUEST', message: `prepare: this connection has ${MAX_TEMPLATES} templates already, the most it may keep; reuse or replace one of them` });
      }
      const retryMs = limiter.take(client);
      if (retryMs > 0) {
        metrics.rateLimited.inc({ client });
        return fail(id, started, { code: 'RATE_LIMITED', message: `client ${client} is over its allocation rate; retry in ${retryMs} ms` });
      }
      try {
        templates.set(name, new AllocationTemplate(parseAllocationRequest(m.allocation)));
      } catch (err) {
        return fail(id, started, errorBody(err, log).body);
      }
      send(id, 'prepared', name);
    };
    ws.on('message', (data, isBinary) => {
      const started = performance.now();
      if (isBinary) return fail(null, started, { code: 'BAD_REQUEST', message: 'send each allocation as a JSON text message' });
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch (err) {
        return fail(null, started, { code: 'BAD_REQUEST', message: `not JSON: ${(err as Error).message}` });
      }
      if (!Array.isArray(message)) return allocate(message, started);
      if (message.length === 0) return fail(null, started, { code: 'BAD_REQUEST', message: 'an empty list: send one { "id": ..., "allocation": GameServerAllocation } or more' });
      arrays = true;
      for (const m of message) allocate(m, started);
    });
  }
  return wss;
}
