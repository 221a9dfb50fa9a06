import { ConfigError } from '../core/errors.js';
import { LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { parseKey } from '../core/secrets.js';

// The game server's settings come from its container's environment, which designers set in the
// fleet YAML (and the connect-token key from a Secret). Every problem names the variable. Read by
// hand, as the database and Redis settings are, not through core/config.ts's zod schemas: a game
// server would load zod and yaml for these fifteen variables (~8 MiB of its idle RSS).

export interface GameServerConfig {
  TICK_RATE: number;
  /**
   * Milliseconds before each tick waited on event-loop turns (a core busy) rather than on a timer,
   * while players are connected: sub-millisecond tick timing for a server with a core to itself.
   * 0 waits on the timer alone (about 1-3 ms late at p99), for servers packed several to a core.
   */
  TICK_SPIN_MS: number;
  MATCH_SECONDS: number;
  SCORE_LIMIT: number;
  /** Players one server admits at once (also capped by the fleet's player capacity). */
  MAX_PLAYERS: number;
  /** Network worker threads; 0 runs the network path on the simulation thread. */
  NETWORK_WORKERS: number;
  /** Seconds an Allocated server waits for its expected players before giving up. */
  NO_SHOW_SECONDS: number;
  /**
   * Players the server rehearses in memory before Ready (handshakes, traffic, a throwaway match), so
   * a match's first players meet compiled code; 0 skips it. A few leave the hot paths compiled with
   * their type feedback and nothing for TurboFan yet: first players joined as quickly as after 128
   * (whose optimised code cost every idle server ~1.5 MiB and a second of CPU at start), quicker
   * than after none (BENCHMARKS.md, helper-58 and the lead's journey A/B of 2026-11-28).
   */
  WARM_UP_PLAYERS: number;
  /**
   * Seconds the SDK server may stay unreachable (at start, or after its streams broke) before the
   * game server gives up and exits 1: by then Agones has long marked it Unhealthy, and locally the
   * stack that ran it is gone and nobody would ever stop it.
   */
  SDK_LOST_SECONDS: number;
  /** The GameServer port the first network worker binds; worker i > 0 binds `<name>-<i>`. */
  GAME_PORT_NAME: string;
  /** The admin port when the GameServer has no port named `metrics` (in a container: 9090). */
  ADMIN_PORT: number;
  VIEW_RADIUS: number;
  MAX_VISIBLE: number;
  LOG_LEVEL: LogLevel;
  /** The key shared with whoever mints connect tokens: 32 bytes as 64 hex digits or base64. */
  ENCRYPTION_KEY: Buffer;
}

/** The GameServer ports the network threads bind: `GAME_PORT_NAME`, then `<name>-1`, `<name>-2`... */
export function gamePortNames(config: Pick<GameServerConfig, 'GAME_PORT_NAME' | 'NETWORK_WORKERS'>): string[] {
  const threads = Math.max(1, config.NETWORK_WORKERS);
  return Array.from({ length: threads }, (_, i) => (i === 0 ? config.GAME_PORT_NAME : `${config.GAME_PORT_NAME}-${i}`));
}

/** A setting of the game server's environment that it refuses, named by its variable. */
export interface EnvProblem {
  variable: string;
  message: string;
}

/** Reads the game server's settings from its environment; throws ConfigError naming each bad variable. */
export function loadGameServerConfig(env: NodeJS.ProcessEnv): Readonly<GameServerConfig> {
  const { config, problems } = readGameServerEnv(env);
  if (problems.length) throw new ConfigError(problems.map((p) => `environment ${p.variable}: ${p.message}`));
  return Object.freeze(config);
}

/**
 * The settings and every problem, in the order the variables are read: the game server refuses to
 * start on any problem, and `hangar validate` reports them at the fleet YAML's env entries.
 */
export function readGameServerEnv(env: NodeJS.ProcessEnv): { config: GameServerConfig; problems: EnvProblem[] } {
  const problems: EnvProblem[] = [];
  const problem = (variable: string, message: string) => problems.push({ variable, message });
  // An empty variable counts as unset, as Kubernetes writes `value: ""` for a variable left blank.
  const read = (name: string) => (env[name] === '' ? undefined : env[name]);
  const number = (name: string, min: number, max: number, fallback: number, whole = true): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (text.trim() !== '' && (whole ? Number.isInteger(n) : Number.isFinite(n)) && n >= min && n <= max) return n;
    problem(name, `must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(text)}`);
    return fallback;
  };

  const logLevel = (): LogLevel => {
    const text = read('LOG_LEVEL') ?? 'info';
    if (LOG_LEVELS.includes(text as LogLevel)) return text as LogLevel;
    problem('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(text)}`);
    return 'info';
  };
  const encryptionKey = (): Buffer => {
    const text = read('ENCRYPTION_KEY');
    const key = text === undefined ? undefined : parseKey(text);
    if (text === undefined) problem('ENCRYPTION_KEY', 'is required: the 32-byte key shared with the matchmaker (64 hex digits or base64)');
    else if (!key) problem('ENCRYPTION_KEY', 'must be 32 bytes, written as 64 hex digits or as base64');
    return key ?? Buffer.alloc(0);
  };

  // In this order, so the problems come out in it.
  const config: GameServerConfig = {
    TICK_RATE: number('TICK_RATE', 1, 128, 30),
    TICK_SPIN_MS: number('TICK_SPIN_MS', 0, 10, 2, false),
    MATCH_SECONDS: number('MATCH_SECONDS', 1, 86_400, 300),
    SCORE_LIMIT: number('SCORE_LIMIT', 1, 65_535, 25),
    MAX_PLAYERS: number('MAX_PLAYERS', 1, 5000, 100),
    NETWORK_WORKERS: number('NETWORK_WORKERS', 0, 16, 0),
    NO_SHOW_SECONDS: number('NO_SHOW_SECONDS', 1, 3600, 60),
    WARM_UP_PLAYERS: number('WARM_UP_PLAYERS', 0, 5000, 4),
    SDK_LOST_SECONDS: number('SDK_LOST_SECONDS', 1, 3600, 30),
    GAME_PORT_NAME: read('GAME_PORT_NAME') ?? 'default',
    ADMIN_PORT: number('ADMIN_PORT', 0, 65_535, 9090),
    VIEW_RADIUS: number('VIEW_RADIUS', 1, 1000, 30, false),
    MAX_VISIBLE: number('MAX_VISIBLE', 1, 100, 64),
    LOG_LEVEL: logLevel(),
    ENCRYPTION_KEY: encryptionKey(),
  };
  return { config, problems };
}
