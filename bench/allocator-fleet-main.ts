import { GameServerState as S } from '../core/game-server.js';
import { RedisGameServerStore } from '../store/redis-game-server-store.js';
import { ACKING_FLEET, backToReady, FakeFleet, fakeGameServer, SILENT_FLEET } from './allocator-fleet.js';

// The game servers of the Redis part of the allocator benchmark, in a process of their own (as the
// local stack and its game servers are, beside standalone allocators), under the given prefix:
//   play  fills both fleets with `pool` servers each and plays each server after its allocation
//         (bench/allocator-fleet.ts), in matches of 20 ms
//   idle  fills the fleet of servers that do not acknowledge with `pool` servers (more than a
//         window takes) and leaves them be; { type: 'refill' } puts every Allocated server back
//         to Ready between windows. IPC: { type: 'ready' } once filled (and watching); { type: 'refilled' }; exits on
// { type: 'stop' }.

const [redisUrl, prefix, poolText, how] = process.argv.slice(2) as [string, string, string, 'play' | 'idle'];
const pool = Number(poolText);
const store = new RedisGameServerStore({ connection: redisUrl, prefix });
// Matches of 20 ms: a server re-allocated within a millisecond or two of its last allocation, which
// no real match allows, would race the allocator's acknowledgement wait.
const fleet = how === 'play' ? new FakeFleet(store, 20) : undefined;
await store.subscribed();
for (const name of how === 'play' ? [ACKING_FLEET, SILENT_FLEET] : [SILENT_FLEET]) {
  for (let i = 0; i < pool; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, pool - i) }, (_, j) => store.create(fakeGameServer(name, i + j))));
  }
}
process.send!({ type: 'ready' });

async function refill(): Promise<void> {
  const allocated = await store.list({ states: [S.Allocated] });
  for (let i = 0; i < allocated.length; i += 1000) {
    await Promise.all(allocated.slice(i, i + 1000).map((gs) => store.update(gs.metadata.name, backToReady)));
  }
  process.send!({ type: 'refilled', count: allocated.length });
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'refill') void refill();
  if (m.type !== 'stop') return;
  fleet?.close();
  void store.close().then(() => process.exit(0));
});
