import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { exampleFiles, exampleText, loadCrd, schemaAt } from '../test/fixtures/agones/agones-fixtures.js';
import { CrdValidator } from '../test/fixtures/agones/crd-validator.js';
import { derivePodTemplateShapes } from '../test/fixtures/agones/derive-pod-template-shapes.js';
import { parseResources } from './schema.js';
import { POD_TEMPLATE_SHAPES } from './schema/pod-template-shapes.js';

// Hangar's schema held against Agones' CRDs (test/fixtures/agones/crds), document by document:
// every document of the corpus is validated by the CRD's openAPIV3Schema through a JSON-schema
// validator (test/fixtures/agones/crd-validator.ts) and by parseResources, and the two must agree
// on whether it is valid and on which fields are wrong. Loosening Hangar's schema (dropping a
// bound, an enum, a required field, strictness) makes a case here fail.
// A second table lists documents the CRD accepts and Agones' webhooks (or Hangar) reject: Hangar
// must reject those, with the message that explains why.

const NOW = new Date('2026-09-01T00:00:00Z');

const fleetCrd = loadCrd('fleets.agones.dev');
const objectMeta = schemaAt(fleetCrd, 'spec', 'template', 'metadata');
const VALIDATORS: Record<string, CrdValidator> = {
  Fleet: new CrdValidator(fleetCrd, objectMeta),
  GameServer: new CrdValidator(loadCrd('gameservers.agones.dev'), objectMeta),
  FleetAutoscaler: new CrdValidator(loadCrd('fleetautoscalers.autoscaling.agones.dev'), objectMeta),
};

type Path = Array<string | number>;
const DELETE = Symbol('delete');
type Edit = [Path, unknown];

/** An example file with edits applied to its (only) document, as YAML text. */
function mutate(base: string, edits: Edit[]): string {
  const doc = parseDocument(exampleText(base));
  for (const [path, value] of edits) {
    if (value === DELETE) doc.deleteIn(path);
    else doc.setIn(path, doc.createNode(value));
  }
  return String(doc);
}

function crdErrors(text: string): string[] {
  const data = parse(text) as { kind: string };
  return VALIDATORS[data.kind]!.errors(data);
}

function hangarErrors(text: string, file = 'case.yaml'): Array<{ path: string; message: string }> {
  return parseResources(text, file, { now: NOW })
    .problems.filter((p) => p.severity === 'error')
    .map(({ path, message }) => ({ path, message }));
}

/** Same field, or one inside the other (Hangar may point at a list item where the CRD names the list). */
const related = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`) || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);

const T: Path = ['spec', 'template', 'spec'];
const POD: Path = [...T, 'template', 'spec'];
const FLEET = 'simple-game-server__fleet.yaml';
const FULL_FLEET = 'fleet.yaml';
const GS = 'simple-game-server__gameserver.yaml';
const FAS = 'fleetautoscaler.yaml';
const COUNTER_FAS = 'counterfleetautoscaler.yaml';
const WASM_FAS = 'wasmfleetautoscaler.yaml';
const TLS_FAS = 'webhookfleetautoscalertls.yaml';
const CHAIN_FAS = 'chainfleetautoscaler.yaml';

// [description, example, edits]: documents both the CRD and Hangar must reject, on the same fields.
const INVALID: Array<[string, string, Edit[]]> = [
  ['negative replicas', FLEET, [[['spec', 'replicas'], -1]]],
  ['replicas as a string', FLEET, [[['spec', 'replicas'], '2']]],
  ['fractional replicas', FLEET, [[['spec', 'replicas'], 1.5]]],
  ['scheduling in lower case', FLEET, [[['spec', 'scheduling'], 'packed']]],
  ['unknown strategy type', FLEET, [[['spec', 'strategy', 'type'], 'Rolling']]],
  ['maxSurge neither int nor string', FLEET, [[['spec', 'strategy', 'rollingUpdate', 'maxSurge'], true]]],
  ['unknown field in spec', FLEET, [[['spec', 'replica'], 2]]],
  ['unknown field at the top', FLEET, [[['specs'], {}]]],
  ['unknown port policy', FLEET, [[[...T, 'ports', 0, 'portPolicy'], 'Dyn']]],
  ['containerPort 0', FLEET, [[[...T, 'ports', 0, 'containerPort'], 0]]],
  ['containerPort above 65535', FLEET, [[[...T, 'ports', 0, 'containerPort'], 70000]]],
  ['SCTP protocol', FLEET, [[[...T, 'ports', 0, 'protocol'], 'SCTP']]],
  ['hostPort as a string', FLEET, [[[...T, 'ports', 0, 'hostPort'], '7777']]],
  ['failureThreshold 0', FLEET, [[[...T, 'health', 'failureThreshold'], 0]]],
  ['negative periodSeconds', FLEET, [[[...T, 'health', 'periodSeconds'], -1]]],
  ['unknown sdkServer logLevel', FLEET, [[[...T, 'sdkServer', 'logLevel'], 'Warn']]],
  ['grpcPort 0', FLEET, [[[...T, 'sdkServer', 'grpcPort'], 0]]],
  ['container name with capitals and _', FLEET, [[[...T, 'container'], 'Game_Server']]],
  ['negative counter capacity', FULL_FLEET, [[['spec', 'template', 'spec', 'counters', 'rooms', 'capacity'], -1]]],
  ['list capacity above 1000', FULL_FLEET, [[['spec', 'template', 'spec', 'lists', 'players', 'capacity'], 1001]]],
  ['repeated list values', FULL_FLEET, [[['spec', 'template', 'spec', 'lists', 'players', 'values'], ['a', 'a']]]],
  ['unknown eviction', FLEET, [[[...T, 'eviction', 'safe'], 'Sometimes']]],
  ['typo in a container field', FLEET, [[[...POD, 'containers', 0, 'comand'], ['./server']]]],
  ['unknown pod restartPolicy', FLEET, [[[...POD, 'restartPolicy'], 'Sometimes']]],
  ['typo deep in resources', FLEET, [[[...POD, 'containers', 0, 'resources', 'requsts'], { cpu: '1' }]]],
  ['no containers', FLEET, [[[...POD, 'containers'], DELETE]]],
  ['container without a name', FLEET, [[[...POD, 'containers', 0, 'name'], DELETE]]],
  ['container port without containerPort', FLEET, [[[...POD, 'containers', 0, 'ports'], [{ name: 'x' }]]]],
  ['env value as a number', FLEET, [[[...POD, 'containers', 0, 'env'], [{ name: 'A', value: 5 }]]]],
  // Agones' CRD types resource quantities as strings: `cpu: 1` must be quoted.
  ['cpu limit as an integer', FLEET, [[[...POD, 'containers', 0, 'resources', 'limits', 'cpu'], 1]]],
  ['cpu limit as a boolean', FLEET, [[[...POD, 'containers', 0, 'resources', 'limits', 'cpu'], true]]],
  ['unknown imagePullPolicy', FLEET, [[[...POD, 'containers', 0, 'imagePullPolicy'], 'Sometimes']]],
  ['template label as a number', FLEET, [[['spec', 'template', 'metadata', 'labels', 'tier'], 5]]],
  ['no template', FLEET, [[['spec', 'template'], DELETE]]],
  ['immutableReplicas 2', FLEET, [[[...T, 'immutableReplicas'], 2]]],
  ['hostport (lower case) in a port', FLEET, [[[...T, 'ports', 0, 'hostport'], 7777]]],
  ['labels as a string', FLEET, [[['metadata', 'labels'], 'tier=1']]],
  ['negative initial player capacity', FLEET, [[[...T, 'players', 'initialCapacity'], -1]]],
  ['unknown priority type', FULL_FLEET, [[['spec', 'priorities', 0, 'type'], 'Room']]],
  ['GameServer without spec', GS, [[['spec'], DELETE]]],
  ['GameServer port policy in lower case', GS, [[['spec', 'ports', 0, 'portPolicy'], 'dynamic']]],
  ['GameServer container typo', GS, [[['spec', 'template', 'spec', 'containers', 0, 'comand'], ['x']]]],
  ['health.disabled as a string', GS, [[['spec', 'health', 'disabled'], 'no']]],
  ['fleetName with capitals', FAS, [[['spec', 'fleetName'], 'My_Fleet']]],
  ['empty fleetName', FAS, [[['spec', 'fleetName'], '']]],
  ['unknown policy type', FAS, [[['spec', 'policy', 'type'], 'Buffers']]],
  ['maxReplicas 0', FAS, [[['spec', 'policy', 'buffer', 'maxReplicas'], 0]]],
  ['negative minReplicas', FAS, [[['spec', 'policy', 'buffer', 'minReplicas'], -1]]],
  ['no fleetName', FAS, [[['spec', 'fleetName'], DELETE]]],
  ['sync every 0 seconds', FAS, [[['spec', 'sync', 'fixedInterval', 'seconds'], 0]]],
  ['unknown sync type', FAS, [[['spec', 'sync', 'type'], 'Interval']]],
  ['policy block typo', FAS, [[['spec', 'policy', 'bufer'], {}]]],
  ['fractional bufferSize', FAS, [[['spec', 'policy', 'buffer', 'bufferSize'], 1.5]]],
  ['buffer without maxReplicas', FAS, [[['spec', 'policy', 'buffer', 'maxReplicas'], DELETE]]],
  ['policy without type', FAS, [[['spec', 'policy', 'type'], DELETE]]],
  ['counter policy without key', COUNTER_FAS, [[['spec', 'policy', 'counter', 'key'], DELETE]]],
  ['counter maxCapacity 0', COUNTER_FAS, [[['spec', 'policy', 'counter', 'maxCapacity'], 0]]],
  ['wasm hash not hex', WASM_FAS, [[['spec', 'policy', 'wasm', 'hash'], 'xyz']]],
  ['wasm config value as a number', WASM_FAS, [[['spec', 'policy', 'wasm', 'config', 'buffer_size'], 10]]],
  ['caBundle not base64', TLS_FAS, [[['spec', 'policy', 'webhook', 'caBundle'], '$CA_BUNDLE']]],
  ['webhook service port as a name', 'webhookfleetautoscaler.yaml', [[['spec', 'policy', 'webhook', 'service', 'port'], 'http']]],
  ['Chain inside a chain', CHAIN_FAS, [[['spec', 'policy', 'chain', 0, 'type'], 'Chain']]],
  ['Schedule inside a schedule', CHAIN_FAS, [[['spec', 'policy', 'chain', 0, 'schedule', 'policy', 'type'], 'Schedule']]],
  ['negative maxReplicas in a chain', CHAIN_FAS, [[['spec', 'policy', 'chain', 2, 'buffer', 'maxReplicas'], -5]]],
];

// Documents both must accept: int-or-string in both forms, nulls Kubernetes prunes, unset fields.
const VALID: Array<[string, string, Edit[]]> = [
  ['maxSurge as a count, maxUnavailable as a percentage', FLEET, [[['spec', 'strategy'], { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: '30%' } }]]],
  ['bufferSize as a percentage', FAS, [[['spec', 'policy', 'buffer', 'bufferSize'], '20%']]],
  ['bufferSize as a count', FAS, [[['spec', 'policy', 'buffer', 'bufferSize'], 3]]],
  ['ports: null', FLEET, [[[...T, 'ports'], null]]],
  ['template label quoted', FLEET, [[['spec', 'template', 'metadata', 'labels', 'tier'], '5']]],
  ['replicas unset', FLEET, [[['spec', 'replicas'], DELETE]]],
  ['counter with a null value', FULL_FLEET, [[['spec', 'template', 'spec', 'counters', 'rooms'], null]]],
  ['health disabled', GS, [[['spec', 'health'], { disabled: true }]]],
  ['no sync', FAS, [[['spec', 'sync'], DELETE]]],
  ['pod-level resources', GS, [[['spec', 'template', 'spec', 'resources'], { limits: { cpu: '1' } }]]],
];

/** The Fleet, GameServer and FleetAutoscaler documents of every Agones example, as they are. */
function exampleDocuments(): Array<[string, string]> {
  return exampleFiles().flatMap((file) =>
    parseAllDocuments(exampleText(file))
      .filter((d) => ['Fleet', 'GameServer', 'FleetAutoscaler'].includes(String(d.get('kind'))))
      .map((d, i): [string, string] => [`${file}#${i}`, String(d)]),
  );
}

describe('Hangar agrees with the Agones CRD schemas', () => {
  const examples = exampleDocuments();

  it('has a corpus of at least 40 valid and invalid documents', () => {
    expect(examples.length + INVALID.length + VALID.length).toBeGreaterThanOrEqual(40);
    expect(examples.length).toBeGreaterThanOrEqual(25);
  });

  it.each(examples)('example %s: both accept it', (_name, text) => {
    expect(crdErrors(text)).toEqual([]);
    expect(hangarErrors(text)).toEqual([]);
  });

  it.each(VALID)('valid: %s', (_name, base, edits) => {
    const text = mutate(base, edits);
    expect(crdErrors(text)).toEqual([]);
    expect(hangarErrors(text)).toEqual([]);
  });

  it.each(INVALID)('invalid: %s', (_name, base, edits) => {
    const text = mutate(base, edits);
    const crd = crdErrors(text);
    const hangar = hangarErrors(text).map((e) => e.path);
    expect(crd).not.toEqual([]);
    expect(hangar).not.toEqual([]);
    // Every field the CRD flags, Hangar flags, and Hangar flags nothing the CRD does not.
    expect({ crd, unmatchedByHangar: crd.filter((c) => !hangar.some((h) => related(h, c))) }).toEqual({ crd, unmatchedByHangar: [] });
    expect({ hangar, unmatchedByCrd: hangar.filter((h) => !crd.some((c) => related(h, c))) }).toEqual({ hangar, unmatchedByCrd: [] });
  });
});

// [description, example, edits, field path, part of the message]: the CRD accepts these; Agones'
// webhooks (Validate in pkg/apis) or Hangar's own rules reject them.
const WEBHOOK_ONLY: Array<[string, string, Edit[], string, string]> = [
  ['duplicate port names', FLEET, [[[...T, 'ports'], [{ name: 'default', containerPort: 7654 }, { name: 'default', containerPort: 7655 }]]], 'spec.template.spec.ports[1].name', 'duplicate port name "default" (also ports[0])'],
  ['a port without a name', FLEET, [[[...T, 'ports', 0, 'name'], DELETE]], 'spec.template.spec.ports[0].name', 'missing required field "name"'],
  ['Static without hostPort', FLEET, [[[...T, 'ports', 0, 'portPolicy'], 'Static']], 'spec.template.spec.ports[0].hostPort', 'portPolicy Static needs the host port'],
  ['Dynamic with hostPort', FLEET, [[[...T, 'ports', 0, 'hostPort'], 7777]], 'spec.template.spec.ports[0].hostPort', 'must not be set with portPolicy Dynamic'],
  ['Passthrough with containerPort', FLEET, [[[...T, 'ports', 0, 'portPolicy'], 'Passthrough']], 'spec.template.spec.ports[0].containerPort', 'must not be set with portPolicy Passthrough'],
  ['Dynamic without containerPort', FLEET, [[[...T, 'ports', 0, 'containerPort'], DELETE]], 'spec.template.spec.ports[0].containerPort', 'portPolicy Dynamic needs the port the game server listens on'],
  ['a port on a container that does not exist', FLEET, [[[...T, 'ports', 0, 'container'], 'sidecar']], 'spec.template.spec.ports[0].container', 'names no container in the pod template'],
  ['two containers and no spec.container', FLEET, [[[...POD, 'containers', 1], { name: 'sidecar', image: 'busybox' }]], 'spec.template.spec.container', 'the pod template has several containers ("simple-game-server", "sidecar")'],
  ['spec.container names neither of two containers', FLEET, [[[...POD, 'containers', 1], { name: 'sidecar', image: 'busybox' }], [[...T, 'container'], 'game']], 'spec.template.spec.container', 'names no container in the pod template'],
  ['an empty containers list', FLEET, [[[...POD, 'containers'], []]], 'spec.template.spec.template.spec.containers', 'must list at least one container'],
  ['a container name Kubernetes rejects', FLEET, [[[...POD, 'containers', 0, 'name'], 'Game_Server']], 'spec.template.spec.template.spec.containers[0].name', 'container name must be lowercase letters'],
  ['a memory request above its limit', FLEET, [[[...POD, 'containers', 0, 'resources', 'requests', 'memory'], '128Mi']], 'spec.template.spec.template.spec.containers[0].resources.requests.memory', 'request "128Mi" is more than the limit "64Mi"'],
  ['a quantity that is not one', FLEET, [[[...POD, 'containers', 0, 'resources', 'limits', 'cpu'], 'lots']], 'spec.template.spec.template.spec.containers[0].resources.limits.cpu', 'is not a Kubernetes quantity'],
  ['a counter count above its capacity', FULL_FLEET, [[[...T, 'counters', 'rooms', 'count'], 11]], 'spec.template.spec.counters.rooms.count', "count 11 is more than the counter's capacity 10"],
  ['more list values than capacity', FULL_FLEET, [[[...T, 'lists', 'players'], { capacity: 1, values: ['a', 'b'] }]], 'spec.template.spec.lists.players.values', "has 2 values, more than the list's capacity 1"],
  ['maxSurge 0%', FLEET, [[['spec', 'strategy', 'rollingUpdate', 'maxSurge'], '0%']], 'spec.strategy.rollingUpdate.maxSurge', 'must be between 1% and 99%, got "0%"'],
  ['maxUnavailable 0', FLEET, [[['spec', 'strategy', 'rollingUpdate', 'maxUnavailable'], 0]], 'spec.strategy.rollingUpdate.maxUnavailable', 'must be at least 1, got 0'],
  ['maxSurge a string but no percentage', FLEET, [[['spec', 'strategy', 'rollingUpdate', 'maxSurge'], '5']], 'spec.strategy.rollingUpdate.maxSurge', 'must be an integer or a percentage such as "25%", got "5"'],
  ['a Fleet without spec', FLEET, [[['spec'], DELETE]], 'spec', 'a Fleet needs a spec'],
  ['a Fleet name Kubernetes rejects', FLEET, [[['metadata', 'name'], 'Simple_Game']], 'metadata.name', 'DNS-1123 subdomain'],
  ['a Fleet name longer than 63', FLEET, [[['metadata', 'name'], 'a'.repeat(64)]], 'metadata.name', 'must be at most 63 characters, got 64'],
  ['a Fleet with neither name nor generateName', FLEET, [[['metadata', 'name'], DELETE]], 'metadata.name', 'missing required field "name"'],
  ['an invalid label key', FLEET, [[['spec', 'template', 'metadata', 'labels'], { 'bad key!': 'x' }]], 'spec.template.metadata.labels.bad key!', 'label key "bad key!": name part must consist of alphanumeric characters'],
  ['a priority without key', FULL_FLEET, [[['spec', 'priorities', 0, 'key'], DELETE]], 'spec.priorities[0].key', 'missing required field "key"'],
  ['bufferSize 0', FAS, [[['spec', 'policy', 'buffer', 'bufferSize'], 0]], 'spec.policy.buffer.bufferSize', 'must be more than 0, got 0'],
  ['bufferSize a string but no percentage', FAS, [[['spec', 'policy', 'buffer', 'bufferSize'], '5']], 'spec.policy.buffer.bufferSize', 'must be an integer or a percentage'],
  ['a percentage buffer with minReplicas 0', FAS, [[['spec', 'policy', 'buffer'], { bufferSize: '25%', minReplicas: 0, maxReplicas: 10 }]], 'spec.policy.buffer.minReplicas', 'must be at least 1 when bufferSize is a percentage'],
  ['bufferSize 100%', FAS, [[['spec', 'policy', 'buffer', 'bufferSize'], '100%']], 'spec.policy.buffer.bufferSize', 'must be between 1% and 99%'],
  ['minReplicas above maxReplicas', FAS, [[['spec', 'policy', 'buffer', 'minReplicas'], 30]], 'spec.policy.buffer.minReplicas', 'minReplicas 30 is more than maxReplicas 20'],
  ['maxReplicas below bufferSize', FAS, [[['spec', 'policy', 'buffer'], { bufferSize: 5, minReplicas: 0, maxReplicas: 3 }]], 'spec.policy.buffer.maxReplicas', 'maxReplicas 3 is less than bufferSize 5'],
  ['minReplicas below bufferSize', FAS, [[['spec', 'policy', 'buffer', 'minReplicas'], 3]], 'spec.policy.buffer.minReplicas', 'minReplicas 3 is less than bufferSize 5'],
  ['a Buffer policy without a buffer block', FAS, [[['spec', 'policy', 'type'], 'Webhook']], 'spec.policy.webhook', 'type is Webhook, so the policy needs a webhook block'],
  ['minCapacity above maxCapacity', COUNTER_FAS, [[['spec', 'policy', 'counter', 'minCapacity'], 200]], 'spec.policy.counter.minCapacity', 'minCapacity 200 is more than maxCapacity 100'],
  ['a webhook with both url and service', 'webhookfleetautoscaler.yaml', [[['spec', 'policy', 'webhook', 'url'], 'https://scaler.example.com/scale']], 'spec.policy.webhook.url', 'url and service cannot both be set'],
  ['a webhook with neither url nor service', 'webhookfleetautoscaler.yaml', [[['spec', 'policy', 'webhook'], {}]], 'spec.policy.webhook', 'needs url or service'],
  ['a webhook url that is no URL', TLS_FAS, [[['spec', 'policy', 'webhook', 'url'], 'not a url']], 'spec.policy.webhook.url', 'must be an absolute http:// or https:// URL'],
  ['a caBundle with no certificate', TLS_FAS, [[['spec', 'policy', 'webhook', 'caBundle'], Buffer.from('hello').toString('base64')]], 'spec.policy.webhook.caBundle', 'holds no readable certificate'],
  ['duplicate chain ids', CHAIN_FAS, [[['spec', 'policy', 'chain', 1, 'id'], 'weekday']], 'spec.policy.chain[1].id', 'duplicate id "weekday" (also chain[0])'],
  ['chain entries without ids', CHAIN_FAS, [[['spec', 'policy', 'chain', 0, 'id'], DELETE], [['spec', 'policy', 'chain', 1, 'id'], DELETE]], 'spec.policy.chain[1]', 'chain[0] and chain[1] both have no id'],
  ['a schedule that ended', 'schedulefleetautoscaler.yaml', [[['spec', 'policy', 'schedule', 'between', 'end'], '2025-01-01T00:00:00Z']], 'spec.policy.schedule.between.end', 'is in the past'],
  ['an unknown time zone', 'schedulefleetautoscaler.yaml', [[['spec', 'policy', 'schedule', 'activePeriod', 'timezone'], 'Mars/Olympus']], 'spec.policy.schedule.activePeriod.timezone', 'is not a time zone Agones knows'],
  ['a cron hour of 25', 'schedulefleetautoscaler.yaml', [[['spec', 'policy', 'schedule', 'activePeriod', 'startCron'], '0 25 * * *']], 'spec.policy.schedule.activePeriod.startCron', 'hour field "25": 25-25 is outside 0-23'],
  ['a duration in words', 'schedulefleetautoscaler.yaml', [[['spec', 'policy', 'schedule', 'activePeriod', 'duration'], '5 hours']], 'spec.policy.schedule.activePeriod.duration', 'must be a duration such as "5h"'],
  ['a start time in words', 'schedulefleetautoscaler.yaml', [[['spec', 'policy', 'schedule', 'between', 'start'], 'tomorrow']], 'spec.policy.schedule.between.start', 'must be an RFC 3339 time'],
  ['a dev game server with a Dynamic port', 'simple-game-server__dev-gameserver.yaml', [[['spec', 'ports', 0, 'portPolicy'], 'Dynamic']], 'spec.ports[0].portPolicy', 'must be Static with agones.dev/dev-address'],
];

describe('rules the CRD cannot express (Agones webhooks, Hangar)', () => {
  it.each(WEBHOOK_ONLY)('%s: the CRD accepts it, Hangar rejects it', (_name, base, edits, path, message) => {
    const text = mutate(base, edits);
    expect(crdErrors(text)).toEqual([]);
    const errors = hangarErrors(text);
    expect(errors).toContainEqual({ path, message: expect.stringContaining(message) });
  });
});

describe('the pod template shapes', () => {
  it('are what the Fleet CRD inlines (regenerate with test/fixtures/agones/strip.ts)', () => {
    expect(derivePodTemplateShapes(schemaAt(fleetCrd, 'spec', 'template', 'spec', 'template'))).toEqual(POD_TEMPLATE_SHAPES);
  });

  it('are the same in the GameServer CRD', () => {
    expect(derivePodTemplateShapes(schemaAt(loadCrd('gameservers.agones.dev'), 'spec', 'template'))).toEqual(POD_TEMPLATE_SHAPES);
  });
});
