import type { AutoscalerPolicy, FleetResource, GameServerPort, GameServerSpec } from '../core/resources.js';
import type { FieldPath, SourceProblem } from '../core/yaml-source.js';
import { isLocalFieldRef } from './runtime/container-env.js';
import { loadBesides, NOTHING_RUNS, replicasPastBounds, type RunningServers, type ServerBounds, type ServerLoad } from './runtime/server-bounds.js';
import type { ParsedResource } from './schema.js';
import { problemAt } from './schema/problem-at.js';

// What keeps a valid document from running the same way under Hangar's local process runtime,
// which runs the game-server container's command + args as a child process (see
// fleets/runtime/local-process-runtime.ts) and has no Kubernetes around it.
//
// severity 'error': the document cannot run locally at all (the local controller skips it);
// severity 'warning': it runs, but something in it only takes effect on Kubernetes.
// Either way the file is valid for Kubernetes: `hangar validate` prints all of these as warnings.

export function localRunProblems(parsed: ParsedResource): SourceProblem[] {
  const { resource, doc } = parsed;
  const found: Array<{ path: FieldPath; message: string; severity: 'error' | 'warning' }> = [];
  const add = (severity: 'error' | 'warning') => (path: FieldPath, message: string) => found.push({ path, message, severity });
  const cannot = add('error');
  const differs = add('warning');

  if (resource.kind === 'FleetAutoscaler') {
    policyProblems(resource.spec.policy, ['spec', 'policy'], cannot, differs);
  } else {
    const path = resource.kind === 'Fleet' ? ['spec', 'template', 'spec'] : ['spec'];
    gameServerProblems(resource.kind === 'Fleet' ? resource.spec.template.spec : resource.spec, path, cannot, differs);
  }
  return found.map((p) => problemAt(doc, p.path, p.message, p.severity)).sort((a, b) => a.line - b.line || a.col - b.col);
}

type Report = (path: FieldPath, message: string) => void;

function gameServerProblems(spec: GameServerSpec, path: FieldPath, cannot: Report, differs: Report): void {
  const podPath = [...path, 'template', 'spec'];
  const pod = spec.template.spec;
  pod.containers.forEach((c, i) => {
    const at = [...podPath, 'containers', i];
    if (c.name !== spec.container) {
      differs(at, `container ${JSON.stringify(c.name)} is not started locally: Hangar runs only the game-server container (${JSON.stringify(spec.container)}) as a process`);
      return;
    }
    if (!c.command || c.command.length === 0) {
      cannot(
        at,
        `container ${JSON.stringify(c.name)} has only an image (${c.image ?? 'none'}); Hangar runs the game-server container's command + args as a process, so add a command (e.g. command: [node, dist/server.js]) to run it locally; the file still applies to Kubernetes unchanged`,
      );
    }
    (c.env ?? []).forEach((v, k) => {
      if (!v.valueFrom) return;
      const fieldPath = (v.valueFrom.fieldRef as { fieldPath?: string } | undefined)?.fieldPath;
      if (fieldPath !== undefined && isLocalFieldRef(fieldPath)) return;
      // Secrets are read from the local stand-in for Kubernetes Secrets (fleets/local-secrets.ts).
      if (v.valueFrom.secretKeyRef !== undefined) return;
      const source = fieldPath !== undefined ? `fieldRef ${fieldPath}` : Object.keys(v.valueFrom).join(', ');
      differs([...at, 'env', k, 'valueFrom'], `env ${v.name} comes from ${source}, which only Kubernetes provides; locally the variable is left unset`);
    });
    if (c.envFrom !== undefined) differs([...at, 'envFrom'], 'envFrom reads ConfigMaps and Secrets, which only Kubernetes provides; locally those variables are left unset');
  });
  if (pod.initContainers !== undefined) differs([...podPath, 'initContainers'], 'initContainers are not run locally: Hangar starts only the game-server container');
  spec.ports.forEach((p, i) => {
    if (p.container !== undefined && p.container !== spec.container) {
      differs([...path, 'ports', i, 'container'], `port ${JSON.stringify(p.name)} belongs to container ${JSON.stringify(p.container)}, which is not run locally`);
    }
  });
}

function policyProblems(policy: AutoscalerPolicy, path: FieldPath, cannot: Report, differs: Report): void {
  switch (policy.type) {
    case 'Wasm':
      cannot([...path, 'wasm'], "Wasm policies run inside Agones' Wasm runtime; Hangar's local autoscaler cannot run them");
      return;
    case 'Webhook': {
      const at = [...path, 'webhook'];
      if (policy.webhook.service) {
        cannot([...at, 'service'], 'names a Kubernetes Service, which resolves only inside the cluster; set webhook.url to reach the webhook locally');
      }
      const host = policy.webhook.url ? new URL(policy.webhook.url).hostname : '';
      if (/\.svc(\.cluster\.local)?$/.test(host)) {
        differs([...at, 'url'], `${host} looks like an in-cluster Service address, which does not resolve outside the cluster`);
      }
      return;
    }
    case 'Schedule':
      policyProblems(policy.schedule.policy, [...path, 'schedule', 'policy'], cannot, differs);
      return;
    case 'Chain':
      policy.chain.forEach((entry, i) => policyProblems(entry, [...path, 'chain', i], cannot, differs));
      return;
    default:
      return;
  }
}

/**
 * What the local stack refuses or stops at for want of host ports or of local.max_servers: a
 * fleet's replicas and a new standalone GameServer (errors), and an autoscaler's Buffer
 * maxReplicas (a warning: its autoscaler stops there). What `resources` hold counts against each
 * other and against what `running` runs; a fleet's replicas are those applying it sets
 * (`replicasOf`). Resources that add no server and no host port to what runs are never refused.
 */
export function serverBoundsProblems(
  resources: readonly ParsedResource[],
  bounds: ServerBounds,
  running: RunningServers = NOTHING_RUNS,
  replicasOf: (fleet: FleetResource) => number = (fleet) => fleet.spec.replicas,
): SourceProblem[] {
  const after = runningAfter(resources, running, replicasOf);
  return [...replicasBoundsProblems(resources, bounds, running, after), ...autoscalerBoundsWarnings(resources, bounds, after)];
}

/** serverBoundsProblems' errors: the fleets' replicas and the new GameServers that do not fit beside what runs `after` the apply. */
export function replicasBoundsProblems(resources: readonly ParsedResource[], bounds: ServerBounds, running: RunningServers, after: RunningServers): SourceProblem[] {
  const before = loadBesides(running);
  const total = loadBesides(after);
  const grows = total.servers > before.servers || total.hostPorts > before.hostPorts;
  if (!grows) return [];
  const problems: SourceProblem[] = [];
  resources.forEach((parsed, i) => {
    const { resource: r, doc } = parsed;
    if (r.kind === 'Fleet') {
      const { replicas, ports } = after.fleets.get(r.metadata.name)!;
      const past = replicasPastBounds(replicas, ports, bounds, loadBesides(after, [r.metadata.name]), running.fleets.get(r.metadata.name)?.replicas ?? 0);
      if (past) problems.push(problemAt(doc, ['spec', 'replicas'], past));
    } else if (r.kind === 'GameServer' && !running.standalone.has(standaloneKey(r, i))) {
      const past = replicasPastBounds(1, r.spec.ports, bounds, loadBesides(after, [], [standaloneKey(r, i)]));
      if (past) problems.push(problemAt(doc, ['metadata', 'name'], `GameServer ${r.metadata.name ?? `${r.metadata.generateName ?? 'gameserver-'}(generated)`}: ${past}`));
    }
  });
  return problems;
}

/**
 * serverBoundsProblems' warnings: each autoscaler's Buffer maxReplicas past what fits of its fleet
 * beside what else runs (`running`: after the apply, or now, for the autoscalers that run).
 */
export function autoscalerBoundsWarnings(resources: readonly ParsedResource[], bounds: ServerBounds, running: RunningServers): SourceProblem[] {
  return resources.flatMap((parsed) => {
    if (parsed.resource.kind !== 'FleetAutoscaler') return [];
    const fleetName = parsed.resource.spec.fleetName;
    const ports = running.fleets.get(fleetName)?.ports;
    return ports ? maxReplicasPastBounds(parsed, fleetName, ports, bounds, loadBesides(running, [fleetName])) : [];
  });
}

/** What runs once `resources` apply: their fleets at `replicasOf`, their GameServers beside the standalone ones. */
export function runningAfter(resources: readonly ParsedResource[], running: RunningServers, replicasOf: (fleet: FleetResource) => number): RunningServers {
  const fleets = new Map(running.fleets);
  const standalone = new Map(running.standalone);
  resources.forEach(({ resource: r }, i) => {
    if (r.kind === 'Fleet') fleets.set(r.metadata.name, { replicas: replicasOf(r), ports: r.spec.template.spec.ports });
    else if (r.kind === 'GameServer') standalone.set(standaloneKey(r, i), r.spec.ports);
  });
  return { fleets, standalone };
}

/** A GameServer's name among the standalone ones; one to be generated gets a key of its own. */
function standaloneKey(r: { metadata: { name?: string } }, index: number): string {
  return r.metadata.name ?? ` generated ${index}`;
}

/** A warning for each Buffer maxReplicas in an autoscaler's policy (Chain and Schedule entries included) that is more servers of its fleet than fit here beside `others`. */
function maxReplicasPastBounds({ resource, doc }: ParsedResource, fleetName: string, fleetPorts: readonly GameServerPort[], bounds: ServerBounds, others: ServerLoad): SourceProblem[] {
  if (resource.kind !== 'FleetAutoscaler') return [];
  const found: SourceProblem[] = [];
  const walk = (policy: AutoscalerPolicy, path: FieldPath): void => {
    if (policy.type === 'Buffer') {
      const past = replicasPastBounds(policy.buffer.maxReplicas, fleetPorts, bounds, others);
      if (past) found.push(problemAt(doc, [...path, 'buffer', 'maxReplicas'], `fleet ${fleetName}: ${past}; the local autoscaler stops there`, 'warning'));
    } else if (policy.type === 'Schedule') {
      walk(policy.schedule.policy, [...path, 'schedule', 'policy']);
    } else if (policy.type === 'Chain') {
      policy.chain.forEach((entry, i) => walk(entry, [...path, 'chain', i]));
    }
  };
  walk(resource.spec.policy, ['spec', 'policy']);
  return found;
}
