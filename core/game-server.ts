import { IllegalTransitionError } from './errors.js';
import type { CounterStatus, GameServerSpec, ListStatus } from './resources.js';

/** Agones' GameServer states, spelled as Agones spells them. */
export const GameServerState = {
  PortAllocation: 'PortAllocation',
  Creating: 'Creating',
  Starting: 'Starting',
  Scheduled: 'Scheduled',
  RequestReady: 'RequestReady',
  Ready: 'Ready',
  Reserved: 'Reserved',
  Allocated: 'Allocated',
  Shutdown: 'Shutdown',
  Error: 'Error',
  Unhealthy: 'Unhealthy',
} as const;
export type GameServerState = (typeof GameServerState)[keyof typeof GameServerState];

export const ALL_GAME_SERVER_STATES: readonly GameServerState[] = Object.values(GameServerState);

const S = GameServerState;
const SDK_TARGETS = [S.RequestReady, S.Reserved, S.Allocated, S.Shutdown] as const;

/**
 * Legal transitions. The controller walks PortAllocation → Creating → Starting → Scheduled and
 * turns RequestReady into Ready; the SDK may request Ready, Allocate, Reserve and Shutdown from any
 * live state (as Agones' sdkserver does); a Reserved server whose time is up returns to Ready.
 * Unhealthy and Error are left only by deletion (Shutdown), never back to Ready.
 */
export const LEGAL_TRANSITIONS: Readonly<Record<GameServerState, readonly GameServerState[]>> = {
  PortAllocation: [S.Creating, S.Error, S.Shutdown],
  Creating: [S.Starting, S.Error, S.Shutdown],
  Starting: [S.Scheduled, S.Error, S.Unhealthy, S.Shutdown],
  Scheduled: [...SDK_TARGETS, S.Error, S.Unhealthy],
  RequestReady: [...SDK_TARGETS, S.Ready, S.Unhealthy],
  Ready: [...SDK_TARGETS, S.Unhealthy],
  Reserved: [...SDK_TARGETS, S.Ready, S.Unhealthy],
  Allocated: [...SDK_TARGETS, S.Unhealthy],
  Unhealthy: [S.Shutdown],
  Error: [S.Shutdown],
  Shutdown: [],
};

export function canTransition(from: GameServerState, to: GameServerState): boolean {
  return LEGAL_TRANSITIONS[from].includes(to);
}

/** States in which a player may be on the server: never deleted by scale-down or rollout. */
export function isInUse(state: GameServerState): boolean {
  return state === S.Allocated || state === S.Reserved;
}

export interface GameServerAddress {
  type: string;
  address: string;
}

export interface GameServerStatusPort {
  name: string;
  port: number;
}

export interface PlayerStatus {
  count: number;
  capacity: number;
  ids: string[];
}

export interface GameServerStatus {
  state: GameServerState;
  address: string;
  addresses: GameServerAddress[];
  ports: GameServerStatusPort[];
  nodeName: string;
  /** RFC 3339 time at which a Reserved server returns to Ready; null when not reserved or forever. */
  reservedUntil: string | null;
  players: PlayerStatus | null;
  counters: Record<string, CounterStatus>;
  lists: Record<string, ListStatus>;
}

export interface GameServerMeta {
  name: string;
  namespace: string;
  uid: string;
  /** Bumped on every change; the basis for compare-and-set updates. */
  resourceVersion: string;
  generation: number;
  /** RFC 3339. */
  creationTimestamp: string;
  deletionTimestamp?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A GameServer as Agones models it: metadata, the spec it was created from, and live status. */
export interface GameServer {
  metadata: GameServerMeta;
  spec: GameServerSpec;
  status: GameServerStatus;
}

/**
 * Returns a copy of `gs` in state `to`, or throws IllegalTransitionError. Moving to the current state
 * is allowed only where the table lists it (Ready → Ready is not; RequestReady → RequestReady is).
 */
export function transition(gs: GameServer, to: GameServerState): GameServer {
  const from = gs.status.state;
  if (!canTransition(from, to)) throw new IllegalTransitionError(gs.metadata.name, from, to);
  const status = copyStatus(gs.status);
  status.state = to;
  if (to !== S.Reserved) status.reservedUntil = null;
  return { metadata: gs.metadata, spec: gs.spec, status };
}

// Copies of a record's parts written out field by field, not spread: the stores' records are
// frozen, and V8 copies a spread of a frozen object on its slow path, property by property (some
// 2,500 instructions for a status, against a few dozen here; BENCHMARKS.md, "Allocator under
// load"). `satisfies Required<…>` makes the compiler refuse a copy that leaves a field out.

/** A new status with `status`'s fields (its parts shared, not copied). */
export function copyStatus(status: GameServerStatus): GameServerStatus {
  const { state, address, addresses, ports, nodeName, reservedUntil, players, counters, lists } = status;
  return { state, address, addresses, ports, nodeName, reservedUntil, players, counters, lists } satisfies Required<GameServerStatus>;
}

/** New metadata with `meta`'s fields (its labels and annotations shared, not copied). */
export function copyMeta(meta: GameServerMeta): GameServerMeta {
  const { name, namespace, uid, resourceVersion, generation, creationTimestamp, labels, annotations } = meta;
  const copy: GameServerMeta = { name, namespace, uid, resourceVersion, generation, creationTimestamp, labels, annotations } satisfies Required<Omit<GameServerMeta, 'deletionTimestamp'>>;
  // Only when set: an absent field stays absent.
  if (meta.deletionTimestamp !== undefined) copy.deletionTimestamp = meta.deletionTimestamp;
  return copy;
}

/** Initial status for a new GameServer built from `spec`: counters, lists and player capacity come from the spec. */
export function initialStatus(spec: GameServerSpec): GameServerStatus {
  return {
    state: S.PortAllocation,
    address: '',
    addresses: [],
    ports: [],
    nodeName: '',
    reservedUntil: null,
    players: spec.players ? { count: 0, capacity: spec.players.initialCapacity, ids: [] } : null,
    counters: Object.fromEntries(Object.entries(spec.counters).map(([k, c]) => [k, { ...c }])),
    lists: Object.fromEntries(Object.entries(spec.lists).map(([k, l]) => [k, { capacity: l.capacity, values: [...l.values] }])),
  };
}

// Kubernetes' generateName alphabet: no vowels (no accidental words) and no look-alike characters.
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `prefix` plus five random characters, as Kubernetes completes a generateName. */
export function generateName(prefix: string): string {
  let suffix = '';
  for (const byte of crypto.getRandomValues(new Uint8Array(5))) suffix += NAME_ALPHABET[byte % NAME_ALPHABET.length];
  return `${prefix}${suffix}`;
}

export interface NewGameServerOptions {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: GameServerSpec;
  /** RFC 3339 creation time. */
  now: string;
}

/** A GameServer record as first stored: state PortAllocation, status seeded from the spec. */
export function newGameServer(options: NewGameServerOptions): GameServer {
  return {
    metadata: {
      name: options.name,
      namespace: options.namespace,
      uid: crypto.randomUUID(),
      resourceVersion: '0',
      generation: 1,
      creationTimestamp: options.now,
      labels: { ...options.labels },
      annotations: { ...options.annotations },
    },
    spec: options.spec,
    status: initialStatus(options.spec),
  };
}
