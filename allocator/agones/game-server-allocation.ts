import { AllocationInvalidError, KubernetesRequestError } from '../../core/errors.js';
import type { AllocationResult, AllocationState, GameServerAllocationSpec } from '../allocation.js';
import { count, list, record, stringList, strings, text } from './json-read.js';

// Hangar's GameServerAllocationSpec as the allocation.agones.dev/v1 object Agones is sent (the
// field names are already Agones' JSON names), and the object's returned status as Hangar's
// AllocationResult. GameServerAllocation is not a CRD but an aggregated API served by Agones'
// extensions (pkg/gameserverallocations): it decodes leniently and answers 201 Created with the
// status filled in, Allocated, UnAllocated or Contention alike.

export const GAME_SERVER_ALLOCATIONS = { group: 'allocation.agones.dev', version: 'v1', plural: 'gameserverallocations' } as const;

export interface GameServerAllocationObject {
  apiVersion: 'allocation.agones.dev/v1';
  kind: 'GameServerAllocation';
  spec: GameServerAllocationSpec;
}

const STATES: readonly AllocationState[] = ['Allocated', 'UnAllocated', 'Contention'];

/**
 * The object to create for `spec`. A `players` selector (alpha player tracking) is refused with
 * ALLOCATION_INVALID, before anything is sent: Agones
 * 1.59 removed it from GameServerAllocation (agones-dev/agones#4624) and newer servers drop it
 * silently, which would allocate servers without the room the caller asked for.
 */
export function gameServerAllocation(spec: GameServerAllocationSpec): GameServerAllocationObject {
  const withPlayers = spec.selectors.findIndex((s) => s.players !== undefined);
  if (withPlayers !== -1) {
    throw new AllocationInvalidError([
      `spec.selectors[${withPlayers}].players: Agones 1.59 removed the players selector from GameServerAllocation, so the Agones backend cannot honour it; select on a List (for example "players" with minAvailable) instead`,
    ]);
  }
  return { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec };
}

/** The result in a created GameServerAllocation's status; throws KubernetesRequestError when there is none Hangar can read. */
export function readAllocationStatus(created: unknown): AllocationResult {
  const status = record(record(created).status);
  const state = status.state as AllocationState;
  if (!STATES.includes(state)) {
    throw new KubernetesRequestError(undefined, `Agones answered a GameServerAllocation with state ${JSON.stringify(status.state)}; expected one of ${STATES.join(', ')}`);
  }
  const metadata = record(status.metadata);
  return {
    state,
    gameServerName: text(status.gameServerName),
    ports: list(status.ports).map((p) => ({ name: text(record(p).name), port: count(record(p).port, 0) })),
    address: text(status.address),
    addresses: list(status.addresses).map((a) => ({ type: text(record(a).type), address: text(record(a).address) })),
    nodeName: text(status.nodeName),
    source: text(status.source),
    metadata: { labels: strings(metadata.labels), annotations: strings(metadata.annotations) },
    counters: Object.fromEntries(Object.entries(record(status.counters)).map(([k, c]) => [k, { count: count(record(c).count, 0), capacity: count(record(c).capacity, 0) }])),
    lists: Object.fromEntries(
      Object.entries(record(status.lists)).map(([k, l]) => [k, { capacity: count(record(l).capacity, 0), values: stringList(record(l).values) }]),
    ),
  };
}
