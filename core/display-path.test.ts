import { describe, expect, it } from '@jest/globals';
import { displayPath } from './display-path.js';

describe('displayPath', () => {
  it('is relative below the working directory and absolute anywhere else', () => {
    expect(displayPath('/work/hangar', '/work/hangar/.hangar/hangar.log')).toBe('.hangar/hangar.log');
    expect(displayPath('/work/hangar', '/tmp/state/hangar.log')).toBe('/tmp/state/hangar.log');
    expect(displayPath('/work/hangar', '/work/hangar-2/x.yaml')).toBe('/work/hangar-2/x.yaml');
    expect(displayPath('/work/hangar', '/work/hangar')).toBe('/work/hangar');
  });
});
