import * as z from 'zod';
import type { ObjectMetaInput } from '../../core/resources.js';
import { ObjectMetaSchema } from './pod-template-schema.js';
import { strictObject } from './strict-object.js';

// The top level every Agones document shares. `status` is written by Agones: it is accepted as the
// CRD does, dropped from the result, and the rules warn about it.

type Metadata = ObjectMetaInput & { labels: Record<string, string>; annotations: Record<string, string> };

/**
 * A resource type whose metadata.name may still be missing: Kubernetes generates the name on
 * `kubectl create` when only generateName is set. The rules decide what a missing name means.
 */
export type Unnamed<R extends { metadata: { name: string } }> = Omit<R, 'metadata'> & { metadata: Omit<R['metadata'], 'name'> & { name?: string } };

export function resourceSchema<const V extends string, const K extends string, S extends z.ZodType>(apiVersion: V, kind: K, spec: S) {
  return strictObject({
    apiVersion: z.literal(apiVersion),
    kind: z.literal(kind),
    metadata: ObjectMetaSchema.optional(),
    spec: spec.optional(),
    status: z.unknown().optional(),
  }).transform((doc, ctx): { apiVersion: V; kind: K; metadata: Metadata; spec: z.output<S> } => {
    if (doc.spec === undefined) {
      ctx.addIssue({ code: 'custom', path: ['spec'], message: `missing required field: a ${kind} needs a spec`, input: undefined });
      return z.NEVER;
    }
    return { apiVersion: doc.apiVersion, kind: doc.kind, metadata: doc.metadata ?? { labels: {}, annotations: {} }, spec: doc.spec as z.output<S> };
  });
}
