import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('allows the burst at once, then the rate, per client', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(clock, 10, 5);
    for (let i = 0; i < 5; i++) expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(100);
    expect(limiter.take('b')).toBe(0);
    clock.advance(100);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(100);
  });

  it('charges a batch by its size and refuses one larger than the burst outright', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(clock, 100, 50);
    expect(limiter.take('a', 40)).toBe(0);
    expect(limiter.take('a', 20)).toBe(100);
    expect(limiter.take('a', 51)).toBe(Infinity);
  });

  it('never stores more than the burst while idle', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(clock, 1000, 3);
    limiter.take('a');
    clock.advance(3_600_000);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0, 1]);
  });
});
