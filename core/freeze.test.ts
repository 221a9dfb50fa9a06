import { describe, expect, it } from '@jest/globals';
import { deepFreeze } from './freeze.js';

describe('deepFreeze', () => {
  it('freezes every object and array reachable, own keys named __proto__ included, and returns the value itself', () => {
    const inner = { values: ['a', { deep: 1 }] };
    const proto = { x: 1 };
    const value = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    const root = { inner, list: [inner, [proto]], odd: value, n: 1, s: 's', nothing: null };
    expect(deepFreeze(root)).toBe(root);
    for (const o of [root, inner, inner.values, inner.values[1], root.list, root.list[1], proto, value, Object.getOwnPropertyDescriptor(value, '__proto__')!.value]) {
      expect(Object.isFrozen(o)).toBe(true);
    }
  });

  it('leaves primitives and null as they are', () => {
    expect(deepFreeze(null)).toBeNull();
    expect(deepFreeze('s')).toBe('s');
    expect(deepFreeze(3)).toBe(3);
  });
});
