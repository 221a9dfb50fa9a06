import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { ErrorCode, PlayerAlreadyQueuedError, TicketExistsError } from '../../core/errors.js';
import type { MatchEvents } from '../../matchmaker/queue/match-events.js';
import { MemoryMatchEvents } from '../../matchmaker/queue/memory-match-events.js';
import { MemoryTicketQueue } from '../../matchmaker/queue/memory-ticket-queue.js';
import { RedisMatchEvents } from '../../matchmaker/queue/redis-match-events.js';
import { RedisTicketQueue } from '../../matchmaker/queue/redis-ticket-queue.js';
import type { TicketQueue } from '../../matchmaker/queue/ticket-queue.js';
import type { MatchmakerMessage, PlayerEvent, Ticket } from '../../matchmaker/ticket.js';
import { seededRandom } from '../../core/seeded-random.js';
import { removeRedisKeys } from '../helpers/redis-keys.js';

// One suite over every TicketQueue and MatchEvents implementation. Redis runs against a real server
// at 127.0.0.1:6379 (CI starts one); each test uses its own key prefix and removes its keys after.

const REDIS = { host: '127.0.0.1', port: 6379 };
const NOW = 1_767_225_600_000;
/** The lease tests claim with (ms). */
const LEASE = 6000;

interface Harness {
  queue: TicketQueue;
  /** Another client of the same tickets, as another process would be (memory: the same queue). */
  peer(): TicketQueue;
  /** Event buses of two processes (memory: the same bus). */
  events(): [MatchEvents, MatchEvents];
  close(): Promise<void>;
}

const admin = new Redis(REDIS);
afterAll(async () => {
  await admin.quit();
});

const removeKeys = (prefix: string) => removeRedisKeys(admin, prefix);

/** The queues' clock: claims, requeues and sightings are stamped with it; a test may move it. */
let clockNow = NOW + 60_000;
const clock = { now: () => clockNow };

const QUEUES: Array<[string, () => Harness]> = [
  [
    'memory',
    () => {
      const queue = new MemoryTicketQueue({ clock });
      const bus = new MemoryMatchEvents();
      return { queue, peer: () => queue, events: () => [bus, bus], close: () => Promise.all([queue.close(), bus.close()]).then(() => undefined) };
    },
  ],
  [
    'redis',
    () => {
      const prefix = `hangar-test:${randomUUID()}:`;
      const clients: Array<{ close(): Promise<void> }> = [];
      const make = (): RedisTicketQueue => {
        const q = new RedisTicketQueue({ connection: REDIS, prefix, clock });
        clients.push(q);
        return q;
      };
      const bus = (): RedisMatchEvents => {
        const b = new RedisMatchEvents({ connection: REDIS, prefix });
        clients.push(b);
        return b;
      };
      return {
        queue: make(),
        peer: make,
        events: () => [bus(), bus()],
        close: async () => {
          await Promise.all(clients.map((c) => c.close()));
          await removeKeys(prefix);
        },
      };
    },
  ],
];

/** A ticket of `queue` created `age` ms before NOW, with players `<id>-0`, `<id>-1`... */
function ticket(id: string, o: { queue?: string; age?: number; players?: number; createdAt?: number } = {}): Ticket {
  const players = Array.from({ length: o.players ?? 1 }, (_, i) => ({ playerId: `${id}-${i}`, skill: 1234.5678 + i }));
  return { id, queue: o.queue ?? 'duel', ownerId: players[0]!.playerId, players, latencies: { 'eu-west': 23, 'us-east': 97.25 }, createdAt: o.createdAt ?? NOW - (o.age ?? 0) };
}

const ids = (tickets: Ticket[]): string[] => tickets.map((t) => t.id);

describe.each(QUEUES)('TicketQueue: %s', (_name, make) => {
  let h: Harness;
  let queue: TicketQueue;
  beforeEach(() => {
    clockNow = NOW + 60_000;
    h = make();
    queue = h.queue;
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps a ticket exactly as added', async () => {
    const t: Ticket = { ...ticket('t1', { players: 3 }), ownerId: 't1-1', latencies: { 'eu-west': 23.125, 'ap-south': 0 }, createdAt: 1_767_225_600_123 };
    t.players[2]!.playerId = 'pläyer "quoted" ✓';
    await queue.add(t);
    expect(await queue.get('t1')).toEqual({ ...t, state: 'waiting' });
    expect(await queue.waiting('duel', 10)).toEqual([t]);
    expect(await queue.get('nope')).toBeUndefined();
  });

  it("keeps a ticket as added when its caller changes the object afterwards; a frozen one is kept as it is", async () => {
    const t = ticket('t1', { players: 2 });
    const added = structuredClone(t);
    await queue.add(t);
    t.players[0]!.skill = 1;
    t.players.pop();
    t.latencies['eu-west'] = 999;
    expect(await queue.waiting('duel', 10)).toEqual([added]);

    const f = ticket('f1');
    Object.freeze(f.players[0]);
    Object.freeze(f.players);
    Object.freeze(f.latencies);
    await queue.add(Object.freeze(f));
    expect(await queue.get('f1')).toEqual({ ...ticket('f1'), state: 'waiting' });
  });

  it('lists waiting tickets oldest first by createdAt, then id, up to the limit', async () => {
    await queue.add(ticket('c', { age: 1000 }));
    await queue.add(ticket('a', { age: 3000 }));
    await queue.add(ticket('b2', { age: 2000 }));
    await queue.add(ticket('b1', { age: 2000 }));
    await queue.add(ticket('other', { queue: 'tdm', age: 5000 }));
    expect(ids(await queue.waiting('duel', 10))).toEqual(['a', 'b1', 'b2', 'c']);
    expect(ids(await queue.waiting('duel', 2))).toEqual(['a', 'b1']);
    expect(await queue.waiting('duel', 0)).toEqual([]);
    expect(ids(await queue.waiting('tdm', 10))).toEqual(['other']);
    expect(await queue.waiting('none', 10)).toEqual([]);
    expect([await queue.count('duel'), await queue.count('tdm'), await queue.count('none')]).toEqual([4, 1, 0]);
  });

  it('cancels waiting tickets only', async () => {
    await queue.add(ticket('a'));
    await queue.add(ticket('b'));
    expect(await queue.claim(['b'], 'm1', LEASE)).toBe(true);
    expect(await queue.cancel('b')).toBe(false);
    expect(await queue.get('b')).toMatchObject({ state: 'claimed', matchId: 'm1' });
    expect(await queue.cancel('a')).toBe(true);
    expect(await queue.cancel('a')).toBe(false);
    expect(await queue.cancel('never')).toBe(false);
    expect(await queue.get('a')).toBeUndefined();
    expect(await queue.count('duel')).toBe(0);
    // The player is free again.
    await queue.add(ticket('a'));
  });

  it('refuses a player who already has a waiting or claimed ticket, in any queue, and changes nothing', async () => {
    await queue.add(ticket('solo'));
    await queue.add(ticket('party', { players: 3 }));
    const again = { ...ticket('solo-again', { queue: 'tdm' }), players: [{ playerId: 'fresh', skill: 1 }, { playerId: 'solo-0', skill: 1 }] };
    const err = await queue.add(again).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlayerAlreadyQueuedError);
    expect(err).toMatchObject({ code: ErrorCode.TICKET_REJECTED, playerId: 'solo-0', ticketId: 'solo' });
    // All or nothing: "fresh" was not registered by the refused ticket.
    await queue.add({ ...ticket('fresh-ticket'), players: [{ playerId: 'fresh', skill: 1 }] });
    expect(await queue.get('solo-again')).toBeUndefined();
    expect(await queue.count('tdm')).toBe(0);

    // Claimed still counts; a completed ticket frees its players.
    await queue.claim(['party'], 'm1', LEASE);
    await expect(queue.add({ ...ticket('x'), players: [{ playerId: 'party-2', skill: 1 }] })).rejects.toMatchObject({ playerId: 'party-2', ticketId: 'party' });
    await queue.complete(['party'], 'm1');
    await queue.add({ ...ticket('x'), players: [{ playerId: 'party-2', skill: 1 }] });
  });

  it('refuses a ticket id it already holds', async () => {
    await queue.add(ticket('t1'));
    const err = await queue.add({ ...ticket('t1'), players: [{ playerId: 'someone-else', skill: 1 }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TicketExistsError);
    expect(err).toMatchObject({ code: ErrorCode.TICKET_EXISTS });
    await queue.add({ ...ticket('t2'), players: [{ playerId: 'someone-else', skill: 1 }] });
  });

  it('claims all tickets or none', async () => {
    for (const id of ['a', 'b', 'c', 'd']) await queue.add(ticket(id));
    expect(await queue.claim(['a', 'b'], 'm1', LEASE)).toBe(true);
    expect(await queue.claim(['b', 'c'], 'm2', LEASE)).toBe(false);
    expect(await queue.claim(['c', 'missing'], 'm2', LEASE)).toBe(false);
    expect(await queue.get('c')).toEqual({ ...ticket('c'), state: 'waiting' });
    expect(await queue.get('a')).toMatchObject({ state: 'claimed', matchId: 'm1' });
    expect(ids(await queue.waiting('duel', 10))).toEqual(['c', 'd']);
    expect(await queue.count('duel')).toBe(2);
    expect(await queue.claim(['c', 'd'], 'm2', LEASE)).toBe(true);
    expect(await queue.count('duel')).toBe(0);
  });

  it('never hands one ticket to two matches, however many clients race', async () => {
    const TICKETS = 300;
    const CLIENTS = 6;
    const TRIES = 120;
    await Promise.all(Array.from({ length: TICKETS }, (_, i) => queue.add(ticket(`t${i}`, { age: i }))));
    const random = seededRandom(99);
    const clients = Array.from({ length: CLIENTS }, () => h.peer());
    const attempts = clients.flatMap((client, c) =>
      Array.from({ length: TRIES }, (_, k) => {
        const group = new Set<string>();
        while (group.size < 4) group.add(`t${Math.floor(random() * TICKETS)}`);
        const matchId = `m${c}-${k}`;
        return { client, matchId, group: [...group] };
      }),
    );
    const won = await Promise.all(attempts.map(async (a) => ((await a.client.claim(a.group, a.matchId, LEASE)) ? a : undefined)));
    const winners = won.filter((w) => w !== undefined);
    expect(winners.length).toBeGreaterThan(10);
    const owner = new Map<string, string>();
    for (const w of winners) {
      for (const id of w.group) {
        expect(owner.get(id)).toBeUndefined();
        owner.set(id, w.matchId);
      }
    }
    const states = await Promise.all(Array.from({ length: TICKETS }, (_, i) => queue.get(`t${i}`)));
    for (const s of states) expect(s!.matchId).toBe(owner.get(s!.id));
    expect(states.filter((s) => s!.state === 'claimed')).toHaveLength(owner.size);
    expect(await queue.count('duel')).toBe(TICKETS - owner.size);
  });

  it('requeues claimed tickets at their old place, stamped', async () => {
    for (const [id, age] of [['a', 4000], ['b', 3000], ['c', 2000], ['d', 1000]] as const) await queue.add(ticket(id, { age }));
    await queue.claim(['b', 'c'], 'm1', LEASE);
    await queue.add(ticket('e'));
    // All or none: "a" is waiting, not claimed for m1.
    expect(await queue.requeue(['c', 'b', 'a'], 'm1')).toBe(false);
    expect(await queue.requeue(['c', 'missing'], 'm1')).toBe(false);
    expect(ids(await queue.waiting('duel', 10))).toEqual(['a', 'd', 'e']);
    expect(await queue.requeue(['c', 'b'], 'm1')).toBe(true);
    expect(ids(await queue.waiting('duel', 10))).toEqual(['a', 'b', 'c', 'd', 'e']);
    const b = await queue.get('b');
    expect(b).toEqual({ ...ticket('b', { age: 3000 }), state: 'waiting', requeuedAt: NOW + 60_000 });
    expect((await queue.waiting('duel', 2))[1]).toEqual({ ...ticket('b', { age: 3000 }), requeuedAt: NOW + 60_000 });
    // "a" was waiting: untouched.
    expect((await queue.get('a'))!.requeuedAt).toBeUndefined();
    expect(await queue.count('duel')).toBe(5);
    // Claimable again, and cancellable again.
    expect(await queue.claim(['b'], 'm2', LEASE)).toBe(true);
    expect(await queue.cancel('c')).toBe(true);
  });

  it('completes claimed tickets only', async () => {
    await queue.add(ticket('a'));
    await queue.add(ticket('b'));
    await queue.claim(['a'], 'm1', LEASE);
    // All or none: "b" is waiting.
    expect(await queue.complete(['a', 'b'], 'm1')).toBe(false);
    expect(await queue.complete(['a', 'missing'], 'm1')).toBe(false);
    expect(await queue.get('a')).toMatchObject({ state: 'claimed', matchId: 'm1' });
    expect(await queue.complete(['a'], 'm1')).toBe(true);
    expect(await queue.get('a')).toBeUndefined();
    expect(await queue.get('b')).toMatchObject({ state: 'waiting' });
    expect(await queue.requeue(['a'], 'm1')).toBe(false);
    expect(await queue.get('a')).toBeUndefined();
    await queue.add(ticket('a'));
  });

  it('requeues and completes only tickets claimed for the match named', async () => {
    await queue.add(ticket('a', { age: 2000 }));
    await queue.add(ticket('b', { age: 1000 }));
    await queue.claim(['a'], 'm1', LEASE);
    await queue.claim(['b'], 'm2', LEASE);
    // A late answer about m1 must not touch m2's tickets.
    expect(await queue.requeue(['a', 'b'], 'm1')).toBe(false);
    expect(await queue.complete(['b'], 'm1')).toBe(false);
    expect(await queue.requeue(['a'], 'm1')).toBe(true);
    expect(await queue.get('a')).toMatchObject({ state: 'waiting' });
    expect(await queue.get('b')).toMatchObject({ state: 'claimed', matchId: 'm2' });
    await queue.complete(['b'], 'm2');
    expect(await queue.get('b')).toBeUndefined();
  });

  it('puts claims whose lease ran out back in the queue (their matchmaker stopped renewing), and only those', async () => {
    const start = clockNow;
    try {
      await queue.add(ticket('a', { age: 3000 }));
      await queue.add(ticket('b', { age: 2000 }));
      await queue.add(ticket('c', { age: 1000 }));
      await queue.add(ticket('d', { age: 500 }));
      expect(await queue.claim(['a', 'b'], 'm1', LEASE)).toBe(true);
      expect(await queue.claim(['d'], 'm2', LEASE)).toBe(true);
      // A claimed ticket says when its lease runs out (a waiting one has none).
      expect(await queue.get('a')).toMatchObject({ state: 'claimed', leaseUntil: start + LEASE });
      expect((await queue.get('c'))!.leaseUntil).toBeUndefined();
      clockNow = start + 4000;
      // m2's matchmaker is alive: it renews; m1's stopped.
      expect(await queue.renew(['d'], 'm2', LEASE)).toBe(true);
      expect(await queue.get('d')).toMatchObject({ leaseUntil: start + 4000 + LEASE });
      expect(await queue.releaseStale(start + LEASE)).toEqual([]);
      expect(await queue.get('a')).toMatchObject({ state: 'claimed' });
      clockNow = start + LEASE + 1;
      const released = await queue.releaseStale(clockNow);
      expect(released.map((r) => [r.ticket.id, r.matchId])).toEqual([
        ['a', 'm1'],
        ['b', 'm1'],
      ]);
      expect(released[0]!.ticket).toEqual({ ...ticket('a', { age: 3000 }), requeuedAt: clockNow });
      expect((await queue.get('a'))!.leaseUntil).toBeUndefined();
      expect(ids(await queue.waiting('duel', 10))).toEqual(['a', 'b', 'c']);
      expect(await queue.get('d')).toMatchObject({ state: 'claimed', matchId: 'm2' });
      expect(await queue.releaseStale(clockNow)).toEqual([]);
      // The stopped matchmaker's late word changes nothing, and says so; a new claim wins.
      expect(await queue.renew(['a', 'b'], 'm1', LEASE)).toBe(false);
      expect(await queue.complete(['a'], 'm1')).toBe(false);
      expect(await queue.requeue(['b'], 'm1')).toBe(false);
      expect(await queue.get('a')).toMatchObject({ state: 'waiting' });
      expect(await queue.claim(['a'], 'm3', LEASE)).toBe(true);
      expect(await queue.complete(['a'], 'm1')).toBe(false);
      expect(await queue.get('a')).toMatchObject({ state: 'claimed', matchId: 'm3' });
      // A renewed lease holds a full lease from the renewal, however long ago the claim was made.
      clockNow = start + 3 * LEASE;
      expect(await queue.renew(['d'], 'm2', LEASE)).toBe(true);
      expect((await queue.releaseStale(clockNow + LEASE - 1)).map((r) => r.ticket.id)).toEqual(['a']);
      expect(await queue.get('d')).toMatchObject({ state: 'claimed', matchId: 'm2' });
    } finally {
      clockNow = start;
    }
  });

  it('settles every race between a lapsed claim\'s matchmaker and the one taking it back: each ticket is matched once', async () => {
    const start = clockNow;
    try {
      const TICKETS = 60;
      await Promise.all(Array.from({ length: TICKETS }, (_, i) => queue.add(ticket(`t${i}`, { age: i }))));
      for (let i = 0; i < TICKETS; i += 2) expect(await queue.claim([`t${i}`, `t${i + 1}`], `old${i}`, LEASE)).toBe(true);
      clockNow = start + LEASE + 1;
      const late = h.peer();
      const rescuer = h.peer();
      // The stalled matchmaker wakes up and delivers (or renews) while another takes the claims back and claims them anew.
      const delivered: string[] = [];
      const reclaimed: string[] = [];
      await Promise.all([
        ...Array.from({ length: TICKETS / 2 }, async (_, k) => {
          const pair = [`t${2 * k}`, `t${2 * k + 1}`];
          const ok = k % 2 ? await late.complete(pair, `old${2 * k}`) : await late.renew(pair, `old${2 * k}`, LEASE);
          if (ok) delivered.push(...pair);
        }),
        (async () => {
          for (const { ticket: t } of await rescuer.releaseStale(clockNow)) if (await rescuer.claim([t.id], `new-${t.id}`, LEASE)) reclaimed.push(t.id);
        })(),
      ]);
      expect(delivered.filter((id) => reclaimed.includes(id))).toEqual([]);
      expect(new Set([...delivered, ...reclaimed]).size).toBe(delivered.length + reclaimed.length);
      expect(delivered.length + reclaimed.length).toBe(TICKETS);
    } finally {
      clockNow = start;
    }
  });

  it('expires waiting tickets created before the bound, freeing their players', async () => {
    await queue.add(ticket('old', { age: 5000 }));
    await queue.add(ticket('edge', { age: 3000 }));
    await queue.add(ticket('young', { age: 1000 }));
    await queue.add(ticket('claimed', { age: 9000 }));
    await queue.add(ticket('requeued', { age: 8000 }));
    await queue.add(ticket('elsewhere', { queue: 'tdm', age: 9000 }));
    await queue.claim(['claimed', 'requeued'], 'm1', LEASE);
    await queue.requeue(['requeued'], 'm1');
    const { expired, absent } = await queue.expire('duel', { createdBefore: NOW - 3000, seenBefore: 0 });
    expect(absent).toEqual([]);
    expect(ids(expired)).toEqual(['requeued', 'old']);
    expect(expired[1]).toEqual(ticket('old', { age: 5000 }));
    expect(ids(await queue.waiting('duel', 10))).toEqual(['edge', 'young']);
    expect(await queue.get('claimed')).toMatchObject({ state: 'claimed' });
    expect(await queue.count('tdm')).toBe(1);
    expect(await queue.expire('duel', { createdBefore: NOW - 3000, seenBefore: 0 })).toEqual({ expired: [], absent: [] });
    await queue.add(ticket('old'));
  });

  it('drops waiting tickets none of whose players was seen since the bound; touches from any client count', async () => {
    const other = h.peer();
    const added = clockNow;
    await queue.add(ticket('a'));
    await queue.add(ticket('party', { players: 2 }));
    await queue.add(ticket('claimed'));
    await queue.add(ticket('later'));
    await queue.add(ticket('elsewhere', { queue: 'tdm' }));
    clockNow += 1000;
    await other.touch(['later-0', 'party-1', 'no-ticket']);
    await queue.claim(['claimed'], 'm1', LEASE);
    const bounds = { createdBefore: 0, seenBefore: added + 1 };

    const { expired, absent } = await queue.expire('duel', bounds);
    expect(expired).toEqual([]);
    expect(ids(absent)).toEqual(['a']);
    expect(absent[0]).toEqual(ticket('a'));
    // Being matched, a ticket is its accept step's; back in the queue, it is absent as it was.
    expect(await queue.get('claimed')).toMatchObject({ state: 'claimed' });
    expect(ids(await queue.waiting('duel', 10))).toEqual(['later', 'party']);
    expect(await queue.count('tdm')).toBe(1);
    await queue.add(ticket('a')); // its player is free
    await queue.requeue(['claimed'], 'm1');
    expect(ids((await other.expire('duel', bounds)).absent)).toEqual(['claimed']);

    // An expired ticket counts as expired, not absent; a touch after the bound keeps a ticket.
    clockNow += 1000;
    await queue.touch(['a-0']);
    clockNow += 1000;
    await queue.touch(['party-0']);
    const both = await queue.expire('duel', { createdBefore: NOW + 1, seenBefore: clockNow + 1 });
    expect(ids(both.expired)).toEqual(['a', 'later', 'party']);
    expect(both.absent).toEqual([]);
    await queue.add(ticket('x', { age: -10_000 }));
    await queue.add(ticket('y', { age: -20_000 }));
    clockNow += 1000;
    await queue.touch(['x-0']);
    expect(ids((await queue.expire('duel', { createdBefore: NOW + 1, seenBefore: clockNow })).absent)).toEqual(['y']);
    expect(ids((await queue.expire('duel', { createdBefore: NOW + 1, seenBefore: clockNow + 1 })).absent)).toEqual(['x']);
    expect(await queue.count('duel')).toBe(0);
  });

  it('forgets when a ticket was seen once it leaves the queue', async () => {
    await queue.add(ticket('cancelled'));
    await queue.add(ticket('matched'));
    await queue.cancel('cancelled');
    await queue.claim(['matched'], 'm1', LEASE);
    await queue.complete(['matched'], 'm1');
    await queue.add({ ...ticket('again'), players: [{ playerId: 'matched-0', skill: 1 }] });
    clockNow += 1000;
    // Only the new ticket is there to be absent.
    expect(ids((await queue.expire('duel', { createdBefore: 0, seenBefore: clockNow })).absent)).toEqual(['again']);
  });

  it('shares tickets between clients', async () => {
    const other = h.peer();
    await queue.add(ticket('a'));
    expect(ids(await other.waiting('duel', 10))).toEqual(['a']);
    expect(await other.claim(['a'], 'm1', LEASE)).toBe(true);
    expect(await queue.claim(['a'], 'm2', LEASE)).toBe(false);
    await expect(other.add({ ...ticket('b'), players: [{ playerId: 'a-0', skill: 1 }] })).rejects.toBeInstanceOf(PlayerAlreadyQueuedError);
  });
});

describe.each(QUEUES)('MatchEvents: %s', (_name, make) => {
  let h: Harness;
  beforeEach(() => {
    h = make();
  });
  afterEach(async () => {
    await h.close();
  });

  const queued: PlayerEvent = { type: 'queued', ticketId: 't1', queue: 'duel', estimatedWaitSeconds: null };
  const matched: PlayerEvent = {
    type: 'matched',
    ticketId: 't1',
    matchId: 'm1',
    team: 1,
    server: { address: '10.0.0.7', port: 7042, ports: [{ name: 'default', port: 7042 }], name: 'arena-x7k2p' },
    connectToken: 'AAEC',
  };

  /** Resolves with the first `n` events `bus` hears. */
  function hear(bus: MatchEvents, n: number): Promise<Array<[string, MatchmakerMessage]>> {
    const heard: Array<[string, MatchmakerMessage]> = [];
    return new Promise((resolve) => {
      const off = bus.subscribe((playerId, event) => {
        heard.push([playerId, event]);
        if (heard.length === n) {
          off();
          resolve(heard);
        }
      });
    });
  }

  it('delivers events published by one process to the listeners of another, in order', async () => {
    const [a, b] = h.events();
    const onB = hear(b, 3);
    const onA = hear(a, 3);
    await Promise.all([a.subscribed(), b.subscribed()]);
    await a.publish('p1', queued);
    await a.publish('p2', { type: 'cancelled', ticketId: 't2', by: 'p2', reason: 'p2 cancelled the ticket' });
    await a.publish('p1', matched);
    const expected = [
      ['p1', queued],
      ['p2', { type: 'cancelled', ticketId: 't2', by: 'p2', reason: 'p2 cancelled the ticket' }],
      ['p1', matched],
    ];
    expect(await onB).toEqual(expected);
    expect(await onA).toEqual(expected);
  });

  it('stops delivering after unsubscribe, and a throwing listener does not stop the others', async () => {
    const [a, b] = h.events();
    const stopped: string[] = [];
    const off = b.subscribe((playerId) => stopped.push(playerId));
    b.subscribe(() => {
      throw new Error('listener bug');
    });
    const first = hear(b, 1);
    await b.subscribed();
    await a.publish('p1', queued);
    expect((await first).map(([p]) => p)).toEqual(['p1']);
    off();
    const second = hear(b, 1);
    await a.publish('p2', queued);
    expect((await second).map(([p]) => p)).toEqual(['p2']);
    expect(stopped).toEqual(['p1']);
  });
});
