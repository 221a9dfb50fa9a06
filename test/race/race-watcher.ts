import { GameServerState as S } from '../../core/game-server.js';
import { FLEET_LABEL } from '../../store/game-server-store.js';
import { RedisGameServerStore } from '../../store/redis-game-server-store.js';
import { testGameServer } from '../helpers/game-servers.js';
import { EPOCH_ANNOTATION, RACE_FLEET, type RaceConfig, type RaceWatcherReport } from './race-config.js';

// Child process of allocation-race.test.ts: creates the pool, then watches every change the
// allocator processes make, as another process sharing the store would, and keeps count: how
// many servers were Ready at each version, and whether any server turned Allocated twice without
// going back to Ready in between.

const config = JSON.parse(process.argv[2]!) as RaceConfig;
const store = new RedisGameServerStore({ connection: config.redis, prefix: config.prefix });

const ready = new Set<string>();
const lastState = new Map<string, string>();
let lastSeq = 0;
let gaps = 0;
let allocationsSeen = 0;
let allocatedTwice = 0;
let minReady = Infinity;
let poolComplete = false;

store.watch(({ type, object: gs }) => {
  // Nothing is deleted in the race, so every event's version is its sequence number.
  const seq = Number(gs.metadata.resourceVersion);
  if (seq !== lastSeq + 1) gaps++;
  lastSeq = seq;
  if (gs.metadata.labels[FLEET_LABEL] !== RACE_FLEET) return;
  const name = gs.metadata.name;
  const previous = lastState.get(name);
  lastState.set(name, gs.status.state);
  if (gs.status.state === S.Ready) ready.add(name);
  else ready.delete(name);
  if (type === 'modified' && gs.status.state === S.Allocated) {
    allocationsSeen++;
    if (previous === S.Allocated) allocatedTwice++;
  }
  if (poolComplete) minReady = Math.min(minReady, ready.size);
});
await store.subscribed();

await Promise.all(
  Array.from({ length: config.pool }, (_, i) => {
    const gs = testGameServer(`race-${String(i).padStart(4, '0')}`, { fleet: RACE_FLEET });
    return store.create({ ...gs, metadata: { ...gs.metadata, annotations: { [EPOCH_ANNOTATION]: '0' } }, status: { ...gs.status, state: S.Ready } });
  }),
);
// Our own writes resolve once we have seen their events: every pool server is counted by now.
poolComplete = true;
minReady = ready.size;
process.send!({ type: 'ready' });

process.on('message', (message: { type: string; lastSeq: number }) => {
  if (message.type !== 'stop') return;
  void (async () => {
    // Wait for the events of the allocators' last writes.
    while (lastSeq < message.lastSeq) await new Promise((resolve) => setTimeout(resolve, 10));
    const cpu = process.cpuUsage();
    const report: RaceWatcherReport = { type: 'report', allocationsSeen, allocatedTwice, gaps, minReady, cpuMs: (cpu.user + cpu.system) / 1000 };
    process.send!(report, () => {
      void store.close().then(() => process.exit(0));
    });
  })();
});
