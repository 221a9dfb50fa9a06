import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { FleetAutoscalerResource, FleetResource, GameServerResource } from '../core/resources.js';
import { formatProblem } from '../core/yaml-source.js';
import { exampleFiles, exampleText } from '../test/fixtures/agones/agones-fixtures.js';
import { loadResourceFile, parseResources } from './schema.js';

const NOW = new Date('2026-09-01T00:00:00Z');

/** Every problem of `text` as `hangar validate` prints it. */
function problems(text: string, file = 'fleet.yaml'): string[] {
  return parseResources(text, file, { now: NOW }).problems.map(formatProblem);
}

function only<T>(text: string): T {
  const result = parseResources(text, 'fleet.yaml', { now: NOW });
  expect(result.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  expect(result.resources).toHaveLength(1);
  return result.resources[0]!.resource as T;
}

const FLEET = `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: arena
spec:
  template:
    spec:
      ports:
        - name: game
          containerPort: 7777
      template:
        spec:
          containers:
            - name: game
              command: [node, server.js]
`;

describe('defaults', () => {
  it('fills a minimal Fleet the way Agones does', () => {
    expect(only<FleetResource>(FLEET)).toEqual({
      apiVersion: 'agones.dev/v1',
      kind: 'Fleet',
      metadata: { name: 'arena', labels: {}, annotations: {} },
      spec: {
        replicas: 0,
        scheduling: 'Packed',
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        priorities: [],
        template: {
          metadata: { labels: {}, annotations: {} },
          spec: {
            container: 'game',
            ports: [{ name: 'game', portPolicy: 'Dynamic', protocol: 'UDP', container: 'game', range: 'default', containerPort: 7777 }],
            health: { disabled: false, initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 3 },
            scheduling: 'Packed',
            sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
            counters: {},
            lists: {},
            eviction: { safe: 'Never' },
            template: { spec: { containers: [{ name: 'game', command: ['node', 'server.js'] }] } },
          },
        },
      },
    });
  });

  it('fills counters, lists, players and a partial health block of a GameServer', () => {
    const gs = only<GameServerResource>(`apiVersion: agones.dev/v1
kind: GameServer
metadata:
  generateName: duel-
  labels: { mode: duel }
spec:
  health:
    periodSeconds: 10
  players:
    initialCapacity: 4
  counters:
    rooms: {}
    sessions: { count: 2 }
  lists:
    players: { capacity: 8 }
    maps: {}
  template:
    spec:
      containers:
        - name: duel
          command: [./duel]
`);
    expect(gs.metadata).toEqual({ generateName: 'duel-', labels: { mode: 'duel' }, annotations: {} });
    expect(gs.spec.health).toEqual({ disabled: false, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 });
    expect(gs.spec.players).toEqual({ initialCapacity: 4 });
    expect(gs.spec.counters).toEqual({ rooms: { count: 0, capacity: 1000 }, sessions: { count: 2, capacity: 1000 } });
    expect(gs.spec.lists).toEqual({ players: { capacity: 8, values: [] }, maps: { capacity: 1000, values: [] } });
    expect(gs.spec.ports).toEqual([]);
  });

  it('leaves health periods unset (0) when health checking is disabled, as Agones does', () => {
    const gs = only<GameServerResource>(`apiVersion: agones.dev/v1
kind: GameServer
metadata:
  name: solo
spec:
  health:
    disabled: true
  template:
    spec:
      containers:
        - name: solo
          command: [./solo]
`);
    expect(gs.spec.health).toEqual({ disabled: true, initialDelaySeconds: 0, periodSeconds: 0, failureThreshold: 0 });
  });

  it('names the game-server container after the only container, and gives ports to it', () => {
    const fleet = only<FleetResource>(FLEET.replace('      ports:\n', '      container: game\n      ports:\n'));
    expect(fleet.spec.template.spec.container).toBe('game');
    expect(fleet.spec.template.spec.ports[0]!.container).toBe('game');
  });

  it('fills RollingUpdate half given, priorities order, and allocationOverflow maps', () => {
    const fleet = only<FleetResource>(
      FLEET.replace(
        'spec:\n  template:',
        `spec:
  replicas: 3
  strategy:
    rollingUpdate:
      maxSurge: 2
  allocationOverflow:
    labels: { overflow: "true" }
  priorities:
    - type: Counter
      key: rooms
  template:`,
      ).replace('      ports:', '      counters:\n        rooms: {}\n      ports:'),
    );
    expect(fleet.spec.replicas).toBe(3);
    expect(fleet.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: '25%' } });
    expect(fleet.spec.allocationOverflow).toEqual({ labels: { overflow: 'true' }, annotations: {} });
    expect(fleet.spec.priorities).toEqual([{ type: 'Counter', key: 'rooms', order: 'Ascending' }]);
  });

  it('fills a FleetAutoscaler: sync every 30 s, minReplicas 0', () => {
    const fas = only<FleetAutoscalerResource>(`apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: arena-autoscaler
spec:
  fleetName: arena
  policy:
    type: Buffer
    buffer:
      bufferSize: 2
      maxReplicas: 20
`);
    expect(fas.spec).toEqual({
      fleetName: 'arena',
      policy: { type: 'Buffer', buffer: { bufferSize: 2, minReplicas: 0, maxReplicas: 20 } },
      sync: { type: 'FixedInterval', fixedInterval: { seconds: 30 } },
    });
  });

  it('fills Counter and Wasm policies, and numbers unnamed chain entries', () => {
    const fas = only<FleetAutoscalerResource>(`apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: chain
spec:
  fleetName: arena
  policy:
    type: Chain
    chain:
      - type: Counter
        counter: { key: rooms, bufferSize: 5%, minCapacity: 10, maxCapacity: 100 }
      - id: wasm
        type: Wasm
        wasm:
          from:
            url: { url: "https://example.com/scaler.wasm" }
`);
    expect(fas.spec.policy).toEqual({
      type: 'Chain',
      chain: [
        { id: '0', type: 'Counter', counter: { key: 'rooms', bufferSize: '5%', minCapacity: 10, maxCapacity: 100 } },
        { id: 'wasm', type: 'Wasm', wasm: { function: 'scale', from: { url: { url: 'https://example.com/scaler.wasm' } } } },
      ],
    });
  });
});

describe('int-or-string fields', () => {
  it.each([
    ['maxSurge: 3', 3],
    ['maxSurge: 30%', '30%'],
    ['maxSurge: "30%"', '30%'],
  ])('%s', (line, value) => {
    const fleet = only<FleetResource>(FLEET.replace('spec:\n  template:', `spec:\n  strategy:\n    rollingUpdate:\n      ${line}\n  template:`));
    expect(fleet.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: value, maxUnavailable: '25%' } });
  });

  it.each([
    ['bufferSize: 5', 5],
    ['bufferSize: 20%', '20%'],
  ])('%s', (line, value) => {
    const fas = only<FleetAutoscalerResource>(
      `apiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: a\nspec:\n  fleetName: arena\n  policy:\n    type: Buffer\n    buffer:\n      ${line}\n      minReplicas: 5\n      maxReplicas: 10\n`,
    );
    expect(fas.spec.policy).toEqual({ type: 'Buffer', buffer: { bufferSize: value, minReplicas: 5, maxReplicas: 10 } });
  });
});

// [description, text replacing FLEET's line(s), the exact problems]: each names file:line:col and the field.
const REJECTED: Array<[string, [string, string], string[]]> = [
  ['negative replicas', ['spec:\n  template:', 'spec:\n  replicas: -1\n  template:'], ['fleet.yaml:6:13: spec.replicas: must be at least 0, got -1']],
  [
    'replicas as a quoted number',
    ['spec:\n  template:', 'spec:\n  replicas: "2"\n  template:'],
    ['fleet.yaml:6:13: spec.replicas: expected an integer, got "2" (the quotes make it a string; write 2 without them)'],
  ],
  [
    'unknown field at the top level of spec',
    ['spec:\n  template:', 'spec:\n  replica: 2\n  template:'],
    ['fleet.yaml:6:3: spec.replica: unknown field "replica" (did you mean "replicas"?)'],
  ],
  [
    'unknown top-level field',
    ['spec:\n  template:', 'specs: {}\nspec:\n  template:'],
    ['fleet.yaml:5:1: specs: unknown field "specs" (did you mean "spec"?)'],
  ],
  [
    'unknown field in a port',
    ['          containerPort: 7777', '          containerPort: 7777\n          hostport: 7000'],
    ['fleet.yaml:11:11: spec.template.spec.ports[0].hostport: unknown field "hostport" (did you mean "hostPort"?)'],
  ],
  [
    'unknown field in the pod template container',
    ['              command: [node, server.js]', '              comand: [node, server.js]'],
    ['fleet.yaml:15:15: spec.template.spec.template.spec.containers[0].comand: unknown field "comand" (did you mean "command"?)'],
  ],
  [
    'unknown PodSpec field',
    ['          containers:', '          restartPolicyy: Never\n          containers:'],
    ['fleet.yaml:13:11: spec.template.spec.template.spec.restartPolicyy: unknown field "restartPolicyy" (did you mean "restartPolicy"?)'],
  ],
  [
    'bad port policy',
    ['          containerPort: 7777', '          containerPort: 7777\n          portPolicy: dynamic'],
    ['fleet.yaml:11:23: spec.template.spec.ports[0].portPolicy: must be one of Dynamic, Static, Passthrough, None; got "dynamic" (did you mean Dynamic?)'],
  ],
  [
    'duplicate port names',
    ['          containerPort: 7777', '          containerPort: 7777\n        - name: game\n          containerPort: 7778'],
    ['fleet.yaml:11:17: spec.template.spec.ports[1].name: duplicate port name "game" (also ports[0]); ports are looked up by name, so each name must be unique'],
  ],
  [
    'Static without hostPort',
    ['          containerPort: 7777', '          containerPort: 7777\n          portPolicy: Static'],
    ['fleet.yaml:9:11: spec.template.spec.ports[0].hostPort: missing required field "hostPort": portPolicy Static needs the host port players connect to'],
  ],
  [
    'hostPort with Dynamic',
    ['          containerPort: 7777', '          containerPort: 7777\n          hostPort: 7000'],
    ['fleet.yaml:11:21: spec.template.spec.ports[0].hostPort: must not be set with portPolicy Dynamic: Agones allocates the host port (use portPolicy Static to choose it yourself)'],
  ],
  [
    'containerPort with Passthrough',
    ['          containerPort: 7777', '          containerPort: 7777\n          portPolicy: Passthrough'],
    ['fleet.yaml:10:26: spec.template.spec.ports[0].containerPort: must not be set with portPolicy Passthrough: Agones sets the container port to the allocated host port'],
  ],
  [
    'a port out of range',
    ['          containerPort: 7777', '          containerPort: 77777'],
    ['fleet.yaml:10:26: spec.template.spec.ports[0].containerPort: must be at most 65535, got 77777'],
  ],
  [
    'a label value YAML reads as a number',
    ['  name: arena', '  name: arena\n  labels:\n    tier: 1'],
    ['fleet.yaml:6:11: metadata.labels.tier: expected a string, got 1 (YAML reads it as a number; quote it to make it a string: "1")'],
  ],
  [
    'a missing pod template',
    ['      template:\n        spec:\n          containers:\n            - name: game\n              command: [node, server.js]\n', ''],
    ['fleet.yaml:7:5: spec.template.spec.template: missing required field "template"'],
  ],
  [
    'the game-server container missing with two containers',
    ['              command: [node, server.js]', '              command: [node, server.js]\n            - name: metrics\n              image: prom/exporter'],
    ['fleet.yaml:7:5: spec.template.spec.container: missing required field "container": the pod template has several containers ("game", "metrics"); name the one that runs the game server'],
  ],
];

describe('rejections point at the field', () => {
  it.each(REJECTED)('%s', (_name, [from, to], expected) => {
    expect(FLEET.includes(from)).toBe(true);
    expect(problems(FLEET.replace(from, to))).toEqual(expected);
  });

  it('reports wrong types, unknown fields and bounds of a FleetAutoscaler together', () => {
    expect(
      problems(`apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: arena-autoscaler
spec:
  fleetName: Arena
  policy:
    type: Buffer
    buffer:
      bufferSize: [2]
      maxReplica: 20
  sync:
    fixedInterval: { seconds: 0 }
`),
    ).toEqual([
      `fleet.yaml:6:14: spec.fleetName: must be a Fleet name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, got "Arena"`,
      'fleet.yaml:9:5: spec.policy.buffer.maxReplicas: missing required field "maxReplicas"',
      'fleet.yaml:10:19: spec.policy.buffer.bufferSize: expected an integer or a string, got a list',
      'fleet.yaml:11:7: spec.policy.buffer.maxReplica: unknown field "maxReplica" (did you mean "maxReplicas"?)',
      'fleet.yaml:12:3: spec.sync.type: missing required field "type": one of FixedInterval',
      'fleet.yaml:13:31: spec.sync.fixedInterval.seconds: must be more than 0, got 0',
    ]);
  });

  it('checks a Buffer policy as Agones does: percentages need a minimum, sizes fit the bounds', () => {
    expect(
      problems(`apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: a
spec:
  fleetName: arena
  policy:
    type: Buffer
    buffer:
      bufferSize: 25%
      maxReplicas: 10
`),
    ).toEqual(['fleet.yaml:9:5: spec.policy.buffer.minReplicas: must be at least 1 when bufferSize is a percentage (25% of nothing is nothing), got 0']);
    expect(
      problems(`apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: a
spec:
  fleetName: arena
  policy:
    type: Buffer
    buffer:
      minReplicas: 2
      maxReplicas: 10
`),
    ).toEqual([
      'fleet.yaml:9:5: spec.policy.buffer.bufferSize: missing required field "bufferSize": how many Ready game servers to keep (or a percentage such as "20%")',
    ]);
  });

  it('says an unexpanded $CA_BUNDLE is a shell variable', () => {
    expect(problems(exampleText('webhookfleetautoscalertls.yaml').replace(/caBundle: .*/, 'caBundle: $CA_BUNDLE'))).toEqual([
      `fleet.yaml:12:17: spec.policy.webhook.caBundle: must be base64 (the CRD's format: byte), got "$CA_BUNDLE"; it looks like an unexpanded shell variable: substitute it (envsubst) before validating or applying`,
    ]);
  });
});

describe('documents and kinds', () => {
  it('reads every document of a file, and skips other kinds with a warning', () => {
    const text = `${FLEET}---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
apiVersion: allocation.agones.dev/v1
kind: GameServerAllocation
spec:
  selectors: []
---
apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: arena-autoscaler
spec:
  fleetName: arena
  policy:
    type: Buffer
    buffer: { bufferSize: 2, maxReplicas: 10 }
`;
    const result = parseResources(text, 'fleet.yaml', { now: NOW });
    expect(result.resources.map((r) => [r.resource.kind, r.resource.metadata.name, r.doc.index])).toEqual([
      ['Fleet', 'arena', 0],
      ['FleetAutoscaler', 'arena-autoscaler', 3],
    ]);
    expect(result.problems.map(formatProblem)).toEqual([
      'fleet.yaml:18:7: warning: kind: ConfigMap (v1) is not a fleet document; skipped',
      'fleet.yaml:23:7: warning: kind: GameServerAllocation is not a fleet document (allocations are requests to the allocator, not fleet configuration); skipped',
    ]);
  });

  it.each([
    ['kind: Fleets', 'apiVersion: agones.dev/v1\nkind: Fleets\n', 'fleet.yaml:2:7: kind: unknown kind Fleets for agones.dev/v1 (did you mean Fleet?)'],
    ['kind: fleet', 'apiVersion: agones.dev/v1\nkind: fleet\n', 'fleet.yaml:2:7: kind: unknown kind fleet for agones.dev/v1 (did you mean Fleet?)'],
    ['agones.dev/v2', 'apiVersion: agones.dev/v2\nkind: Fleet\n', 'fleet.yaml:1:13: apiVersion: Fleet is agones.dev/v1, not agones.dev/v2'],
    ['agone.dev/v1', 'apiVersion: agone.dev/v1\nkind: GameServer\n', 'fleet.yaml:1:13: apiVersion: GameServer is agones.dev/v1, not agone.dev/v1'],
    ['FleetAutoscaler in agones.dev', 'apiVersion: agones.dev/v1\nkind: FleetAutoscaler\n', 'fleet.yaml:1:13: apiVersion: FleetAutoscaler is autoscaling.agones.dev/v1, not agones.dev/v1'],
    ['Fleetautoscaler under apps/v1', 'apiVersion: apps/v1\nkind: FleetAutoscalr\n', 'fleet.yaml:2:7: kind: unknown kind FleetAutoscalr (did you mean FleetAutoscaler? it is autoscaling.agones.dev/v1)'],
    ['no apiVersion', 'kind: Fleet\n', 'fleet.yaml:1:1: apiVersion: missing apiVersion: a Fleet or GameServer is agones.dev/v1, a FleetAutoscaler autoscaling.agones.dev/v1'],
    ['no kind', 'apiVersion: agones.dev/v1\n', 'fleet.yaml:1:1: kind: missing kind: Hangar reads Fleet, GameServer, FleetAutoscaler'],
    ['a list', '- apiVersion: agones.dev/v1\n', 'fleet.yaml:1:1: a Kubernetes document must be a mapping with apiVersion and kind, got a list'],
  ])('%s is an error', (_name, text, expected) => {
    const [problem] = problems(text);
    expect(problem?.startsWith(expected)).toBe(true);
  });

  it('reads YAML merge keys, as Kubernetes does', () => {
    const fleet = only<FleetResource>(FLEET.replace('        - name: game\n          containerPort: 7777', '        - &port\n          name: game\n          containerPort: 7777\n        - <<: *port\n          name: voice'));
    expect(fleet.spec.template.spec.ports.map((p) => [p.name, p.containerPort])).toEqual([
      ['game', 7777],
      ['voice', 7777],
    ]);
  });

  it('ignores empty documents, and warns about a file with nothing else', () => {
    expect(problems(`---\n# nothing here\n---\n${FLEET}---\n`)).toEqual([]);
    expect(problems('# just a comment\n---\n')).toEqual(['fleet.yaml:1:1: warning: the file has no YAML documents']);
  });

  it('reports malformed YAML with its position and uses nothing of the file', () => {
    const result = parseResources(`${FLEET}---\napiVersion: agones.dev/v1\nkind: Fleet\nmetadata:\n  name: a\n  name: b\n`, 'fleet.yaml');
    expect(result.resources).toEqual([]);
    expect(result.problems.map(formatProblem)).toEqual(['fleet.yaml:21:3: YAML syntax: Map keys must be unique']);
    expect(problems('spec: [1, 2\n')).toEqual([expect.stringMatching(/^fleet\.yaml:2:1: YAML syntax: /)]);
  });

  it('treats null like Kubernetes does: an unset field, and a warning for a counter it drops', () => {
    const result = parseResources(FLEET.replace('spec:\n  template:', 'spec:\n  replicas:\n  template:').replace('      ports:', '      counters:\n        rooms:\n      ports:'), 'fleet.yaml');
    expect(result.problems.map(formatProblem)).toEqual([
      'fleet.yaml:10:9: warning: spec.template.spec.counters.rooms: counter "rooms" has no value (null), so Kubernetes drops it; write `rooms: {}` to keep it with the defaults',
    ]);
    const fleet = result.resources[0]!.resource as FleetResource;
    expect(fleet.spec.replicas).toBe(0);
    expect(fleet.spec.template.spec.counters).toEqual({});
  });

  it('does not load a Fleet that has only generateName, and says why', () => {
    const result = parseResources(FLEET.replace('  name: arena', '  generateName: arena-'), 'fleet.yaml');
    expect(result.resources).toEqual([]);
    expect(result.problems.map(formatProblem)).toEqual([
      'fleet.yaml:4:17: warning: metadata.generateName: this Fleet has only generateName: Kubernetes names it on kubectl create (kubectl apply refuses it), but Hangar needs a fixed metadata.name to run it, so Hangar does not load it',
    ]);
  });
});

describe("Agones' examples", () => {
  it.each(exampleFiles())('%s has no errors', (file) => {
    const result = parseResources(exampleText(file), file, { now: NOW });
    expect(result.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  });

  it('yields every Fleet, GameServer and FleetAutoscaler of the examples', () => {
    const kinds = exampleFiles().flatMap((f) => parseResources(exampleText(f), f, { now: NOW }).resources.map((r) => r.resource.kind));
    // cpp-simple's Fleet has only generateName, so Hangar does not load it (a warning says so).
    expect({ Fleet: kinds.filter((k) => k === 'Fleet').length, GameServer: kinds.filter((k) => k === 'GameServer').length, FleetAutoscaler: kinds.filter((k) => k === 'FleetAutoscaler').length }).toEqual({
      Fleet: 6,
      GameServer: 11,
      FleetAutoscaler: 11,
    });
  });
});

describe('loadResourceFile', () => {
  it('reads a file from disk and names it in problems', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-schema-'));
    const file = path.join(dir, 'arena.yaml');
    writeFileSync(file, FLEET.replace('spec:\n  template:', 'spec:\n  replicas: -1\n  template:'));
    const result = await loadResourceFile(file, { now: NOW });
    expect(result.problems.map(formatProblem)).toEqual([`${file}:6:13: spec.replicas: must be at least 0, got -1`]);
  });

  it('rejects with the fs error for a missing file', async () => {
    await expect(loadResourceFile('/nonexistent/arena.yaml')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the port players are sent', () => {
  const withPorts = (ports: string, labels = '', env = '') =>
    `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: arena
spec:
  template:
    metadata:
      labels:
        game: arena${labels}
    spec:
      ports:
${ports}
      template:
        spec:
          containers:
            - name: arena
              command: [node, dist/bundle/gameserver/main.js]
              env:
                - name: ENCRYPTION_KEY
                  valueFrom: { secretKeyRef: { name: hangar, key: encryption-key } }${env}
`;
  const METRICS_FIRST = '        - { name: metrics, portPolicy: Passthrough, protocol: TCP }\n        - { name: game, portPolicy: Passthrough }';

  it('is the one named default, or the one the hangar.dev/game-port label names: nothing to say', () => {
    expect(problems(withPorts('        - { name: default, portPolicy: Passthrough }\n        - { name: metrics, portPolicy: Passthrough, protocol: TCP }'))).toEqual([]);
    expect(problems(withPorts(METRICS_FIRST, '\n        hangar.dev/game-port: game', '\n                - { name: GAME_PORT_NAME, value: game }'))).toEqual([]);
  });

  it('warns when no port is named default and the first one (a metrics port here) would be sent', () => {
    expect(problems(withPorts(METRICS_FIRST, '', '\n                - { name: GAME_PORT_NAME, value: game }'))).toEqual([
      "fleet.yaml:11:7: warning: spec.template.spec.ports: no port is named default, so the matchmaker sends players the first port, metrics: name the game's port default, or name it in the label hangar.dev/game-port",
    ]);
  });

  it('refuses a label naming no port, and a label the game server does not bind', () => {
    expect(problems(withPorts(METRICS_FIRST, '\n        hangar.dev/game-port: gmae', '\n                - { name: GAME_PORT_NAME, value: game }'))).toEqual([
      'fleet.yaml:10:31: spec.template.metadata.labels.hangar.dev/game-port: names the port players are sent to, but the game server has no port "gmae" (its ports: metrics, game); players would be sent the first port, metrics',
    ]);
    expect(problems(withPorts(METRICS_FIRST, '\n        hangar.dev/game-port: metrics', '\n                - { name: GAME_PORT_NAME, value: game }'))).toEqual([
      'fleet.yaml:23:50: spec.template.spec.template.spec.containers[0].env[1].value: the game server binds port "game" (GAME_PORT_NAME) but players are sent port "metrics" (hangar.dev/game-port): name the same port in both',
    ]);
  });
});
