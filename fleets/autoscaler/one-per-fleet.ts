import type { SourceProblem } from '../../core/yaml-source.js';
import type { ParsedResource } from '../schema.js';
import { problemAt } from '../schema/problem-at.js';

// Agones accepts two FleetAutoscalers on one fleet, and they then set its replicas in turn for
// ever (agones#939, reported as a bug). Here each one also syncs right after its fleet changes,
// so the two would start and stop game servers several times a second. The second autoscaler
// that names a fleet is refused, at its fleetName, naming the first.

/** An autoscaler already there: running, or earlier in what is being checked. */
export interface FleetAutoscalerClaim {
  name: string;
  fleetName: string;
  /** The file it came from, when known. */
  file?: string;
}

/** A problem for every FleetAutoscaler in `resources` whose fleet another autoscaler already scales. */
export function secondAutoscalerProblems(resources: readonly ParsedResource[], claims: readonly FleetAutoscalerClaim[]): SourceProblem[] {
  const seen = [...claims];
  const problems: SourceProblem[] = [];
  for (const { resource, doc } of resources) {
    if (resource.kind !== 'FleetAutoscaler') continue;
    const claim: FleetAutoscalerClaim = { name: resource.metadata.name, fleetName: resource.spec.fleetName, file: doc.file };
    const other = seen.find((c) => c.fleetName === claim.fleetName && c.name !== claim.name);
    if (other) {
      const where = other.file === undefined ? '' : other.file === doc.file ? ' in this file' : ` in ${other.file}`;
      problems.push(
        problemAt(doc, ['spec', 'fleetName'], `fleet ${claim.fleetName} already has FleetAutoscaler ${other.name}${where}: a fleet takes one autoscaler (two set its replicas in turn, over and over); remove one, or use a Chain policy`),
      );
    } else {
      seen.push(claim);
    }
  }
  return problems;
}
