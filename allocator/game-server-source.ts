import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { HealthState } from '../core/admin-server.js';
import type { Clock } from '../core/clock.js';
import { loadRedisConfig, redisKeyPrefix, type RedisConfig, type ServiceConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { RedisGameServerStore } from '../store/redis-game-server-store.js';
import { loadKubeConfig, type KubeConfigSource } from './agones/kube-config.js';
import { KubernetesGameServers } from './agones/kubernetes-game-servers.js';

// Where the game servers are for a service outside the local stack, as allocator.backend says: the
// Redis store that the local stack's controller and every allocator share, or an Agones namespace
// read through the Kubernetes API. The allocator allocates from it; the matchmaker watches it for
// its matches' starts and results. `memory` lives only inside the local stack (npm start).
//
// Each view of game servers has a site: its name in the match records, so that a matchmaker judges
// only the matches made on the servers it can see (matches.site, records/match-records.ts).

export type GameServerSource =
  | { backend: 'redis'; store: RedisGameServerStore; target: string; site: GameServerSite }
  | { backend: 'agones'; view: KubernetesGameServers; kubeConfig: KubeConfig; namespace: string; site: GameServerSite };

export interface GameServerSite {
  name: string;
  /** Why another deployment may have the same name, for the matchmaker to warn of. */
  caveat?: string;
}

/** Where a view of game servers is, which names its site unless records.site does. */
export type GameServerPlace =
  /** The local stack's own store: `stateDir` absolute. */
  | { backend: 'memory'; stateDir: string }
  | { backend: 'redis'; redis: RedisConfig }
  /** `inCluster`: the API server's address is the same in every cluster, so it names none. */
  | { backend: 'agones'; kubeConfig: KubeConfig; inCluster: boolean };

/**
 * The site of a view of game servers: the same across restarts of one deployment, and distinct
 * between deployments that share a records database. records.site, or where the view is: the
 * local stack's state directory on this host; the Redis store's address, db and key prefix; the
 * Agones cluster (allocator.cluster, else the kubeconfig's API server) and namespace.
 */
export function gameServerSite(config: Readonly<ServiceConfig>, place: GameServerPlace): GameServerSite {
  const { allocator, records } = config;
  if (records.site !== undefined) return { name: records.site };
  switch (place.backend) {
    case 'memory':
      return { name: `local:${hostname()}:${place.stateDir}` };
    case 'redis': {
      const url = new URL(place.redis.url);
      return { name: `redis:${url.hostname}:${url.port || 6379}/${url.pathname.slice(1) || 0}/${allocator.redis_prefix}` };
    }
    case 'agones': {
      const named = allocator.cluster ?? (place.inCluster ? undefined : place.kubeConfig.getCurrentCluster()?.server);
      if (named !== undefined) return { name: `agones:${named}/${allocator.namespace}` };
      const name = `agones:in-cluster/${allocator.namespace}`;
      return {
        name,
        caveat: `allocator.cluster is not set, so the site ${name} names no cluster: matchmakers of two clusters that share this records database would end each other's open matches when they start; set HANGAR_ALLOCATOR__CLUSTER to a name per cluster`,
      };
    }
  }
}

/**
 * Reports on `health` whether the source can be trusted: `redis` (the store reachable) or
 * `gameserver-view` (the view's watch open, or down for at most its bound: isCurrent). `gates:
 * false` for a service that only records from it (the matchmaker).
 */
export function addGameServerSourceCheck(health: HealthState, source: GameServerSource, options: { gates?: boolean } = {}): void {
  if (source.backend === 'redis') health.addReadinessCheck('redis', () => source.store.isUp(), options);
  else health.addReadinessCheck('gameserver-view', () => source.view.isCurrent(), options);
}

/** The source allocator.backend names, not yet started; undefined for `memory`. */
export function openGameServerSource(config: Readonly<ServiceConfig>, env: NodeJS.ProcessEnv, log: Logger, clock: Clock): GameServerSource | undefined {
  switch (config.allocator.backend) {
    case 'redis': {
      const redis = loadRedisConfig(env);
      if (!redis) throw new ConfigError(['allocator.backend is redis: set REDIS_URL, or REDIS_HOST (with REDIS_PORT and REDIS_PASSWORD as needed)']);
      const store = new RedisGameServerStore({ connection: redis.url, prefix: redisKeyPrefix(config.allocator.redis_prefix), log });
      return { backend: 'redis', store, target: redis.target, site: gameServerSite(config, { backend: 'redis', redis }) };
    }
    case 'agones': {
      const where: KubeConfigSource = env.KUBECONFIG ? { kind: 'kubeconfig', path: env.KUBECONFIG } : { kind: 'in-cluster' };
      const kubeConfig = loadKubeConfig(where);
      const namespace = config.allocator.namespace;
      const site = gameServerSite(config, { backend: 'agones', kubeConfig, inCluster: where.kind === 'in-cluster' });
      return { backend: 'agones', view: new KubernetesGameServers({ kubeConfig, namespace, log, clock }), kubeConfig, namespace, site };
    }
    case 'memory':
      return undefined;
  }
}
