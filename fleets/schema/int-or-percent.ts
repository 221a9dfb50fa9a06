import * as z from 'zod';
import type { IntOrPercent } from '../../core/resources.js';

// Kubernetes' int-or-string (`x-kubernetes-int-or-string`), and Agones' use of it for sizes that
// are either a count or a percentage: maxSurge, maxUnavailable, bufferSize.

/** What the CRD accepts: an integer or any string. */
export const IntOrStringSchema = z.union([z.int(), z.string()]);

// Agones reads the string form with Go's Atoi after cutting the "%".
const PERCENT = /^[+-]?\d+%$/;

/** An integer, or a string that Agones can read as a percentage. */
export const IntOrPercentSchema: z.ZodType<IntOrPercent> = IntOrStringSchema.transform((value, ctx) => {
  if (typeof value === 'number') return value;
  if (PERCENT.test(value)) return value as `${number}%`;
  ctx.addIssue({
    code: 'custom',
    message: `must be an integer or a percentage such as "25%", got ${JSON.stringify(value)}`,
    input: value,
  });
  return z.NEVER;
});

/** The percentage of a string IntOrPercent, or undefined for an integer. */
export function percentOf(value: IntOrPercent): number | undefined {
  return typeof value === 'string' ? Number.parseInt(value.slice(0, -1), 10) : undefined;
}
