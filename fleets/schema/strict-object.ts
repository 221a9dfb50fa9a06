import * as z from 'zod';
import { closestMatch } from './closest-match.js';

// Unknown fields are errors, as on a Kubernetes API server with strict field validation
// (`kubectl apply --validate=strict`): a typo such as `comand:` must not vanish silently.

/** A zod object that rejects unknown fields; each unknown key gets its own message line. */
export function strictObject<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    // zod reports all unknown keys of one object in one issue; one line per key, in the key order.
    error: (iss) => (iss.code === 'unrecognized_keys' ? iss.keys.map((k) => unknownFieldMessage(k, known)).join('\n') : undefined),
  });
}

function unknownFieldMessage(key: string, known: readonly string[]): string {
  const guess = closestMatch(key, known);
  if (guess) return `unknown field "${key}" (did you mean "${guess}"?)`;
  if (known.length === 0) return `unknown field "${key}": nothing is allowed here`;
  if (known.length <= 12) return `unknown field "${key}"; allowed here: ${known.join(', ')}`;
  return `unknown field "${key}"`;
}
