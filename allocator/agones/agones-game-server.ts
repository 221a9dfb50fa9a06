import { KubernetesRequestError } from '../../core/errors.js';
import { deepFreeze } from '../../core/freeze.js';
import { ALL_GAME_SERVER_STATES, type GameServer, type GameServerState } from '../../core/game-server.js';
import type { CounterStatus, GameServerPort, GameServerSpec, ListStatus, PodTemplateSpec } from '../../core/resources.js';
import { count, isObject, list, record, stringList, strings, text, type Json } from './json-read.js';

// An agones.dev/v1 GameServer as the Kubernetes API returns it, read into Hangar's GameServer.
// Agones' webhook has applied its defaults before the object is stored, so the defaults below only
// matter for fields a newer or older Agones leaves out; the reading is lenient everywhere else
// (unknown fields are ignored), because the API server has already accepted the object. Only what
// Hangar cannot represent is refused: no name, or a state Hangar does not know.

export const GAME_SERVERS = { group: 'agones.dev', version: 'v1', plural: 'gameservers' } as const;

/** Reads an API object into a frozen GameServer; throws KubernetesRequestError when it has no name or an unknown state. */
export function fromAgonesGameServer(obj: unknown): GameServer {
  const meta = record(record(obj).metadata);
  const name = text(meta.name);
  if (name === '') throw new KubernetesRequestError(undefined, 'a GameServer from the API server has no metadata.name');
  const status = record(record(obj).status);
  const state = status.state;
  if (!ALL_GAME_SERVER_STATES.includes(state as GameServerState)) {
    throw new KubernetesRequestError(undefined, `GameServer ${name} has state ${JSON.stringify(state)}, which this version of Hangar does not know`);
  }
  const deletionTimestamp = text(meta.deletionTimestamp);
  const gs: GameServer = {
    metadata: {
      name,
      namespace: text(meta.namespace),
      uid: text(meta.uid),
      resourceVersion: text(meta.resourceVersion),
      generation: count(meta.generation, 0),
      creationTimestamp: text(meta.creationTimestamp),
      ...(deletionTimestamp !== '' && { deletionTimestamp }),
      labels: strings(meta.labels),
      annotations: strings(meta.annotations),
    },
    spec: readSpec(record(record(obj).spec)),
    status: {
      state: state as GameServerState,
      address: text(status.address),
      addresses: list(status.addresses).map((a) => ({ type: text(record(a).type), address: text(record(a).address) })),
      ports: list(status.ports).map((p) => ({ name: text(record(p).name), port: count(record(p).port, 0) })),
      nodeName: text(status.nodeName),
      reservedUntil: typeof status.reservedUntil === 'string' ? status.reservedUntil : null,
      players: isObject(status.players) ? readPlayers(status.players) : null,
      counters: counters(status.counters),
      lists: lists(status.lists),
    },
  };
  return deepFreeze(gs) as GameServer;
}

function readSpec(spec: Json): GameServerSpec {
  const health = record(spec.health);
  const sdk = record(spec.sdkServer);
  const template = record(spec.template);
  return {
    container: text(spec.container),
    ports: list(spec.ports).map((raw) => readPort(record(raw))),
    health: {
      disabled: health.disabled === true,
      initialDelaySeconds: count(health.initialDelaySeconds, 5),
      periodSeconds: count(health.periodSeconds, 5),
      failureThreshold: count(health.failureThreshold, 3),
    },
    scheduling: oneOf(spec.scheduling, ['Packed', 'Distributed'], 'Packed'),
    sdkServer: {
      logLevel: oneOf(sdk.logLevel, ['Error', 'Info', 'Debug', 'Trace'], 'Info'),
      grpcPort: count(sdk.grpcPort, 9357),
      httpPort: count(sdk.httpPort, 9358),
    },
    ...(isObject(spec.players) && { players: { initialCapacity: count(spec.players.initialCapacity, 0) } }),
    counters: counters(spec.counters),
    lists: lists(spec.lists),
    eviction: { safe: oneOf(record(spec.eviction).safe, ['Always', 'OnUpgrade', 'Never'], 'Never') },
    template: { ...template, spec: { ...record(template.spec), containers: list(record(template.spec).containers) } } as PodTemplateSpec,
  };
}

function readPort(p: Json): GameServerPort {
  return {
    name: text(p.name),
    portPolicy: oneOf(p.portPolicy, ['Dynamic', 'Static', 'Passthrough', 'None'], 'Dynamic'),
    protocol: oneOf(p.protocol, ['UDP', 'TCP', 'TCPUDP'], 'UDP'),
    ...(typeof p.container === 'string' && { container: p.container }),
    ...(typeof p.containerPort === 'number' && { containerPort: p.containerPort }),
    ...(typeof p.hostPort === 'number' && { hostPort: p.hostPort }),
    ...(typeof p.range === 'string' && { range: p.range }),
  };
}

function readPlayers(p: Json) {
  return { count: count(p.count, 0), capacity: count(p.capacity, 0), ids: stringList(p.ids) };
}

/** Counters with the CRD's defaults (count 0, capacity 1000). */
function counters(raw: unknown): Record<string, CounterStatus> {
  return Object.fromEntries(Object.entries(record(raw)).map(([k, v]) => [k, { count: count(record(v).count, 0), capacity: count(record(v).capacity, 1000) }]));
}

/** Lists with the CRD's defaults (capacity 1000, no values). */
function lists(raw: unknown): Record<string, ListStatus> {
  return Object.fromEntries(
    Object.entries(record(raw)).map(([k, v]) => [k, { capacity: count(record(v).capacity, 1000), values: stringList(record(v).values) }]),
  );
}

function oneOf<const T extends string>(v: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(v as T) ? (v as T) : fallback;
}
