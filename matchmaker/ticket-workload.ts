import type { Ticket } from './ticket.js';
import { seededRandom } from '../core/seeded-random.js';

// Seeded, realistic waiting tickets for the match function's property test and benchmark: players
// spread over five regions by population, latency from their home (access plus the distance
// between regions, only regions a client would report), skill normally distributed (1500 ± 350)
// with party members near each other, and mostly solo players.

const REGIONS = ['eu-west', 'us-east', 'us-west', 'ap-southeast', 'sa-east'] as const;
const POPULATION = [0.35, 0.25, 0.15, 0.15, 0.1];
/** Round trip between regions, ms (symmetric). */
const DISTANCE: number[][] = [
  [0, 80, 140, 170, 190],
  [80, 0, 65, 210, 120],
  [140, 65, 0, 160, 170],
  [170, 210, 160, 0, 300],
  [190, 120, 170, 300, 0],
];
/** Beyond this a client does not report the region. */
const REPORTED_MS = 250;
/** Party sizes 1, 2, 3, 4 with these odds (cut at the queue's largest party). */
const PARTY_ODDS = [0.7, 0.15, 0.08, 0.07];

export interface WorkloadOptions {
  seed: number;
  count: number;
  queue: string;
  maxPartySize: number;
  now: number;
  /** Tickets were created over this many seconds before `now`, evenly. */
  spreadSeconds: number;
  /** Prefix of ticket and player ids, so several workloads can share a queue. */
  idPrefix?: string;
}

/** `count` tickets, oldest first. */
export function randomTickets(o: WorkloadOptions): Ticket[] {
  const random = seededRandom(o.seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const pick = (weights: number[]): number => {
    let r = random() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < weights.length; i++) if ((r -= weights[i]!) < 0) return i;
    return weights.length - 1;
  };
  const clampSkill = (s: number): number => Math.round(Math.min(5000, Math.max(0, s)));
  const prefix = o.idPrefix ?? '';
  const tickets: Ticket[] = [];
  for (let i = 0; i < o.count; i++) {
    const home = pick(POPULATION);
    const access = 10 + random() * 40;
    const latencies: Record<string, number> = {};
    REGIONS.forEach((region, r) => {
      const rtt = Math.round(access + DISTANCE[home]![r]! + random() * 10);
      if (rtt <= REPORTED_MS) latencies[region] = rtt;
    });
    const size = 1 + pick(PARTY_ODDS.slice(0, o.maxPartySize));
    const mean = 1500 + 350 * normal();
    const players = Array.from({ length: size }, (_, p) => ({ playerId: `${prefix}p${i}-${p}`, skill: clampSkill(mean + (size > 1 ? 150 * normal() : 0)) }));
    tickets.push({ id: `${prefix}t${i}`, queue: o.queue, ownerId: players[0]!.playerId, players, latencies, createdAt: 0 });
  }
  const created = Array.from({ length: o.count }, () => o.now - Math.round(random() * o.spreadSeconds * 1000)).sort((a, b) => a - b);
  tickets.forEach((t, i) => (t.createdAt = created[i]!));
  return tickets;
}
