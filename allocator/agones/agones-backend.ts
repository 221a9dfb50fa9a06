import type { GameServer } from '../../core/game-server.js';
import type { AllocationBackend, ReleaseAction } from '../allocation-backend.js';
import type { AllocationResult, GameServerAllocationSpec } from '../allocation.js';
import type { AgonesAllocationBackend } from './agones-allocation-backend.js';
import type { KubernetesGameServers } from './kubernetes-game-servers.js';

/**
 * Allocation on a cluster: GameServerAllocations through the Kubernetes API, and the namespace's
 * GameServers (watched) for acknowledgements and claims. Releasing deletes the GameServer, the
 * only way Agones supports (kubernetes-game-servers.ts explains).
 */
export class AgonesBackend implements AllocationBackend {
  constructor(
    private readonly allocations: AgonesAllocationBackend,
    readonly gameServers: KubernetesGameServers,
  ) {}

  allocate(spec: GameServerAllocationSpec): Promise<AllocationResult> {
    return this.allocations.allocate(spec);
  }

  async release(name: string, action: ReleaseAction, allocatedAt?: string, claimed?: (gs: GameServer) => boolean): Promise<boolean> {
    const { outcome } = await this.gameServers.release(name, action, { ...(allocatedAt !== undefined && { lastAllocated: allocatedAt }), ...(claimed && { claimed }) });
    return outcome === 'deleted';
  }

  requireCurrentView(what: string): void {
    this.gameServers.requireCurrent(what);
  }

  close(): Promise<void> {
    return this.gameServers.close();
  }
}
