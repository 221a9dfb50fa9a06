import { describe, expect, it } from '@jest/globals';
import type { SchedulePolicy } from '../../core/resources.js';
import { parseGoDuration } from './go-duration.js';
import { isScheduleActive, nextFireTime } from './is-schedule-active.js';

// After Agones' TestApplySchedulePolicy: between bounds, cron windows, time zones, daylight saving,
// and the defaults for a missing duration or cron, with cases of our own.

const policy: SchedulePolicy['policy'] = { type: 'Buffer', buffer: { bufferSize: 1, minReplicas: 1, maxReplicas: 10 } };
const at = (iso: string) => Date.parse(iso);

interface Case {
  description: string;
  schedule: Omit<SchedulePolicy, 'policy'>;
  now: string;
  active: boolean;
}

describe('isScheduleActive', () => {
  const cases: Case[] = [
    { description: 'no between and no active period: always', schedule: {}, now: '2026-05-05T12:00:00Z', active: true },
    { description: 'before between.start', schedule: { between: { start: '2026-06-01T00:00:00Z' } }, now: '2026-05-31T23:59:59Z', active: false },
    { description: 'exactly at between.start', schedule: { between: { start: '2026-06-01T00:00:00Z' } }, now: '2026-06-01T00:00:00Z', active: true },
    { description: 'exactly at between.end', schedule: { between: { end: '2026-06-01T00:00:00Z' } }, now: '2026-06-01T00:00:00Z', active: true },
    { description: 'after between.end', schedule: { between: { end: '2026-06-01T00:00:00Z' } }, now: '2026-06-01T00:00:01Z', active: false },
    { description: 'between bounds with an offset', schedule: { between: { start: '2026-06-01T09:00:00+02:00', end: '2026-06-01T10:00:00+02:00' } }, now: '2026-06-01T07:30:00Z', active: true },
    { description: 'empty strings are no bounds', schedule: { between: { start: '', end: '' }, activePeriod: { startCron: '', duration: '' } }, now: '2026-05-05T12:00:00Z', active: true },
    { description: 'a duration without startCron changes nothing', schedule: { activePeriod: { duration: '1m' } }, now: '2026-05-05T12:00:00Z', active: true },
    { description: 'inside a cron window', schedule: { activePeriod: { startCron: '0 18 * * *', duration: '2h' } }, now: '2026-05-05T19:00:00Z', active: true },
    { description: 'the window closes at fire time + duration', schedule: { activePeriod: { startCron: '0 18 * * *', duration: '2h' } }, now: '2026-05-05T20:00:00Z', active: false },
    { description: 'the window opens 90 s early (daylight saving slack)', schedule: { activePeriod: { startCron: '0 18 * * *', duration: '2h' } }, now: '2026-05-05T17:58:31Z', active: true },
    { description: 'but not earlier', schedule: { activePeriod: { startCron: '0 18 * * *', duration: '2h' } }, now: '2026-05-05T17:58:29Z', active: false },
    { description: 'weekday hours in New York, Monday 10:00 EDT', schedule: { activePeriod: { timezone: 'America/New_York', startCron: '0 9 * * 1-5', duration: '8h' } }, now: '2026-06-01T14:00:00Z', active: true },
    { description: 'weekday hours in New York, Saturday', schedule: { activePeriod: { timezone: 'America/New_York', startCron: '0 9 * * 1-5', duration: '8h' } }, now: '2026-06-06T14:00:00Z', active: false },
    { description: 'the same hours in UTC end earlier', schedule: { activePeriod: { timezone: 'UTC', startCron: '0 9 * * 1-5', duration: '8h' } }, now: '2026-06-01T18:00:00Z', active: false },
    { description: 'and are still open in New York then', schedule: { activePeriod: { timezone: 'America/New_York', startCron: '0 9 * * 1-5', duration: '8h' } }, now: '2026-06-01T18:00:00Z', active: true },
    { description: 'an empty timezone is UTC', schedule: { activePeriod: { timezone: '', startCron: '0 9 * * *', duration: '1h' } }, now: '2026-06-01T09:30:00Z', active: true },
    { description: 'New York 09:00 in winter is 14:00 UTC', schedule: { activePeriod: { timezone: 'America/New_York', startCron: '0 9 * * *', duration: '1h' } }, now: '2026-01-15T14:30:00Z', active: true },
    { description: 'and in summer 13:00 UTC', schedule: { activePeriod: { timezone: 'America/New_York', startCron: '0 9 * * *', duration: '1h' } }, now: '2026-07-15T14:30:00Z', active: false },
    { description: 'a window spans the daylight saving change', schedule: { activePeriod: { timezone: 'America/New_York', startCron: '0 1 * * *', duration: '3h' } }, now: '2026-03-08T07:30:00Z', active: true },
    { description: 'a window spans new year', schedule: { activePeriod: { startCron: '0 23 31 12 *', duration: '2h' } }, now: '2027-01-01T00:30:00Z', active: true },
    { description: 'without a duration a window, once opened, stays open (Agones\' 290 years)', schedule: { between: { start: '2026-01-01T00:00:00Z' }, activePeriod: { startCron: '0 0 1 6 *' } }, now: '2026-03-01T00:00:00Z', active: true },
    { description: 'but between.end still closes it', schedule: { between: { end: '2026-02-01T00:00:00Z' }, activePeriod: { startCron: '* 0 * 3 *' } }, now: '2026-03-01T00:30:00Z', active: false },
    { description: 'descriptors: @daily', schedule: { activePeriod: { startCron: '@daily', duration: '1h' } }, now: '2026-06-01T00:30:00Z', active: true },
    { description: 'descriptors: @midnight, outside its hour', schedule: { activePeriod: { startCron: '@midnight', duration: '1h' } }, now: '2026-06-01T01:30:00Z', active: false },
    { description: 'a cron that never fires never applies', schedule: { activePeriod: { startCron: '0 0 31 2 *', duration: '24h' } }, now: '2026-06-01T01:30:00Z', active: false },
  ];
  for (const c of cases) {
    it(c.description, () => {
      expect(isScheduleActive({ ...c.schedule, policy }, at(c.now))).toBe(c.active);
    });
  }
});

describe('nextFireTime (robfig/cron semantics)', () => {
  const cases: Array<{ description: string; cron: string; after: string; zone?: string; next: string | undefined }> = [
    { description: 'strictly after the given time', cron: '0 14 * * *', after: '2024-08-01T14:00:00Z', next: '2024-08-02T14:00:00.000Z' },
    { description: 'the coming minute boundary counts', cron: '0 14 * * *', after: '2024-08-01T13:59:59.500Z', next: '2024-08-01T14:00:00.000Z' },
    { description: 'day of month OR day of week when both are set', cron: '0 0 1 * mon', after: '2024-08-01T13:30:00Z', next: '2024-08-05T00:00:00.000Z' },
    { description: 'day of month AND day of week when one starts with *', cron: '0 0 */2 * mon', after: '2024-08-01T13:30:00Z', next: '2024-08-05T00:00:00.000Z' },
    { description: '? is *', cron: '0 0 ? * ?', after: '2024-08-01T13:30:00Z', next: '2024-08-02T00:00:00.000Z' },
    { description: 'names for months and days', cron: '0 0 * JAN SUN', after: '2024-08-01T13:30:00Z', next: '2025-01-05T00:00:00.000Z' },
    { description: 'in a time zone', cron: '30 8 * * *', after: '2024-08-01T00:00:00Z', zone: 'Asia/Tokyo', next: '2024-08-01T23:30:00.000Z' },
    { description: '@every counts from the current second', cron: '@every 1h30m', after: '2024-08-01T10:00:00.750Z', next: '2024-08-01T11:30:00.000Z' },
    { description: '@every is at least one second', cron: '@every 10ms', after: '2024-08-01T10:00:00Z', next: '2024-08-01T10:00:01.000Z' },
    { description: 'no fire time at all', cron: '0 0 30 2 *', after: '2024-08-01T00:00:00Z', next: undefined },
  ];
  for (const c of cases) {
    it(c.description, () => {
      const next = nextFireTime(c.cron, at(c.after), c.zone ?? 'UTC');
      expect(next === undefined ? undefined : new Date(next).toISOString()).toBe(c.next);
    });
  }
});

describe('parseGoDuration', () => {
  const cases: Array<[string, number | undefined]> = [
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['90s', 90_000],
    ['300ms', 300],
    ['1h0m0.5s', 3_600_500],
    ['-2m', -120_000],
    ['+1m', 60_000],
    ['0', 0],
    ['', undefined],
    ['5', undefined],
    ['1d', undefined],
    ['1h 30m', undefined],
  ];
  for (const [text, ms] of cases) {
    it(`${JSON.stringify(text)} → ${ms}`, () => expect(parseGoDuration(text)).toBe(ms));
  }
});
