import { AGONES_API_VERSION, AUTOSCALING_API_VERSION } from '../../core/resources.js';
import { closestMatch } from './closest-match.js';

// Which documents of a file are Hangar's: Fleet, GameServer and FleetAutoscaler. Other Kubernetes
// documents (a Service, a GameServerAllocation) may share the file and are skipped with a warning;
// what looks like a misspelling of one of ours is an error, so a typo never hides a fleet.

export type HangarKind = 'Fleet' | 'GameServer' | 'FleetAutoscaler';

export type KindVerdict =
  | { kind: HangarKind }
  | { skip: string }
  | { error: string; field: 'apiVersion' | 'kind' | '' };

const OURS: Record<HangarKind, string> = {
  Fleet: AGONES_API_VERSION,
  GameServer: AGONES_API_VERSION,
  FleetAutoscaler: AUTOSCALING_API_VERSION,
};
const KINDS = Object.keys(OURS) as HangarKind[];

/** Agones kinds that are not fleet documents, and why Hangar passes them by. */
const OTHER_AGONES: Record<string, string> = {
  GameServerSet: 'a Fleet manages its GameServerSets; write a Fleet instead',
  GameServerAllocation: 'allocations are requests to the allocator, not fleet configuration',
  GameServerAllocationPolicy: 'multi-cluster allocation policies are cluster configuration',
};

const AGONES_GROUPS = ['agones.dev', 'autoscaling.agones.dev', 'allocation.agones.dev', 'multicluster.agones.dev'];

export function classifyDocument(data: unknown): KindVerdict {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { error: `a Kubernetes document must be a mapping with apiVersion and kind, got ${Array.isArray(data) ? 'a list' : JSON.stringify(data)}`, field: '' };
  }
  const { apiVersion, kind } = data as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return { error: `missing apiVersion: a Fleet or GameServer is ${AGONES_API_VERSION}, a FleetAutoscaler ${AUTOSCALING_API_VERSION}`, field: 'apiVersion' };
  }
  if (typeof kind !== 'string' || kind === '') {
    return { error: `missing kind: Hangar reads ${KINDS.join(', ')}`, field: 'kind' };
  }

  const ours = KINDS.find((k) => k === kind);
  if (ours) {
    if (apiVersion === OURS[ours]) return { kind: ours };
    if (looksAgones(apiVersion)) return { error: `${ours} is ${OURS[ours]}, not ${apiVersion}`, field: 'apiVersion' };
    return { skip: `${kind} of ${apiVersion} is not Agones' ${ours} (${OURS[ours]}); skipped` };
  }
  if (kind in OTHER_AGONES && looksAgones(apiVersion)) return { skip: `${kind} is not a fleet document (${OTHER_AGONES[kind]}); skipped` };

  const guess = closestMatch(kind, KINDS);
  if (looksAgones(apiVersion)) {
    const near = guess ?? KINDS.find((k) => kind.toLowerCase().startsWith(k.toLowerCase()));
    const suggestion = near ? ` (did you mean ${near}?)` : '';
    return { error: `unknown kind ${kind} for ${apiVersion}${suggestion}; Hangar reads ${KINDS.map((k) => `${k} (${OURS[k]})`).join(', ')}`, field: 'kind' };
  }
  if (guess) return { error: `unknown kind ${kind} (did you mean ${guess}? it is ${OURS[guess]})`, field: 'kind' };
  return { skip: `${kind} (${apiVersion}) is not a fleet document; skipped` };
}

/** An Agones API group, or something a typo away from one ("agones.dev/v2", "agone.dev/v1"). */
function looksAgones(apiVersion: string): boolean {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : apiVersion;
  return group.endsWith('agones.dev') || closestMatch(group, AGONES_GROUPS) !== undefined;
}
