import { randomUUID } from 'node:crypto';
import type { Cancel, Clock } from '../../core/clock.js';
import { KubernetesUnavailableError } from '../../core/errors.js';
import { GameServerState as S, type GameServer } from '../../core/game-server.js';
import { ALLOCATION_ID_ANNOTATION, LAST_ALLOCATED_ANNOTATION } from '../../core/hangar-metadata.js';
import { LogField, type Logger } from '../../core/logger.js';
import type { AllocationBackend, ReleaseAction } from '../allocation-backend.js';
import type { AllocationResult, GameServerAllocationSpec } from '../allocation.js';
import type { AgonesAllocationBackend } from './agones-allocation-backend.js';
import type { KubernetesGameServers } from './kubernetes-game-servers.js';

/**
 * Allocation on a cluster: GameServerAllocations through the Kubernetes API, and the namespace's
 * GameServers (watched) for acknowledgements and claims. Releasing deletes the GameServer, the
 * only way Agones supports (kubernetes-game-servers.ts explains).
 *
 * An allocation whose answer is lost after it was sent (a timeout, a 5xx, a cut connection) may
 * have allocated a server that nobody was told of and no claim clock watches: it would stay
 * Allocated for good (Agones #607). Each allocation carries an id (ALLOCATION_ID_ANNOTATION); after
 * such a failure the view is watched for a server Allocated with that id, for `lostWindowMs` (the
 * view may be down with the API server and list it later), and the server is released.
 */
export class AgonesBackend implements AllocationBackend {
  private readonly log: Logger;
  private readonly lostWindowMs: number;
  /** The ids of allocations whose answer was lost, each with the end of its search. */
  private readonly lost = new Map<string, Cancel>();
  private unwatchLost: (() => void) | undefined;

  constructor(
    private readonly allocations: AgonesAllocationBackend,
    readonly gameServers: KubernetesGameServers,
    private readonly options: { clock: Clock; log: Logger; lostWindowMs?: number },
  ) {
    this.log = options.log.child({ [LogField.component]: 'agones-backend' });
    this.lostWindowMs = options.lostWindowMs ?? 10 * 60_000;
  }

  async allocate(spec: GameServerAllocationSpec): Promise<AllocationResult> {
    const id = randomUUID();
    try {
      return await this.allocations.allocate(spec, id);
    } catch (err) {
      // A 429 (retryAfterMs) was turned away before anything ran it.
      if (err instanceof KubernetesUnavailableError && err.retryAfterMs === undefined) this.searchLost(id);
      throw err;
    }
  }

  async release(name: string, action: ReleaseAction, allocatedAt?: string, claimed?: (gs: GameServer) => boolean): Promise<boolean> {
    const { outcome } = await this.gameServers.release(name, action, { ...(allocatedAt !== undefined && { lastAllocated: allocatedAt }), ...(claimed && { claimed }) });
    return outcome === 'deleted';
  }

  requireCurrentView(what: string): void {
    this.gameServers.requireCurrent(what);
  }

  close(): Promise<void> {
    for (const id of [...this.lost.keys()]) this.endSearch(id);
    return this.gameServers.close();
  }

  /** Looks, in the view and then in its changes, for the server the allocation `id` allocated, for the window. */
  private searchLost(id: string): void {
    this.lost.set(id, this.options.clock.setTimeout(() => this.endSearch(id), this.lostWindowMs));
    // One watch for every search: an outage can lose many answers.
    this.unwatchLost ??= this.gameServers.watch((e) => {
      if (e.type !== 'deleted') this.releaseIfLost(e.object);
    });
    void this.gameServers.list().then((all) => all.forEach((gs) => this.releaseIfLost(gs)));
  }

  private endSearch(id: string): void {
    this.lost.get(id)?.();
    this.lost.delete(id);
    if (this.lost.size > 0) return;
    this.unwatchLost?.();
    this.unwatchLost = undefined;
  }

  /** Releases `gs` if it is Allocated by a lost allocation; named by its allocation time, so a later allocation of it is left alone. */
  private releaseIfLost(gs: GameServer): void {
    const id = gs.metadata.annotations[ALLOCATION_ID_ANNOTATION];
    if (id === undefined || !this.lost.has(id) || gs.status.state !== S.Allocated) return;
    this.endSearch(id);
    const name = gs.metadata.name;
    this.gameServers.release(name, 'shutdown', { lastAllocated: gs.metadata.annotations[LAST_ALLOCATED_ANNOTATION] ?? '' }).then(
      ({ outcome }) => outcome === 'deleted' && this.log.warn({ [LogField.gameServer]: name, allocationId: id }, 'released a server allocated by a request whose answer was lost'),
      (err: unknown) => this.log.error({ err, [LogField.gameServer]: name, allocationId: id }, 'could not release a server allocated by a request whose answer was lost'),
    );
  }
}
