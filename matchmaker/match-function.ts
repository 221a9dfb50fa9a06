import { widest, type ProposedMatch, type QueueRules, type Ticket, type WideningWindow } from './ticket.js';

// The match function: a queue's waiting tickets in, proposed matches out. Pure and deterministic:
// the same rules, tickets and `now` give the same matches, so the loop around it (claim, allocate,
// requeue) can be tested apart and any process can run it.
//
// How a match is formed
//   1. Anchors, oldest first. Each ticket not yet matched anchors a search in turn. The skill
//      window and the latency limit come from the anchor's wait (createdAt to now), widened by the
//      queue's steps. Older tickets that could not anchor a match of their own may join a younger
//      anchor's: they have waited longer, so their own windows are at least as wide as the one used.
//   2. Regions. For each region the anchor reaches within the limit (nearest first), candidates
//      are taken oldest first: a candidate joins when its latency to the region is within the
//      limit, the group's skill range (highest minus lowest party mean) stays within the window, the
//      player count stays within maxPlayers, and the parties still pack onto the teams (a party is
//      never split). The search stops at maxPlayers: a full match.
//   3. Choice. The full group with the lowest worst-case latency wins (ties: the region nearest the
//      anchor, then by name). With none full, once the anchor has waited fillWaitSeconds, the
//      largest group of at least minPlayers is made instead (ties: lowest worst-case latency).
//      Otherwise the anchor keeps waiting and the next ticket anchors.
//   4. Teams. Parties, largest first and then by total skill (highest first), each go to the team
//      with the lowest skill total among those it fits without getting more than one largest-party
//      ahead of the smallest team. For solo players that is a snake draft (1st and 4th against 2nd
//      and 3rd), and team sizes never differ by more than the largest party. When that rule leaves
//      no packing (rare: parties of uneven sizes), any packing is used.
//
// Speed: tickets are bucketed by region (every region within the widest latency limit) and by skill
// band (about the initial skill window wide), each bucket in age order. A search merges the few
// buckets its window touches, so it reads the anchor's neighbourhood, not the whole queue; runs of
// used tickets are jumped over (skip pointers with path compression), so they cost nothing after
// the first look; and a neighbourhood with too few unused players within the anchor's latency limit
// for any group that could be chosen is not searched at all. matchmaker/match-function.bench.ts
// measures it.

/** The window's value after waiting `waitMs`: the last step reached, or `initial`. */
export function windowAt(window: WideningWindow, waitMs: number): number {
  let value = window.initial;
  for (const step of window.steps) {
    if (waitMs < step.afterSeconds * 1000) break;
    value = step.value;
  }
  return value;
}

/**
 * Proposes matches from `tickets`: one queue's waiting tickets, in priority order (oldest first,
 * requeued tickets at their old place). No ticket is in two matches. Tickets with a party larger
 * than the queue allows, or with no region within the widest latency limit, are never matched.
 */
export function makeMatches(rules: QueueRules, tickets: readonly Ticket[], now: number): ProposedMatch[] {
  const index = new TicketIndex(rules, tickets);
  const matches: ProposedMatch[] = [];
  for (const anchor of index.entries) {
    if (anchor.used) continue;
    const group = index.bestGroup(anchor, now);
    if (group) matches.push(index.take(group));
  }
  return matches;
}

interface Entry {
  ticket: Ticket;
  /** Position in the input: the priority. */
  order: number;
  size: number;
  /** The party's mean skill: what the skill window compares. */
  skill: number;
  /** The party's skill sum: what team balance adds up. */
  total: number;
  used: boolean;
  /** The regions within the widest latency limit, with their latencies, this entry's bucket there and its index in it. */
  regions: string[];
  latencies: number[];
  buckets: Bucket[];
  slots: number[];
}

interface Bucket {
  entries: Entry[];
  /** Each entry's latency to the bucket's region. */
  latencies: number[];
  /** next[i] === i while entry i is unused; else a later index to look at (see `firstUnused`). */
  next: number[];
  /** Players of the bucket's unused entries within each latency limit of the queue (`TicketIndex.limits`). */
  players: number[];
}

interface Group {
  region: string;
  members: Entry[];
  /** Team index per member: a packing found while building, used if the balanced one fails. */
  teamOf: number[];
  players: number;
  worst: number;
}

/** Search steps allowed per packing; real parties need a handful, this bounds pathological ones. */
const SEARCH_BUDGET = 20_000;

class TicketIndex {
  readonly entries: Entry[] = [];
  private readonly buckets = new Map<string, Map<number, Bucket>>();
  private readonly bandWidth: number;
  /** The latency limits a queue's window takes: the initial one, then each step's. */
  private readonly limits: number[];

  constructor(
    private readonly rules: QueueRules,
    tickets: readonly Ticket[],
  ) {
    this.limits = [rules.latency.initial, ...rules.latency.steps.map((s) => s.value)];
    const skillCap = widest(rules.skill);
    // About the initial window, but never so narrow that a widened window spans more than ~10 bands.
    this.bandWidth = Math.max(rules.skill.initial, skillCap / 4, 1);
    const latencyCap = widest(rules.latency);
    const largestParty = Math.min(rules.maxPartySize, rules.teams.size, rules.maxPlayers);
    tickets.forEach((ticket, order) => {
      const size = ticket.players.length;
      if (size === 0 || size > largestParty) return;
      let total = 0;
      for (const p of ticket.players) total += p.skill;
      const entry: Entry = { ticket, order, size, skill: total / size, total, used: false, regions: [], latencies: [], buckets: [], slots: [] };
      const band = this.band(entry.skill);
      for (const region in ticket.latencies) {
        const latency = ticket.latencies[region]!;
        if (!(latency <= latencyCap)) continue;
        let bands = this.buckets.get(region);
        if (!bands) this.buckets.set(region, (bands = new Map()));
        let bucket = bands.get(band);
        if (!bucket) bands.set(band, (bucket = { entries: [], latencies: [], next: [], players: this.limits.map(() => 0) }));
        entry.regions.push(region);
        entry.latencies.push(latency);
        entry.buckets.push(bucket);
        entry.slots.push(bucket.entries.length);
        bucket.next.push(bucket.entries.length);
        bucket.entries.push(entry);
        bucket.latencies.push(latency);
        this.count(bucket, latency, size);
      }
      if (entry.buckets.length > 0) this.entries.push(entry);
    });
  }

  /** The group `anchor` should be matched in now, if any (steps 2 and 3). */
  bestGroup(anchor: Entry, now: number): Group | undefined {
    const { rules } = this;
    const wait = now - anchor.ticket.createdAt;
    const skillWindow = windowAt(rules.skill, wait);
    const latencyLimit = windowAt(rules.latency, wait);
    const mayFill = wait >= rules.fillWaitSeconds * 1000;
    const reach: number[] = [];
    for (let i = 0; i < anchor.regions.length; i++) if (anchor.latencies[i]! <= latencyLimit) reach.push(i);
    reach.sort((a, b) => anchor.latencies[a]! - anchor.latencies[b]! || (anchor.regions[a]! < anchor.regions[b]! ? -1 : 1));

    let best: Group | undefined;
    let bestFull = false;
    for (const i of reach) {
      // Every group in a region is at least as far as the anchor is from it.
      if (bestFull && anchor.latencies[i]! >= best!.worst) break;
      const sources = this.sources(anchor.regions[i]!, anchor.skill, skillWindow);
      // A group is drawn from these buckets only, of players within the anchor's latency limit:
      // with fewer of them left than any group that could be chosen, the search would read them all
      // for nothing. Anchors waiting for their windows to widen are searched again every round;
      // rounds of the service's benchmark workload spent 15-20 % less time, making the same matches.
      const limit = this.limits.indexOf(latencyLimit);
      let players = 0;
      for (const b of sources) players += b.players[limit]!;
      if (players < (mayFill && !bestFull ? rules.minPlayers : rules.maxPlayers)) continue;
      const group = this.build(anchor, anchor.regions[i]!, anchor.latencies[i]!, sources, skillWindow, latencyLimit);
      const full = group.players === rules.maxPlayers;
      if (full) {
        if (!bestFull || group.worst < best!.worst) best = group;
        bestFull = true;
      } else if (!bestFull && mayFill && group.players >= rules.minPlayers) {
        if (!best || group.players > best.players || (group.players === best.players && group.worst < best.worst)) best = group;
      }
    }
    return best;
  }

  /** Marks the group's tickets used and turns it into a match with balanced teams (step 4). */
  take(group: Group): ProposedMatch {
    const { count } = this.rules.teams;
    for (const e of group.members) {
      e.used = true;
      e.buckets.forEach((b, k) => {
        b.next[e.slots[k]!] = e.slots[k]! + 1;
        this.count(b, e.latencies[k]!, -e.size);
      });
    }
    const members = [...group.members].sort((a, b) => b.size - a.size || b.total - a.total || a.order - b.order);
    const largest = members[0]!.size;
    const balanced = pack(
      members.map((e) => e.size),
      members.map((e) => e.total),
      count,
      this.rules.teams.size,
      largest,
    );
    const teams: Entry[][] = Array.from({ length: count }, () => []);
    if (balanced) members.forEach((e, i) => teams[balanced[i]!]!.push(e));
    else group.members.forEach((e, i) => teams[group.teamOf[i]!]!.push(e));
    const byAge = (a: Entry, b: Entry): number => a.order - b.order;
    return {
      queue: this.rules.name,
      region: group.region,
      teams: teams.map((team) => team.sort(byAge).map((e) => e.ticket.id)),
      tickets: [...group.members].sort(byAge).map((e) => e.ticket),
    };
  }

  /** Oldest-first search around `anchor` in one region (step 2). */
  private build(anchor: Entry, region: string, anchorLatency: number, sources: readonly Bucket[], skillWindow: number, latencyLimit: number): Group {
    const { maxPlayers } = this.rules;
    const { count, size: cap } = this.rules.teams;
    const loads = new Array<number>(count).fill(0);
    loads[0] = anchor.size;
    const group: Group = { region, members: [anchor], teamOf: [0], players: anchor.size, worst: anchorLatency };
    let low = anchor.skill;
    let high = anchor.skill;

    const cursor = new Array<number>(sources.length).fill(0);
    while (group.players < maxPlayers) {
      // The oldest unused entry across the buckets (each in age order).
      let pick = -1;
      let pickOrder = Infinity;
      for (let j = 0; j < sources.length; j++) {
        const bucket = sources[j]!;
        let c = firstUnused(bucket, cursor[j]!);
        if (bucket.entries[c] === anchor) c = firstUnused(bucket, c + 1);
        cursor[j] = c;
        if (c < bucket.entries.length && bucket.entries[c]!.order < pickOrder) {
          pick = j;
          pickOrder = bucket.entries[c]!.order;
        }
      }
      if (pick < 0) break;
      const c = cursor[pick]!++;
      const e = sources[pick]!.entries[c]!;
      const latency = sources[pick]!.latencies[c]!;
      if (latency > latencyLimit) continue;
      const lo = Math.min(low, e.skill);
      const hi = Math.max(high, e.skill);
      if (hi - lo > skillWindow || group.players + e.size > maxPlayers) continue;
      const team = this.fit(group, loads, e.size, cap);
      if (team === undefined) continue;
      group.members.push(e);
      group.teamOf.push(team);
      group.players += e.size;
      group.worst = Math.max(group.worst, latency);
      low = lo;
      high = hi;
    }
    return group;
  }

  /**
   * A team for a new party of `size`: the least loaded one it fits, or else a repacking of the
   * whole group (rewriting teamOf and loads) in which it fits; undefined when none exists.
   */
  private fit(group: Group, loads: number[], size: number, cap: number): number | undefined {
    let best = -1;
    for (let t = 0; t < loads.length; t++) if (loads[t]! + size <= cap && (best < 0 || loads[t]! < loads[best]!)) best = t;
    if (best >= 0) {
      loads[best]! += size;
      return best;
    }
    const sizes = [...group.members.map((e) => e.size), size];
    const order = sizes.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]!);
    const packed = pack(
      order.map((i) => sizes[i]!),
      undefined,
      loads.length,
      cap,
      Infinity,
    );
    if (!packed) return undefined;
    const teamOf = new Array<number>(sizes.length);
    order.forEach((i, k) => (teamOf[i] = packed[k]!));
    loads.fill(0);
    sizes.forEach((s, i) => (loads[teamOf[i]!]! += s));
    group.teamOf = teamOf.slice(0, -1);
    return teamOf[teamOf.length - 1];
  }

  /** Adds `players` to the bucket's counts for the latency limits `latency` is within. */
  private count(bucket: Bucket, latency: number, players: number): void {
    for (let l = 0; l < this.limits.length; l++) if (latency <= this.limits[l]!) bucket.players[l]! += players;
  }

  /** The region's buckets the skill window around `skill` touches. */
  private sources(region: string, skill: number, skillWindow: number): Bucket[] {
    const bands = this.buckets.get(region);
    if (!bands) return [];
    const out: Bucket[] = [];
    const first = this.band(skill - skillWindow);
    const last = this.band(skill + skillWindow);
    for (let b = first; b <= last; b++) {
      const bucket = bands.get(b);
      if (bucket) out.push(bucket);
    }
    return out;
  }

  private band(skill: number): number {
    return this.bandWidth === Infinity ? 0 : Math.floor(skill / this.bandWidth);
  }
}

/** The first index from `i` on whose entry is unused (or the bucket's length); shortens the jumps it took. */
function firstUnused(bucket: Bucket, i: number): number {
  const { next } = bucket;
  let r = i;
  while (r < next.length && next[r] !== r) r = next[r]!;
  while (i < r) {
    const after = next[i]!;
    next[i] = r;
    i = after;
  }
  return r;
}

/**
 * Places parties of `sizes` (in that order) on `count` teams of `cap` seats, each party on one
 * team, no team getting more than `slack` players ahead of the smallest when a party joins it.
 * With `totals`, a party goes to the team with the lowest skill total first; without, to the least
 * loaded. Depth-first with backtracking; teams of equal load are interchangeable for what is still
 * possible, so only one of them is tried. Returns the team of each party, or undefined.
 */
function pack(sizes: readonly number[], totals: readonly number[] | undefined, count: number, cap: number, slack: number): number[] | undefined {
  const loads = new Array<number>(count).fill(0);
  const sums = new Array<number>(count).fill(0);
  const teamOf = new Array<number>(sizes.length).fill(-1);
  let budget = SEARCH_BUDGET;
  const order = totals ? (a: number, b: number) => sums[a]! - sums[b]! || a - b : (a: number, b: number) => loads[a]! - loads[b]! || a - b;
  // Called for every party of every match (again when backtracking): it makes nothing but the list of teams.
  const place = (i: number): boolean => {
    if (i === sizes.length) return true;
    if (--budget < 0) return false;
    const size = sizes[i]!;
    let least = Infinity;
    for (const load of loads) least = Math.min(least, load);
    const ceiling = Math.min(cap, least + slack);
    const teams: number[] = [];
    for (let t = 0; t < count; t++) if (loads[t]! + size <= ceiling) teams.push(t);
    teams.sort(order);
    for (let k = 0; k < teams.length; k++) {
      const t = teams[k]!;
      if (sameLoadBefore(loads, teams, k)) continue;
      loads[t]! += size;
      sums[t]! += totals ? totals[i]! : 0;
      teamOf[i] = t;
      if (place(i + 1)) return true;
      loads[t]! -= size;
      sums[t]! -= totals ? totals[i]! : 0;
    }
    return false;
  };
  return place(0) ? teamOf : undefined;
}

/** Whether a team listed before `teams[k]` has its load (loads are put back after each try, so these are the loads it was tried with). */
function sameLoadBefore(loads: readonly number[], teams: readonly number[], k: number): boolean {
  for (let j = 0; j < k; j++) if (loads[teams[j]!] === loads[teams[k]!]) return true;
  return false;
}
