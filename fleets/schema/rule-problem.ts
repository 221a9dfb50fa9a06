import type { FieldPath } from '../../core/yaml-source.js';

// What the rule functions return: Agones' webhook checks (Validate) and Hangar's own, which the CRD
// schema cannot express. Rules see both the parsed resource (after defaults, as Agones validates
// it) and the document as written (to tell "unset" from "set to the default").

export interface RuleProblem {
  path: FieldPath;
  message: string;
  severity: 'error' | 'warning';
  /** Point at the field's key instead of its value. */
  at?: 'key';
}

export const error = (path: FieldPath, message: string, at?: 'key'): RuleProblem => ({ path, message, severity: 'error', ...(at && { at }) });
export const warning = (path: FieldPath, message: string, at?: 'key'): RuleProblem => ({ path, message, severity: 'warning', ...(at && { at }) });

/** The document as written, below `keys`; undefined where anything on the way is missing. */
export function written(raw: unknown, ...keys: Array<string | number>): unknown {
  let node = raw;
  for (const k of keys) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[k];
  }
  return node;
}

/** A written mapping's entries (empty when it is not a mapping). */
export function entriesOf(raw: unknown): Array<[string, unknown]> {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? Object.entries(raw) : [];
}

/** A written list's items (empty when it is not a list). */
export function itemsOf(raw: unknown): unknown[] {
  return Array.isArray(raw) ? raw : [];
}
