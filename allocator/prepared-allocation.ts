import { AllocationInvalidError } from '../core/errors.js';
import { deepFreeze } from '../core/freeze.js';
import type { GameServerAllocationSpec } from './allocation.js';
import { annotationsSizeProblems, type AllocationParts } from './allocation-schema.js';

// Prepared allocations: a matchmaker asks for the same selectors, scheduling, priorities and labels
// for every match of a queue; only the match's annotations and its List or Counter actions change.
// A template holds the fixed parts, parsed and defaulted once, and an allocation names it and
// carries only its own parts. The rule, the same on the stream (allocator/http.ts) and wherever a
// client has to send the whole allocation instead:
//   - metadata.labels and metadata.annotations: the template's, with the allocation's put over
//     them key by key;
//   - counters and lists: the template's actions, with the allocation's replacing them by name
//     (an action is taken whole, not field by field);
//   - everything else is the template's.

/** An allocation of a template: `template`, the same object for every allocation of its kind, and this allocation's own parts. */
export interface PreparedAllocation {
  template: GameServerAllocationSpec;
  parts: AllocationParts;
}

/** The allocation `parts` make of `template` (neither is changed; the result may share their parts). */
export function mergeAllocation(template: GameServerAllocationSpec, parts: AllocationParts): GameServerAllocationSpec {
  return {
    selectors: template.selectors,
    scheduling: template.scheduling,
    priorities: template.priorities,
    metadata: { labels: over(template.metadata.labels, parts.metadata?.labels), annotations: over(template.metadata.annotations, parts.metadata?.annotations) },
    counters: over(template.counters, parts.counters),
    lists: over(template.lists, parts.lists),
  };
}

/** `base` with `top`'s keys put over it; either one itself when there is nothing to merge. */
function over<T>(base: Record<string, T>, top: Record<string, T> | undefined): Record<string, T> {
  if (top === undefined) return base;
  for (const _ in base) return { ...base, ...top };
  return top;
}

/**
 * A template as the stream keeps it for its connection: its spec (parsed, defaulted, frozen), and
 * the JSON of the parts an allocation rarely changes, so the record of each allocation (its
 * request, as JSON.stringify would write the merged spec) is built from them instead of
 * stringifying the whole request again.
 */
export class AllocationTemplate {
  readonly spec: Readonly<GameServerAllocationSpec>;
  /** `{"selectors":…,"scheduling":…,"priorities":…,"metadata":{"labels":` */
  private readonly head: string;
  private readonly labels: string;
  private readonly annotations: string;
  private readonly counters: string;
  private readonly lists: string;
  private readonly hasAnnotations: boolean;

  constructor(spec: GameServerAllocationSpec) {
    this.spec = deepFreeze(spec);
    const { selectors, scheduling, priorities } = spec;
    this.head = `${JSON.stringify({ selectors, scheduling, priorities }).slice(0, -1)},"metadata":{"labels":`;
    this.labels = JSON.stringify(spec.metadata.labels);
    this.annotations = JSON.stringify(spec.metadata.annotations);
    this.counters = JSON.stringify(spec.counters);
    this.lists = JSON.stringify(spec.lists);
    this.hasAnnotations = this.annotations !== '{}';
  }

  /**
   * The allocation `parts` (parsed by parseAllocationParts) make of this template. Throws
   * AllocationInvalidError when the merged annotations are over Kubernetes' bound.
   */
  allocation(parts: AllocationParts, root: string): GameServerAllocationSpec {
    const spec = mergeAllocation(this.spec, parts);
    if (parts.metadata?.annotations !== undefined && this.hasAnnotations) {
      const problems = annotationsSizeProblems(spec.metadata.annotations, `${root}.metadata.annotations, with the template's`);
      if (problems.length > 0) throw new AllocationInvalidError(problems);
    }
    return spec;
  }

  /**
   * JSON.stringify(spec) for an allocation of this template, from the kept JSON of the parts it
   * shares with it: built when recorded, so no string lives while the allocation is under way.
   */
  json(spec: GameServerAllocationSpec): string {
    const t = this.spec;
    return (
      `${this.head}${spec.metadata.labels === t.metadata.labels ? this.labels : JSON.stringify(spec.metadata.labels)}` +
      `,"annotations":${spec.metadata.annotations === t.metadata.annotations ? this.annotations : JSON.stringify(spec.metadata.annotations)}},` +
      `"counters":${spec.counters === t.counters ? this.counters : JSON.stringify(spec.counters)},` +
      `"lists":${spec.lists === t.lists ? this.lists : JSON.stringify(spec.lists)}}`
    );
  }
}
