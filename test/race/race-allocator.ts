import { parseAllocationRequest } from '../../allocator/allocation-schema.js';
import { GameServerState as S, transition, type GameServer } from '../../core/game-server.js';
import { RedisGameServerStore } from '../../store/redis-game-server-store.js';
import { EPOCH_ANNOTATION, RACE_FLEET, type RaceAllocatorReport, type RaceConfig } from './race-config.js';

// Child process of allocation-race.test.ts: one allocator process with `concurrency` lanes. Each
// lane allocates a server, records (server, epoch), and hands the server back to the pool through
// the store (Allocated → RequestReady → Ready, epoch + 1, as a game server calling Ready() after
// its match would) before it allocates again. So at most every lane of every process holds one
// server at a time, and with a larger pool a Ready server exists at every moment.

const config = JSON.parse(process.argv[2]!) as RaceConfig;
const store = new RedisGameServerStore({ connection: config.redis, prefix: config.prefix });
const spec = parseAllocationRequest({
  apiVersion: 'allocation.agones.dev/v1',
  kind: 'GameServerAllocation',
  spec: { selectors: [{ matchLabels: { 'agones.dev/fleet': RACE_FLEET } }], metadata: { annotations: { 'hangar.dev/match-id': `w${config.worker}` } } },
});

function backToReady(gs: GameServer): GameServer {
  if (gs.status.state !== S.Allocated) return gs;
  const ready = transition(transition(gs, S.RequestReady), S.Ready);
  const epoch = Number(gs.metadata.annotations[EPOCH_ANNOTATION]) + 1;
  return { ...ready, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [EPOCH_ANNOTATION]: String(epoch) } } };
}

const allocations: string[] = [];
const latencies: number[] = [];
let failures = 0;
let lastSeq = 0;
const started = performance.now();

async function lane(): Promise<void> {
  while (allocations.length < config.target) {
    const t0 = performance.now();
    const gs = await store.allocate(spec, { now: new Date().toISOString() });
    latencies.push(performance.now() - t0);
    if (!gs) {
      // Never expected; give up rather than spin if allocation is broken.
      if (++failures >= 1000) return;
      continue;
    }
    allocations.push(`${gs.metadata.name}#${gs.metadata.annotations[EPOCH_ANNOTATION]}`);
    const back = await store.update(gs.metadata.name, backToReady);
    lastSeq = Math.max(lastSeq, Number(back.metadata.resourceVersion));
  }
}

await Promise.all(Array.from({ length: config.concurrency }, lane));
const elapsedMs = performance.now() - started;
latencies.sort((a, b) => a - b);
const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
const cpu = process.cpuUsage();
const report: RaceAllocatorReport = {
  type: 'report',
  worker: config.worker,
  allocations,
  failures,
  elapsedMs,
  cpuMs: (cpu.user + cpu.system) / 1000,
  latencyMs: { p50: at(0.5), p99: at(0.99) },
  lastSeq,
};
process.send!(report, () => {
  void store.close().then(() => process.exit(0));
});
