import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FleetAutoscalerResource, FleetResource, GameServerResource } from '../core/resources.js';
import type { SourceProblem } from '../core/yaml-source.js';
import { localRunProblems } from './local-rules.js';
import { parseResources } from './schema.js';

// The fleet directory (config/fleets) as the local stack runs it: every valid document that can
// run on this machine, and every problem with the rest. A file with any error contributes nothing,
// so a half-broken file never half-applies.

export interface FleetFiles {
  fleets: Array<{ resource: FleetResource; file: string }>;
  gameServers: Array<{ resource: GameServerResource; file: string }>;
  autoscalers: Array<{ resource: FleetAutoscalerResource; file: string }>;
  /** Errors (the document or file was not used) and warnings. */
  problems: SourceProblem[];
}

export async function loadFleetDirectory(dir: string): Promise<FleetFiles> {
  const out: FleetFiles = { fleets: [], gameServers: [], autoscalers: [], problems: [] };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    out.problems.push({ file: dir, line: 1, col: 1, path: '', message: `cannot read the fleets directory: ${(err as Error).message}`, severity: 'error' });
    return out;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    const parsed = parseResources(await readFile(file, 'utf8'), file);
    const local = parsed.resources.flatMap((r) => localRunProblems(r));
    out.problems.push(...parsed.problems, ...local);
    if ([...parsed.problems, ...local].some((p) => p.severity === 'error')) continue;
    for (const { resource } of parsed.resources) {
      if (resource.kind === 'Fleet') out.fleets.push({ resource, file });
      else if (resource.kind === 'GameServer') out.gameServers.push({ resource, file });
      else out.autoscalers.push({ resource, file });
    }
  }
  return out;
}
