import { describe, expect, it } from '@jest/globals';
import type { HealthSpec } from '../../core/resources.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { HealthMonitor } from './health-monitor.js';

const HEALTH: HealthSpec = { disabled: false, initialDelaySeconds: 10, periodSeconds: 3, failureThreshold: 2 };

function monitor(health: HealthSpec = HEALTH) {
  const clock = new FakeClock();
  const failures: { at: number; reason: string }[] = [];
  const start = clock.now();
  const m = new HealthMonitor({ health, clock, onFailure: (reason) => failures.push({ at: (clock.now() - start) / 1000, reason }) });
  return { clock, failures, m };
}

describe('HealthMonitor', () => {
  it('checks nothing before the initial delay, however long the silence', () => {
    const { clock, failures, m } = monitor();
    clock.advance(9_999);
    expect(m.failureCount).toBe(0);
    expect(failures).toEqual([]);
  });

  it('counts one failure per silent period after the initial delay and reports at the threshold', () => {
    const { clock, failures, m } = monitor();
    clock.advance(10_000); // first check: silent 10 s > 3 s
    expect(m.failureCount).toBe(1);
    expect(failures).toEqual([]);
    clock.advance(2_999);
    expect(failures).toEqual([]);
    clock.advance(1); // second check at 13 s
    expect(failures).toEqual([{ at: 13, reason: 'no health ping for 13s (2 failed checks, periodSeconds 3, failureThreshold 2)' }]);
  });

  it('reports once per silent spell, then re-arms with the initial delay like a restarted liveness probe', () => {
    const { clock, failures } = monitor();
    clock.advance(13_000);
    expect(failures.map((f) => f.at)).toEqual([13]);
    clock.advance(9_999);
    expect(failures.map((f) => f.at)).toEqual([13]);
    clock.advance(13_000 - 9_999); // checks again at 23 s and 26 s
    expect(failures.map((f) => f.at)).toEqual([13, 26]);
  });

  it('never fails a game server that pings once per period', () => {
    const { clock, failures, m } = monitor();
    for (let t = 0; t < 60; t += 3) {
      m.ping();
      clock.advance(3_000);
    }
    expect(failures).toEqual([]);
  });

  it('a ping resets the failure count', () => {
    const { clock, failures, m } = monitor();
    clock.advance(10_000);
    expect(m.failureCount).toBe(1);
    clock.advance(1_000);
    m.ping(); // at 11 s
    clock.advance(2_000); // check at 13 s: silent 2 s
    expect(m.failureCount).toBe(0);
    clock.advance(3_000); // 16 s: silent 5 s
    expect(m.failureCount).toBe(1);
    clock.advance(3_000); // 19 s
    expect(failures.map((f) => f.at)).toEqual([19]);
  });

  it('does nothing when health checking is disabled', () => {
    const { clock, failures } = monitor({ ...HEALTH, disabled: true });
    expect(clock.pendingTimers).toBe(0);
    clock.advance(3_600_000);
    expect(failures).toEqual([]);
  });

  it('stop() cancels every timer', () => {
    const { clock, failures, m } = monitor();
    clock.advance(10_000);
    m.stop();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(3_600_000);
    expect(failures).toEqual([]);
  });

  it("applies Agones' defaults (5 s delay, 5 s period, threshold 3) to non-positive settings", () => {
    const { clock, failures } = monitor({ disabled: false, initialDelaySeconds: 0, periodSeconds: 0, failureThreshold: 0 });
    // Checks at 5 s (silent exactly one period: no failure), 10, 15 and 20 s.
    clock.advance(19_999);
    expect(failures).toEqual([]);
    clock.advance(1);
    expect(failures.map((f) => f.at)).toEqual([20]);
  });
});
