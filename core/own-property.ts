/**
 * Sets `record[key]` as an own property, even for a key named `__proto__` (a label, Counter or List
 * may be called that), which plain assignment would turn into setting the prototype.
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}
