import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { MatchmakingRulesInvalidError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import type { FleetResource, GameServerSpec } from '../core/resources.js';
import { formatProblem, parseYaml, type FieldPath, type SourceProblem } from '../core/yaml-source.js';
import { hangarGameServerMaxPlayers } from '../fleets/schema/game-server-env-rules.js';
import { problemAt } from '../fleets/schema/problem-at.js';
import { error, warning, written, type RuleProblem } from '../fleets/schema/rule-problem.js';
import { strictObject } from '../fleets/schema/strict-object.js';
import { zodProblems } from '../fleets/schema/zod-problems.js';
import type { QueueRules, WideningWindow } from './ticket.js';

// config/matchmaking.yaml → QueueRules with defaults, or problems that say where and why, the way
// fleet YAML is checked (fleets/schema.ts): first the shape in strict zod (types, bounds, unknown
// fields with "did you mean"), then the rules between fields on the defaulted queue. Every number
// is an integer: seconds, milliseconds and rating points.

/** Queue and fleet names end up in Redis keys, metric labels and game-server labels. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MESSAGE = "must be lowercase letters, digits and '-', starting and ending with a letter or digit";

const DEFAULT_FILL_WAIT_SECONDS = 30;
const DEFAULT_TICKET_TTL_SECONDS = 300;

const WindowSchema = strictObject({
  initial: z.int().min(0),
  steps: z.array(strictObject({ afterSeconds: z.int().min(1), value: z.int().min(0) })).optional(),
});

const QueueSchema = strictObject({
  name: z.string().max(63).regex(NAME, NAME_MESSAGE),
  mode: z.string().min(1).optional(),
  fleet: z.string().max(63).regex(NAME, NAME_MESSAGE),
  teams: strictObject({ count: z.int().min(1), size: z.int().min(1) }),
  minPlayers: z.int().min(1).optional(),
  maxPlayers: z.int().min(1).optional(),
  fillWaitSeconds: z.int().min(0).optional(),
  skill: WindowSchema.optional(),
  latency: WindowSchema.optional(),
  maxPartySize: z.int().min(1).optional(),
  ticketTtlSeconds: z.int().min(1).optional(),
  backfill: z.boolean().optional(),
  accept: strictObject({ timeoutSeconds: z.int().min(1) }).optional(),
});

const DocumentSchema = strictObject({ queues: z.array(z.unknown()).min(1) });

/** A window that is not written does not limit: any skill gap, any measured region. */
const UNLIMITED: WideningWindow = { initial: Number.POSITIVE_INFINITY, steps: [] };

function withDefaults(q: z.output<typeof QueueSchema>): QueueRules {
  const maxPlayers = q.maxPlayers ?? q.teams.count * q.teams.size;
  return {
    name: q.name,
    mode: q.mode ?? q.name,
    fleet: q.fleet,
    teams: q.teams,
    // Unwritten, a match is always full: no short matches.
    minPlayers: q.minPlayers ?? maxPlayers,
    maxPlayers,
    fillWaitSeconds: q.fillWaitSeconds ?? DEFAULT_FILL_WAIT_SECONDS,
    skill: q.skill ? { initial: q.skill.initial, steps: q.skill.steps ?? [] } : UNLIMITED,
    latency: q.latency ? { initial: q.latency.initial, steps: q.latency.steps ?? [] } : UNLIMITED,
    maxPartySize: q.maxPartySize ?? 1,
    ticketTtlSeconds: q.ticketTtlSeconds ?? DEFAULT_TICKET_TTL_SECONDS,
    backfill: q.backfill ?? false,
    acceptTimeoutSeconds: q.accept?.timeoutSeconds ?? null,
  };
}

export interface MatchmakingRules {
  /** The queues without errors, defaults applied, in file order. */
  queues: QueueRules[];
  /** Errors and warnings, in file order. A queue with an error is not in `queues`. */
  problems: SourceProblem[];
}

/** A fleet the rules may name, as read from its YAML: how many players one of its servers admits, and where that is written. */
export interface FleetSeats {
  maxPlayers: number;
  where: string;
}

/** How many players one server of a fleet admits, as its template says (undefined: not a Hangar game server); `file` is where the fleet is written. */
export function fleetSeats(spec: GameServerSpec, file: string): FleetSeats | undefined {
  const seats = hangarGameServerMaxPlayers(spec);
  return seats && { maxPlayers: seats.maxPlayers, where: seats.written ? `its MAX_PLAYERS in ${file}` : `MAX_PLAYERS's default; ${file} does not set it` };
}

/** Why a queue's largest match does not fit one server of its fleet; undefined when it fits. */
export function seatShortfall(queue: Pick<QueueRules, 'fleet' | 'maxPlayers'>, seats: FleetSeats): string | undefined {
  if (queue.maxPlayers <= seats.maxPlayers) return undefined;
  return `matches of up to ${queue.maxPlayers} players go to fleet ${queue.fleet}, whose game server admits ${seats.maxPlayers} (${seats.where}): players past ${seats.maxPlayers} would be turned away`;
}

/**
 * A queue's largest match that one server of `fleet` cannot seat, as warnings at the fleet's
 * MAX_PLAYERS: what the running stack says when fleet YAML applies (a file edited, `hangar fleet
 * apply`); `hangar validate` of the rules beside the fleet makes the same finding an error.
 */
export function fleetSeatWarnings(fleet: FleetResource, queues: readonly QueueRules[], rulesFile: string): RuleProblem[] {
  const seats = hangarGameServerMaxPlayers(fleet.spec.template.spec, ['spec', 'template', 'spec']);
  if (!seats) return [];
  const where = seats.written ? 'MAX_PLAYERS here' : "MAX_PLAYERS's default: this fleet does not set it";
  return queues.flatMap((queue) => {
    const shortfall = queue.fleet === fleet.metadata.name && seatShortfall(queue, { maxPlayers: seats.maxPlayers, where });
    return shortfall ? [warning(seats.at, `queue ${queue.name} (${rulesFile}): ${shortfall}`)] : [];
  });
}

/**
 * `fleets`: the fleets known beside the rules (`hangar validate` of both), whose servers must hold a
 * queue's largest match (undefined: not a Hangar game server, its seats unknown); a queue naming
 * none of them is warned of.
 */
export function parseMatchmakingRules(text: string, file: string, fleets: ReadonlyMap<string, FleetSeats | undefined> = new Map()): MatchmakingRules {
  const parsed = parseYaml(text, file);
  if (parsed.problems.length > 0) return { queues: [], problems: parsed.problems };
  const [doc, ...extra] = parsed.documents.filter((d) => d.toJS() !== null);
  if (!doc) return { queues: [], problems: [{ file, line: 1, col: 1, path: '', message: 'the file has no queues: write `queues:` with a list of queues', severity: 'error' }] };
  const problems = extra.map((d) => problemAt(d, [], 'one document only: list every queue under the first document\'s `queues:`'));

  const top = DocumentSchema.safeParse(doc.toJS(), { reportInput: true });
  if (!top.success) return { queues: [], problems: sorted([...problems, ...zodProblems(top.error, doc)]) };

  const queues: QueueRules[] = [];
  const firstByName = new Map<string, number>();
  top.data.queues.forEach((raw, i) => {
    const at: FieldPath = ['queues', i];
    const result = QueueSchema.safeParse(raw, { reportInput: true });
    if (!result.success) {
      problems.push(...zodProblems(new z.ZodError(result.error.issues.map((iss) => ({ ...iss, path: [...at, ...iss.path] }))), doc));
      return;
    }
    const queue = withDefaults(result.data);
    const found = queueRules(queue, raw);
    const seats = fleets.get(queue.fleet);
    const shortfall = seats && seatShortfall(queue, seats);
    if (shortfall) found.push(error(['fleet'], shortfall));
    // A misspelt fleet would leave every ticket of the queue waiting for a server that never comes.
    if (fleets.size > 0 && !fleets.has(queue.fleet)) found.push(warning(['fleet'], `no fleet ${queue.fleet} among the fleets given (${[...fleets.keys()].join(', ')}): its matches would find no game server unless it comes from elsewhere`));
    const first = firstByName.get(queue.name);
    if (first === undefined) firstByName.set(queue.name, i);
    else found.push(error(['name'], `duplicate queue name "${queue.name}": queues[${first}] (line ${doc.locate(['queues', first, 'name']).line}) has it already`));
    problems.push(...found.map((p) => problemAt(doc, [...at, ...p.path], p.message, p.severity, p.at)));
    if (!found.some((p) => p.severity === 'error')) queues.push(deepFreeze(queue) as QueueRules);
  });
  return { queues, problems: sorted(problems) };
}

/** The rules file as edited while a matchmaker runs the queues it started with (it reads them only at start). */
export interface RulesEdit {
  file: string;
  /** Errors (a restart would fail) and warnings of the file as it is now. */
  problems: SourceProblem[];
  /** The file's queues differ from those running. */
  changed: boolean;
}

/** Reads the rules file again and compares its queues with `running`. */
export async function checkRulesEdit(file: string, running: readonly QueueRules[]): Promise<RulesEdit> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { file, problems: [{ file, line: 1, col: 1, path: '', message: `cannot read the matchmaking rules file (matchmaker.rules_file): ${(err as Error).message}`, severity: 'error' }], changed: true };
  }
  const { queues, problems } = parseMatchmakingRules(text, file);
  return { file, problems, changed: problems.some((p) => p.severity === 'error') || JSON.stringify(queues) !== JSON.stringify(running) };
}

/** Reads and checks the rules file; throws MatchmakingRulesInvalidError listing every error. */
export async function loadMatchmakingRules(path: string): Promise<{ queues: QueueRules[]; warnings: SourceProblem[] }> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new MatchmakingRulesInvalidError([`${path}: cannot read the matchmaking rules file (matchmaker.rules_file): ${(err as Error).message}`]);
  });
  const { queues, problems } = parseMatchmakingRules(text, path);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new MatchmakingRulesInvalidError(errors.map(formatProblem));
  return { queues, warnings: problems };
}

/** The rules between fields, on the defaulted queue; `raw` is the queue as written. Paths are relative to the queue. */
function queueRules(q: QueueRules, raw: unknown): RuleProblem[] {
  const out: RuleProblem[] = [];
  const seats = q.teams.count * q.teams.size;
  const wrote = (field: string): boolean => written(raw, field) !== undefined;

  if (q.maxPlayers > seats) {
    out.push(error(['maxPlayers'], `maxPlayers ${q.maxPlayers} is more than the ${seats} seats of teams (${q.teams.count} × ${q.teams.size})`));
  }
  if (q.minPlayers > q.maxPlayers) {
    const source = wrote('maxPlayers') ? '' : ` (teams.count × teams.size, as maxPlayers is not set)`;
    out.push(error(['minPlayers'], `minPlayers ${q.minPlayers} is more than maxPlayers ${q.maxPlayers}${source}`));
  }
  if (q.maxPartySize > q.teams.size) {
    out.push(error(['maxPartySize'], `a party of ${q.maxPartySize} cannot fit on a team of ${q.teams.size}: a party plays on one team`));
  } else if (q.maxPartySize > q.maxPlayers) {
    out.push(error(['maxPartySize'], `a party of ${q.maxPartySize} is more than maxPlayers ${q.maxPlayers}`));
  }
  if (q.minPlayers === q.maxPlayers && wrote('fillWaitSeconds')) {
    out.push(warning(['fillWaitSeconds'], `has no effect: minPlayers equals maxPlayers (${q.maxPlayers}), so every match is full`, 'key'));
  } else if (q.minPlayers < q.maxPlayers && q.fillWaitSeconds >= q.ticketTtlSeconds) {
    out.push(warning(['fillWaitSeconds'], `${q.fillWaitSeconds} is not less than ticketTtlSeconds ${q.ticketTtlSeconds}: tickets expire before a short match may start`));
  }
  out.push(...windowRules(q.skill, written(raw, 'skill'), ['skill'], q.ticketTtlSeconds));
  out.push(...windowRules(q.latency, written(raw, 'latency'), ['latency'], q.ticketTtlSeconds));
  return out;
}

/** Steps in ascending afterSeconds, each as wide as the one before or wider (a window never narrows while a ticket waits). */
function windowRules(w: WideningWindow, raw: unknown, path: FieldPath, ttl: number): RuleProblem[] {
  if (raw === undefined) return [];
  const out: RuleProblem[] = [];
  w.steps.forEach((step, i) => {
    const at = [...path, 'steps', i];
    const prev = i === 0 ? undefined : w.steps[i - 1]!;
    const prevValue = prev ? prev.value : w.initial;
    const prevName = prev ? `steps[${i - 1}].value` : 'initial';
    if (prev && step.afterSeconds <= prev.afterSeconds) {
      out.push(error([...at, 'afterSeconds'], `must be more than the previous step's afterSeconds ${prev.afterSeconds}: steps are listed in the order they happen`));
    }
    if (step.value < prevValue) {
      out.push(error([...at, 'value'], `${step.value} narrows the window (${prevName} is ${prevValue}): a window only widens while a ticket waits`));
    } else if (step.value === prevValue) {
      out.push(warning([...at, 'value'], `does not widen the window: ${prevName} is ${prevValue} already`));
    }
    if (step.afterSeconds >= ttl) {
      out.push(warning([...at, 'afterSeconds'], `${step.afterSeconds} is not less than ticketTtlSeconds ${ttl}: tickets expire before this step`));
    }
  });
  return out;
}

function sorted(problems: SourceProblem[]): SourceProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}
