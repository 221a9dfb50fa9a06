import { WebSocket } from 'ws';
import { loadPlayerAuthConfig, parseConfig } from '../../core/config.js';
import { silentLogger } from '../../core/logger.js';
import { createMatchmakerMetrics, createRegistry, type Registry } from '../../core/metrics.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { PlayerAuth } from '../player-auth.js';
import { startLobbyServer, type LobbyServer, type LobbySettings } from './lobby-server.js';
import type { QueueInfo } from './matchmaking.js';
import { RecordingMatchmaking } from './recording-matchmaking.js';

// A real lobby on a free port over a RecordingMatchmaking, a FakeClock (rate buckets refill and
// tokens expire only when a test advances it) and real HTTP and WebSocket clients, for the lobby's tests.

export const TEST_SECRET = 'lobby-test-secret-0123456789-abcdefgh';
/** A duel (solo, accept step) and a squad queue (parties of four, backfill). */
export const TEST_QUEUES: readonly QueueInfo[] = [
  { name: 'duel', mode: 'duel', teams: { count: 2, size: 1 }, minPlayers: 2, maxPlayers: 2, fillWaitSeconds: 30, maxPartySize: 1, maxLatencyMs: 150, ticketTtlSeconds: 180, acceptTimeoutSeconds: 10, backfill: false, estimatedWaitSeconds: 30 },
  { name: 'squad', mode: 'squad', teams: { count: 2, size: 4 }, minPlayers: 6, maxPlayers: 8, fillWaitSeconds: 40, maxPartySize: 4, maxLatencyMs: 120, ticketTtlSeconds: 300, acceptTimeoutSeconds: null, backfill: true, estimatedWaitSeconds: null },
];

export interface TestLobbyOptions {
  environment?: 'development' | 'production';
  guestLogin?: boolean;
  tokenTtlSeconds?: number;
  rate?: Partial<LobbySettings['rate_limit']>;
  maxSocketsPerPlayer?: number;
  heartbeatSeconds?: number;
  ticketGraceSeconds?: number;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface TestLobby {
  url: string;
  wsUrl: string;
  server: LobbyServer;
  matchmaking: RecordingMatchmaking;
  auth: PlayerAuth;
  clock: FakeClock;
  registry: Registry;
  /** A token for `playerId`, as an identity provider's login would give. */
  token(playerId: string): Promise<string>;
  /** `member`'s party pass naming `leader`, asked for as a client would (POST /v1/party-passes). */
  partyPass(member: string, leader: string): Promise<string>;
  http(method: string, path: string, options?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<HttpAnswer>;
  /** A socket authenticated as `playerId` (or with `token`), open. */
  connect(who: { playerId: string } | { token: string; via?: 'header' | 'query' }, options?: { autoPong?: boolean }): Promise<TestSocket>;
  /** An upgrade the lobby refuses: its status and JSON body. */
  refusedUpgrade(path: string, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }>;
  /** The value of a metric with these labels, or undefined. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  close(): Promise<void>;
}

export type Message = Record<string, unknown> & { id?: unknown; result?: Record<string, unknown>; error?: { code: string; message: string; problems?: string[] } };

export class TestSocket {
  readonly received: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Message;
      this.received.push(m);
      this.waiters = this.waiters.filter((w) => !(w.match(m) && (w.resolve(m), true)));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Messages without an id: the pushes. */
  get pushes(): Message[] {
    return this.received.filter((m) => !('id' in m));
  }

  /** The first message, received or to come, that `match` accepts. */
  next(match: (m: Message) => boolean, timeoutMs = 2000): Promise<Message> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; received ${JSON.stringify(this.received)}`)), timeoutMs);
      this.waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  /** Sends `message` and resolves with the reply that carries its id. */
  request(message: Record<string, unknown> & { id: string | number }): Promise<Message> {
    this.ws.send(JSON.stringify(message));
    return this.next((m) => m.id === message.id);
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.closed;
  }
}

export async function startTestLobby(options: TestLobbyOptions = {}): Promise<TestLobby> {
  const environment = options.environment ?? 'production';
  const yaml = `server: { environment: ${environment} }\nlobby: { auth: { token_ttl_seconds: ${options.tokenTtlSeconds ?? 3600}${options.guestLogin === undefined ? '' : `, guest_login: ${options.guestLogin}`} } }`;
  const config = parseConfig(yaml, 'test.yaml', {});
  const clock = new FakeClock();
  const auth = new PlayerAuth({ config: loadPlayerAuthConfig(config, { JWT_SECRET: TEST_SECRET }), clock, log: silentLogger });
  const matchmaking = new RecordingMatchmaking({ queues: TEST_QUEUES });
  const registry = createRegistry();
  const server = await startLobbyServer({
    host: '127.0.0.1',
    port: 0,
    matchmaking,
    auth,
    settings: {
      // Generous unless a test is about rates: the fake clock never refills a bucket by itself.
      rate_limit: { ...config.lobby.rate_limit, player_burst: 1000, address_burst: 10_000, ...options.rate },
      max_sockets_per_player: options.maxSocketsPerPlayer ?? config.lobby.max_sockets_per_player,
      heartbeat_seconds: options.heartbeatSeconds ?? config.lobby.heartbeat_seconds,
      ticket_grace_seconds: options.ticketGraceSeconds ?? config.lobby.ticket_grace_seconds,
    },
    queueUp: () => true,
    clock,
    metrics: createMatchmakerMetrics(registry),
    log: silentLogger,
  });
  const url = `http://127.0.0.1:${server.port}`;
  const wsUrl = `ws://127.0.0.1:${server.port}`;
  const sockets: TestSocket[] = [];
  const token = async (playerId: string) => (await auth.issue(playerId, { guest: false })).token;

  const lobby: TestLobby = {
    url,
    wsUrl,
    server,
    matchmaking,
    auth,
    clock,
    registry,
    token,
    async partyPass(member, leader) {
      const res = await lobby.http('POST', '/v1/party-passes', { token: await token(member), body: { leader } });
      if (res.status !== 200) throw new Error(`no party pass: ${JSON.stringify(res.body)}`);
      return res.body.pass as string;
    },
    async http(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.body !== undefined || o.raw !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const res = await fetch(`${url}${path}`, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async connect(who, o = {}) {
      const t = 'playerId' in who ? await token(who.playerId) : who.token;
      const query = 'via' in who && who.via === 'query';
      const ws = new WebSocket(`${wsUrl}/v1/lobby${query ? `?token=${encodeURIComponent(t)}` : ''}`, { headers: query ? {} : { authorization: `Bearer ${t}` }, autoPong: o.autoPong ?? true });
      const socket = new TestSocket(ws);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
        ws.once('error', reject);
      });
      sockets.push(socket);
      return socket;
    },
    refusedUpgrade(path, headers = {}) {
      const ws = new WebSocket(`${wsUrl}${path}`, { headers });
      return new Promise((resolve, reject) => {
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.once('error', () => undefined);
        ws.once('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
        });
      });
    },
    async metric(name, labels = {}) {
      // Histograms report as NAME_count, NAME_sum and NAME_bucket.
      for (const m of await registry.getMetricsAsJSON()) {
        for (const v of m.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
          if ((v.metricName ?? m.name) === name && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) return v.value;
        }
      }
      return undefined;
    },
    async close() {
      for (const s of sockets) if (s.ws.readyState === WebSocket.OPEN) s.ws.terminate();
      await server.close();
    },
  };
  return lobby;
}

/** Resolves once `check` holds, polling; rejects after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
