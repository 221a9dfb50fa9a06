import * as z from 'zod';
import {
  AUTOSCALING_API_VERSION,
  type AutoscalerPolicy,
  type FleetAutoscalerResource,
  type WebhookPolicy,
} from '../../core/resources.js';
import { IntOrPercentSchema } from './int-or-percent.js';
import { resourceSchema, type Unnamed } from './resource-schema.js';
import { strictObject } from './strict-object.js';

// FleetAutoscaler as its CRD describes it, with Agones' defaults (FleetAutoscaler.ApplyDefaults in
// pkg/apis/autoscaling/v1/fleetautoscaler.go, and the CRD's `function: scale` for Wasm). A policy
// names its type and carries the block of that type; other blocks are ignored by Agones (the rules
// warn about them).

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const UrlConfigSchema: z.ZodType<WebhookPolicy> = strictObject({
  url: z.string().optional(),
  service: strictObject({
    namespace: z.string(),
    name: z.string(),
    path: z.string().optional(),
    port: z.int().optional(),
  }).optional(),
  // The CRD's `format: byte`: Kubernetes reads caBundle as base64 (Go's decoder skips line breaks).
  caBundle: z
    .string()
    .refine((s) => BASE64.test(s.replace(/[\r\n]/g, '')), {
      error: (iss) =>
        `must be base64 (the CRD's format: byte), got ${JSON.stringify(iss.input)}` +
        (/^\$\{?\w+\}?$/.test(String(iss.input)) ? '; it looks like an unexpanded shell variable: substitute it (envsubst) before validating or applying' : ''),
    })
    .optional(),
});

const BufferSchema = strictObject({
  minReplicas: z.int().min(0).optional(),
  maxReplicas: z.int().min(1),
  bufferSize: IntOrPercentSchema.optional(),
});

const CapacitySchema = strictObject({
  key: z.string(),
  minCapacity: z.int().min(0).optional(),
  maxCapacity: z.int().min(1),
  bufferSize: IntOrPercentSchema,
});

const WasmSchema = strictObject({
  function: z.string().optional(),
  config: z.record(z.string(), z.string()).optional(),
  from: strictObject({ url: UrlConfigSchema.optional() }),
  hash: z.string().regex(/^[a-fA-F0-9]{64}$/, 'must be the hex SHA-256 of the Wasm module (64 hex digits)').optional(),
});

const BLOCKS = {
  buffer: BufferSchema.optional(),
  webhook: UrlConfigSchema.optional(),
  counter: CapacitySchema.optional(),
  list: CapacitySchema.optional(),
  wasm: WasmSchema.optional(),
};

type Block = keyof typeof BLOCKS | 'schedule' | 'chain';
type Blocks = { [B in keyof typeof BLOCKS]?: z.output<(typeof BLOCKS)[B]> } & { schedule?: z.output<typeof ScheduleSchema> };
type SingleType = 'Buffer' | 'Webhook' | 'Counter' | 'List' | 'Wasm' | 'Schedule';

const blockOf = (type: string): Block => (type.charAt(0).toLowerCase() + type.slice(1)) as Block;

/** The typed policy for `type`; an issue (and no policy) when its block is missing. */
function toPolicy(raw: Blocks & { type: SingleType }, ctx: z.RefinementCtx): AutoscalerPolicy {
  const block = blockOf(raw.type);
  if (raw[block as keyof Blocks] === undefined) {
    ctx.addIssue({ code: 'custom', path: [block], message: `missing required field: type is ${raw.type}, so the policy needs a ${block} block`, input: undefined });
    return z.NEVER;
  }
  const { buffer, webhook, counter, list, wasm, schedule } = raw;
  switch (raw.type) {
    case 'Buffer':
      // An unset bufferSize is Go's zero value; the rules say it must be more than 0.
      return { type: 'Buffer', buffer: { bufferSize: buffer!.bufferSize ?? 0, minReplicas: buffer!.minReplicas ?? 0, maxReplicas: buffer!.maxReplicas } };
    case 'Webhook':
      return { type: 'Webhook', webhook: webhook! };
    case 'Counter':
      return { type: 'Counter', counter: capacityPolicy(counter!) };
    case 'List':
      return { type: 'List', list: capacityPolicy(list!) };
    case 'Wasm':
      return {
        type: 'Wasm',
        wasm: {
          function: wasm!.function ?? 'scale',
          ...(wasm!.config && { config: wasm!.config }),
          // The rules report a missing url (Agones: "wasm from configuration is missing").
          from: { url: wasm!.from.url ?? {} },
          ...(wasm!.hash !== undefined && { hash: wasm!.hash }),
        },
      };
    case 'Schedule':
      return { type: 'Schedule', schedule: schedule! };
  }
}

function capacityPolicy(c: z.output<typeof CapacitySchema>) {
  return { key: c.key, bufferSize: c.bufferSize, minCapacity: c.minCapacity ?? 0, maxCapacity: c.maxCapacity };
}

const SchedulePolicySchema = strictObject({ type: z.enum(['Buffer', 'Webhook', 'Counter', 'List', 'Wasm']), ...BLOCKS }).transform(toPolicy);

const ScheduleSchema = strictObject({
  between: strictObject({ start: z.string().optional(), end: z.string().optional() }).optional(),
  activePeriod: strictObject({ timezone: z.string().optional(), startCron: z.string().optional(), duration: z.string().optional() }).optional(),
  policy: SchedulePolicySchema,
});

const ChainEntrySchema = strictObject({
  id: z.string().optional(),
  type: z.enum(['Buffer', 'Webhook', 'Counter', 'List', 'Wasm', 'Schedule']),
  ...BLOCKS,
  schedule: ScheduleSchema.optional(),
}).transform((entry, ctx) => ({ id: entry.id, policy: toPolicy(entry, ctx) }));

const PolicySchema = strictObject({
  type: z.enum(['Buffer', 'Webhook', 'Counter', 'List', 'Wasm', 'Schedule', 'Chain']),
  ...BLOCKS,
  schedule: ScheduleSchema.optional(),
  chain: z.array(ChainEntrySchema).optional(),
}).transform((raw, ctx): AutoscalerPolicy => {
  if (raw.type !== 'Chain') return toPolicy({ ...raw, type: raw.type }, ctx);
  if (raw.chain === undefined) {
    ctx.addIssue({ code: 'custom', path: ['chain'], message: 'missing required field: type is Chain, so the policy needs a chain list', input: undefined });
    return z.NEVER;
  }
  const chain = raw.chain;
  // Agones documents an unset id as the entry's index; the rules check that ids are unique as written.
  return { type: 'Chain', chain: chain.map((e, i) => ({ ...e.policy, id: e.id ?? String(i) })) };
});

const FleetAutoscalerSpecSchema: z.ZodType<FleetAutoscalerResource['spec']> = strictObject({
  fleetName: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, "must be a Fleet name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"),
  policy: PolicySchema,
  sync: strictObject({
    type: z.enum(['FixedInterval']),
    fixedInterval: strictObject({ seconds: z.int().gt(0) }).optional(),
  }).optional(),
}).transform((spec) => ({
  fleetName: spec.fleetName,
  policy: spec.policy,
  sync: { type: 'FixedInterval' as const, fixedInterval: { seconds: spec.sync?.fixedInterval?.seconds ?? 30 } },
}));

export const FleetAutoscalerSchema: z.ZodType<Unnamed<FleetAutoscalerResource>> = resourceSchema(AUTOSCALING_API_VERSION, 'FleetAutoscaler', FleetAutoscalerSpecSchema);
