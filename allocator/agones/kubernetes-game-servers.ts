import type { ReleaseAction } from '../allocation-backend.js';
import { CustomObjectsApi, ListWatch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../core/clock.js';
import { AppError, KubernetesRequestError, KubernetesUnavailableError, VersionConflictError } from '../../core/errors.js';
import { GameServerState as S, type GameServer } from '../../core/game-server.js';
import { LAST_ALLOCATED_ANNOTATION } from '../../core/hangar-metadata.js';
import { silentLogger, type Logger, LogField } from '../../core/logger.js';
import { GAME_SERVER_SET_LABEL, matchesFilter, type GameServerEvent, type GameServerEventType, type GameServerFilter, type WatchOptions } from '../../store/game-server-store.js';
import { fromAgonesGameServer, GAME_SERVERS } from './agones-game-server.js';
import { BoundedWatch, type WatchBounds } from './bounded-watch.js';
import { kubeError, kubeRequest, type KubeAction } from './kube-request.js';
import { backoffDelay } from '../../core/retry.js';

// A read-only view of one namespace's Agones GameServers, kept current by a client-node informer
// (list, then watch from the list's resourceVersion), in Hangar's GameServer model, with the
// GameServerStore's get / list / watch semantics.
//
// Restarts: client-node's informer relists by itself on 410 Gone and reconnects by itself when the
// server ends a watch cleanly; on any other error it emits 'error' and stops (cache.ts doneHandler).
// This view owns that case: it restarts the informer after an exponential back-off (1 s doubling to
// 30 s, through the injected `delay`), resuming from the last resourceVersion it saw; the back-off
// resets once a watch delivers an event or bookmark (a watch the server accepts and then fails with
// an ERROR event keeps backing off). A watch that goes silent, or gets an ERROR event other than 410,
// is ended by BoundedWatch and restarted the same way. isCurrent() (the allocator's readiness) is
// false while no watch is open and none has delivered for longer than `brokenAfterMs`. Listeners
// registered before start() see the initial list as 'added' events; a relist reports what changed
// while the watch was away.
//
// release(): Agones has no supported way to move an Allocated GameServer back to Ready from outside
// the game server: the FAQ's answer is SDK.Ready() from the game server process, and the reference
// says an Allocated server stays until SDK.Shutdown() "or it is explicitly manually deleted". So
// release deletes the GameServer, for either action; a Fleet's GameServerSet then replaces it with a
// fresh one that becomes Ready. The delete carries preconditions (uid and resourceVersion of the
// version just read), so a server that moved on in between (re-allocated, released by the game
// itself) is never deleted by mistake: a 409 Conflict re-reads and decides again.

/** deleted: Hangar deleted it. gone: no such GameServer, or already being deleted. not-allocated: it has left Allocated. reallocated: Allocated again, for a later allocation than the one named. claimed: `claimed` holds. */
export type ReleaseOutcome = 'deleted' | 'gone' | 'not-allocated' | 'reallocated' | 'claimed';

export interface ReleaseResult {
  outcome: ReleaseOutcome;
  /** The version the decision was made on; absent when the GameServer does not exist. */
  gameServer?: GameServer;
  /** For 'deleted': whether a GameServerSet (so a Fleet) will replace it with a new Ready server. */
  replaced?: boolean;
}

export interface ReleaseOptions {
  /** Release only the allocation made at this time (the `agones.dev/last-allocated` annotation of the allocation result). */
  lastAllocated?: string;
  /** Leave it alone when this holds of the version read (a player has come): the caller judged on the view, which may trail it. */
  claimed?: (gs: GameServer) => boolean;
}

export interface KubernetesGameServersOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  log?: Logger;
  /** Measures request timeouts; systemClock by default. */
  clock?: Clock;
  /** Waits out back-offs (informer restarts and client-node's own reconnects); a timer on `clock` by default. */
  delay?: (ms: number) => Promise<void>;
  /** Per request (the list included); default 30 s. */
  requestTimeoutMs?: number;
  restartBackoff?: { initialMs: number; maxMs: number };
  /** The watch's deadlines; by default the headers get `requestTimeoutMs` and a silent watch 60 s past its server-side timeout. */
  watchBounds?: Partial<Omit<WatchBounds, 'received'>>;
  /** How long restarts may keep failing before isCurrent() says the view is broken; default 15 s. */
  brokenAfterMs?: number;
  /** Re-reads after a 409 before release gives up with VERSION_CONFLICT; default 5. */
  maxConflictRetries?: number;
}

const INFORMER_EVENTS: ReadonlyArray<['add' | 'update' | 'delete', GameServerEventType]> = [
  ['add', 'added'],
  ['update', 'modified'],
  ['delete', 'deleted'],
];

export class KubernetesGameServers {
  private readonly api: CustomObjectsApi;
  private readonly informer: ListWatch<KubernetesObject>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly timeoutMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly maxConflictRetries: number;
  private readonly records = new Map<string, GameServer>();
  /** Each listener, with the servers it follows (undefined: all). */
  private readonly listeners = new Map<(event: GameServerEvent) => void, WatchOptions['only']>();
  /** Set while an informer start is in flight: errors then belong to that attempt. */
  private attempt: { error?: unknown } | undefined;
  private failures = 0;
  /** clock.monotonic() when the informer first stopped since a watch last delivered; undefined while none has stopped. */
  private outageSince: number | undefined;
  /** Whether a watch is open (false from an informer stop until a restart has its watch). */
  private watching = true;
  /** Whether a start has listed the GameServers (startRetrying's may not have yet). */
  private listed = false;
  private readonly brokenAfterMs: number;
  private state: 'new' | 'running' | 'closed' = 'new';
  private started: Promise<void> | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: KubernetesGameServersOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.log = (options.log ?? silentLogger).child({ [LogField.component]: 'kubernetes-game-servers' });
    this.clock = options.clock ?? systemClock;
    this.delay = options.delay ?? ((ms) => new Promise((resolve) => this.clock.setTimeout(resolve, ms)));
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.backoff = options.restartBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.maxConflictRetries = options.maxConflictRetries ?? 5;
    this.brokenAfterMs = options.brokenAfterMs ?? 15_000;
    const watch = new BoundedWatch(options.kubeConfig, this.clock, {
      headersMs: this.timeoutMs,
      graceMs: 60_000,
      ...options.watchBounds,
      received: () => {
        this.failures = 0;
        this.outageSince = undefined;
      },
    });
    const path = `/apis/${GAME_SERVERS.group}/${GAME_SERVERS.version}/namespaces/${options.namespace}/${GAME_SERVERS.plural}`;
    // What makeInformer builds, not started yet (this class owns starting and restarting it).
    this.informer = new ListWatch(path, watch, () => this.listAll(), false);
    for (const [verb, type] of INFORMER_EVENTS) this.informer.on(verb, (obj) => this.apply(type, obj));
    this.informer.on('error', (err) => this.onInformerError(err));
  }

  /** Lists the namespace's GameServers and starts watching; rejects (and stays stopped) when the first list or watch fails. */
  start(): Promise<void> {
    this.started ??= this.firstStart(false);
    return this.started;
  }

  /**
   * start() for a service that can do without the view for a while (the matchmaker only records
   * from it): a first list or watch that fails is tried again after the restart back-off instead of
   * rejecting. Resolves once one holds (never, once closed); isCurrent() is false until then.
   */
  startRetrying(): Promise<void> {
    this.started ??= this.firstStart(true);
    return this.started;
  }

  private async firstStart(retry: boolean): Promise<void> {
    const error = await this.startInformer();
    if (this.state === 'closed') return;
    if (error !== undefined && !retry) {
      this.state = 'closed';
      await this.informer.stop();
      throw this.asAppError(error);
    }
    this.state = 'running';
    if (error === undefined) this.listed = true;
    else await this.restart(error);
    // Closed before a start held: nothing to wait for any more.
    if (!this.listed) await new Promise<never>(() => {});
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.listeners.clear();
    await this.informer.stop();
    // client-node does not look at stop() between a start's list and its watch: a start in flight
    // opens its watch after this stop, so stop again once it has (without waiting for it here).
    void this.starting?.then(() => this.informer.stop());
  }

  /**
   * True once started (listed), except while no watch is open and none has delivered for longer than
   * `brokenAfterMs`: what get and list answer may then be arbitrarily old. True again as soon as a
   * restart has its watch open.
   */
  isCurrent(): boolean {
    if (this.state !== 'running' || !this.listed) return false;
    return this.watching || this.outageSince === undefined || this.clock.monotonic() - this.outageSince <= this.brokenAfterMs;
  }

  /**
   * Throws KUBE_UNAVAILABLE, saying that `what` cannot be done and since when the watch is down,
   * unless isCurrent(): for what must not act on, or wait on, a view that may be arbitrarily old.
   */
  requireCurrent(what: string): void {
    if (this.isCurrent()) return;
    const why =
      this.state !== 'running'
        ? 'is not running'
        : !this.listed || this.outageSince === undefined
          ? 'has not listed the GameServers yet'
          : `has had no working watch for ${Math.round((this.clock.monotonic() - this.outageSince) / 1000)} s`;
    throw new KubernetesUnavailableError(`the view of GameServers in namespace ${this.options.namespace} ${why}: ${what}`);
  }

  /** The GameServer as last seen by the watch (it may trail the API server by the watch's latency). */
  async get(name: string): Promise<GameServer | undefined> {
    return this.records.get(name);
  }

  async list(filter?: GameServerFilter): Promise<GameServer[]> {
    return [...this.records.values()].filter((gs) => matchesFilter(gs, filter));
  }

  /** Calls `listener` for every later change (or those `options.only` picks), in order; returns the unsubscribe function. */
  watch(listener: (event: GameServerEvent) => void, options: WatchOptions = {}): () => void {
    this.listeners.set(listener, options.only);
    return () => this.listeners.delete(listener);
  }

  /**
   * Releases a dangling allocation: deletes the GameServer if it is still Allocated (and, with
   * `lastAllocated`, still the same allocation; with `claimed`, still unclaimed), as read from the
   * API server and guarded by that version's resourceVersion. `action` is what
   * the caller wants; on Agones both end in deletion (see the file comment), logged with the action.
   */
  async release(name: string, action: ReleaseAction, options: ReleaseOptions = {}): Promise<ReleaseResult> {
    let tried: string | undefined;
    for (let conflicts = 0; ; conflicts++) {
      const current = await this.read(name);
      if (!current || current.metadata.deletionTimestamp !== undefined) return current ? { outcome: 'gone', gameServer: current } : { outcome: 'gone' };
      if (current.status.state !== S.Allocated) return { outcome: 'not-allocated', gameServer: current };
      if (options.lastAllocated !== undefined && current.metadata.annotations[LAST_ALLOCATED_ANNOTATION] !== options.lastAllocated) {
        return { outcome: 'reallocated', gameServer: current };
      }
      if (options.claimed?.(current)) return { outcome: 'claimed', gameServer: current };
      if (conflicts > this.maxConflictRetries) throw new VersionConflictError(name, tried ?? '', current.metadata.resourceVersion);
      tried = current.metadata.resourceVersion;
      try {
        await kubeRequest(this.action('delete', name), this.requestOptions(), (config) =>
          this.api.deleteNamespacedCustomObject(
            { ...GAME_SERVERS, namespace: this.options.namespace, name, body: { preconditions: { uid: current.metadata.uid, resourceVersion: tried } } },
            config,
          ),
        );
      } catch (err) {
        if (err instanceof KubernetesRequestError && err.status === 409) {
          this.log.debug({ [LogField.gameServer]: name, resourceVersion: tried }, 'GameServer changed before release; re-reading');
          continue;
        }
        if (err instanceof KubernetesRequestError && err.status === 404) return { outcome: 'gone' };
        throw err;
      }
      const replaced = current.metadata.labels[GAME_SERVER_SET_LABEL] !== undefined;
      this.log.info({ [LogField.gameServer]: name, action, replaced }, 'released an unclaimed allocation by deleting its GameServer');
      return { outcome: 'deleted', gameServer: current, replaced };
    }
  }

  /** The GameServer straight from the API server (not the cache); undefined on 404. */
  private async read(name: string): Promise<GameServer | undefined> {
    try {
      const obj = await kubeRequest(this.action('get', name), this.requestOptions(), (config) =>
        this.api.getNamespacedCustomObject({ ...GAME_SERVERS, namespace: this.options.namespace, name }, config),
      );
      return fromAgonesGameServer(obj);
    } catch (err) {
      if (err instanceof KubernetesRequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  private async listAll(): Promise<KubernetesListObject<KubernetesObject>> {
    return kubeRequest(this.action('list'), this.requestOptions(), (config) =>
      this.api.listNamespacedCustomObject({ ...GAME_SERVERS, namespace: this.options.namespace }, config),
    ) as Promise<KubernetesListObject<KubernetesObject>>;
  }

  /** One informer start; resolves with the error it hit (list or watch), or undefined once the watch is established. */
  private async startInformer(): Promise<unknown> {
    const attempt: { error?: unknown } = {};
    this.attempt = attempt;
    this.starting = this.informer.start();
    try {
      await this.starting;
    } finally {
      this.attempt = undefined;
      this.starting = undefined;
    }
    return attempt.error;
  }

  /**
   * The injected delay, except that after close() it never ends: client-node does not look at
   * stop() after its reconnect back-off either, and would open a watch nobody stops.
   */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      void this.delay(ms).then(() => {
        if (this.state !== 'closed') resolve();
      });
    });
  }

  private onInformerError(err: unknown): void {
    if (this.attempt) {
      this.attempt.error ??= err;
      return;
    }
    if (this.state !== 'running') return;
    void this.restart(err);
  }

  /** Restarts the stopped informer after a back-off, until a restart holds or the view is closed. */
  private async restart(err: unknown): Promise<void> {
    let error: unknown = err;
    this.watching = false;
    this.outageSince ??= this.clock.monotonic();
    while (error !== undefined && this.state === 'running') {
      const waitMs = backoffDelay(this.backoff.initialMs, this.backoff.maxMs, ++this.failures);
      this.log.warn({ err: this.asAppError(error), waitMs }, 'GameServer watch stopped; restarting after back-off');
      await this.wait(waitMs);
      if (this.state !== 'running') return;
      error = await this.startInformer();
    }
    if (error === undefined) this.watching = this.listed = true;
  }

  private apply(type: GameServerEventType, obj: KubernetesObject): void {
    let gs: GameServer;
    try {
      gs = fromAgonesGameServer(obj);
    } catch (err) {
      this.log.warn({ err, [LogField.gameServer]: obj.metadata?.name }, 'ignoring a GameServer event Hangar cannot read');
      return;
    }
    if (type === 'deleted') this.records.delete(gs.metadata.name);
    else this.records.set(gs.metadata.name, gs);
    const event: GameServerEvent = { type, object: gs };
    for (const [listener, only] of this.listeners) {
      if (only && !only(gs.metadata.name)) continue;
      try {
        listener(event);
      } catch (err) {
        // The informer calls back from inside its stream handling: a throw there would skip the
        // other listeners and the informer's own bookkeeping.
        this.log.error({ err, [LogField.gameServer]: gs.metadata.name }, 'GameServer watch listener failed');
      }
    }
  }

  /** A failed list is already an AppError (kubeRequest); anything else came from the watch. */
  private asAppError(err: unknown): AppError {
    return err instanceof AppError ? err : kubeError(err, this.action('watch'));
  }

  private action(verb: KubeAction['verb'], name?: string): KubeAction {
    return { verb, resource: GAME_SERVERS.plural, group: GAME_SERVERS.group, namespace: this.options.namespace, ...(name !== undefined && { name }) };
  }

  private requestOptions() {
    return { clock: this.clock, timeoutMs: this.timeoutMs };
  }
}
