import { Ajv } from 'ajv';
import * as z from 'zod';
import { AllocationInvalidError } from '../core/errors.js';
import { behaviourLabelProblems } from '../core/hangar-metadata.js';
import { labelValueProblems, qualifiedNameProblems } from '../core/kubernetes-names.js';
import { setOwn } from '../core/own-property.js';
import { closestMatch } from '../fleets/schema/closest-match.js';
import { strictObject } from '../fleets/schema/strict-object.js';
import type { CounterAction, CounterSelector, GameServerAllocationSpec, GameServerSelector, LabelSelectorRequirement, ListAction, ListSelector } from './allocation.js';
import { describeValue, expectedType } from '../core/type-words.js';

// A GameServerAllocation request, read as Agones reads it (pkg/apis/allocation/v1
// gameserverallocation.go): ApplyDefaults, Validate, then Converter (the deprecated `required` and
// `preferred` become `selectors`). Stricter than Agones where Agones would silently do nothing:
// unknown fields, a Counter action other than Increment/Decrement, and a List capacity above 1000
// are errors here. `null` means "not set", as Go's JSON decoding reads it, so requests Go clients
// send (`"scheduling": ""`, `"required": {}`, `"status": {...}`) parse unchanged.

const describe = (value: unknown) => describeValue(value, 'json');
const expected = (type: string) => expectedType(type, 'json');

const ALLOCATION_API_VERSION = 'allocation.agones.dev/v1';
/** Hangar's own bound (Agones has none): every selector that matches nothing costs a pass over the candidates. */
export const MAX_SELECTORS = 16;
const LIST_MAX_CAPACITY = 1000;
const ANNOTATIONS_MAX_BYTES = 256 * 1024;
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
// Go's JSON numbers here are int64; JavaScript holds integers exactly up to 2^53.
const INT = z.int();
// Label and annotation maps, checked by hand: zod's record assigns each key to its output, so a key
// named __proto__ with an object value would vanish instead of being refused.
const STRING_MAP = z.custom<Record<string, string>>().superRefine((value, ctx) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `expected an object, got ${describe(value)}` });
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') ctx.addIssue({ code: 'custom', path: [key], message: `expected a string, got ${describe(v)}` });
  }
});

const LabelSelectorRequirementSchema = strictObject({
  key: z.string(),
  operator: z.string(),
  values: z.array(z.string()).nullish(),
});

const GameServerSelectorSchema = strictObject({
  matchLabels: STRING_MAP.nullish(),
  matchExpressions: z.array(LabelSelectorRequirementSchema).nullish(),
  gameServerState: z.string().nullish(),
  players: strictObject({ minAvailable: INT.nullish(), maxAvailable: INT.nullish() }).nullish(),
  counters: z.record(z.string(), strictObject({ minCount: INT.nullish(), maxCount: INT.nullish(), minAvailable: INT.nullish(), maxAvailable: INT.nullish() })).nullish(),
  lists: z.record(z.string(), strictObject({ containsValue: z.string().nullish(), minAvailable: INT.nullish(), maxAvailable: INT.nullish() })).nullish(),
});
type SelectorInput = z.infer<typeof GameServerSelectorSchema>;

const SpecSchema = strictObject({
  multiClusterSetting: strictObject({
    enabled: z.boolean().nullish(),
    policySelector: strictObject({ matchLabels: STRING_MAP.nullish(), matchExpressions: z.array(LabelSelectorRequirementSchema).nullish() }).nullish(),
  }).nullish(),
  required: GameServerSelectorSchema.nullish(),
  preferred: z.array(GameServerSelectorSchema).nullish(),
  priorities: z.array(strictObject({ type: z.string(), key: z.string(), order: z.string().nullish() })).nullish(),
  selectors: z.array(GameServerSelectorSchema).nullish(),
  scheduling: z.string().nullish(),
  metadata: strictObject({ labels: STRING_MAP.nullish(), annotations: STRING_MAP.nullish() }).nullish(),
  counters: z.record(z.string(), strictObject({ action: z.string().nullish(), amount: INT.nullish(), capacity: INT.nullish() })).nullish(),
  lists: z.record(z.string(), strictObject({ addValues: z.array(z.string()).nullish(), deleteValues: z.array(z.string()).nullish(), capacity: INT.nullish() })).nullish(),
});
type SpecInput = z.infer<typeof SpecSchema>;

/**
 * What a prepared allocation (allocator/prepared-allocation.ts) may carry over its template: what it
 * does to the server it gets. Which server (selectors, scheduling, priorities) is the template's.
 */
export const ALLOCATION_PART_FIELDS = ['metadata', 'counters', 'lists'] as const;
const PartsSchema = SpecSchema.pick({ metadata: true, counters: true, lists: true });
type PartsInput = z.infer<typeof PartsSchema>;

const EnvelopeSchema = strictObject({
  apiVersion: z.string().nullish(),
  kind: z.string().nullish(),
  metadata: strictObject({
    name: z.string().nullish(),
    generateName: z.string().nullish(),
    namespace: z.string().nullish(),
    labels: STRING_MAP.nullish(),
    annotations: STRING_MAP.nullish(),
    // client-go always sends it, as null.
    creationTimestamp: z.string().nullish(),
  }).nullish(),
  spec: z.unknown().optional(),
  // The server fills status; client-go sends an empty one. Ignored.
  status: z.record(z.string(), z.unknown()).nullish(),
});

// zod's check of a well-formed request took a tenth of the allocator's CPU under load, and its
// copy of the request made garbage (BENCHMARKS.md, "Allocator under load"). The same schemas,
// converted to JSON Schema and compiled by ajv, say whether a request is well-formed in half the
// time without copying it; zod runs only when ajv says it is not, for its verdict and its messages,
// so ajv can only let through what zod would.
const ajv = new Ajv({ strict: true });
function compiled(schema: z.ZodType): (value: unknown) => boolean {
  const json = z.toJSONSchema(schema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    // STRING_MAP is the only custom type here; any other would pass ajv unchecked.
    override: (ctx) => {
      if (ctx.zodSchema === STRING_MAP) Object.assign(ctx.jsonSchema, { type: 'object', additionalProperties: { type: 'string' } });
    },
  });
  delete json.$schema;
  return ajv.compile(json);
}
const wellFormedEnvelope = compiled(EnvelopeSchema);
const wellFormedSpec = compiled(SpecSchema);
const wellFormedParts = compiled(PartsSchema);

/** `raw` as SpecSchema reads it; throws with every problem of a misshapen one. */
function shapedSpec(raw: unknown, problems: string[]): SpecInput {
  if (wellFormedSpec(raw)) return raw as SpecInput;
  const parsed = SpecSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  // The rest of the request is still checked, so one answer names every problem: the spec
  // without its misshapen parts gets the semantic checks.
  const rest = SpecSchema.safeParse(withoutIssues(raw, parsed.error.issues));
  throw new AllocationInvalidError([...problems, ...shapeProblems(SpecSchema, raw, 'spec'), ...(rest.success ? specProblems(rest.data) : [])]);
}

/**
 * Parses a GameServerAllocation (the whole `allocation.agones.dev/v1` object, or only its spec)
 * into the spec Hangar allocates with, Agones' defaults applied and `required`/`preferred`
 * converted to `selectors`. Throws AllocationInvalidError listing every problem with its field path.
 */
export function parseAllocationRequest(json: unknown): GameServerAllocationSpec {
  const problems: string[] = [];
  let raw = json;
  if (isEnvelope(json)) {
    if (!wellFormedEnvelope(json) && !EnvelopeSchema.safeParse(json).success) problems.push(...shapeProblems(EnvelopeSchema, json, ''));
    const { apiVersion, kind } = json as { apiVersion?: unknown; kind?: unknown };
    if (apiVersion != null && apiVersion !== ALLOCATION_API_VERSION) problems.push(`apiVersion: must be ${ALLOCATION_API_VERSION}, got ${describe(apiVersion)}`);
    if (kind != null && kind !== 'GameServerAllocation') problems.push(`kind: must be GameServerAllocation, got ${describe(kind)}`);
    raw = (json as { spec?: unknown }).spec;
    if (raw == null) {
      problems.push('spec: missing required field "spec"');
      throw new AllocationInvalidError(problems);
    }
  }
  const spec = shapedSpec(raw, problems);
  problems.push(...specProblems(spec));
  if (problems.length > 0) throw new AllocationInvalidError(problems);
  return toSpec(spec);
}

/**
 * A prepared allocation's own parts (ALLOCATION_PART_FIELDS), each with Agones' defaults applied
 * and only where given, so a template's are kept where the message says nothing. Problems are
 * named from `root` (the stream's `allocation`). The sum of the annotations' sizes is checked
 * again once merged with the template's (annotationsSizeProblems).
 */
export function parseAllocationParts(json: unknown, root: string): AllocationParts {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new AllocationInvalidError([`${root}: expected an object, got ${describe(json)}`]);
  const problems: string[] = [];
  for (const key in json) {
    if ((ALLOCATION_PART_FIELDS as readonly string[]).includes(key)) continue;
    problems.push(
      Object.hasOwn(SpecSchema.shape, key)
        ? `${root}.${key}: not allowed in a prepared allocation: its template gives it (send ${ALLOCATION_PART_FIELDS.join(', ')})`
        : `${root}.${key}: unknown field; a prepared allocation carries ${ALLOCATION_PART_FIELDS.join(', ')}`,
    );
  }
  if (problems.length > 0) throw new AllocationInvalidError(problems);
  let parts = json as PartsInput;
  if (!wellFormedParts(json)) {
    const parsed = PartsSchema.safeParse(json);
    if (!parsed.success) throw new AllocationInvalidError(shapeProblems(PartsSchema, json, root));
    parts = parsed.data;
  }
  problems.push(...changeProblems(parts, root));
  if (problems.length > 0) throw new AllocationInvalidError(problems);
  const out: AllocationParts = {};
  if (parts.metadata?.labels != null || parts.metadata?.annotations != null) {
    out.metadata = {};
    if (parts.metadata.labels != null) out.metadata.labels = { ...parts.metadata.labels };
    if (parts.metadata.annotations != null) out.metadata.annotations = { ...parts.metadata.annotations };
  }
  if (parts.counters != null) out.counters = counterActions(parts.counters);
  if (parts.lists != null) out.lists = listActions(parts.lists);
  return out;
}

/** A prepared allocation's parts, parsed: each field only where the message gave it. */
export interface AllocationParts {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  counters?: Record<string, CounterAction>;
  lists?: Record<string, ListAction>;
}

/** The whole object carries at least one of these; a bare spec carries none. */
function isEnvelope(json: unknown): boolean {
  return json !== null && typeof json === 'object' && ('spec' in json || 'apiVersion' in json || 'kind' in json);
}

// ---- Agones' Validate, plus Hangar's stricter rules ----

function specProblems(spec: SpecInput): string[] {
  const out: string[] = [];
  if (spec.scheduling && spec.scheduling !== 'Packed' && spec.scheduling !== 'Distributed') {
    out.push(`spec.scheduling: ${notSupported(spec.scheduling, ['Packed', 'Distributed'])}`);
  }
  if (spec.multiClusterSetting?.enabled) out.push('spec.multiClusterSetting.enabled: multi-cluster allocation is not supported: Hangar allocates from its own game servers');
  // Agones validates required and preferred even when selectors (which replace them) are set.
  if (spec.required) out.push(...selectorProblems(spec.required, 'spec.required'));
  spec.preferred?.forEach((s, i) => out.push(...selectorProblems(s, `spec.preferred[${i}]`)));
  spec.selectors?.forEach((s, i) => out.push(...selectorProblems(s, `spec.selectors[${i}]`)));
  const count = spec.selectors?.length ? spec.selectors.length : (spec.preferred?.length ?? 0) + 1;
  if (count > MAX_SELECTORS) {
    out.push(`${spec.selectors?.length ? 'spec.selectors' : 'spec.preferred'}: must have at most ${MAX_SELECTORS} selectors, got ${count}`);
  }
  spec.priorities?.forEach((p, i) => {
    const path = `spec.priorities[${i}]`;
    if (p.type !== 'Counter' && p.type !== 'List') out.push(`${path}.type: type must be "Counter" or "List"${didYouMean(p.type, ['Counter', 'List'])}, got ${describe(p.type)}`);
    if (p.key === '') out.push(`${path}.key: key must not be empty`);
    if (p.order && p.order !== 'Ascending' && p.order !== 'Descending') {
      out.push(`${path}.order: order must be "Ascending" or "Descending"${didYouMean(p.order, ['Ascending', 'Descending'])}, got ${describe(p.order)}`);
    }
  });
  out.push(...changeProblems(spec, 'spec'));
  return out;
}

/** The checks of what an allocation does to its server: Counter and List actions, labels and annotations. */
function changeProblems(spec: PartsInput, root: string): string[] {
  const out: string[] = [];
  for (const key in spec.counters) {
    const a = spec.counters[key]!;
    const path = `${root}.counters[${key}]`;
    if (a.amount != null && a.amount < 0) out.push(`${path}.amount: ${NEGATIVE}`);
    if (a.capacity != null && a.capacity < 0) out.push(`${path}.capacity: ${NEGATIVE}`);
    if (a.amount != null && a.action == null) out.push(`${path}: action must be "Increment" or "Decrement" if the amount is not nil`);
    if (a.amount == null && a.action != null) out.push(`${path}: amount must not be nil if action is not nil`);
    // Agones accepts any action here and skips it at allocation time with a warning event.
    if (a.action != null && a.action !== 'Increment' && a.action !== 'Decrement') {
      out.push(`${path}.action: action must be "Increment" or "Decrement"${didYouMean(a.action, ['Increment', 'Decrement'])}, got ${describe(a.action)}`);
    }
  }
  for (const key in spec.lists) {
    const a = spec.lists[key]!;
    const path = `${root}.lists[${key}].capacity`;
    if (a.capacity != null && a.capacity < 0) out.push(`${path}: ${NEGATIVE}`);
    // Agones accepts more and skips the capacity change at allocation time with a warning event.
    if (a.capacity != null && a.capacity > LIST_MAX_CAPACITY) out.push(`${path}: must be at most ${LIST_MAX_CAPACITY} (a List holds at most ${LIST_MAX_CAPACITY} values), got ${a.capacity}`);
  }
  out.push(...metaPatchProblems(spec.metadata?.labels ?? {}, spec.metadata?.annotations ?? {}, `${root}.metadata`));
  if (spec.metadata?.labels) out.push(...behaviourLabelProblems(spec.metadata.labels, `${root}.metadata.labels`));
  return out;
}

const NEGATIVE = 'must be greater than or equal to 0';

function selectorProblems(s: SelectorInput, path: string): string[] {
  const out: string[] = [];
  for (const key in s.matchLabels) {
    const value = s.matchLabels[key]!;
    // matchLabels entries are Equals requirements: a valid key and one valid value.
    for (const p of keyProblems(key)) out.push(`${path}.matchLabels[${key}]: key ${p}`);
    for (const p of valueProblems(value)) out.push(`${path}.matchLabels[${key}]: ${p}`);
  }
  s.matchExpressions?.forEach((e, i) => out.push(...requirementProblems(e, `${path}.matchExpressions[${i}]`)));
  if (s.gameServerState && s.gameServerState !== 'Ready' && s.gameServerState !== 'Allocated') {
    out.push(`${path}.gameServerState: GameServerState must be either Allocated or Ready, got ${describe(s.gameServerState)}`);
  }
  if (s.players) {
    const min = s.players.minAvailable ?? 0;
    const max = s.players.maxAvailable ?? 0;
    if (min < 0) out.push(`${path}.players.minAvailable: ${NEGATIVE}`);
    if (max < 0) out.push(`${path}.players.maxAvailable: ${NEGATIVE}`);
    if (min > max) out.push(`${path}.players.minAvailable: minAvailable cannot be greater than maxAvailable`);
  }
  for (const key in s.counters) {
    const c = s.counters[key]!;
    const p = `${path}.counters[${key}]`;
    out.push(...rangeProblems(p, 'minCount', c.minCount ?? 0, 'maxCount', c.maxCount ?? 0));
    out.push(...rangeProblems(p, 'minAvailable', c.minAvailable ?? 0, 'maxAvailable', c.maxAvailable ?? 0));
  }
  for (const key in s.lists) {
    const l = s.lists[key]!;
    out.push(...rangeProblems(`${path}.lists[${key}]`, 'minAvailable', l.minAvailable ?? 0, 'maxAvailable', l.maxAvailable ?? 0));
  }
  return out;
}

/** A min/max pair where max 0 means "no upper bound". */
function rangeProblems(path: string, minName: string, min: number, maxName: string, max: number): string[] {
  const out: string[] = [];
  if (min < 0) out.push(`${path}.${minName}: ${NEGATIVE}`);
  if (max < 0) out.push(`${path}.${maxName}: ${NEGATIVE}`);
  if (max !== 0 && max < min) out.push(`${path}: ${maxName} must zero or greater than ${minName} ${min}`);
  return out;
}

/** Kubernetes' labels.NewRequirement checks, as LabelSelectorAsSelector runs them. */
function requirementProblems(e: z.infer<typeof LabelSelectorRequirementSchema>, path: string): string[] {
  const out: string[] = [];
  for (const p of keyProblems(e.key)) out.push(`${path}.key: ${p}`);
  const values = e.values ?? [];
  if (!(OPERATORS as readonly string[]).includes(e.operator)) {
    out.push(`${path}.operator: ${notSupported(e.operator, OPERATORS)}`);
  } else if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0) {
    out.push(`${path}.values: for 'in', 'notin' operators, values set can't be empty`);
  } else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && values.length > 0) {
    out.push(`${path}.values: values set must be empty for exists and does not exist`);
  }
  values.forEach((v, i) => {
    for (const p of valueProblems(v)) out.push(`${path}.values[${i}]: ${p}`);
  });
  return out;
}

/** ValidateLabels and ValidateAnnotations, as Agones' MetaPatch.Validate runs them. */
function metaPatchProblems(labels: Record<string, string>, annotations: Record<string, string>, path: string): string[] {
  const out: string[] = [];
  for (const key in labels) {
    const value = labels[key]!;
    for (const p of keyProblems(key)) out.push(`${path}.labels[${key}]: key ${p}`);
    for (const p of valueProblems(value)) out.push(`${path}.labels[${key}]: ${p}`);
  }
  for (const key in annotations) {
    // Annotation keys are qualified names in which case does not matter.
    for (const p of keyProblems(key.toLowerCase())) out.push(`${path}.annotations[${key}]: key ${p}`);
  }
  out.push(...annotationsSizeProblems(annotations, `${path}.annotations`));
  return out;
}

/** Kubernetes' bound on the annotations of one object, keys and values together. */
export function annotationsSizeProblems(annotations: Record<string, string>, path: string): string[] {
  let bytes = 0;
  for (const key in annotations) bytes += Buffer.byteLength(key) + Buffer.byteLength(annotations[key]!);
  return bytes > ANNOTATIONS_MAX_BYTES ? [`${path}: may not be more than ${ANNOTATIONS_MAX_BYTES} bytes, got ${bytes}`] : [];
}

// Requests repeat the same few label keys and values; remembering the valid ones halves the cost
// of a typical parse. Bounded, so a stream of distinct values cannot grow it without limit.
const KNOWN_VALID_MAX = 4096;
const validKeys = new Set<string>();
const validValues = new Set<string>();

function keyProblems(key: string): string[] {
  return remembered(validKeys, key, qualifiedNameProblems);
}

function valueProblems(value: string): string[] {
  return remembered(validValues, value, labelValueProblems);
}

function remembered(valid: Set<string>, s: string, check: (s: string) => string[]): string[] {
  if (valid.has(s)) return [];
  const problems = check(s);
  if (problems.length === 0) {
    if (valid.size >= KNOWN_VALID_MAX) valid.clear();
    valid.add(s);
  }
  return problems;
}

// ---- ApplyDefaults and Converter ----

function toSpec(spec: SpecInput): GameServerAllocationSpec {
  // Converter: selectors replace required and preferred; otherwise preferred come first, then required.
  const selectors = spec.selectors?.length ? spec.selectors : [...(spec.preferred ?? []), spec.required ?? {}];
  return {
    selectors: selectors.map(toSelector),
    scheduling: spec.scheduling === 'Distributed' ? 'Distributed' : 'Packed',
    priorities: (spec.priorities ?? []).map((p) => ({ type: p.type as 'Counter' | 'List', key: p.key, order: p.order === 'Descending' ? 'Descending' : 'Ascending' })),
    metadata: { labels: { ...spec.metadata?.labels }, annotations: { ...spec.metadata?.annotations } },
    counters: counterActions(spec.counters),
    lists: listActions(spec.lists),
  };
}

function counterActions(counters: SpecInput['counters']): Record<string, CounterAction> {
  return mapValues(counters, (a) => ({
    ...(a.action != null && { action: a.action as 'Increment' | 'Decrement' }),
    ...(a.amount != null && { amount: a.amount }),
    ...(a.capacity != null && { capacity: a.capacity }),
  }));
}

function listActions(lists: SpecInput['lists']): Record<string, ListAction> {
  return mapValues(lists, (a) => ({ addValues: a.addValues ?? [], deleteValues: a.deleteValues ?? [], ...(a.capacity != null && { capacity: a.capacity }) }));
}

function toSelector(s: SelectorInput): GameServerSelector {
  return {
    matchLabels: { ...s.matchLabels },
    matchExpressions: (s.matchExpressions ?? []).map((e): LabelSelectorRequirement => ({ key: e.key, operator: e.operator as LabelSelectorRequirement['operator'], values: e.values ?? [] })),
    gameServerState: s.gameServerState === 'Allocated' ? 'Allocated' : 'Ready',
    ...(s.players && { players: { minAvailable: s.players.minAvailable ?? 0, maxAvailable: s.players.maxAvailable ?? 0 } }),
    counters: mapValues(s.counters, (c): CounterSelector => ({ minCount: c.minCount ?? 0, maxCount: c.maxCount ?? 0, minAvailable: c.minAvailable ?? 0, maxAvailable: c.maxAvailable ?? 0 })),
    lists: mapValues(s.lists, (l): ListSelector => ({ containsValue: l.containsValue ?? '', minAvailable: l.minAvailable ?? 0, maxAvailable: l.maxAvailable ?? 0 })),
  };
}

function mapValues<A, B>(record: Record<string, A> | null | undefined, f: (a: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const key in record) {
    setOwn(out, key, f(record[key]!));
  }
  return out;
}

// ---- Problem texts ----

// Fields whose children are map keys, written `[key]` as Kubernetes writes field paths.
const MAP_FIELDS = new Set(['matchLabels', 'counters', 'lists', 'labels', 'annotations']);

/**
 * zod's issues for a `value` that failed `schema`. Parsed again, asking for the input in each issue,
 * only when it failed: asking on every parse leaves zod's compiled fast path (10× slower).
 */
function shapeProblems(schema: z.ZodType, value: unknown, root: string): string[] {
  const issues = schema.safeParse(value, { reportInput: true }).error?.issues ?? [];
  return issues.flatMap((iss) => {
    const path = fieldPath(root, iss.path);
    if (iss.code === 'unrecognized_keys') {
      const lines = iss.message.split('\n');
      return iss.keys.map((key, i) => `${fieldPath(path, [key])}: ${lines[i] ?? `unknown field "${key}"`}`);
    }
    return [`${path || '(request)'}: ${issueMessage(iss)}`];
  });
}

function fieldPath(root: string, segments: readonly PropertyKey[]): string {
  let out = root;
  let keyNext = false;
  for (const seg of segments) {
    if (typeof seg === 'number' || keyNext) {
      out += `[${String(seg)}]`;
      keyNext = false;
    } else {
      out += out ? `.${String(seg)}` : String(seg);
      keyNext = MAP_FIELDS.has(String(seg));
    }
  }
  return out;
}

function issueMessage(iss: z.core.$ZodIssue): string {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'missing required field';
      return `expected ${expected(iss.expected)}, got ${describe(iss.input)}`;
    case 'too_big':
    case 'too_small':
      // Only integers outside what JavaScript holds exactly reach here.
      return `must be an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}, got ${describe(iss.input)}`;
    default:
      return iss.message;
  }
}

function notSupported(value: string, supported: readonly string[]): string {
  return `Unsupported value: ${JSON.stringify(value)}${didYouMean(value, supported)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`;
}

function didYouMean(value: string, supported: readonly string[]): string {
  const guess = closestMatch(value, supported);
  return guess ? ` (did you mean ${JSON.stringify(guess)}?)` : '';
}

/**
 * A copy of `value` without the parts `issues` complain about (a missing field takes its parent
 * along), or undefined when that would remove an array item: the semantic checks would then
 * name the items after it by the wrong index.
 */
function withoutIssues(value: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(value) as Record<PropertyKey, unknown>;
  for (const issue of issues) {
    const path = [...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const owner = at(copy, path);
      if (owner && typeof owner === 'object') for (const key of issue.keys) delete (owner as Record<string, unknown>)[key];
      continue;
    }
    if (at(copy, path) === undefined) path.pop();
    const key = path.pop();
    const owner = at(copy, path);
    if (key === undefined || typeof key === 'number' || !owner || typeof owner !== 'object' || Array.isArray(owner)) return undefined;
    delete (owner as Record<PropertyKey, unknown>)[key];
  }
  return copy;
}

function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const seg of path) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return node;
}
