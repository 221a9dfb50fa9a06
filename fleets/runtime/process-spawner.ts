import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';

// Spawns game-server processes from a worker thread. Node's spawn blocks its event loop until the
// child has exec'd, and while fifty servers start on two busy cores that wait reaches tens of
// milliseconds per process: seconds in all, during which the control plane would answer neither
// the SDK calls nor the API. In a worker the wait blocks only the worker.

export interface SpawnRequest {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** stdout and stderr are appended to this file. */
  logFile: string;
}

export interface SpawnedProcess {
  /** Set once the process is running. */
  readonly pid: number | undefined;
  /** True once it has exited (or failed to start). */
  readonly exited: boolean;
  kill(signal: NodeJS.Signals): void;
  once(event: 'spawn', listener: (pid: number) => void): this;
  /** Spawn failures (missing command, bad cwd) come here; no 'exit' follows. */
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

type FromWorker =
  | { id: number; type: 'spawn'; pid: number }
  | { id: number; type: 'error'; message: string; code?: string }
  | { id: number; type: 'exit'; code: number | null; signal: NodeJS.Signals | null };

// Plain JavaScript, evaluated in the worker, so it runs the same from sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { openSync, closeSync } = require('node:fs');
const children = new Map();
parentPort.on('message', (msg) => {
  if (msg.type === 'kill') {
    const child = children.get(msg.id);
    if (child) child.kill(msg.signal);
    return;
  }
  let out;
  try {
    out = openSync(msg.logFile, 'a');
    // Its own process group: a Ctrl-C at the terminal reaches Hangar only, which then stops each
    // game server in order instead of all of them dying mid-flight.
    // The fourth descriptor: the pipe whose end closes when this process does (core/stack-pipe.ts).
    const child = spawn(msg.command, msg.args, { cwd: msg.cwd, env: msg.env, stdio: ['ignore', out, out, 'pipe'], detached: true });
    children.set(msg.id, child);
    child.once('spawn', () => parentPort.postMessage({ id: msg.id, type: 'spawn', pid: child.pid }));
    child.once('error', (err) => {
      children.delete(msg.id);
      parentPort.postMessage({ id: msg.id, type: 'error', message: err.message, code: err.code });
    });
    child.once('exit', (code, signal) => {
      children.delete(msg.id);
      parentPort.postMessage({ id: msg.id, type: 'exit', code, signal });
    });
  } catch (err) {
    parentPort.postMessage({ id: msg.id, type: 'error', message: err.message, code: err.code });
  } finally {
    if (out !== undefined) closeSync(out);
  }
});
`;

class WorkerProcess extends EventEmitter implements SpawnedProcess {
  pid: number | undefined;
  exited = false;
  constructor(
    private readonly id: number,
    private readonly worker: Worker,
  ) {
    super();
  }
  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.worker.postMessage({ type: 'kill', id: this.id, signal });
  }
}

export class ProcessSpawner {
  private readonly worker: Worker;
  private readonly processes = new Map<number, WorkerProcess>();
  private nextId = 0;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
  }

  spawn(request: SpawnRequest): SpawnedProcess {
    const id = this.nextId++;
    const proc = new WorkerProcess(id, this.worker);
    this.processes.set(id, proc);
    this.worker.postMessage({ type: 'spawn', id, ...request });
    return proc;
  }

  /** Stops the worker; call only once every process it started has exited. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private onMessage(msg: FromWorker): void {
    const proc = this.processes.get(msg.id);
    if (!proc) return;
    if (msg.type === 'spawn') {
      proc.pid = msg.pid;
      proc.emit('spawn', msg.pid);
      return;
    }
    proc.exited = true;
    this.processes.delete(msg.id);
    if (msg.type === 'error') proc.emit('error', Object.assign(new Error(msg.message), { code: msg.code }));
    else proc.emit('exit', msg.code, msg.signal);
  }
}
