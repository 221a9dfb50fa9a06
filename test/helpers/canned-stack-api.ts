import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAllDocuments } from 'yaml';
import { unallocated, type AllocationResult } from '../../allocator/allocation.js';
import { ALL_GAME_SERVER_STATES } from '../../core/game-server.js';
import type { Readiness } from '../../core/admin-server.js';
import type { FleetSpec } from '../../core/resources.js';
import type { SourceProblem } from '../../core/yaml-source.js';
import type { FleetSummary, GameServerSummary } from '../../fleets/http-api.js';
import type { QueueStats } from '../../matchmaker/matchmaking-service.js';

// Test support for the ops commands: a real HTTP server answering the stack API's contract
// (fleets/http-api.ts) from fixed data, error bodies included, and recording what it was sent.

/** The tests' "now": every createdAt below is this minus a round age. */
export const NOW = Date.parse('2026-05-01T12:00:00Z');

const ago = (ms: number) => new Date(NOW - ms).toISOString();

function fleet(name: string, replicas: number, status: Partial<FleetSummary['status']>, autoscaler: FleetSummary['autoscaler'] = null, source = `config/fleets/${name}.yaml`): FleetSummary {
  return {
    name,
    metadata: { namespace: 'default', labels: {}, annotations: {} },
    // The CLI reads only replicas; the rest is what the stack sends along.
    spec: { replicas, scheduling: 'Packed', strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, priorities: [] } as unknown as FleetSpec,
    status: { replicas, readyReplicas: 0, reservedReplicas: 0, allocatedReplicas: 0, players: null, counters: {}, lists: {}, ...status },
    gameServerSets: [],
    source,
    autoscaler,
  };
}

export const FLEETS: FleetSummary[] = [
  fleet(
    'simple',
    3,
    { readyReplicas: 1, allocatedReplicas: 1, players: { count: 4, capacity: 30 } },
    {
      name: 'simple-autoscaler',
      policy: 'Buffer',
      status: { currentReplicas: 3, desiredReplicas: 3, ableToScale: true, scalingLimited: true, lastScaleTime: ago(60_000), lastAppliedPolicy: 'Buffer' },
      problem: null,
    },
  ),
  // Applied with `hangar fleet apply`, so it can be deleted; simple's file would bring it back.
  fleet('duel', 1, { readyReplicas: 1 }, null, 'duel.yaml'),
];

export const PROBLEMS: SourceProblem[] = [
  { file: 'config/fleets/broken.yaml', line: 6, col: 13, path: 'spec.replicas', message: 'Invalid input: expected number, received string', severity: 'error' },
];

function gameServer(name: string, fleetName: string | null, state: GameServerSummary['state'], port: number | null, ageMs: number, pid: number | null, restarts = 0): GameServerSummary {
  return {
    name,
    fleet: fleetName,
    state,
    address: port === null ? '' : '127.0.0.1',
    ports: port === null ? [] : [{ name: 'default', port }],
    players: null,
    counters: {},
    lists: {},
    labels: fleetName ? { 'agones.dev/fleet': fleetName } : {},
    annotations: {},
    nodeName: port === null ? '' : 'local',
    createdAt: ago(ageMs),
    reservedUntil: null,
    pid,
    restarts,
    lastExit: restarts ? 'code 1: "game server: environment ENCRYPTION_KEY: is required"' : null,
    restartBackoffMs: restarts ? 1000 : 0,
    sdkPort: pid === null ? null : 9357,
    logFile: `.hangar/logs/${name}.log`,
  };
}

/** Oldest first, as the API sorts them. */
export const GAME_SERVERS: GameServerSummary[] = [
  gameServer('lobby', null, 'Ready', 7010, 26 * 3_600_000 + 5 * 60_000, 4100),
  gameServer('duel-x1y2z', 'duel', 'Ready', 7003, 2 * 3_600_000 + 60_000, 4201),
  gameServer('simple-9ab3c', 'simple', 'Allocated', 7001, 3 * 60_000 + 4_000, 4243, 1),
  gameServer('simple-2xk7q', 'simple', 'Ready', 7000, 12_000, 4242),
  gameServer('simple-qq7rt', 'simple', 'Starting', null, 900, null),
];

export interface RecordedRequest {
  method: string;
  url: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

export interface CannedStackApi {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const READY_STACK: Readiness = { ready: true, status: 'ready', checks: { store: true, queue: true } };

/** What GET /v1/queues answers: one queue with players waiting, one empty and never matched. */
export const QUEUES: QueueStats[] = [
  { name: 'battle', fleet: 'simple', minPlayers: 10, maxPlayers: 50, waiting: 7, oldestWaitSeconds: 75, estimatedWaitSeconds: 12 },
  { name: 'duel', fleet: 'duel', minPlayers: 2, maxPlayers: 2, waiting: 0, oldestWaitSeconds: null, estimatedWaitSeconds: null },
];

/** `stack`: what GET /v1/stack answers. */
export async function startCannedStackApi(stack: Readiness = READY_STACK): Promise<CannedStackApi> {
  const requests: RecordedRequest[] = [];
  const allocated = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], authorization: req.headers.authorization, body });
      route(req, body, res, allocated, stack);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `allocated`: the game servers this API's canned allocator has handed out. */
function route(req: IncomingMessage, body: string, res: ServerResponse, allocated: Set<string>, stack: Readiness): void {
  const url = new URL(req.url ?? '/', 'http://api');
  const send = (status: number, json: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(json));
  };
  const error = (status: number, code: string, message: string, extra: object = {}) => send(status, { error: { code, message, ...extra } });
  const fleetNotFound = (name: string) => error(404, 'FLEET_NOT_FOUND', `fleet ${name} not found`);
  const route = `${req.method} ${url.pathname}`;

  if (route === 'GET /v1/stack') return send(200, stack);
  if (route === 'GET /v1/fleets') return send(200, { items: FLEETS, problems: PROBLEMS });
  if (route === 'GET /v1/queues') return send(200, { items: QUEUES });
  if (route === 'GET /v1/gameservers') {
    const state = url.searchParams.get('state');
    const fleetName = url.searchParams.get('fleet');
    if (state !== null && !ALL_GAME_SERVER_STATES.includes(state as GameServerSummary['state'])) {
      return error(400, 'BAD_REQUEST', `state ${JSON.stringify(state)} is not a GameServer state: one of ${ALL_GAME_SERVER_STATES.join(', ')}`);
    }
    return send(200, { items: GAME_SERVERS.filter((gs) => (fleetName === null || gs.fleet === fleetName) && (state === null || gs.state === state)) });
  }
  const one = /^\/v1\/fleets\/([^/]+)(\/scale)?$/.exec(url.pathname);
  if (one) {
    const name = decodeURIComponent(one[1]!);
    const found = FLEETS.find((f) => f.name === name);
    if (req.method === 'GET' && !one[2]) return found ? send(200, found) : fleetNotFound(name);
    if (req.method === 'POST' && one[2]) {
      let replicas: unknown;
      try {
        replicas = (JSON.parse(body) as { replicas?: unknown }).replicas;
      } catch {
        return error(400, 'BAD_REQUEST', 'Unexpected token in JSON');
      }
      if (!Number.isInteger(replicas) || (replicas as number) < 0) return error(400, 'BAD_REQUEST', 'replicas: Too small (send {"replicas": N} with N a whole number from 0)');
      return found ? send(200, { ...found, spec: { ...found.spec, replicas } }) : fleetNotFound(name);
    }
  }
  // Deletes: a fleet a config/fleets file holds is refused; what the canned stack has not is not found.
  const refusal = (f: FleetSummary) => error(409, 'RESOURCE_OWNED_BY_FILE', `Fleet ${f.name} comes from ${f.source}, which would bring it back: remove it from that file instead`);
  const owned = (f: FleetSummary | undefined) => f?.source?.startsWith('config/fleets/') === true;
  if (one && req.method === 'DELETE' && !one[2]) {
    const found = FLEETS.find((f) => f.name === decodeURIComponent(one[1]!));
    if (!found) return fleetNotFound(decodeURIComponent(one[1]!));
    return owned(found) ? refusal(found) : send(200, { deleted: [{ kind: 'Fleet', name: found.name, action: 'deleted' }], notFound: [], warnings: [] });
  }
  if (route === 'POST /v1/delete') {
    const refs = parseAllDocuments(body).map((doc) => doc.toJS() as { kind: 'Fleet' | 'FleetAutoscaler' | 'GameServer'; metadata: { name: string } });
    const fleetOf = (r: (typeof refs)[number]) => (r.kind === 'Fleet' ? FLEETS.find((f) => f.name === r.metadata.name) : undefined);
    const ownedRef = refs.find((r) => owned(fleetOf(r)));
    if (ownedRef) return refusal(fleetOf(ownedRef)!);
    const known = (r: (typeof refs)[number]) => fleetOf(r) !== undefined || FLEETS.some((f) => f.autoscaler?.name === r.metadata.name) || GAME_SERVERS.some((g) => g.name === r.metadata.name);
    const ref = (r: (typeof refs)[number]) => ({ kind: r.kind, name: r.metadata.name });
    if (!refs.some(known)) return fleetNotFound(refs[0]!.metadata.name);
    return send(200, { deleted: refs.filter(known).map((r) => ({ ...ref(r), action: 'deleted' })), notFound: refs.filter((r) => !known(r)).map(ref), warnings: [] });
  }
  if (route === 'POST /gameserverallocation') {
    // The first Ready server of the selector's fleet whose labels hold every matchLabel; each is handed out once.
    const { spec } = JSON.parse(body) as { spec: { selectors: Array<{ matchLabels: Record<string, string> }> } };
    const wanted = Object.entries(spec.selectors[0]!.matchLabels);
    const gs = GAME_SERVERS.find((g) => g.state === 'Ready' && !allocated.has(g.name) && wanted.every(([k, v]) => g.labels[k] === v));
    if (!gs) return send(200, unallocated());
    allocated.add(gs.name);
    const result: AllocationResult = {
      ...unallocated(),
      state: 'Allocated',
      gameServerName: gs.name,
      ports: gs.ports,
      address: gs.address,
      addresses: [{ type: 'InternalIP', address: gs.address }],
      nodeName: gs.nodeName,
      source: 'local',
      metadata: { labels: gs.labels, annotations: {} },
    };
    return send(200, result);
  }
  if (route === 'POST /v1/apply') {
    const file = url.searchParams.get('file') ?? 'request';
    if (body.includes('replicas: -1')) {
      const problems: SourceProblem[] = [
        { file, line: 6, col: 13, path: 'spec.replicas', message: 'Too small: expected number to be >=0', severity: 'error' },
        { file, line: 11, col: 23, path: 'spec.template.spec.ports[0].portPolicy', message: 'Invalid option: expected one of "Dynamic"|"Static"|"Passthrough"|"None"', severity: 'error' },
      ];
      return error(422, 'RESOURCE_INVALID', `2 problem(s) in ${file}; nothing was applied`, { problems });
    }
    const applied = parseAllDocuments(body).map((doc) => {
      const { kind, metadata } = doc.toJS() as { kind: string; metadata: { name: string } };
      const known = FLEETS.some((f) => f.name === metadata.name);
      return { kind, name: metadata.name, action: !known ? 'created' : kind === 'Fleet' ? 'configured' : 'unchanged' };
    });
    const warnings: SourceProblem[] = body.includes('command:')
      ? []
      : [{ file, line: 15, col: 15, path: 'spec.template.spec.template.spec.containers[0]', message: 'cannot run locally: the container has no command', severity: 'warning' }];
    return send(200, { applied, warnings });
  }
  error(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
}
