import { parseCliArgs } from './args.js';
import { StackUnreachableError, UsageError } from '../core/errors.js';
import type { Readiness } from '../core/admin-server.js';
import type { SourceProblem } from '../core/yaml-source.js';
import type { FleetSummary, GameServerSummary, StrayAutoscalerSummary } from '../fleets/http-api.js';
import { ApiClient, ApiError, resolveApiUrl, type ApiCommandOptions } from './api-client.js';
import { renderFleetTable, renderSourceProblems } from './fleet.js';
import { formatAge, renderTable, type Column } from './format.js';
import { renderGameServerTable } from './gs.js';
import type { CliIo } from './io.js';
import type { QueueStats } from '../matchmaker/matchmaking-service.js';

// `hangar status`: the stack's fleets and game servers. On a terminal it redraws in place every
// --interval seconds until Ctrl-C (exit 0); with --once, or into a pipe or file, it prints once.

/** Cursor home, then after each line erase to its end, and at the end erase below: no flicker. */
const HOME = '\x1b[H';
const CLEAR_SCREEN = '\x1b[2J';
const ERASE_LINE = '\x1b[K';
const ERASE_BELOW = '\x1b[J';

export interface StatusOptions extends ApiCommandOptions {
  now?: () => number;
  /** Whether stdout is a terminal: only then does the table refresh in place. */
  tty?: boolean;
  /** The terminal's height now: a live frame taller than it would scroll at every redraw. */
  rows?: () => number | undefined;
  /** Stops the live table as Ctrl-C does. */
  signal?: AbortSignal;
}

export interface StatusSnapshot {
  stack: Readiness;
  fleets: readonly FleetSummary[];
  problems: readonly SourceProblem[];
  /** Autoscalers whose fleet is not there. */
  strayAutoscalers?: readonly StrayAutoscalerSummary[];
  gameServers: readonly GameServerSummary[];
  queues: readonly QueueStats[];
}

export async function runStatus(args: string[], io: CliIo, options: StatusOptions = {}): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: { api: { type: 'string' }, once: { type: 'boolean' }, interval: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const intervalMs = values.interval === undefined ? 1000 : parseInterval(values.interval);
  const baseUrl = resolveApiUrl(values.api, options.apiUrlFromEnv, options.localApiUrl);
  const now = options.now ?? Date.now;
  if (values.once || !options.tty) {
    for (const line of renderStatus(await snapshot(new ApiClient({ baseUrl, stateDir: options.stateDir })), now())) io.stdout(line);
    return 0;
  }

  const stop = new AbortController();
  const onStop = () => stop.abort();
  process.once('SIGINT', onStop);
  options.signal?.addEventListener('abort', onStop, { once: true });
  const client = new ApiClient({ baseUrl, signal: stop.signal, stateDir: options.stateDir });
  try {
    for (let first = true; !stop.signal.aborted; first = false) {
      let body: string[];
      try {
        body = renderStatus(await snapshot(client), now());
      } catch (err) {
        if (stop.signal.aborted) break;
        // A stack that is not up at all is an error; one that goes away (restarts) is shown and retried.
        if (first || !(err instanceof StackUnreachableError || err instanceof ApiError)) throw err;
        body = [`hangar: ${err.message} (retrying)`];
      }
      const header = `Hangar at ${baseUrl}, ${new Date(now()).toISOString().slice(11, 19)} UTC, every ${intervalMs / 1000}s (Ctrl-C quits)`;
      const frame = clip([header, '', ...body], options.rows?.()).map((line) => `${line}${ERASE_LINE}`).join('\n');
      io.stdout(`${first ? CLEAR_SCREEN : ''}${HOME}${frame}${ERASE_BELOW}`);
      await pause(intervalMs, stop.signal);
    }
    return 0;
  } finally {
    process.off('SIGINT', onStop);
    options.signal?.removeEventListener('abort', onStop);
  }
}

/** The status screen without its live header: the stack when it is not ready, fleets, game servers (by fleet), then problems. */
export function renderStatus(s: StatusSnapshot, now: number): string[] {
  // Stable sort: oldest first within each fleet, servers of no fleet last.
  const byFleet = [...s.gameServers].sort((a, b) => Number(a.fleet === null) - Number(b.fleet === null) || (a.fleet ?? '').localeCompare(b.fleet ?? ''));
  const problems = renderSourceProblems(s.problems);
  const stack = stackLines(s.stack, now);
  return [
    ...(stack.length ? [...stack, ''] : []),
    ...renderFleetTable(s.fleets, s.strayAutoscalers),
    '',
    ...(byFleet.length ? renderGameServerTable(byFleet, now, { pid: false }) : ['no game servers']),
    ...(s.queues.length ? ['', ...renderQueueTable(s.queues)] : []),
    ...(problems.length ? ['', ...problems] : []),
  ];
}

/** The matchmaker's queues: what waits in each, and for how long. */
export function renderQueueTable(queues: readonly QueueStats[]): string[] {
  const columns: Column[] = [{ header: 'QUEUE' }, { header: 'FLEET' }, { header: 'PLAYERS', align: 'right' }, { header: 'WAITING', align: 'right' }, { header: 'OLDEST', align: 'right' }, { header: 'EST. WAIT', align: 'right' }];
  const seconds = (s: number | null) => (s === null ? '-' : formatAge(s * 1000));
  return renderTable(
    columns,
    queues.map((q) => [q.name, q.fleet, q.minPlayers === q.maxPlayers ? String(q.maxPlayers) : `${q.minPlayers}-${q.maxPlayers}`, String(q.waiting), seconds(q.oldestWaitSeconds), seconds(q.estimatedWaitSeconds)]),
  );
}

/** Why the stack is not ready, in lines of at most 100 columns; none when it is. */
function stackLines(stack: Readiness, now: number): string[] {
  if (stack.status === 'ready') return [];
  if (stack.status === 'draining') {
    const since = stack.drainingSince ?? new Date(now).toISOString();
    return [
      `stack draining since ${since.slice(11, 19)} UTC (${formatAge(now - Date.parse(since))} ago): fleets are no longer scaled, healed or reloaded`,
      '  from their files until it restarts; game servers, allocation and matchmaking go on',
    ];
  }
  const failing = Object.keys(stack.checks).filter((name) => !stack.checks[name]);
  return [`stack ${stack.status}${failing.length ? `: failing ${failing.join(', ')} (its log names the cause)` : ''}`];
}

/** At most `rows - 1` lines (the last line ends with a newline), saying how many were cut. */
function clip(lines: string[], rows: number | undefined): string[] {
  if (rows === undefined || lines.length < rows) return lines;
  const kept = lines.slice(0, Math.max(1, rows - 2));
  return [...kept, `... ${lines.length - kept.length} more lines: a taller window, or hangar status --once`];
}

async function snapshot(client: ApiClient): Promise<StatusSnapshot> {
  const [stack, fleets, gameServers, queues] = await Promise.all([client.stackState(), client.listFleets(), client.listGameServers(), client.listQueues()]);
  return { stack, fleets: fleets.items, problems: fleets.problems, strayAutoscalers: fleets.strayAutoscalers ?? [], gameServers, queues };
}

/** The longest --interval: a day. A timer past 2^31 ms fires at once, which redrew as fast as the API answered. */
const MAX_INTERVAL_SECONDS = 86_400;

function parseInterval(value: string): number {
  const seconds = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || seconds < 0.1) throw new UsageError(`--interval ${JSON.stringify(value)}: give a number of seconds, at least 0.1`);
  if (seconds > MAX_INTERVAL_SECONDS) throw new UsageError(`--interval ${JSON.stringify(value)}: at most ${MAX_INTERVAL_SECONDS} seconds (a day)`);
  return Math.round(seconds * 1000);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
