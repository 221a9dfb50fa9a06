import WebSocket from 'ws';
import type { AllocationResult, GameServerAllocationSpec } from '../allocator/allocation.js';
import type { Allocator } from '../allocator/allocator.js';
import { mergeAllocation, type PreparedAllocation } from '../allocator/prepared-allocation.js';
import { heartbeat, MAX_TEMPLATES, STREAM_FRAME_LIMIT_BYTES, STREAM_LISTS_HEADER, STREAM_PATH, STREAM_PING_INTERVAL_MS, STREAM_TEMPLATES_HEADER } from '../allocator/stream-protocol.js';
import { AppError, ConfigError, ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

// How the matchmaker asks for game servers: through the allocator in the same process (the local
// stack), or over the allocator's WebSocket stream (a standalone matchmaker), where many
// allocations share one connection so throughput is not capped by one HTTP request each.

/** An allocation: the whole spec, or a template and this allocation's parts (allocator/prepared-allocation.ts). */
export type AllocationRequest = GameServerAllocationSpec | PreparedAllocation;

export interface AllocatorClient {
  allocate(request: AllocationRequest): Promise<AllocationResult>;
  close(): Promise<void>;
}

function isPrepared(request: AllocationRequest): request is PreparedAllocation {
  return 'template' in request;
}

/** The allocation a request makes, whole. */
export function wholeSpec(request: AllocationRequest): GameServerAllocationSpec {
  return isPrepared(request) ? mergeAllocation(request.template, request.parts) : request;
}

/** The allocator of this process. */
export class InProcessAllocatorClient implements AllocatorClient {
  constructor(private readonly allocator: Allocator) {}

  allocate(request: AllocationRequest): Promise<AllocationResult> {
    return this.allocator.allocate(wholeSpec(request), { client: 'matchmaker' });
  }

  async close(): Promise<void> {}
}

export class AllocatorUnavailableError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.ALLOCATOR_UNAVAILABLE, message, options);
  }
}

interface Reply {
  id?: number;
  result?: AllocationResult;
  prepared?: string;
  error?: { code: string; message: string };
}

interface Pending {
  resolve(result: AllocationResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The most one coalesced message carries, in string length: a third of the allocator's limit on a
 * message, as UTF-8 takes at most three bytes for each UTF-16 unit.
 */
const FRAME_LIMIT = Math.floor(STREAM_FRAME_LIMIT_BYTES / 3);

/**
 * The stream's URL from what ops write: the allocator's base URL (http://allocator:8000, as the
 * compose file and manifests have it) or the stream's own ws:// or wss:// URL.
 */
export function allocatorStreamUrl(written: string): string {
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    throw new ConfigError([`ALLOCATOR_URL (matchmaker.allocator_url) ${JSON.stringify(written)} is not a URL: write http://host:8000 or ws://host:8000${STREAM_PATH}`]);
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme) throw new ConfigError([`ALLOCATOR_URL (matchmaker.allocator_url) must be http, https, ws or wss, not ${url.protocol.slice(0, -1)}`]);
  url.protocol = scheme;
  if (url.pathname === '/' || url.pathname === '') url.pathname = STREAM_PATH;
  return url.toString();
}

export interface StreamAllocatorClientOptions {
  /** The allocator's base URL, or its stream's ws:// or wss:// URL (allocatorStreamUrl). */
  url: string;
  apiKey?: string;
  log: Logger;
  /** The longest one allocation may take before it fails; default 10 s. */
  timeoutMs?: number;
  /** How often the stream is pinged (STREAM_PING_INTERVAL_MS unless a test says otherwise). */
  pingIntervalMs?: number;
}

/**
 * Allocations over the allocator's WebSocket stream, reconnecting when the connection drops or
 * stops answering pings (a half-open connection behind a proxy would hold every match sent on it). A
 * prepared allocation's template is sent once a connection (while the allocator keeps templates,
 * STREAM_TEMPLATES_HEADER, and the connection has room for it), then only its parts; otherwise the
 * whole allocation.
 */
export class StreamAllocatorClient implements AllocatorClient {
  private socket: WebSocket | undefined;
  private connecting: Promise<WebSocket> | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Connections to an allocator that takes lists of allocations (STREAM_LISTS_HEADER). */
  private readonly takesLists = new WeakSet<WebSocket>();
  /** Each connection to an allocator that keeps templates (STREAM_TEMPLATES_HEADER): the names of the templates sent on it. */
  private readonly templateNames = new WeakMap<WebSocket, Map<GameServerAllocationSpec, string>>();
  /** Templates sent and not answered yet, by their message's id: forgotten if refused, so the next allocation sends them again. */
  private readonly preparing = new Map<number, { socket: WebSocket; template: GameServerAllocationSpec }>();
  /** Allocations of this turn not sent yet (their messages and ids); `bytes` counts them as one JSON list. */
  private outbox: { socket: WebSocket | undefined; messages: string[]; ids: number[]; bytes: number } = { socket: undefined, messages: [], ids: [], bytes: 2 };
  private nextId = 1;
  /** Template names are never reused, so a refused template's name cannot come back meaning another. */
  private nextTemplate = 1;
  private closed = false;

  private readonly url: string;

  constructor(private readonly options: StreamAllocatorClientOptions) {
    this.url = allocatorStreamUrl(options.url);
  }

  async allocate(request: AllocationRequest): Promise<AllocationResult> {
    const socket = await this.connect();
    const id = this.nextId++;
    return new Promise<AllocationResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AllocatorUnavailableError(`the allocator did not answer allocation ${id} within ${this.options.timeoutMs ?? 10_000} ms`));
      }, this.options.timeoutMs ?? 10_000);
      this.pending.set(id, { resolve, reject, timer });
      this.enqueue(socket, id, this.message(socket, id, request));
    });
  }

  /** The message for allocation `id` on `socket`: its template's name and its parts where it can, sending the template first if new there. */
  private message(socket: WebSocket, id: number, request: AllocationRequest): string {
    const names = this.templateNames.get(socket);
    if (!isPrepared(request) || !names) return JSON.stringify({ id, allocation: wholeSpec(request) });
    let name = names.get(request.template);
    if (name === undefined) {
      if (names.size >= MAX_TEMPLATES) return JSON.stringify({ id, allocation: wholeSpec(request) });
      name = `t${this.nextTemplate++}`;
      names.set(request.template, name);
      const prepareId = this.nextId++;
      this.preparing.set(prepareId, { socket, template: request.template });
      this.enqueue(socket, prepareId, JSON.stringify({ id: prepareId, prepare: name, allocation: request.template }));
    }
    return JSON.stringify({ id, template: name, allocation: request.parts });
  }

  /**
   * Sends the allocations asked for in one turn of the event loop together, as one message (a
   * JSON list) up to the allocator's message limit: a frame each costs both ends more than the
   * allocation (BENCHMARKS.md, "Allocator under load"). Sent before the turn ends, so none waits.
   */
  private enqueue(socket: WebSocket, id: number, message: string): void {
    if (this.outbox.socket !== socket) {
      this.flush();
      this.outbox.socket = socket;
    }
    if (this.outbox.bytes + message.length + 1 > FRAME_LIMIT) this.flush();
    if (this.outbox.messages.length === 0) process.nextTick(this.flush);
    this.outbox.messages.push(message);
    this.outbox.ids.push(id);
    this.outbox.bytes += message.length + 1;
  }

  private readonly flush = (): void => {
    const { socket, messages, ids } = this.outbox;
    if (messages.length === 0) return;
    Object.assign(this.outbox, { messages: [], ids: [], bytes: 2 });
    if (socket?.readyState !== WebSocket.OPEN) {
      for (const id of ids) this.fail(id, new AllocatorUnavailableError('the allocator stream closed'));
    } else if (messages.length > 1 && this.takesLists.has(socket)) {
      socket.send(`[${messages.join(',')}]`);
    } else {
      for (const message of messages) socket.send(message);
    }
  };

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new AllocatorUnavailableError('the allocator client was closed'));
    this.socket?.close();
  }

  private connect(): Promise<WebSocket> {
    if (this.closed) return Promise.reject(new AllocatorUnavailableError('the allocator client was closed'));
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<WebSocket>((resolve, reject) => {
      const headers = this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : undefined;
      const ws = new WebSocket(this.url, { headers });
      ws.once('upgrade', (res) => {
        if (res.headers[STREAM_LISTS_HEADER] === '1') this.takesLists.add(ws);
        if (res.headers[STREAM_TEMPLATES_HEADER] === '1') this.templateNames.set(ws, new Map());
      });
      ws.once('open', () => {
        const stopHeartbeat = heartbeat(ws, this.options.pingIntervalMs ?? STREAM_PING_INTERVAL_MS, () =>
          this.options.log.warn(`the allocator stream at ${this.url} stopped answering pings: dropped, the next allocation reconnects`),
        );
        ws.once('close', stopHeartbeat);
        this.socket = ws;
        this.connecting = undefined;
        resolve(ws);
      });
      ws.once('unexpected-response', (_req, res) => {
        this.connecting = undefined;
        reject(new AllocatorUnavailableError(`the allocator at ${this.url} refused the stream: HTTP ${res.statusCode}`));
      });
      ws.once('error', (err) => {
        this.connecting = undefined;
        reject(new AllocatorUnavailableError(`cannot reach the allocator at ${this.url}: ${err.message}`, { cause: err }));
      });
      ws.on('message', (data) => this.onMessage(data.toString()));
      ws.on('close', () => {
        if (this.socket === ws) this.socket = undefined;
        for (const [id, { socket }] of this.preparing) if (socket === ws) this.preparing.delete(id);
        this.failAll(new AllocatorUnavailableError('the allocator stream closed'));
      });
    });
    return this.connecting;
  }

  private onMessage(text: string): void {
    let replies: Reply | Reply[];
    try {
      replies = JSON.parse(text) as Reply | Reply[];
    } catch {
      this.options.log.warn('the allocator stream sent something that is not JSON');
      return;
    }
    if (Array.isArray(replies)) for (const reply of replies) this.settle(reply);
    else this.settle(replies);
  }

  private settle(reply: Reply): void {
    const prepared = reply.id === undefined ? undefined : this.preparing.get(reply.id);
    if (prepared) {
      this.preparing.delete(reply.id!);
      if (reply.error) {
        // The allocations sent with it fail (no such template); the next one sends it again.
        this.templateNames.get(prepared.socket)?.delete(prepared.template);
        this.options.log.warn({ error: reply.error }, 'the allocator refused an allocation template');
      }
      return;
    }
    const pending = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id!);
    clearTimeout(pending.timer);
    if (reply.result) pending.resolve(reply.result);
    else pending.reject(new AllocatorUnavailableError(`the allocator refused the allocation: ${reply.error?.code ?? 'unknown'}: ${reply.error?.message ?? ''}`));
  }

  private fail(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(err);
    this.pending.delete(id);
  }

  private failAll(err: Error): void {
    for (const id of this.pending.keys()) this.fail(id, err);
  }
}
