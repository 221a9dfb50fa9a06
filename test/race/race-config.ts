// What the allocation race test (allocation-race.test.ts) hands its child processes, and what
// they report back over the IPC channel.

/** Annotation bumped each time a server goes back to Ready: (name, epoch) names one Ready period. */
export const EPOCH_ANNOTATION = 'race.hangar.dev/epoch';
export const RACE_FLEET = 'race';

export interface RaceConfig {
  redis: { host: string; port: number };
  prefix: string;
  /** Servers in the pool. */
  pool: number;
  /** Allocations each allocator process makes before it stops. */
  target: number;
  /** Allocations each allocator process keeps in flight. */
  concurrency: number;
  worker: number;
}

export interface RaceAllocatorReport {
  type: 'report';
  worker: number;
  /** `name#epoch` of every allocation. */
  allocations: string[];
  /** Allocations that found nothing. */
  failures: number;
  elapsedMs: number;
  /** CPU time (user + system) the process spent. */
  cpuMs: number;
  latencyMs: { p50: number; p99: number };
  /** Version of the process's last write: the watcher waits until it has seen it. */
  lastSeq: number;
}

export interface RaceWatcherReport {
  type: 'report';
  /** Allocation events seen (a pool server turning Allocated). */
  allocationsSeen: number;
  /** Allocated events for a server whose previous event was Allocated already (never Ready in between). */
  allocatedTwice: number;
  /** Events whose sequence number did not follow the previous one (the record would be incomplete). */
  gaps: number;
  /** The fewest pool servers Ready at any version once the pool was complete. */
  minReady: number;
  cpuMs: number;
}
