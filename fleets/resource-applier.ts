import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgonesResource, FleetAutoscalerResource, FleetResource } from '../core/resources.js';
import { ResourceOwnedByFileError } from '../core/errors.js';
import { LogField, type Logger } from '../core/logger.js';
import type { SourceProblem } from '../core/yaml-source.js';
import type { GameServerStore } from '../store/game-server-store.js';
import type { FleetAutoscalerController } from './autoscaler/autoscaler-controller.js';
import { secondAutoscalerProblems, type FleetAutoscalerClaim } from './autoscaler/one-per-fleet.js';
import type { ApplyAction, FleetController } from './fleet-controller.js';
import { stableJson } from './game-server-set.js';
import { autoscalerBoundsWarnings, localRunProblems, replicasBoundsProblems, runningAfter } from './local-rules.js';
import type { FleetRuntime } from './runtime/fleet-runtime.js';
import { NOTHING_RUNS, type ServerBounds } from './runtime/server-bounds.js';
import { definitionKey, secondDefinitionProblems } from './one-definition.js';
import { parseResourceRefs, parseResources, type ParsedResource, type ParseResult, type ResourceRef } from './schema.js';
import { problemAt } from './schema/problem-at.js';
import type { RuleProblem } from './schema/rule-problem.js';

// `kubectl apply` for the local stack. Fleet YAML reaches the running stack two ways: the fleets
// directory (read at start and again on every edit) and `hangar fleet apply` (POST /v1/apply).
// Both come here. A source (one file, or one API request) is validated whole; if anything in it
// is invalid, nothing of it is applied and the previous state stays, with the problems kept for
// GET /v1/fleets. A fleet's replicas follow kubectl's three-way rule: an apply whose replicas equal
// the last applied value leaves the live value alone (a `fleet scale` or an autoscaler's choice
// survives an edit of the template).

export interface AppliedResource {
  kind: AgonesResource['kind'];
  name: string;
  action: ApplyAction | 'deleted';
}

export interface ApplyResult {
  applied: AppliedResource[];
  /** Errors (then `applied` is empty) and warnings. */
  problems: SourceProblem[];
  /** The file had errors when it was last read and applies now, even if nothing in it changed. */
  recovered?: boolean;
}

/** What a delete did: kubectl delete's answer. */
export interface DeleteResult {
  deleted: AppliedResource[];
  /** What the request named that the stack does not have. */
  notFound: ResourceRef[];
  /** An autoscaler left without its fleet, as Agones leaves it. */
  warnings: string[];
}

export interface ResourceApplierOptions {
  controller: FleetController;
  autoscalers: FleetAutoscalerController;
  store: GameServerStore;
  runtime: FleetRuntime;
  log: Logger;
  /** How many game servers fit here (ports, memory): a fleet whose replicas pass them is refused. */
  bounds: ServerBounds;
  /** Warnings a fleet gets from what runs beside it (the matchmaker's queues), checked at each apply. */
  fleetWarnings?: (fleet: FleetResource) => RuleProblem[];
}

export class ResourceApplier {
  /** What each file last applied, so a resource removed from its file can be removed from the stack. */
  private readonly owned = new Map<string, ResourceRef[]>();
  /** What each fleet file's last read found; a file that applied cleanly has only warnings. */
  private readonly problemsBySource = new Map<string, SourceVerdict>();
  /** Where each fleet came from, by name. */
  private readonly fleetSources = new Map<string, string>();
  private readonly lastAppliedReplicas = new Map<string, number>();
  private readonly log: Logger;

  constructor(private readonly options: ResourceApplierOptions) {
    this.log = options.log.child({ [LogField.component]: 'applier' });
  }

  /**
   * Every current problem of every fleet file, in file order. Its running autoscalers' warnings of
   * a maxReplicas past what fits are as of now: what fits changes with the other fleets, and their
   * fleet may have come or gone since the file was read.
   */
  async problems(): Promise<SourceProblem[]> {
    const verdicts = [...this.problemsBySource.values()];
    const running = verdicts.some((v) => v.autoscalers.length) ? await this.options.controller.running() : NOTHING_RUNS;
    return verdicts.flatMap((v) => [...v.problems, ...autoscalerBoundsWarnings(v.autoscalers, this.options.bounds, running)].sort(byPosition));
  }

  fleetSource(name: string): string | undefined {
    return this.fleetSources.get(name);
  }

  /**
   * Validates `text` and applies every resource in it, or nothing when anything is invalid.
   * `file` names the source in problems. Resources applied this way are never removed by a
   * directory sync. Nothing is applied when a fleets-directory file holds any of them: the next
   * sync would put the file's version back, as it would bring back a deleted one.
   */
  async applyText(text: string, file: string): Promise<ApplyResult> {
    const parsed = parseResources(text, file);
    for (const { resource } of parsed.resources) {
      const name = resource.metadata.name;
      const holder = name === undefined ? undefined : this.fileHolding({ kind: resource.kind, name });
      if (holder) throw new ResourceOwnedByFileError(resource.kind, name!, holder, 'apply');
    }
    return (await this.applySource(parsed, file, () => this.autoscalerClaims(new Set()))).result;
  }

  /**
   * Makes the stack match the fleets directory: every file is (re)applied, and whatever the
   * directory held before but holds no longer (a document or a whole file removed) is removed. A
   * file with errors keeps what it applied before.
   */
  async syncDirectory(dir: string): Promise<Map<string, ApplyResult>> {
    const results = new Map<string, ApplyResult>();
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch (err) {
      const problem: SourceProblem = { file: dir, line: 1, col: 1, path: '', message: `cannot read the fleets directory: ${(err as Error).message}`, severity: 'error' };
      this.problemsBySource.set(dir, { problems: [problem], autoscalers: [] });
      results.set(dir, { applied: [], problems: [problem] });
      return results;
    }
    this.problemsBySource.delete(dir);
    const before = [...this.owned.values()].flat();
    const files = names.map((n) => path.join(dir, n));
    // What a file that is gone held is removed after this sync; its autoscalers claim no fleet.
    const leaving = [...this.owned.keys()].filter((f) => !files.includes(f));
    const read = new Map<string, ParseResult>();
    for (const file of files) {
      try {
        read.set(file, parseResources(await readFile(file, 'utf8'), file));
      } catch (err) {
        // Deleted between listing and reading: treated as gone.
        this.log.debug({ err, file }, 'fleet file vanished while reading');
      }
    }
    const definedIn = this.definitions(read);
    for (const [file, parsed] of read) {
      const elsewhere = new Map([...definedIn].filter(([, f]) => f !== file));
      // What this file held is replaced by what it holds now (an autoscaler renamed in it is no second one).
      const { result, verdict } = await this.applySource(parsed, file, () => this.autoscalerClaims(new Set([file, ...leaving]), before), elsewhere);
      const failedBefore = this.problemsBySource.get(file)?.problems.some((p) => p.severity === 'error') ?? false;
      if (failedBefore && !result.problems.some((p) => p.severity === 'error')) {
        result.recovered = true;
        this.log.info({ [LogField.file]: file }, 'fleet file applied again: its errors are fixed');
      }
      results.set(file, result);
      this.problemsBySource.set(file, verdict);
      if (!result.problems.some((p) => p.severity === 'error')) this.owned.set(file, result.applied.map(({ kind, name }) => ({ kind, name })));
    }
    for (const file of [...this.owned.keys()]) {
      if (!files.includes(file) || !results.has(file)) {
        this.owned.delete(file);
        this.problemsBySource.delete(file);
      }
    }
    // Removed only when no file holds it any more, so a fleet moved from one file to another stays.
    const now = [...this.owned.values()].flat();
    const gone = before.filter((o, i) => !now.some((n) => same(n, o)) && before.findIndex((b) => same(b, o)) === i);
    const removed = await this.remove(gone, 'deleted: no fleet file holds it any more');
    if (removed.length) results.set(dir, { applied: removed, problems: [] });
    return results;
  }

  /**
   * The file each resource of the directory is defined in, when more than one defines it: the one
   * that applied it before, if it still defines it (an edit of another file does not take it over),
   * else the first (files in name order). A file with errors still holds what it applied before.
   */
  private definitions(read: ReadonlyMap<string, ParseResult>): Map<string, string> {
    const defines = (file: string, parsed: ParseResult): string[] => {
      const now = parsed.resources.flatMap(({ resource: r }) => (r.metadata.name === undefined ? [] : [definitionKey({ kind: r.kind, name: r.metadata.name })]));
      return parsed.problems.some((p) => p.severity === 'error') ? [...now, ...(this.owned.get(file) ?? []).map(definitionKey)] : now;
    };
    const definedIn = new Map<string, string>();
    for (const [file, parsed] of read) {
      const held = new Set((this.owned.get(file) ?? []).map(definitionKey));
      for (const key of defines(file, parsed)) if (held.has(key) && !definedIn.has(key)) definedIn.set(key, file);
    }
    for (const [file, parsed] of read) for (const key of defines(file, parsed)) if (!definedIn.has(key)) definedIn.set(key, file);
    return definedIn;
  }

  /**
   * The running autoscalers with the file each came from, but for those the sources in `replaced`
   * held and those of `heldBefore` (the directory's before this sync) that no file holds now: they
   * are replaced or removed by what is being applied.
   */
  private autoscalerClaims(replaced: ReadonlySet<string>, heldBefore: readonly ResourceRef[] = []): FleetAutoscalerClaim[] {
    const fileOf = new Map<string, string>();
    for (const [file, owned] of this.owned) for (const o of owned) if (o.kind === 'FleetAutoscaler') fileOf.set(o.name, file);
    return this.options.autoscalers
      .list()
      .map(({ resource }) => ({ name: resource.metadata.name, fleetName: resource.spec.fleetName, file: fileOf.get(resource.metadata.name) }))
      .filter((c) => (c.file === undefined ? !heldBefore.some((o) => same(o, { kind: 'FleetAutoscaler', name: c.name })) : !replaced.has(c.file)));
  }

  /**
   * Checks and applies one source as one bounded change (FleetController.boundedChange): what runs
   * and which autoscalers claim which fleet are read when no other change is under way, and stay so
   * until this one is made. `claims` is read then.
   */
  private async applySource(
    parsed: ParseResult,
    file: string,
    claims: () => readonly FleetAutoscalerClaim[],
    elsewhere: ReadonlyMap<string, string> = new Map(),
  ): Promise<{ result: ApplyResult; verdict: SourceVerdict }> {
    return this.options.controller.boundedChange(() => this.applyParsed(parsed, file, claims(), elsewhere));
  }

  /** `elsewhere`: what other files of the fleets directory define (key → file), which this source may not define again. */
  private async applyParsed(parsed: ParseResult, file: string, claims: readonly FleetAutoscalerClaim[], elsewhere: ReadonlyMap<string, string>): Promise<{ result: ApplyResult; verdict: SourceVerdict }> {
    const { bounds } = this.options;
    const running = await this.options.controller.running();
    const after = runningAfter(parsed.resources, running, (fleet) => this.replicasToApply(fleet));
    const local = [
      ...parsed.resources.flatMap((r) => localRunProblems(r)),
      ...secondAutoscalerProblems(parsed.resources, claims),
      ...secondDefinitionProblems(parsed.resources, elsewhere),
      ...replicasBoundsProblems(parsed.resources, bounds, running, after),
    ];
    const beside = parsed.resources.flatMap(({ resource, doc }) =>
      resource.kind === 'Fleet' && this.options.fleetWarnings ? this.options.fleetWarnings(resource).map((p) => problemAt(doc, p.path, p.message, p.severity, p.at)) : [],
    );
    const lasting = [...parsed.problems, ...local, ...beside].sort(byPosition);
    const problems = [...lasting, ...autoscalerBoundsWarnings(parsed.resources, bounds, after)].sort(byPosition);
    if (problems.some((p) => p.severity === 'error')) {
      this.log.warn({ [LogField.file]: file, errors: problems.filter((p) => p.severity === 'error').length }, 'fleet file not applied: it has errors');
      // Nothing of it runs: what was found stays its verdict until the next read.
      return { result: { applied: [], problems }, verdict: { problems, autoscalers: [] } };
    }
    const applied: AppliedResource[] = [];
    const resources = parsed.resources.map((r) => r.resource);
    // Fleets before their autoscalers, so an autoscaler finds its fleet on its first sync.
    for (const r of resources) if (r.kind === 'Fleet') applied.push(this.applyFleet(r, file));
    for (const r of resources) if (r.kind === 'FleetAutoscaler') applied.push(this.applyAutoscaler(r));
    for (const r of resources) {
      if (r.kind !== 'GameServer') continue;
      const name = r.metadata.name;
      const exists = name !== undefined && (await this.options.store.get(name)) !== undefined;
      const created = exists ? undefined : await this.options.controller.createGameServer(r);
      applied.push({ kind: 'GameServer', name: created?.metadata.name ?? name ?? '', action: exists ? 'unchanged' : 'created' });
    }
    for (const a of applied.filter((x) => x.action !== 'unchanged')) this.log.info({ [LogField.file]: file, kind: a.kind, name: a.name }, a.action);
    return { result: { applied, problems }, verdict: { problems: lasting, autoscalers: parsed.resources.filter((r) => r.resource.kind === 'FleetAutoscaler') } };
  }

  private applyFleet(fleet: FleetResource, source: string): AppliedResource {
    const name = fleet.metadata.name;
    const replicas = this.replicasToApply(fleet);
    const resource = replicas === fleet.spec.replicas ? fleet : { ...fleet, spec: { ...fleet.spec, replicas } };
    this.lastAppliedReplicas.set(name, fleet.spec.replicas);
    this.fleetSources.set(name, source);
    return { kind: 'Fleet', name, action: this.options.controller.apply(resource) };
  }

  /** The replicas applying `fleet` sets: its live ones when the file's are those it last applied (kubectl's three-way rule), else the file's. */
  private replicasToApply(fleet: FleetResource): number {
    const name = fleet.metadata.name;
    const { controller } = this.options;
    return controller.has(name) && this.lastAppliedReplicas.get(name) === fleet.spec.replicas ? controller.liveReplicas(name) : fleet.spec.replicas;
  }

  private applyAutoscaler(resource: FleetAutoscalerResource): AppliedResource {
    const name = resource.metadata.name;
    const existing = this.options.autoscalers.list().find((a) => a.resource.metadata.name === name);
    const action: ApplyAction = !existing ? 'created' : stableJson(existing.resource) === stableJson(resource) ? 'unchanged' : 'configured';
    if (action !== 'unchanged') this.options.autoscalers.apply(resource);
    return { kind: 'FleetAutoscaler', name, action };
  }

  /**
   * `kubectl delete` for what was applied through the API: a fleet goes as a scale to 0 takes it
   * (Ready servers at once, Allocated and Reserved ones after their matches), an autoscaler leaves
   * its fleet at the size it has, a game server stops. Nothing is deleted when a fleets-directory
   * file holds any of `targets` (the file would bring it back); what is not here is listed in
   * notFound, as `kubectl delete -f` names each, even when that is all of them.
   */
  async delete(targets: readonly ResourceRef[]): Promise<DeleteResult> {
    for (const target of targets) {
      const file = this.fileHolding(target);
      if (file) throw new ResourceOwnedByFileError(target.kind, target.name, file);
    }
    const here = await Promise.all(targets.map((t) => this.exists(t)));
    const notFound = targets.filter((_, i) => !here[i]);
    const deleted = await this.remove(
      targets.filter((_, i) => here[i]),
      'deleted through the API',
    );
    const deletedFleets = new Set(deleted.filter((d) => d.kind === 'Fleet').map((d) => d.name));
    const warnings = this.options.autoscalers
      .list()
      .filter((a) => deletedFleets.has(a.resource.spec.fleetName))
      .map(({ resource: { metadata, spec } }) => {
        const file = this.fileHolding({ kind: 'FleetAutoscaler', name: metadata.name });
        const remedy = file ? `remove it from ${file}` : 'hangar fleet delete -f with a file naming it deletes it';
        return `FleetAutoscaler ${metadata.name} stays, with no fleet ${spec.fleetName} to scale, as in Agones: ${remedy}, or apply the fleet again`;
      });
    return { deleted, notFound, warnings };
  }

  /** delete() for the resources a YAML text names (kind and metadata.name of each document); problems when it names none rightly. */
  async deleteText(text: string, file: string): Promise<DeleteResult & { problems: SourceProblem[] }> {
    const { refs, problems } = parseResourceRefs(text, file);
    if (problems.some((p) => p.severity === 'error')) return { deleted: [], notFound: [], warnings: [], problems };
    return { ...(await this.delete(refs)), problems };
  }

  private fileHolding(ref: ResourceRef): string | undefined {
    return [...this.owned].find(([, held]) => held.some((o) => same(o, ref)))?.[0];
  }

  private async exists(ref: ResourceRef): Promise<boolean> {
    if (ref.kind === 'Fleet') return this.options.controller.has(ref.name);
    if (ref.kind === 'FleetAutoscaler') return this.options.autoscalers.list().some((a) => a.resource.metadata.name === ref.name);
    return (await this.options.store.get(ref.name)) !== undefined;
  }

  private async remove(gone: readonly ResourceRef[], why: string): Promise<AppliedResource[]> {
    const removed: AppliedResource[] = [];
    for (const o of gone) {
      if (o.kind === 'Fleet') {
        if (!this.options.controller.has(o.name)) continue;
        this.options.controller.remove(o.name);
        this.fleetSources.delete(o.name);
        this.lastAppliedReplicas.delete(o.name);
      } else if (o.kind === 'FleetAutoscaler') {
        this.options.autoscalers.remove(o.name);
      } else {
        await this.options.runtime.delete(o.name);
      }
      this.log.info({ kind: o.kind, name: o.name }, why);
      removed.push({ kind: o.kind, name: o.name, action: 'deleted' });
    }
    return removed;
  }
}

/** A fleet file's last read: its problems but its autoscalers' bounds warnings, and those autoscalers, whose warnings problems() computes. */
interface SourceVerdict {
  problems: SourceProblem[];
  autoscalers: ParsedResource[];
}

function byPosition(a: SourceProblem, b: SourceProblem): number {
  return a.line - b.line || a.col - b.col;
}

function same(a: ResourceRef, b: ResourceRef): boolean {
  return a.kind === b.kind && a.name === b.name;
}
