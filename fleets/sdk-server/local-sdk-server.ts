import {
  Server,
  ServerCredentials,
  status,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerWritableStream,
  type StatusObject,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { isoTime, type Cancel, type Clock } from '../../core/clock.js';
import { GameServerNotFoundError, IllegalTransitionError } from '../../core/errors.js';
import { GameServerState as S, type GameServer } from '../../core/game-server.js';
import { LogField, type Logger } from '../../core/logger.js';
import type { GameServerEvent, GameServerStore } from '../../store/game-server-store.js';
import {
  agonesSdkProtos,
  type AgonesSdkProtos,
  type CountMessage,
  type DurationMessage,
  type JspbMessage,
  type KeyValueMessage,
  type NameRequestMessage,
  type NameValueRequestMessage,
  type PlayerIdMessage,
  type UpdateCounterRequestMessage,
  type UpdateListRequestMessage,
} from './agones-sdk-protos.js';
import {
  addListValue,
  getCounter,
  getList,
  removeListValue,
  updateCounter,
  updateList,
  type CounterView,
  type ListView,
} from './counters-and-lists-rules.js';
import { toGameServerProto } from './game-server-proto.js';
import { HealthMonitor } from './health-monitor.js';
import { playerConnect, playerDisconnect, playersOf, setPlayerCapacity } from './player-tracking-rules.js';
import { setAnnotation, setLabel } from './sdk-metadata-rules.js';
import { requireFeature, resolveSdkFeatureGates, type SdkFeatureGates } from './sdk-feature-gates.js';
import { agonesError, SdkError, type SdkRule } from './sdk-rule.js';
import { endReservation, isSdkStateFrozen, requestState, reserve } from './sdk-state-rules.js';

// Hangar's local Agones SDK server: the sidecar of one game server. It serves the three services of
// the official SDK (agones.dev.sdk.SDK, .alpha.SDK, .beta.SDK) from the SDK package's own
// definitions, follows the real sidecar's rules (pkg/sdkserver/sdkserver.go) and keeps no state of
// the game server itself: every request reads or updates the record through the store.
//
// Error codes, as the Go sidecar sends them: rule refusals are 2 UNKNOWN with Agones' message text;
// label/annotation validation is 3 INVALID_ARGUMENT. Two cases exist only in Hangar: a state change
// that the GameServer model forbids (e.g. Ready before the runtime has made the server Scheduled) is
// 9 FAILED_PRECONDITION, and a store failure is 2 UNKNOWN naming the call ("Ready: <error>"). A
// record that is gone is 2 UNKNOWN "game server <name> not found", as the sidecar's lister error is.

export interface LocalSdkServerOptions {
  /** The record in the store this sidecar serves. */
  gameServerName: string;
  /** Read/write the record only through the store (update(name, mutate), get, watch). */
  store: GameServerStore;
  /** All timers (health checks, reserve) through the clock, so tests use a fake clock. */
  clock: Clock;
  log: Logger;
  /** Agones defaults: PlayerTracking false, CountsAndLists true. */
  featureGates?: { PlayerTracking?: boolean; CountsAndLists?: boolean };
  /**
   * Called once when health checking finds the server silent for failureThreshold periods. The
   * caller applies Agones' failure policy (restart before Ready, Unhealthy after) — this server does
   * not change the state itself on health failure. Checking then starts over after the initial
   * delay (for a restarted process) until the record is Unhealthy, Shutdown or gone; HealthMonitor
   * documents the exact semantics.
   */
  onHealthFailure: (reason: string) => void;
  /** Default 0 (ephemeral); binds 127.0.0.1 only. */
  port?: number;
}

export interface LocalSdkServer {
  readonly port: number;
  /** Health pings received. */
  readonly healthPings: number;
  /** Ends watch and health streams, stops the timers and the gRPC server. Idempotent. */
  close(): Promise<void>;
}

export async function startLocalSdkServer(options: LocalSdkServerOptions): Promise<LocalSdkServer> {
  const sidecar = new Sidecar(options);
  await sidecar.start();
  return sidecar;
}

/** Thrown inside a store mutate to store nothing: the call succeeds without a change. */
const NO_CHANGE = Symbol('no change');

interface Watcher {
  call: ServerWritableStream<JspbMessage, JspbMessage>;
  /** Changes that arrived before the initial snapshot was sent; undefined once it was. */
  backlog: GameServer[] | undefined;
  ended: boolean;
}

interface HealthCall {
  reply: sendUnaryData<JspbMessage>;
  done: boolean;
}

/** The sidecar's health checking ends with the server: Unhealthy, Error, Shutdown or being deleted. */
function healthCheckingOver(gs: GameServer): boolean {
  return isSdkStateFrozen(gs) || gs.status.state === S.Error;
}

/** The first error in `err`'s cause chain for which `is` holds (stores may wrap what mutate throws). */
function findCause<T>(err: unknown, is: (e: unknown) => e is T): T | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (is(e)) return e;
  }
  return undefined;
}

const isNoChange = (e: unknown): e is typeof NO_CHANGE => e === NO_CHANGE;
const isSdkError = (e: unknown): e is SdkError => e instanceof SdkError;
const isIllegalTransition = (e: unknown): e is IllegalTransitionError => e instanceof IllegalTransitionError;
const isNotFound = (e: unknown): e is GameServerNotFoundError => e instanceof GameServerNotFoundError;

class Sidecar implements LocalSdkServer {
  private readonly name: string;
  private readonly store: GameServerStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly gates: SdkFeatureGates;
  private readonly protos: AgonesSdkProtos;
  private readonly grpc = new Server();
  private readonly watchers = new Set<Watcher>();
  private readonly healthCalls = new Set<HealthCall>();
  private monitor: HealthMonitor | undefined;
  private reserveTimer: { until: string; cancel: Cancel } | undefined;
  private unwatch: (() => void) | undefined;
  private pings = 0;
  private boundPort = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: LocalSdkServerOptions) {
    this.name = options.gameServerName;
    this.store = options.store;
    this.clock = options.clock;
    this.log = options.log;
    this.gates = resolveSdkFeatureGates(options.featureGates);
    this.protos = agonesSdkProtos();
  }

  get port(): number {
    return this.boundPort;
  }

  get healthPings(): number {
    return this.pings;
  }

  async start(): Promise<void> {
    // Subscribe before reading, so no change between the read and the subscription is missed.
    this.unwatch = this.store.watch((event) => this.onStoreEvent(event));
    try {
      const gs = await this.read();
      this.monitor = new HealthMonitor({ health: gs.spec.health, clock: this.clock, onFailure: (reason) => this.reportHealthFailure(reason) });
      if (healthCheckingOver(gs)) this.monitor.stop();
      // A sidecar (re)started during a timed reservation still ends it on time, as Agones' Run() does.
      if (gs.status.state === S.Reserved && gs.status.reservedUntil) this.scheduleReserveEnd(gs.status.reservedUntil);
      this.addServices();
      this.boundPort = await new Promise<number>((resolve, reject) => {
        this.grpc.bindAsync(`127.0.0.1:${this.options.port ?? 0}`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
      });
    } catch (err) {
      this.stopTimers();
      this.grpc.forceShutdown();
      throw err;
    }
    this.log.info({ [LogField.port]: this.boundPort, featureGates: this.gates }, 'SDK server listening');
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.stopTimers();
    // Answer open health streams and end watches, so the graceful shutdown has nothing to wait for.
    for (const call of this.healthCalls) this.finishHealthCall(call);
    for (const watcher of this.watchers) this.endWatch(watcher);
    await new Promise<void>((resolve) => this.grpc.tryShutdown(() => resolve()));
    this.log.debug('SDK server closed');
  }

  private stopTimers(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.monitor?.stop();
    this.cancelReserveTimer();
  }

  // --- store ---------------------------------------------------------------------------------

  private async read(): Promise<GameServer> {
    const gs = await this.store.get(this.name);
    if (!gs) throw new GameServerNotFoundError(this.name);
    return gs;
  }

  /** Runs `rule` as the store's mutate; returns its answer and the stored record (if it stored one). */
  private async apply<R>(rule: SdkRule<R>): Promise<{ result: R; stored: GameServer | undefined }> {
    let result: R | undefined;
    try {
      const stored = await this.store.update(this.name, (gs) => {
        const outcome = rule(gs);
        result = outcome.result;
        if (!outcome.next) throw NO_CHANGE;
        return outcome.next;
      });
      return { result: result as R, stored };
    } catch (err) {
      if (findCause(err, isNoChange)) return { result: result as R, stored: undefined };
      throw err;
    }
  }

  private onStoreEvent(event: GameServerEvent): void {
    if (event.object.metadata.name !== this.name || this.closing) return;
    if (event.type === 'deleted') {
      this.monitor?.stop();
      this.cancelReserveTimer();
      for (const watcher of this.watchers) this.endWatch(watcher);
      return;
    }
    const gs = event.object;
    // Any change that leaves the reservation the timer belongs to cancels the timer.
    if (this.reserveTimer && (gs.status.state !== S.Reserved || gs.status.reservedUntil !== this.reserveTimer.until)) this.cancelReserveTimer();
    if (healthCheckingOver(gs)) this.monitor?.stop();
    let message: JspbMessage | undefined;
    for (const watcher of this.watchers) {
      if (watcher.backlog) watcher.backlog.push(gs);
      else {
        watcher.call.write((message ??= toGameServerProto(gs, this.gates, this.protos)));
        if (gs.status.state === S.Shutdown) this.endWatch(watcher);
      }
    }
  }

  // --- timers --------------------------------------------------------------------------------

  private scheduleReserveEnd(until: string): void {
    this.cancelReserveTimer();
    if (this.closing) return; // a Reserve that finished after close() leaves no timer behind
    const delay = Math.max(0, Date.parse(until) - this.clock.now());
    const cancel = this.clock.setTimeout(() => {
      this.reserveTimer = undefined;
      this.apply(endReservation(until)).then(
        ({ result }) => result && this.log.info({ reservedUntil: until }, 'reservation ended: back to Ready'),
        (err: unknown) => this.log.warn({ err, reservedUntil: until }, 'could not end the reservation'),
      );
    }, delay);
    this.reserveTimer = { until, cancel };
  }

  private cancelReserveTimer(): void {
    this.reserveTimer?.cancel();
    this.reserveTimer = undefined;
  }

  private reportHealthFailure(reason: string): void {
    if (this.closing) return;
    this.log.warn({ reason, healthPings: this.pings }, 'game server failed health checking');
    try {
      this.options.onHealthFailure(reason);
    } catch (err) {
      this.log.error({ err }, 'onHealthFailure threw');
    }
  }

  // --- gRPC plumbing -------------------------------------------------------------------------

  private toStatus(method: string, err: unknown): Partial<StatusObject> {
    const refused = findCause(err, isSdkError);
    if (refused) {
      this.log.debug({ method, code: refused.grpcCode, reason: refused.message }, 'SDK request refused');
      return { code: refused.grpcCode, details: refused.message };
    }
    const illegal = findCause(err, isIllegalTransition);
    if (illegal) {
      this.log.info({ method, reason: illegal.message }, 'SDK state change refused');
      return { code: status.FAILED_PRECONDITION, details: illegal.message };
    }
    const gone = findCause(err, isNotFound);
    if (gone) {
      this.log.info({ method }, 'SDK request for a game server that is gone');
      return { code: status.UNKNOWN, details: gone.message };
    }
    this.log.warn({ method, err }, 'SDK request failed');
    return { code: status.UNKNOWN, details: `${method}: ${err instanceof Error ? err.message : String(err)}` };
  }

  private unary<Req, Res extends JspbMessage>(method: string, handle: (request: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
    return (call, reply) => {
      handle(call.request).then(
        (response) => reply(null, response),
        (err: unknown) => reply(this.toStatus(method, err)),
      );
    };
  }

  private addServices(): void {
    const { sdk, alpha, beta } = this.protos;
    const now = () => isoTime(this.clock);
    const empty = () => new sdk.pb.Empty();

    const core: Record<string, unknown> = {
      ready: this.unary('Ready', async () => {
        this.cancelReserveTimer();
        await this.apply(requestState(S.RequestReady, now()));
        return empty();
      }),
      allocate: this.unary('Allocate', async () => {
        this.cancelReserveTimer();
        await this.apply(requestState(S.Allocated, now()));
        return empty();
      }),
      shutdown: this.unary('Shutdown', async () => {
        this.cancelReserveTimer();
        await this.apply(requestState(S.Shutdown, now()));
        return empty();
      }),
      reserve: this.unary('Reserve', async (request: DurationMessage) => {
        this.cancelReserveTimer();
        const { stored } = await this.apply(reserve(request.getSeconds(), this.clock.now()));
        if (stored?.status.state === S.Reserved && stored.status.reservedUntil) this.scheduleReserveEnd(stored.status.reservedUntil);
        return empty();
      }),
      health: this.health,
      getGameServer: this.unary('GetGameServer', async () => toGameServerProto(await this.read(), this.gates, this.protos)),
      watchGameServer: this.watchGameServer,
      setLabel: this.unary('SetLabel', async (request: KeyValueMessage) => {
        await this.apply(setLabel(request.getKey(), request.getValue()));
        return empty();
      }),
      setAnnotation: this.unary('SetAnnotation', async (request: KeyValueMessage) => {
        await this.apply(setAnnotation(request.getKey(), request.getValue()));
        return empty();
      }),
    };

    const players = <Req>(method: string, handle: (request: Req) => Promise<JspbMessage>) =>
      this.unary(method, async (request: Req) => {
        requireFeature(this.gates, 'PlayerTracking');
        return handle(request);
      });
    const bool = (value: boolean) => new alpha.pb.Bool().setBool(value);
    const count = (value: number) => new alpha.pb.Count().setCount(value);
    const alphaService: Record<string, unknown> = {
      playerConnect: players('PlayerConnect', async (request: PlayerIdMessage) => bool((await this.apply(playerConnect(request.getPlayerid()))).result)),
      playerDisconnect: players('PlayerDisconnect', async (request: PlayerIdMessage) => bool((await this.apply(playerDisconnect(request.getPlayerid()))).result)),
      setPlayerCapacity: players('SetPlayerCapacity', async (request: CountMessage) => {
        await this.apply(setPlayerCapacity(request.getCount()));
        return new alpha.pb.Empty();
      }),
      getPlayerCapacity: players('GetPlayerCapacity', async () => count(playersOf(await this.read()).capacity)),
      getPlayerCount: players('GetPlayerCount', async () => count(playersOf(await this.read()).ids.length)),
      isPlayerConnected: players('IsPlayerConnected', async (request: PlayerIdMessage) => bool(playersOf(await this.read()).ids.includes(request.getPlayerid()))),
      getConnectedPlayers: players('GetConnectedPlayers', async () => new alpha.pb.PlayerIDList().setListList([...playersOf(await this.read()).ids])),
    };

    const countsAndLists = <Req>(method: string, handle: (request: Req) => Promise<JspbMessage>) =>
      this.unary(method, async (request: Req) => {
        requireFeature(this.gates, 'CountsAndLists');
        return handle(request);
      });
    const counter = (c: CounterView) => new beta.pb.Counter().setName(c.name).setCount(c.count).setCapacity(c.capacity);
    const list = (l: ListView) => new beta.pb.List().setName(l.name).setCapacity(l.capacity).setValuesList([...l.values]);
    const betaService: Record<string, unknown> = {
      getCounter: countsAndLists('GetCounter', async (request: NameRequestMessage) => counter(getCounter(await this.read(), request.getName()))),
      updateCounter: countsAndLists('UpdateCounter', async (request: UpdateCounterRequestMessage) => {
        const update = request.getCounterupdaterequest();
        if (!update) throw agonesError('invalid argument. CounterUpdateRequest: <nil> cannot be nil');
        const rule = updateCounter({
          name: update.getName(),
          count: update.hasCount() ? update.getCount()?.getValue() : undefined,
          capacity: update.hasCapacity() ? update.getCapacity()?.getValue() : undefined,
          countDiff: update.getCountdiff(),
        });
        return counter((await this.apply(rule)).result);
      }),
      getList: countsAndLists('GetList', async (request: NameRequestMessage) => list(getList(await this.read(), request.getName()))),
      updateList: countsAndLists('UpdateList', async (request: UpdateListRequestMessage) => {
        const requested = request.getList();
        const rule = updateList({
          list: requested && { name: requested.getName(), capacity: requested.getCapacity(), values: requested.getValuesList() },
          paths: request.getUpdateMask()?.getPathsList(),
        });
        return list((await this.apply(rule)).result);
      }),
      addListValue: countsAndLists('AddListValue', async (request: NameValueRequestMessage) =>
        list((await this.apply(addListValue(request.getName(), request.getValue()))).result),
      ),
      removeListValue: countsAndLists('RemoveListValue', async (request: NameValueRequestMessage) =>
        list((await this.apply(removeListValue(request.getName(), request.getValue()))).result),
      ),
    };

    this.grpc.addService(sdk.service, core as UntypedServiceImplementation);
    this.grpc.addService(alpha.service, alphaService as UntypedServiceImplementation);
    this.grpc.addService(beta.service, betaService as UntypedServiceImplementation);
  }

  // --- streams -------------------------------------------------------------------------------

  /**
   * Health: a client stream of Empty pings. Each ping counts and feeds the health monitor; the
   * reply (Empty) is sent only when the client ends the stream (or when this server closes), as the
   * sidecar does. The Node SDK keeps one stream open for the life of the process.
   */
  private readonly health: handleClientStreamingCall<JspbMessage, JspbMessage> = (call, reply) => {
    const entry: HealthCall = { reply, done: false };
    this.healthCalls.add(entry);
    call.on('data', () => {
      this.pings++;
      this.monitor?.ping();
    });
    call.on('end', () => this.finishHealthCall(entry));
    const drop = () => {
      entry.done = true;
      this.healthCalls.delete(entry);
    };
    call.on('cancelled', drop);
    call.on('error', drop);
  };

  private finishHealthCall(entry: HealthCall): void {
    if (entry.done) return;
    entry.done = true;
    this.healthCalls.delete(entry);
    entry.reply(null, new this.protos.sdk.pb.Empty());
  }

  /**
   * WatchGameServer: the current record first, then one message per change of this record. The
   * stream ends when the server reaches Shutdown (after sending that state), when the record is
   * deleted, and on close(): the Node SDK's close() only destroys its side of a watch, so without
   * this a game server that watched could never exit.
   */
  private readonly watchGameServer: handleServerStreamingCall<JspbMessage, JspbMessage> = (call) => {
    const watcher: Watcher = { call, backlog: [], ended: false };
    this.watchers.add(watcher);
    const drop = () => {
      watcher.ended = true;
      this.watchers.delete(watcher);
    };
    call.on('cancelled', drop);
    call.on('error', drop);
    this.read().then(
      (snapshot) => this.sendInitial(watcher, snapshot),
      (err: unknown) => {
        this.watchers.delete(watcher);
        if (watcher.ended) return;
        watcher.ended = true;
        call.emit('error', this.toStatus('WatchGameServer', err));
      },
    );
  };

  private sendInitial(watcher: Watcher, snapshot: GameServer): void {
    if (watcher.ended) return;
    const backlog = watcher.backlog ?? [];
    watcher.backlog = undefined;
    // Changes already contained in the snapshot were queued too; send only the later ones.
    const seen = backlog.findIndex((gs) => gs.metadata.resourceVersion === snapshot.metadata.resourceVersion);
    const updates = [snapshot, ...backlog.slice(seen + 1)];
    for (const gs of updates) watcher.call.write(toGameServerProto(gs, this.gates, this.protos));
    if (updates.at(-1)!.status.state === S.Shutdown || this.closing) this.endWatch(watcher);
  }

  private endWatch(watcher: Watcher): void {
    this.watchers.delete(watcher);
    if (watcher.ended) return;
    watcher.ended = true;
    watcher.call.end();
  }
}
