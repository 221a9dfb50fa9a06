import { formatFieldPath, type FieldPath, type SourceProblem, type YamlDocument } from '../../core/yaml-source.js';

// Where to point for a problem. A field that is there: its value (or its key). A field that is
// missing: the key of the nearest part of its path that is written, so "maxReplicas is required"
// lands on the `buffer:` line that lacks it.

const written = new WeakMap<YamlDocument, unknown>();

export function problemAt(doc: YamlDocument, path: FieldPath, message: string, severity: SourceProblem['severity'] = 'error', at?: 'key'): SourceProblem {
  if (!written.has(doc)) written.set(doc, doc.toJS());
  let node = written.get(doc);
  let depth = 0;
  for (const seg of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, seg)) break;
    node = (node as Record<string | number, unknown>)[seg];
    depth++;
  }
  if (depth === path.length) return doc.problem(path, message, severity, at);
  const { line, col } = doc.locate(path.slice(0, depth), 'key');
  return { file: doc.file, line, col, path: formatFieldPath(path), message, severity };
}
