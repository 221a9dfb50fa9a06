import { afterEach, describe, expect, it } from '@jest/globals';
import { GameServerState as S } from '../core/game-server.js';
import { freeTcpPort } from '../test/helpers/free-port.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { waitFor } from '../test/helpers/local-stack-fixture.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import type { GameServerEvent } from './game-server-store.js';
import { RedisGameServerStore } from './redis-game-server-store.js';

// What the contract suite cannot show: the store across an outage of its Redis (a redis-server of
// the test's own, started late).

describe('RedisGameServerStore while Redis is down', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('fails writes as REDIS_UNAVAILABLE, and a watch begun meanwhile hears changes once Redis is back', async () => {
    const port = await freeTcpPort();
    const store = new RedisGameServerStore({ connection: `redis://127.0.0.1:${port}`, prefix: 'hangar-test-outage:' });
    cleanups.push(() => store.close());
    const events: GameServerEvent[] = [];
    store.watch((e) => events.push(e));

    await expect(store.create(testGameServer('gs-1', { fleet: 'arena' }))).rejects.toMatchObject({ code: 'REDIS_UNAVAILABLE' });
    expect(store.isUp()).toBe(false);

    const server = startRedisServer(port);
    cleanups.push(() => server.kill());
    await waitFor('the store reconnected', async () => store.isUp());
    const created = await waitFor('a write accepted', () => store.create(testGameServer('gs-1', { fleet: 'arena' })).catch(() => undefined));
    await store.update('gs-1', (gs) => ({ ...gs, status: { ...gs.status, state: S.Scheduled } }));
    await waitFor('both events heard', async () => events.length >= 2);
    expect(events.map((e) => [e.type, e.object.metadata.name, e.object.status.state])).toEqual([
      ['added', 'gs-1', created.status.state],
      ['modified', 'gs-1', S.Scheduled],
    ]);
  }, 30_000);
});
