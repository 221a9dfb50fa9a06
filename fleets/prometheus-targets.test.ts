import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { GameServerState as S, transition, type GameServer } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { fileSdGroups, writePrometheusTargets } from './prometheus-targets.js';

function running(name: string, ports: GameServer['status']['ports'], fleet?: string): GameServer {
  const gs = testGameServer(name, { fleet });
  return { ...gs, status: { ...gs.status, state: S.Ready, address: '127.0.0.1', ports } };
}

describe('Prometheus file_sd targets', () => {
  it("lists each running server's metrics port with its labels, and nothing else", () => {
    const groups = fileSdGroups([
      running('b', [{ name: 'default', port: 7001 }, { name: 'metrics', port: 7002 }], 'arena'),
      running('a', [{ name: 'game-udp', port: 7003 }, { name: 'metrics-tcp', port: 7004 }]),
      running('no-metrics', [{ name: 'default', port: 7005 }]),
      { ...running('stopped', [{ name: 'metrics', port: 7006 }]), status: { ...running('x', []).status, state: S.Shutdown, ports: [{ name: 'metrics', port: 7006 }] } },
    ]);
    expect(groups).toEqual([
      { targets: ['127.0.0.1:7004'], labels: { gameserver: 'a', namespace: 'default', fleet: '' } },
      { targets: ['127.0.0.1:7002'], labels: { gameserver: 'b', namespace: 'default', fleet: 'arena' } },
    ]);
  });

  describe('the file', () => {
    let dir: string;
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('is written at once and kept current as servers come and go', async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'hangar-sd-'));
      const file = path.join(dir, 'prometheus', 'gameservers.json');
      const store = new MemoryGameServerStore();
      const clock = new FakeClock();
      const stop = writePrometheusTargets({ store, file, clock, log: silentLogger, settleMs: 100 });
      await new Promise((r) => setImmediate(r));
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([]);

      const gs = testGameServer('gs-1');
      await store.create(gs);
      let cur = gs;
      for (const s of [S.Creating, S.Starting, S.Scheduled] as const) cur = transition(cur, s);
      await store.update('gs-1', () => ({ ...cur, status: { ...cur.status, address: '127.0.0.1', ports: [{ name: 'metrics', port: 7100 }] } }));
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([{ targets: ['127.0.0.1:7100'], labels: { gameserver: 'gs-1', namespace: 'default', fleet: '' } }]);

      await store.delete('gs-1');
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([]);
      stop();
      expect(clock.pendingTimers).toBe(0);
    });
  });
});
