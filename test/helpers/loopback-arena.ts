import { silentLogger } from '../../core/logger.js';
import type { GameServerMetrics } from '../../core/metrics.js';
import { ArenaServer, type ArenaServerSettings } from '../../gameserver/arena-server.js';
import { InlineNetwork } from '../../gameserver/net/inline-network.js';
import { HANGAR_PROTOCOL_ID } from '../../gameserver/protocol/protocol-constants.js';

// The arena game server as tests play against it: one UDP port on 127.0.0.1 (the inline network
// path), every player welcome, nothing reported anywhere; started.

export interface LoopbackArenaOptions {
  tokenKey: Buffer;
  serverId: string;
  port: number;
  capacity: number;
  metrics?: GameServerMetrics;
  /** Beyond the defaults: a tick rate of 30, a 10-minute match that no score ends, a view as large as the capacity. */
  settings?: Partial<ArenaServerSettings>;
}

export async function startLoopbackArena(o: LoopbackArenaOptions): Promise<ArenaServer> {
  const network = new InlineNetwork({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: o.tokenKey, serverId: o.serverId, maxClients: o.capacity, bindAddress: '127.0.0.1', ports: [o.port] });
  const server = new ArenaServer({
    settings: { tickRate: 30, matchSeconds: 600, scoreLimit: 10_000, capacity: o.capacity, viewRadius: 30, maxVisible: o.capacity, ...o.settings },
    network,
    log: silentLogger,
    metrics: o.metrics,
    hooks: { mayAccept: () => true, playerConnected: () => undefined, playerDisconnected: () => undefined, onMatchEnd: () => undefined, networkFailed: () => undefined },
  });
  await server.start();
  return server;
}
