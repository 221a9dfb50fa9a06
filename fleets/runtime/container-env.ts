import type { GameServer } from '../../core/game-server.js';
import type { Container } from '../../core/resources.js';

// How a container's env, command and args become a local process's, with the Kubernetes rules
// that fleet YAML relies on: `$(VAR)` refers to a variable defined earlier (`$$(` escapes it),
// `valueFrom.fieldRef` reads the pod's own fields (the downward API), and `valueFrom.secretKeyRef`
// reads the local stand-in for a Kubernetes Secret: the file <state_dir>/secrets/<name>/<key>.
// Other sources (config maps, resources) do not exist on one machine; those variables are left
// unset and reported, never filled with a made-up value.

/** Host variables a process needs to run at all; nothing else of Hangar's environment leaks in. */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'NODE_OPTIONS'];

export interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Variables the local runtime could not fill, with why. */
  unresolved: Array<{ name: string; reason: string }>;
}

export interface ProcessContext {
  gameServer: GameServer;
  hostEnv: NodeJS.ProcessEnv;
  /** Variables the runtime sets itself (AGONES_SDK_GRPC_PORT ...); they win over the container's. */
  runtimeEnv: Record<string, string>;
  podIP: string;
  /** The value of key `key` of secret `name`, or undefined when there is none. */
  readSecret: (name: string, key: string) => string | undefined;
}

export function buildProcessSpec(container: Container, ctx: ProcessContext): ProcessSpec {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const v = ctx.hostEnv[name];
    if (v !== undefined) env[name] = v;
  }
  const unresolved: ProcessSpec['unresolved'] = [];
  for (const v of container.env ?? []) {
    if (v.value !== undefined) {
      env[v.name] = expand(v.value, env);
    } else if (v.valueFrom) {
      const resolved = fromDownwardApi(v.valueFrom, ctx);
      if (resolved.value !== undefined) env[v.name] = resolved.value;
      else unresolved.push({ name: v.name, reason: resolved.reason });
    } else {
      env[v.name] = '';
    }
  }
  Object.assign(env, ctx.runtimeEnv);
  const [command, ...commandArgs] = (container.command ?? []).map((c) => expand(c, env));
  if (command === undefined) throw new Error(`container ${container.name} has no command`);
  const args = [...commandArgs, ...(container.args ?? []).map((a) => expand(a, env))];
  return { command, args, env, unresolved };
}

// `$$` (an escaped `$`) or `$(NAME)`, left to right, so `$$(A)` is an escape and no reference.
const REFERENCE = /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g;

/** Kubernetes variable expansion: `$(NAME)` → value if defined, else left as written; `$$` → `$`. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(REFERENCE, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? match;
  });
}

/** The variables `text` refers to with `$(NAME)`, escapes skipped. */
export function references(text: string): string[] {
  return [...text.matchAll(REFERENCE)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]));
}

/** Where the local stack keeps Secrets, for messages. */
export const SECRETS_HINT = 'a file <state_dir>/secrets/<name>/<key>';

/** Pod fields the downward API offers that exist locally, and how to read them. */
const LOCAL_FIELDS: Record<string, (ctx: ProcessContext) => string> = {
  'metadata.name': (ctx) => ctx.gameServer.metadata.name,
  'metadata.namespace': (ctx) => ctx.gameServer.metadata.namespace,
  'metadata.uid': (ctx) => ctx.gameServer.metadata.uid,
  'spec.nodeName': (ctx) => ctx.gameServer.status.nodeName,
  'status.podIP': (ctx) => ctx.podIP,
  'status.hostIP': (ctx) => ctx.podIP,
};
const KEYED_FIELD = /^metadata\.(labels|annotations)\['(.+)'\]$/;

/** True when the local runtime can fill a `fieldRef` with this path. */
export function isLocalFieldRef(fieldPath: string): boolean {
  return fieldPath in LOCAL_FIELDS || KEYED_FIELD.test(fieldPath);
}

function fromDownwardApi(valueFrom: Record<string, unknown>, ctx: ProcessContext): { value?: string; reason: string } {
  const secretRef = valueFrom.secretKeyRef as { name?: unknown; key?: unknown } | undefined;
  if (secretRef && typeof secretRef.name === 'string' && typeof secretRef.key === 'string') {
    const value = ctx.readSecret(secretRef.name, secretRef.key);
    if (value !== undefined) return { value, reason: '' };
    return { reason: `secret ${secretRef.name} has no key ${secretRef.key} locally (${SECRETS_HINT}); the variable is left unset` };
  }
  const fieldRef = valueFrom.fieldRef as { fieldPath?: unknown } | undefined;
  if (!fieldRef || typeof fieldRef.fieldPath !== 'string') {
    const source = Object.keys(valueFrom)[0] ?? 'valueFrom';
    return { reason: `${source} is a Kubernetes source with no local equivalent; the variable is left unset` };
  }
  const path = fieldRef.fieldPath;
  const keyed = KEYED_FIELD.exec(path);
  if (keyed) {
    const meta = ctx.gameServer.metadata;
    const map = keyed[1] === 'labels' ? meta.labels : meta.annotations;
    return { value: map[keyed[2]!] ?? '', reason: '' };
  }
  const read = LOCAL_FIELDS[path];
  if (read) return { value: read(ctx), reason: '' };
  return { reason: `fieldRef ${path} is not available locally; the variable is left unset` };
}
