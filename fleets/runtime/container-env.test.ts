import { describe, expect, it } from '@jest/globals';
import { initialStatus, type GameServer } from '../../core/game-server.js';
import type { Container, GameServerSpec } from '../../core/resources.js';
import { buildProcessSpec, expand } from './container-env.js';

const spec = { counters: {}, lists: {} } as unknown as GameServerSpec;
const gs: GameServer = {
  metadata: { name: 'arena-x2k9p', namespace: 'games', uid: 'u-1', resourceVersion: '3', generation: 1, creationTimestamp: '', labels: { mode: 'duel' }, annotations: {} },
  spec,
  status: { ...initialStatus(spec), nodeName: 'laptop' },
};
const secrets: Record<string, string> = { 'hangar/encryption-key': 'k3y' };
const ctx = {
  gameServer: gs,
  hostEnv: { PATH: '/usr/bin', HOME: '/home/me', JWT_SECRET: 'never-leak' },
  runtimeEnv: { AGONES_SDK_GRPC_PORT: '41000' },
  podIP: '127.0.0.1',
  readSecret: (name: string, key: string) => secrets[`${name}/${key}`],
};

describe('buildProcessSpec', () => {
  it('runs command + args with the container env, the runtime variables and nothing secret from the host', () => {
    const container: Container = { name: 'game', command: ['node', 'server.js'], args: ['--tick', '30'], env: [{ name: 'TICK_RATE', value: '30' }] };
    const p = buildProcessSpec(container, ctx);
    expect(p.command).toBe('node');
    expect(p.args).toEqual(['server.js', '--tick', '30']);
    expect(p.env).toEqual({ PATH: '/usr/bin', HOME: '/home/me', TICK_RATE: '30', AGONES_SDK_GRPC_PORT: '41000' });
  });

  it('expands $(VAR) in values, command and args like Kubernetes, with $$ as an escape', () => {
    const container: Container = {
      name: 'game',
      command: ['node', '$(ENTRY)'],
      args: ['--port=$(AGONES_SDK_GRPC_PORT)', '$$(ENTRY)', '$(UNDEFINED)'],
      env: [
        { name: 'ENTRY', value: 'main.js' },
        { name: 'LATER', value: 'x-$(ENTRY)-$(MISSING)' },
      ],
    };
    const p = buildProcessSpec(container, ctx);
    expect(p.args).toEqual(['main.js', '--port=41000', '$(ENTRY)', '$(UNDEFINED)']);
    expect(p.env.LATER).toBe('x-main.js-$(MISSING)');
  });

  it('fills downward-API fields and local secrets, and leaves other sources unset, saying why', () => {
    const container: Container = {
      name: 'game',
      command: ['node'],
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'MODE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['mode']" } } },
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'ENCRYPTION_KEY', valueFrom: { secretKeyRef: { name: 'hangar', key: 'encryption-key' } } },
        { name: 'CONFIG', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'x' } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
      ],
    };
    const p = buildProcessSpec(container, ctx);
    expect(p.env).toMatchObject({ POD_NAME: 'arena-x2k9p', POD_NAMESPACE: 'games', MODE: 'duel', NODE_NAME: 'laptop', POD_IP: '127.0.0.1', ENCRYPTION_KEY: 'k3y' });
    expect(p.env.DB_PASSWORD).toBeUndefined();
    expect(p.unresolved).toEqual([
      { name: 'DB_PASSWORD', reason: 'secret db has no key password locally (a file <state_dir>/secrets/<name>/<key>); the variable is left unset' },
      { name: 'CONFIG', reason: 'configMapKeyRef is a Kubernetes source with no local equivalent; the variable is left unset' },
      { name: 'SA', reason: 'fieldRef spec.serviceAccountName is not available locally; the variable is left unset' },
    ]);
  });

  it('refuses a container without a command', () => {
    expect(() => buildProcessSpec({ name: 'game', image: 'x' }, ctx)).toThrow('container game has no command');
  });

  it('expands only well-formed references', () => {
    expect(expand('$(A) $(B $A $$ $', { A: '1' })).toBe('1 $(B $A $ $');
  });
});
