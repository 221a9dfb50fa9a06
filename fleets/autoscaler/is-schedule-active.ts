import { CronExpressionParser, type CronDate } from 'cron-parser';
import type { SchedulePolicy } from '../../core/resources.js';
import { parseGoDuration } from './go-duration.js';

// When a Schedule policy applies, as Agones' isScheduleActive decides it
// (pkg/fleetautoscalers/fleetautoscalers.go): inside `between`, and, when there is a startCron,
// inside the window that opens at a cron fire time and stays open for `duration`.

/** What Agones uses for an empty duration: 290 years, "for ever". */
const MAX_DURATION_MS = 2_540_400 * 3_600_000;

/** Agones opens a window 90 s before its fire time, so a DST shift cannot skip it. */
const EARLY_MS = 90_000;

/** robfig/cron gives up looking for a fire time five years on. */
const SEARCH_DAYS = 5 * 366;

// robfig/cron's descriptors as plain lines (cron-parser lacks @midnight).
const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export function isScheduleActive(schedule: SchedulePolicy, now: number): boolean {
  const start = schedule.between?.start;
  if (start && now < Date.parse(start)) return false;
  const end = schedule.between?.end;
  if (end && now > Date.parse(end)) return false;

  const period = schedule.activePeriod ?? {};
  if (!period.startCron) return true;
  const duration = period.duration ? (parseGoDuration(period.duration) ?? 0) : MAX_DURATION_MS;
  // The first fire time after (now - duration) is the only one whose window can still be open.
  const fire = nextFireTime(period.startCron, now - duration, timeZoneOf(period.timezone));
  if (fire === undefined) return false;
  return now > fire - EARLY_MS && now < fire + duration;
}

/** Go's time.LoadLocation: "" is UTC and "Local" the machine's zone (cron-parser's default). */
function timeZoneOf(zone: string | undefined): string | undefined {
  if (zone === undefined || zone === '') return 'UTC';
  return zone === 'Local' ? undefined : zone;
}

/** robfig/cron's Schedule.Next: the first fire time strictly after `after`, or undefined when there is none. */
export function nextFireTime(cron: string, after: number, timeZone: string | undefined): number | undefined {
  const line = cron.trim();
  if (line.startsWith('@every ')) {
    // A constant delay of whole seconds (at least one), counted from the current second.
    const delay = Math.max(1000, Math.floor((parseGoDuration(line.slice(7).trim()) ?? 0) / 1000) * 1000);
    return Math.floor(after / 1000) * 1000 + delay;
  }
  // robfig reads "?" as "*" in every field.
  const fields = (DESCRIPTORS[line] ?? line).split(/\s+/).map((f) => (f === '?' ? '*' : f));
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  try {
    // robfig requires both day fields to match whenever either starts with "*" ("*/2" too);
    // cron-parser does so only for a bare "*". That case steps through the days itself.
    const bothDays = (dom.startsWith('*') || dow.startsWith('*')) && dom !== '*' && dow !== '*';
    if (!bothDays) return next(fields.join(' '), after, timeZone).getTime();
    const weekdays = new Set(CronExpressionParser.parse(`0 0 * * ${dow}`).fields.dayOfWeek.values.map((d) => Number(d) % 7));
    let from: Date | CronDate = new Date(after);
    for (let day = 0; day < SEARCH_DAYS; day++) {
      const candidate = next(`${minute} ${hour} ${dom} ${month} *`, from, timeZone);
      if (weekdays.has(candidate.getDay())) return candidate.getTime();
      // No later time that day can match either.
      candidate.setEndOfDay();
      from = candidate;
    }
    return undefined;
  } catch {
    // cron-parser throws when nothing can ever match (31 February); robfig returns no time.
    return undefined;
  }
}

function next(line: string, after: Date | CronDate | number, timeZone: string | undefined): CronDate {
  return CronExpressionParser.parse(line, { currentDate: after, ...(timeZone !== undefined && { tz: timeZone }) }).next();
}
