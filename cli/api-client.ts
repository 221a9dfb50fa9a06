import path from 'node:path';
import { ConfigError, StackUnreachableError, UsageError } from '../core/errors.js';
import type { GameServerState } from '../core/game-server.js';
import type { SourceProblem } from '../core/yaml-source.js';
import type { FleetSummary, GameServerSummary, StrayAutoscalerSummary } from '../fleets/http-api.js';
import type { AppliedResource, DeleteResult } from '../fleets/resource-applier.js';
import type { AllocationResult } from '../allocator/allocation.js';
import type { Readiness } from '../core/admin-server.js';
import type { QueueStats } from '../matchmaker/matchmaking-service.js';

// The ops commands' view of the running stack's HTTP API (fleets/http-api.ts). Every failure to
// get an answer from Hangar (refused, timed out, something else on the port) is a
// StackUnreachableError; a Hangar error body becomes an ApiError carrying the server's code.

const DEFAULT_API_URL = 'http://127.0.0.1:8000';
const DEFAULT_TIMEOUT_MS = 10_000;

export interface FleetList {
  items: FleetSummary[];
  /** Fleet files the stack could not apply. */
  problems: SourceProblem[];
  /** Autoscalers whose fleet is not there (absent from a stack older than this CLI). */
  strayAutoscalers?: StrayAutoscalerSummary[];
}

/** POST /v1/apply's answer when nothing in the YAML is invalid. */
export interface ApplyResponse {
  applied: AppliedResource[];
  warnings: SourceProblem[];
}

export interface GameServerFilter {
  fleet?: string;
  state?: GameServerState;
}

/** The stack answered with an error body: `{ error: { code, message, problems? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The server's code: one of core/errors.ts's, or BAD_REQUEST, NOT_FOUND, INTERNAL. */
    readonly code: string,
    message: string,
    readonly problems: readonly SourceProblem[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ApiClientOptions {
  /** Base URL without a trailing slash (see resolveApiUrl). */
  baseUrl: string;
  timeoutMs?: number;
  /** Aborts requests in flight, e.g. when `hangar status` is stopped with Ctrl-C. */
  signal?: AbortSignal;
  /** The state directory `hangar up` uses here (localStackHere, or a command's --state-dir): a local stack that does not answer logs there. */
  stateDir?: () => string | undefined;
  /** ADMIN_TOKEN, sent with changes to fleets (a stack with one set takes them from nobody else). */
  adminToken?: string;
}

/** The file `hangar up` logs to, in its state directory. */
export const STACK_LOG_FILE = 'hangar.log';

export class ApiClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly stateDir: (() => string | undefined) | undefined;
  private readonly adminToken: string | undefined;

  constructor(options: ApiClientOptions) {
    this.adminToken = options.adminToken;
    this.baseUrl = options.baseUrl;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.signal = options.signal;
    this.stateDir = options.stateDir;
  }

  /** The stack's readiness and drain, as its admin port's /health/ready reports them. */
  stackState(): Promise<Readiness> {
    return this.request('GET', '/v1/stack');
  }

  async listQueues(): Promise<QueueStats[]> {
    return (await this.request<{ items: QueueStats[] }>('GET', '/v1/queues')).items;
  }

  listFleets(): Promise<FleetList> {
    return this.request('GET', '/v1/fleets');
  }

  getFleet(name: string): Promise<FleetSummary> {
    return this.request('GET', `/v1/fleets/${encodeURIComponent(name)}`);
  }

  scaleFleet(name: string, replicas: number): Promise<FleetSummary> {
    return this.request('POST', `/v1/fleets/${encodeURIComponent(name)}/scale`, { type: 'application/json', text: JSON.stringify({ replicas }) }, this.adminToken);
  }

  /** `file` names the YAML in the problems the server reports. */
  apply(file: string, yaml: string): Promise<ApplyResponse> {
    return this.request('POST', `/v1/apply?${new URLSearchParams({ file })}`, { type: 'application/yaml', text: yaml }, this.adminToken);
  }

  deleteFleet(name: string): Promise<DeleteResult> {
    return this.request('DELETE', `/v1/fleets/${encodeURIComponent(name)}`, undefined, this.adminToken);
  }

  /** Deletes what each document of `yaml` names; `file` names it in problems. */
  deleteResources(file: string, yaml: string): Promise<DeleteResult> {
    return this.request('POST', `/v1/delete?${new URLSearchParams({ file })}`, { type: 'application/yaml', text: yaml }, this.adminToken);
  }

  /** POST /gameserverallocation; `apiKey` for an allocator that requires one. */
  allocate(allocation: object, options: { apiKey?: string; waitForReadyMs?: number } = {}): Promise<AllocationResult> {
    const query = options.waitForReadyMs ? `?waitForReadyMs=${options.waitForReadyMs}` : '';
    return this.request('POST', `/gameserverallocation${query}`, { type: 'application/json', text: JSON.stringify(allocation) }, options.apiKey);
  }

  async listGameServers(filter: GameServerFilter = {}): Promise<GameServerSummary[]> {
    const query = new URLSearchParams();
    if (filter.fleet !== undefined) query.set('fleet', filter.fleet);
    if (filter.state !== undefined) query.set('state', filter.state);
    const qs = query.size ? `?${query}` : '';
    return (await this.request<{ items: GameServerSummary[] }>('GET', `/v1/gameservers${qs}`)).items;
  }

  /** Where a local stack logs; undefined without a state directory, or when the config that names it does not load. */
  private localLog(): string | undefined {
    try {
      const stateDir = this.stateDir?.();
      return stateDir === undefined ? undefined : path.join(stateDir, STACK_LOG_FILE);
    } catch (err) {
      if (err instanceof ConfigError) return undefined;
      throw err;
    }
  }

  /** `bearer`: the secret sent as `Authorization: Bearer` (an API key, the admin token). */
  private async request<T>(method: string, path: string, body?: { type: string; text: string }, bearer?: string): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...(body ? { 'content-type': body.type } : {}), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        body: body?.text,
        signal: this.signal ? AbortSignal.any([timeout, this.signal]) : timeout,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      throw new StackUnreachableError(this.baseUrl, { cause: err, ...(timeout.aborted ? { silentForMs: this.timeoutMs, localLog: this.localLog() } : {}) });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON: whatever listens there is not Hangar's API.
      throw new StackUnreachableError(this.baseUrl, { notHangar: `${method} ${path} answered ${status} with a body that is not JSON` });
    }
    if (status >= 200 && status < 300) return json as T;
    const error = (json as { error?: { code?: unknown; message?: unknown; problems?: unknown } } | null)?.error;
    if (typeof error?.code !== 'string' || typeof error.message !== 'string') {
      throw new StackUnreachableError(this.baseUrl, { notHangar: `${method} ${path} answered ${status} without a Hangar error body` });
    }
    throw new ApiError(status, error.code, error.message, Array.isArray(error.problems) ? (error.problems as SourceProblem[]) : []);
  }
}

/**
 * The API base URL from `--api`, else HANGAR_API_URL, else the stack `hangar up` would run here
 * (`local`, localStackHere: the one running here, else its config's api.host and api.port), else the defaults'.
 */
export function resolveApiUrl(flag: string | undefined, fromEnv: string | undefined, local?: () => string | undefined): string {
  const [value, source] = flag !== undefined ? [flag, '--api'] : fromEnv ? [fromEnv, 'HANGAR_API_URL'] : [local?.() ?? DEFAULT_API_URL, 'default'];
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new UsageError(`${source} ${JSON.stringify(value)} is not an http:// or https:// URL, like ${DEFAULT_API_URL}`);
  if (url.search || url.hash) throw new UsageError(`${source} ${JSON.stringify(value)} must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

/** What the CLI entry hands each command that talks to the stack. */
export interface ApiCommandOptions {
  /** HANGAR_API_URL, read by the CLI entry. */
  apiUrlFromEnv?: string;
  /** The state directory `hangar up` uses here (localStackHere), to name a silent local stack's log. */
  stateDir?: () => string;
  /** The API of the stack `hangar up` runs or would run here (localStackHere), when neither --api nor HANGAR_API_URL says. */
  localApiUrl?: () => string | undefined;
  /** ADMIN_TOKEN, read by the CLI entry: sent with changes to fleets. */
  adminToken?: string;
}
