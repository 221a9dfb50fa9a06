import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { systemClock } from '../core/clock.js';
import { defaultConfigFile, loadConfig, loadDatabaseConfig, loadPlayerAuthConfig, loadRedisConfig, upConfigSource, type ServiceConfig } from '../core/config.js';
import { loadSecrets } from '../core/secrets.js';
import { GameServerState as S } from '../core/game-server.js';
import { playerPorts } from '../core/player-ports.js';
import { createLogger, type Logger } from '../core/logger.js';
import { ConfigError, StackAlreadyRunningError } from '../core/errors.js';
import { acquirePidLock } from '../core/pid-lock.js';
import { formatProblem, type SourceProblem } from '../core/yaml-source.js';
import { startLocalStack, type LocalStack } from '../fleets/local-stack.js';
import type { ApplyResult } from '../fleets/resource-applier.js';
import type { RulesEdit } from '../matchmaker/rules.js';
import { FLEET_LABEL, type GameServerEvent } from '../store/game-server-store.js';
import { displayPath } from '../core/display-path.js';
import type { CliIo } from './io.js';
import { keepLogBounded, MAX_LOG_BYTES, rotateIfLarge } from './log-rotation.js';
import { STACK_LOG_FILE } from './api-client.js';
import { STACK_PID_FILE, stackUrls, writeStackRecord, type StackRecord } from './local-stack.js';

// `hangar up` (= `npm start`): the local stack in the foreground. It prints each game server's
// progress and each fleet's count as they change; full logs go to <state_dir>/hangar.log.
// Ctrl-C stops every game server and exits (during start-up: once the stack has started); a second
// Ctrl-C kills them at once.

/** What stops the stack; the same one again forces it. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** States worth a line on screen when a server enters them; the steps in between are in the log file. */
const SHOWN = new Set<string>([S.Scheduled, S.Ready, S.Reserved, S.Allocated, S.Shutdown, S.Unhealthy, S.Error]);

/**
 * What `hangar up` says when fleet files change: each problem, what was applied, and when a file
 * whose errors kept it out applies again, even when nothing in it changed the stack (otherwise
 * "not applied" would stay the last word on it).
 */
export function writeReload(results: ReadonlyMap<string, ApplyResult>, io: CliIo, cwd: string, time: string): void {
  for (const [file, result] of results) {
    const errors = result.problems.filter((p) => p.severity === 'error');
    const name = displayPath(cwd, file);
    for (const p of result.problems) (p.severity === 'error' ? io.stderr : io.stdout)(formatProblem(p));
    const changed = result.applied.filter((x) => x.action !== 'unchanged');
    if (errors.length) io.stderr(`${time}  ${name}: not applied (${errors.length} error(s)); the running stack keeps its previous state`);
    else if (result.recovered) io.stdout(`${time}  ${name}: applied${changed.length ? '' : ', nothing in it changed the stack'}`);
    for (const a of changed) io.stdout(`${time}  ${a.kind} ${a.name} ${a.action}`);
  }
}

/** An edit of the matchmaking rules while the stack runs: the matchmaker keeps the queues it started with, so say so, and whether a restart would take the file. */
export function writeRulesEdit(edit: RulesEdit, io: CliIo, cwd: string, time: string): void {
  const name = displayPath(cwd, edit.file);
  const errors = edit.problems.filter((p) => p.severity === 'error');
  for (const p of edit.problems) (p.severity === 'error' ? io.stderr : io.stdout)(formatProblem(p));
  if (errors.length) io.stderr(`${time}  ${name}: ${errors.length} error(s): the matchmaker keeps the queues it started with, and would not start with this file`);
  else io.stdout(`${time}  ${name} changed: the matchmaker reads its queues only at start; restart \`hangar up\` to use them (it keeps those it started with until then)`);
}

/**
 * What `hangar up` says at start about its fleet files: each problem, each file that was not
 * applied, and, when no fleet runs, why: files to fix, or no Fleet YAML at all.
 */
export function writeStartProblems(problems: readonly SourceProblem[], fleetNames: readonly string[], fleetsDir: string, io: CliIo, cwd: string): void {
  for (const p of problems) (p.severity === 'error' ? io.stderr : io.stdout)(formatProblem(p));
  const failed = new Map<string, number>();
  for (const p of problems) if (p.severity === 'error') failed.set(p.file, (failed.get(p.file) ?? 0) + 1);
  // The directory itself (unreadable) is no file to fix and apply.
  for (const [file, errors] of failed) if (file !== fleetsDir) io.stderr(`${displayPath(cwd, file)}: not applied (${errors} error(s)); the stack applies it once it is fixed`);
  if (fleetNames.length) return;
  if (failed.size) io.stderr('no fleets running: fix the problems above');
  else io.stdout(`no fleets to run: add Fleet YAML to ${displayPath(cwd, fleetsDir)}/`);
}

/**
 * Each game server's line on screen, once per state it enters: an Allocated server's SDK writes
 * (a player in, a player out, a label) change it without changing its state, and a line for each
 * of them would bury the rest under a busy match.
 */
export class ServerProgress {
  private readonly states = new Map<string, string>();

  /** The line for `event` (without its time), or undefined when it changes nothing shown. */
  line(event: GameServerEvent): string | undefined {
    const gs = event.object;
    const name = gs.metadata.name;
    if (event.type === 'deleted') {
      this.states.delete(name);
      return `${name}  deleted`;
    }
    const state = gs.status.state;
    if (this.states.get(name) === state) return undefined;
    this.states.set(name, state);
    if (!SHOWN.has(state)) return undefined;
    // The address players are sent, not a metrics port listed first.
    const port = playerPorts(gs.status.ports, gs.metadata.labels)[0];
    return `${name}  ${state}${state === S.Ready && port ? `  ${gs.status.address}:${port.port}` : ''}`;
  }
}

export interface UpOptions {
  configFile?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export async function runUp(options: UpOptions, terminal: CliIo): Promise<number> {
  // Once whoever reads our output is gone (a closed pipe: `hangar up | head`, a dead parent), every
  // write would fail: the lines are dropped and the stack stops as on a hang-up, instead of dying on
  // the write error and leaving its game servers running with nobody to manage them.
  let outputGone = false;
  let stop: ((reason: string) => void) | undefined;
  const onOutputError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'EIO') throw err;
    outputGone = true;
    stop?.('output closed');
  };
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  const io: CliIo = {
    stdout: (line) => outputGone || terminal.stdout(line),
    stderr: (line) => outputGone || terminal.stderr(line),
  };
  const source = upConfigSource(options.env, options.cwd, options.configFile);
  if (source.fromPackage && !existsSync(source.file)) {
    const wanted = defaultConfigFile(options.env);
    throw new ConfigError([`${wanted}: no such config file in ${options.cwd} nor in the hangar package (${source.file}); pass --config FILE`]);
  }
  const read = loadConfig({ file: source.file, env: options.env });
  // The state (logs, keys, records) stays where `hangar up` runs, whichever config it reads.
  const stateDir = path.resolve(options.cwd, read.local.state_dir);
  const config: Readonly<ServiceConfig> = { ...read, local: { ...read.local, state_dir: stateDir } };
  const secrets = loadSecrets(options.env);
  mkdirSync(stateDir, { recursive: true });
  // Before anything else: a second stack would clear the first one's game servers from a shared
  // store, and then fail on its ports anyway.
  const lock = acquirePidLock(path.join(stateDir, STACK_PID_FILE));
  if (!lock.acquired) throw new StackAlreadyRunningError(stateDir, lock.owner);
  // Handled from here on, start-up included (seconds on a busy machine: PGlite's first start, the
  // fleets applied), when Ctrl-C used to end the process at once, saying nothing: noted and said, it
  // stops the stack as soon as the stack can stop; once running, `whenRunning` handles it.
  let interrupted: NodeJS.Signals | undefined;
  let whenRunning: ((signal: NodeJS.Signals) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (whenRunning) return whenRunning(signal);
    if (interrupted) {
      lock.release();
      io.stderr(`${signal} again: exiting now; the game servers started so far stop by themselves once this process is gone`);
      process.exit(130);
    }
    interrupted = signal;
    io.stdout(`${signal} during start-up: stopping as soon as the stack has started (Ctrl-C again to exit at once)`);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  const logFile = path.join(stateDir, STACK_LOG_FILE);
  const log = createLogger({ level: config.logging.level, destination: upLogDestination(config, logFile) });

  const started = performance.now();
  let stack: LocalStack;
  try {
    stack = await startLocalStack({ config, log, clock: systemClock, cwd: source.baseDir, secrets, database: loadDatabaseConfig(options.env), redis: loadRedisConfig(options.env), playerAuth: loadPlayerAuthConfig(config, options.env) });
  } catch (err) {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    lock.release();
    throw err;
  }
  const { store, controller } = stack;

  // For the commands run here (status, fleet, token...): this stack, whichever config and ports it took.
  const forgetRecord = recordStack(options.cwd, {
    pid: process.pid,
    ...stackUrls({ host: config.api.host, port: stack.apiPort }, { host: config.lobby.host, port: stack.matchmaker.lobby.port }),
    stateDir,
    bounds: { portRange: config.local.port_range, maxServers: config.local.max_servers },
  }, log);
  io.stdout(`Hangar local stack: API http://${config.api.host}:${stack.apiPort}  lobby http://${config.lobby.host}:${stack.matchmaker.lobby.port}  admin http://${config.admin.host}:${stack.adminPort}`);
  if (source.fromPackage) io.stdout(`config: ${source.file} (the hangar package's own: there is no ${defaultConfigFile(options.env)} here; --config FILE reads another)`);
  io.stdout(`logs: ${displayPath(options.cwd, logFile)}, game servers in ${displayPath(options.cwd, path.join(stateDir, 'logs'))}/`);
  writeStartProblems(await stack.applier.problems(), controller.fleetNames(), path.resolve(source.baseDir, config.local.fleets_dir), io, options.cwd);
  stack.onReload((results) => writeReload(results, io, options.cwd, clockTime()));
  stack.onRulesEdit((edit) => writeRulesEdit(edit, io, options.cwd, clockTime()));

  const lastSummary = new Map<string, string>();
  // Fleet lines are recomputed at most every 100 ms, however many servers change meanwhile.
  let summaryPending = false;
  const scheduleSummary = () => {
    if (summaryPending) return;
    summaryPending = true;
    setTimeout(() => {
      summaryPending = false;
      // A fleet deleted while its line was being computed simply has no line.
      summarize().catch((err: unknown) => log.debug({ err }, 'fleet summary skipped'));
    }, 100).unref();
  };
  const summarize = async () => {
    for (const name of controller.fleetNames()) {
      const { status, spec } = await controller.view(name);
      const line = `fleet ${name}: ${status.readyReplicas}/${spec.replicas} Ready, ${status.allocatedReplicas} Allocated, ${status.reservedReplicas} Reserved`;
      if (lastSummary.get(name) === line) continue;
      lastSummary.set(name, line);
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      io.stdout(`${clockTime()}  ${line}  (+${secs}s)`);
    }
  };
  const progress = new ServerProgress();
  const unwatch = store.watch((e) => {
    const line = progress.line(e);
    if (line) io.stdout(`${clockTime()}  ${line}`);
    if (e.object.metadata.labels[FLEET_LABEL]) scheduleSummary();
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    stop = (reason) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason }, 'stopping every game server');
      io.stdout(`\n${reason}: stopping every game server (Ctrl-C again to force)`);
      unwatch();
      void stack.stop().then(() => {
        forgetRecord();
        lock.release();
        io.stdout('stopped: no game server left running');
        log.flush();
        process.stdout.off('error', onOutputError);
        process.stderr.off('error', onOutputError);
        for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
        resolve(0);
      });
    };
    // Every signal, not only the first: with the handler gone, a second Ctrl-C would end this
    // process at once and leave the game servers still stopping to run on without it.
    whenRunning = (signal) => {
      if (stopping) {
        const killed = stack.killGameServers();
        forgetRecord();
        lock.release();
        io.stderr(`${signal} again: killed ${killed} game server process(es) still running; exiting now`);
        process.exit(130);
      }
      stop!(signal);
    };
    if (outputGone) stop('output closed');
    else if (interrupted) stop(interrupted);
  });
}

/** writeStackRecord, or a warning when it cannot be written: the commands then find the stack by its config alone. */
function recordStack(cwd: string, record: StackRecord, log: Logger): () => void {
  try {
    return writeStackRecord(cwd, record);
  } catch (err) {
    log.warn({ err }, 'cannot record where this stack listens: commands run here find it by its config alone');
    return () => {};
  }
}

function clockTime(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Everything to the log file; warnings and errors also to stderr, readable when so configured. */
function upLogDestination(config: Readonly<ServiceConfig>, logFile: string): DestinationStream {
  rotateIfLarge(logFile, MAX_LOG_BYTES);
  const file = pino.destination({ dest: logFile, append: true, sync: false, mkdir: true });
  keepLogBounded(logFile, file, systemClock);
  const console = config.logging.outputs.console;
  const streams: pino.StreamEntry[] = [{ level: config.logging.level === 'silent' ? 'fatal' : config.logging.level, stream: file }];
  if (console.enabled) {
    const stderr = console.format === 'pretty' ? pretty({ destination: 2, colorize: process.stderr.isTTY, sync: true }) : pino.destination(2);
    streams.push({ level: 'warn', stream: stderr });
  }
  return pino.multistream(streams);
}
