import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import pg from 'pg';
import { systemClock } from '../../core/clock.js';
import { loadConfig, type DatabaseConfig, type PostgresDatabaseConfig } from '../../core/config.js';
import { silentLogger } from '../../core/logger.js';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../fleets/local-stack.js';
import { testPostgresConfig } from '../../records/test-database.js';

// A throwaway directory with a config file and a fleets directory, for tests that run the real
// local stack (in process or as `hangar up`). Each fixture takes its own slice of the port range
// so suites running side by side never compete for game ports.

export interface StackFixture {
  dir: string;
  configFile: string;
  fleetsDir: string;
  stateDir: string;
  portRange: { min: number; max: number };
  /** The real PostgreSQL for the stack's records (its own schema, dropped by cleanup). */
  database: DatabaseConfig;
  /** The same for `hangar up` run as a process. */
  env: NodeJS.ProcessEnv;
  writeFleet(file: string, yaml: string): void;
  cleanup(): Promise<void>;
}

let slice = 0;

/** `matchmakingRules`: the queues, written beside the config, which the matchmaker reads and runs every 100 ms. */
export function stackFixture(options: { apiPort?: number; extraConfig?: string; matchmakingRules?: string; maxServers?: number } = {}): StackFixture {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-e2e-'));
  const fleetsDir = path.join(dir, 'fleets');
  const stateDir = path.join(dir, 'state');
  mkdirSync(fleetsDir);
  // Jest runs suites in separate workers: spread them by worker id, then by fixture within a worker.
  const worker = Number(process.env.JEST_WORKER_ID ?? 1);
  // HANGAR_TEST_PORT_BASE moves the 1000 ports they spread over, off a stack running on 7000-8000.
  const min = Number(process.env.HANGAR_TEST_PORT_BASE ?? 7000) + ((worker * 7 + slice++) % 40) * 25;
  const portRange = { min, max: min + 24 };
  const configFile = path.join(dir, 'config.yaml');
  // Records go to the real PostgreSQL, in a schema of this fixture's own: starting an embedded
  // PGlite for every stack would cost each test seconds of CPU.
  const database = testPostgresConfig();
  const schema = `hangar_e2e_${process.pid}_${randomBytes(4).toString('hex')}`;
  const rulesFile = path.join(dir, 'matchmaking.yaml');
  if (options.matchmakingRules !== undefined) writeFileSync(rulesFile, options.matchmakingRules);
  writeFileSync(
    configFile,
    [
      'logging:\n  level: warn\n  outputs:\n    console:\n      enabled: false',
      `api:\n  port: ${options.apiPort ?? 0}`,
      'admin:\n  port: 0',
      'lobby:\n  port: 0',
      `local:\n  fleets_dir: ${fleetsDir}\n  state_dir: ${stateDir}\n  termination_grace_seconds: 3\n  port_range:\n    min: ${portRange.min}\n    max: ${portRange.max}` + (options.maxServers === undefined ? '' : `\n  max_servers: ${options.maxServers}`),
      `records:\n  schema: ${schema}`,
      options.matchmakingRules === undefined ? '' : `matchmaker:\n  interval_ms: 100\n  rules_file: ${rulesFile}`,
      options.extraConfig ?? '',
    ].join('\n'),
  );
  return {
    dir,
    configFile,
    fleetsDir,
    stateDir,
    portRange,
    database,
    env: { ...stackEnv(), DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test' },
    writeFleet: (file, yaml) => writeFileSync(path.join(fleetsDir, file), yaml),
    cleanup: async () => {
      rmSync(dir, { recursive: true, force: true });
      await dropSchema(database, schema);
    },
  };
}

/** This process's environment less HANGAR_TEST_PORT_BASE, which is the tests' and which `hangar up` would refuse as an unknown setting. */
function stackEnv(): NodeJS.ProcessEnv {
  const { HANGAR_TEST_PORT_BASE: _testsOnly, ...env } = process.env;
  return env;
}

/** The real local stack on `fixture`, in this process: its config file and its schema of the real PostgreSQL, silent; `options` add to or replace those. */
export function startFixtureStack(fixture: StackFixture, options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return startLocalStack({ config: loadConfig({ file: fixture.configFile, env: {} }), log: silentLogger, clock: systemClock, cwd: process.cwd(), database: fixture.database, ...options });
}

/** A Fleet of the example game server with fast health checks, so failures show in seconds. */
export function simpleFleetYaml(name: string, replicas: number, health = { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 }, command = '["node", "dist/examples/simple-game-server/main.js"]'): string {
  return `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  template:
    spec:
      ports:
        - name: default
          portPolicy: Passthrough
      health:
        initialDelaySeconds: ${health.initialDelaySeconds}
        periodSeconds: ${health.periodSeconds}
        failureThreshold: ${health.failureThreshold}
      template:
        spec:
          containers:
            - name: game
              image: hangar:test
              command: ${command}
`;
}

/**
 * A Fleet of the arena game server (gameserver/main.ts) for end-to-end tests: short matches, a
 * `players` List as large as MAX_PLAYERS, one UDP port per network thread, the key from the stack's
 * own Secret.
 */
export function arenaFleetYaml(o: { replicas: number; players: number; matchSeconds: number; networkWorkers?: number; env?: Record<string, string>; labels?: Record<string, string> }): string {
  const gamePorts = Array.from({ length: Math.max(1, o.networkWorkers ?? 0) }, (_, i) => `        - name: ${i === 0 ? 'default' : `default-${i}`}\n          portPolicy: Passthrough\n`).join('');
  const env = { ...(o.networkWorkers ? { NETWORK_WORKERS: String(o.networkWorkers) } : {}), ...o.env };
  const extraEnv = Object.entries(env)
    .map(([name, value]) => `                - name: ${name}\n                  value: "${value}"\n`)
    .join('');
  const labels = Object.entries(o.labels ?? {})
    .map(([name, value]) => `        ${name}: "${value}"\n`)
    .join('');
  return `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: arena
spec:
  replicas: ${o.replicas}
  template:
${labels ? `    metadata:\n      labels:\n${labels}` : ''}    spec:
      ports:
${gamePorts}        - name: metrics
          portPolicy: Passthrough
          protocol: TCP
      health:
        initialDelaySeconds: 2
        periodSeconds: 2
      lists:
        players:
          capacity: ${o.players}
      template:
        spec:
          containers:
            - name: arena
              command: ["node", "dist/bundle/gameserver/main.js"]
              env:
                - name: MATCH_SECONDS
                  value: "${o.matchSeconds}"
${extraEnv}                - name: MAX_PLAYERS
                  value: "${o.players}"
                - name: LOG_LEVEL
                  value: warn
                - name: ENCRYPTION_KEY
                  valueFrom:
                    secretKeyRef:
                      name: hangar
                      key: encryption-key
`;
}

/** Polls `check` every 50 ms until it returns a value, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Sends one text datagram and resolves with the reply (or rejects after `timeoutMs`). */
export function udpRequest(port: number, text: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP reply from 127.0.0.1:${port} to ${text}`));
    }, timeoutMs);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.toString('utf8'));
    });
    socket.send(text, port, '127.0.0.1');
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function dropSchema(config: PostgresDatabaseConfig, schema: string): Promise<void> {
  const client = new pg.Client({ host: config.host, port: config.port, database: config.database, user: config.user, password: config.password });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
