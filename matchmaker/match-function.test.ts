import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { makeMatches, windowAt } from './match-function.js';
import { parseMatchmakingRules } from './rules.js';
import type { ProposedMatch, QueueRules, Ticket } from './ticket.js';
import { randomTickets } from './ticket-workload.js';

// Table tests after Agones' style (description, inputs, expected), one rule at a time, then a
// property test over seeded random workloads.

const NOW = 1_767_225_600_000;

const DUEL: QueueRules = {
  name: 'duel',
  mode: 'duel',
  fleet: 'arena',
  teams: { count: 2, size: 1 },
  minPlayers: 2,
  maxPlayers: 2,
  fillWaitSeconds: 30,
  skill: { initial: 100, steps: [{ afterSeconds: 10, value: 300 }] },
  latency: { initial: 60, steps: [{ afterSeconds: 20, value: 100 }] },
  maxPartySize: 1,
  ticketTtlSeconds: 300,
  backfill: false,
  acceptTimeoutSeconds: null,
};

const UNLIMITED = { initial: Infinity, steps: [] };

const queue = (overrides: Partial<QueueRules>): QueueRules => ({ ...DUEL, ...overrides });

interface TicketSpec {
  /** Seconds waited at NOW. */
  waited?: number;
  /** One skill per player: the party's size. */
  skills?: number[];
  latencies?: Record<string, number>;
  requeuedAt?: number;
}

function ticket(id: string, spec: TicketSpec = {}): Ticket {
  const skills = spec.skills ?? [1000];
  return {
    id,
    queue: 'q',
    ownerId: `${id}-0`,
    players: skills.map((skill, i) => ({ playerId: `${id}-${i}`, skill })),
    latencies: spec.latencies ?? { eu: 20 },
    createdAt: NOW - (spec.waited ?? 0) * 1000,
    ...(spec.requeuedAt !== undefined && { requeuedAt: spec.requeuedAt }),
  };
}

interface Case {
  description: string;
  rules: QueueRules;
  /** Oldest first. */
  tickets: Ticket[];
  /** Per match: region and the ticket ids of each team. */
  expected: Array<{ region: string; teams: string[][] }>;
}

const TDM = queue({ name: 'tdm', teams: { count: 2, size: 4 }, minPlayers: 8, maxPlayers: 8, maxPartySize: 4, skill: UNLIMITED, latency: UNLIMITED });
const SHORT_TDM = { ...TDM, minPlayers: 6, fillWaitSeconds: 30 };
const solos = (prefix: string, n: number, spec: TicketSpec = {}): Ticket[] => Array.from({ length: n }, (_, i) => ticket(`${prefix}${i}`, spec));

const cases: Case[] = [
  { description: 'no tickets, no matches', rules: DUEL, tickets: [], expected: [] },
  { description: 'one ticket waits', rules: DUEL, tickets: [ticket('a')], expected: [] },
  {
    description: 'two close players make a duel',
    rules: DUEL,
    tickets: [ticket('a', { skills: [1000] }), ticket('b', { skills: [1090] })],
    expected: [{ region: 'eu', teams: [['b'], ['a']] }],
  },

  // Skill window.
  { description: 'a skill gap wider than the initial window waits', rules: DUEL, tickets: [ticket('a', { skills: [1000] }), ticket('b', { skills: [1200] })], expected: [] },
  {
    description: 'the window widens with the oldest ticket’s wait',
    rules: DUEL,
    tickets: [ticket('a', { skills: [1000], waited: 10 }), ticket('b', { skills: [1200] })],
    expected: [{ region: 'eu', teams: [['b'], ['a']] }],
  },
  {
    description: 'a young ticket’s own window does not widen the match',
    rules: DUEL,
    tickets: [ticket('a', { skills: [1000], waited: 9 }), ticket('b', { skills: [1200], waited: 9 })],
    expected: [],
  },
  {
    description: 'the gap is measured between party means',
    rules: queue({ teams: { count: 2, size: 2 }, maxPlayers: 4, minPlayers: 4, maxPartySize: 2 }),
    tickets: [ticket('a', { skills: [800, 1200] }), ticket('b', { skills: [950, 1100] })],
    expected: [{ region: 'eu', teams: [['b'], ['a']] }],
  },
  {
    description: 'the range covers the whole match, not only each ticket against the anchor',
    rules: queue({ teams: { count: 3, size: 1 }, maxPlayers: 3, minPlayers: 3 }),
    tickets: [ticket('a', { skills: [1000] }), ticket('b', { skills: [1080] }), ticket('c', { skills: [920] }), ticket('d', { skills: [1050] })],
    expected: [{ region: 'eu', teams: [['b'], ['d'], ['a']] }],
  },

  // Latency and regions.
  { description: 'a region beyond the initial latency limit waits', rules: DUEL, tickets: [ticket('a', { latencies: { eu: 80 } }), ticket('b', { latencies: { eu: 70 } })], expected: [] },
  {
    description: 'the latency limit widens with the oldest ticket’s wait',
    rules: DUEL,
    tickets: [ticket('a', { latencies: { eu: 80 }, waited: 20 }), ticket('b', { latencies: { eu: 70 } })],
    expected: [{ region: 'eu', teams: [['a'], ['b']] }],
  },
  {
    description: 'the region with the lowest worst-case latency wins',
    rules: DUEL,
    tickets: [ticket('a', { latencies: { eu: 20, us: 30 } }), ticket('b', { latencies: { eu: 55, us: 25 } })],
    expected: [{ region: 'us', teams: [['a'], ['b']] }],
  },
  {
    description: 'a region every member reaches, even if the anchor has a nearer one',
    rules: DUEL,
    tickets: [ticket('a', { latencies: { eu: 10, us: 50 } }), ticket('b', { latencies: { us: 40, asia: 5 } })],
    expected: [{ region: 'us', teams: [['a'], ['b']] }],
  },
  {
    description: 'equal worst-case latencies: the region nearest the anchor',
    rules: DUEL,
    tickets: [ticket('a', { latencies: { eu: 20, us: 10 } }), ticket('b', { latencies: { eu: 30, us: 30 } })],
    expected: [{ region: 'us', teams: [['a'], ['b']] }],
  },
  {
    description: 'a ticket with no region within the widest limit never matches, nor blocks others',
    rules: DUEL,
    tickets: [ticket('far', { latencies: { eu: 500 }, waited: 100 }), ticket('a'), ticket('b')],
    expected: [{ region: 'eu', teams: [['a'], ['b']] }],
  },

  // Age order.
  {
    description: 'the oldest tickets are matched first',
    rules: DUEL,
    tickets: [ticket('old'), ticket('mid'), ticket('young')],
    expected: [{ region: 'eu', teams: [['old'], ['mid']] }],
  },
  {
    description: 'no ticket is in two matches',
    rules: DUEL,
    tickets: solos('s', 5),
    expected: [
      { region: 'eu', teams: [['s0'], ['s1']] },
      { region: 'eu', teams: [['s2'], ['s3']] },
    ],
  },
  {
    description: 'a requeued ticket’s wait counts from createdAt',
    rules: DUEL,
    tickets: [ticket('back', { skills: [1000], waited: 15, requeuedAt: NOW - 1000 }), ticket('b', { skills: [1250] })],
    expected: [{ region: 'eu', teams: [['b'], ['back']] }],
  },
  {
    description: 'an old ticket that could not anchor joins a younger anchor’s match',
    rules: queue({ teams: { count: 3, size: 1 }, maxPlayers: 3, minPlayers: 3, skill: { initial: 100, steps: [] } }),
    // old takes x first (range 100) and then finds no third; so does x; y anchors and takes old and z.
    tickets: [ticket('old', { skills: [1000], waited: 50 }), ticket('x', { skills: [1100], waited: 40 }), ticket('y', { skills: [900], waited: 30 }), ticket('z', { skills: [950], waited: 20 })],
    expected: [{ region: 'eu', teams: [['old'], ['z'], ['y']] }],
  },

  // Parties.
  { description: 'a party larger than the queue allows is never matched', rules: DUEL, tickets: [ticket('duo', { skills: [1000, 1000] }), ticket('a'), ticket('b')], expected: [{ region: 'eu', teams: [['a'], ['b']] }] },
  {
    description: 'a party stays whole, on one team',
    rules: queue({ teams: { count: 2, size: 2 }, maxPlayers: 4, minPlayers: 4, maxPartySize: 2 }),
    tickets: [ticket('a'), ticket('duo', { skills: [1000, 1000] }), ticket('b')],
    expected: [{ region: 'eu', teams: [['duo'], ['a', 'b']] }],
  },
  {
    description: 'parties that cannot pack onto the teams are passed over',
    rules: queue({ teams: { count: 2, size: 3 }, maxPlayers: 6, minPlayers: 6, maxPartySize: 2, skill: UNLIMITED }),
    tickets: [ticket('d1', { skills: [1000, 1000] }), ticket('d2', { skills: [1000, 1000] }), ticket('d3', { skills: [1000, 1000] }), ticket('s1'), ticket('s2')],
    expected: [{ region: 'eu', teams: [['d1', 's1'], ['d2', 's2']] }],
  },
  {
    description: 'a full match needs repacking: a trio and two duos and a solo on 2 × 4',
    rules: TDM,
    tickets: [ticket('d1', { skills: [1000, 1000] }), ticket('d2', { skills: [1000, 1000] }), ticket('t', { skills: [1000, 1000, 1000] }), ticket('s')],
    expected: [{ region: 'eu', teams: [['t', 's'], ['d1', 'd2']] }],
  },

  {
    description: 'when staying even leaves no packing, any packing: two trios against three duos on 2 × 6',
    rules: queue({ teams: { count: 2, size: 6 }, maxPlayers: 12, minPlayers: 12, maxPartySize: 3, skill: UNLIMITED }),
    tickets: [ticket('t1', { skills: [1, 1, 1] }), ticket('t2', { skills: [1, 1, 1] }), ticket('d1', { skills: [1, 1] }), ticket('d2', { skills: [1, 1] }), ticket('d3', { skills: [1, 1] })],
    expected: [{ region: 'eu', teams: [['t1', 't2'], ['d1', 'd2', 'd3']] }],
  },

  // Team balance.
  {
    description: 'solo players are drafted like a snake: 1st and 4th against 2nd and 3rd',
    rules: queue({ teams: { count: 2, size: 2 }, maxPlayers: 4, minPlayers: 4, skill: UNLIMITED }),
    tickets: [ticket('s1000', { skills: [1000] }), ticket('s1800', { skills: [1800] }), ticket('s2000', { skills: [2000] }), ticket('s1900', { skills: [1900] })],
    expected: [{ region: 'eu', teams: [['s1000', 's2000'], ['s1800', 's1900']] }],
  },
  {
    description: 'parties first, each to the team with the lowest skill total that stays even',
    rules: TDM,
    tickets: [
      ticket('p4000', { skills: [2000, 2000] }),
      ticket('p2000', { skills: [1000, 1000] }),
      ticket('s1900', { skills: [1900] }),
      ticket('s1800', { skills: [1800] }),
      ticket('s1000', { skills: [1000] }),
      ticket('s900', { skills: [900] }),
    ],
    // 5900 against 5700.
    expected: [{ region: 'eu', teams: [['p4000', 's1000', 's900'], ['p2000', 's1900', 's1800']] }],
  },
  {
    description: 'three teams of two',
    rules: queue({ teams: { count: 3, size: 2 }, maxPlayers: 6, minPlayers: 6, skill: UNLIMITED }),
    tickets: [1500, 1400, 1300, 1200, 1100, 1000].map((s) => ticket(`s${s}`, { skills: [s] })),
    expected: [{ region: 'eu', teams: [['s1500', 's1000'], ['s1400', 's1100'], ['s1300', 's1200']] }],
  },

  // Filling.
  { description: 'short of players before fillWaitSeconds: no match', rules: SHORT_TDM, tickets: solos('s', 6, { waited: 29 }), expected: [] },
  {
    description: 'after fillWaitSeconds a match of minPlayers starts, teams even',
    rules: SHORT_TDM,
    tickets: solos('s', 6, { waited: 30 }),
    // Equal skills: ties go to the first team.
    expected: [{ region: 'eu', teams: [['s0', 's2', 's4'], ['s1', 's3', 's5']] }],
  },
  { description: 'fewer than minPlayers never start', rules: SHORT_TDM, tickets: solos('s', 5, { waited: 100 }), expected: [] },
  {
    description: 'a short match with a party: as even as the party allows',
    rules: SHORT_TDM,
    tickets: [ticket('quad', { skills: [1000, 1000, 1000, 1000], waited: 40 }), ticket('a'), ticket('b')],
    expected: [{ region: 'eu', teams: [['quad'], ['a', 'b']] }],
  },
  {
    description: 'a full match in a farther region beats a short one in a nearer region',
    rules: { ...SHORT_TDM, teams: { count: 2, size: 2 }, minPlayers: 2, maxPlayers: 4 },
    tickets: [
      ticket('a', { latencies: { eu: 10, us: 50 }, waited: 60 }),
      ticket('b', { latencies: { eu: 10 } }),
      ticket('c', { latencies: { us: 40 } }),
      ticket('d', { latencies: { us: 40 } }),
      ticket('e', { latencies: { us: 40 } }),
    ],
    expected: [{ region: 'us', teams: [['a', 'd'], ['c', 'e']] }],
  },
  {
    description: 'of short matches, the largest',
    rules: { ...SHORT_TDM, teams: { count: 2, size: 2 }, minPlayers: 2, maxPlayers: 4 },
    tickets: [ticket('a', { latencies: { eu: 10, us: 50 }, waited: 60 }), ticket('b', { latencies: { eu: 10 } }), ticket('c', { latencies: { us: 40 } }), ticket('d', { latencies: { us: 40 } })],
    expected: [{ region: 'us', teams: [['a', 'd'], ['c']] }],
  },
];

describe('makeMatches', () => {
  for (const c of cases) {
    it(c.description, () => {
      const matches = makeMatches(c.rules, c.tickets, NOW);
      expect(matches.map((m) => ({ region: m.region, teams: m.teams }))).toEqual(c.expected);
      for (const m of matches) {
        expect(m.queue).toBe(c.rules.name);
        expect(m.tickets.map((t) => t.id).sort()).toEqual(m.teams.flat().sort());
      }
    });
  }

  it('is deterministic and leaves its input alone', () => {
    const tickets = randomTickets({ seed: 7, count: 500, queue: 'tdm', maxPartySize: 4, now: NOW, spreadSeconds: 90 });
    const copy = structuredClone(tickets);
    const rules = { ...SHORT_TDM, skill: { initial: 150, steps: [{ afterSeconds: 20, value: 300 }] }, latency: { initial: 70, steps: [] } };
    expect(makeMatches(rules, tickets, NOW)).toEqual(makeMatches(rules, tickets, NOW));
    expect(tickets).toEqual(copy);
  });
});

describe('windowAt', () => {
  const window = { initial: 100, steps: [{ afterSeconds: 10, value: 200 }, { afterSeconds: 30, value: 400 }] };
  const cases: Array<[string, number, number]> = [
    ['before the first step', 9_999, 100],
    ['at a step', 10_000, 200],
    ['between steps', 29_000, 200],
    ['after the last step', 600_000, 400],
    ['a ticket from the future (clock skew)', -5_000, 100],
  ];
  for (const [description, wait, expected] of cases) it(description, () => expect(windowAt(window, wait)).toBe(expected));
});

describe('properties over seeded random workloads', () => {
  const config = parseMatchmakingRules(readFileSync('config/matchmaking.yaml', 'utf8'), 'config/matchmaking.yaml').queues;
  const workloads: Array<[string, QueueRules, number]> = [];
  for (const rules of config) for (const seed of [1, 2, 3]) workloads.push([`${rules.name}, seed ${seed}`, rules, seed]);

  for (const [name, rules, seed] of workloads) {
    it(name, () => {
      const tickets = randomTickets({ seed, count: 3000, queue: rules.name, maxPartySize: 4, now: NOW, spreadSeconds: 120 });
      const matches = makeMatches(rules, tickets, NOW);
      // Most players end up in a match (duel takes solo tickets only: under half of this workload).
      const players = (ts: readonly Ticket[]) => ts.reduce((n, t) => n + t.players.length, 0);
      expect(matches.reduce((n, m) => n + players(m.tickets), 0)).toBeGreaterThan(0.4 * players(tickets));
      checkProperties(rules, tickets, matches);
    });
  }
});

function checkProperties(rules: QueueRules, tickets: Ticket[], matches: ProposedMatch[]): void {
  const position = new Map(tickets.map((t, i) => [t.id, i]));
  const wait = (t: Ticket): number => NOW - t.createdAt;
  const mean = (t: Ticket): number => t.players.reduce((s, p) => s + p.skill, 0) / t.players.length;
  const matched = new Set<string>();
  const failures: string[] = [];
  const fail = (m: ProposedMatch, what: string): void => void failures.push(`${m.tickets.map((t) => t.id).join(',')}: ${what}`);

  for (const m of matches) {
    // Every ticket at most once; teams hold exactly the match's tickets.
    for (const t of m.tickets) {
      if (matched.has(t.id)) fail(m, `${t.id} is in two matches`);
      matched.add(t.id);
    }
    const ids = m.teams.flat();
    if (ids.length !== m.tickets.length || new Set(ids).size !== ids.length) fail(m, 'teams do not hold each ticket once');

    // Within the windows of the oldest ticket's wait.
    const oldest = Math.max(...m.tickets.map(wait));
    const skills = m.tickets.map(mean);
    if (Math.max(...skills) - Math.min(...skills) > windowAt(rules.skill, oldest)) fail(m, 'skill range beyond the window');
    if (m.tickets.some((t) => !((t.latencies[m.region] ?? Infinity) <= windowAt(rules.latency, oldest)))) fail(m, 'a latency beyond the limit');

    // Size: full, or short only after fillWaitSeconds; parties within the queue's limit.
    const size = (id: string): number => m.tickets.find((t) => t.id === id)!.players.length;
    const players = ids.reduce((s, id) => s + size(id), 0);
    if (players > rules.maxPlayers) fail(m, `${players} players`);
    if (players < rules.maxPlayers && (players < rules.minPlayers || oldest < rules.fillWaitSeconds * 1000)) fail(m, `short match of ${players} too early`);
    if (m.tickets.some((t) => t.players.length > rules.maxPartySize)) fail(m, 'party too large');

    // Teams: the queue's count, none over size, sizes within the largest party of each other.
    const teamSizes = m.teams.map((team) => team.reduce((s, id) => s + size(id), 0));
    const largest = Math.max(...m.tickets.map((t) => t.players.length));
    if (m.teams.length !== rules.teams.count || teamSizes.some((s) => s > rules.teams.size)) fail(m, `teams ${teamSizes.join('/')}`);
    if (Math.max(...teamSizes) - Math.min(...teamSizes) > largest) fail(m, `uneven teams ${teamSizes.join('/')}`);
  }

  // Oldest-first fairness: a ticket left waiting could not have taken the place of a younger
  // member of the same party size. Of two such members one at least did not anchor the match, and
  // was taken only after the waiting ticket was considered; the narrowest window (the youngest
  // member's) is checked, which the match's own is at least as wide as.
  for (const t of tickets) {
    if (matched.has(t.id) || t.players.length > rules.maxPartySize) continue;
    for (const m of matches) {
      const younger = m.tickets.filter((u) => position.get(u.id)! > position.get(t.id)! && u.players.length === t.players.length);
      if (younger.length < 2) continue;
      const narrowest = Math.min(...m.tickets.map(wait));
      const skills = [...m.tickets.map(mean), mean(t)];
      const fits = Math.max(...skills) - Math.min(...skills) <= windowAt(rules.skill, narrowest) && (t.latencies[m.region] ?? Infinity) <= windowAt(rules.latency, narrowest);
      if (fits) fail(m, `${t.id} waits though it could replace ${younger[0]!.id}`);
    }
  }
  expect(failures).toEqual([]);
}
