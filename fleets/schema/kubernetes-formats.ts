import { labelValueProblems, qualifiedNameProblems } from '../../core/kubernetes-names.js';

// The string formats Kubernetes checks in the fields fleet YAML uses: object names, label and
// annotation keys and values, resource quantities, timestamps. Each *Problem function returns what
// is wrong, or undefined when the value is fine.

/** metav1.Time as Go parses it (time.RFC3339, optional fraction of a second). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A DNS-1123 label: container names, namespaces (at most 63 characters). */
export function dnsLabelProblem(value: string): string | undefined {
  if (value.length > 63) return `must be at most 63 characters, got ${value.length}`;
  if (!DNS_LABEL.test(value)) return `must be lowercase letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label), got ${JSON.stringify(value)}`;
  return undefined;
}

/** A DNS-1123 subdomain of at most `max` characters: object names. */
export function dnsSubdomainProblem(value: string, max: number): string | undefined {
  if (value.length > max) return `must be at most ${max} characters, got ${value.length}`;
  if (!DNS_SUBDOMAIN.test(value)) {
    return `must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (a DNS-1123 subdomain), got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** A label or annotation key: `name` or `prefix/name`, the prefix a DNS subdomain (Kubernetes' own wording). */
export function qualifiedNameProblem(key: string): string | undefined {
  const problems = qualifiedNameProblems(key);
  return problems.length ? `key ${JSON.stringify(key)}: ${problems.join('; ')}` : undefined;
}

export function labelValueProblem(value: string): string | undefined {
  const problems = labelValueProblems(value);
  return problems.length ? `label value ${JSON.stringify(value)}: ${problems.join('; ')}` : undefined;
}

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;
const SCALE: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The value of a Kubernetes resource quantity ("64Mi", "250m", "2"), or undefined if it is not one. */
export function parseQuantity(value: string): number | undefined {
  const m = QUANTITY.exec(value);
  if (!m) return undefined;
  const suffix = m[2] ?? '';
  const scale = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SCALE[suffix]!;
  return Number(m[1]) * scale;
}
