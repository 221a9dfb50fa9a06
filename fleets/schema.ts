import { readFile } from 'node:fs/promises';
import type { AgonesResource } from '../core/resources.js';
import { parseYaml, type FieldPath, type SourceProblem, type YamlDocument } from '../core/yaml-source.js';
import { fleetAutoscalerRules } from './schema/fleet-autoscaler-rules.js';
import { FleetAutoscalerSchema } from './schema/fleet-autoscaler-schema.js';
import { fleetRules, gameServerRules } from './schema/fleet-rules.js';
import { FleetSchema, GameServerSchema } from './schema/fleet-schema.js';
import { classifyDocument } from './schema/resource-kind.js';
import { problemAt } from './schema/problem-at.js';
import type { RuleProblem } from './schema/rule-problem.js';
import { zodProblems } from './schema/zod-problems.js';

// Fleet YAML → typed Agones resources with Agones' defaults, or problems that say where and why.
// Three layers, in the order a Kubernetes API server with Agones applies them:
//   1. which documents are ours (apiVersion/kind; others in the file are skipped with a warning),
//   2. the CRD's structural schema (types, enums, bounds, required and unknown fields) plus
//      defaults, in zod (fleets/schema/*-schema.ts),
//   3. Agones' webhook rules and Hangar's own (fleets/schema/*-rules.ts), on the defaulted resource.

export interface ParsedResource {
  resource: AgonesResource;
  doc: YamlDocument;
}

export interface ParseResult {
  /** The documents that are valid Fleets, GameServers and FleetAutoscalers, defaults applied. */
  resources: ParsedResource[];
  /** Errors and warnings of every document, in file order. A document with an error is not in `resources`. */
  problems: SourceProblem[];
}

export interface ParseOptions {
  /** The current time, for rules about time (a Schedule's end must be in the future). */
  now?: Date;
}

export function parseResources(text: string, file: string, options: ParseOptions = {}): ParseResult {
  const parsed = parseYaml(text, file);
  // A file with a syntax error is not used at all.
  if (parsed.problems.length > 0) return { resources: [], problems: parsed.problems };
  const resources: ParsedResource[] = [];
  const problems: SourceProblem[] = [];
  let documents = 0;
  for (const doc of parsed.documents) {
    const result = parseDocument(doc, options.now ?? new Date());
    if (result === 'empty') continue;
    documents++;
    problems.push(...result.problems);
    if (result.resource && !result.problems.some((p) => p.severity === 'error')) resources.push({ resource: result.resource, doc });
  }
  if (documents === 0) problems.push({ file, line: 1, col: 1, path: '', message: 'the file has no YAML documents', severity: 'warning' });
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return { resources, problems };
}

/** A resource as a delete names it. */
export interface ResourceRef {
  kind: AgonesResource['kind'];
  name: string;
}

/**
 * The kind and name of each document, all `kubectl delete -f` reads: the rest of a document need
 * not be valid (the file it was applied from may have changed since). Problems say which documents
 * name nothing to delete.
 */
export function parseResourceRefs(text: string, file: string): { refs: ResourceRef[]; problems: SourceProblem[] } {
  const parsed = parseYaml(text, file);
  if (parsed.problems.length > 0) return { refs: [], problems: parsed.problems };
  const refs: ResourceRef[] = [];
  const problems: SourceProblem[] = [];
  for (const doc of parsed.documents) {
    const raw = doc.toJS() as { metadata?: { name?: unknown } } | null | undefined;
    if (raw === null || raw === undefined) continue;
    const verdict = classifyDocument(raw);
    if ('error' in verdict) problems.push(problemAt(doc, verdict.field ? [verdict.field] : [], verdict.error));
    else if ('skip' in verdict) problems.push(problemAt(doc, ['kind'], verdict.skip, 'warning'));
    else if (typeof raw.metadata?.name !== 'string' || raw.metadata.name === '') problems.push(problemAt(doc, ['metadata', 'name'], `a ${verdict.kind} to delete needs its metadata.name (one made from generateName is deleted by its name, which hangar gs list shows)`));
    else refs.push({ kind: verdict.kind, name: raw.metadata.name });
  }
  if (refs.length === 0 && !problems.some((p) => p.severity === 'error')) problems.push({ file, line: 1, col: 1, path: '', message: 'the file names nothing to delete', severity: 'error' });
  return { refs, problems };
}

/** Reads and parses one file; read errors (missing file, no permission) reject as Node's fs errors do. */
export async function loadResourceFile(path: string, options: ParseOptions = {}): Promise<ParseResult> {
  return parseResources(await readFile(path, 'utf8'), path, options);
}

function parseDocument(doc: YamlDocument, now: Date): { resource?: AgonesResource; problems: SourceProblem[] } | 'empty' {
  const raw = doc.toJS();
  // A `---` with nothing after it (or only comments) is an empty document, not a mistake.
  if (raw === null || raw === undefined) return 'empty';
  const verdict = classifyDocument(raw);
  if ('error' in verdict) return { problems: [problemAt(doc, verdict.field ? [verdict.field] : [], verdict.error)] };
  if ('skip' in verdict) return { problems: [problemAt(doc, ['kind'], verdict.skip, 'warning')] };

  const { data, nulls } = dropNulls(raw);
  const toProblems = (rules: RuleProblem[]) => rules.map((r) => problemAt(doc, r.path, r.message, r.severity, r.at));
  switch (verdict.kind) {
    case 'Fleet': {
      const result = FleetSchema.safeParse(data, { reportInput: true });
      if (!result.success) return { problems: zodProblems(result.error, doc) };
      const fleet = result.data;
      const problems = toProblems(fleetRules(fleet, { raw: data, nulls }));
      const { name } = fleet.metadata;
      return name === undefined ? { problems } : { resource: { ...fleet, metadata: { ...fleet.metadata, name } }, problems };
    }
    case 'GameServer': {
      const result = GameServerSchema.safeParse(data, { reportInput: true });
      if (!result.success) return { problems: zodProblems(result.error, doc) };
      return { resource: result.data, problems: toProblems(gameServerRules(result.data, { raw: data, nulls })) };
    }
    case 'FleetAutoscaler': {
      const result = FleetAutoscalerSchema.safeParse(data, { reportInput: true });
      if (!result.success) return { problems: zodProblems(result.error, doc) };
      const fas = result.data;
      const problems = toProblems(fleetAutoscalerRules(fas, { raw: data, nulls, now }));
      const { name } = fas.metadata;
      return name === undefined ? { problems } : { resource: { ...fas, metadata: { ...fas.metadata, name } }, problems };
    }
  }
}

/**
 * Kubernetes prunes a null field before validating (or applies the field's default), so `capacity:`
 * with no value means "unset". The same here: null mapping values are dropped, and their paths kept
 * for the rules that warn about surprising ones.
 */
function dropNulls(value: unknown, path: FieldPath = [], nulls: FieldPath[] = []): { data: unknown; nulls: FieldPath[] } {
  if (Array.isArray(value)) return { data: value.map((v, i) => dropNulls(v, [...path, i], nulls).data), nulls };
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null) nulls.push([...path, k]);
      else out[k] = dropNulls(v, [...path, k], nulls).data;
    }
    return { data: out, nulls };
  }
  return { data: value, nulls };
}
