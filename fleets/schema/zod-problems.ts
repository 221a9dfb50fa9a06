import type * as z from 'zod';
import type { FieldPath, SourceProblem, YamlDocument } from '../../core/yaml-source.js';
import { closestMatch } from './closest-match.js';
import { problemAt } from './problem-at.js';
import { describeValue, expectedType } from '../../core/type-words.js';

// zod's issues in words a fleet-YAML author can act on: what was expected, what was found, and
// where (file:line:col and field path). Unknown fields point at the key itself.

const describe = (value: unknown) => describeValue(value, 'yaml');
const expected = (type: string, decimals = false) => (type === 'number' && decimals ? 'a number' : expectedType(type, 'yaml'));

export interface IssueWording {
  /**
   * Some of the schema's numbers need not be whole: zod says "number" both for a whole number and
   * for any number when the input is no number at all, so that is worded "a number" (a whole-number
   * field given 2.5 is still told it wants an integer).
   */
  decimals?: boolean;
}

export function zodProblems(error: z.ZodError, doc: YamlDocument): SourceProblem[] {
  return zodIssueMessages(error).map((m) => problemAt(doc, m.path, m.message, 'error', m.at));
}

/** One worded problem of a zod error, for a caller that places it itself (a YAML position, or the environment variable that set it). */
export interface IssueMessage {
  path: FieldPath;
  message: string;
  /** Set for an unknown field: the problem points at its key. */
  at?: 'key';
}

/** zod's issues in words, one per unknown field. Parse with `{ reportInput: true }`, so each can say what it got. */
export function zodIssueMessages(error: z.ZodError, wording: IssueWording = {}): IssueMessage[] {
  return error.issues.flatMap((iss): IssueMessage[] => {
    const path = iss.path.filter((s): s is string | number => typeof s !== 'symbol');
    if (iss.code === 'unrecognized_keys') {
      const lines = iss.message.split('\n');
      return iss.keys.map((key, i) => ({ path: [...path, key], message: lines[i] ?? `unknown field "${key}"`, at: 'key' }));
    }
    return [{ path, message: issueMessage(iss, path, wording) }];
  });
}

function issueMessage(iss: z.core.$ZodIssue, path: FieldPath, { decimals }: IssueWording): string {
  const got = describe(iss.input);
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return `missing required field ${JSON.stringify(String(path.at(-1) ?? ''))}`;
      return `expected ${expected(iss.expected, decimals)}, got ${got}${quoteHint(iss.expected, iss.input)}`;
    case 'invalid_union': {
      const alternatives = iss.errors.map((branch) => branch[0]).filter((b): b is z.core.$ZodIssueInvalidType => b?.code === 'invalid_type');
      if (alternatives.length === iss.errors.length && alternatives.length > 0) {
        return `expected ${alternatives.map((a) => expected(a.expected, decimals)).join(' or ')}, got ${got}`;
      }
      return `${iss.message}, got ${got}`;
    }
    case 'invalid_value': {
      const values = iss.values.map(String);
      if (iss.input === undefined) return `missing required field ${JSON.stringify(String(path.at(-1) ?? ''))}: one of ${values.join(', ')}`;
      const guess = typeof iss.input === 'string' ? closestMatch(iss.input, values) : undefined;
      return `must be one of ${values.join(', ')}; got ${got}${guess ? ` (did you mean ${guess}?)` : ''}`;
    }
    case 'too_small':
    case 'too_big': {
      const bound = Number(iss.code === 'too_small' ? iss.minimum : iss.maximum);
      const word = iss.code === 'too_small' ? (iss.inclusive ? 'at least' : 'more than') : iss.inclusive ? 'at most' : 'less than';
      if (iss.origin === 'string') return `must be ${word} ${bound} character${bound === 1 ? '' : 's'} long, got ${String(iss.input).length}`;
      if (iss.origin === 'array') return `must have ${word} ${bound} items, got ${(iss.input as unknown[]).length}`;
      return `must be ${word} ${bound}, got ${got}`;
    }
    case 'invalid_format':
      return `${iss.message}, got ${got}`;
    default:
      return iss.message;
  }
}

/** YAML reads 5 and true as a number and a boolean, and "5" as a string: say how to write what was meant. */
function quoteHint(want: string, input: unknown): string {
  if (want === 'string' && (typeof input === 'number' || typeof input === 'boolean')) {
    return ` (YAML reads it as a ${typeof input}; quote it to make it a string: "${String(input)}")`;
  }
  if ((want === 'int' || want === 'number') && typeof input === 'string' && /^-?\d+$/.test(input)) {
    return ` (the quotes make it a string; write ${input} without them)`;
  }
  return '';
}

