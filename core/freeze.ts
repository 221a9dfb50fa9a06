/** Freezes `value` and everything reachable from it; returns it typed as read-only. */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  // Loops, not Object.values: an array a level is garbage the allocator made per allocation.
  if (Array.isArray(value)) {
    for (const v of value) deepFreeze(v);
  } else {
    for (const key in value) if (Object.hasOwn(value, key)) deepFreeze(value[key]);
  }
  return value;
}
