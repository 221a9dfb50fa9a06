import * as z from 'zod';
import type { GameServerPort, GameServerSpec, HealthSpec } from '../../core/resources.js';
import { PodTemplateSchema } from './pod-template-schema.js';
import { strictObject } from './strict-object.js';

// GameServerSpec as the GameServer CRD describes it (shared by GameServer documents and a Fleet's
// template), with Agones' ApplyDefaults (pkg/apis/agones/v1/gameserver.go) and the CRD's defaults.
// Rules the CRD cannot express live in game-server-spec-rules.ts.

const PORT_NUMBER = z.int().min(1).max(65535);
// The CRD's bound, which is 2^31 (one more than Go's int32 holds).
const SECONDS = z.int().min(0).max(2147483648);
const MAX_ENTRIES = 1000;

/** At most `max` keys, like the CRD's maxProperties. */
function maxKeys<T extends z.ZodType>(map: T, max: number, what: string) {
  return map.refine((m) => Object.keys(m as object).length <= max, { message: `must have at most ${max} ${what}` });
}

const PortSchema = strictObject({
  name: z.string().optional(),
  range: z.string().optional(),
  portPolicy: z.enum(['Dynamic', 'Static', 'Passthrough', 'None']).optional(),
  protocol: z.enum(['UDP', 'TCP', 'TCPUDP']).optional(),
  container: z.string().optional(),
  containerPort: PORT_NUMBER.optional(),
  hostPort: PORT_NUMBER.optional(),
});

const HealthSchema = strictObject({
  disabled: z.boolean().optional(),
  initialDelaySeconds: SECONDS.optional(),
  periodSeconds: SECONDS.optional(),
  failureThreshold: z.int().min(1).max(2147483648).optional(),
});

const CounterSchema = strictObject({
  count: z.int().min(0).optional(),
  capacity: z.int().min(0).optional(),
});

const ListSchema = strictObject({
  capacity: z.int().min(0).max(1000).optional(),
  values: z
    .array(z.string())
    .max(1000)
    .superRefine((values, ctx) => {
      // The CRD declares values a set (x-kubernetes-list-type: set): the API server rejects repeats.
      values.forEach((v, i) => {
        const first = values.indexOf(v);
        if (first !== i) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate value ${JSON.stringify(v)} (also at [${first}]); values is a set` });
      });
    })
    .optional(),
});

export const GameServerSpecSchema: z.ZodType<GameServerSpec> = strictObject({
  container: z
    .string()
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a container name: lowercase letters, digits and "-", starting and ending with a letter or digit')
    .optional(),
  ports: z.array(PortSchema).optional(),
  health: HealthSchema.optional(),
  scheduling: z.enum(['Packed', 'Distributed']).optional(),
  sdkServer: strictObject({
    logLevel: z.enum(['Error', 'Info', 'Debug', 'Trace']).optional(),
    grpcPort: PORT_NUMBER.optional(),
    httpPort: PORT_NUMBER.optional(),
  }).optional(),
  players: strictObject({ initialCapacity: z.int().min(0).optional() }).optional(),
  counters: maxKeys(z.record(z.string(), CounterSchema), MAX_ENTRIES, 'counters').optional(),
  lists: maxKeys(z.record(z.string(), ListSchema), MAX_ENTRIES, 'lists').optional(),
  eviction: strictObject({ safe: z.enum(['Always', 'OnUpgrade', 'Never']).optional() }).optional(),
  // Agones' implementation detail for the scale subresource; always 1, dropped from the result.
  immutableReplicas: z.int().min(1).max(1).optional(),
  template: PodTemplateSchema,
}).transform((spec): GameServerSpec => {
  const containers = spec.template.spec.containers;
  // Agones names the game-server container itself when there is only one, whatever `container` says.
  const container = containers.length === 1 ? containers[0]!.name : (spec.container ?? '');
  return {
    container,
    ports: (spec.ports ?? []).map((p): GameServerPort => ({
      name: p.name ?? '',
      portPolicy: p.portPolicy ?? 'Dynamic',
      protocol: p.protocol ?? 'UDP',
      container: p.container || container,
      range: p.range || 'default',
      ...(p.containerPort !== undefined && { containerPort: p.containerPort }),
      ...(p.hostPort !== undefined && { hostPort: p.hostPort }),
    })),
    health: healthDefaults(spec.health ?? {}),
    scheduling: spec.scheduling ?? 'Packed',
    sdkServer: {
      logLevel: spec.sdkServer?.logLevel ?? 'Info',
      grpcPort: spec.sdkServer?.grpcPort ?? 9357,
      httpPort: spec.sdkServer?.httpPort ?? 9358,
    },
    ...(spec.players && { players: { initialCapacity: spec.players.initialCapacity ?? 0 } }),
    counters: mapValues(spec.counters ?? {}, (c) => ({ count: c.count ?? 0, capacity: c.capacity ?? 1000 })),
    lists: mapValues(spec.lists ?? {}, (l) => ({ capacity: l.capacity ?? 1000, values: l.values ?? [] })),
    eviction: { safe: spec.eviction?.safe ?? 'Never' },
    template: spec.template,
  };
});

/** Agones fills unset or non-positive values unless health checking is disabled. */
function healthDefaults(h: Partial<HealthSpec>): HealthSpec {
  const disabled = h.disabled ?? false;
  const orDefault = (v: number | undefined, d: number): number => (disabled ? (v ?? 0) : v !== undefined && v > 0 ? v : d);
  return {
    disabled,
    initialDelaySeconds: orDefault(h.initialDelaySeconds, 5),
    periodSeconds: orDefault(h.periodSeconds, 5),
    failureThreshold: orDefault(h.failureThreshold, 3),
  };
}

function mapValues<A, B>(map: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, f(v)]));
}
