// The formats of a Schedule policy as Agones reads them: a standard cron line (robfig/cron's
// ParseStandard), a Go duration (time.ParseDuration) and a time zone (time.LoadLocation).
// Each returns what is wrong, or undefined.

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], first: 1 },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], first: 0 },
];
const DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

export function cronProblem(expr: string): string | undefined {
  const line = expr.trim();
  if (line.startsWith('@')) {
    if (DESCRIPTORS.includes(line)) return undefined;
    if (line.startsWith('@every ')) return goDurationProblem(line.slice(7).trim()) ? '"@every" needs a duration such as "@every 1h30m"' : undefined;
    return `unknown descriptor ${JSON.stringify(line)}; use one of ${DESCRIPTORS.join(', ')} or "@every <duration>"`;
  }
  const parts = line.split(/\s+/);
  if (parts.length !== 5) return `a cron line has exactly 5 fields (minute hour day-of-month month day-of-week), found ${parts.length}`;
  for (let i = 0; i < 5; i++) {
    const field = FIELDS[i]!;
    for (const range of parts[i]!.split(',')) {
      const p = rangeProblem(range, field);
      if (p) return `${field.name} field ${JSON.stringify(parts[i])}: ${p}`;
    }
  }
  return undefined;
}

function rangeProblem(range: string, field: (typeof FIELDS)[number]): string | undefined {
  const [span, step, ...extraSlash] = range.split('/');
  if (extraSlash.length > 0) return 'too many slashes';
  const bounds = span!.split('-');
  if (bounds.length > 2) return 'too many hyphens';
  const value = (text: string): number | undefined => {
    const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
    if (named >= 0) return named + (field.first ?? 0);
    return /^\d+$/.test(text) ? Number(text) : undefined;
  };
  let start = field.min;
  let end = field.max;
  if (span !== '*' && span !== '?') {
    const low = value(bounds[0]!);
    const high = bounds.length === 2 ? value(bounds[1]!) : step !== undefined ? field.max : low;
    if (low === undefined || high === undefined) return `${JSON.stringify(span)} is not a number${field.names ? ' or name' : ''}`;
    [start, end] = [low, high];
  }
  if (start < field.min || end > field.max) return `${start}-${end} is outside ${field.min}-${field.max}`;
  if (start > end) return `range ${start}-${end} runs backwards`;
  if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `step ${JSON.stringify(step)} must be a positive number`;
  return undefined;
}

const DURATION = /^[-+]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

export function goDurationProblem(text: string): string | undefined {
  return DURATION.test(text) ? undefined : `must be a duration such as "5h", "90m" or "1h30m", got ${JSON.stringify(text)}`;
}

export function timeZoneProblem(zone: string): string | undefined {
  if (zone === '' || zone === 'UTC' || zone === 'Local') return undefined;
  const problem = `is not a time zone Agones knows: use an IANA name such as "America/New_York" or "UTC", got ${JSON.stringify(zone)}`;
  // Go looks zones up in the tz database by name; Intl also takes UTC offsets, which Go does not.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) return problem;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return problem;
  }
}
