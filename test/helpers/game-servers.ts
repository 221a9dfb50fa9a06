import { newGameServer, type GameServer } from '../../core/game-server.js';
import type { GameServerSpec } from '../../core/resources.js';
import { FLEET_LABEL } from '../../store/game-server-store.js';

/** A fully defaulted spec, as fleets/schema.ts would produce it, for tests that need a GameServer. */
export function testSpec(overrides: Partial<GameServerSpec> = {}): GameServerSpec {
  return {
    container: 'game',
    ports: [{ name: 'default', portPolicy: 'Dynamic', protocol: 'UDP', containerPort: 7654 }],
    health: { disabled: false, initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 3 },
    scheduling: 'Packed',
    sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
    counters: {},
    lists: {},
    eviction: { safe: 'Never' },
    template: { spec: { containers: [{ name: 'game', command: ['node', '-e', 'setInterval(() => {}, 1000)'] }] } },
    ...overrides,
  };
}

export function testGameServer(name: string, options: { fleet?: string; spec?: GameServerSpec } = {}): GameServer {
  return newGameServer({
    name,
    namespace: 'default',
    labels: options.fleet ? { [FLEET_LABEL]: options.fleet } : {},
    annotations: {},
    spec: options.spec ?? testSpec(),
    now: new Date().toISOString(),
  });
}
