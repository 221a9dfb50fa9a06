import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';

export type FieldPath = ReadonlyArray<string | number>;

/** One thing wrong with an input file, pointing at the line and column that hold it. */
export interface SourceProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted field path, `spec.ports[0].portPolicy`; empty for whole-document problems. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** `file:line:col: field.path: message`, the format every Hangar input error is printed in. */
export function formatProblem(p: SourceProblem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  const tag = p.severity === 'warning' ? 'warning: ' : '';
  return p.path ? `${where}: ${tag}${p.path}: ${p.message}` : `${where}: ${tag}${p.message}`;
}

/** One YAML document of a (possibly multi-document) file, able to say where any field sits. */
export class YamlDocument {
  constructor(
    readonly file: string,
    /** 0-based position of the document in its file. */
    readonly index: number,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** The document as plain JS data. */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 });
  }

  /** Line and column (1-based) of the field at `path`, or of its nearest existing ancestor. */
  locate(path: FieldPath, at: 'key' | 'value' = 'value'): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) break;
        if (last && at === 'key') {
          offset = rangeStart(pair.key) ?? offset;
          break;
        }
        node = pair.value;
        offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (node === undefined) break;
        offset = rangeStart(node) ?? offset;
      } else {
        break;
      }
    }
    const pos = this.lines.linePos(offset);
    return { line: pos.line, col: pos.col };
  }

  problem(path: FieldPath, message: string, severity: SourceProblem['severity'] = 'error', at: 'key' | 'value' = 'value'): SourceProblem {
    const { line, col } = this.locate(path, at);
    return { file: this.file, line, col, path: formatFieldPath(path), message, severity };
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const n = node as Node | null | undefined;
  return n && 'range' in n && n.range ? n.range[0] : undefined;
}

export interface ParsedYaml {
  documents: YamlDocument[];
  /** Syntax problems; a file with any is not used at all. */
  problems: SourceProblem[];
}

/** Parses every document in `text`; syntax errors come back as problems with their position. */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  // `merge`: `<<: *anchor` merge keys, which Kubernetes' YAML reader (go-yaml) honours too.
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const problems: SourceProblem[] = [];
  const list: Document.Parsed[] = Array.from(docs);
  for (const doc of list) {
    for (const e of doc.errors) problems.push(syntaxProblem(file, lines, e.pos[0], e.message));
  }
  const documents = list
    .filter((d) => d.contents !== null)
    .map((d, i) => new YamlDocument(file, i, d, lines));
  return { documents, problems };
}

function syntaxProblem(file: string, lines: LineCounter, offset: number, message: string): SourceProblem {
  const pos = lines.linePos(offset);
  // The yaml package appends its own " at line L, column C" and a code frame; the prefix says it already.
  const text = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return { file, line: pos.line, col: pos.col, path: '', message: `YAML syntax: ${text}`, severity: 'error' };
}
