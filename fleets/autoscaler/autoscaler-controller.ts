import type { Cancel, Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import { AppError, AutoscalerPolicyError, ErrorCode, FleetNotFoundError } from '../../core/errors.js';
import type { GameServer } from '../../core/game-server.js';
import { LogField, type Logger } from '../../core/logger.js';
import type { AutoscalerMetrics } from '../../core/metrics.js';
import type { FleetAutoscalerResource, FleetAutoscalerStatus } from '../../core/resources.js';
import { KeyedWorkQueue } from '../../core/work-queue.js';
import type { FleetView } from '../fleet-status.js';
import { percentOf } from '../schema/int-or-percent.js';
import { callWebhook } from './call-webhook.js';
import type { FleetMetadata } from './fleet-autoscale-review.js';
import { computeDesiredReplicas, needsScaleDownOrder, type Decision } from './policies.js';

// Agones' FleetAutoscaler controller (pkg/fleetautoscalers/controller.go), locally. Each autoscaler
// syncs on its fixed interval, as in Agones, and also as soon as its fleet changes, which Agones
// does not do (its 30 s default is the lag DESIGN.md wants gone). A change syncs at once; further
// changes in the next `changeBatchMs` make one more sync at its end, so a burst of allocations
// costs a sync or two (and a webhook call or two), not one each. Syncs run through a keyed queue,
// so one autoscaler never syncs twice at once. The fleet controller waits for a fleet's pending
// sync (settle) before it creates or deletes servers for it.

/** A fleet as the autoscaler reads it. */
export interface AutoscaledFleet extends FleetView {
  /** Sent to webhooks; deletionTimestamp marks a fleet on its way out, which is left alone. */
  metadata?: FleetMetadata & { deletionTimestamp?: string };
}

export interface AutoscaledFleets {
  /** The fleet as it is now, or undefined when there is no such fleet. */
  view(name: string): Promise<AutoscaledFleet | undefined>;
  /**
   * The fleet's game servers (every one counted in its replicas, Allocated included), in the
   * order its scale-down removes them. Only Counter and List policies ask for it, and fail without it.
   */
  scaleDownOrder?(name: string): Promise<readonly GameServer[]>;
  /** Sets the fleet's spec.replicas (the fleet controller then scales). */
  scale(name: string, replicas: number): Promise<void>;
  /** Calls listener(fleetName) whenever a fleet's game servers or spec change. Returns unsubscribe. */
  watch(listener: (fleet: string) => void): () => void;
}

export interface FleetAutoscalerControllerOptions {
  fleets: AutoscaledFleets;
  clock: Clock;
  log: Logger;
  metrics: AutoscalerMetrics;
  /**
   * The most servers the fleet can run here, why, and the bound's error code, when `replicas` is
   * more (the local stack's port range or max_servers): the autoscaler sets the fleet to that many instead (or leaves it
   * where it is, when the stack is already past the bound) and says so in its problem, where Agones would stop at its
   * nodes' capacity and leave the rest Pending.
   */
  replicaCeiling?: (fleetName: string, fleet: AutoscaledFleet, replicas: number) => Promise<ReplicaCeiling | undefined>;
  /** Runs the ceiling's check and the scale it allows as one step among the stack's other changes that add servers (FleetController.boundedChange). */
  boundedChange?: <T>(change: () => Promise<T>) => Promise<T>;
  /** How long a Webhook policy's endpoint may take; Agones' 15 s by default. */
  webhookTimeoutMs?: number;
  /** Fleet changes this soon after a change-triggered sync wait for one batched sync (default 100 ms). */
  changeBatchMs?: number;
}

export interface ReplicaCeiling {
  replicas: number;
  reason: string;
  code: ErrorCode;
}

/** Why the last sync could not scale (or not as far as its policy asked), where Agones would record a warning Event. */
export interface AutoscalerProblem {
  code: string;
  message: string;
}

export interface AutoscalerEntry {
  resource: FleetAutoscalerResource;
  status: FleetAutoscalerStatus;
  /** The last sync's failure, or the ceiling it was held at; null once a sync scales as its policy asks. */
  problem: AutoscalerProblem | null;
}

interface Slot extends AutoscalerEntry {
  stopInterval: Cancel;
  /** Set while a change batch is open; `changed` says whether it must end in a sync. */
  batch: { close: Cancel; changed: boolean } | undefined;
  /** Cancels a webhook call in flight when the autoscaler is replaced or removed. */
  abort: AbortController;
}

/** How long settle() waits for a sync at most, so a webhook that hangs does not hold up its fleet. */
const SETTLE_MAX_WAIT_MS = 1000;

/** Agones' status before the first sync: Go's zero values. */
const NEW_STATUS: FleetAutoscalerStatus = { currentReplicas: 0, desiredReplicas: 0, lastScaleTime: null, ableToScale: false, scalingLimited: false, lastAppliedPolicy: '' };

/** What Agones writes when it cannot scale (updateStatusUnableToScale); lastScaleTime is kept. */
const UNABLE: Omit<FleetAutoscalerStatus, 'lastScaleTime'> = { currentReplicas: 0, desiredReplicas: 0, ableToScale: false, scalingLimited: false, lastAppliedPolicy: '' };

export class FleetAutoscalerController {
  private readonly slots = new Map<string, Slot>();
  private readonly queue: KeyedWorkQueue;
  private readonly log: Logger;
  private readonly unwatch: () => void;

  constructor(private readonly options: FleetAutoscalerControllerOptions) {
    this.log = options.log.child({ [LogField.component]: 'autoscaler' });
    this.queue = new KeyedWorkQueue({ handler: (name) => this.sync(name), clock: options.clock, log: this.log });
    this.unwatch = options.fleets.watch((fleet) => {
      // One held at the stack's bounds may fit more once another fleet shrinks: it syncs then too,
      // rather than at its next interval, with its problem saying it is held until then.
      for (const [name, slot] of this.slots) if (slot.resource.spec.fleetName === fleet || heldAtBounds(slot)) this.fleetChanged(name, slot);
    });
  }

  /** Adds or replaces an autoscaler (its status carries over, as in Kubernetes) and syncs it at once. */
  apply(resource: FleetAutoscalerResource): void {
    const name = resource.metadata.name;
    const previous = this.slots.get(name);
    if (previous) this.retire(previous);
    const slot: Slot = {
      resource,
      status: previous?.status ?? { ...NEW_STATUS },
      problem: previous?.problem ?? null,
      stopInterval: this.options.clock.every(resource.spec.sync.fixedInterval.seconds * 1000, () => this.queue.enqueue(name)),
      batch: undefined,
      abort: new AbortController(),
    };
    this.slots.set(name, slot);
    this.recordMetrics(slot);
    this.queue.enqueue(name);
  }

  /** Stops an autoscaler and drops its metric series; its fleet keeps the size it has. */
  remove(name: string): void {
    const slot = this.slots.get(name);
    if (!slot) return;
    this.slots.delete(name);
    this.retire(slot);
  }

  list(): AutoscalerEntry[] {
    return [...this.slots.values()].map(({ resource, status, problem }) => ({ resource, status: { ...status }, problem }));
  }

  status(name: string): FleetAutoscalerStatus | undefined {
    const slot = this.slots.get(name);
    return slot && { ...slot.status };
  }

  /**
   * Resolves once every autoscaler of `fleet` has synced on the fleet's changes so far; a change
   * held for the end of a batch syncs now. The fleet controller waits on this before it creates or
   * deletes game servers, so that it acts on the replicas wanted for the fleet as it is now: an
   * Allocated server's Shutdown would otherwise get a replacement that the next sync deletes. A
   * sync that takes longer than SETTLE_MAX_WAIT_MS (a webhook that hangs) is not waited for.
   */
  async settle(fleet: string): Promise<void> {
    const syncs: Array<Promise<void>> = [];
    for (const [name, slot] of this.slots) {
      if (slot.resource.spec.fleetName !== fleet) continue;
      if (slot.batch?.changed) {
        // The batch stays open: changes after this sync still wait for its end.
        slot.batch.changed = false;
        this.queue.enqueue(name);
      }
      syncs.push(this.queue.done(name));
    }
    if (!syncs.length) return;
    let stopWaiting!: Cancel;
    const waited = new Promise<void>((resolve) => (stopWaiting = this.options.clock.setTimeout(resolve, SETTLE_MAX_WAIT_MS)));
    await Promise.race([Promise.all(syncs), waited]);
    stopWaiting();
  }

  /** Resolves when no sync is running or queued. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  async close(): Promise<void> {
    this.unwatch();
    for (const slot of this.slots.values()) {
      slot.stopInterval();
      slot.batch?.close();
      slot.abort.abort();
    }
    await this.queue.close();
  }

  private fleetChanged(name: string, slot: Slot): void {
    if (slot.batch) {
      slot.batch.changed = true;
      return;
    }
    this.queue.enqueue(name);
    this.openBatch(name, slot);
  }

  private openBatch(name: string, slot: Slot): void {
    slot.batch = {
      changed: false,
      close: this.options.clock.setTimeout(() => {
        const changed = slot.batch?.changed;
        slot.batch = undefined;
        if (!changed || this.slots.get(name) !== slot) return;
        this.queue.enqueue(name);
        // A burst still going on keeps syncing once per batch.
        this.openBatch(name, slot);
      }, this.options.changeBatchMs ?? 100),
    };
  }

  private retire(slot: Slot): void {
    slot.stopInterval();
    slot.batch?.close();
    slot.abort.abort();
    this.clearMetrics(slot.resource);
  }

  /** One reconcile, re-reading the fleet every time. Throws when Agones would retry. */
  private async sync(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return;
    // A sync that outlives its autoscaler (removed, replaced by a newer spec, closed) changes nothing.
    const stale = () => this.slots.get(name) !== slot || slot.abort.signal.aborted;
    const { fleets, clock } = this.options;
    const fleetName = slot.resource.spec.fleetName;
    const policy = slot.resource.spec.policy;
    try {
      const fleet = await fleets.view(fleetName);
      if (stale()) return;
      if (!fleet) {
        // Agones does not retry this: the next interval (or the fleet appearing) picks it up.
        this.unableToScale(slot, new FleetNotFoundError(fleetName));
        return;
      }
      if (fleet.metadata?.deletionTimestamp) return;
      const scaleDownOrder = needsScaleDownOrder(policy) ? await this.scaleDownOrder(fleetName) : [];
      const webhook = (w: Parameters<typeof callWebhook>[0]) =>
        callWebhook(w, fleet, { clock, signal: slot.abort.signal, ...(this.options.webhookTimeoutMs !== undefined && { timeoutMs: this.options.webhookTimeoutMs }) });
      const decision = await computeDesiredReplicas(policy, { fleet, scaleDownOrder, now: clock.now() }, webhook);
      if (stale()) return;
      if (!decision) {
        // An inactive Schedule: nothing applies now, so the fleet and the status stay as they are.
        this.log.debug({ name, [LogField.fleet]: fleetName }, 'no policy applies now; leaving the fleet as it is');
        return;
      }
      const from = fleet.spec.replicas;
      const bounded = this.options.boundedChange ?? ((change) => change());
      const step = await bounded(async () => {
        const ceiling = await this.options.replicaCeiling?.(fleetName, fleet, decision.replicas);
        if (stale()) return undefined;
        const replicas = ceiling?.replicas ?? decision.replicas;
        const limited = decision.limited || ceiling !== undefined;
        if (replicas !== from) {
          this.log.info({ name, [LogField.fleet]: fleetName, from, to: replicas, limited, policy: decision.policy }, 'scaling fleet');
          await fleets.scale(fleetName, replicas).catch((err: unknown) => {
            throw new ScaleFailed(err);
          });
        }
        return { ceiling, replicas, limited };
      });
      if (!step || stale()) return;
      const { ceiling, replicas, limited } = step;
      const scaled = replicas !== from;
      this.setStatus(slot, {
        currentReplicas: fleet.status.replicas,
        desiredReplicas: replicas,
        lastScaleTime: scaled ? isoTime(clock) : slot.status.lastScaleTime,
        ableToScale: true,
        scalingLimited: limited,
        lastAppliedPolicy: decision.policy,
      });
      slot.problem = ceiling ? this.heldAtCeiling(slot, decision, ceiling) : null;
    } catch (err) {
      if (stale()) return;
      if (err instanceof ScaleFailed) {
        // Agones leaves the status alone when the fleet update fails, and retries.
        slot.problem = problemOf(err.cause);
        throw err.cause;
      }
      this.unableToScale(slot, err);
      throw err;
    }
  }

  private scaleDownOrder(fleet: string): Promise<readonly GameServer[]> {
    const { fleets } = this.options;
    if (!fleets.scaleDownOrder) {
      throw new AutoscalerPolicyError(`Counter and List policies need the game servers of fleet ${fleet} in scale-down order, and this fleet source does not list them`);
    }
    return fleets.scaleDownOrder(fleet);
  }

  private heldAtCeiling(slot: Slot, decision: Decision, ceiling: ReplicaCeiling): AutoscalerProblem {
    const problem = { code: ceiling.code, message: `${decision.policy} asks for ${decision.replicas} replicas; ${ceiling.reason}, so the fleet is held at ${ceiling.replicas}` };
    // Once when the ceiling is reached, not at every sync that stays there (a webhook's answer may vary each time).
    if (slot.problem?.code !== problem.code) {
      this.log.warn({ name: slot.resource.metadata.name, [LogField.fleet]: slot.resource.spec.fleetName, asked: decision.replicas, held: ceiling.replicas }, problem.message);
    }
    return problem;
  }

  private unableToScale(slot: Slot, err: unknown): void {
    const problem = problemOf(err);
    // Once per distinct problem: a fleet that stays missing would otherwise log every interval.
    if (slot.problem?.message !== problem.message) {
      this.log.warn({ name: slot.resource.metadata.name, [LogField.fleet]: slot.resource.spec.fleetName, err }, 'cannot scale fleet');
    }
    slot.problem = problem;
    this.setStatus(slot, { ...UNABLE, lastScaleTime: slot.status.lastScaleTime });
  }

  private setStatus(slot: Slot, status: FleetAutoscalerStatus): void {
    slot.status = status;
    this.recordMetrics(slot);
  }

  /** Agones' metrics controller: status gauges for every autoscaler, limits and size for Buffer ones. */
  private recordMetrics(slot: Slot): void {
    const m = this.options.metrics;
    const labels = this.labels(slot.resource);
    const { status } = slot;
    m.currentReplicas.set(labels, status.currentReplicas);
    m.desiredReplicas.set(labels, status.desiredReplicas);
    m.ableToScale.set(labels, status.ableToScale ? 1 : 0);
    m.limited.set(labels, status.scalingLimited ? 1 : 0);
    const policy = slot.resource.spec.policy;
    if (policy.type !== 'Buffer') return;
    m.bufferLimits.set({ ...labels, type: 'max' }, policy.buffer.maxReplicas);
    m.bufferLimits.set({ ...labels, type: 'min' }, policy.buffer.minReplicas);
    const percent = percentOf(policy.buffer.bufferSize);
    if (percent === undefined) m.bufferSize.set({ ...labels, type: 'count' }, policy.buffer.bufferSize as number);
    else m.bufferSize.set({ ...labels, type: 'percentage' }, percent);
  }

  private clearMetrics(resource: FleetAutoscalerResource): void {
    const m = this.options.metrics;
    const labels = this.labels(resource);
    for (const gauge of [m.currentReplicas, m.desiredReplicas, m.ableToScale, m.limited]) gauge.remove(labels);
    for (const type of ['min', 'max']) m.bufferLimits.remove({ ...labels, type });
    for (const type of ['count', 'percentage']) m.bufferSize.remove({ ...labels, type });
  }

  private labels(resource: FleetAutoscalerResource): { name: string; fleet_name: string } {
    return { name: resource.metadata.name, fleet_name: resource.spec.fleetName };
  }
}

/** Marks a failure of the fleet update itself, which keeps the status (the policy did decide). */
class ScaleFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('scaling the fleet failed', { cause });
  }
}

function problemOf(err: unknown): AutoscalerProblem {
  return { code: err instanceof AppError ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/** Whether the last sync held the fleet below what its policy asked, for the stack's ports or max_servers (replicaCeiling). */
function heldAtBounds(slot: Slot): boolean {
  return slot.problem?.code === ErrorCode.PORT_UNAVAILABLE || slot.problem?.code === ErrorCode.MAX_SERVERS_REACHED;
}
