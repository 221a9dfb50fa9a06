import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { FLEET_LABEL } from '../store/game-server-store.js';
import { ApiClient, resolveApiUrl } from './api-client.js';
import type { CliIo } from './io.js';

// `hangar allocate --fleet NAME [--label k=v ...] [--json]`: one allocation through the running
// stack's allocator, as a matchmaker would ask for it. Exit 0 with the server, or 1 when none was
// Ready (state UnAllocated).

export interface AllocateCommandOptions {
  apiUrl: string | undefined;
  /** HANGAR_API_KEY, for an allocator that requires API keys. */
  apiKey: string | undefined;
}

export async function runAllocate(args: string[], io: CliIo, options: AllocateCommandOptions): Promise<number> {
  const { values } = parseArgs({
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
  if (wait !== undefined && !/^\d+$/.test(wait)) throw new UsageError(`allocate: --wait-for-ready ${JSON.stringify(wait)}: give milliseconds`);
  const api = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrl) });
  const result = await api.allocate(
    { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', spec: { selectors: [{ matchLabels }] } },
    { apiKey: options.apiKey, waitForReadyMs: wait === undefined ? undefined : Number(wait) },
  );
  if (values.json) io.stdout(JSON.stringify(result));
  else if (result.state === 'Allocated') {
    const ports = result.ports.map((p) => `${p.name} ${p.port}`).join(', ');
    io.stdout(`allocated ${result.gameServerName} at ${result.address} (${ports})`);
  } else {
    io.stderr(`no game server allocated from fleet ${values.fleet}: ${result.state}`);
  }
  return result.state === 'Allocated' ? 0 : 1;
}
