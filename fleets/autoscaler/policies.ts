import { AutoscalerPolicyError } from '../../core/errors.js';
import type { AggregatedCapacity, AutoscalerPolicy, BufferPolicy, CounterOrListPolicy, CounterStatus, ListStatus, WebhookPolicy } from '../../core/resources.js';
import type { FleetView } from '../fleet-status.js';
import { percentOf } from '../schema/int-or-percent.js';
import type { FleetMetadata } from './fleet-autoscale-review.js';
import { isScheduleActive } from './is-schedule-active.js';

// FleetAutoscaler policies as Agones computes them (pkg/fleetautoscalers/fleetautoscalers.go):
// pure functions from a policy and a fleet to a replica count, plus whether a limit clamped it.
// A policy that cannot decide throws AutoscalerPolicyError; the Webhook policy's HTTP call comes in
// as a function, so everything here runs without I/O.

export interface PolicyResult {
  replicas: number;
  /** A bound (min/max replicas or capacity) held the fleet back from what the buffer asked for. */
  limited: boolean;
}

export interface Decision extends PolicyResult {
  /** What the autoscaler reports as lastAppliedPolicy: the policy type, or the chain entry's id. */
  policy: string;
}

/** What a Counter or List policy reads of a game server. */
export interface CapacityHolder {
  status: { counters: Record<string, CounterStatus>; lists: Record<string, ListStatus> };
}

export interface PolicyInput {
  fleet: FleetView & { metadata?: FleetMetadata };
  /**
   * The fleet's game servers in the order its scale-down removes them. Counter and List policies
   * walk it to see how much capacity a smaller fleet would keep; other policies ignore it.
   */
  scaleDownOrder: readonly CapacityHolder[];
  /** Wall-clock milliseconds, for Schedule policies. */
  now: number;
}

export type WebhookCaller = (policy: WebhookPolicy) => Promise<PolicyResult>;

/**
 * The fleet size `policy` asks for, or undefined when no policy applies right now (an inactive
 * Schedule, or a Chain whose last entry was one); then the fleet is left as it is.
 */
export async function computeDesiredReplicas(policy: AutoscalerPolicy, input: PolicyInput, webhook: WebhookCaller): Promise<Decision | undefined> {
  const decided = (r: PolicyResult): Decision => ({ ...r, policy: policy.type });
  switch (policy.type) {
    case 'Buffer':
      return decided(computeBufferReplicas(policy.buffer, input.fleet));
    case 'Counter':
      return decided(computeCounterReplicas(policy.counter, input.fleet, input.scaleDownOrder));
    case 'List':
      return decided(computeListReplicas(policy.list, input.fleet, input.scaleDownOrder));
    case 'Webhook':
      return decided(await webhook(policy.webhook));
    case 'Wasm':
      // Agones runs Wasm only behind its alpha WasmAutoscaler gate (off by default) and fails the same way without it.
      throw new AutoscalerPolicyError('Wasm policies need an Agones cluster with the WasmAutoscaler feature gate; Hangar does not run them locally');
    case 'Schedule': {
      if (!isScheduleActive(policy.schedule, input.now)) return undefined;
      const inner = await computeDesiredReplicas(policy.schedule.policy, input, webhook);
      return inner && decided(inner);
    }
    case 'Chain':
      return computeChainReplicas(policy.chain, input, webhook);
  }
}

/**
 * The first chain entry that decides wins. An entry that fails, or an inactive Schedule, passes to
 * the next; when none decides, the last entry's outcome stands (its error, or nothing to apply).
 */
async function computeChainReplicas(chain: ReadonlyArray<AutoscalerPolicy & { id: string }>, input: PolicyInput, webhook: WebhookCaller): Promise<Decision | undefined> {
  let failure: { err: unknown } | undefined;
  for (const entry of chain) {
    try {
      const decision = await computeDesiredReplicas(entry, input, webhook);
      if (decision) return { ...decision, policy: entry.id };
      failure = undefined;
    } catch (err) {
      failure = { err };
    }
  }
  if (failure) throw failure.err;
  return undefined;
}

/** True when some part of `policy` reads individual game servers (Counter and List policies). */
export function needsScaleDownOrder(policy: AutoscalerPolicy): boolean {
  switch (policy.type) {
    case 'Counter':
    case 'List':
      return true;
    case 'Schedule':
      return needsScaleDownOrder(policy.schedule.policy);
    case 'Chain':
      return policy.chain.some(needsScaleDownOrder);
    default:
      return false;
  }
}

/**
 * Buffer: keep `bufferSize` game servers (or that share of the fleet) beyond the Allocated ones,
 * within minReplicas..maxReplicas.
 */
export function computeBufferReplicas(policy: BufferPolicy, fleet: FleetView): PolicyResult {
  const allocated = fleet.status.allocatedReplicas;
  const percent = percentOf(policy.bufferSize);
  let replicas: number;
  if (percent === undefined) {
    replicas = allocated + (policy.bufferSize as number);
  } else {
    if (percent >= 100) throw new AutoscalerPolicyError(`buffer.bufferSize ${policy.bufferSize} leaves no room for Allocated game servers; use less than 100%`);
    // The buffer is a share of the fleet to come, not of the current one: with 8 Allocated and
    // a 20% buffer, Allocated must be the other 80%, so the fleet needs ceil(8 / 0.8) = 10.
    replicas = Math.ceil((allocated * 100) / (100 - percent));
  }
  let limited = false;
  if (replicas < policy.minReplicas) {
    replicas = policy.minReplicas;
    limited = true;
  }
  if (replicas > policy.maxReplicas) {
    replicas = policy.maxReplicas;
    limited = true;
  }
  return { replicas, limited };
}

export function computeCounterReplicas(policy: CounterOrListPolicy, fleet: FleetView, scaleDownOrder: readonly CapacityHolder[]): PolicyResult {
  return computeCapacityReplicas('Counter', policy, fleet, scaleDownOrder);
}

export function computeListReplicas(policy: CounterOrListPolicy, fleet: FleetView, scaleDownOrder: readonly CapacityHolder[]): PolicyResult {
  return computeCapacityReplicas('List', policy, fleet, scaleDownOrder);
}

interface Capacity {
  count: number;
  capacity: number;
}

/** A game server's Counter or List under `key`, or undefined when it has none. */
type CapacityOf = (gs: CapacityHolder) => Capacity | undefined;

/**
 * Counter and List: keep `bufferSize` free capacity (or that share of the total) across the fleet,
 * with the fleet's total capacity within minCapacity..maxCapacity. Adding a game server adds the
 * template's free capacity; removing one takes away whatever that server holds, in scale-down order.
 */
function computeCapacityReplicas(kind: 'Counter' | 'List', policy: CounterOrListPolicy, fleet: FleetView, scaleDownOrder: readonly CapacityHolder[]): PolicyResult {
  const { key, minCapacity, maxCapacity } = policy;
  const templateSpec = fleet.spec.template.spec;
  const template: Capacity | undefined = kind === 'Counter' ? templateSpec.counters[key] : listCapacity(templateSpec.lists[key]);
  if (!template) {
    throw new AutoscalerPolicyError(`cannot apply the ${kind} policy: the fleet's template has no ${kind.toLowerCase()} "${key}" (spec.template.spec.${kind === 'Counter' ? 'counters' : 'lists'})`);
  }
  // Agones' fleet status lists every template key, zero while the fleet has no game servers;
  // Hangar's leaves it out until a server reports it, which means the same thing.
  const aggregated: AggregatedCapacity = (kind === 'Counter' ? fleet.status.counters : fleet.status.lists)[key] ?? { count: 0, capacity: 0, allocatedCount: 0, allocatedCapacity: 0 };
  const capacityOf: CapacityOf = kind === 'Counter' ? (gs) => gs.status.counters[key] : (gs) => listCapacity(gs.status.lists[key]);

  const replicas = fleet.status.replicas;
  const { limited, direction } = outsideLimits(aggregated.capacity, minCapacity, maxCapacity);

  const percent = percentOf(policy.bufferSize);
  let buffer: number;
  if (percent === undefined) {
    buffer = policy.bufferSize as number;
  } else {
    // Nothing Allocated asks for no buffer at all: one game server does, when it meets the minimum.
    if (aggregated.allocatedCount <= 0 && template.capacity >= minCapacity) return { replicas: 1, limited: true };
    // The same "share of the fleet to come" as the Buffer policy, in capacity instead of servers.
    const desiredCapacity = Math.ceil((aggregated.allocatedCount * 100) / (100 - percent));
    buffer = desiredCapacity - aggregated.allocatedCount;
  }

  const available = aggregated.capacity - aggregated.count;
  const outside = () => scaleToLimits(direction, { replicas, template, aggregated, minCapacity, maxCapacity, scaleDownOrder, capacityOf });
  if (available === buffer) return limited ? outside() : { replicas, limited: false };
  if (available < buffer) return limited ? outside() : scaleUp({ replicas, template, aggregated, available, buffer, minCapacity, maxCapacity });
  if (limited && direction === 'up') return outside();
  return scaleDown({ replicas, aggregated, minCapacity, buffer, scaleDownOrder, capacityOf });
}

function listCapacity(list: ListStatus | undefined): Capacity | undefined {
  return list && { count: list.values.length, capacity: list.capacity };
}

/** Whether the fleet's total capacity is already outside the limits, and which way it must move. */
function outsideLimits(capacity: number, min: number, max: number): { limited: boolean; direction: 'up' | 'down' | undefined } {
  if (capacity < min) return { limited: true, direction: 'up' };
  if (capacity > max) return { limited: true, direction: 'down' };
  return { limited: false, direction: undefined };
}

interface LimitsInput {
  replicas: number;
  template: Capacity;
  aggregated: AggregatedCapacity;
  minCapacity: number;
  maxCapacity: number;
  scaleDownOrder: readonly CapacityHolder[];
  capacityOf: CapacityOf;
}

/** Back inside the capacity limits: add template servers up to minCapacity, or remove servers down to maxCapacity. */
function scaleToLimits(direction: 'up' | 'down' | undefined, input: LimitsInput): PolicyResult {
  let { replicas } = input;
  let capacity = input.aggregated.capacity;
  if (direction === 'up') {
    if (input.template.capacity === 0) throw new AutoscalerPolicyError('cannot scale up to minCapacity: the template gives each game server a capacity of 0');
    while (capacity < input.minCapacity) {
      capacity += input.template.capacity;
      replicas++;
    }
    return { replicas, limited: true };
  }
  for (const gs of input.scaleDownOrder) {
    if (capacity <= input.maxCapacity) break;
    capacity -= input.capacityOf(gs)?.capacity ?? 0;
    replicas--;
  }
  // Agones never scales a Counter or List fleet to zero: one game server is the least.
  return { replicas: Math.max(replicas, 1), limited: true };
}

interface ScaleUpInput {
  replicas: number;
  template: Capacity;
  aggregated: AggregatedCapacity;
  available: number;
  buffer: number;
  minCapacity: number;
  maxCapacity: number;
}

/** Enough new template servers to cover the missing buffer, cut back to what fits under maxCapacity. */
function scaleUp(input: ScaleUpInput): PolicyResult {
  const { template, aggregated } = input;
  // A new server brings its template capacity less what the template already counts as used.
  const perReplica = template.capacity - template.count;
  if (perReplica <= 0) throw new AutoscalerPolicyError('cannot scale up: a new game server adds no free capacity (its template count is at its capacity)');
  let additional = Math.ceil((input.buffer - input.available) / perReplica);
  const { limited } = outsideLimits(aggregated.capacity + additional * template.capacity, input.minCapacity, input.maxCapacity);
  if (limited) additional = Math.trunc((input.maxCapacity - aggregated.capacity) / template.capacity);
  return { replicas: input.replicas + additional, limited };
}

interface ScaleDownInput {
  replicas: number;
  aggregated: AggregatedCapacity;
  minCapacity: number;
  buffer: number;
  scaleDownOrder: readonly CapacityHolder[];
  capacityOf: CapacityOf;
}

/** Take servers away in scale-down order while the free capacity left still covers the buffer. */
function scaleDown(input: ScaleDownInput): PolicyResult {
  let { replicas } = input;
  let { count, capacity } = input.aggregated;
  if (capacity === input.minCapacity) return { replicas, limited: true };
  for (const gs of input.scaleDownOrder) {
    replicas--;
    const held = input.capacityOf(gs);
    // A server without the key frees nothing, so removing it costs nothing either.
    if (!held) continue;
    count -= held.count;
    capacity -= held.capacity;
    const available = capacity - count;
    if (available < input.buffer) return { replicas: replicas + 1, limited: false };
    if (capacity < input.minCapacity) return { replicas: replicas + 1, limited: true };
    if (available === input.buffer) return { replicas, limited: false };
    if (capacity === input.minCapacity) return { replicas, limited: true };
  }
  return { replicas: Math.max(replicas, 1), limited: false };
}
