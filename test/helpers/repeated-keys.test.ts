import { describe, expect, it } from '@jest/globals';
import { repeatedTopLevelKeys } from './repeated-keys.js';

describe('repeatedTopLevelKeys', () => {
  it('finds a key named twice at the top level, not in nested objects, arrays or string values', () => {
    expect(repeatedTopLevelKeys('{"pid":1,"component":"a","x":{"pid":2},"component":"b","pid":3}')).toEqual(['component', 'pid']);
    expect(repeatedTopLevelKeys('{"a":"\\"a\\":1","b":[{"a":1}],"c":{"b":{"c":1}}}')).toEqual([]);
    expect(repeatedTopLevelKeys('{"msg":"x, \\"msg\\": y","msg" : 2}')).toEqual(['msg']);
  });
});
