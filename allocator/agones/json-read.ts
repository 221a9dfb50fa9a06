// Lenient readers for JSON from the Kubernetes API: a field of the wrong type reads as empty
// (or the given default), since the API server has already accepted the object.

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function record(v: unknown): Json {
  return isObject(v) ? v : {};
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function count(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** The string entries of a string map (labels, annotations). */
export function strings(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(record(v)).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The string items of an array. */
export function stringList(v: unknown): string[] {
  return list(v).filter((x): x is string => typeof x === 'string');
}
