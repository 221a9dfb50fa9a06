import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Cancel, Clock } from '../../core/clock.js';
import { GameServerState as S, transition, type GameServer, type GameServerState } from '../../core/game-server.js';
import { LogField, type Logger } from '../../core/logger.js';
import { STACK_FD_ENV, STACK_PIPE_FD } from '../../core/stack-pipe.js';
import type { ControllerMetrics } from '../../core/metrics.js';
import { FLEET_LABEL, type GameServerEvent, type GameServerStore } from '../../store/game-server-store.js';
import type { LocalSecrets } from '../local-secrets.js';
import type { LocalSdkServer, LocalSdkServerOptions } from '../sdk-server/local-sdk-server.js';
import { buildProcessSpec } from './container-env.js';
import type { FleetRuntime, ProcessInfo } from './fleet-runtime.js';
import { lastLogLine } from './log-tail.js';
import type { PortAllocator } from './port-allocator.js';
import type { ProcessRecords } from './process-records.js';
import { ProcessSpawner, type SpawnedProcess } from './process-spawner.js';
import { backoffDelay } from '../../core/retry.js';

// Runs each GameServer as a child process, the way Agones runs it as a pod:
//   PortAllocation  host ports assigned (status.ports)
//   Creating        its own SDK server (the sidecar) started on 127.0.0.1
//   Starting        the process spawned from template.spec.containers[<container>]
//   Scheduled       the process is running; address and node name in the status
//   RequestReady    the game called Ready() → this runtime moves it to Ready, as Agones' controller does
// Agones' failure policy: a process that exits (or fails health checks) before Ready is restarted,
// with a crash-loop back-off; after Ready it makes the server Unhealthy. Shutdown stops the process
// (SIGTERM, SIGKILL after the grace period), closes its SDK server, frees its ports and deletes it.

/** States before Ready, in which Agones restarts a failed game-server container (IsBeforeReady). */
const BEFORE_READY: readonly GameServerState[] = [S.PortAllocation, S.Creating, S.Starting, S.Scheduled, S.RequestReady];

/** Crash-loop back-off: Kubernetes doubles from 10 s to 5 min; locally a tighter loop serves development. */
export const RESTART_BACKOFF = { firstMs: 0, initialMs: 1000, maxMs: 60_000 } as const;

export function restartDelayMs(restarts: number): number {
  if (restarts <= 1) return RESTART_BACKOFF.firstMs;
  return backoffDelay(RESTART_BACKOFF.initialMs, RESTART_BACKOFF.maxMs, restarts - 1);
}

export type SdkServerFactory = (options: LocalSdkServerOptions) => Promise<LocalSdkServer>;

export interface LocalProcessRuntimeOptions {
  store: GameServerStore;
  ports: PortAllocator;
  startSdkServer: SdkServerFactory;
  clock: Clock;
  log: Logger;
  metrics: ControllerMetrics;
  /** Address written into each GameServer's status: where players reach it. */
  advertiseAddress: string;
  /** Stands in for the Kubernetes node name. */
  nodeName: string;
  /** Per-server stdout/stderr files go here, one `<name>.log` each. */
  logDir: string;
  /** Where each running process is recorded, so the next stack can stop what a killed one left. */
  records: ProcessRecords;
  /** Working directory for containers without `workingDir`, and the base of relative ones. */
  cwd: string;
  terminationGraceSeconds: number;
  startConcurrency: number;
  featureGates?: LocalSdkServerOptions['featureGates'];
  hostEnv?: NodeJS.ProcessEnv;
  /** Where `secretKeyRef` values come from locally. */
  secrets: LocalSecrets;
}

interface Instance {
  name: string;
  fleet: string;
  heldPorts: number[];
  sdk?: LocalSdkServer;
  child?: SpawnedProcess;
  restarts: number;
  lastExit: string | null;
  restartBackoffMs: number;
  createdAt: number;
  cancelRestart?: Cancel;
  /** Set once bring-up has begun (not while it waits for a start slot); settles when it stops. */
  bringUp?: Promise<void>;
  /** Set once teardown has begun; resolves when process, sidecar and ports are gone. */
  teardown?: Promise<void>;
}

export class LocalProcessRuntime implements FleetRuntime {
  private readonly instances = new Map<string, Instance>();
  private readonly limitStarts: ReturnType<typeof pLimit>;
  private readonly spawner = new ProcessSpawner();
  private readonly log: Logger;
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: LocalProcessRuntimeOptions) {
    this.log = options.log.child({ [LogField.component]: 'local-runtime' });
    this.limitStarts = pLimit(options.startConcurrency);
    mkdirSync(options.logDir, { recursive: true });
    this.unwatch = options.store.watch((e) => this.onStoreEvent(e));
  }

  /** Stores `gs` (state PortAllocation) and starts bringing it up; resolves once it is stored. */
  async create(gs: GameServer): Promise<GameServer> {
    if (this.closed) throw new Error('runtime is shut down');
    const stored = await this.options.store.create(gs);
    const instance: Instance = {
      name: stored.metadata.name,
      fleet: stored.metadata.labels[FLEET_LABEL] ?? '',
      heldPorts: [],
      restarts: 0,
      lastExit: null,
      restartBackoffMs: 0,
      createdAt: this.options.clock.monotonic(),
    };
    this.instances.set(instance.name, instance);
    void this.limitStarts(() => (instance.bringUp = this.bringUp(instance))).catch((err: unknown) => this.fail(instance, err));
    return stored;
  }

  /** Moves the server to Shutdown; the process stops in the background (see the store event handler). */
  async delete(name: string): Promise<void> {
    const gs = await this.options.store.get(name);
    if (!gs) return;
    if (gs.status.state !== S.Shutdown) {
      await this.options.store.update(name, (cur) => (cur.status.state === S.Shutdown ? cur : transition(cur, S.Shutdown)));
    }
  }

  processInfo(name: string): ProcessInfo | undefined {
    const i = this.instances.get(name);
    if (!i) return undefined;
    return { pid: i.child?.pid ?? null, restarts: i.restarts, lastExit: i.lastExit, restartBackoffMs: i.restartBackoffMs, sdkPort: i.sdk?.port ?? null, logFile: this.logFile(name) };
  }

  /** Stops every process and frees everything; used on Ctrl-C. */
  async close(): Promise<void> {
    this.closed = true;
    this.limitStarts.clearQueue();
    const all = [...this.instances.values()];
    await Promise.all(all.map((i) => this.tearDown(i, 'hangar is stopping')));
    await this.spawner.close();
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /**
   * SIGKILLs every game-server process at once, without their grace or any clean-up, for a stop that
   * cannot wait (a second Ctrl-C); returns how many it signalled. Each process leads its own process
   * group (it is spawned detached), so the group goes, as a pod's containers do. From this thread,
   * not the spawner's: the caller exits right after, before the worker would take a message.
   */
  killAll(): number {
    let killed = 0;
    for (const { child } of this.instances.values()) {
      if (!child?.pid || child.exited) continue;
      try {
        process.kill(-child.pid, 'SIGKILL');
        killed++;
      } catch {
        // Gone already.
      }
    }
    return killed;
  }

  private logFile(name: string): string {
    return path.join(this.options.logDir, `${name}.log`);
  }

  private async bringUp(instance: Instance): Promise<void> {
    const { store, ports, clock } = this.options;
    if (instance.teardown) return;
    const gs = await store.get(instance.name);
    if (!gs || gs.status.state !== S.PortAllocation) return;

    const assignment = await ports.assign(gs.spec.ports);
    instance.heldPorts = assignment.held;
    this.options.metrics.portsInUse.set(ports.inUse);
    await store.update(instance.name, (cur) => {
      const next = transition(cur, S.Creating);
      return { ...next, spec: { ...next.spec, ports: assignment.ports }, status: { ...next.status, ports: assignment.statusPorts } };
    });
    if (instance.teardown) return;

    instance.sdk = await this.options.startSdkServer({
      gameServerName: instance.name,
      store,
      clock,
      log: this.options.log.child({ [LogField.gameServer]: instance.name, [LogField.component]: 'sdk-server' }),
      featureGates: this.options.featureGates,
      onHealthFailure: (reason) => void this.onHealthFailure(instance, reason),
    });
    if (instance.teardown) return;
    await store.update(instance.name, (cur) => transition(cur, S.Starting));
    await this.spawnProcess(instance);
  }

  private async spawnProcess(instance: Instance): Promise<void> {
    const { store } = this.options;
    const gs = await store.get(instance.name);
    if (!gs || instance.teardown) return;
    const container = gs.spec.template.spec.containers.find((c) => c.name === gs.spec.container);
    if (!container) throw new Error(`container ${gs.spec.container} is not in the pod template`);
    const spec = buildProcessSpec(container, {
      gameServer: gs,
      hostEnv: this.options.hostEnv ?? process.env,
      // Kubernetes sets HOSTNAME to the pod name; the sidecar's port reaches the SDK by this variable.
      runtimeEnv: { HOSTNAME: gs.metadata.name, AGONES_SDK_GRPC_PORT: String(instance.sdk!.port), [STACK_FD_ENV]: String(STACK_PIPE_FD) },
      podIP: this.options.advertiseAddress,
      readSecret: (name, key) => this.options.secrets.read(name, key),
    });
    for (const u of spec.unresolved) this.log.warn({ [LogField.gameServer]: instance.name, variable: u.name }, u.reason);
    // `node` means the Node.js running Hangar, so a game server never runs on a different version.
    const command = spec.command === 'node' ? process.execPath : spec.command;
    const cwd = container.workingDir ? path.resolve(this.options.cwd, container.workingDir) : this.options.cwd;

    const child = this.spawner.spawn({ command, args: spec.args, cwd, env: spec.env, logFile: this.logFile(instance.name) });
    instance.child = child;
    this.options.metrics.gameServerStarts.inc({ fleet_name: instance.fleet });
    child.once('error', (err) => {
      // Spawn failures (missing command, bad cwd) arrive here instead of 'spawn'; 'exit' may not follow.
      this.options.records.remove(instance.name);
      this.log.error({ [LogField.gameServer]: instance.name, err, command, cwd }, 'game-server process could not start');
      if (instance.child === child) void this.onExit(instance, child, null, null);
    });
    child.once('spawn', (pid) => {
      this.options.records.add(instance.name, pid);
      this.log.info({ [LogField.gameServer]: instance.name, [LogField.childPid]: pid }, 'game-server process started');
      const { advertiseAddress: address, nodeName } = this.options;
      void store
        .update(instance.name, (cur) => {
          if (cur.status.state !== S.Starting) return cur;
          const next = transition(cur, S.Scheduled);
          return { ...next, status: { ...next.status, address, addresses: [{ type: 'InternalIP', address }], nodeName } };
        })
        .catch((err: unknown) => this.log.debug({ err }, 'server gone before it was scheduled'));
    });
    child.once('exit', (code, signal) => {
      this.options.records.remove(instance.name);
      void this.onExit(instance, child, code, signal);
    });
  }

  private async onExit(instance: Instance, child: SpawnedProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (instance.child !== child) return;
    instance.child = undefined;
    const gs = await this.options.store.get(instance.name);
    const state = gs?.status.state ?? S.Shutdown;
    const expected = Boolean(instance.teardown);
    this.options.metrics.gameServerExits.inc({ fleet_name: instance.fleet, state, expected: String(expected) });
    if (expected || !gs) return;
    const said = await lastLogLine(this.logFile(instance.name)).catch(() => undefined);
    // A process that exits says why in its last line; one killed by a signal was stopped mid-sentence.
    const how = signal
      ? `signal ${signal}${said ? ` (its last log line: ${JSON.stringify(said)})` : ''}`
      : `code ${code ?? 'none (could not start)'}${said ? `: ${JSON.stringify(said)}` : ''}`;
    instance.lastExit = how;
    if (BEFORE_READY.includes(state)) {
      instance.restarts++;
      const delay = restartDelayMs(instance.restarts);
      instance.restartBackoffMs = delay;
      this.log.warn({ [LogField.gameServer]: instance.name, [LogField.state]: state, restarts: instance.restarts, delayMs: delay }, `game-server process exited before Ready (${how}); restarting`);
      instance.cancelRestart = this.options.clock.setTimeout(() => {
        instance.cancelRestart = undefined;
        instance.restartBackoffMs = 0;
        this.spawnProcess(instance).catch((err: unknown) => this.fail(instance, err));
      }, delay);
    } else if (state === S.Ready || state === S.Reserved || state === S.Allocated) {
      await this.markUnhealthy(instance, `process exited (${how}) while ${state}`);
    }
  }

  private async onHealthFailure(instance: Instance, reason: string): Promise<void> {
    const gs = await this.options.store.get(instance.name);
    if (!gs || instance.teardown) return;
    if (BEFORE_READY.includes(gs.status.state)) {
      // Like a failing liveness probe: the container is killed, then restarted by the exit handler.
      this.log.warn({ [LogField.gameServer]: instance.name, reason }, 'health check failed before Ready; restarting the process');
      instance.child?.kill('SIGKILL');
    } else {
      await this.markUnhealthy(instance, `health check failed: ${reason}`);
    }
  }

  private async markUnhealthy(instance: Instance, reason: string): Promise<void> {
    const updated = await this.options.store
      .update(instance.name, (cur) => (cur.status.state === S.Unhealthy || cur.status.state === S.Shutdown ? cur : transition(cur, S.Unhealthy)))
      .catch(() => undefined);
    if (updated?.status.state !== S.Unhealthy) return;
    this.options.metrics.gameServersUnhealthy.inc({ fleet_name: instance.fleet, reason: reason.startsWith('health') ? 'health' : 'exit' });
    this.log.warn({ [LogField.gameServer]: instance.name, reason }, 'game server is Unhealthy');
  }

  private onStoreEvent(event: GameServerEvent): void {
    const gs = event.object;
    const instance = this.instances.get(gs.metadata.name);
    if (!instance) return;
    if (event.type === 'deleted' || gs.status.state === S.Shutdown) {
      void this.tearDown(instance, event.type === 'deleted' ? 'deleted' : 'Shutdown');
      return;
    }
    if (gs.status.state === S.RequestReady) {
      void this.options.store
        .update(gs.metadata.name, (cur) => (cur.status.state === S.RequestReady ? transition(cur, S.Ready) : cur))
        .then((cur) => {
          if (cur.status.state !== S.Ready) return;
          instance.restarts = 0;
          this.options.metrics.gameServerStartDuration.observe({ fleet_name: instance.fleet }, (this.options.clock.monotonic() - instance.createdAt) / 1000);
        })
        .catch((err: unknown) => this.log.debug({ err, [LogField.gameServer]: gs.metadata.name }, 'could not mark Ready'));
    }
  }

  private tearDown(instance: Instance, why: string): Promise<void> {
    instance.teardown ??= this.doTearDown(instance, why);
    return instance.teardown;
  }

  private async doTearDown(instance: Instance, why: string): Promise<void> {
    this.log.info({ [LogField.gameServer]: instance.name, why }, 'stopping game server');
    // A bring-up under way may still be acquiring ports, the sidecar or the process: it stops at its
    // next step, and what it got by then is released below instead of left running (a sidecar
    // started after this point would keep its port, and the stack's process alive, for ever).
    await instance.bringUp?.catch(() => undefined);
    instance.cancelRestart?.();
    await stopProcess(instance.child, this.options.terminationGraceSeconds * 1000, this.options.clock);
    await instance.sdk?.close();
    this.options.ports.release(instance.heldPorts);
    this.options.metrics.portsInUse.set(this.options.ports.inUse);
    this.instances.delete(instance.name);
    await this.options.store.delete(instance.name);
  }

  /** Start-up failed for a reason no restart can fix (ports, sidecar): the server goes to Error. */
  private async fail(instance: Instance, err: unknown): Promise<void> {
    if (instance.teardown) return;
    this.log.error({ [LogField.gameServer]: instance.name, err }, 'game server could not be started');
    this.options.ports.release(instance.heldPorts);
    instance.heldPorts = [];
    await this.options.store
      .update(instance.name, (cur) => (cur.status.state === S.Error || cur.status.state === S.Shutdown ? cur : transition(cur, S.Error)))
      .catch(() => undefined);
  }
}

/** SIGTERM, then SIGKILL once `graceMs` has passed; resolves when the process is gone. */
function stopProcess(child: SpawnedProcess | undefined, graceMs: number, clock: Clock): Promise<void> {
  if (!child || child.exited) return Promise.resolve();
  return new Promise((resolve) => {
    const cancelKill = clock.setTimeout(() => child.kill('SIGKILL'), graceMs);
    const done = () => {
      cancelKill();
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
    child.kill('SIGTERM');
  });
}
