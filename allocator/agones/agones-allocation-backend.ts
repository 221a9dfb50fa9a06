import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../core/clock.js';
import { KubernetesUnavailableError } from '../../core/errors.js';
import { ALLOCATION_ID_ANNOTATION } from '../../core/hangar-metadata.js';
import { silentLogger, type Logger, LogField } from '../../core/logger.js';
import type { AllocationResult, GameServerAllocationSpec } from '../allocation.js';
import { GAME_SERVER_ALLOCATIONS, gameServerAllocation, readAllocationStatus } from './game-server-allocation.js';
import { kubeRequest, type KubeAction } from './kube-request.js';
import { backoffDelay } from '../../core/retry.js';

// Allocation on a cluster: one GameServerAllocation created in the namespace, exactly what
// `kubectl create -f gsa.yaml` does (POST /apis/allocation.agones.dev/v1/namespaces/NS/gameserverallocations),
// and Agones picks, marks Allocated and returns the server atomically.
//
// Contention (Agones could not settle on a server because of concurrent allocations; it already
// retried internally) is retried here a bounded number of times with exponential back-off and
// jitter, then returned as is. A 429 is sent again after its Retry-After, a bounded number of
// times, as client-go does: the API server's priority and fairness (or max-in-flight) filter turns
// a request away before any handler, Agones' included, sees it. Nothing else is retried: after a
// timeout or a 5xx the allocation may have happened, and a second attempt could allocate a second
// server (Agones #607).

export interface ContentionRetry {
  /** Further attempts after the first Contention; 0 returns Contention at once. */
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface AgonesAllocationBackendOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  log?: Logger;
  /** Measures the request timeout; systemClock by default. */
  clock?: Clock;
  /** Waits between Contention retries; a timer on `clock` by default. */
  delay?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1); Math.random by default. */
  random?: () => number;
  /** Per allocation request; default 10 s. */
  requestTimeoutMs?: number;
  contention?: Partial<ContentionRetry>;
  /** Further attempts after 429s (Too Many Requests), each after the answer's Retry-After; default 3. */
  throttledRetries?: number;
}

const DEFAULT_CONTENTION: ContentionRetry = { retries: 3, initialDelayMs: 50, maxDelayMs: 1000 };

export class AgonesAllocationBackend {
  private readonly api: CustomObjectsApi;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly timeoutMs: number;
  private readonly contention: ContentionRetry;
  private readonly throttledRetries: number;
  private readonly action: KubeAction;

  constructor(private readonly options: AgonesAllocationBackendOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.log = (options.log ?? silentLogger).child({ [LogField.component]: 'agones-allocation' });
    this.clock = options.clock ?? systemClock;
    this.delay = options.delay ?? ((ms) => new Promise((resolve) => this.clock.setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.contention = { ...DEFAULT_CONTENTION, ...options.contention };
    this.throttledRetries = options.throttledRetries ?? 3;
    this.action = { verb: 'create', resource: GAME_SERVER_ALLOCATIONS.plural, group: GAME_SERVER_ALLOCATIONS.group, namespace: options.namespace };
  }

  /**
   * Allocates through Agones. Resolves with Allocated, UnAllocated, or Contention once the retries
   * are spent; rejects with KUBE_FORBIDDEN (403), KUBE_UNAVAILABLE (5xx, 429 once its retries are
   * spent, timeout, no connection), KUBE_REQUEST_FAILED (any other refusal, an unreadable answer),
   * or ALLOCATION_INVALID (a players selector, which Agones no longer supports). `allocationId` is
   * put on the server as ALLOCATION_ID_ANNOTATION.
   */
  async allocate(spec: GameServerAllocationSpec, allocationId?: string): Promise<AllocationResult> {
    const body = gameServerAllocation(allocationId === undefined ? spec : { ...spec, metadata: { ...spec.metadata, annotations: { ...spec.metadata.annotations, [ALLOCATION_ID_ANNOTATION]: allocationId } } });
    let contended = 0;
    let throttled = 0;
    for (;;) {
      let created: unknown;
      try {
        created = await kubeRequest(this.action, { clock: this.clock, timeoutMs: this.timeoutMs }, (config) =>
          this.api.createNamespacedCustomObject({ ...GAME_SERVER_ALLOCATIONS, namespace: this.options.namespace, body }, config),
        );
      } catch (err) {
        if (!(err instanceof KubernetesUnavailableError) || err.retryAfterMs === undefined || throttled >= this.throttledRetries) throw err;
        throttled++;
        this.log.debug({ attempt: throttled, waitMs: err.retryAfterMs }, 'the API server is throttling allocations (429); retrying after its Retry-After');
        await this.delay(err.retryAfterMs);
        continue;
      }
      const result = readAllocationStatus(created);
      if (result.state !== 'Contention' || contended >= this.contention.retries) {
        if (result.state === 'Contention') this.log.warn({ attempts: contended + 1 }, 'allocation still contended after retries');
        return result;
      }
      const waitMs = this.backoff(contended++);
      this.log.debug({ attempt: contended, waitMs }, 'allocation contended; retrying');
      await this.delay(waitMs);
    }
  }

  /** Equal jitter: half the capped exponential step, plus up to the other half at random. */
  private backoff(attempt: number): number {
    const step = backoffDelay(this.contention.initialDelayMs, this.contention.maxDelayMs, attempt + 1);
    return Math.round(step / 2 + this.random() * (step / 2));
  }
}
