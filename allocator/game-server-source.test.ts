import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { systemClock } from '../core/clock.js';
import { loadRedisConfig, parseConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { gameServerSite, openGameServerSource } from './game-server-source.js';

// A view's site names its matches in the records: the same for every restart of one deployment,
// different for every deployment that shares the database.

const config = (yaml: string) => parseConfig(yaml, 'site.yaml', {});
const kubeConfig = (server: string) => {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'c', server, skipTLSVerify: true }, { name: 'u' });
  return kc;
};
const redis = (env: NodeJS.ProcessEnv) => loadRedisConfig(env)!;

describe('gameServerSite', () => {
  it("names a local stack's store by its state directory on this host", () => {
    const memory = config('');
    expect(gameServerSite(memory, { backend: 'memory', stateDir: '/srv/a/.hangar' })).toEqual({ name: `local:${hostname()}:/srv/a/.hangar` });
    expect(gameServerSite(memory, { backend: 'memory', stateDir: '/srv/b/.hangar' }).name).not.toBe(gameServerSite(memory, { backend: 'memory', stateDir: '/srv/a/.hangar' }).name);
  });

  it('names a Redis store by its address, db and key prefix, never its password', () => {
    const shared = config('allocator:\n  backend: redis\n');
    expect(gameServerSite(shared, { backend: 'redis', redis: redis({ REDIS_HOST: 'redis', REDIS_PASSWORD: 's3cret' }) })).toEqual({ name: 'redis:redis:6379/0/hangar' });
    expect(gameServerSite(shared, { backend: 'redis', redis: redis({ REDIS_URL: 'redis://:s3cret@10.0.0.5:6380/2' }) })).toEqual({ name: 'redis:10.0.0.5:6380/2/hangar' });
    const other = config('allocator:\n  backend: redis\n  redis_prefix: staging\n');
    expect(gameServerSite(other, { backend: 'redis', redis: redis({ REDIS_HOST: 'redis' }) })).toEqual({ name: 'redis:redis:6379/0/staging' });
  });

  it('names an Agones view by the cluster ops name and the namespace, and warns when no cluster is named in a pod', () => {
    const named = config('allocator:\n  backend: agones\n  namespace: hangar\n  cluster: eu-west\n');
    // In a pod the API server's address is the same in every cluster: only the configured name tells them apart.
    expect(gameServerSite(named, { backend: 'agones', kubeConfig: kubeConfig('https://10.96.0.1:443'), inCluster: true })).toEqual({ name: 'agones:eu-west/hangar' });
    const unnamed = config('allocator:\n  backend: agones\n  namespace: hangar\n');
    expect(gameServerSite(unnamed, { backend: 'agones', kubeConfig: kubeConfig('https://10.96.0.1:443'), inCluster: true })).toEqual({
      name: 'agones:in-cluster/hangar',
      caveat: expect.stringMatching(/^allocator\.cluster is not set, so the site agones:in-cluster\/hangar names no cluster: .* set HANGAR_ALLOCATOR__CLUSTER/),
    });
    // From a kubeconfig, the API server's address names the cluster.
    expect(gameServerSite(unnamed, { backend: 'agones', kubeConfig: kubeConfig('https://eu.example.com'), inCluster: false })).toEqual({ name: 'agones:https://eu.example.com/hangar' });
  });

  it('takes records.site over any place', () => {
    const pinned = config('allocator:\n  backend: agones\nrecords:\n  site: prod-eu\n');
    expect(gameServerSite(pinned, { backend: 'agones', kubeConfig: kubeConfig('https://10.96.0.1:443'), inCluster: true })).toEqual({ name: 'prod-eu' });
    expect(gameServerSite(pinned, { backend: 'memory', stateDir: '/srv/a/.hangar' })).toEqual({ name: 'prod-eu' });
  });
});

describe('openGameServerSource', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-site-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives an Agones source read through KUBECONFIG its cluster's site", () => {
    const file = path.join(dir, 'kubeconfig');
    writeFileSync(file, kubeConfig('https://eu.example.com').exportConfig());
    const source = openGameServerSource(config('allocator:\n  backend: agones\n  namespace: games\n'), { KUBECONFIG: file }, silentLogger, systemClock);
    expect(source?.site).toEqual({ name: 'agones:https://eu.example.com/games' });
  });
});
