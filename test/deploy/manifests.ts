import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv } from 'ajv';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { loadCrd, schemaAt } from '../fixtures/agones/agones-fixtures.js';
import { CrdValidator } from '../fixtures/agones/crd-validator.js';

// The Kubernetes manifests as kustomize renders them, and the checks each rendered object must pass:
//   - built-in kinds: the Kubernetes OpenAPI schema as the kubernetes-models package compiles it
//     (types, enums, required fields, formats), and its TypeScript interfaces for unknown fields,
//     which that schema lets through (an excess-property check of every object, like
//     `kubectl apply --validate=strict`);
//   - Istio kinds: the same, from @kubernetes-models/istio;
//   - Agones kinds: the CRDs' openAPIV3Schema (test/fixtures/agones/crds) through CrdValidator;
//   - VerticalPodAutoscaler: no schema for it is published as a package, so VPA_SCHEMA below
//     transcribes the fields Hangar uses from autoscaling.k8s.io/v1 and refuses any other.

export const OVERLAYS = ['development', 'staging', 'production'] as const;
export type Overlay = (typeof OVERLAYS)[number];

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** scripts/render.sh OVERLAY, parsed. */
export function renderOverlay(overlay: Overlay): K8sObject[] {
  const text = execFileSync('bash', ['scripts/render.sh', overlay], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
}

const require = createRequire(import.meta.url);

/** The kubernetes-models module of a kind: "apps/v1" Deployment → kubernetes-models/apps/v1/Deployment. */
function modelModule(obj: K8sObject): string | undefined {
  if (obj.apiVersion.startsWith('networking.istio.io/')) return `@kubernetes-models/istio/${obj.apiVersion}/${obj.kind}`;
  if (obj.apiVersion.includes('agones.dev') || obj.apiVersion.startsWith('autoscaling.k8s.io/')) return undefined;
  return `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
}

type ModelClass = new (data: unknown) => { validate(): void };

/** Schema errors of one object against its kind's compiled OpenAPI schema (kubernetes-models). */
function modelErrors(obj: K8sObject, module: string): string[] {
  let Model: ModelClass;
  try {
    Model = (require(module) as Record<string, ModelClass>)[obj.kind]!;
  } catch {
    return [`no Kubernetes schema for ${obj.apiVersion} ${obj.kind} (${module}): not a kind this cluster version has`];
  }
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

const fleetCrd = loadCrd('fleets.agones.dev');
const objectMeta = schemaAt(fleetCrd, 'spec', 'template', 'metadata');
const AGONES: Record<string, CrdValidator> = {
  'agones.dev/v1 Fleet': new CrdValidator(fleetCrd, objectMeta),
  'agones.dev/v1 GameServer': new CrdValidator(loadCrd('gameservers.agones.dev'), objectMeta),
  'autoscaling.agones.dev/v1 FleetAutoscaler': new CrdValidator(loadCrd('fleetautoscalers.autoscaling.agones.dev'), objectMeta),
};

const quantity = { anyOf: [{ type: 'string', pattern: '^[0-9.]+(m|Ki|Mi|Gi|Ti|k|M|G|T)?$' }, { type: 'number' }] };
const resourceList = { type: 'object', propertyNames: { enum: ['cpu', 'memory'] }, additionalProperties: quantity };
/** autoscaling.k8s.io/v1 VerticalPodAutoscaler, the fields Hangar uses (from the VPA's v1 API types). */
const VPA_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'autoscaling.k8s.io/v1' },
    kind: { const: 'VerticalPodAutoscaler' },
    metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, namespace: { type: 'string' }, labels: { type: 'object' }, annotations: { type: 'object' } }, additionalProperties: false },
    spec: {
      type: 'object',
      required: ['targetRef'],
      additionalProperties: false,
      properties: {
        targetRef: { type: 'object', required: ['kind', 'name'], additionalProperties: false, properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' } } },
        updatePolicy: { type: 'object', additionalProperties: false, properties: { updateMode: { enum: ['Off', 'Initial', 'Recreate', 'InPlaceOrRecreate', 'Auto'] }, minReplicas: { type: 'integer', minimum: 1 } } },
        resourcePolicy: {
          type: 'object',
          additionalProperties: false,
          properties: {
            containerPolicies: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  containerName: { type: 'string' },
                  mode: { enum: ['Auto', 'Off'] },
                  minAllowed: resourceList,
                  maxAllowed: resourceList,
                  controlledResources: { type: 'array', items: { enum: ['cpu', 'memory'] } },
                  controlledValues: { enum: ['RequestsAndLimits', 'RequestsOnly'] },
                },
              },
            },
          },
        },
      },
    },
  },
};
const validateVpa = new Ajv({ allErrors: true }).compile(VPA_SCHEMA);

/** Every schema problem of `obj`, as "Kind/name: message"; empty when it validates. */
export function schemaErrors(obj: K8sObject): string[] {
  const where = `${obj.kind}/${obj.metadata?.name}`;
  const agones = AGONES[`${obj.apiVersion} ${obj.kind}`];
  if (agones) return agones.errors(obj).map((p) => `${where}: ${p}`);
  if (obj.apiVersion === 'autoscaling.k8s.io/v1' && obj.kind === 'VerticalPodAutoscaler') {
    return validateVpa(obj) ? [] : (validateVpa.errors ?? []).map((e) => `${where}: ${e.instancePath} ${e.message}`);
  }
  const module = modelModule(obj);
  if (!module) return [`${where}: no schema known for ${obj.apiVersion}`];
  return modelErrors(obj, module).map((m) => `${where}: ${m}`);
}

/**
 * Unknown fields in built-in and Istio objects, which the compiled schemas accept: each object is
 * written as a TypeScript literal of its kind's interface and type-checked, so a field the
 * interface does not have (a typo, a wrong nesting) is an excess-property error naming it.
 */
export function unknownFieldErrors(objects: readonly K8sObject[]): string[] {
  const typed = objects.map((o) => ({ o, module: modelModule(o) })).filter((x): x is { o: K8sObject; module: string } => x.module !== undefined);
  const root = process.cwd();
  const file = path.join(root, 'test', 'deploy', '__rendered_manifests__.ts');
  const source = typed.map(({ o, module }, i) => `// ${o.kind}/${o.metadata.name}\nexport const o${i}: import(${JSON.stringify(module)}).I${o.kind} = ${JSON.stringify(o, null, 1)};`).join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (path.resolve(name) === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sf).map((d) => {
    const line = d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start).line : 0;
    // The object's comment line names it: walk up to the nearest "// Kind/name".
    const lines = source.split('\n');
    let owner = '';
    for (let l = line; l >= 0; l--) if (lines[l]!.startsWith('// ')) { owner = lines[l]!.slice(3); break; }
    return `${owner}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/** Objects whose kind is one of `kinds`. */
export function ofKind<T extends K8sObject = K8sObject>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function readYaml(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as K8sObject);
}
