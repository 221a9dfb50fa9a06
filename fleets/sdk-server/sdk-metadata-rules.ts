import { status } from '@grpc/grpc-js';
import { labelValueProblems, qualifiedNameProblems } from '../../core/kubernetes-names.js';
import { changed, SdkError, type SdkRule } from './sdk-rule.js';

/** SetLabel/SetAnnotation keys are stored under this prefix, as Agones does. */
export const SDK_METADATA_PREFIX = 'agones.dev/sdk-';

// Go's %q, close enough for the keys and values people use.
const quote = (s: string): string => JSON.stringify(s);

function invalid(message: string): SdkError {
  return new SdkError(status.INVALID_ARGUMENT, message);
}

/**
 * Validates like the Agones sidecar (INVALID_ARGUMENT, same texts), and then also checks the key
 * that is actually stored: the sidecar validates only the bare key, so a key such as
 * "example.com/x" or one of 60+ characters passes there but makes every later Kubernetes patch fail
 * (and the sidecar retry it forever). Hangar refuses it up front instead.
 */
function validateKey(kind: 'label' | 'annotation', key: string): void {
  const problems = qualifiedNameProblems(key);
  if (problems.length > 0) throw invalid(`invalid ${kind} key ${quote(key)}: ${problems.join(', ')}`);
  const stored = SDK_METADATA_PREFIX + key;
  const storedProblems = qualifiedNameProblems(stored);
  if (storedProblems.length > 0) {
    throw invalid(`invalid ${kind} key ${quote(key)}: it is stored as ${quote(stored)}, which Kubernetes refuses: ${storedProblems.join(', ')}`);
  }
}

/** SetLabel: `agones.dev/sdk-<key>` = value. Throws SdkError (INVALID_ARGUMENT) for a bad key or value. */
export function setLabel(key: string, value: string): SdkRule<void> {
  validateKey('label', key);
  const problems = labelValueProblems(value);
  if (problems.length > 0) throw invalid(`invalid label value ${quote(value)} for key ${quote(key)}: ${problems.join(', ')}`);
  return (gs) => changed({ ...gs, metadata: { ...gs.metadata, labels: { ...gs.metadata.labels, [SDK_METADATA_PREFIX + key]: value } } }, undefined);
}

/** SetAnnotation: `agones.dev/sdk-<key>` = value; any value is allowed, as in Kubernetes. */
export function setAnnotation(key: string, value: string): SdkRule<void> {
  validateKey('annotation', key);
  return (gs) => changed({ ...gs, metadata: { ...gs.metadata, annotations: { ...gs.metadata.annotations, [SDK_METADATA_PREFIX + key]: value } } }, undefined);
}
