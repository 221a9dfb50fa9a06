import { parseCliArgs } from './args.js';
import { UsageError } from '../core/errors.js';
import { ALL_GAME_SERVER_STATES, type GameServerState } from '../core/game-server.js';
import type { GameServerSummary } from '../fleets/http-api.js';
import { ApiClient, resolveApiUrl, type ApiCommandOptions } from './api-client.js';
import { formatAge, renderTable, type Column } from './format.js';
import type { CliIo } from './io.js';

// `hangar gs list [--fleet NAME] [--state STATE]`: the stack's game servers, oldest first.

export interface GsCommandOptions extends ApiCommandOptions {
  now?: () => number;
}

export async function runGs(args: string[], io: CliIo, options: GsCommandOptions = {}): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'list') throw new UsageError(command === undefined ? 'gs: which command? use gs list' : `unknown gs command ${JSON.stringify(command)}: use gs list`);
  const { values } = parseCliArgs({
    args: rest,
    options: { api: { type: 'string' }, fleet: { type: 'string' }, state: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const state = values.state === undefined ? undefined : parseState(values.state);
  const client = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrlFromEnv, options.localApiUrl), stateDir: options.stateDir });
  const items = await client.listGameServers({ fleet: values.fleet, state });
  if (items.length === 0) {
    // The API filters by label, so a misspelt fleet lists nothing: ask for the fleet to say so.
    if (values.fleet !== undefined) await client.getFleet(values.fleet);
    const where = [values.fleet !== undefined ? `in fleet ${values.fleet}` : '', state ? `in state ${state}` : ''].filter(Boolean);
    io.stdout(['no game servers', ...where].join(' '));
    return 0;
  }
  for (const line of renderGameServerTable(items, (options.now ?? Date.now)(), { pid: true })) io.stdout(line);
  return 0;
}

/** The table of `gs list` (with pids and last exits) and `status` (without). */
export function renderGameServerTable(items: readonly GameServerSummary[], now: number, options: { pid: boolean }): string[] {
  const columns: Column[] = [{ header: 'NAME' }, { header: 'FLEET' }, { header: 'STATE' }, { header: 'ADDRESS' }, { header: 'AGE', align: 'right' }];
  if (options.pid) columns.push({ header: 'PID', align: 'right' });
  columns.push({ header: 'RESTARTS', align: 'right' });
  // Why the process last ended (its last words included): what an operator asks of a restarting server.
  if (options.pid) columns.push({ header: 'LAST EXIT' });
  const rows = items.map((gs) => [
    gs.name,
    gs.fleet ?? '-',
    gs.state,
    formatAddress(gs),
    formatAge(now - Date.parse(gs.createdAt)),
    ...(options.pid ? [gs.pid === null ? '-' : String(gs.pid)] : []),
    String(gs.restarts),
    ...(options.pid ? [gs.lastExit ?? '-'] : []),
  ]);
  return renderTable(columns, rows);
}

/** `127.0.0.1:7000`, or `127.0.0.1:7000,7001` for several ports; `-` until the server has an address. */
export function formatAddress(gs: Pick<GameServerSummary, 'address' | 'ports'>): string {
  if (!gs.address) return '-';
  return gs.ports.length ? `${gs.address}:${gs.ports.map((p) => p.port).join(',')}` : gs.address;
}

/** A state as Agones spells it; any letter case is accepted. */
function parseState(value: string): GameServerState {
  const state = ALL_GAME_SERVER_STATES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!state) throw new UsageError(`--state ${JSON.stringify(value)} is not a GameServer state: one of ${ALL_GAME_SERVER_STATES.join(', ')}`);
  return state;
}
