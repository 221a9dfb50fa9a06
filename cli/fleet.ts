import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { parseCliArgs } from './args.js';
import { ErrorCode, UsageError } from '../core/errors.js';
import { formatProblem, type SourceProblem } from '../core/yaml-source.js';
import type { FleetSummary, StrayAutoscalerSummary } from '../fleets/http-api.js';
import type { AppliedResource, DeleteResult } from '../fleets/resource-applier.js';
import { ApiClient, ApiError, resolveApiUrl, type ApiCommandOptions } from './api-client.js';
import { renderTable, type Column } from './format.js';
import { fileReadError, type CliIo } from './io.js';

// `hangar fleet list | scale NAME N | apply -f FILE | delete NAME | delete -f FILE` against the running stack.

export interface FleetCommandOptions extends ApiCommandOptions {
  /** Read by `fleet apply -f -`; process.stdin unless a test gives another. */
  stdin?: NodeJS.ReadableStream;
}

/** How kubectl names applied resources, so the output reads like `kubectl apply`'s. */
const RESOURCE_TYPE: Record<AppliedResource['kind'], string> = {
  Fleet: 'fleet.agones.dev',
  GameServer: 'gameserver.agones.dev',
  FleetAutoscaler: 'fleetautoscaler.autoscaling.agones.dev',
};

export async function runFleet(args: string[], io: CliIo, options: FleetCommandOptions = {}): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'list':
      return fleetList(rest, io, options);
    case 'scale':
      return fleetScale(rest, io, options);
    case 'apply':
      return fleetApply(rest, io, options);
    case 'delete':
      return fleetDelete(rest, io, options);
    default:
      throw new UsageError(
        command === undefined ? 'fleet: which command? use fleet list, scale, apply or delete' : `unknown fleet command ${JSON.stringify(command)}: use list, scale, apply or delete`,
      );
  }
}

async function fleetList(args: string[], io: CliIo, options: FleetCommandOptions): Promise<number> {
  const { values } = parseCliArgs({ args, options: { api: { type: 'string' } }, strict: true, allowPositionals: false });
  const client = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrlFromEnv, options.localApiUrl), stateDir: options.stateDir });
  const { items, problems, strayAutoscalers = [] } = await client.listFleets();
  for (const line of renderFleetTable(items, strayAutoscalers)) io.stdout(line);
  for (const line of renderSourceProblems(problems)) io.stderr(line);
  return 0;
}

async function fleetScale(args: string[], io: CliIo, options: FleetCommandOptions): Promise<number> {
  // parseArgs would call `-1` an unknown option; name the real mistake instead.
  const negative = args.find((a) => /^-\d/.test(a));
  if (negative !== undefined) throw new UsageError(`fleet scale: N must be a non-negative integer, not ${negative}`);
  const { values, positionals } = parseCliArgs({ args, options: { api: { type: 'string' } }, strict: true, allowPositionals: true });
  const [name, n] = positionals;
  if (name === undefined || n === undefined || positionals.length > 2) throw new UsageError('fleet scale: give a fleet NAME and a replica count N: fleet scale NAME N');
  if (!/^\d+$/.test(n) || !Number.isSafeInteger(Number(n))) throw new UsageError(`fleet scale: N must be a non-negative integer, not ${JSON.stringify(n)}`);
  const client = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrlFromEnv, options.localApiUrl), stateDir: options.stateDir, adminToken: options.adminToken });
  const fleet = await client.scaleFleet(name, Number(n));
  const replicas = fleet.spec.replicas;
  io.stdout(`fleet ${fleet.name} scaled to ${replicas} ${replicas === 1 ? 'replica' : 'replicas'}`);
  const a = fleet.autoscaler;
  if (a) io.stderr(`warning: fleet ${fleet.name} has autoscaler ${a.name} (${a.policy}): it sets the replicas again at its next sync`);
  return 0;
}

async function fleetApply(args: string[], io: CliIo, options: FleetCommandOptions): Promise<number> {
  const { values } = parseCliArgs({ args, options: { api: { type: 'string' }, filename: { type: 'string', short: 'f' } }, strict: true, allowPositionals: false });
  if (values.filename === undefined) throw new UsageError('fleet apply: -f FILE is required (-f - reads stdin)');
  const client = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrlFromEnv, options.localApiUrl), stateDir: options.stateDir, adminToken: options.adminToken });
  const source = await readSource(values.filename, 'apply', io, options);
  if (!source) return 1;
  const result = await invalidAsProblems(source.file, io, () => client.apply(source.file, source.yaml));
  if (!result) return 1;
  for (const w of result.warnings) io.stderr(formatProblem(w));
  for (const r of result.applied) io.stdout(`${resourceRef(r)} ${r.action}`);
  return 0;
}

async function fleetDelete(args: string[], io: CliIo, options: FleetCommandOptions): Promise<number> {
  const { values, positionals } = parseCliArgs({ args, options: { api: { type: 'string' }, filename: { type: 'string', short: 'f' } }, strict: true, allowPositionals: true });
  if ((values.filename === undefined) === (positionals.length === 0) || positionals.length > 1) {
    throw new UsageError('fleet delete: give a fleet NAME, or -f FILE to delete what the file names (-f - reads stdin)');
  }
  const client = new ApiClient({ baseUrl: resolveApiUrl(values.api, options.apiUrlFromEnv, options.localApiUrl), stateDir: options.stateDir, adminToken: options.adminToken });
  let result: DeleteResult | undefined;
  if (values.filename === undefined) {
    result = await client.deleteFleet(positionals[0]!);
  } else {
    const source = await readSource(values.filename, 'delete', io, options);
    if (!source) return 1;
    result = await invalidAsProblems(source.file, io, () => client.deleteResources(source.file, source.yaml));
    if (!result) return 1;
  }
  for (const w of result.warnings) io.stderr(w);
  for (const r of result.deleted) io.stdout(`${resourceRef(r)} deleted`);
  for (const r of result.notFound) io.stderr(`${resourceRef(r)} not found`);
  return result.notFound.length ? 1 : 0;
}

/** The YAML of `-f FILE` (`-` for stdin), or undefined once why it cannot be read is printed. */
async function readSource(filename: string, verb: string, io: CliIo, options: FleetCommandOptions): Promise<{ file: string; yaml: string } | undefined> {
  const fromStdin = filename === '-';
  const file = fromStdin ? '<stdin>' : filename;
  let yaml: string;
  try {
    yaml = fromStdin ? await text(options.stdin ?? process.stdin) : await readFile(file, 'utf8');
  } catch (err) {
    io.stderr(`${file}: cannot read: ${fileReadError(err)}`);
    return undefined;
  }
  if (yaml.trim() === '') {
    io.stderr(`${file}: empty: nothing to ${verb}`);
    return undefined;
  }
  return { file, yaml };
}

/** The request's answer, or undefined once each problem of a RESOURCE_INVALID refusal is printed. */
async function invalidAsProblems<T>(file: string, io: CliIo, request: () => Promise<T>): Promise<T | undefined> {
  try {
    return await request();
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== ErrorCode.RESOURCE_INVALID) throw err;
    const lines = err.problems.length ? err.problems.map(formatProblem) : [`${file}: ${err.message}`];
    for (const line of lines) io.stderr(line);
    return undefined;
  }
}

/** One line per fleet, PLAYERS and AUTOSCALER only when some fleet has them; then each autoscaler whose fleet is not there. */
export function renderFleetTable(fleets: readonly FleetSummary[], strayAutoscalers: readonly StrayAutoscalerSummary[] = []): string[] {
  const strays = strayAutoscalers.map((a) => `FleetAutoscaler ${a.name} (${a.policy}) has no fleet to scale: ${a.problem?.message ?? `fleet ${a.fleetName} not found`}`);
  if (fleets.length === 0) return ['no fleets', ...strays];
  const players = fleets.some((f) => f.status.players !== null);
  const autoscalers = fleets.some((f) => f.autoscaler !== null);
  const columns: Column[] = ['DESIRED', 'CURRENT', 'READY', 'ALLOCATED', 'RESERVED'].map((header) => ({ header, align: 'right' }));
  columns.unshift({ header: 'FLEET' });
  if (players) columns.push({ header: 'PLAYERS', align: 'right' });
  if (autoscalers) columns.push({ header: 'AUTOSCALER' });
  const rows = fleets.map((f) => {
    const s = f.status;
    const row = [f.name, ...[f.spec.replicas, s.replicas, s.readyReplicas, s.allocatedReplicas, s.reservedReplicas].map(String)];
    if (players) row.push(s.players ? `${s.players.count}/${s.players.capacity}` : '-');
    if (autoscalers) row.push(autoscalerCell(f.autoscaler));
    return row;
  });
  // Why an autoscaler cannot scale, or not as far as its policy asks, is a sentence, too long for its cell.
  const stuck = fleets.flatMap(({ name, autoscaler: a }) => {
    if (!a?.problem) return [];
    return [`FleetAutoscaler ${a.name} ${a.status?.ableToScale ? 'holds back' : 'cannot scale'} fleet ${name}: ${a.problem.message}`];
  });
  return [...renderTable(columns, rows), ...stuck, ...strays];
}

/** The fleet files the stack could not apply, under a heading; nothing when there are none. */
export function renderSourceProblems(problems: readonly SourceProblem[]): string[] {
  return problems.length ? ['problems in fleet files:', ...problems.map(formatProblem)] : [];
}

function autoscalerCell(a: FleetSummary['autoscaler']): string {
  if (!a) return '-';
  if (!a.status) return `${a.policy}: not synced yet`;
  const notes = [a.status.scalingLimited ? 'limited' : '', a.status.ableToScale ? '' : 'unable to scale'].filter(Boolean);
  return [`${a.policy}: wants ${a.status.desiredReplicas}`, ...notes].join(', ');
}

function resourceRef(r: Pick<AppliedResource, 'kind' | 'name'>): string {
  return `${RESOURCE_TYPE[r.kind]}/${r.name}`;
}
