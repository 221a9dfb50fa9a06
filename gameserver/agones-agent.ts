import type { EventEmitter } from 'node:events';
import { systemClock, type Cancel, type Clock } from '../core/clock.js';
import { GameServerState as S } from '../core/game-server.js';
import {
  ACKS_ALLOCATION_SDK_LABEL,
  ALLOCATION_OBSERVED_ANNOTATION,
  ALLOCATION_OBSERVED_SDK_KEY,
  CLAIMED_SDK_KEY,
  EXPECTED_PLAYERS_ANNOTATION,
  LAST_ALLOCATED_ANNOTATION,
  MATCH_ID_ANNOTATION,
  NO_SHOW_ACTION_LABEL,
  PLAYERS_LIST,
} from '../core/hangar-metadata.js';
import { LogField, type Logger } from '../core/logger.js';
import type { GameServerMetrics } from '../core/metrics.js';
import { AgonesSDK, type AgonesSdkClient, type SdkGameServer } from './agones-sdk.js';
import { closeSdkClient, healthStreamOf } from './agones-sdk-internals.js';
import { SdkServesAnotherError, SdkUnreachableError } from '../core/errors.js';

// A game server's side of Agones, through the official SDK only, so the same binary runs under
// Hangar's local SDK servers and on a cluster. It connects (bounded), reads the GameServer, pings
// health, follows the state through a watch, tells the game when it is Allocated (match id and
// expected players from Hangar's annotations), keeps the `players` List and alpha player tracking
// in step with connections, releases a server whose players never came, and survives an SDK server
// restart (the Node SDK opens its health stream once and never again: a new client is the fix).
//
// Errors it counts in game_server_errors_total{error_type}:
//   no_show              an allocation whose players did not connect in time
//   sdk_connect          a (re)connection window that ended without an SDK server, or found another server's
//   sdk_stream_lost      the health or watch stream ended: a new SDK client was made
//   sdk_health           a health ping the stream refused
//   sdk_players_list     a players List call failed: a player id in or out, its seats closed or reopened
//   sdk_player_tracking  alpha PlayerConnect/PlayerDisconnect failed
//   sdk_call             ready() or shutdown() after a no-show failed

/** What the game learns when its server is allocated. */
export interface Allocation {
  /** MATCH_ID_ANNOTATION; undefined when the allocation did not set one. */
  matchId: string | undefined;
  /** EXPECTED_PLAYERS_ANNOTATION, split on commas; empty when none were named. */
  expectedPlayers: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** What an Allocated server does when its players do not come (NO_SHOW_ACTION_LABEL). */
export type NoShowAction = 'ready' | 'shutdown';

export interface AgonesAgentOptions {
  log: Logger;
  clock?: Clock;
  metrics?: GameServerMetrics;
  /** Makes an SDK client (again after a stream broke); default `new AgonesSDK()`, which reads AGONES_SDK_GRPC_PORT. */
  createSdk?: () => AgonesSdkClient;
  /** How long one (re)connection may take, retries included; default 30 000 (the SDK's own connect deadline). */
  connectTimeoutMs?: number;
  /** Seconds after Allocated within which an expected player must connect; default 60, 0 = never release. */
  noShowSeconds?: number;
  /** Overrides the health ping interval; default healthPingIntervalMs(spec.health.periodSeconds). */
  healthIntervalMs?: number;
  /** Pings are sent only while this holds (e.g. the tick loop is making progress); default always. */
  isHealthy?: () => boolean;
  /** The server became Allocated, was allocated again for another match, or was Allocated already at connect (a restarted process). */
  onAllocated?: (allocation: Allocation) => void;
  /** Every state change after connect; the state is Agones' string (Ready, Allocated, Shutdown...). */
  onStateChange?: (state: string, gameServer: SdkGameServer) => void;
  /** The no-show time ran out; the agent then calls ready() or shutdown() itself. */
  onNoShow?: (action: NoShowAction, allocation: Allocation) => void;
  /** A lost SDK connection did not come back within connectTimeoutMs, or its port now serves another GameServer (called once per loss; retries go on). */
  onSdkLost?: (err: Error) => void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_NO_SHOW_SECONDS = 60;

/**
 * Health pings every periodSeconds/3, and at least once a second. Agones counts a failure for each
 * period without a ping; three pings a period ride out two lost ones or a stall of 2/3 of a period,
 * and one a second (a few bytes on a local stream) keeps a broken stream from going unnoticed long.
 */
export function healthPingIntervalMs(periodSeconds: number): number {
  return periodSeconds > 0 ? Math.min(1000, (periodSeconds * 1000) / 3) : 1000;
}

/** A Node SDK map (an array of [key, value] pairs) as a record. */
function record(pairs: Array<[string, string]>): Record<string, string> {
  return Object.fromEntries(pairs);
}

export function allocationOf(gs: SdkGameServer): Allocation {
  const annotations = record(gs.objectMeta.annotationsMap);
  const expected = annotations[EXPECTED_PLAYERS_ANNOTATION] ?? '';
  return {
    matchId: annotations[MATCH_ID_ANNOTATION] || undefined,
    expectedPlayers: expected
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean),
    labels: record(gs.objectMeta.labelsMap),
    annotations,
  };
}

function sdkDetails(err: unknown): string {
  const e = err as { details?: unknown; message?: unknown };
  return String(e.details ?? e.message ?? err);
}

/** Resolves after `ms` on the clock, or at once when `signal` aborts. */
function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      cancel();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** `promise`, or a rejection after `ms` on the clock or when `signal` aborts (the loser's late rejection is swallowed). */
function within<T>(clock: Clock, promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const settle = (fn: () => void) => {
      cancel();
      signal.removeEventListener('abort', aborted);
      fn();
    };
    const aborted = () => settle(() => reject(signal.reason as Error));
    const cancel = clock.setTimeout(() => settle(() => reject(new Error(`no answer within ${Math.round(ms)} ms`))), ms);
    signal.addEventListener('abort', aborted);
    promise.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

/**
 * getGameServer(), retried with back-off until it answers or `timeoutMs` has passed; throws the last
 * error. Not the SDK's connect(): that is waitForReady with a fixed 30 s deadline, and closing the
 * channel under it makes grpc-js restart name resolution on a 30 s timer that holds the process.
 */
async function connectWithin(sdk: AgonesSdkClient, clock: Clock, timeoutMs: number, signal: AbortSignal): Promise<SdkGameServer> {
  const deadline = clock.monotonic() + timeoutMs;
  let backoff = 100;
  // The clock's timers do not hold the process open; a connection attempt must (main may await it before anything else runs).
  const holdOpen = setInterval(() => undefined, 60_000);
  try {
    for (;;) {
      signal.throwIfAborted();
      try {
        return await within(clock, sdk.getGameServer(), deadline - clock.monotonic(), signal);
      } catch (err) {
        const left = deadline - clock.monotonic();
        if (left <= 0 || signal.aborted) throw err;
        await sleep(clock, Math.min(backoff, left), signal);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  } finally {
    clearInterval(holdOpen);
  }
}

export class AgonesAgent {
  /** Connects to the SDK server and starts health pings and the watch; throws SdkUnreachableError. */
  static async connect(options: AgonesAgentOptions): Promise<AgonesAgent> {
    const clock = options.clock ?? systemClock;
    const createSdk = options.createSdk ?? (() => new AgonesSDK());
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const sdk = createSdk();
    let gs: SdkGameServer;
    try {
      gs = await connectWithin(sdk, clock, timeoutMs, new AbortController().signal);
    } catch (err) {
      closeSdkClient(sdk);
      options.metrics?.errors.inc({ error_type: 'sdk_connect' });
      throw new SdkUnreachableError(sdk.port, timeoutMs, { cause: err });
    }
    const agent = new AgonesAgent(options, clock, createSdk, sdk, gs);
    agent.begin();
    return agent;
  }

  private readonly log: Logger;
  private readonly players = new Set<string>();
  /** The SDK calls of each player, chained so a connect and the disconnect after it cannot swap. */
  private readonly playerCalls = new Map<string, Promise<void>>();
  private readonly emptyListeners = new Set<() => void>();
  private readonly seenHealthStreams = new WeakSet<EventEmitter>();
  private readonly connectTimeoutMs: number;
  /** Aborted by close(): ends a reconnection in progress. */
  private readonly closing = new AbortController();
  private accepting = true;
  /** Drained: the players List is kept full (see closeSeats). */
  private draining = false;
  private seatsClosing: Promise<void> = Promise.resolve();
  /** The players List's capacity when the agent connected: what ready() gives back after a drain. */
  private readonly seats: number | undefined;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  private stopPings: Cancel | undefined;
  private noShow: { allocation: Allocation; cancel: Cancel } | undefined;
  /** The match the current Allocated state belongs to (a new match id is a new allocation). */
  private allocatedMatch: string | undefined;
  private pings = 0;
  private reconnects = 0;
  /** The last allocation time echoed (acknowledgeAllocation), and the last one a player claimed. */
  private acknowledged: string | undefined;
  private claimed: string | undefined;

  private constructor(
    private readonly options: AgonesAgentOptions,
    private readonly clock: Clock,
    private readonly createSdk: () => AgonesSdkClient,
    private sdk: AgonesSdkClient,
    private gs: SdkGameServer,
  ) {
    this.log = options.log.child({ [LogField.component]: 'agones-agent', [LogField.gameServer]: gs.objectMeta.name });
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.seats = this.playersList()?.capacity;
  }

  // --- reading the GameServer ----------------------------------------------------------------

  /** The latest GameServer the SDK delivered. */
  get gameServer(): SdkGameServer {
    return this.gs;
  }

  get state(): string {
    return this.gs.status.state;
  }

  get labels(): Record<string, string> {
    return record(this.gs.objectMeta.labelsMap);
  }

  get annotations(): Record<string, string> {
    return record(this.gs.objectMeta.annotationsMap);
  }

  /** The host port of the GameServer port named `name`. */
  port(name: string): number | undefined {
    return this.gs.status.portsList.find((p) => p.name === name)?.port;
  }

  /** The fleet's player capacity: the players List's capacity, else alpha players.capacity; undefined when neither is set. */
  get playerCapacity(): number | undefined {
    const list = this.playersList();
    if (list) return list.capacity;
    const capacity = this.gs.status.players?.capacity;
    return capacity ? capacity : undefined;
  }

  get playerCount(): number {
    return this.players.size;
  }

  /** False while draining or shut down, or when the server is full. */
  mayAcceptPlayer(): boolean {
    const capacity = this.playerCapacity;
    return this.accepting && !this.closed && (capacity === undefined || this.players.size < capacity);
  }

  get healthPingsSent(): number {
    return this.pings;
  }

  /** New SDK clients made after the streams broke. */
  get recoveries(): number {
    return this.reconnects;
  }

  // --- lifecycle -----------------------------------------------------------------------------

  /**
   * Call once the game is listening, or (a reusable server) once its next match is: seats closed by
   * stopAcceptingPlayers open again first, while the server is still Allocated, since an allocation
   * of a Ready server with no room could list no player.
   */
  async ready(): Promise<void> {
    if (this.draining) await this.reopenSeats();
    await this.reconnecting;
    await this.sdk.ready();
  }

  /** Asks Agones to shut the server down; new players are refused from now on. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    this.cancelNoShow();
    await this.reconnecting;
    await this.sdk.shutdown();
  }

  /** SetLabel: Agones stores it as `agones.dev/sdk-<key>`. */
  async setLabel(key: string, value: string): Promise<void> {
    await this.reconnecting;
    await this.sdk.setLabel(key, value);
  }

  /** SetAnnotation: Agones stores it as `agones.dev/sdk-<key>`. */
  async setAnnotation(key: string, value: string): Promise<void> {
    await this.reconnecting;
    await this.sdk.setAnnotation(key, value);
  }

  /** New players are refused from now on (draining); those connected stay. */
  stopAcceptingPlayers(): void {
    this.accepting = false;
    this.draining = true;
    this.closeSeats();
  }

  /**
   * The players List's capacity set to its length, now and after each player leaves while
   * draining: with no room, no backfill allocation picks this server for players it would refuse.
   */
  private closeSeats(): void {
    if (!this.playersList()) return;
    this.seatsClosing = this.seatsClosing.then(async () => {
      if (this.closed) return;
      await this.reconnecting;
      const sdk = this.sdk;
      try {
        await sdk.beta.setListCapacity(PLAYERS_LIST, await sdk.beta.getListLength(PLAYERS_LIST));
      } catch (err) {
        this.countError('sdk_players_list', err, { closingSeats: true });
      }
    });
  }

  /**
   * The players List's capacity back to what it was at start, and players accepted again: after the
   * last player calls (whose closings it would undo), in turn with the closings, and not once a drain
   * (retiring) has come meanwhile.
   */
  private async reopenSeats(): Promise<void> {
    this.draining = false;
    await this.flushPlayerUpdates();
    this.seatsClosing = this.seatsClosing.then(async () => {
      if (this.closed || this.draining) return;
      if (this.seats !== undefined) {
        await this.reconnecting;
        try {
          await this.sdk.beta.setListCapacity(PLAYERS_LIST, this.seats);
        } catch (err) {
          this.countError('sdk_players_list', err, { reopeningSeats: true });
        }
      }
      if (!this.draining) this.accepting = true;
    });
    await this.seatsClosing;
  }

  /** Stops pings and timers, waits for the players' SDK calls, and closes the SDK client: nothing is left to keep the process alive. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new Error('agent closed'));
    this.accepting = false;
    this.stopPings?.();
    this.cancelNoShow();
    await this.reconnecting;
    await this.flushPlayerUpdates();
    closeSdkClient(this.sdk);
    this.log.debug('SDK client closed');
  }

  // --- players -------------------------------------------------------------------------------

  /** A player finished connecting. The SDK calls run in the background; this returns at once. */
  playerConnected(playerId: string): void {
    if (this.players.has(playerId)) return;
    this.players.add(playerId);
    this.options.metrics?.playerCount.set(this.players.size);
    // Anyone on the server means it is in use (backfill players need not be the first expected).
    this.cancelNoShow();
    this.reportClaim();
    this.queuePlayerCall(playerId, 'connect');
  }

  /** The first player of an allocation: tell the allocator's claim watchdog (hangar-metadata.ts). */
  private reportClaim(): void {
    const allocatedAt = record(this.gs.objectMeta.annotationsMap)[LAST_ALLOCATED_ANNOTATION];
    if (this.state !== S.Allocated || !allocatedAt || allocatedAt === this.claimed) return;
    this.claimed = allocatedAt;
    this.sdk.setAnnotation(CLAIMED_SDK_KEY, allocatedAt).catch((err: unknown) => this.countError('sdk_call', err));
  }

  /** A player left (or timed out). The SDK calls run in the background. */
  playerDisconnected(playerId: string): void {
    if (!this.players.delete(playerId)) return;
    this.options.metrics?.playerCount.set(this.players.size);
    this.queuePlayerCall(playerId, 'disconnect');
    if (this.players.size === 0) for (const listener of [...this.emptyListeners]) this.callGame('onPlayersEmpty', listener);
  }

  /** Calls `listener` each time the last connected player leaves. */
  onPlayersEmpty(listener: () => void): Cancel {
    this.emptyListeners.add(listener);
    return () => this.emptyListeners.delete(listener);
  }

  /** Resolves when every player SDK call queued so far has finished. */
  async flushPlayerUpdates(): Promise<void> {
    while (this.playerCalls.size > 0) await Promise.all(this.playerCalls.values());
    await this.seatsClosing;
  }

  private queuePlayerCall(playerId: string, kind: 'connect' | 'disconnect'): void {
    if (this.closed) return;
    const previous = this.playerCalls.get(playerId) ?? Promise.resolve();
    const call = previous.then(() => this.syncPlayer(playerId, kind));
    this.playerCalls.set(playerId, call);
    void call.then(() => {
      if (this.playerCalls.get(playerId) === call) this.playerCalls.delete(playerId);
    });
  }

  /** Never rejects: failures are counted and logged, the game is never held up by the SDK. */
  private async syncPlayer(playerId: string, kind: 'connect' | 'disconnect'): Promise<void> {
    await this.reconnecting;
    const sdk = this.sdk;
    const list = this.playersList();
    // A matchmade player is in the List already (the allocation's list action put them there):
    // asking again would only be refused, one gRPC call per player while the whole match arrives.
    const listed = kind === 'connect' && list?.valuesList.includes(playerId);
    if (list && !listed) {
      try {
        if (kind === 'connect') await sdk.beta.appendListValue(PLAYERS_LIST, playerId);
        else {
          await sdk.beta.deleteListValue(PLAYERS_LIST, playerId);
          if (this.draining) this.closeSeats();
        }
      } catch (err) {
        // The allocator may have listed the player already (GameServerAllocation list actions).
        const harmless = kind === 'connect' ? /already exists/i : /not found/i;
        if (!harmless.test(sdkDetails(err))) this.countError('sdk_players_list', err, { playerId, kind });
      }
    }
    // Agones sends status.players only with the PlayerTracking gate on and a players capacity in
    // the spec; without it every alpha call fails (a whole match's worth of failed calls at once).
    if (!this.gs.status.players) return;
    try {
      if (kind === 'connect') await sdk.alpha.playerConnect(playerId);
      else await sdk.alpha.playerDisconnect(playerId);
    } catch (err) {
      this.countError('sdk_player_tracking', err, { playerId, kind });
    }
  }

  private playersList(): { capacity: number; valuesList: string[] } | undefined {
    return this.gs.status.listsMap.find(([name]) => name === PLAYERS_LIST)?.[1];
  }

  // --- health, watch and recovery ------------------------------------------------------------

  /** Pings even when spec.health.disabled: harmless, and the stream doubles as the sign that the SDK server is there. */
  private begin(): void {
    const periodSeconds = this.gs.spec.health.periodSeconds;
    const interval = this.options.healthIntervalMs ?? healthPingIntervalMs(periodSeconds);
    this.log.info(
      { state: this.state, ports: this.gs.status.portsList, healthPeriodSeconds: periodSeconds, healthPingMs: interval, playerCapacity: this.playerCapacity },
      'connected to the SDK server',
    );
    this.watch(this.sdk);
    this.ping();
    this.stopPings = this.clock.every(interval, () => this.ping());
    // Tells the allocator that this server echoes every allocation it sees (hangar-metadata.ts).
    this.sdk.setLabel(ACKS_ALLOCATION_SDK_LABEL, 'true').catch((err: unknown) => this.countError('sdk_call', err));
    this.observe(this.gs, undefined);
  }

  private ping(): void {
    if (this.closed || this.reconnecting) return;
    if (this.options.isHealthy && !this.options.isHealthy()) return;
    const sdk = this.sdk;
    sdk.health((err) => this.countError('sdk_health', err));
    this.pings++;
    // The first ping opens the stream: from then on, its end (the SDK server went away or
    // restarted) means every later ping would vanish without an error.
    const stream = healthStreamOf(sdk);
    if (stream && !this.seenHealthStreams.has(stream)) {
      this.seenHealthStreams.add(stream);
      stream.once('status', (status: { code: number; details: string }) => {
        if (sdk === this.sdk) this.recover(`health stream ended (${status.code} ${status.details})`);
      });
    }
  }

  private watch(sdk: AgonesSdkClient): void {
    sdk.watchGameServer(
      (gs) => {
        if (sdk === this.sdk && !this.closed) this.observe(gs, this.gs.status.state);
      },
      (err) => {
        if (sdk === this.sdk) this.recover(`watch failed (${sdkDetails(err)})`);
      },
    );
  }

  private recover(reason: string): void {
    // After Shutdown the SDK server going away is the expected end, not a fault.
    if (this.closed || this.reconnecting || this.state === S.Shutdown) return;
    this.options.metrics?.errors.inc({ error_type: 'sdk_stream_lost' });
    this.log.warn({ reason }, 'lost the SDK streams: reconnecting with a new SDK client');
    this.reconnecting = this.reconnect().finally(() => {
      this.reconnecting = undefined;
      this.ping();
    });
  }

  private async reconnect(): Promise<void> {
    closeSdkClient(this.sdk);
    let reported = false;
    while (!this.closed) {
      const sdk = this.createSdk();
      try {
        const gs = await connectWithin(sdk, this.clock, this.connectTimeoutMs, this.closing.signal);
        // Agones' sidecar restarts serving the same GameServer; another uid on this port is another
        // server's SDK server (a new local stack's on a port ours had): adopting it would ping, Ready
        // or shut down that server.
        const own = this.gs.objectMeta;
        if (gs.objectMeta.uid !== own.uid) throw new SdkServesAnotherError(sdk.port, own, gs.objectMeta);
        this.sdk = sdk;
        this.reconnects++;
        this.watch(sdk);
        this.log.info({ recoveries: this.reconnects, state: gs.status.state }, 'SDK connection recovered');
        this.observe(gs, this.gs.status.state);
        return;
      } catch (err) {
        closeSdkClient(sdk);
        if (this.closed) return;
        this.options.metrics?.errors.inc({ error_type: 'sdk_connect' });
        const another = err instanceof SdkServesAnotherError;
        const lost = another ? err : new SdkUnreachableError(sdk.port, this.connectTimeoutMs, { cause: err });
        this.log.error({ err: lost }, 'SDK server still unreachable; retrying');
        if (!reported) this.options.onSdkLost?.(lost);
        reported = true;
        // The other server answers at once: wait as long as an unreachable one would have taken.
        if (another) await sleep(this.clock, this.connectTimeoutMs, this.closing.signal);
      }
    }
  }

  // --- state changes, allocation and no-shows ------------------------------------------------

  /** `previous` is undefined for the first snapshot (no state change is reported for it). */
  private observe(gs: SdkGameServer, previous: string | undefined): void {
    this.gs = gs;
    const state = gs.status.state;
    // First, before any logging: the allocator holds its answer (and the players) until it hears this.
    if (state === S.Allocated) this.acknowledgeAllocation(gs);
    if (previous !== undefined && state !== previous) {
      this.log.info({ from: previous, to: state }, 'state changed');
      this.callGame('onStateChange', () => this.options.onStateChange?.(state, gs));
    }
    if (state !== S.Allocated) {
      this.allocatedMatch = undefined;
      this.cancelNoShow();
      return;
    }
    const allocation = allocationOf(gs);
    if (previous === S.Allocated && allocation.matchId === this.allocatedMatch) return;
    this.allocatedMatch = allocation.matchId;
    this.log.info({ matchId: allocation.matchId, expectedPlayers: allocation.expectedPlayers.length }, 'allocated');
    this.armNoShow(allocation);
    this.callGame('onAllocated', () => this.options.onAllocated?.(allocation));
  }

  /** Echoes the allocation's time once per allocation, so the allocator knows this server has seen it. */
  private acknowledgeAllocation(gs: SdkGameServer): void {
    const annotations = record(gs.objectMeta.annotationsMap);
    const allocatedAt = annotations[LAST_ALLOCATED_ANNOTATION];
    if (!allocatedAt || allocatedAt === this.acknowledged || annotations[ALLOCATION_OBSERVED_ANNOTATION] === allocatedAt) return;
    this.acknowledged = allocatedAt;
    this.sdk.setAnnotation(ALLOCATION_OBSERVED_SDK_KEY, allocatedAt).catch((err: unknown) => this.countError('sdk_call', err));
  }

  private armNoShow(allocation: Allocation): void {
    this.cancelNoShow();
    const seconds = this.options.noShowSeconds ?? DEFAULT_NO_SHOW_SECONDS;
    if (seconds <= 0) return;
    // A server with any player on it is in use: a match under way (a backfill allocation's
    // newcomers not arrived yet) is never released; only an allocation nobody reached is.
    if (this.players.size > 0) return;
    const cancel = this.clock.setTimeout(() => {
      this.noShow = undefined;
      if (this.players.size === 0) this.noShowExpired(allocation, seconds);
    }, seconds * 1000);
    this.noShow = { allocation, cancel };
  }

  private cancelNoShow(): void {
    this.noShow?.cancel();
    this.noShow = undefined;
  }

  private noShowExpired(allocation: Allocation, seconds: number): void {
    const action: NoShowAction = this.labels[NO_SHOW_ACTION_LABEL]?.trim().toLowerCase() === 'ready' ? 'ready' : 'shutdown';
    this.options.metrics?.errors.inc({ error_type: 'no_show' });
    this.log.warn({ matchId: allocation.matchId, expectedPlayers: allocation.expectedPlayers, seconds, action }, 'no expected player connected in time');
    this.callGame('onNoShow', () => this.options.onNoShow?.(action, allocation));
    (action === 'ready' ? this.ready() : this.shutdown()).catch((err: unknown) => this.countError('sdk_call', err, { action }));
  }

  private callGame(hook: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, hook }, 'game callback threw');
    }
  }

  private countError(type: string, err: unknown, fields: Record<string, unknown> = {}): void {
    this.options.metrics?.errors.inc({ error_type: type });
    this.log.warn({ ...fields, err, errorType: type }, 'SDK call failed');
  }
}
