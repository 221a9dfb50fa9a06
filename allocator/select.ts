import { GameServerState as S, type GameServer } from '../core/game-server.js';
import type { FleetPriority } from '../core/resources.js';
import type { GameServerAllocationSpec, GameServerSelector } from './allocation.js';

// Which game server an allocation gets, as Agones' allocator picks it
// (pkg/gameserverallocations: find.go, allocation_cache.go ListSortedGameServers*,
// and GameServerSelector.Matches). Pure: the stores call it, and the Redis store's Lua script is
// written to agree with it (the contract suite checks that they do).

export interface Selection {
  gameServer: GameServer;
  /** Index into spec.selectors of the selector that matched. */
  selectorIndex: number;
}

/**
 * Room used to order servers without player tracking. Agones leaves such a pair unordered by
 * players (not a total order once both kinds mix); Hangar puts them after every tracked server.
 */
export const UNTRACKED_PLAYER_ROOM = 2 ** 53;

/** Players capacity − count (alpha player tracking), or UNTRACKED_PLAYER_ROOM. */
export function playerRoom(gs: GameServer): number {
  const p = gs.status.players;
  return p ? p.capacity - p.count : UNTRACKED_PLAYER_ROOM;
}

/** Only Ready and Allocated servers that are not being deleted can be allocated. */
export function isAllocatable(gs: GameServer): boolean {
  return (gs.status.state === S.Ready || gs.status.state === S.Allocated) && !gs.metadata.deletionTimestamp;
}

/**
 * The server the allocation gets: the first selector (in order) that matches any candidate
 * decides, and among its matches
 *  - Packed: the least room for players first (one machine is one node, so Agones' "most
 *    allocated node first" ties), then `priorities`, then the name;
 *  - Distributed with priorities: `priorities`, then the name;
 *  - Distributed without: a uniformly random one (`random()` in [0, 1) indexes the matches in
 *    packed order, so a given `random` always picks the same server).
 */
export function selectGameServer(spec: GameServerAllocationSpec, candidates: readonly GameServer[], random: () => number): Selection | undefined {
  const sorted = [...candidates].sort(comparePacked);
  return selectInPackedOrder(spec, () => sorted, random);
}

/**
 * selectGameServer over candidates a store keeps indexed in packed order (comparePacked):
 * `candidatesFor(selector)` returns any superset of the selector's matches in that order (say,
 * the Ready servers with one of its matchLabels), and Packed allocation without priorities stops
 * at the first match instead of looking at every candidate.
 */
export function selectInPackedOrder(spec: GameServerAllocationSpec, candidatesFor: (selector: GameServerSelector) => Iterable<GameServer>, random: () => number): Selection | undefined {
  const byPriorities = priorityOrder(spec.priorities);
  for (let i = 0; i < spec.selectors.length; i++) {
    const selector = spec.selectors[i]!;
    const matches = compileSelector(selector);
    const candidates = candidatesFor(selector);
    let best: GameServer | undefined;
    if (spec.scheduling === 'Packed') {
      for (const gs of candidates) {
        if (best && playerRoom(gs) > playerRoom(best)) break;
        if (matches(gs) && (!best || byPriorities(gs, best) < 0)) best = gs;
        if (best && spec.priorities.length === 0) break;
      }
    } else if (spec.priorities.length > 0) {
      for (const gs of candidates) if (matches(gs) && (!best || byPriorities(gs, best) < 0)) best = gs;
    } else {
      const all: GameServer[] = [];
      for (const gs of candidates) if (matches(gs)) all.push(gs);
      best = all[Math.min(all.length - 1, Math.floor(random() * all.length))];
    }
    if (best) return { gameServer: best, selectorIndex: i };
  }
  return undefined;
}

/** Packed order: the least room for players first, then the name. */
export function comparePacked(a: GameServer, b: GameServer): number {
  return playerRoom(a) - playerRoom(b) || compareNames(a, b);
}

/** comparePacked(a, b) < 0, with one comparison of the names where comparePacked makes two when `a` is not before `b`. */
export function packedBefore(a: GameServer, b: GameServer): boolean {
  const roomA = playerRoom(a);
  const roomB = playerRoom(b);
  return roomA !== roomB ? roomA < roomB : a.metadata.name < b.metadata.name;
}

/** Whether `gs` satisfies `selector`: state, labels, players, Counters and Lists, as Agones' Matches. */
export function matchesSelector(selector: GameServerSelector, gs: GameServer): boolean {
  return compileSelector(selector)(gs);
}

function compileSelector(selector: GameServerSelector): (gs: GameServer) => boolean {
  const labels = Object.entries(selector.matchLabels);
  const expressions = selector.matchExpressions;
  // Agones: a players filter with maxAvailable 0 filters nothing, and servers without player tracking pass.
  const players = selector.players && selector.players.maxAvailable !== 0 ? selector.players : undefined;
  // Most selectors have neither: no arrays made for them on every allocation.
  const counters = hasKeys(selector.counters) ? Object.entries(selector.counters) : [];
  const lists = hasKeys(selector.lists) ? Object.entries(selector.lists) : [];
  const state = selector.gameServerState;
  return (gs) => {
    if (gs.status.state !== state || gs.metadata.deletionTimestamp) return false;
    const l = gs.metadata.labels;
    for (const [key, value] of labels) if (!Object.hasOwn(l, key) || l[key] !== value) return false;
    for (const e of expressions) {
      const has = Object.hasOwn(l, e.key);
      switch (e.operator) {
        case 'In':
          if (!has || !e.values.includes(l[e.key]!)) return false;
          break;
        case 'NotIn':
          if (has && e.values.includes(l[e.key]!)) return false;
          break;
        case 'Exists':
          if (!has) return false;
          break;
        case 'DoesNotExist':
          if (has) return false;
          break;
      }
    }
    if (players && gs.status.players) {
      const room = gs.status.players.capacity - gs.status.players.count;
      if (room < players.minAvailable || room > players.maxAvailable) return false;
    }
    for (const [key, c] of counters) {
      const status = Object.hasOwn(gs.status.counters, key) ? gs.status.counters[key]! : undefined;
      if (!status) return false;
      if (outside(status.capacity - status.count, c.minAvailable, c.maxAvailable) || outside(status.count, c.minCount, c.maxCount)) return false;
    }
    for (const [key, s] of lists) {
      const status = Object.hasOwn(gs.status.lists, key) ? gs.status.lists[key]! : undefined;
      if (!status) return false;
      if (outside(status.capacity - status.values.length, s.minAvailable, s.maxAvailable)) return false;
      if (s.containsValue !== '' && !status.values.includes(s.containsValue)) return false;
    }
    return true;
  };
}

function hasKeys(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}

/** Outside [min, max], where max 0 means no upper bound. */
function outside(value: number, min: number, max: number): boolean {
  return value < min || (max !== 0 && value > max);
}

type Order = (a: GameServer, b: GameServer) => number;

/** Agones' CompareCountAndListPriorities, then the name (a stable order). */
function priorityOrder(priorities: readonly FleetPriority[]): Order {
  return (a, b) => {
    for (const p of priorities) {
      const x = available(a, p);
      const y = available(b, p);
      // A server that has the Counter or List comes before one that lacks it, in either order.
      if (x === undefined || y === undefined) {
        if (x !== y) return x === undefined ? 1 : -1;
        continue;
      }
      if (x !== y) return p.order === 'Ascending' ? x - y : y - x;
    }
    return compareNames(a, b);
  };
}

function compareNames(a: GameServer, b: GameServer): number {
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** Capacity − count of the priority's Counter or List; undefined when the server lacks it. */
function available(gs: GameServer, p: FleetPriority): number | undefined {
  if (p.type === 'Counter') {
    const c = Object.hasOwn(gs.status.counters, p.key) ? gs.status.counters[p.key] : undefined;
    return c && c.capacity - c.count;
  }
  const l = Object.hasOwn(gs.status.lists, p.key) ? gs.status.lists[p.key] : undefined;
  return l && l.capacity - l.values.length;
}
