import type { Clock } from '../core/clock.js';
import type { GameServer } from '../core/game-server.js';
import { ACKS_ALLOCATION_LABEL, ALLOCATION_OBSERVED_ANNOTATION, LAST_ALLOCATED_ANNOTATION } from '../core/hangar-metadata.js';
import { LogField, type Logger } from '../core/logger.js';
import type { AllocatorMetrics } from '../core/metrics.js';
import type { AllocationRecord } from '../records/allocation-records.js';
import type { GameServerEvent } from '../store/game-server-store.js';
import type { AllocationBackend } from './allocation-backend.js';
import { compareAllocationTimes, type AllocationResult, type GameServerAllocationSpec } from './allocation.js';
import type { ClaimWatchdog } from './claim-watchdog.js';
import { matchesSelector } from './select.js';
import type { AllocationTemplate } from './prepared-allocation.js';

// One allocation, start to finish: the backend's atomic allocation; when nothing is Ready and the
// caller allows it, a bounded wait for a server to become Ready (Agones #2145); once allocated, a
// bounded wait for the game server to acknowledge it, so the player's first packet never reaches a
// server that does not know it is allocated yet (Agones #2991); then the claim watchdog, metrics
// and the record. No batching delay: each request is allocated the moment it arrives.

export interface AllocationContext {
  /** Who asked (API key name or certificate subject), for records and rate limits. */
  client: string;
  /** Wait up to this long for a server to become Ready when none is; 0 answers at once. */
  waitForReadyMs?: number;
  /** Aborted when the caller is gone (its connection closed): the wait ends UnAllocated, rather than allocating the next Ready server for nobody. */
  signal?: AbortSignal;
  /** The template the request was made of (a prepared allocation's): its record's JSON is built from the template's. */
  template?: AllocationTemplate;
}

/** Where allocation records go (records/allocation-records.ts writes them to Postgres, batched). */
export interface AllocationRecorder {
  record(entry: AllocationRecord): void;
}

export interface AllocatorOptions {
  backend: AllocationBackend;
  clock: Clock;
  log: Logger;
  metrics: AllocatorMetrics;
  /** The longest an answer waits for the game server's acknowledgement; default 1000 ms. */
  ackTimeoutMs?: number;
  recorder?: AllocationRecorder;
  watchdog?: ClaimWatchdog;
}

export const MAX_WAIT_FOR_READY_MS = 30_000;

export class Allocator {
  private readonly log: Logger;
  /** Acknowledgement waits, by server name: one watch serves them all, following only their servers. */
  private readonly ackWaits = new Map<string, Set<(e: GameServerEvent) => void>>();
  private unwatchAcks: (() => void) | undefined;

  constructor(private readonly options: AllocatorOptions) {
    this.log = options.log.child({ [LogField.component]: 'allocator' });
  }

  async allocate(spec: GameServerAllocationSpec, context: AllocationContext): Promise<AllocationResult> {
    const { clock, metrics } = this.options;
    const started = clock.monotonic();
    const requestedAt = clock.now();
    let result = await this.options.backend.allocate(spec);
    const wait = Math.min(context.waitForReadyMs ?? 0, MAX_WAIT_FOR_READY_MS);
    if (result.state !== 'Allocated' && wait > 0 && !context.signal?.aborted) {
      // The wait learns from the view that a server became Ready: on a view whose watch is down it
      // would hold the request to its end for nothing, and the caller is better told to go elsewhere.
      this.options.backend.requireCurrentView('it cannot wait for a game server to become Ready (waitForReadyMs), and none is; nothing was allocated');
      result = await this.retryUntilReady(spec, wait, result, context.signal);
    }
    if (result.state === 'Allocated') {
      // No promise to await for a server that does not acknowledge: most allocations.
      const acknowledged = acknowledgesAllocation(result) ? await this.awaitAcknowledgement(result) : undefined;
      this.options.watchdog?.track(result, acknowledged);
    }
    const latencyMs = clock.monotonic() - started;
    metrics.allocationDuration.observe({ status: result.state }, latencyMs / 1000);
    metrics.allocations.inc({ status: result.state });
    this.options.recorder?.record({ requestedAt, request: spec, requestJson: context.template?.json(spec), result, latencyMs, client: context.client });
    return result;
  }

  /** Allocates again each time a server may have become available, until one is, time runs out, or `signal` aborts (then `unallocated`). */
  private retryUntilReady(spec: GameServerAllocationSpec, waitMs: number, unallocated: AllocationResult, signal: AbortSignal | undefined): Promise<AllocationResult> {
    const { backend, clock } = this.options;
    return new Promise((resolve, reject) => {
      let attempt: Promise<void> | undefined;
      let again = false;
      let expired = false;
      let done = false;
      const finish = (result: AllocationResult | Error) => {
        if (done) return;
        done = true;
        unwatch();
        cancel();
        signal?.removeEventListener('abort', gone);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const tryOnce = (): void => {
        if (done) return;
        if (attempt) {
          again = true;
          return;
        }
        attempt = backend
          .allocate(spec)
          .then((r) => {
            if (r.state === 'Allocated' || expired) finish(r);
          }, finish)
          .finally(() => {
            attempt = undefined;
            if (again && !done) {
              again = false;
              tryOnce();
            }
          });
      };
      // Only a server one of the selectors takes is a reason to try again: on Agones every try is a
      // request to the Kubernetes API, and the servers it cannot have (running matches whose player
      // Lists change, other fleets) change all the time.
      const unwatch = backend.gameServers.watch((e: GameServerEvent) => {
        if (e.type !== 'deleted' && spec.selectors.some((s) => matchesSelector(s, e.object))) tryOnce();
      });
      const cancel = clock.setTimeout(() => {
        expired = true;
        // One last try, so a server that became Ready in the final instant is not missed. An attempt
        // in flight is that try: a second one beside it could allocate a second server, which nobody
        // would be told of and no claim clock would watch.
        if (!attempt) tryOnce();
      }, waitMs);
      // A caller gone takes no server; an attempt in flight ends the wait with its own answer, so a
      // server it allocates is answered and recorded (and watched by the claim clock), not lost.
      const gone = () => (attempt ? (expired = true) : finish(unallocated));
      signal?.addEventListener('abort', gone);
      tryOnce();
    });
  }

  /**
   * Waits, within the bound, for a server that acknowledges allocations (acknowledgesAllocation)
   * to echo this one; the server as it echoed it, undefined when it did not in time.
   */
  private async awaitAcknowledgement(result: AllocationResult): Promise<GameServer | undefined> {
    const { backend, clock, metrics } = this.options;
    const allocatedAt = result.metadata.annotations[LAST_ALLOCATED_ANNOTATION]!;
    const name = result.gameServerName;
    const started = clock.monotonic();
    const acknowledged = await new Promise<GameServer | undefined>((resolve) => {
      let settled = false;
      const settle = (gs: GameServer | undefined) => {
        if (settled) return;
        settled = true;
        this.stopWaitingForAck(name, onEvent);
        cancel();
        resolve(gs);
      };
      const onEvent = (e: GameServerEvent) => {
        if (e.type === 'deleted') settle(undefined);
        else if (echoes(e.object.metadata.annotations[ALLOCATION_OBSERVED_ANNOTATION], allocatedAt)) settle(e.object);
      };
      this.waitForAck(name, onEvent);
      const cancel = clock.setTimeout(() => settle(undefined), this.options.ackTimeoutMs ?? 1000);
      // It may have answered before the watch began.
      void backend.gameServers.get(name).then((gs) => {
        if (gs && echoes(gs.metadata.annotations[ALLOCATION_OBSERVED_ANNOTATION], allocatedAt)) settle(gs);
      });
    });
    if (acknowledged) metrics.ackWait.observe((clock.monotonic() - started) / 1000);
    else {
      metrics.ackTimeouts.inc();
      this.log.warn({ [LogField.gameServer]: name }, 'answering before the game server acknowledged its allocation');
    }
    return acknowledged;
  }

  private waitForAck(name: string, onEvent: (e: GameServerEvent) => void): void {
    let waits = this.ackWaits.get(name);
    if (!waits) this.ackWaits.set(name, (waits = new Set()));
    waits.add(onEvent);
    this.unwatchAcks ??= this.options.backend.gameServers.watch(
      (e) => {
        for (const onEvent of this.ackWaits.get(e.object.metadata.name) ?? []) onEvent(e);
      },
      { only: (name) => this.ackWaits.has(name) },
    );
  }

  private stopWaitingForAck(name: string, onEvent: (e: GameServerEvent) => void): void {
    const waits = this.ackWaits.get(name);
    if (!waits?.delete(onEvent) || waits.size > 0) return;
    this.ackWaits.delete(name);
    if (this.ackWaits.size > 0) return;
    this.unwatchAcks?.();
    this.unwatchAcks = undefined;
  }
}

/** Whether the allocated server echoes its allocations, so the answer waits for the echo. */
function acknowledgesAllocation(result: AllocationResult): boolean {
  return result.metadata.labels[ACKS_ALLOCATION_LABEL] === 'true' && !!result.metadata.annotations[LAST_ALLOCATED_ANNOTATION];
}

/**
 * Whether the server's echo covers the allocation made at `allocatedAt`: its own, or a later one's.
 * A server allocated again right after (a backfill, or a release and a new match) may echo only the
 * latest allocation it saw; it has seen itself Allocated all the same, and waiting for an echo that
 * will never come would hold the earlier answer to the full bound.
 */
function echoes(observed: string | undefined, allocatedAt: string): boolean {
  return observed !== undefined && compareAllocationTimes(observed, allocatedAt) >= 0;
}
