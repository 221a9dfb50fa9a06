import type { Cancel, Clock } from '../core/clock.js';
import { GameServerState as S, type GameServer } from '../core/game-server.js';
import { ACKS_ALLOCATION_LABEL, CLAIM_TIMEOUT_LABEL, CLAIMED_ANNOTATION, claimTimeoutSeconds, LAST_ALLOCATED_ANNOTATION, NO_SHOW_ACTION_LABEL, PLAYERS_LIST } from '../core/hangar-metadata.js';
import { LogField, type Logger } from '../core/logger.js';
import type { AllocatorMetrics } from '../core/metrics.js';
import type { AllocationBackend, ReleaseAction } from './allocation-backend.js';
import { compareAllocationTimes, type AllocationResult } from './allocation.js';

// Dangling allocations (Agones #607): a server allocated for a match nobody joins would stay
// Allocated forever. The watchdog gives each allocation `claimTimeout` seconds (or the server's
// `hangar.dev/claim-timeout` label) to show a player — the server's own report of its first player
// when it acknowledges allocations, else the `players` List or alpha player tracking — then puts
// it back to Ready or shuts it down, as its `hangar.dev/no-show` label says (shutdown by default),
// and counts it. Servers that report no players at all are left alone: the watchdog cannot tell an
// empty match from a full one there.
//
// Each clock belongs to one allocation, named by its `agones.dev/last-allocated` time. The view of
// game servers may trail the allocation's answer (on Agones it is a watch, which may also be down),
// so it only ends clocks early: a version from before the allocation is not judged, and a later
// allocation of the server (by this allocator, which starts its own clock, or by another replica)
// ends the clock. When a clock runs out, the release judges the version it would release, read from
// the backend itself: it names the allocation, so it never ends someone else's match, and it leaves
// a server with a player alone however far behind the view is. A release that fails (the Kubernetes
// API down) is tried again a period later.

export interface ClaimWatchdogOptions {
  backend: AllocationBackend;
  clock: Clock;
  log: Logger;
  metrics: AllocatorMetrics;
  claimTimeoutSeconds: number;
}

interface Claim {
  /** The allocation's `agones.dev/last-allocated`; undefined when the backend stamps none. */
  allocatedAt: string | undefined;
  seconds: number;
  /** What to do with it unclaimed, as the allocated server's `hangar.dev/no-show` label says. */
  action: ReleaseAction;
  cancel: Cancel;
}

export class ClaimWatchdog {
  private readonly pending = new Map<string, Claim>();
  private readonly log: Logger;
  private readonly unwatch: () => void;
  private closed = false;

  constructor(private readonly options: ClaimWatchdogOptions) {
    this.log = options.log.child({ [LogField.component]: 'claim-watchdog' });
    this.unwatch = options.backend.gameServers.watch(
      (e) => {
        const claim = this.pending.get(e.object.metadata.name);
        if (!claim) return;
        if (e.type === 'deleted') this.forget(e.object.metadata.name);
        else this.judge(claim, e.object);
      },
      { only: (name) => this.pending.has(name) },
    );
  }

  get watching(): number {
    return this.pending.size;
  }

  /**
   * Starts the claim clock of a fresh allocation (a new allocation of the server restarts it).
   * `latest`: the server as the caller last saw it after the allocation, if it did (else it is read).
   */
  track(result: AllocationResult, latest?: GameServer): void {
    const name = result.gameServerName;
    this.forget(name);
    const { labels, annotations } = result.metadata;
    const seconds = claimTimeoutOf(labels, this.options.claimTimeoutSeconds);
    const action: ReleaseAction = labels[NO_SHOW_ACTION_LABEL] === 'ready' ? 'ready' : 'shutdown';
    const claim: Claim = { allocatedAt: annotations[LAST_ALLOCATED_ANNOTATION], seconds, action, cancel: () => {} };
    this.arm(name, claim);
    // A server the view does not hold yet (created and allocated within the watch's lag) is judged when the watch brings it.
    if (latest) this.judge(claim, latest);
    else void this.options.backend.gameServers.get(name).then((gs) => gs && this.judge(claim, gs));
  }

  close(): void {
    this.closed = true;
    this.unwatch();
    for (const claim of this.pending.values()) claim.cancel();
    this.pending.clear();
  }

  private arm(name: string, claim: Claim): void {
    claim.cancel = this.options.clock.setTimeout(() => void this.expire(name, claim), claim.seconds * 1000);
    this.pending.set(name, claim);
  }

  /** Ends the clock when `gs` shows its allocation over (left Allocated, claimed, untracked) or superseded. */
  private judge(claim: Claim, gs: GameServer): void {
    const name = gs.metadata.name;
    const order = allocationOrder(gs, claim);
    if (order === 'earlier') return; // the view has not caught up with this allocation yet
    if (order === 'later' || over(gs)) this.forget(name, claim);
  }

  /** Stops the clock of `name` (only `claim`'s, when given). */
  private forget(name: string, claim?: Claim): void {
    const current = this.pending.get(name);
    if (!current || (claim && current !== claim)) return;
    current.cancel();
    this.pending.delete(name);
  }

  private async expire(name: string, claim: Claim): Promise<void> {
    if (this.pending.get(name) !== claim) return;
    this.pending.delete(name);
    const { action } = claim;
    try {
      if (!(await this.options.backend.release(name, action, claim.allocatedAt, over))) return;
      this.options.metrics.unclaimed.inc({ action });
      this.log.warn({ [LogField.gameServer]: name, action }, 'no player reached the allocated server in time');
    } catch (err) {
      this.options.metrics.errors.inc({ error_type: 'release' });
      this.log.error({ err, [LogField.gameServer]: name, retryInSeconds: claim.seconds }, 'could not release an unclaimed server; trying again later');
      if (!this.closed && !this.pending.has(name)) this.arm(name, claim);
    }
  }
}

/** Where `gs` stands against the claim's allocation: a version from before it, it, or a later allocation. */
function allocationOrder(gs: GameServer, claim: Claim): 'earlier' | 'same' | 'later' {
  if (claim.allocatedAt === undefined) return 'same';
  const seen = gs.metadata.annotations[LAST_ALLOCATED_ANNOTATION];
  if (seen === undefined) return 'earlier';
  const order = compareAllocationTimes(seen, claim.allocatedAt);
  return order < 0 ? 'earlier' : order > 0 ? 'later' : 'same';
}

/** Whether `gs`, at the claim's allocation or later, shows the claim over: it has left Allocated, has a player, or counts none. */
function over(gs: GameServer): boolean {
  return gs.status.state !== S.Allocated || hasPlayers(gs) || !tracksPlayers(gs);
}

/** Servers that acknowledge allocations report their first player exactly; others through player counts. */
function tracksPlayers(gs: GameServer): boolean {
  return acknowledges(gs) || gs.status.players !== null || gs.status.lists[PLAYERS_LIST] !== undefined;
}

function hasPlayers(gs: GameServer): boolean {
  if (acknowledges(gs)) {
    const allocatedAt = gs.metadata.annotations[LAST_ALLOCATED_ANNOTATION];
    return allocatedAt !== undefined && gs.metadata.annotations[CLAIMED_ANNOTATION] === allocatedAt;
  }
  return (gs.status.players?.count ?? 0) > 0 || (gs.status.lists[PLAYERS_LIST]?.values.length ?? 0) > 0;
}

function acknowledges(gs: GameServer): boolean {
  return gs.metadata.labels[ACKS_ALLOCATION_LABEL] === 'true';
}

function claimTimeoutOf(labels: Record<string, string>, fallback: number): number {
  return claimTimeoutSeconds(labels[CLAIM_TIMEOUT_LABEL]) ?? fallback;
}
