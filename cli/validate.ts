import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AgonesResource, AutoscalerPolicy, GameServerSpec, WebhookPolicy } from '../core/resources.js';
import { formatProblem, type SourceProblem } from '../core/yaml-source.js';
import { localRunProblems } from '../fleets/local-rules.js';
import { loadResourceFile, type ParseOptions } from '../fleets/schema.js';
import type { CliIo } from './io.js';

// `hangar validate FILE|DIR...`: every problem of every file as `file:line:col: field.path: message`
// on stderr; exit 1 if any is an error. When all files are valid, one summary line per resource on
// stdout. What only stops a document from running locally is a warning: the file is still valid
// for Kubernetes. Exit 2: no files given.

const USAGE = 'usage: hangar validate FILE|DIR... (directories: every .yaml and .yml file in them)';

export async function runValidate(files: string[], io: CliIo, options: ParseOptions = {}): Promise<number> {
  if (files.length === 0) {
    io.stderr(`hangar validate: no files given\n${USAGE}`);
    return 2;
  }
  let failed = false;
  const summaries: string[] = [];
  for (const arg of files) {
    const found = await yamlFiles(arg);
    if ('error' in found) {
      io.stderr(`${arg}: ${found.error}`);
      failed = true;
      continue;
    }
    for (const file of found.files) {
      let result;
      try {
        result = await loadResourceFile(file, options);
      } catch (err) {
        io.stderr(`${file}: cannot read: ${readError(err)}`);
        failed = true;
        continue;
      }
      const local = result.resources.flatMap((r) => localRunProblems(r).map(asLocalWarning));
      const problems = [...result.problems, ...local].sort((a, b) => a.line - b.line || a.col - b.col);
      for (const p of problems) io.stderr(formatProblem(p));
      if (problems.some((p) => p.severity === 'error')) failed = true;
      summaries.push(...result.resources.map((r) => `${file}: ${summary(r.resource)}`));
    }
  }
  if (failed) return 1;
  for (const line of summaries) io.stdout(line);
  return 0;
}

async function yamlFiles(arg: string): Promise<{ files: string[] } | { error: string }> {
  let info;
  try {
    info = await stat(arg);
  } catch (err) {
    return { error: `cannot read: ${readError(err)}` };
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

function readError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return (err as Error).message;
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
