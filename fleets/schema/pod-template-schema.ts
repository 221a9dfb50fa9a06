import * as z from 'zod';
import type { Container, EnvVar, ObjectMetaInput, PodTemplateSpec } from '../../core/resources.js';
import { POD_TEMPLATE_SHAPES } from './pod-template-shapes.js';
import { ShapeSchemas } from './shape-schema.js';
import { strictObject } from './strict-object.js';

// The Kubernetes parts of a fleet document: the pod template (every PodSpec field Agones' CRD
// knows, unknown ones rejected) and object metadata. The container fields Hangar itself runs are
// typed here; the rest keep the generated shapes and pass through as written.

const shapes = new ShapeSchemas(POD_TEMPLATE_SHAPES);

const StringMap = z.record(z.string(), z.string());

/** ObjectMeta as written in a document; fields other than these five are checked, then dropped. */
export const ObjectMetaSchema: z.ZodType<ObjectMetaInput & { labels: Record<string, string>; annotations: Record<string, string> }> = strictObject({
  ...shapes.optionalFields('ObjectMeta'),
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
}).transform(({ name, generateName, namespace, labels, annotations }) => ({
  ...(name !== undefined && { name }),
  ...(generateName !== undefined && { generateName }),
  ...(namespace !== undefined && { namespace }),
  labels: labels ?? {},
  annotations: annotations ?? {},
}));

const EnvVarSchema: z.ZodType<EnvVar> = strictObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: shapes.named('EnvVarSource').optional() as z.ZodType<Record<string, unknown> | undefined>,
});

const ContainerSchema: z.ZodType<Container> = strictObject({
  ...shapes.optionalFields('Container'),
  name: z.string(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(EnvVarSchema).optional(),
  workingDir: z.string().optional(),
});

export const PodTemplateSchema: z.ZodType<PodTemplateSpec> = strictObject({
  metadata: ObjectMetaSchema.optional(),
  spec: strictObject({
    ...shapes.optionalFields('PodSpec'),
    containers: z.array(ContainerSchema),
  }),
});
