import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfig, ServiceConfigSchema, type ServiceConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import type { AgonesResource, AutoscalerPolicy, GameServerSpec, WebhookPolicy } from '../core/resources.js';
import { formatProblem, type SourceProblem } from '../core/yaml-source.js';
import { secondAutoscalerProblems, type FleetAutoscalerClaim } from '../fleets/autoscaler/one-per-fleet.js';
import { localRunProblems, serverBoundsProblems } from '../fleets/local-rules.js';
import { definitionKey, secondDefinitionProblems } from '../fleets/one-definition.js';
import type { ServerBounds } from '../fleets/runtime/server-bounds.js';
import { parseResources, type ParseOptions, type ParsedResource } from '../fleets/schema.js';
import { fleetSeats, parseMatchmakingRules, type FleetSeats } from '../matchmaker/rules.js';
import type { QueueRules } from '../matchmaker/ticket.js';
import { fileReadError, type CliIo } from './io.js';

// `hangar validate FILE|DIR...`: every problem of every file as `file:line:col: field.path: message`
// on stderr; exit 1 if any is an error. When all files are valid, one summary line per resource (or
// matchmaking queue) on stdout. Fleet, GameServer and FleetAutoscaler documents are checked against
// Agones; a file of matchmaking rules (config/matchmaking.yaml: `queues`, no apiVersion) against the
// matchmaker's rules, and a service config (config/production.yaml: Hangar's settings) against its
// schema, as the services check them when they start; a queue against its fleet when both are given
// (its largest match must fit one server). What only stops a document from running locally is a
// warning: the file is still valid for Kubernetes. Exit 2: no files given.

const USAGE = 'usage: hangar validate FILE|DIR... (directories: every .yaml and .yml file in them)';

export interface ValidateOptions extends ParseOptions {
  /** How many servers the local stack runs (ports, memory): a fleet or an autoscaler wanting more is warned of. */
  bounds?: ServerBounds;
}

export async function runValidate(files: string[], io: CliIo, options: ValidateOptions = {}): Promise<number> {
  if (files.length === 0) {
    io.stderr(`hangar validate: no files given\n${USAGE}`);
    return 2;
  }
  let failed = false;
  const read: Array<{ file: string; text: string; kind: DocumentKind }> = [];
  for (const arg of files) {
    const found = await yamlFiles(arg);
    if ('error' in found) {
      io.stderr(`${arg}: ${found.error}`);
      failed = true;
      continue;
    }
    for (const file of found.files) {
      try {
        const text = await readFile(file, 'utf8');
        read.push({ file, text, kind: documentKind(text) });
      } catch (err) {
        io.stderr(`${file}: cannot read: ${fileReadError(err)}`);
        failed = true;
      }
    }
  }

  // Fleets first, whatever the order of the files: a queue's matches must fit its fleet's servers.
  // Autoscalers claim their fleets across files, in the order given: the second one to a fleet is refused.
  const claims: FleetAutoscalerClaim[] = [];
  // Each resource's first definition across the files, as the fleets directory's sync has it: a second is refused.
  const definedIn = new Map<string, string>();
  const checkedResources = new Map(read.filter((r) => r.kind === 'resources').map((r) => [r.file, checkResources(r.text, r.file, options, claims, definedIn)]));
  const fleets = new Map<string, FleetSeats | undefined>();
  for (const [file, checked] of checkedResources) {
    for (const { resource } of checked.resources) {
      if (resource.kind === 'Fleet') fleets.set(resource.metadata.name, fleetSeats(resource.spec.template.spec, file));
    }
  }

  if (options.bounds) serverBoundsWarnings([...checkedResources.values()], options.bounds);

  const summaries: string[] = [];
  for (const { file, text, kind } of read) {
    const checked = kind === 'rules' ? checkMatchmakingRules(text, file, fleets) : kind === 'config' ? checkServiceConfig(text, file) : checkedResources.get(file)!;
    for (const line of checked.problems) io.stderr(line);
    if (checked.failed) failed = true;
    summaries.push(...checked.summaries.map((line) => `${file}: ${line}`));
  }
  if (failed) return 1;
  for (const line of summaries) io.stdout(line);
  return 0;
}

interface Checked {
  /** Each problem, formatted (file:line:col: field: message). */
  problems: string[];
  failed: boolean;
  summaries: string[];
}

function fromSourceProblems(problems: readonly SourceProblem[], summaries: string[]): Checked {
  return { problems: problems.map(formatProblem), failed: problems.some((p) => p.severity === 'error'), summaries };
}

function checkResources(text: string, file: string, options: ParseOptions, claims: FleetAutoscalerClaim[], definedIn: Map<string, string>): Checked & { resources: ParsedResource[] } {
  const result = parseResources(text, file, options);
  const local = result.resources.flatMap((r) => localRunProblems(r).map(asLocalWarning));
  const second = secondAutoscalerProblems(result.resources, claims);
  const again = secondDefinitionProblems(result.resources, definedIn);
  for (const { resource } of result.resources) {
    if (resource.kind === 'FleetAutoscaler') claims.push({ name: resource.metadata.name, fleetName: resource.spec.fleetName, file });
    const key = resource.metadata.name === undefined ? undefined : definitionKey({ kind: resource.kind, name: resource.metadata.name });
    if (key !== undefined && !definedIn.has(key)) definedIn.set(key, file);
  }
  const problems = [...result.problems, ...local, ...second, ...again].sort((a, b) => a.line - b.line || a.col - b.col);
  return { ...fromSourceProblems(problems, result.resources.map((r) => summary(r.resource))), resources: result.resources };
}

function checkMatchmakingRules(text: string, file: string, fleets: ReadonlyMap<string, FleetSeats | undefined>): Checked {
  const { queues, problems } = parseMatchmakingRules(text, file, fleets);
  return fromSourceProblems(problems, queues.map(queueSummary));
}

/** The file alone: the environment's overrides are the running service's business. */
function checkServiceConfig(text: string, file: string): Checked {
  try {
    return { problems: [], failed: false, summaries: [configSummary(parseConfig(text, file, {}))] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [...err.problems], failed: true, summaries: [] };
    throw err;
  }
}

const SERVICE_CONFIG_KEYS = new Set(Object.keys(ServiceConfigSchema.shape));

/**
 * What a file holds, from its first document: matchmaking rules (`queues`), a service config (any
 * key of Hangar's settings: the config's own check then names a misspelt one), else Agones
 * resources (the resource parser explains anything that is not one).
 */
type DocumentKind = 'resources' | 'rules' | 'config';

function documentKind(text: string): DocumentKind {
  let top: unknown;
  try {
    const first = parseAllDocuments(text).find((d) => !Array.isArray(d) && d.contents !== null);
    top = first && !Array.isArray(first) ? first.toJS() : undefined;
  } catch {
    // Not YAML: the resource parser says where.
    return 'resources';
  }
  if (typeof top !== 'object' || top === null || Array.isArray(top) || 'apiVersion' in top || 'kind' in top) return 'resources';
  if ('queues' in top) return 'rules';
  return Object.keys(top).some((k) => SERVICE_CONFIG_KEYS.has(k)) ? 'config' : 'resources';
}

function configSummary(c: Readonly<ServiceConfig>): string {
  return `service config: API ${c.api.host}:${c.api.port}, lobby ${c.lobby.host}:${c.lobby.port}, admin ${c.admin.host}:${c.admin.port}, allocator backend ${c.allocator.backend}, matchmaker queue ${c.matchmaker.queue} (before HANGAR_* overrides)`;
}

function queueSummary(q: QueueRules): string {
  const teams = Array.from({ length: q.teams.count }, () => q.teams.size).join(' v ');
  const extras = [q.maxPartySize > 1 ? `parties up to ${q.maxPartySize}` : '', q.backfill ? 'backfill' : '', q.acceptTimeoutSeconds !== null ? `accept within ${q.acceptTimeoutSeconds} s` : ''].filter(Boolean);
  const players = q.minPlayers === q.maxPlayers ? `${q.maxPlayers}` : `${q.minPlayers}–${q.maxPlayers}`;
  return `matchmaking queue ${q.name}: ${teams} (${players} players) on fleet ${q.fleet}${extras.length ? `, ${extras.join(', ')}` : ''}`;
}

async function yamlFiles(arg: string): Promise<{ files: string[] } | { error: string }> {
  let info;
  try {
    info = await stat(arg);
  } catch (err) {
    return { error: `cannot read: ${fileReadError(err)}` };
  }
  if (!info.isDirectory()) return { files: [arg] };
  const entries = await readdir(arg, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  if (files.length === 0) return { error: 'no .yaml or .yml files in this directory' };
  return { files };
}

/**
 * Adds to each file's problems what the local stack would refuse (a fleet's replicas) or stop at
 * (an autoscaler's maxReplicas) for want of host ports or of local.max_servers, which the fleets
 * of every file given share; an autoscaler's fleet may be in any file.
 */
function serverBoundsWarnings(checked: ReadonlyArray<Checked & { resources: ParsedResource[] }>, bounds: ServerBounds): void {
  const byFile = new Map(checked.flatMap((c) => c.resources.map(({ doc }) => [doc.file, c] as const)));
  for (const p of serverBoundsProblems(checked.flatMap((c) => c.resources), bounds)) byFile.get(p.file)!.problems.push(formatProblem(asLocalWarning(p)));
}

/** Local-runtime problems never fail validation: the document is fine for Kubernetes. */
function asLocalWarning(p: SourceProblem): SourceProblem {
  return p.severity === 'error' ? { ...p, severity: 'warning', message: `cannot run locally: ${p.message}` } : p;
}

function summary(resource: AgonesResource): string {
  switch (resource.kind) {
    case 'Fleet': {
      const replicas = resource.spec.replicas;
      return `Fleet ${resource.metadata.name}: ${replicas} ${replicas === 1 ? 'replica' : 'replicas'}, ${gameServer(resource.spec.template.spec)}`;
    }
    case 'GameServer': {
      const { name, generateName } = resource.metadata;
      return `GameServer ${name ?? `${generateName}*`}: ${gameServer(resource.spec)}`;
    }
    case 'FleetAutoscaler':
      return `FleetAutoscaler ${resource.metadata.name}: ${policy(resource.spec.policy)} on fleet ${resource.spec.fleetName}`;
  }
}

function gameServer(spec: GameServerSpec): string {
  const c = spec.template.spec.containers.find((x) => x.name === spec.container);
  const command = [...(c?.command ?? []), ...(c?.args ?? [])].map((w) => (/\s/.test(w) || w === '' ? JSON.stringify(w) : w)).join(' ');
  const runs = command !== '' ? command : `image ${c?.image ?? 'none'}, no command`;
  const ports = spec.ports.map((p) => `${p.name}/${p.portPolicy}/${p.protocol}${p.hostPort !== undefined ? `:${p.hostPort}` : ''}`);
  return `container ${spec.container} (${runs}), ${ports.length > 0 ? `ports ${ports.join(', ')}` : 'no ports'}`;
}

function policy(p: AutoscalerPolicy): string {
  switch (p.type) {
    case 'Buffer':
      return `Buffer ${p.buffer.bufferSize} (min ${p.buffer.minReplicas}, max ${p.buffer.maxReplicas})`;
    case 'Counter':
    case 'List': {
      const c = p.type === 'Counter' ? p.counter : p.list;
      return `${p.type} ${c.key}: buffer ${c.bufferSize} (capacity min ${c.minCapacity}, max ${c.maxCapacity})`;
    }
    case 'Webhook':
      return `Webhook ${endpoint(p.webhook)}`;
    case 'Wasm':
      return `Wasm ${p.wasm.function} from ${endpoint(p.wasm.from.url)}`;
    case 'Schedule':
      return `Schedule (${policy(p.schedule.policy)})`;
    case 'Chain':
      return `Chain [${p.chain.map((e) => `${e.id}: ${policy(e)}`).join('; ')}]`;
  }
}

function endpoint(w: WebhookPolicy): string {
  if (w.url !== undefined) return w.url;
  const s = w.service!;
  return `service ${s.namespace}/${s.name}${s.port !== undefined ? `:${s.port}` : ''}${s.path !== undefined ? ` ${s.path}` : ''}`;
}
