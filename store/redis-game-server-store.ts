import type { Redis } from 'ioredis';
import type { GameServerAllocationSpec } from '../allocator/allocation.js';
import { isAllocatable, playerRoom } from '../allocator/select.js';
import { asRedisUnavailable, GameServerNotFoundError, VersionConflictError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { closeRedis, isRedisUp, openRedis, reportOutages, type RedisConnection } from '../core/redis-connection.js';
import { deepFreeze } from '../core/freeze.js';
import type { GameServer, GameServerState } from '../core/game-server.js';
import type { AllocateOptions, GameServerEvent, GameServerEventType, GameServerFilter, GameServerStore, WatchOptions } from './game-server-store.js';
import { defineScripts, type RunScript } from '../core/redis-scripts.js';
import { FIELDS, REDIS_LUA } from './redis-lua.js';

export interface RedisGameServerStoreOptions {
  /** A redis:// URL, or ioredis options (host, port, password...). */
  connection: RedisConnection;
  /** Starts every key and the event channel, so several stacks (or tests) can share one Redis. */
  prefix?: string;
  /** Where an outage of Redis is reported. */
  log?: Logger;
}

// Compare-and-set retries before update gives up with VersionConflictError.
const MAX_UPDATE_ATTEMPTS = 100;
// How long a write waits for its own event to come back before it returns anyway (a lost
// subscription must not hang writers).
const ECHO_TIMEOUT_MS = 2000;
/**
 * Records of followed servers kept for update(), the most recently changed: a game server writes
 * within milliseconds of the event that prompted it, and a store following every server of a large
 * deployment (a local stack's, on a Redis shared with others) must not hold them all.
 */
export const FOLLOWED_RECORDS_KEPT = 1024;

const STORE_ROLE = 'game-server store';

/**
 * GameServerStore shared by several processes through Redis. Every write is one Lua script
 * (store/redis-lua.ts): compare-and-set on resourceVersion (a counter in Redis, so versions only
 * grow, across processes), the indexes, and an event on the prefix's pub/sub channel, all in one
 * atomic step. An allocation selects and allocates inside one script too, so allocator processes
 * never fight over a server: no contention errors, no retries, no double allocation.
 *
 * Watching subscribes to the channel on first use. Once subscribed, listeners see every change
 * from every process in the order Redis applied them, and this instance's own writes resolve only
 * after the listeners have seen them (as with the memory store). A change is decoded only when a
 * listener follows its server: allocator replicas follow only the servers they wait on, so they
 * do not pay for every other replica's changes.
 */
export class RedisGameServerStore implements GameServerStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly run: RunScript<keyof typeof REDIS_LUA>;
  /** Each listener, with the servers it follows (undefined: all). */
  private readonly listeners = new Map<(event: GameServerEvent) => void, WatchOptions['only']>();
  private subscriber: Redis | undefined;
  private subscription: Promise<void> | undefined;
  /** Sequence number of the last event delivered to listeners. */
  private delivered = 0;
  /** This instance's writes waiting for their own event, by sequence number. */
  private readonly waiters = new Map<number, () => void>();
  /**
   * The record of each server a listener follows, as its last event brought it (the latest
   * FOLLOWED_RECORDS_KEPT): update() starts from it instead of reading the server first (a game
   * server's write right after the event that prompted it saves a round trip, and Redis a read).
   * Compare-and-set catches one gone stale.
   */
  private readonly followed = new Map<string, GameServer>();
  private readonly log: Logger;

  constructor(options: RedisGameServerStoreOptions) {
    this.prefix = options.prefix ?? 'hangar:';
    this.log = options.log ?? silentLogger;
    // Auto-pipelining sends the commands of concurrent calls in one write.
    this.redis = openRedis(options.connection, { settings: { enableAutoPipelining: true }, role: STORE_ROLE, log: this.log });
    this.run = defineScripts(this.redis, this.prefix, REDIS_LUA);
  }

  async get(name: string): Promise<GameServer | undefined> {
    const fields = await this.redis.hmget(`${this.prefix}gs:${name}`, ...FIELDS);
    return fields[0] === null ? undefined : deepFreeze(fromFields(fields as string[]));
  }

  async list(filter?: GameServerFilter): Promise<GameServer[]> {
    const states = filter?.states ? ['1', ...filter.states] : ['0'];
    const flat = (await this.run('list', [filter?.fleet ?? '', ...states])) as string[];
    const out: GameServer[] = [];
    for (let i = 0; i < flat.length; i += FIELDS.length) out.push(deepFreeze(fromFields(flat.slice(i, i + FIELDS.length))));
    return out;
  }

  async create(gs: GameServer): Promise<GameServer> {
    const result = await this.put(gs, '');
    if (result.status === 'exists') throw new VersionConflictError(gs.metadata.name, '(new)', result.rv);
    return result.record!;
  }

  async update(name: string, mutate: (gs: GameServer) => GameServer): Promise<GameServer> {
    // First from the last event's record when a listener follows the server. It may be stale:
    // compare-and-set tells, and a mutate that refuses it is asked again with the record as read.
    const followed = this.followed.get(name);
    const first = followed && unlessRefused(() => mutate(followed));
    if (first) {
      const result = await this.put(renameChecked(name, first), followed.metadata.resourceVersion);
      if (result.status === 'ok') return result.record!;
      if (result.status === 'missing') throw new GameServerNotFoundError(name);
    }
    for (let attempt = 1; ; attempt++) {
      const fields = await this.redis.hmget(`${this.prefix}gs:${name}`, ...FIELDS);
      if (fields[0] === null) throw new GameServerNotFoundError(name);
      const current = fromFields(fields as string[]);
      const result = await this.put(renameChecked(name, mutate(current)), current.metadata.resourceVersion);
      if (result.status === 'ok') return result.record!;
      if (result.status === 'missing') throw new GameServerNotFoundError(name);
      if (attempt === MAX_UPDATE_ATTEMPTS) throw new VersionConflictError(name, current.metadata.resourceVersion, result.rv);
    }
  }

  async allocate(spec: GameServerAllocationSpec, options: AllocateOptions): Promise<GameServer | undefined> {
    // Only Distributed without priorities draws; the script indexes its matches with it.
    const random = spec.scheduling === 'Distributed' && spec.priorities.length === 0 ? (options.random ?? Math.random)() : 0;
    const fields = (await this.run('allocate', [JSON.stringify(spec, withoutEmpty), options.now, String(random)])) as string[] | null;
    if (!fields) return undefined;
    const record = deepFreeze(fromFields(fields));
    await this.echo(Number(record.metadata.resourceVersion));
    return record;
  }

  async delete(name: string): Promise<void> {
    const seq = (await this.run('delete', [name])) as number;
    if (seq) await this.echo(seq);
  }

  watch(listener: (event: GameServerEvent) => void, options: WatchOptions = {}): () => void {
    this.listeners.set(listener, options.only);
    this.subscription ??= this.subscribe();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.followed.clear();
    };
  }

  /**
   * Resolves once listeners see every later change from any process (the subscription is
   * active); at once when nothing ever watched.
   */
  async subscribed(): Promise<void> {
    await this.subscription;
  }

  /** Whether Redis is reachable for commands and, once watched, for events: a readiness check. */
  isUp(): boolean {
    return isRedisUp(this.redis, this.subscriber);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.followed.clear();
    this.settle(Infinity);
    await Promise.all([closeRedis(this.redis), this.subscriber && closeRedis(this.subscriber)]);
  }

  /**
   * Subscribes on a connection of its own. When Redis is down the attempt fails (writes awaiting
   * it fail with it, as unreachable) and is made again once the connection is back; once
   * subscribed, ioredis itself subscribes again after a reconnect.
   */
  private subscribe(): Promise<void> {
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    reportOutages(subscriber, `${STORE_ROLE}'s events`, this.log);
    // Buffers: a change nobody follows is never even made a string.
    subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.deliver(message));
    let state: 'trying' | 'failed' | 'subscribed' = 'trying';
    const attempt = (): Promise<void> => {
      state = 'trying';
      const subscribing = subscriber.subscribe(`${this.prefix}events`).then(
        () => void (state = 'subscribed'),
        (err: unknown) => {
          state = 'failed';
          throw asRedisUnavailable(err) ?? err;
        },
      );
      // Handled here too, for when no write is waiting: the next 'ready' tries again.
      subscribing.catch(() => undefined);
      return subscribing;
    };
    subscriber.on('ready', () => {
      if (state === 'failed') this.subscription = attempt();
    });
    return attempt();
  }

  /** One change from the channel: '<seq> <type> <name>\n' and the record (store/redis-lua.ts). */
  private deliver(message: Buffer): void {
    const typeAt = message.indexOf(SPACE) + 1;
    const nameAt = message.indexOf(SPACE, typeAt) + 1;
    const recordAt = message.indexOf(NEWLINE, nameAt) + 1;
    const seq = Number(message.toString('latin1', 0, typeAt - 1));
    const name = message.toString('utf8', nameAt, recordAt - 1);
    // Events arrive in order, one per sequence number; a jump means some were lost (a reconnect).
    const jumped = seq !== this.delivered + 1;
    this.delivered = seq;
    try {
      let event: GameServerEvent | undefined;
      for (const [listener, only] of this.listeners) {
        if (only && !only(name)) continue;
        if (!event) {
          event = { type: message.toString('latin1', typeAt, nameAt - 1) as GameServerEventType, object: decodeRecord(message.toString('utf8', recordAt)) };
          // Before the listeners run: one that updates the server starts from this record.
          this.followed.delete(name);
          if (event.type !== 'deleted') this.keep(event.object);
        }
        listener(event);
      }
      if (!event) this.followed.delete(name);
    } finally {
      if (jumped) this.settle(seq);
      else this.waiters.get(seq)?.();
    }
  }

  /** Keeps `gs` as its server's latest record (a Map keeps insertion order: the first is the oldest). */
  private keep(gs: GameServer): void {
    this.followed.set(gs.metadata.name, gs);
    if (this.followed.size > FOLLOWED_RECORDS_KEPT) this.followed.delete(this.followed.keys().next().value!);
  }

  /** Waits until the listeners have seen event `seq`, when there are listeners. */
  private async echo(seq: number): Promise<void> {
    if (!this.subscription || this.listeners.size === 0) return;
    await this.subscription;
    if (this.delivered >= seq) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(seq);
        resolve();
      };
      const timer = setTimeout(done, ECHO_TIMEOUT_MS);
      timer.unref();
      this.waiters.set(seq, done);
    });
  }

  /** Releases every write waiting for an event up to `seq`. */
  private settle(seq: number): void {
    for (const [waiting, done] of this.waiters) if (waiting <= seq) done();
  }

  private async put(gs: GameServer, expected: string): Promise<{ status: 'ok' | 'exists' | 'conflict' | 'missing'; rv: string; record?: GameServer }> {
    // Writes after watch() wait for the subscription, so their events reach this instance's listeners.
    await this.subscription;
    const fields = toFields(gs);
    const [status, rv] = (await this.run('put', [gs.metadata.name, expected, String(playerRoom(gs)), isAllocatable(gs) ? '1' : '0', ...fields])) as [
      'ok' | 'exists' | 'conflict' | 'missing',
      string,
    ];
    if (status !== 'ok') return { status, rv };
    // The record as stored (parsed back), so nothing the caller still holds is shared or frozen.
    const record = deepFreeze(fromFields([rv, ...fields]));
    await this.echo(Number(rv));
    return { status, rv, record };
  }
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

function renameChecked(name: string, next: GameServer): GameServer {
  if (next.metadata.name !== name) throw new Error(`update of ${name} must not rename it to ${next.metadata.name}`);
  return next;
}

/** What `mutate` returns, or undefined when it throws (refuses the change). */
function unlessRefused(mutate: () => GameServer): GameServer | undefined {
  try {
    return mutate();
  } catch {
    return undefined;
  }
}

/** An event's record: its FIELDS as one JSON array. */
function decodeRecord(json: string): GameServer {
  const [rv, meta, labels, annotations, spec, state, status, counters, lists] = JSON.parse(json) as EventRecord;
  return deepFreeze(assemble(rv, meta, labels, annotations, spec, state, status, counters, lists));
}

type EventRecord = [string, MetaPart, Record<string, string>, Record<string, string>, GameServer['spec'], GameServerState, StatusPart, GameServer['status']['counters'], GameServer['status']['lists']];
type MetaPart = Omit<GameServer['metadata'], 'resourceVersion' | 'labels' | 'annotations'>;
type StatusPart = Omit<GameServer['status'], 'state' | 'counters' | 'lists'>;

/** JSON.stringify replacer leaving out empty lists and maps (the allocation script puts them back). */
function withoutEmpty(this: unknown, _key: string, value: unknown): unknown {
  if (Array.isArray(this) || value === null || typeof value !== 'object') return value;
  return (Array.isArray(value) ? value.length : Object.keys(value).length) === 0 ? undefined : value;
}

/** The record's hash fields after rv, in FIELDS order. */
function toFields(gs: GameServer): string[] {
  const { resourceVersion: _rv, labels, annotations, ...meta } = gs.metadata;
  const { state, counters, lists, ...status } = gs.status;
  return [JSON.stringify(meta), JSON.stringify(labels), JSON.stringify(annotations), JSON.stringify(gs.spec), state, JSON.stringify(status), JSON.stringify(counters), JSON.stringify(lists)];
}

function fromFields(f: readonly string[]): GameServer {
  const [rv, meta, labels, annotations, spec, state, status, counters, lists] = f as [string, string, string, string, string, GameServerState, string, string, string];
  return assemble(rv, JSON.parse(meta), JSON.parse(labels), JSON.parse(annotations), JSON.parse(spec), state, JSON.parse(status), JSON.parse(counters), JSON.parse(lists));
}

function assemble(
  rv: string,
  meta: MetaPart,
  labels: Record<string, string>,
  annotations: Record<string, string>,
  spec: GameServer['spec'],
  state: GameServerState,
  status: StatusPart,
  counters: GameServer['status']['counters'],
  lists: GameServer['status']['lists'],
): GameServer {
  // meta and status are fresh from JSON.parse: completed in place rather than copied.
  const metadata = Object.assign(meta, { resourceVersion: rv, labels, annotations });
  return { metadata, spec, status: Object.assign(status, { state, counters, lists }) };
}
