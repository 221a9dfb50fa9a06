import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { createControllerMetrics, createRegistry } from '../../core/metrics.js';
import { MemoryGameServerStore } from '../../store/memory-game-server-store.js';
import { testGameServer } from '../../test/helpers/game-servers.js';
import { LocalSecrets } from '../local-secrets.js';
import { startLocalSdkServer, type LocalSdkServer, type LocalSdkServerOptions } from '../sdk-server/local-sdk-server.js';
import { LocalProcessRuntime } from './local-process-runtime.js';
import { PortAllocator } from './port-allocator.js';
import { ProcessRecords } from './process-records.js';

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('LocalProcessRuntime', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('closes the SDK server and frees the ports of a game server deleted while its SDK server was starting', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-runtime-'));
    dirs.push(dir);
    const store = new MemoryGameServerStore();
    const ports = new PortAllocator({ range: { min: 7600, max: 7699 }, host: '127.0.0.1', probe: async () => true });
    // The real SDK server, held back until the test lets it start: the delete lands meanwhile.
    let startRequested!: () => void;
    const requested = new Promise<void>((resolve) => (startRequested = resolve));
    let letStart!: () => void;
    const gate = new Promise<void>((resolve) => (letStart = resolve));
    const started: LocalSdkServer[] = [];
    const startSdkServer = async (options: LocalSdkServerOptions) => {
      startRequested();
      await gate;
      const sdk = await startLocalSdkServer(options);
      started.push(sdk);
      return sdk;
    };
    const runtime = new LocalProcessRuntime({
      store,
      ports,
      startSdkServer,
      clock: systemClock,
      log: silentLogger,
      metrics: createControllerMetrics(createRegistry()),
      advertiseAddress: '127.0.0.1',
      nodeName: 'test',
      logDir: path.join(dir, 'logs'),
      records: new ProcessRecords(path.join(dir, 'processes'), silentLogger),
      cwd: dir,
      terminationGraceSeconds: 1,
      startConcurrency: 4,
      secrets: new LocalSecrets(path.join(dir, 'secrets')),
    });
    try {
      await runtime.create(testGameServer('gs-1', { fleet: 'arena' }));
      await requested;
      expect(ports.inUse).toBe(1);
      await runtime.delete('gs-1');
      letStart();
      // Teardown ends by deleting the server from the store.
      for (let i = 0; i < 250 && (await store.get('gs-1')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await store.get('gs-1')).toBeUndefined();
      expect(started).toHaveLength(1);
      expect(await listening(started[0]!.port)).toBe(false);
      expect(ports.inUse).toBe(0);
      expect(runtime.processInfo('gs-1')).toBeUndefined();
    } finally {
      await runtime.close();
    }
  });
});
