import { ConfigError } from '../core/errors.js';
import { loadUpConfig } from '../core/config.js';

// The stack `hangar up` would run in this directory, as the other commands find it: where it keeps
// its state (its key, its log) and where it listens. They read the same config `hangar up` reads
// (config/<GAME_SERVER_ENV>.yaml here, else the package's own, with the HANGAR_ overrides), so
// HANGAR_API__PORT=8001 moves the stack and the commands that talk to it alike.

/**
 * The state directory `hangar up` uses in `cwd`, as it reads it: local.state_dir of its config
 * (HANGAR_LOCAL__STATE_DIR moves it), or of the defaults and overrides alone where there is no such file.
 */
export function upStateDir(env: NodeJS.ProcessEnv, cwd: string): string {
  return loadUpConfig(env, cwd).local.state_dir;
}

export interface UpStackUrls {
  /** Its HTTP API (api.host, api.port). */
  api: string;
  /** Its players' lobby (lobby.host, lobby.port). */
  lobby: string;
}

/** Where the stack `hangar up` would run in `cwd` listens; undefined when its config does not load (then it does not run either). */
export function upStackUrls(env: NodeJS.ProcessEnv, cwd: string): UpStackUrls | undefined {
  let config;
  try {
    config = loadUpConfig(env, cwd);
  } catch (err) {
    if (err instanceof ConfigError) return undefined;
    throw err;
  }
  return { api: connectUrl(config.api), lobby: connectUrl(config.lobby) };
}

/** A listener bound to every address (0.0.0.0, ::) is reached on loopback from here. */
function connectUrl({ host, port }: { host: string; port: number }): string {
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}
