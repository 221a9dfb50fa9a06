import type { Cancel, Clock } from '../core/clock.js';
import { GameServerState as S, type GameServer } from '../core/game-server.js';
import { ACKS_ALLOCATION_LABEL, CLAIM_TIMEOUT_LABEL, CLAIMED_ANNOTATION, LAST_ALLOCATED_ANNOTATION, NO_SHOW_ACTION_LABEL, PLAYERS_LIST } from '../core/hangar-metadata.js';
import { LogField, type Logger } from '../core/logger.js';
import type { AllocatorMetrics } from '../core/metrics.js';
import type { AllocationBackend, ReleaseAction } from './allocation-backend.js';

// Dangling allocations (Agones #607): a server allocated for a match nobody joins would stay
// Allocated forever. The watchdog gives each allocation `claimTimeout` seconds (or the server's
// `hangar.dev/claim-timeout` label) to show a player — the server's own report of its first player
// when it acknowledges allocations, else the `players` List or alpha player tracking — then puts
// it back to Ready or shuts it down, as its `hangar.dev/no-show` label says (shutdown by default),
// and counts it. Servers that report no players at all are left alone: the watchdog cannot tell an
// empty match from a full one there.

export interface ClaimWatchdogOptions {
  backend: AllocationBackend;
  clock: Clock;
  log: Logger;
  metrics: AllocatorMetrics;
  claimTimeoutSeconds: number;
}

export class ClaimWatchdog {
  private readonly pending = new Map<string, Cancel>();
  private readonly log: Logger;
  private readonly unwatch: () => void;

  constructor(private readonly options: ClaimWatchdogOptions) {
    this.log = options.log.child({ [LogField.component]: 'claim-watchdog' });
    this.unwatch = options.backend.gameServers.watch(
      (e) => {
        if (e.type === 'deleted' || e.object.status.state !== S.Allocated || hasPlayers(e.object)) this.forget(e.object.metadata.name);
      },
      { only: (name) => this.pending.has(name) },
    );
  }

  get watching(): number {
    return this.pending.size;
  }

  /**
   * Starts the claim clock of a freshly allocated server (a new allocation restarts it). `latest`:
   * the server as the caller last saw it after the allocation, if it did (else it is read); a change
   * the watchdog missed meanwhile is caught when the clock runs out, which reads it again.
   */
  track(name: string, latest?: GameServer): void {
    if (latest) this.start(name, latest);
    else void this.options.backend.gameServers.get(name).then((gs) => this.start(name, gs));
  }

  close(): void {
    this.unwatch();
    for (const cancel of this.pending.values()) cancel();
    this.pending.clear();
  }

  private start(name: string, gs: GameServer | undefined): void {
    if (!gs || gs.status.state !== S.Allocated || hasPlayers(gs) || !tracksPlayers(gs)) return;
    this.forget(name);
    const seconds = claimTimeoutOf(gs, this.options.claimTimeoutSeconds);
    this.pending.set(
      name,
      this.options.clock.setTimeout(() => void this.expire(name), seconds * 1000),
    );
  }

  private forget(name: string): void {
    this.pending.get(name)?.();
    this.pending.delete(name);
  }

  private async expire(name: string): Promise<void> {
    this.pending.delete(name);
    const gs = await this.options.backend.gameServers.get(name);
    if (!gs || gs.status.state !== S.Allocated || hasPlayers(gs)) return;
    const action: ReleaseAction = gs.metadata.labels[NO_SHOW_ACTION_LABEL] === 'ready' ? 'ready' : 'shutdown';
    try {
      await this.options.backend.release(name, action);
      this.options.metrics.unclaimed.inc({ action });
      this.log.warn({ [LogField.gameServer]: name, action }, 'no player reached the allocated server in time');
    } catch (err) {
      this.options.metrics.errors.inc({ error_type: 'release' });
      this.log.error({ err, [LogField.gameServer]: name }, 'could not release an unclaimed server');
    }
  }
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

function claimTimeoutOf(gs: GameServer, fallback: number): number {
  const label = Number(gs.metadata.labels[CLAIM_TIMEOUT_LABEL]);
  return Number.isFinite(label) && label > 0 ? label : fallback;
}
