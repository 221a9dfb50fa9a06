import type { FieldPath } from '../../core/yaml-source.js';
import { dnsLabelProblem, dnsSubdomainProblem, labelValueProblem, qualifiedNameProblem } from './kubernetes-formats.js';
import { entriesOf, error, warning, written, type RuleProblem } from './rule-problem.js';

// Metadata rules: what the Kubernetes API server checks in ObjectMeta, and Agones' name limit.

/** Fields the API server sets; a document that carries them was probably copied from `kubectl get -o yaml`. */
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink'];
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

export interface NameRule {
  kind: string;
  /** Longest allowed name: Agones limits Fleet and GameServer names to 63 (they become label values). */
  maxName: number;
  /** Whether Hangar needs a fixed name to use the resource (a Fleet, unlike a GameServer, is keyed by it). */
  needsName: boolean;
}

/** Rules for a document's top-level metadata. */
export function topMetadataRules(raw: unknown, rule: NameRule): RuleProblem[] {
  const meta = written(raw, 'metadata');
  const out: RuleProblem[] = [];
  const name = written(meta, 'name');
  const generateName = written(meta, 'generateName');
  if (typeof name === 'string') {
    const p = dnsSubdomainProblem(name, rule.maxName);
    if (p) out.push(error(['metadata', 'name'], p));
  } else if (typeof generateName !== 'string') {
    out.push(error(['metadata', 'name'], `missing required field "name": set metadata.name (or metadata.generateName, for a name Kubernetes generates on kubectl create)`));
  } else if (rule.needsName) {
    out.push(
      warning(
        ['metadata', 'generateName'],
        `this ${rule.kind} has only generateName: Kubernetes names it on kubectl create (kubectl apply refuses it), but Hangar needs a fixed metadata.name to run it, so Hangar does not load it`,
      ),
    );
  }
  if (typeof generateName === 'string') {
    // The API server appends five characters, so a trailing '-' is fine.
    const p = dnsSubdomainProblem(generateName.replace(/-$/, 'x'), 253);
    if (p) out.push(error(['metadata', 'generateName'], p.replace(/, got .*$/, '')));
  }
  const namespace = written(meta, 'namespace');
  if (typeof namespace === 'string') {
    const p = dnsLabelProblem(namespace);
    if (p) out.push(error(['metadata', 'namespace'], p));
  }
  for (const field of SERVER_FIELDS) {
    if (written(meta, field) !== undefined) out.push(warning(['metadata', field], 'is set by the Kubernetes API server; Hangar ignores it (remove it from the file)', 'key'));
  }
  for (const field of ['finalizers', 'ownerReferences']) {
    if (written(meta, field) !== undefined) out.push(warning(['metadata', field], 'is ignored by Hangar locally; Kubernetes applies it', 'key'));
  }
  out.push(...labelsAndAnnotations(meta, ['metadata']));
  return out;
}

/** Label and annotation keys and values, as Kubernetes validates them wherever they appear. */
export function labelsAndAnnotations(meta: unknown, path: FieldPath): RuleProblem[] {
  const out: RuleProblem[] = [];
  for (const [key, value] of entriesOf(written(meta, 'labels'))) {
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem) out.push(error([...path, 'labels', key], `label ${keyProblem}`, 'key'));
    const valueProblem = typeof value === 'string' ? labelValueProblem(value) : undefined;
    if (valueProblem) out.push(error([...path, 'labels', key], valueProblem));
  }
  let bytes = 0;
  for (const [key, value] of entriesOf(written(meta, 'annotations'))) {
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem) out.push(error([...path, 'annotations', key], `annotation ${keyProblem}`, 'key'));
    bytes += Buffer.byteLength(key) + Buffer.byteLength(String(value));
  }
  if (bytes > ANNOTATIONS_MAX_BYTES) out.push(error([...path, 'annotations'], `annotations total ${bytes} bytes; Kubernetes allows at most ${ANNOTATIONS_MAX_BYTES}`));
  return out;
}

/** A Fleet's GameServer template metadata: Agones names each GameServer after the Fleet. */
export function gameServerTemplateMetadataRules(meta: unknown, path: FieldPath): RuleProblem[] {
  const out = labelsAndAnnotations(meta, path);
  for (const [field] of entriesOf(meta)) {
    if (field === 'name' || field === 'generateName' || field === 'namespace') {
      out.push(warning([...path, field], "is replaced: Agones names each GameServer after its Fleet, in the Fleet's namespace", 'key'));
    } else if (field !== 'labels' && field !== 'annotations') {
      out.push(warning([...path, field], 'is ignored by Hangar locally; Kubernetes applies it', 'key'));
    }
  }
  return out;
}
