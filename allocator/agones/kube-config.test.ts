import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { agonesGameServer, FakeKubeApi } from '../../test/helpers/fake-kube-api.js';
import { AgonesAllocationBackend } from './agones-allocation-backend.js';
import { loadKubeConfig } from './kube-config.js';

// Loading the cluster's address and credentials from kubeconfig files, as KUBECONFIG names them.
// (In-cluster loading is client-node's loadFromCluster, which needs a pod's service account: not
// tested here.)

describe('loadKubeConfig', () => {
  let fake: FakeKubeApi;
  let dir: string;
  beforeAll(async () => {
    fake = await FakeKubeApi.start();
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-kubeconfig-'));
    writeFileSync(path.join(dir, 'fake.yaml'), fake.kubeConfigYaml());
    writeFileSync(
      path.join(dir, 'other.yaml'),
      ['apiVersion: v1', 'kind: Config', 'clusters: [{ name: far, cluster: { server: "https://far.example:6443" } }]', 'users: [{ name: far, user: { token: x } }]', 'contexts: [{ name: far, context: { cluster: far, user: far } }]', 'current-context: far', ''].join('\n'),
    );
  });
  afterAll(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a kubeconfig file and reaches the cluster it names', async () => {
    fake.putGameServer(agonesGameServer('gs-1'));
    const kubeConfig = loadKubeConfig({ kind: 'kubeconfig', path: path.join(dir, 'fake.yaml') });
    const backend = new AgonesAllocationBackend({ kubeConfig, namespace: 'default' });
    const result = await backend.allocate({ selectors: [], scheduling: 'Packed', priorities: [], metadata: { labels: {}, annotations: {} }, counters: {}, lists: {} });
    expect(result.gameServerName).toBe('gs-1');
  });

  it('merges a KUBECONFIG-style list: the first file that sets a current context wins, and `context` picks another', () => {
    const list = [path.join(dir, 'other.yaml'), path.join(dir, 'fake.yaml')].join(path.delimiter);
    expect(loadKubeConfig({ kind: 'kubeconfig', path: list }).getCurrentCluster()?.server).toBe('https://far.example:6443');
    expect(loadKubeConfig({ kind: 'kubeconfig', path: list, context: 'fake' }).getCurrentCluster()?.server).toBe(fake.url);
  });

  it('says which file or context is wrong, as CONFIG_INVALID', () => {
    expect(() => loadKubeConfig({ kind: 'kubeconfig', path: path.join(dir, 'missing.yaml') })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('missing.yaml') }));
    expect(() => loadKubeConfig({ kind: 'kubeconfig', path: path.join(dir, 'fake.yaml'), context: 'prod' })).toThrow('no context named prod');
    expect(() => loadKubeConfig({ kind: 'kubeconfig', path: '' })).toThrow('kubeconfig: no file given');
    writeFileSync(path.join(dir, 'no-context.yaml'), fake.kubeConfigYaml().replace('current-context: fake', ''));
    expect(() => loadKubeConfig({ kind: 'kubeconfig', path: path.join(dir, 'no-context.yaml') })).toThrow('the current context names no cluster');
  });
});
