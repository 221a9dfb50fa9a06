import * as z from 'zod';
import { AGONES_API_VERSION, type FleetResource, type FleetSpec, type GameServerResource } from '../../core/resources.js';
import { GameServerSpecSchema } from './game-server-spec-schema.js';
import { IntOrPercentSchema } from './int-or-percent.js';
import { ObjectMetaSchema } from './pod-template-schema.js';
import { resourceSchema, type Unnamed } from './resource-schema.js';
import { strictObject } from './strict-object.js';

// Fleet and GameServer documents as their CRDs describe them, with Agones' defaults
// (Fleet.ApplyDefaults in pkg/apis/agones/v1/fleet.go).

const StringMap = z.record(z.string(), z.string());
const DEFAULT_ROLLING = '25%' as const;

const FleetSpecSchema: z.ZodType<FleetSpec> = strictObject({
  replicas: z.int().min(0).optional(),
  allocationOverflow: strictObject({ labels: StringMap.optional(), annotations: StringMap.optional() }).optional(),
  scheduling: z.enum(['Packed', 'Distributed']).optional(),
  strategy: strictObject({
    type: z.enum(['Recreate', 'RollingUpdate']).optional(),
    rollingUpdate: strictObject({ maxSurge: IntOrPercentSchema.optional(), maxUnavailable: IntOrPercentSchema.optional() }).optional(),
  }).optional(),
  priorities: z
    .array(
      strictObject({
        type: z.enum(['Counter', 'List']).optional(),
        key: z.string().optional(),
        order: z.enum(['Ascending', 'Descending']).optional(),
      }),
    )
    .optional(),
  template: strictObject({ metadata: ObjectMetaSchema.optional(), spec: GameServerSpecSchema }),
}).transform((spec): FleetSpec => {
  const rolling = spec.strategy?.rollingUpdate;
  return {
    replicas: spec.replicas ?? 0,
    scheduling: spec.scheduling ?? 'Packed',
    strategy:
      spec.strategy?.type === 'Recreate'
        ? { type: 'Recreate' }
        : { type: 'RollingUpdate', rollingUpdate: { maxSurge: rolling?.maxSurge ?? DEFAULT_ROLLING, maxUnavailable: rolling?.maxUnavailable ?? DEFAULT_ROLLING } },
    ...(spec.allocationOverflow && {
      allocationOverflow: { labels: spec.allocationOverflow.labels ?? {}, annotations: spec.allocationOverflow.annotations ?? {} },
    }),
    // Agones' rules require type and key; the empty string stands for "missing" until they report it.
    priorities: (spec.priorities ?? []).map((p) => ({ type: p.type ?? 'Counter', key: p.key ?? '', order: p.order ?? 'Ascending' })),
    template: {
      metadata: { labels: spec.template.metadata?.labels ?? {}, annotations: spec.template.metadata?.annotations ?? {} },
      spec: spec.template.spec,
    },
  };
});

export const FleetSchema: z.ZodType<Unnamed<FleetResource>> = resourceSchema(AGONES_API_VERSION, 'Fleet', FleetSpecSchema);

export const GameServerSchema: z.ZodType<GameServerResource> = resourceSchema(AGONES_API_VERSION, 'GameServer', GameServerSpecSchema);
