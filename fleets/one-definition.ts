import type { SourceProblem } from '../core/yaml-source.js';
import type { ParsedResource, ResourceRef } from './schema.js';
import { problemAt } from './schema/problem-at.js';

// A fleet (autoscaler, named game server) is written in one place. Two definitions of it in the
// fleets directory were both applied at every sync, in file order, so an edit to the first file
// was applied and at once undone by the second (a rollout started and reversed), with nothing
// said. The second definition is refused, at its metadata.name, naming where the first is.

/** `Fleet/arena`: what a definition is known by. */
export function definitionKey(ref: ResourceRef): string {
  return `${ref.kind}/${ref.name}`;
}

/** A problem for every document of `resources` that defines what `elsewhere` (key → the file defining it) or an earlier document of the same source already defines. */
export function secondDefinitionProblems(resources: readonly ParsedResource[], elsewhere: ReadonlyMap<string, string>): SourceProblem[] {
  const here = new Map<string, number>();
  const problems: SourceProblem[] = [];
  for (const { resource, doc } of resources) {
    const name = resource.metadata.name;
    // A GameServer made from generateName is a new one each time.
    if (name === undefined) continue;
    const key = definitionKey({ kind: resource.kind, name });
    const line = here.get(key);
    const file = elsewhere.get(key);
    const other = line !== undefined ? `at line ${line} of this file` : file !== undefined ? `in ${file}` : undefined;
    if (other === undefined) {
      here.set(key, doc.locate(['metadata', 'name']).line);
      continue;
    }
    problems.push(problemAt(doc, ['metadata', 'name'], `${resource.kind} ${name} is already defined ${other}: write it in one place (two definitions undo each other's edits); remove one`));
  }
  return problems;
}
