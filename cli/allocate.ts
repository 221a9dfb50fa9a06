import { MAX_WAIT_FOR_READY_MS } from '../allocator/allocator.js';
import { parseCliArgs } from './args.js';
import { CLI_VARIABLES } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { FLEET_LABEL } from '../store/game-server-store.js';
import { ApiClient, ApiError, resolveApiUrl } from './api-client.js';
import type { CliIo } from './io.js';

// `hangar allocate --fleet NAME [--label k=v ...] [--json]`: one allocation through the running
// stack's allocator, as a matchmaker would ask for it. Exit 0 with the server, or 1 when none was
// Ready (state UnAllocated), saying why when the stack's fleet API can tell.

export interface AllocateCommandOptions {
  apiUrl: string | undefined;
  /** HANGAR_API_KEY, for an allocator that requires API keys. */
  apiKey: string | undefined;
  /** The state directory `hangar up` uses here (localStackHere), to name a silent local stack's log. */
  stateDir?: () => string;
  /** The API of the stack `hangar up` runs or would run here (localStackHere), when neither --api nor HANGAR_API_URL says. */
  localApiUrl?: () => string | undefined;
}

export async function runAllocate(args: string[], io: CliIo, options: AllocateCommandOptions): Promise<number> {
  const { values } = parseCliArgs({
    args,
    options: {
      fleet: { type: 'string' },
      label: { type: 'string', multiple: true },
      'wait-for-ready': { type: 'string' },
      json: { type: 'boolean' },
      api: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.fleet === undefined) throw new UsageError('allocate: --fleet NAME is required');
  const matchLabels: Record<string, string> = { [FLEET_LABEL]: values.fleet };
  for (const l of values.label ?? []) {
    const eq = l.indexOf('=');
    if (eq < 1) throw new UsageError(`allocate: --label ${JSON.stringify(l)} is not key=value`);
    matchLabels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const wait = values['wait-for-ready'];
  // The allocator's own bound, checked here so the option is named rather than the API's field.
  if (wait !== undefined && (!/^\d+$/.test(wait) || Number(wait) > MAX_WAIT_FOR_READY_MS)) {
    throw new UsageError(`allocate: --wait-for-ready ${JSON.stringify(wait)}: give a whole number of milliseconds from 0 to ${MAX_WAIT_FOR_READY_MS}`);
  }
  const api = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrl, options.localApiUrl), stateDir: options.stateDir });
  const result = await api
    .allocate(
      { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: { selectors: [{ matchLabels }] } },
      { apiKey: options.apiKey, waitForReadyMs: wait === undefined ? undefined : Number(wait) },
    )
    .catch((err: unknown) => {
      throw refusalNamingTheKey(err, api.baseUrl, options.apiKey);
    });
  if (values.json) io.stdout(JSON.stringify(result));
  else if (result.state === 'Allocated') {
    const ports = result.ports.map((p) => `${p.name} ${p.port}`).join(', ');
    io.stdout(`allocated ${result.gameServerName} at ${result.address} (${ports})`);
  } else {
    io.stderr(`no game server allocated from fleet ${values.fleet}: ${result.state}${await whyUnallocated(api, values.fleet, values.label ?? [])}`);
  }
  return result.state === 'Allocated' ? 0 : 1;
}

/**
 * The allocator's 401 speaks to an HTTP client ("send Authorization: Bearer <API key>"); the
 * person at the CLI sets a variable instead, so the refusal says which, and that the key is never
 * shown. Any other error is returned as it is.
 */
function refusalNamingTheKey(err: unknown, url: string, apiKey: string | undefined): unknown {
  if (!(err instanceof ApiError) || err.code !== 'UNAUTHENTICATED') return err;
  const message = apiKey
    ? `the allocator at ${url} refused the key in $${CLI_VARIABLES.apiKey}: ${err.message}; set it to one of the allocator's keys (ALLOCATOR_API_KEYS or ALLOCATOR_API_KEYS_FILE where it runs)`
    : `the allocator at ${url} requires an API key: set $${CLI_VARIABLES.apiKey} to one of its keys (ALLOCATOR_API_KEYS or ALLOCATOR_API_KEYS_FILE where it runs)`;
  return new ApiError(err.status, err.code, message);
}

/**
 * Agones answers UnAllocated alike for a misspelt fleet and a busy one; an operator needs to
 * know which. Empty when the API cannot say (a standalone allocator has no fleet routes).
 */
async function whyUnallocated(api: ApiClient, fleet: string, labels: readonly string[]): Promise<string> {
  try {
    const { status } = await api.getFleet(fleet);
    const counts = `${status.readyReplicas} Ready, ${status.allocatedReplicas} Allocated, ${status.reservedReplicas} Reserved of ${status.replicas}`;
    const labelled = labels.length > 0 && status.readyReplicas > 0 ? `; no Ready one has ${labels.join(', ')}` : '';
    return ` (fleet ${fleet}: ${counts}${labelled})`;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'FLEET_NOT_FOUND') return ` (the stack has no fleet ${fleet}: hangar fleet list shows its fleets)`;
    return '';
  }
}
