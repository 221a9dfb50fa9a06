/** Freezes `value` and everything reachable from it; returns it typed as read-only. */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) freezeThroughout(value);
  return value;
}

/**
 * Freezes `value` (an object not frozen yet), then whatever it reaches that is not frozen already.
 * Only such children are visited: a call for each string, number or frozen part was most of what
 * freezing a freshly allocated game server cost (BENCHMARKS.md, "Allocator under load").
 */
function freezeThroughout(value: object): void {
  Object.freeze(value);
  // Loops, not Object.values: an array a level is garbage the allocator made per allocation.
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) freezeThroughout(v);
  } else {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const v = (value as Record<string, unknown>)[key];
      if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) freezeThroughout(v);
    }
  }
}
