import { describe, expect, it } from '@jest/globals';
import { upStackUrls } from './local-stack.js';

// Run from the clone: config/development.yaml is what `hangar up` reads here.

describe('upStackUrls', () => {
  it("is where the config hangar up reads here listens, with the HANGAR_ overrides", () => {
    expect(upStackUrls({}, process.cwd())).toEqual({ api: 'http://127.0.0.1:8000', lobby: 'http://127.0.0.1:8080' });
    expect(upStackUrls({ HANGAR_API__PORT: '18001', HANGAR_LOBBY__PORT: '18081' }, process.cwd())).toEqual({ api: 'http://127.0.0.1:18001', lobby: 'http://127.0.0.1:18081' });
  });

  it('reaches a listener bound to every address on loopback', () => {
    expect(upStackUrls({ HANGAR_API__HOST: '0.0.0.0', HANGAR_LOBBY__HOST: '::' }, process.cwd())).toEqual({ api: 'http://127.0.0.1:8000', lobby: 'http://[::1]:8080' });
    expect(upStackUrls({ HANGAR_API__HOST: '::1' }, process.cwd())?.api).toBe('http://[::1]:8000');
  });

  it('is undefined when that config does not load: no stack runs from it', () => {
    expect(upStackUrls({ HANGAR_API__PORT: 'eighty' }, process.cwd())).toBeUndefined();
  });
});
