import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { gameServerSite } from '../../allocator/game-server-source.js';
import { parseConfig } from '../../core/config.js';
import { OVERLAYS, ofKind, readYaml, renderOverlay, schemaErrors, unknownFieldErrors, type K8sObject, type Overlay } from './manifests.js';

// k8s/: every overlay renders with kustomize (kubectl kustomize, as scripts/render.sh runs it), and
// what it renders is what a cluster with Agones would accept and what Hangar's services need.

type Container = {
  name: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
  image?: string;
};
type PodSpec = {
  containers: Container[];
  serviceAccountName?: string;
  affinity?: { podAntiAffinity?: unknown };
  securityContext?: { runAsNonRoot?: boolean };
  volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string; items?: Array<{ key: string }> } }>;
};
type Deployment = K8sObject & { spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };

const rendered = new Map<Overlay, K8sObject[]>(OVERLAYS.map((o) => [o, renderOverlay(o)]));
const find = (overlay: Overlay, kind: string, name: string): K8sObject => {
  const obj = rendered.get(overlay)!.find((o) => o.kind === kind && o.metadata.name === name);
  if (!obj) throw new Error(`${overlay} renders no ${kind}/${name}`);
  return obj;
};
const fleetFiles = readdirSync('config/fleets').filter((f) => f.endsWith('.yaml')).sort();

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = rendered.get(overlay)!;

  it('renders, and every object validates against its schema (Kubernetes, Istio, Agones CRDs, VPA)', () => {
    expect(objects.length).toBeGreaterThan(20);
    expect(objects.flatMap(schemaErrors)).toEqual([]);
  });

  it('has no field the Kubernetes and Istio types do not know (strict validation)', () => {
    expect(unknownFieldErrors(objects)).toEqual([]);
  });

  it('puts everything in the hangar namespace', () => {
    for (const o of objects.filter((o) => o.kind !== 'Namespace')) expect([o.kind, o.metadata.name, o.metadata.namespace]).toEqual([o.kind, o.metadata.name, 'hangar']);
  });

  it('runs the game servers as the Fleet and FleetAutoscaler of config/fleets, unchanged but for namespace, labels and image', () => {
    const fromFiles = fleetFiles.flatMap((f) => readYaml(`config/fleets/${f}`));
    const agones = objects.filter((o) => o.apiVersion.includes('agones.dev'));
    expect(agones.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(fromFiles.map((o) => `${o.kind}/${o.metadata.name}`).sort());
    for (const original of fromFiles) {
      const out = structuredClone(agones.find((o) => o.kind === original.kind && o.metadata.name === original.metadata.name)!);
      // What kustomize adds on purpose: the namespace, the part-of label, the overlay's image, and
      // (with Istio) the annotation that keeps the mesh's sidecar out of game-server pods.
      expect(out.metadata.namespace).toBe('hangar');
      delete out.metadata.namespace;
      delete out.metadata.labels!['app.kubernetes.io/part-of'];
      if (Object.keys(out.metadata.labels!).length === 0) delete out.metadata.labels;
      const expected = structuredClone(original);
      if (original.kind === 'Fleet') {
        const pod = (o: K8sObject) => (o as unknown as { spec: { template: { spec: { template: { metadata?: { annotations?: Record<string, string> }; spec: { containers: Container[] } } } } } }).spec.template.spec.template;
        const image = find(overlay, 'Deployment', 'allocator') as Deployment;
        const hangarImage = image.spec.template.spec.containers[0]!.image!;
        for (const c of pod(expected).spec.containers) if (c.image?.startsWith('hangar:')) c.image = hangarImage;
        const annotations = pod(out).metadata?.annotations;
        if (overlay !== 'development') expect(annotations).toEqual({ 'sidecar.istio.io/inject': 'false' });
        if (annotations) delete pod(out).metadata!.annotations;
        if (pod(out).metadata && Object.keys(pod(out).metadata!).length === 0) delete pod(out).metadata;
      }
      expect(out).toEqual(expected);
    }
  });

  it('gives the allocator and the matchmaker exactly the Agones permissions each uses, each bound to its own service account', () => {
    const roles = ofKind<K8sObject & { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>(objects, 'Role');
    expect(ofKind(objects, 'ClusterRole')).toEqual([]);
    const grants = (role: (typeof roles)[number]) => role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))).sort();
    expect(Object.fromEntries(roles.map((r) => [r.metadata.name, grants(r)]))).toEqual({
      'hangar-allocator': ['agones.dev/gameservers:delete', 'agones.dev/gameservers:get', 'agones.dev/gameservers:list', 'agones.dev/gameservers:watch', 'allocation.agones.dev/gameserverallocations:create'],
      // Its view only (list, then watch): the game servers' annotations carry its matches' starts and results.
      'hangar-matchmaker': ['agones.dev/gameservers:list', 'agones.dev/gameservers:watch'],
    });
    const bindings = ofKind<K8sObject & { roleRef: { name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> }>(objects, 'RoleBinding');
    expect(bindings.map((b) => [b.roleRef.name, b.subjects])).toEqual([
      ['hangar-allocator', [{ kind: 'ServiceAccount', name: 'hangar-allocator', namespace: 'hangar' }]],
      ['hangar-matchmaker', [{ kind: 'ServiceAccount', name: 'hangar-matchmaker', namespace: 'hangar' }]],
    ]);
    expect((find(overlay, 'Deployment', 'allocator') as Deployment).spec.template.spec.serviceAccountName).toBe('hangar-allocator');
    expect((find(overlay, 'Deployment', 'matchmaker') as Deployment).spec.template.spec.serviceAccountName).toBe('hangar-matchmaker');
  });

  it.each(['allocator', 'matchmaker'])('runs the %s with probes on /health/*, a preStop drain, anti-affinity, resources, non-root', (name) => {
    const d = find(overlay, 'Deployment', name) as Deployment;
    expect(d.spec.replicas).toBeUndefined(); // the HPA owns replicas
    const pod = d.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.args).toEqual([name]);
    const admin = c.ports!.find((p) => p.name === 'admin')!;
    expect(admin.containerPort).toBe(9090);
    expect(c.ports!.map((p) => p.containerPort)).toContain(name === 'allocator' ? 8000 : 8080);
    expect([c.startupProbe?.httpGet, c.livenessProbe?.httpGet, c.readinessProbe?.httpGet]).toEqual([
      { path: '/health/startup', port: 'admin' },
      { path: '/health/live', port: 'admin' },
      { path: '/health/ready', port: 'admin' },
    ]);
    expect(c.lifecycle?.preStop?.exec?.command).toEqual(['node', 'scripts/admin-request.mjs', 'drain']);
    expect(pod.affinity?.podAntiAffinity).toBeDefined();
    expect(c.resources?.requests?.cpu).toBeDefined();
    expect(c.resources?.limits?.memory).toBeDefined();
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    // The deployment guide's variables: the pod's identity, secrets from Secret hangar.
    const env = new Map(c.env!.map((e) => [e.name, e]));
    for (const v of ['POD_NAME', 'POD_NAMESPACE', 'NODE_NAME']) expect(env.get(v)?.valueFrom?.fieldRef).toBeDefined();
    expect(env.get('DB_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'hangar', key: 'db-password' });
    if (name === 'matchmaker') {
      expect(env.get('JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'hangar', key: 'jwt-secret' });
      expect(env.get('ENCRYPTION_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'hangar', key: 'encryption-key' });
    } else {
      expect(env.get('HANGAR_ALLOCATOR__BACKEND')?.value).toBe('agones');
    }
    // config/production.yaml is mounted where the service reads it, and the generated names resolve.
    const mount = c.volumeMounts!.find((m) => m.mountPath === '/app/config/production.yaml')!;
    const volume = pod.volumes!.find((v) => v.name === mount.name)!;
    expect(parse(String((find(overlay, 'ConfigMap', volume.configMap!.name) as K8sObject & { data: Record<string, string> }).data['production.yaml']))).toEqual(parse(readFileSync('config/production.yaml', 'utf8')));
    for (const from of c.envFrom!) find(overlay, 'ConfigMap', from.configMapRef!.name);
    const vars = (find(overlay, 'ConfigMap', c.envFrom![0]!.configMapRef!.name) as K8sObject & { data: Record<string, string> }).data;
    expect(Object.keys(vars)).toEqual(expect.arrayContaining(['GAME_SERVER_ENV', 'DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'REDIS_HOST', 'REDIS_PORT', 'LOG_LEVEL']));
    expect(vars.GAME_SERVER_ENV).toBe('production');
  });

  it('scales the allocator and matchmaker with HPAs (CPU, memory; the matchmaker also on connections) and guards them with PDBs', () => {
    type Hpa = K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: Array<{ type: string; resource?: { name: string }; pods?: { metric: { name: string } } }> } };
    const hpas = ofKind<Hpa>(objects, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => `${h.spec.scaleTargetRef.kind}/${h.spec.scaleTargetRef.name}`).sort()).toEqual(['Deployment/allocator', 'Deployment/matchmaker']);
    for (const h of hpas) {
      const names = h.spec.metrics.map((m) => m.resource?.name ?? m.pods?.metric.name);
      expect(names).toEqual(expect.arrayContaining(['cpu', 'memory']));
      if (h.metadata.name === 'matchmaker') expect(names).toContain('game_server_connection_count');
      expect(h.spec.minReplicas).toBeLessThanOrEqual(h.spec.maxReplicas);
    }
    // Nothing scales the game servers but their FleetAutoscaler.
    expect(ofKind(objects, 'FleetAutoscaler').length).toBeGreaterThan(0);
    const pdbs = ofKind<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget');
    expect(pdbs.map((p) => p.spec.selector.matchLabels['app.kubernetes.io/name']).sort()).toEqual(['allocator', 'matchmaker']);
  });

  it('exposes the lobby through a LoadBalancer on 8080 and keeps the admin ports inside', () => {
    type Service = K8sObject & { spec: { type?: string; selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> } };
    const services = ofKind<Service>(objects, 'Service');
    const lb = services.filter((s) => s.spec.type === 'LoadBalancer');
    expect(lb.map((s) => [s.metadata.name, s.spec.selector, s.spec.ports.map((p) => p.port)])).toEqual([['gateway', { 'app.kubernetes.io/name': 'matchmaker' }, [8080]]]);
    // Every Service selects pods some Deployment makes, and names ports those pods have.
    for (const s of services) {
      const d = ofKind<Deployment>(objects, 'Deployment').find((d) => Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      expect([s.metadata.name, d?.metadata.name !== undefined]).toEqual([s.metadata.name, true]);
      const ports = d!.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of s.spec.ports) expect(ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)).toBe(true);
    }
  });

  it('names only Secret keys that the Secret template has', () => {
    const template = readYaml('k8s/secret.template.yaml')[0] as K8sObject & { stringData: Record<string, string> };
    const keys = new Set(Object.keys(template.stringData));
    const refs = JSON.stringify(objects).match(/"secretKeyRef":\{[^}]*\}/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const { name, key } = JSON.parse(ref.slice('"secretKeyRef":'.length)) as { name: string; key: string };
      expect(`${name}/${key}`).toBe(`hangar/${keys.has(key) ? key : `<${key} missing from k8s/secret.template.yaml>`}`);
    }
    // No overlay ships a Secret: it is created from generated values (docs/operations.md).
    expect(ofKind(objects, 'Secret')).toEqual([]);
  });

  /** A service's environment as the kubelet makes it (secrets as placeholders), and its mounted config file's text. */
  const serviceEnvironment = (name: string): { env: NodeJS.ProcessEnv; configText: string } => {
    const pod = (find(overlay, 'Deployment', name) as Deployment).spec.template.spec;
    const c = pod.containers[0]!;
    const data = (configMap: string) => (find(overlay, 'ConfigMap', configMap) as K8sObject & { data: Record<string, string> }).data;
    const env: NodeJS.ProcessEnv = {};
    for (const from of c.envFrom ?? []) Object.assign(env, data(from.configMapRef!.name));
    const fields: Record<string, string> = { 'metadata.namespace': 'hangar', 'metadata.name': `${name}-7d9f8-x2x4q`, 'spec.nodeName': 'node-1' };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath] ?? `<unknown fieldRef ${e.valueFrom.fieldRef.fieldPath}>`;
      else if (e.valueFrom?.secretKeyRef) env[e.name] = `<secret ${e.valueFrom.secretKeyRef.key}>`;
    }
    const mount = c.volumeMounts!.find((m) => m.mountPath === '/app/config/production.yaml')!;
    const configMap = pod.volumes!.find((v) => v.name === mount.name)!.configMap!.name;
    return { env, configText: data(configMap)[mount.subPath ?? 'production.yaml']! };
  };

  it.each(['allocator', 'matchmaker'])('gives the %s only HANGAR_* variables that name a setting, with values its config accepts', (name) => {
    const { env, configText } = serviceEnvironment(name);
    const variables = Object.keys(env).filter((v) => v.startsWith('HANGAR_'));
    expect(variables).toEqual(expect.arrayContaining(['HANGAR_ALLOCATOR__BACKEND', 'HANGAR_ALLOCATOR__NAMESPACE', 'HANGAR_ALLOCATOR__CLUSTER']));
    // parseConfig refuses an unknown key or a bad value, naming the variable.
    const config = parseConfig(configText, 'config/production.yaml', env);
    expect([config.allocator.backend, config.allocator.namespace, config.allocator.cluster]).toEqual(['agones', 'hangar', overlay]);
    expect(() => parseConfig(configText, 'config/production.yaml', { ...env, HANGAR_ALLOCATOR__NAMESPCE: 'hangar' })).toThrow(/HANGAR_ALLOCATOR__NAMESPCE: allocator\.namespce: unknown field "namespce" \(did you mean "namespace"\?\)/);
  });

  it("names its cluster in the matchmaker's site, so the matchmaker does not warn that it names none", () => {
    const { env, configText } = serviceEnvironment('matchmaker');
    const config = parseConfig(configText, 'config/production.yaml', env);
    expect(config.allocator.backend).toBe('agones');
    expect(gameServerSite(config, { backend: 'agones', kubeConfig: new KubeConfig(), inCluster: true })).toEqual({ name: `agones:${overlay}/hangar` });
  });

  it('backs up with the CronJob running scripts/disaster-recovery.sh backup from the generated ConfigMap', () => {
    type CronJob = K8sObject & { spec: { jobTemplate: { spec: { template: { spec: PodSpec } } } } };
    const job = find(overlay, 'CronJob', 'hangar-backup') as CronJob;
    const pod = job.spec.jobTemplate.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.command).toEqual(['bash', '/opt/hangar/disaster-recovery.sh', 'backup']);
    const scripts = find(overlay, 'ConfigMap', pod.volumes!.find((v) => v.name === 'scripts')!.configMap!.name) as K8sObject & { data: Record<string, string> };
    expect(scripts.data['disaster-recovery.sh']).toBe(readFileSync('scripts/disaster-recovery.sh', 'utf8'));
    const env = new Set([...(c.env ?? []).map((e) => e.name), ...Object.keys((find(overlay, 'ConfigMap', c.envFrom![0]!.configMapRef!.name) as K8sObject & { data: Record<string, string> }).data)]);
    // Every setting the script's backup refuses to run without.
    for (const v of ['DB_HOST', 'DB_NAME', 'DB_USER', 'DB_PASSWORD', 'BACKUP_DIR']) expect([v, env.has(v)]).toEqual([v, true]);
  });
});

describe('k8s/ as a whole', () => {
  it('lists every fleet file of config/fleets in the base, referenced in place', () => {
    const base = parse(readFileSync('k8s/base/kustomization.yaml', 'utf8')) as { resources: string[] };
    expect(base.resources.filter((r) => r.startsWith('../../config/fleets/')).sort()).toEqual(fleetFiles.map((f) => `../../config/fleets/${f}`));
  });

  it('keeps placeholders only in the Secret template, and the template is a valid Secret', () => {
    const docs = readYaml('k8s/secret.template.yaml');
    expect(docs).toHaveLength(1);
    const secret = docs[0] as K8sObject & { stringData: Record<string, string>; data?: unknown };
    expect(schemaErrors(secret)).toEqual([]);
    expect(secret.data).toBeUndefined();
    for (const [key, value] of Object.entries(secret.stringData)) expect([key, value]).toEqual([key, expect.stringMatching(/^<REPLACE: .+>$/)]);
  });

  it('differs between overlays where it should: development has datastores and no Istio; production pins an image and has Istio and VPA', () => {
    const kinds = (o: Overlay) => new Set(rendered.get(o)!.map((x) => x.kind));
    expect(kinds('development').has('VirtualService')).toBe(false);
    expect(find('development', 'Deployment', 'postgres')).toBeDefined();
    expect((find('development', 'CronJob', 'hangar-backup').spec as { suspend?: boolean }).suspend).toBe(true);
    for (const o of ['staging', 'production'] as const) {
      for (const k of ['VirtualService', 'DestinationRule', 'VerticalPodAutoscaler']) expect([o, k, kinds(o).has(k)]).toEqual([o, k, true]);
      expect((find(o, 'Namespace', 'hangar').metadata.labels ?? {})['istio-injection']).toBe('enabled');
      expect((find(o, 'Deployment', 'allocator') as Deployment).spec.template.spec.containers[0]!.image).toMatch(/^[a-z0-9.-]+\/hangar:\d+\.\d+\.\d+$/);
    }
  });

  it('needs the load restrictor setting that scripts/render.sh passes, as the base explains (plain kubectl apply -k refuses)', () => {
    expect(readFileSync('k8s/base/kustomization.yaml', 'utf8')).toContain('--load-restrictor LoadRestrictionsNone');
    const plain = spawnSync('kubectl', ['kustomize', 'k8s/overlays/production'], { encoding: 'utf8' });
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toMatch(/security; file '.*config\/(fleets\/arena|production)\.yaml' is not in or below/);
  });

  it('has validators that catch what they are for (so a green run means something)', () => {
    const objects = rendered.get('production')!;
    const pick = (kind: string, name: string) => structuredClone(objects.find((o) => o.kind === kind && o.metadata.name === name)!) as K8sObject & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const typo = pick('Deployment', 'allocator');
    typo.spec.template.spec.containers[0].readinesProbe = typo.spec.template.spec.containers[0].readinessProbe;
    expect(unknownFieldErrors([typo]).join('\n')).toMatch(/Deployment\/allocator: .*'"readinesProbe"' does not exist/);
    const wrongType = pick('Deployment', 'matchmaker');
    wrongType.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    expect(schemaErrors(wrongType).join('\n')).toMatch(/containerPort must be integer/);
    const missing = pick('Service', 'gateway');
    delete missing.spec.ports[0].port;
    expect(schemaErrors(missing).join('\n')).toMatch(/Service\/gateway: .*must have required property port/);
    const fleet = pick('Fleet', 'arena');
    fleet.spec.scheduling = 'packed';
    expect(schemaErrors(fleet)).toEqual([expect.stringMatching(/^Fleet\/arena: spec\.scheduling/)]);
    const vpa = pick('VerticalPodAutoscaler', 'allocator');
    vpa.spec.updatePolicy.updateMode = 'Sometimes';
    expect(schemaErrors(vpa).length).toBeGreaterThan(0);
    const vs = pick('VirtualService', 'matchmaker');
    vs.spec.http[0].timout = '1s';
    expect(unknownFieldErrors([vs]).join('\n')).toMatch(/VirtualService\/matchmaker: .*'"timout"' does not exist/);
    expect(schemaErrors({ apiVersion: 'apps/v1', kind: 'Deploymint', metadata: { name: 'x' } })).toEqual([expect.stringContaining('no Kubernetes schema')]);
  });
});
