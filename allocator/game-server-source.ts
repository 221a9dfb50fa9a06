import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../core/clock.js';
import { loadRedisConfig, redisKeyPrefix, type ServiceConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { RedisGameServerStore } from '../store/redis-game-server-store.js';
import { loadKubeConfig } from './agones/kube-config.js';
import { KubernetesGameServers } from './agones/kubernetes-game-servers.js';

// Where the game servers are for a service outside the local stack, as allocator.backend says: the
// Redis store that the local stack's controller and every allocator share, or an Agones namespace
// read through the Kubernetes API. The allocator allocates from it; the matchmaker watches it for
// its matches' starts and results. `memory` lives only inside the local stack (npm start).

export type GameServerSource =
  | { backend: 'redis'; store: RedisGameServerStore; target: string }
  | { backend: 'agones'; view: KubernetesGameServers; kubeConfig: KubeConfig; namespace: string };

/** The source allocator.backend names, not yet started; undefined for `memory`. */
export function openGameServerSource(config: Readonly<ServiceConfig>, env: NodeJS.ProcessEnv, log: Logger, clock: Clock): GameServerSource | undefined {
  switch (config.allocator.backend) {
    case 'redis': {
      const redis = loadRedisConfig(env);
      if (!redis) throw new ConfigError(['allocator.backend is redis: set REDIS_URL, or REDIS_HOST (with REDIS_PORT and REDIS_PASSWORD as needed)']);
      return { backend: 'redis', store: new RedisGameServerStore({ connection: redis.url, prefix: redisKeyPrefix(config.allocator.redis_prefix), log }), target: redis.target };
    }
    case 'agones': {
      const kubeConfig = loadKubeConfig(env.KUBECONFIG ? { kind: 'kubeconfig', path: env.KUBECONFIG } : { kind: 'in-cluster' });
      const namespace = config.allocator.namespace;
      return { backend: 'agones', view: new KubernetesGameServers({ kubeConfig, namespace, log, clock }), kubeConfig, namespace };
    }
    case 'memory':
      return undefined;
  }
}
