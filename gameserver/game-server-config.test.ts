import { describe, expect, it } from '@jest/globals';
import { loadGameServerConfig } from './game-server-config.js';
import { problemsOf } from '../test/helpers/config-problems.js';

describe('game server config', () => {
  const key = 'ab'.repeat(32);

  it('reads the container environment with defaults', () => {
    const cfg = loadGameServerConfig({ ENCRYPTION_KEY: key, TICK_RATE: '60', PATH: '/bin' });
    expect(cfg.TICK_RATE).toBe(60);
    expect(cfg.MATCH_SECONDS).toBe(300);
    expect(cfg.NETWORK_WORKERS).toBe(0);
    expect(cfg.TICK_SPIN_MS).toBe(2);
    expect(cfg.SDK_LOST_SECONDS).toBe(30);
    expect(cfg.WARM_UP_PLAYERS).toBe(4);
    expect(cfg.ENCRYPTION_KEY).toEqual(Buffer.from(key, 'hex'));
    expect(cfg.LOG_LEVEL).toBe('info');
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('takes an empty variable as unset, and a fractional view radius', () => {
    const cfg = loadGameServerConfig({ ENCRYPTION_KEY: key, MAX_PLAYERS: '', GAME_PORT_NAME: '', VIEW_RADIUS: '12.5', TICK_SPIN_MS: '0.5', LOG_LEVEL: 'warn' });
    expect(cfg.MAX_PLAYERS).toBe(100);
    expect(cfg.GAME_PORT_NAME).toBe('default');
    expect(cfg.VIEW_RADIUS).toBe(12.5);
    expect(cfg.TICK_SPIN_MS).toBe(0.5);
    expect(cfg.LOG_LEVEL).toBe('warn');
  });

  it('names every bad variable', () => {
    expect(problemsOf(() => loadGameServerConfig({ TICK_RATE: 'fast', TICK_SPIN_MS: '33', MAX_PLAYERS: '9000', SDK_LOST_SECONDS: '0', MAX_VISIBLE: '1.5', LOG_LEVEL: 'loud', ENCRYPTION_KEY: 'short' }))).toEqual([
      'environment TICK_RATE: must be a whole number from 1 to 128, not "fast"',
      'environment TICK_SPIN_MS: must be a number from 0 to 10, not "33"',
      'environment MAX_PLAYERS: must be a whole number from 1 to 5000, not "9000"',
      'environment SDK_LOST_SECONDS: must be a whole number from 1 to 3600, not "0"',
      'environment MAX_VISIBLE: must be a whole number from 1 to 100, not "1.5"',
      'environment LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, not "loud"',
      'environment ENCRYPTION_KEY: must be 32 bytes, written as 64 hex digits or as base64',
    ]);
    expect(problemsOf(() => loadGameServerConfig({}))).toEqual(['environment ENCRYPTION_KEY: is required: the 32-byte key shared with the matchmaker (64 hex digits or base64)']);
  });
});
