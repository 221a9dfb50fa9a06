import { describe, expect, it } from '@jest/globals';
import { setOwn } from './own-property.js';

describe('setOwn', () => {
  it('sets a key named __proto__ as an own, enumerable property and leaves the prototype alone', () => {
    const out: Record<string, unknown> = {};
    setOwn(out, '__proto__', { polluted: true });
    setOwn(out, 'plain', 1);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(out)).toEqual(['__proto__', 'plain']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":true},"plain":1}');
  });
});
