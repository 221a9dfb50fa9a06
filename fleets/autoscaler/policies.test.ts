import { describe, expect, it } from '@jest/globals';
import { AutoscalerPolicyError, AutoscalerWebhookError, ErrorCode } from '../../core/errors.js';
import type { AutoscalerPolicy, BufferPolicy, CounterOrListPolicy, CounterStatus, ListStatus, SchedulePolicy } from '../../core/resources.js';
import { fleetViewFixture, type FleetViewFixture } from './fleet-view-fixture.js';
import {
  computeBufferReplicas,
  computeCounterReplicas,
  computeDesiredReplicas,
  computeListReplicas,
  needsScaleDownOrder,
  type CapacityHolder,
  type PolicyResult,
  type WebhookCaller,
} from './policies.js';

// Table tests after Agones' TestApplyBufferPolicy, TestApplyCounterPolicy, TestApplyListPolicy and
// TestApplyChainPolicy: the same behaviours, with cases of our own.

interface Case<P> {
  description: string;
  fleet: FleetViewFixture;
  policy: P;
  /** Counter and List: the game servers in scale-down order. */
  order?: CapacityHolder[];
  expected: PolicyResult | { error: RegExp };
}

function check<P>(cases: Array<Case<P>>, apply: (policy: P, c: Case<P>) => PolicyResult): void {
  for (const c of cases) {
    it(c.description, () => {
      if ('error' in c.expected) {
        expect(() => apply(c.policy, c)).toThrow(AutoscalerPolicyError);
        expect(() => apply(c.policy, c)).toThrow(c.expected.error);
      } else {
        expect(apply(c.policy, c)).toEqual(c.expected);
      }
    });
  }
}

const buffer = (bufferSize: BufferPolicy['bufferSize'], minReplicas: number, maxReplicas: number): BufferPolicy => ({ bufferSize, minReplicas, maxReplicas });

describe('computeBufferReplicas', () => {
  check<BufferPolicy>(
    [
      { description: 'a count buffer adds to the Allocated servers', fleet: { status: { replicas: 30, allocatedReplicas: 30 } }, policy: buffer(5, 0, 100), expected: { replicas: 35, limited: false } },
      { description: 'a count buffer shrinks a fleet with few Allocated', fleet: { status: { replicas: 20, readyReplicas: 18, allocatedReplicas: 2 } }, policy: buffer(3, 0, 100), expected: { replicas: 5, limited: false } },
      { description: 'Reserved servers are not Allocated ones', fleet: { status: { replicas: 6, reservedReplicas: 4, allocatedReplicas: 1 } }, policy: buffer(2, 0, 10), expected: { replicas: 3, limited: false } },
      { description: 'an empty fleet gets exactly the buffer', fleet: {}, policy: buffer(4, 0, 10), expected: { replicas: 4, limited: false } },
      { description: 'minReplicas lifts the result and says limited', fleet: { status: { replicas: 8, allocatedReplicas: 4 } }, policy: buffer(2, 10, 50), expected: { replicas: 10, limited: true } },
      { description: 'maxReplicas caps the result and says limited', fleet: { status: { replicas: 50, allocatedReplicas: 45 } }, policy: buffer(10, 0, 50), expected: { replicas: 50, limited: true } },
      { description: 'landing exactly on maxReplicas is not limited', fleet: { status: { replicas: 45, allocatedReplicas: 40 } }, policy: buffer(10, 0, 50), expected: { replicas: 50, limited: false } },
      { description: 'a percentage is a share of the fleet to come (12 Allocated at 25% → 16)', fleet: { status: { replicas: 12, allocatedReplicas: 12 } }, policy: buffer('25%', 1, 100), expected: { replicas: 16, limited: false } },
      { description: 'a percentage rounds up (1 Allocated at 10% → 2)', fleet: { status: { replicas: 1, allocatedReplicas: 1 } }, policy: buffer('10%', 1, 10), expected: { replicas: 2, limited: false } },
      { description: 'a percentage of nothing Allocated falls to minReplicas', fleet: { status: { replicas: 5, readyReplicas: 5 } }, policy: buffer('30%', 1, 10), expected: { replicas: 1, limited: true } },
      { description: 'a percentage is capped by maxReplicas', fleet: { status: { replicas: 90, allocatedReplicas: 90 } }, policy: buffer('50%', 1, 100), expected: { replicas: 100, limited: true } },
      { description: 'a 100% buffer cannot be met (validation rejects it; the policy refuses too)', fleet: { status: { replicas: 2, allocatedReplicas: 2 } }, policy: buffer('100%', 1, 10), expected: { error: /less than 100%/ } },
    ],
    (policy, c) => computeBufferReplicas(policy, fleetViewFixture(c.fleet)),
  );
});

const capacity = (bufferSize: CounterOrListPolicy['bufferSize'], minCapacity: number, maxCapacity: number, key = 'rooms'): CounterOrListPolicy => ({ key, bufferSize, minCapacity, maxCapacity });
const withRooms = (count: number, cap: number): CapacityHolder => ({ status: { counters: { rooms: { count, capacity: cap } }, lists: {} } });
const withoutKey: CapacityHolder = { status: { counters: {}, lists: {} } };
const rooms = (count: number, cap: number): Record<string, CounterStatus> => ({ rooms: { count, capacity: cap } });

describe('computeCounterReplicas', () => {
  check<CounterOrListPolicy>(
    [
      {
        description: 'a fleet with no game servers scales up to minCapacity (its status has no totals yet)',
        fleet: { templateCounters: rooms(0, 5) },
        policy: capacity(4, 12, 100),
        expected: { replicas: 3, limited: true },
      },
      { description: 'a key the template lacks is an error', fleet: { templateCounters: { seats: { count: 0, capacity: 5 } }, counters: { rooms: { count: 1, capacity: 5 } } }, policy: capacity(4, 0, 100), expected: { error: /no counter "rooms"/ } },
      {
        description: 'scales up by the free capacity a new server brings',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 4), counters: { rooms: { count: 18, capacity: 20 } } },
        policy: capacity(8, 0, 100),
        expected: { replicas: 7, limited: false },
      },
      {
        description: 'a template count uses up part of each new server',
        fleet: { status: { replicas: 4 }, templateCounters: rooms(2, 6), counters: { rooms: { count: 20, capacity: 24 } } },
        policy: capacity(10, 0, 100),
        expected: { replicas: 6, limited: false },
      },
      {
        description: 'scale up stops where whole servers still fit under maxCapacity',
        fleet: { status: { replicas: 8 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 75, capacity: 80 } } },
        policy: capacity(20, 0, 95),
        expected: { replicas: 9, limited: true },
      },
      {
        description: 'scale up landing exactly on maxCapacity is not limited',
        fleet: { status: { replicas: 8 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 75, capacity: 80 } } },
        policy: capacity(20, 0, 100),
        expected: { replicas: 10, limited: false },
      },
      {
        description: 'no change when the free capacity equals the buffer',
        fleet: { status: { replicas: 6 }, templateCounters: rooms(0, 5), counters: { rooms: { count: 20, capacity: 30 } } },
        policy: capacity(10, 0, 100),
        expected: { replicas: 6, limited: false },
      },
      {
        description: 'at the buffer but under minCapacity: scale up to the minimum',
        fleet: { status: { replicas: 2 }, templateCounters: rooms(0, 5), counters: { rooms: { count: 0, capacity: 10 } } },
        policy: capacity(10, 20, 100),
        expected: { replicas: 4, limited: true },
      },
      {
        description: 'over maxCapacity while short of buffer: remove servers down to the maximum',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 48, capacity: 50 } } },
        policy: capacity(5, 0, 30),
        order: [withRooms(10, 10), withRooms(10, 10), withRooms(10, 10), withRooms(9, 10), withRooms(9, 10)],
        expected: { replicas: 3, limited: true },
      },
      {
        description: 'removing down to maxCapacity keeps one server at least',
        fleet: { status: { replicas: 1 }, templateCounters: rooms(0, 5), counters: { rooms: { count: 50, capacity: 50 } } },
        policy: capacity(1, 0, 10),
        order: [withRooms(50, 50)],
        expected: { replicas: 1, limited: true },
      },
      {
        description: 'scales down in scale-down order until the free capacity meets the buffer',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 12, capacity: 50 } } },
        policy: capacity(10, 0, 100),
        order: [withRooms(0, 10), withRooms(0, 10), withRooms(2, 10), withRooms(5, 10), withRooms(5, 10)],
        expected: { replicas: 2, limited: false },
      },
      {
        description: 'scale down keeps the server whose removal would drop below the buffer',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 12, capacity: 50 } } },
        policy: capacity(12, 0, 100),
        order: [withRooms(0, 10), withRooms(0, 10), withRooms(2, 10), withRooms(5, 10), withRooms(5, 10)],
        expected: { replicas: 3, limited: false },
      },
      {
        description: 'scale down stops at minCapacity and says limited',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 12, capacity: 50 } } },
        policy: capacity(10, 30, 100),
        order: [withRooms(0, 10), withRooms(0, 10), withRooms(2, 10), withRooms(5, 10), withRooms(5, 10)],
        expected: { replicas: 3, limited: true },
      },
      {
        description: 'scale down keeps the server whose removal would go under minCapacity',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 12, capacity: 50 } } },
        policy: capacity(10, 35, 100),
        order: [withRooms(0, 10), withRooms(0, 10), withRooms(2, 10), withRooms(5, 10), withRooms(5, 10)],
        expected: { replicas: 4, limited: true },
      },
      {
        description: 'already at minCapacity: no scale down at all, limited (not even of a server without the counter)',
        fleet: { status: { replicas: 5 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 5, capacity: 40 } } },
        policy: capacity(10, 40, 100),
        order: [withoutKey, withRooms(0, 10), withRooms(0, 10), withRooms(0, 10), withRooms(5, 10)],
        expected: { replicas: 5, limited: true },
      },
      {
        description: 'servers without the counter are removed for free',
        fleet: { status: { replicas: 4 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 0, capacity: 20 } } },
        policy: capacity(10, 0, 100),
        order: [withoutKey, withoutKey, withRooms(0, 10), withRooms(0, 10)],
        expected: { replicas: 1, limited: false },
      },
      {
        description: 'scale down never goes below one server',
        fleet: { status: { replicas: 1 }, templateCounters: rooms(0, 2), counters: { rooms: { count: 0, capacity: 10 } } },
        policy: capacity(5, 0, 100),
        order: [withRooms(0, 2)],
        expected: { replicas: 1, limited: false },
      },
      {
        description: 'a percentage with nothing Allocated asks for one server',
        fleet: { status: { replicas: 6 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 0, capacity: 60 } } },
        policy: capacity('20%', 5, 100),
        expected: { replicas: 1, limited: true },
      },
      {
        description: 'a percentage with nothing Allocated still meets minCapacity when one server cannot',
        fleet: { templateCounters: rooms(0, 5) },
        policy: capacity('20%', 12, 100),
        expected: { replicas: 3, limited: true },
      },
      {
        description: 'a percentage buffer scales up (9 of 10 slots Allocated at 25% → 12 slots)',
        fleet: { status: { replicas: 10 }, templateCounters: rooms(0, 1), counters: { rooms: { count: 9, capacity: 10, allocatedCount: 9, allocatedCapacity: 9 } } },
        policy: capacity('25%', 1, 100),
        expected: { replicas: 12, limited: false },
      },
      {
        description: 'a percentage buffer scales down (10 Allocated at 50% → 10 free)',
        fleet: { status: { replicas: 4 }, templateCounters: rooms(0, 10), counters: { rooms: { count: 10, capacity: 40, allocatedCount: 10, allocatedCapacity: 20 } } },
        policy: capacity('50%', 1, 100),
        order: [withRooms(0, 10), withRooms(0, 10), withRooms(5, 10), withRooms(5, 10)],
        expected: { replicas: 2, limited: false },
      },
      {
        description: 'a template with no free room cannot scale up',
        fleet: { status: { replicas: 2 }, templateCounters: rooms(3, 3), counters: { rooms: { count: 6, capacity: 6 } } },
        policy: capacity(2, 0, 100),
        expected: { error: /adds no free capacity/ },
      },
      {
        description: 'a template of capacity 0 cannot reach minCapacity',
        fleet: { status: { replicas: 1 }, templateCounters: rooms(0, 0), counters: { rooms: { count: 0, capacity: 0 } } },
        policy: capacity(1, 5, 100),
        expected: { error: /capacity of 0/ },
      },
    ],
    (policy, c) => computeCounterReplicas(policy, fleetViewFixture(c.fleet), c.order ?? []),
  );
});

const players = (values: string[], cap: number): Record<string, ListStatus> => ({ players: { values, capacity: cap } });
const withPlayers = (n: number, cap: number): CapacityHolder => ({ status: { counters: {}, lists: players(Array.from({ length: n }, (_, i) => `p${i}`), cap) } });

describe('computeListReplicas', () => {
  check<CounterOrListPolicy>(
    [
      {
        description: 'scales up by the free slots a new server brings (template values take slots)',
        fleet: { status: { replicas: 3 }, templateLists: players(['bot'], 4), lists: { players: { count: 11, capacity: 12 } } },
        policy: capacity(6, 0, 100, 'players'),
        expected: { replicas: 5, limited: false },
      },
      {
        description: 'scale up limited by maxCapacity',
        fleet: { status: { replicas: 3 }, templateLists: players([], 5), lists: { players: { count: 14, capacity: 15 } } },
        policy: capacity(10, 0, 20, 'players'),
        expected: { replicas: 4, limited: true },
      },
      {
        description: 'scales down in scale-down order, counting each server\'s values',
        fleet: { status: { replicas: 4 }, templateLists: players([], 8), lists: { players: { count: 9, capacity: 32 } } },
        policy: capacity(8, 0, 100, 'players'),
        order: [withPlayers(0, 8), withPlayers(1, 8), withPlayers(0, 8), withPlayers(8, 8)],
        expected: { replicas: 2, limited: false },
      },
      {
        description: 'a percentage with nothing Allocated asks for one server',
        fleet: { status: { replicas: 3 }, templateLists: players([], 10), lists: { players: { count: 4, capacity: 30 } } },
        policy: capacity('30%', 1, 100, 'players'),
        expected: { replicas: 1, limited: true },
      },
      { description: 'a key only among the counters is not a list', fleet: { templateCounters: rooms(0, 5) }, policy: capacity(2, 0, 100, 'rooms'), expected: { error: /no list "rooms"/ } },
    ],
    (policy, c) => computeListReplicas(policy, fleetViewFixture(c.fleet), c.order ?? []),
  );
});

// --- Schedule and Chain, through computeDesiredReplicas -------------------------------------------

const NOW = Date.parse('2026-03-02T19:00:00Z'); // a Monday
const bufferPolicy = (min: number): AutoscalerPolicy => ({ type: 'Buffer', buffer: buffer(1, min, 20) });
const schedule = (s: Omit<SchedulePolicy, 'policy'>, policy: AutoscalerPolicy = bufferPolicy(3)): AutoscalerPolicy => ({ type: 'Schedule', schedule: { ...s, policy } });
const active = schedule({ between: { start: '2026-03-01T00:00:00Z' } }, bufferPolicy(10));
const inactive = schedule({ between: { start: '2026-04-01T00:00:00Z' } }, bufferPolicy(8));
const webhookSays =
  (replicas: number): WebhookCaller =>
  async () => ({ replicas, limited: false });
const webhookFails: WebhookCaller = async () => {
  throw new AutoscalerWebhookError('bad status code 500 from the webhook at http://127.0.0.1:1/');
};
const brokenCounter: AutoscalerPolicy = { type: 'Counter', counter: capacity(1, 0, 10, 'missing') };
const chain = (...entries: Array<[string, AutoscalerPolicy]>): AutoscalerPolicy => ({ type: 'Chain', chain: entries.map(([id, p]) => ({ ...p, id })) });

interface DecisionCase {
  description: string;
  policy: AutoscalerPolicy;
  webhook?: WebhookCaller;
  expected: { replicas: number; limited: boolean; policy: string } | undefined | { error: string };
}

describe('computeDesiredReplicas', () => {
  const fleet = fleetViewFixture({ status: { replicas: 5, readyReplicas: 5 } });
  const cases: DecisionCase[] = [
    { description: 'Buffer reports its type', policy: bufferPolicy(3), expected: { replicas: 3, limited: true, policy: 'Buffer' } },
    { description: 'Webhook takes what the webhook says', policy: { type: 'Webhook', webhook: { url: 'http://127.0.0.1:1/' } }, webhook: webhookSays(7), expected: { replicas: 7, limited: false, policy: 'Webhook' } },
    { description: 'a failing Webhook fails the sync', policy: { type: 'Webhook', webhook: { url: 'http://127.0.0.1:1/' } }, webhook: webhookFails, expected: { error: ErrorCode.AUTOSCALER_WEBHOOK_FAILED } },
    { description: 'Wasm is not run locally', policy: { type: 'Wasm', wasm: { function: 'scale', from: { url: { url: 'http://127.0.0.1:1/' } } } }, expected: { error: ErrorCode.AUTOSCALER_POLICY_FAILED } },
    { description: 'an active Schedule applies its policy and reports Schedule', policy: active, expected: { replicas: 10, limited: true, policy: 'Schedule' } },
    { description: 'an inactive Schedule applies nothing', policy: inactive, expected: undefined },
    { description: 'a Schedule around a Webhook calls it only when active', policy: schedule({ between: { start: '2026-03-01T00:00:00Z' } }, { type: 'Webhook', webhook: { url: 'http://127.0.0.1:1/' } }), webhook: webhookSays(9), expected: { replicas: 9, limited: false, policy: 'Schedule' } },
    { description: 'Chain: the first entry that applies wins and reports its id', policy: chain(['peak', active], ['default', bufferPolicy(2)]), expected: { replicas: 10, limited: true, policy: 'peak' } },
    { description: 'Chain: an inactive Schedule falls through to the next entry', policy: chain(['later', inactive], ['default', bufferPolicy(2)]), expected: { replicas: 2, limited: true, policy: 'default' } },
    { description: 'Chain: of two active Schedules the first wins', policy: chain(['first', active], ['second', schedule({}, bufferPolicy(4))]), expected: { replicas: 10, limited: true, policy: 'first' } },
    { description: 'Chain: a failing Webhook falls through to the next entry', policy: chain(['hook', { type: 'Webhook', webhook: { url: 'http://127.0.0.1:1/' } }], ['default', bufferPolicy(6)]), webhook: webhookFails, expected: { replicas: 6, limited: true, policy: 'default' } },
    { description: 'Chain: a failing Counter falls through too', policy: chain(['rooms', brokenCounter], ['default', bufferPolicy(6)]), expected: { replicas: 6, limited: true, policy: 'default' } },
    { description: 'Chain: only inactive Schedules apply nothing', policy: chain(['a', inactive], ['b', inactive]), expected: undefined },
    { description: 'Chain: when the last entry fails, its error stands', policy: chain(['a', inactive], ['hook', { type: 'Webhook', webhook: { url: 'http://127.0.0.1:1/' } }]), webhook: webhookFails, expected: { error: ErrorCode.AUTOSCALER_WEBHOOK_FAILED } },
    { description: 'Chain: a failure followed by an inactive Schedule applies nothing', policy: chain(['rooms', brokenCounter], ['later', inactive]), expected: undefined },
    { description: 'Chain: an empty chain applies nothing', policy: { type: 'Chain', chain: [] }, expected: undefined },
  ];
  for (const c of cases) {
    it(c.description, async () => {
      const run = computeDesiredReplicas(c.policy, { fleet, scaleDownOrder: [], now: NOW }, c.webhook ?? webhookFails);
      if (c.expected && 'error' in c.expected) await expect(run).rejects.toMatchObject({ code: c.expected.error });
      else await expect(run).resolves.toEqual(c.expected);
    });
  }
});

describe('needsScaleDownOrder', () => {
  it('is true for Counter and List policies, wherever they sit', () => {
    expect(needsScaleDownOrder(bufferPolicy(1))).toBe(false);
    expect(needsScaleDownOrder(brokenCounter)).toBe(true);
    expect(needsScaleDownOrder(schedule({}, { type: 'List', list: capacity(1, 0, 10) }))).toBe(true);
    expect(needsScaleDownOrder(chain(['a', bufferPolicy(1)], ['b', brokenCounter]))).toBe(true);
    expect(needsScaleDownOrder(chain(['a', bufferPolicy(1)], ['b', inactive]))).toBe(false);
  });
});
