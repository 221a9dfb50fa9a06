import { isIP } from 'node:net';
import type { GameServerSpec } from '../../core/resources.js';
import type { FieldPath } from '../../core/yaml-source.js';
import { gameServerEnvRules } from './game-server-env-rules.js';
import { dnsLabelProblem, parseQuantity } from './kubernetes-formats.js';
import { labelsAndAnnotations } from './object-meta-rules.js';
import { entriesOf, error, itemsOf, warning, written, type RuleProblem } from './rule-problem.js';

// GameServerSpec rules the CRD cannot express: Agones' GameServerSpec.Validate
// (pkg/apis/agones/v1/gameserver.go) run on the defaulted spec, the pod checks Kubernetes applies
// when the game server's Pod is created, and Hangar's own (ports are found by name; Hangar's game
// server's settings in its container's env).

export const DEV_ADDRESS_ANNOTATION = 'agones.dev/dev-address';

export interface GameServerSpecContext {
  /** The spec as written, to tell an unset field from a default. */
  raw: unknown;
  /** Where the spec sits in the document: `spec` or `spec.template.spec`. */
  path: FieldPath;
  /** A GameServer's agones.dev/dev-address: it runs outside the cluster, and Agones checks less. */
  devAddress?: string;
  /** Paths of null values the parser dropped (Kubernetes prunes them too). */
  nulls: readonly FieldPath[];
}

export function gameServerSpecRules(spec: GameServerSpec, ctx: GameServerSpecContext): RuleProblem[] {
  const { raw, path } = ctx;
  const out: RuleProblem[] = [];
  const containers = spec.template.spec.containers;
  const names = containers.map((c) => c.name);
  const podPath = [...path, 'template', 'spec'];

  out.push(...portNameRules(spec, path));

  if (ctx.devAddress !== undefined) {
    if (isIP(ctx.devAddress) === 0) {
      out.push(error(['metadata', 'annotations', DEV_ADDRESS_ANNOTATION], `must be the IP address of the game server running outside the cluster, got ${JSON.stringify(ctx.devAddress)}`));
    }
    spec.ports.forEach((p, i) => {
      if (p.hostPort === undefined) out.push(error([...path, 'ports', i, 'hostPort'], `missing required field "hostPort": with ${DEV_ADDRESS_ANNOTATION} the game server runs outside the cluster, at this port`));
      if (p.portPolicy !== 'Static') out.push(error([...path, 'ports', i, 'portPolicy'], `must be Static with ${DEV_ADDRESS_ANNOTATION}, got ${p.portPolicy}`));
    });
    // Agones checks nothing else of a dev game server: it has no Pod.
    out.push(...labelsAndAnnotations(written(raw, 'template', 'metadata'), [...path, 'template', 'metadata']));
    return out;
  }

  if (containers.length === 0) out.push(error([...podPath, 'containers'], 'must list at least one container: the one that runs the game server'));
  containers.forEach((c, i) => {
    const p = dnsLabelProblem(c.name);
    if (p) out.push(error([...podPath, 'containers', i, 'name'], `container name ${p}`));
    const first = names.indexOf(c.name);
    if (first !== i) out.push(error([...podPath, 'containers', i, 'name'], `duplicate container name ${JSON.stringify(c.name)} (also containers[${first}])`));
  });

  const writtenContainer = written(raw, 'container');
  const list = names.map((n) => JSON.stringify(n)).join(', ');
  if (containers.length === 1 && typeof writtenContainer === 'string' && writtenContainer !== spec.container) {
    out.push(warning([...path, 'container'], `names no container in the pod template; Agones uses the only container, ${JSON.stringify(spec.container)}, instead`));
  } else if (containers.length > 1 && spec.container === '') {
    out.push(error([...path, 'container'], `missing required field "container": the pod template has several containers (${list}); name the one that runs the game server`));
  } else if (containers.length > 1 && !names.includes(spec.container)) {
    out.push(error([...path, 'container'], `names no container in the pod template; the containers are ${list}`));
  }

  const sidecars = itemsOf(written(raw, 'template', 'spec', 'initContainers'))
    .filter((c) => written(c, 'restartPolicy') === 'Always')
    .map((c) => written(c, 'name'));
  spec.ports.forEach((port, i) => {
    const at = [...path, 'ports', i];
    const policy = port.portPolicy;
    if ((policy === 'Dynamic' || policy === 'Static') && port.containerPort === undefined) {
      out.push(error([...at, 'containerPort'], `missing required field "containerPort": portPolicy ${policy} needs the port the game server listens on inside its container`));
    }
    if (policy === 'Passthrough' && port.containerPort !== undefined) {
      out.push(error([...at, 'containerPort'], 'must not be set with portPolicy Passthrough: Agones sets the container port to the allocated host port'));
    }
    if (port.hostPort !== undefined && (policy === 'Dynamic' || policy === 'Passthrough')) {
      out.push(error([...at, 'hostPort'], `must not be set with portPolicy ${policy}: Agones allocates the host port (use portPolicy Static to choose it yourself)`));
    }
    if (policy === 'Static' && port.hostPort === undefined) {
      out.push(error([...at, 'hostPort'], 'missing required field "hostPort": portPolicy Static needs the host port players connect to'));
    }
    if (policy === 'None' && port.hostPort !== undefined) {
      out.push(warning([...at, 'hostPort'], 'is ignored with portPolicy None: the port is not exposed on the host'));
    }
    const own = written(raw, 'ports', i, 'container');
    if (typeof own === 'string' && own !== '' && spec.container !== '' && !names.includes(own) && !sidecars.includes(own)) {
      out.push(error([...at, 'container'], `names no container in the pod template; the containers are ${list}`));
    }
  });

  for (const field of ['initContainers', 'containers']) {
    itemsOf(written(raw, 'template', 'spec', field)).forEach((c, i) => {
      out.push(...resourceRules(written(c, 'resources'), [...podPath, field, i, 'resources']));
    });
  }

  for (const [name, counter] of Object.entries(spec.counters)) {
    if (counter.count > counter.capacity) {
      out.push(error([...path, 'counters', name, 'count'], `count ${counter.count} is more than the counter's capacity ${counter.capacity}`));
    }
  }
  for (const [name, list] of Object.entries(spec.lists)) {
    if (list.values.length > list.capacity) {
      out.push(error([...path, 'lists', name, 'values'], `has ${list.values.length} values, more than the list's capacity ${list.capacity}`));
    }
  }
  for (const nullPath of ctx.nulls) {
    const [map, name] = nullPath.slice(path.length);
    if (nullPath.length === path.length + 2 && (map === 'counters' || map === 'lists') && sameStart(nullPath, path)) {
      const what = map === 'counters' ? 'counter' : 'list';
      out.push(warning(nullPath, `${what} ${JSON.stringify(name)} has no value (null), so Kubernetes drops it; write \`${String(name)}: {}\` to keep it with the defaults`, 'key'));
    }
  }

  if (spec.players) {
    out.push(warning([...path, 'players'], "needs Agones' PlayerTracking feature gate (alpha, off by default); without it Agones rejects the game server"));
  }
  if (!spec.health.disabled) {
    for (const [field, value] of [['initialDelaySeconds', 5], ['periodSeconds', 5]] as const) {
      if (written(raw, 'health', field) === 0) out.push(warning([...path, 'health', field], `0 means Agones' default, ${value}`));
    }
  }
  out.push(...labelsAndAnnotations(written(raw, 'template', 'metadata'), [...path, 'template', 'metadata']));
  out.push(...gameServerEnvRules(spec, path));
  return out;
}

/** Ports are found by name (GameServer status, allocation results, the SDK), so each needs a unique one. */
function portNameRules(spec: GameServerSpec, path: FieldPath): RuleProblem[] {
  const out: RuleProblem[] = [];
  const seen = new Map<string, number>();
  spec.ports.forEach((port, i) => {
    if (port.name === '') {
      out.push(error([...path, 'ports', i, 'name'], 'missing required field "name": game servers and allocation results list their ports by name'));
      return;
    }
    const first = seen.get(port.name);
    if (first === undefined) seen.set(port.name, i);
    else out.push(error([...path, 'ports', i, 'name'], `duplicate port name ${JSON.stringify(port.name)} (also ports[${first}]); ports are looked up by name, so each name must be unique`));
  });
  return out;
}

/** Agones' ValidateResourceRequirements, and Kubernetes' own reading of quantities. */
function resourceRules(resources: unknown, path: FieldPath): RuleProblem[] {
  const out: RuleProblem[] = [];
  const values = (kind: 'limits' | 'requests') => {
    const map = new Map<string, number>();
    for (const [name, q] of entriesOf(written(resources, kind))) {
      const value = typeof q === 'string' ? parseQuantity(q) : undefined;
      if (value === undefined) out.push(error([...path, kind, name], `is not a Kubernetes quantity such as 64Mi, 250m or 2, got ${JSON.stringify(q)}`));
      else if (value < 0) out.push(error([...path, kind, name], `must not be negative, got ${JSON.stringify(q)}`));
      else map.set(name, value);
    }
    return map;
  };
  const limits = values('limits');
  for (const [name, request] of values('requests')) {
    const limit = limits.get(name);
    if (limit !== undefined && request > limit) {
      const shown = (kind: string) => JSON.stringify(written(resources, kind, name));
      out.push(error([...path, 'requests', name], `request ${shown('requests')} is more than the limit ${shown('limits')}`));
    }
  }
  return out;
}

function sameStart(a: FieldPath, prefix: FieldPath): boolean {
  return prefix.every((seg, i) => a[i] === seg);
}
