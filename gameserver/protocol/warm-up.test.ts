import { describe, expect, it } from '@jest/globals';
import { HANGAR_PROTOCOL_ID } from './protocol-constants.js';
import { warmUpNetcode } from './warm-up.js';

// The warm-up is only worth its start-up time if it runs the paths real players take: if a
// protocol change made its handshakes fail, it would warm nothing and say nothing.

describe('warmUpNetcode', () => {
  it('connects every throwaway client, passes messages both ways for every tick, and disconnects them all', () => {
    const w = warmUpNetcode(HANGAR_PROTOCOL_ID, 20, 8);
    expect(w.connected).toBe(20);
    expect(w.disconnected).toBe(20);
    // Per client: 8 inputs + 2 reliable events up; 8 snapshots + 2 reliable events down.
    expect(w.toServer).toBe(20 * 10);
    expect(w.toClients).toBe(20 * 10);
  });

  it('does nothing when asked for no connections', () => {
    expect(warmUpNetcode(HANGAR_PROTOCOL_ID, 0)).toEqual({ connected: 0, disconnected: 0, toServer: 0, toClients: 0, ms: 0 });
  });
});
