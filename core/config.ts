import { readFileSync } from 'node:fs';
import { parse as parseScalar } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { formatFieldPath, formatProblem, parseYaml, type FieldPath, type YamlDocument } from './yaml-source.js';

// Service configuration: config/<environment>.yaml, then environment overrides, validated once.
// The deployment guide's keys (server, limits, performance, logging) keep their snake_case names;
// Hangar's own keys sit beside them in the same style. Nothing outside this file reads process.env.

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const listen = (defaultPort: number) => z.strictObject({ host: host.default('127.0.0.1'), port: port.default(defaultPort) });

export const ServiceConfigSchema = z.strictObject({
  server: z
    .strictObject({
      environment: z.enum(['development', 'staging', 'production', 'test']).default('development'),
      cluster: z
        .strictObject({
          enabled: z.boolean().default(false),
          discovery: z
            .strictObject({ type: z.enum(['kubernetes', 'static']).default('kubernetes'), namespace: z.string().default('default') })
            .prefault({}),
        })
        .prefault({}),
    })
    .prefault({}),
  limits: z.strictObject({ max_players: z.number().int().min(1).max(5000).default(5000) }).prefault({}),
  performance: z.strictObject({ game_tick_rate: z.number().int().min(1).max(128).default(30) }).prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      outputs: z
        .strictObject({
          console: z.strictObject({ enabled: z.boolean().default(true), format: z.enum(['json', 'pretty']).default('json') }).prefault({}),
          remote: z
            .strictObject({ enabled: z.boolean().default(false), type: z.enum(['loki']).default('loki'), endpoint: z.string().default('') })
            .prefault({}),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The read/ops HTTP API of the local stack (the allocator's port). */
  api: listen(8000).prefault({}),
  /** Probes, metrics and drain. */
  admin: listen(9090).prefault({}),
  local: z
    .strictObject({
      /** Fleet, GameServer and FleetAutoscaler YAML the local controller runs. */
      fleets_dir: z.string().default('config/fleets'),
      /** Per-server logs and the Prometheus file_sd targets go here. */
      state_dir: z.string().default('.hangar'),
      /** The address game servers are reachable on, as written into their status. */
      advertise_address: host.default('127.0.0.1'),
      /** Game-server ports bind on this address. */
      bind_address: host.default('127.0.0.1'),
      port_range: z
        .strictObject({ min: port.default(7000), max: port.default(8000) })
        .prefault({})
        .refine((r) => r.min <= r.max, { message: 'min must not exceed max' }),
      /** Seconds between SIGTERM and SIGKILL when a game server is stopped (Kubernetes' default is 30). */
      termination_grace_seconds: z.number().min(0).max(600).default(10),
      /** How many game-server processes may be starting at once. */
      start_concurrency: z.number().int().min(1).max(256).default(32),
    })
    .prefault({}),
});

export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;

/** The deployment guide's variable names, mapped onto config keys. */
const NAMED_OVERRIDES: Record<string, FieldPath> = {
  GAME_SERVER_ENV: ['server', 'environment'],
  LOG_LEVEL: ['logging', 'level'],
  POD_NAMESPACE: ['server', 'cluster', 'discovery', 'namespace'],
};

/** Prefix for any other key: HANGAR_API__PORT=8001 sets api.port. */
const OVERRIDE_PREFIX = 'HANGAR_';

export interface LoadConfigOptions {
  /** Defaults to config/<GAME_SERVER_ENV or development>.yaml. */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

/** Reads, overrides and validates the service config; throws ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<ServiceConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? `config/${env.GAME_SERVER_ENV ?? 'development'}.yaml`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read config file: ${(err as Error).message}`], { cause: err });
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv): Readonly<ServiceConfig> {
  const parsed = parseYaml(text, file);
  if (parsed.problems.length) throw new ConfigError(parsed.problems.map(formatProblem));
  if (parsed.documents.length > 1) throw new ConfigError([`${file}: expected one YAML document, found ${parsed.documents.length}`]);
  const doc: YamlDocument | undefined = parsed.documents[0];
  const raw = doc ? doc.toJS() : {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${file}:1:1: the config must be a mapping of keys`]);
  }

  const overrides = collectOverrides(env);
  for (const o of overrides) setPath(raw as Record<string, unknown>, o.path, o.value);

  const result = ServiceConfigSchema.safeParse(raw);
  if (result.success) return deepFreeze(result.data);
  const located: Array<{ line: number; col: number; text: string }> = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    // An unknown key is reported at the key itself, one problem per key.
    const targets =
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((k) => ({ at: [...path, k], message: 'unknown key (not a setting Hangar knows; check the spelling)', key: true }))
        : [{ at: path, message: issue.message, key: false }];
    for (const t of targets) {
      const where = formatFieldPath(t.at);
      const override = overrides.find((o) => formatFieldPath(o.path) === formatFieldPath(t.at.slice(0, o.path.length)));
      if (override) {
        located.push({ line: 0, col: 0, text: `environment ${override.variable}: ${where}: ${t.message}` });
      } else if (!doc) {
        located.push({ line: 0, col: 0, text: `${file}: ${where}: ${t.message}` });
      } else {
        const problem = doc.problem(t.at, t.message, 'error', t.key ? 'key' : 'value');
        located.push({ line: problem.line, col: problem.col, text: formatProblem(problem) });
      }
    }
  }
  located.sort((a, b) => a.line - b.line || a.col - b.col);
  const problems = located.map((p) => p.text);
  throw new ConfigError(problems);
}

interface Override {
  variable: string;
  path: FieldPath;
  value: unknown;
}

function collectOverrides(env: NodeJS.ProcessEnv): Override[] {
  const out: Override[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const named = NAMED_OVERRIDES[variable];
    if (named) out.push({ variable, path: named, value });
    else if (variable.startsWith(OVERRIDE_PREFIX) && variable.length > OVERRIDE_PREFIX.length) {
      const path = variable.slice(OVERRIDE_PREFIX.length).toLowerCase().split('__');
      out.push({ variable, path, value: scalar(value) });
    }
  }
  return out;
}

/** Environment values are strings; read them as YAML scalars so `8001` and `true` get their types. */
function scalar(value: string): unknown {
  try {
    const v: unknown = parseScalar(value);
    return v === null || typeof v === 'object' ? value : v;
  } catch {
    return value;
  }
}

function setPath(target: Record<string, unknown>, path: FieldPath, value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    const key = String(seg);
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[String(path[path.length - 1])] = value;
}

/** Secrets: only ever from the environment (or a file a mounted secret provides), never from YAML. */
export interface Secrets {
  /** Bearer token that POST /admin/drain requires when set. */
  adminToken?: string;
}

export function loadSecrets(env: NodeJS.ProcessEnv): Secrets {
  return { adminToken: env.ADMIN_TOKEN || undefined };
}

// The game server's settings come from its container's environment, which designers set in the
// fleet YAML (and the connect-token key from a Secret). Every problem names the variable.

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const GameServerConfigSchema = z.object({
  TICK_RATE: intFromEnv(1, 128).default(30),
  MATCH_SECONDS: intFromEnv(1, 86_400).default(300),
  SCORE_LIMIT: intFromEnv(1, 65_535).default(25),
  /** Players one server admits at once (also capped by the fleet's player capacity). */
  MAX_PLAYERS: intFromEnv(1, 5000).default(100),
  /** Network worker threads; 0 runs the network path on the simulation thread. */
  NETWORK_WORKERS: intFromEnv(0, 16).default(0),
  /** Seconds an Allocated server waits for its expected players before giving up. */
  NO_SHOW_SECONDS: intFromEnv(1, 3600).default(60),
  /** The GameServer port the first network worker binds; worker i > 0 binds `<name>-<i>`. */
  GAME_PORT_NAME: z.string().min(1).default('default'),
  /** The admin port when the GameServer has no port named `metrics` (in a container: 9090). */
  ADMIN_PORT: intFromEnv(0, 65_535).default(9090),
  VIEW_RADIUS: z.coerce.number().min(1).max(1000).default(30),
  MAX_VISIBLE: intFromEnv(1, 100).default(64),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The key shared with whoever mints connect tokens: 32 bytes as 64 hex digits or base64. */
  ENCRYPTION_KEY: z
    .string({ error: 'is required: the 32-byte key shared with the matchmaker (64 hex digits or base64)' })
    .transform((v, ctx) => {
      const key = parseKey(v);
      if (!key) ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, written as 64 hex digits or as base64' });
      return key ?? Buffer.alloc(0);
    }),
});

export type GameServerConfig = z.infer<typeof GameServerConfigSchema>;

/** Reads the game server's settings from its environment; throws ConfigError naming each bad variable. */
export function loadGameServerConfig(env: NodeJS.ProcessEnv): Readonly<GameServerConfig> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = GameServerConfigSchema.safeParse(present);
  if (result.success) return Object.freeze(result.data);
  throw new ConfigError(result.error.issues.map((i) => `environment ${String(i.path[0])}: ${i.message}`));
}

/** A 32-byte key from 64 hex digits or base64; undefined when it is neither. */
export function parseKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t)) {
    const b = Buffer.from(t, 'base64');
    if (b.length === 32) return b;
  }
  return undefined;
}

/** The key in `value` (an environment variable's), or a ConfigError naming `variable` and what is wrong. */
export function requireKey(value: string | undefined, variable: string): Buffer {
  const v = value?.trim() ?? '';
  if (v === '') throw new ConfigError([`${variable} is not set: give the 32-byte key shared with the game servers, as 64 hex characters or base64`]);
  const key = parseKey(v);
  if (!key) throw new ConfigError([`${variable} must be 32 bytes, as 64 hex characters or base64 (43 or 44 characters); it has ${v.length} characters`]);
  return key;
}
