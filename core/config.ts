import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseScalar } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { LOG_LEVELS } from './logger.js';
import { problemAt } from '../fleets/schema/problem-at.js';
import { strictObject } from '../fleets/schema/strict-object.js';
import { zodIssueMessages, type IssueMessage } from '../fleets/schema/zod-problems.js';
import { formatFieldPath, formatProblem, parseYaml, type FieldPath, type YamlDocument } from './yaml-source.js';

// Service configuration: config/<environment>.yaml, then environment overrides, validated once.
// The deployment guide's keys (server, limits, performance, logging) keep their snake_case names;
// Hangar's own keys sit beside them in the same style. Nothing outside this file, core/secrets.ts
// and gameserver/game-server-config.ts reads process.env.

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const listen = (defaultPort: number) => ({ host: host.default('127.0.0.1'), port: port.default(defaultPort) });

const MiB = 1024 * 1024;
// An idle example game server was measured at ~58 MB of RSS; a busy one grows, so each is allowed
// 96 MiB. The reserve keeps 4 GiB for the stack itself (450-930 MB measured), the OS and what a
// developer runs beside it. Total memory, not free: the default must not change from run to run.
const SERVER_MEMORY_ALLOWANCE = 96 * MiB;
const STACK_AND_OS_RESERVE = 4096 * MiB;

/** local.max_servers' default: as many game-server processes as a machine with `totalBytes` of memory holds beside the stack, at least 1. */
export function defaultMaxServers(totalBytes: number): number {
  return Math.max(1, Math.floor((totalBytes - STACK_AND_OS_RESERVE) / SERVER_MEMORY_ALLOWANCE));
}

export const ServiceConfigSchema = strictObject({
  server: strictObject({
    environment: z.enum(['development', 'staging', 'production', 'test']).default('development'),
    cluster: strictObject({
      enabled: z.boolean().default(false),
      discovery: strictObject({ type: z.enum(['kubernetes', 'static']).default('kubernetes'), namespace: z.string().default('default') }).prefault({}),
    }).prefault({}),
  }).prefault({}),
  limits: strictObject({ max_players: z.number().int().min(1).max(5000).default(5000) }).prefault({}),
  performance: strictObject({ game_tick_rate: z.number().int().min(1).max(128).default(30) }).prefault({}),
  logging: strictObject({
    level: z.enum(LOG_LEVELS).default('info'),
    outputs: strictObject({
      console: strictObject({ enabled: z.boolean().default(true), format: z.enum(['json', 'pretty']).default('json') }).prefault({}),
      remote: strictObject({ enabled: z.boolean().default(false), type: z.enum(['loki']).default('loki'), endpoint: z.string().default('') }).prefault({}),
    }).prefault({}),
  }).prefault({}),
  /** The read/ops HTTP API of the local stack (the allocator's port). */
  api: strictObject(listen(8000)).prefault({}),
  /** Probes, metrics and drain. */
  admin: strictObject({
    ...listen(9090),
    /**
     * Seconds a drain (POST /admin/drain, Kubernetes' preStop) keeps serving after readiness
     * turns 503, so load balancers stop sending new work before the listeners close.
     */
    drain_delay_seconds: z.number().min(0).max(120).default(0),
  }).prefault({}),
  allocator: strictObject({
    /** Where game servers are allocated: the local stack's store, a Redis store shared by several allocators, or Agones. */
    backend: z.enum(['memory', 'redis', 'agones']).default('memory'),
    /** Seconds an allocated server may wait for its first player before it is released (hangar.dev/claim-timeout overrides). */
    claim_timeout_seconds: z.number().int().min(1).max(86_400).default(60),
    /** The longest an answer waits for the game server to acknowledge its allocation. */
    ack_timeout_ms: z.number().int().min(0).max(10_000).default(1000),
    /** Allocations per second each client may make, and the burst above it. */
    rate_limit_per_second: z.number().min(1).max(1_000_000).default(5000),
    rate_limit_burst: z.number().int().min(1).max(10_000_000).default(10_000),
    /** Agones backend: the namespace of the GameServers. */
    namespace: z.string().min(1).default('default'),
    /**
     * Agones backend: this cluster's name in the match records' site (records.site), unique
     * among the clusters whose matchmakers share one records database. Every cluster's API
     * server has the same in-cluster address, so only ops can tell the clusters apart.
     */
    cluster: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." and "-" only').max(63).optional(),
    /** Redis backend: the prefix of every key, so several stacks can share one Redis. */
    redis_prefix: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." and "-" only').default('hangar'),
  }).prefault({}),
  records: strictObject({
    /** The Postgres schema the records live in (created if missing), when several deployments share one database. */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'must be lower-case letters, digits and underscores, starting with a letter or underscore')
      .max(63)
      .optional(),
    /**
     * The name of this deployment's game servers in the match records (matches.site): a
     * matchmaker that starts ends as abandoned only its own site's open matches whose server is
     * gone. Unset, it is where the game servers are (gameServerSite): the local stack's state
     * directory on this host, the Redis store's address, db and allocator.redis_prefix, or
     * allocator.cluster and allocator.namespace. Set it to keep one name when that place moves.
     */
    site: z
      .string()
      .regex(/^[A-Za-z0-9_.:\/@-]+$/, 'must be letters, digits, "_", ".", ":", "/", "@" and "-" only')
      .max(200)
      .optional(),
  }).prefault({}),
  local: strictObject({
    /** Fleet, GameServer and FleetAutoscaler YAML the local controller runs. */
    fleets_dir: z.string().default('config/fleets'),
    /** Per-server logs and the Prometheus file_sd targets go here. */
    state_dir: z.string().default('.hangar'),
    /** The address game servers are reachable on, as written into their status. */
    advertise_address: host.default('127.0.0.1'),
    /** Game-server ports bind on this address. */
    bind_address: host.default('127.0.0.1'),
    port_range: strictObject({ min: port.default(7000), max: port.default(8000) })
      .prefault({})
      .refine((r) => r.min <= r.max, { message: 'min must not exceed max' }),
    /**
     * The most game-server processes the stack runs, all fleets together: a scale or fleet file
     * asking for more is refused and an autoscaler held there, before the machine runs out of memory.
     */
    max_servers: z
      .number()
      .int()
      .min(1)
      .default(() => defaultMaxServers(totalmem())),
    /** Seconds between SIGTERM and SIGKILL when a game server is stopped (Kubernetes' default is 30). */
    termination_grace_seconds: z.number().min(0).max(600).default(10),
    /** How many game-server processes may be starting at once. */
    start_concurrency: z.number().int().min(1).max(256).default(32),
  }).prefault({}),
  matchmaker: strictObject({
    /** The queues and their rules, which designers tune. */
    rules_file: z.string().min(1).default('config/matchmaking.yaml'),
    /** How often each queue's match function runs (it also runs at once on a burst of tickets). */
    interval_ms: z.number().int().min(10).max(60_000).default(250),
    /** Where tickets wait: this process, or a Redis shared by several matchmaker processes. */
    queue: z.enum(['memory', 'redis']).default('memory'),
    redis_prefix: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." and "-" only').default('hangar-mm'),
    /**
     * A command to the Redis queue with no reply after this long fails and its connection is
     * remade: a partition that drops packets silently then counts as an outage (lobby hand-off,
     * /health/ready) instead of stalling rounds and presence reports. At most a third of
     * claim_lease_seconds, so a renewal that hangs fails by the time the next one is due;
     * unset, 2 s or that third, whichever is shorter.
     */
    redis_command_timeout_seconds: z.number().min(0.1).max(60).optional(),
    /**
     * How long a matchmaker's claim on a match's tickets holds unless renewed (it renews every
     * third of this): when a matchmaker dies mid-match (players asked to accept, say), another
     * takes the tickets back within about this long, and its players hear that the match is off.
     */
    claim_lease_seconds: z.number().min(1).max(300).default(6),
    /** A standalone matchmaker's allocator: its stream, ws://host:8000/gameserverallocation/stream (ALLOCATOR_URL overrides). */
    allocator_url: z.string().default('ws://127.0.0.1:8000/gameserverallocation/stream'),
  })
    .refine((m) => m.redis_command_timeout_seconds === undefined || m.redis_command_timeout_seconds <= m.claim_lease_seconds / 3, {
      path: ['redis_command_timeout_seconds'],
      message: 'must be at most a third of claim_lease_seconds (a renewal that hangs must fail before the next renewal is due)',
    })
    .transform((m) => ({ ...m, redis_command_timeout_seconds: m.redis_command_timeout_seconds ?? Math.min(2, m.claim_lease_seconds / 3) }))
    .prefault({}),
  /** The matchmaker's lobby: the players' HTTP + WebSocket front door (the deployment guide's gateway). */
  lobby: strictObject({
    ...listen(8080),
    auth: strictObject({
      /** The `iss` and `aud` of player tokens; every lobby process sharing JWT_SECRET must agree. */
      issuer: z.string().min(1).default('hangar'),
      audience: z.string().min(1).default('hangar-lobby'),
      token_ttl_seconds: z.number().int().min(60).max(7 * 86_400).default(3600),
      /** How long a party pass (a member's consent to one leader's ticket) may be used: short, since the leader may reuse it until then. */
      party_pass_ttl_seconds: z.number().int().min(10).max(3600).default(120),
      /** `{ "guest": true }` logins with a fresh player id; unset means allowed in development only. */
      guest_login: z.boolean().optional(),
    }).prefault({}),
    rate_limit: strictObject({
      /** Requests a second each player may make over all its sockets and HTTP, and the burst above it. */
      player_per_second: z.number().min(0.1).max(10_000).default(10),
      player_burst: z.number().int().min(1).max(100_000).default(20),
      /** The same per client address, counted before login too (logins, upgrades, forged tokens). */
      address_per_second: z.number().min(0.1).max(100_000).default(100),
      address_burst: z.number().int().min(1).max(1_000_000).default(200),
      /** A socket refused this many times beyond one refusal a second is closed (1008). */
      close_after_refusals: z.number().int().min(1).max(10_000).default(20),
    }).prefault({}),
    max_sockets_per_player: z.number().int().min(1).max(100).default(8),
    /** Sockets that do not answer a ping within this long are dropped. */
    heartbeat_seconds: z.number().int().min(1).max(600).default(30),
    /**
     * A waiting ticket none of whose players has had a lobby socket open or made a lobby request
     * for this long is dropped (they went away); long enough for a reconnect, or between two polls.
     */
    ticket_grace_seconds: z.number().min(1).max(3600).default(15),
  }).prefault({}),
});

export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;

/** The deployment guide's variable names, mapped onto config keys. */
const NAMED_OVERRIDES: Record<string, FieldPath> = {
  GAME_SERVER_ENV: ['server', 'environment'],
  LOG_LEVEL: ['logging', 'level'],
  POD_NAMESPACE: ['server', 'cluster', 'discovery', 'namespace'],
  ALLOCATOR_URL: ['matchmaker', 'allocator_url'],
};

/** Prefix for any other key: HANGAR_API__PORT=8001 sets api.port. */
const OVERRIDE_PREFIX = 'HANGAR_';

/**
 * The `hangar` command's own variables (where the stack is, the allocator key it sends): they
 * share the prefix but are no service setting, and ops who export them for the CLI start the
 * stack from the same shell.
 */
export const CLI_VARIABLES = { apiUrl: 'HANGAR_API_URL', apiKey: 'HANGAR_API_KEY' } as const;
const cliVariableNames: ReadonlySet<string> = new Set(Object.values(CLI_VARIABLES));

export interface LoadConfigOptions {
  /** Defaults to config/<GAME_SERVER_ENV or development>.yaml. */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

/** The config file a service reads when given none: config/<GAME_SERVER_ENV or development>.yaml. */
export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  return `config/${env.GAME_SERVER_ENV ?? 'development'}.yaml`;
}

/** The installed package's directory (a clone, or node_modules/hangar): the nearest one above this module with a package.json. */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(here, '..');
  }
}

/** Where `hangar up` takes its config from, and where that config's relative paths resolve. */
export interface UpConfigSource {
  file: string;
  /**
   * Where local.fleets_dir, matchmaker.rules_file and the game servers' commands resolve: the
   * directory `hangar up` runs in, or the package's for the package's own config (its fleets run
   * its game-server bundles). local.state_dir always resolves where `hangar up` runs.
   */
  baseDir: string;
  /** The file is the package's own: there is no config/<env>.yaml where `hangar up` runs. */
  fromPackage: boolean;
}

/**
 * The config `hangar up` reads in `cwd`: `file` when given (--config), else config/<env>.yaml in
 * `cwd` (a clone, or a project with its own), else the installed package's, so `hangar up` runs
 * the package's fleets from any directory.
 */
export function upConfigSource(env: NodeJS.ProcessEnv, cwd: string, file?: string): UpConfigSource {
  if (file !== undefined) return { file: path.resolve(cwd, file), baseDir: cwd, fromPackage: false };
  const own = path.resolve(cwd, defaultConfigFile(env));
  const root = packageRoot();
  if (existsSync(own) || path.resolve(root) === path.resolve(cwd)) return { file: own, baseDir: cwd, fromPackage: false };
  return { file: path.join(root, defaultConfigFile(env)), baseDir: root, fromPackage: true };
}

/**
 * The config `hangar up` reads when run in `cwd` without --config (upConfigSource), or the
 * defaults when there is none; HANGAR_* overrides apply either way. For commands that look at that stack.
 */
export function loadUpConfig(env: NodeJS.ProcessEnv, cwd: string): Readonly<ServiceConfig> {
  const { file } = upConfigSource(env, cwd);
  return existsSync(file) ? loadConfig({ file, env }) : parseConfig('', file, env);
}

/** Reads, overrides and validates the service config; throws ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<ServiceConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? defaultConfigFile(env);
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
  const second = parsed.documents[1];
  if (second) {
    throw new ConfigError([formatProblem(second.problem([], 'a second YAML document: the service config is one document; merge its settings into the first and remove the "---" line above it'))]);
  }
  const doc: YamlDocument | undefined = parsed.documents[0];
  const raw = doc ? doc.toJS() : {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${file}:1:1: the config must be a mapping of keys`]);
  }

  const overrides = collectOverrides(env);
  for (const o of overrides) setPath(raw as Record<string, unknown>, o.path, o.value);

  const result = ServiceConfigSchema.safeParse(raw, { reportInput: true });
  // Durations and rates take fractions (drain_delay_seconds: 2.5), so a value that is no number is told to be one.
  const problems = result.success ? listenerClashes(result.data, raw) : zodIssueMessages(result.error, { decimals: true });
  if (result.success && !problems.length) return deepFreeze(result.data);
  const located = problems.map((t) => {
    const where = formatFieldPath(t.path);
    const override = overrides.find((o) => formatFieldPath(o.path) === formatFieldPath(t.path.slice(0, o.path.length)));
    if (override) return { line: 0, col: 0, text: `environment ${override.variable}: ${where}: ${t.message}` };
    if (!doc) return { line: 0, col: 0, text: `${file}: ${where}: ${t.message}` };
    const problem = problemAt(doc, t.path, t.message, 'error', t.at);
    return { line: problem.line, col: problem.col, text: formatProblem(problem) };
  });
  located.sort((a, b) => a.line - b.line || a.col - b.col);
  throw new ConfigError(located.map((p) => p.text));
}

const LISTENERS = ['api', 'admin', 'lobby'] as const;
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * Two listeners on one port and overlapping addresses would pass here and fail only at bind, the
 * second service's start: refused now, at the port that is written (in the file or the
 * environment, `raw`), naming the other. Port 0 takes a free port, so it clashes with nothing.
 */
function listenerClashes(config: ServiceConfig, raw: object): IssueMessage[] {
  const written = (name: string) => Object.hasOwn((raw as Record<string, Record<string, unknown> | undefined>)[name] ?? {}, 'port');
  const problems: IssueMessage[] = [];
  LISTENERS.forEach((later, i) => {
    const { host, port } = config[later];
    const earlier = LISTENERS.slice(0, i).find((other) => {
      const o = config[other];
      return port !== 0 && o.port === port && (o.host === host || WILDCARDS.has(o.host) || WILDCARDS.has(host));
    });
    if (earlier === undefined) return;
    const [at, other] = written(later) || !written(earlier) ? [later, earlier] : [earlier, later];
    const hosts = config[at].host === config[other].host ? `both on ${host}` : `${at}.host ${config[at].host} and ${other}.host ${config[other].host} overlap`;
    const otherPort = `${other}.port${written(other) ? '' : "'s default"}`;
    problems.push({ path: [at, 'port'], message: `${port} is also ${otherPort} (${hosts}): each listener needs a port of its own, or the second fails to bind at start` });
  });
  return problems;
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
    else if (variable.startsWith(OVERRIDE_PREFIX) && variable.length > OVERRIDE_PREFIX.length && !cliVariableNames.has(variable)) {
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

// The records database: PostgreSQL from DATABASE_URL or the deployment guide's DB_* variables;
// with neither, the embedded PGlite. Every problem names its variable; no message echoes a password.

/** libpq's sslmode values that node-postgres can honour ("prefer" and "allow" fall back silently, so they are refused). */
export type DatabaseSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresDatabaseConfig {
  kind: 'postgres';
  /** Where the settings came from, for messages. */
  source: 'DATABASE_URL' | 'DB_HOST';
  host: string;
  port: number;
  database: string;
  user: string;
  /** Not enumerable, so logging or serialising the config never shows it. */
  password?: string;
  sslmode: DatabaseSslMode;
  applicationName: string;
  connectTimeoutMs: number;
  poolMax: number;
}

export interface PgliteDatabaseConfig {
  kind: 'pglite';
}

export type DatabaseConfig = PostgresDatabaseConfig | PgliteDatabaseConfig;

const DB_SPLIT_VARIABLES = ['DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_SSLMODE'] as const;
const DB_ALL_VARIABLES = [...DB_SPLIT_VARIABLES, 'DB_PASSWORD', 'DB_PASSWORD_FILE', 'DB_POOL_MAX'] as const;
const SSL_MODES: readonly DatabaseSslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];
const URL_PARAMETERS = ['sslmode', 'application_name', 'connect_timeout'];

/**
 * Reads the records database settings: DATABASE_URL, or DB_HOST, DB_PORT (5432), DB_NAME, DB_USER,
 * DB_PASSWORD or DB_PASSWORD_FILE (a mounted secret), DB_SSLMODE (disable); DB_POOL_MAX (10) with
 * either. None of them set means the embedded PGlite. Throws ConfigError listing every problem.
 */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv): Readonly<DatabaseConfig> {
  const get = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const problems: string[] = [];
  const url = get('DATABASE_URL');
  const setDb = DB_ALL_VARIABLES.filter((v) => get(v) !== undefined);
  if (url === undefined && setDb.length === 0) return Object.freeze({ kind: 'pglite' });

  const password = databasePassword(get('DB_PASSWORD'), get('DB_PASSWORD_FILE'), problems);
  const poolMax = databaseInt(get('DB_POOL_MAX'), 'DB_POOL_MAX', 1, 1000, 10, problems);
  let settings: Omit<PostgresDatabaseConfig, 'kind' | 'poolMax' | 'password'> | undefined;
  let urlPassword: string | undefined;

  if (url !== undefined) {
    const split = DB_SPLIT_VARIABLES.filter((v) => get(v) !== undefined);
    if (split.length) problems.push(`DATABASE_URL and ${split.join(', ')} are all set: use DATABASE_URL or the DB_* variables, not both`);
    const parsed = parseDatabaseUrl(url, problems);
    if (parsed) ({ password: urlPassword, ...settings } = parsed);
    if (urlPassword !== undefined && password !== undefined) {
      problems.push(`DATABASE_URL has a password and ${get('DB_PASSWORD') !== undefined ? 'DB_PASSWORD' : 'DB_PASSWORD_FILE'} is set too: give it in one place`);
    }
  } else {
    const host = get('DB_HOST');
    if (host === undefined) {
      problems.push(`${setDb.join(', ')} ${setDb.length > 1 ? 'are' : 'is'} set but DB_HOST is not: set DB_HOST (or DATABASE_URL), or unset them to use the embedded PGlite`);
    } else if (host.includes('://')) {
      problems.push('DB_HOST looks like a URL: put a URL in DATABASE_URL, or only the host name in DB_HOST');
    } else if (/^[^:]*:\d+$/.test(host)) {
      problems.push('DB_HOST has a port in it: put the port in DB_PORT');
    } else if (/\s/.test(host)) {
      problems.push('DB_HOST must be a host name or address, without spaces');
    }
    const database = get('DB_NAME');
    const user = get('DB_USER');
    if (host !== undefined && database === undefined) problems.push('DB_NAME is not set: name the database on DB_HOST');
    if (host !== undefined && user === undefined) problems.push('DB_USER is not set: name the user to connect as');
    const sslmode = databaseSslMode(get('DB_SSLMODE'), 'DB_SSLMODE', problems);
    const port = databaseInt(get('DB_PORT'), 'DB_PORT', 1, 65535, 5432, problems);
    settings = { source: 'DB_HOST', host: host ?? '', port, database: database ?? '', user: user ?? '', sslmode, applicationName: 'hangar', connectTimeoutMs: 10_000 };
  }
  if (problems.length || !settings) throw new ConfigError(problems);
  const config: PostgresDatabaseConfig = { kind: 'postgres', ...settings, poolMax };
  const secret = urlPassword ?? password;
  if (secret !== undefined) Object.defineProperty(config, 'password', { value: secret, enumerable: false });
  return Object.freeze(config);
}

function parseDatabaseUrl(text: string, problems: string[]): (Omit<PostgresDatabaseConfig, 'kind' | 'poolMax'> & { password?: string }) | undefined {
  const shape = 'expected postgres://USER:PASSWORD@HOST:PORT/DATABASE';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text itself may hold the password, so it is never repeated.
    problems.push(`DATABASE_URL is not a valid URL (${shape})`);
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    problems.push(`DATABASE_URL must start with postgres:// or postgresql://, not ${url.protocol}// (${shape})`);
    return undefined;
  }
  const start = problems.length;
  if (!url.hostname) problems.push(`DATABASE_URL has no host (${shape})`);
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      problems.push(`DATABASE_URL: the ${what} has a malformed %-escape`);
      return '';
    }
  };
  const database = decode(url.pathname.replace(/^\//, ''), 'database name');
  if (!database) problems.push(`DATABASE_URL names no database: add /DATABASE after the host (${shape})`);
  else if (database.includes('/')) problems.push('DATABASE_URL: the database name must not contain "/"');
  let sslmode: DatabaseSslMode = 'disable';
  let applicationName = 'hangar';
  let connectTimeoutMs = 10_000;
  for (const [key, value] of url.searchParams) {
    if (key === 'sslmode') sslmode = databaseSslMode(value, 'DATABASE_URL sslmode', problems);
    else if (key === 'application_name') applicationName = value;
    else if (key === 'connect_timeout') connectTimeoutMs = databaseInt(value, 'DATABASE_URL connect_timeout', 1, 3600, 10, problems) * 1000;
    else problems.push(`DATABASE_URL has the parameter ${key}, which Hangar does not read (it reads ${URL_PARAMETERS.join(', ')})`);
  }
  const user = decode(url.username, 'user name') || 'postgres';
  const password = url.password ? decode(url.password, 'password') : undefined;
  if (problems.length > start) return undefined;
  // IPv6 literals come back bracketed from URL; the socket wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { source: 'DATABASE_URL', host, port: url.port ? Number(url.port) : 5432, database, user, password, sslmode, applicationName, connectTimeoutMs };
}

function databasePassword(inline: string | undefined, file: string | undefined, problems: string[]): string | undefined {
  if (inline !== undefined && file !== undefined) {
    problems.push('DB_PASSWORD and DB_PASSWORD_FILE are both set: use one');
    return undefined;
  }
  if (file === undefined) return inline;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`DB_PASSWORD_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  // Secret files written with `echo` end in a newline that is not part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (password === '') problems.push(`DB_PASSWORD_FILE: ${file} is empty`);
  return password;
}

function databaseSslMode(value: string | undefined, name: string, problems: string[]): DatabaseSslMode {
  if (value === undefined) return 'disable';
  if ((SSL_MODES as readonly string[]).includes(value)) return value as DatabaseSslMode;
  problems.push(`${name} must be one of ${SSL_MODES.join(', ')}, not "${value}"${value === 'prefer' || value === 'allow' ? ' (node-postgres cannot fall back between TLS and plain connections)' : ''}`);
  return 'disable';
}

function databaseInt(value: string | undefined, name: string, min: number, max: number, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
    return fallback;
  }
  return n;
}

/** Redis, for the state several allocator (and matchmaker) processes share. */
export interface RedisConfig {
  /** A redis:// URL for ioredis, the password included when one is set. */
  url: string;
  /** The URL without the password, for logs. */
  target: string;
}

/** The keys of a store under a configured `redis_prefix` ("hangar" → "hangar:gs:<name>", "hangar:alloc:Ready", …). */
export function redisKeyPrefix(configured: string): string {
  return `${configured}:`;
}

/**
 * REDIS_URL, or REDIS_HOST / REDIS_PORT / REDIS_PASSWORD as the deployment guide names them;
 * undefined when neither is set. Every problem names its variable; the password is never echoed.
 */
export function loadRedisConfig(env: NodeJS.ProcessEnv): Readonly<RedisConfig> | undefined {
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  const problems: string[] = [];
  const urlText = get('REDIS_URL');
  const host = get('REDIS_HOST');
  if (urlText !== undefined && host !== undefined) problems.push('REDIS_URL and REDIS_HOST are both set: give one or the other');
  let url: URL | undefined;
  if (urlText !== undefined) {
    try {
      url = new URL(urlText);
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') problems.push(`REDIS_URL must start with redis:// or rediss://, not ${url.protocol}//`);
    } catch {
      problems.push('REDIS_URL is not a URL (redis://host:6379)');
    }
  } else if (host !== undefined) {
    const port = get('REDIS_PORT') ?? '6379';
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) problems.push(`REDIS_PORT must be a port number, got ${JSON.stringify(port)}`);
    else if (!URL.canParse(`redis://${host}:${port}`)) problems.push(`REDIS_HOST ${JSON.stringify(host)} is not a host name or address`);
    else {
      url = new URL(`redis://${host}:${port}`);
      const password = get('REDIS_PASSWORD');
      if (password !== undefined) url.password = encodeURIComponent(password);
    }
  } else if (get('REDIS_PORT') !== undefined || get('REDIS_PASSWORD') !== undefined) {
    problems.push('REDIS_PORT and REDIS_PASSWORD need REDIS_HOST');
  }
  if (problems.length) throw new ConfigError(problems);
  if (!url) return undefined;
  const target = new URL(url);
  target.password = '';
  return Object.freeze({ url: url.toString(), target: target.toString() });
}

/** What player tokens are signed and checked with; `secretSource` says where the secret came from. */
export interface PlayerAuthConfig {
  /** Not enumerable, so logging or serialising the config never shows it. */
  secret: Uint8Array;
  secretSource: 'JWT_SECRET' | 'JWT_SECRET_FILE' | 'random';
  issuer: string;
  audience: string;
  tokenTtlSeconds: number;
  partyPassTtlSeconds: number;
  guestLogin: boolean;
}

const MIN_JWT_SECRET_BYTES = 32;

/**
 * The lobby's token settings: JWT_SECRET (or JWT_SECRET_FILE, a mounted secret) of at least 32
 * bytes, required outside development; in development a missing secret becomes a random
 * per-process one (`secretSource: 'random'`, for the caller to warn about). Guest login follows
 * `lobby.auth.guest_login`, and when that is unset is allowed in development only.
 */
export function loadPlayerAuthConfig(config: Pick<ServiceConfig, 'server' | 'lobby'>, env: NodeJS.ProcessEnv): Readonly<PlayerAuthConfig> {
  const development = config.server.environment === 'development';
  const inline = env.JWT_SECRET === '' ? undefined : env.JWT_SECRET;
  const file = env.JWT_SECRET_FILE === '' ? undefined : env.JWT_SECRET_FILE;
  const problems: string[] = [];
  let text: string | undefined = inline;
  if (inline !== undefined && file !== undefined) problems.push('JWT_SECRET and JWT_SECRET_FILE are both set: use one');
  else if (file !== undefined) {
    try {
      // Secret files written with `echo` end in a newline that is not part of the secret.
      text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`JWT_SECRET_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const source = inline !== undefined ? 'JWT_SECRET' : 'JWT_SECRET_FILE';
  if (text !== undefined && Buffer.byteLength(text) < MIN_JWT_SECRET_BYTES) {
    problems.push(`${source} must be at least ${MIN_JWT_SECRET_BYTES} bytes (it has ${Buffer.byteLength(text)}); generate one with \`openssl rand -base64 48\``);
  }
  if (inline === undefined && file === undefined && !development) {
    problems.push(`JWT_SECRET is not set: player tokens need a secret of at least ${MIN_JWT_SECRET_BYTES} bytes shared by every lobby process (server.environment is ${config.server.environment}; only development makes up a random one)`);
  }
  if (problems.length) throw new ConfigError(problems);
  const auth = config.lobby.auth;
  const out: PlayerAuthConfig = {
    secret: new Uint8Array(0),
    secretSource: text === undefined ? 'random' : source,
    issuer: auth.issuer,
    audience: auth.audience,
    tokenTtlSeconds: auth.token_ttl_seconds,
    partyPassTtlSeconds: auth.party_pass_ttl_seconds,
    guestLogin: auth.guest_login ?? development,
  };
  Object.defineProperty(out, 'secret', { value: text === undefined ? randomBytes(MIN_JWT_SECRET_BYTES) : Buffer.from(text, 'utf8'), enumerable: false });
  return Object.freeze(out);
}
