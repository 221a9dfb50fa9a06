import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../core/errors.js';

// Where the Agones backend finds its cluster. core/config.ts decides (from KUBECONFIG, a flag, or
// running in a pod) and passes one of these; nothing here reads the environment itself, except
// what client-node's in-cluster loader reads (KUBERNETES_SERVICE_HOST/PORT and the service
// account's token and CA files under /var/run/secrets/kubernetes.io/serviceaccount).

export type KubeConfigSource =
  | { kind: 'in-cluster' }
  /** `path` is a kubeconfig file, or a KUBECONFIG-style list of them (merged like kubectl: the first file's context wins). */
  | { kind: 'kubeconfig'; path: string; context?: string };

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kind === 'in-cluster') {
    kc.loadFromCluster();
    return kc;
  }
  const files = source.path.split(path.delimiter).filter((p) => p !== '');
  if (files.length === 0) throw new ConfigError(['kubeconfig: no file given']);
  files.forEach((file, i) => {
    const one = i === 0 ? kc : new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new ConfigError([`kubeconfig ${file}: ${(err as Error).message}`], { cause: err });
    }
    if (one !== kc) kc.mergeConfig(one, true);
  });
  if (source.context !== undefined) {
    if (!kc.getContextObject(source.context)) throw new ConfigError([`kubeconfig ${source.path}: no context named ${source.context}`]);
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster()) throw new ConfigError([`kubeconfig ${source.path}: the current context names no cluster`]);
  return kc;
}
