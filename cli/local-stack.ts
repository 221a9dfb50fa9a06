import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { loadUpConfig } from '../core/config.js';
import { processExists } from '../core/pid-lock.js';
import type { ServerBounds } from '../fleets/runtime/server-bounds.js';

// The stack `hangar up` runs in a directory, as the other commands run there find it: where it
// keeps its state (its key, its log), where it listens, and how many servers it holds. A running
// `hangar up` records these for its directory (whatever --config or HANGAR_ overrides it was given,
// and the ports it really took); without a live record the commands read the config `hangar up`
// would read there (config/<GAME_SERVER_ENV>.yaml, else the package's own, with the HANGAR_
// overrides), so HANGAR_API__PORT=8001 moves the stack and the commands alike.

export interface UpStackUrls {
  /** Its HTTP API (api.host, api.port). */
  api: string;
  /** Its players' lobby (lobby.host, lobby.port). */
  lobby: string;
}

/** The lock a running `hangar up` holds in its state directory: the file holds its pid. */
export const STACK_PID_FILE = 'stack.pid';

/** What a running `hangar up` records for the commands run in its directory. */
export interface StackRecord extends UpStackUrls {
  pid: number;
  /** Absolute. */
  stateDir: string;
  bounds: ServerBounds;
}

/** The stack of one directory, each part read at most once (a command asks several times). */
export interface LocalStackHere {
  /** Its state directory; throws ConfigError when no stack runs and the config does not load. */
  stateDir(): string;
  /** Where it listens; undefined when no stack runs and the config does not load (none would run from it). */
  urls(): UpStackUrls | undefined;
  /** How many servers it holds; undefined as for urls. */
  bounds(): ServerBounds | undefined;
}

/** The stack that runs in `cwd` (its record), else the one `hangar up` would run there (its config). */
export function localStackHere(env: NodeJS.ProcessEnv, cwd: string): LocalStackHere {
  const record = once(() => readStackRecord(cwd));
  const config = once(() => {
    try {
      return { config: loadUpConfig(env, cwd) };
    } catch (err) {
      if (err instanceof ConfigError) return { error: err };
      throw err;
    }
  });
  return {
    stateDir: () => {
      const live = record();
      if (live) return live.stateDir;
      const { config: c, error } = config();
      if (!c) throw error;
      return c.local.state_dir;
    },
    urls: () => {
      const live = record();
      if (live) return { api: live.api, lobby: live.lobby };
      const c = config().config;
      return c && stackUrls(c.api, c.lobby);
    },
    bounds: () => {
      const live = record();
      if (live) return live.bounds;
      const c = config().config;
      return c && { portRange: c.local.port_range, maxServers: c.local.max_servers };
    },
  };
}

/** Where a stack listening on `api` and `lobby` (host as configured, port as bound) is reached from here. */
export function stackUrls(api: { host: string; port: number }, lobby: { host: string; port: number }): UpStackUrls {
  return { api: connectUrl(api), lobby: connectUrl(lobby) };
}

/**
 * Records `record` for the commands run in `cwd`; the returned function removes it (only while it
 * is still this one: a later stack from the same directory may have replaced it).
 */
export function writeStackRecord(cwd: string, record: StackRecord): () => void {
  const file = stackRecordFile(cwd);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Whole or not at all: a command reading it meanwhile never sees half of it.
  const partial = `${file}.${process.pid}`;
  writeFileSync(partial, JSON.stringify(record));
  renameSync(partial, file);
  return () => {
    if (readRecordFile(file)?.pid === record.pid) rmSync(file, { force: true });
  };
}

/**
 * The record of the stack running in `cwd`; undefined when there is none, or its process is gone
 * (killed, crashed: its pid may since be another process's, but its state directory's lock is not).
 */
export function readStackRecord(cwd: string): StackRecord | undefined {
  const record = readRecordFile(stackRecordFile(cwd));
  return record && processExists(record.pid) && lockHolder(record.stateDir) === record.pid ? record : undefined;
}

function lockHolder(stateDir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(stateDir, STACK_PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * One file per directory, out of the directory itself (a stack whose config puts its state
 * elsewhere leaves nothing behind there), private to the user.
 */
function stackRecordFile(cwd: string): string {
  let dir = path.resolve(cwd);
  try {
    dir = realpathSync(dir);
  } catch {
    // A directory that is gone has no stack running in it; its record is simply not found.
  }
  const key = createHash('sha256').update(dir).digest('hex').slice(0, 32);
  return path.join(tmpdir(), `hangar-${process.getuid?.() ?? 'user'}`, 'stacks', `${key}.json`);
}

function readRecordFile(file: string): StackRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as StackRecord;
    return Number.isInteger(record.pid) && typeof record.api === 'string' ? record : undefined;
  } catch {
    // None, or not one this version wrote: the config says where the stack is instead.
    return undefined;
  }
}

function once<T>(read: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: read() }).v;
}

/** A listener bound to every address (0.0.0.0, ::) is reached on loopback from here. */
function connectUrl({ host, port }: { host: string; port: number }): string {
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}
