import { X509Certificate } from 'node:crypto';
import type { AutoscalerPolicy, BufferPolicy, CounterOrListPolicy, FleetAutoscalerResource, SchedulePolicy, WebhookPolicy } from '../../core/resources.js';
import type { FieldPath } from '../../core/yaml-source.js';
import type { DocumentContext } from './fleet-rules.js';
import { statusRule } from './fleet-rules.js';
import { percentOf } from './int-or-percent.js';
import { RFC3339 } from './kubernetes-formats.js';
import { topMetadataRules } from './object-meta-rules.js';
import type { Unnamed } from './resource-schema.js';
import { error, itemsOf, warning, written, type RuleProblem } from './rule-problem.js';
import { cronProblem, goDurationProblem, timeZoneProblem } from './schedule-formats.js';

// FleetAutoscaler rules the CRD cannot express: Agones' FleetAutoscaler.Validate
// (pkg/apis/autoscaling/v1/fleetautoscaler.go). Hangar also checks the policy inside a Schedule,
// which Agones only finds wrong when the schedule becomes active.

export interface AutoscalerContext extends DocumentContext {
  /** Schedules must end in the future. */
  now: Date;
}

const BLOCKS = ['buffer', 'webhook', 'counter', 'list', 'wasm', 'schedule', 'chain'];

export function fleetAutoscalerRules(fas: Unnamed<FleetAutoscalerResource>, ctx: AutoscalerContext): RuleProblem[] {
  return [
    ...topMetadataRules(ctx.raw, { kind: 'FleetAutoscaler', maxName: 253, needsName: true }),
    ...statusRule(ctx.raw),
    ...policyRules(fas.spec.policy, written(ctx.raw, 'spec', 'policy'), ['spec', 'policy'], ctx.now),
  ];
}

function policyRules(policy: AutoscalerPolicy, raw: unknown, path: FieldPath, now: Date): RuleProblem[] {
  const out: RuleProblem[] = [];
  const own = policy.type.charAt(0).toLowerCase() + policy.type.slice(1);
  for (const block of BLOCKS) {
    if (block !== own && written(raw, block) !== undefined) out.push(warning([...path, block], `is ignored: the policy type is ${policy.type}`, 'key'));
  }
  const at = [...path, own];
  switch (policy.type) {
    case 'Buffer':
      return [...out, ...bufferRules(policy.buffer, written(raw, 'buffer'), at)];
    case 'Counter':
      return [...out, ...capacityRules(policy.counter, at)];
    case 'List':
      return [...out, ...capacityRules(policy.list, at)];
    case 'Webhook':
      return [...out, ...urlRules(policy.webhook, at)];
    case 'Wasm':
      out.push(warning(at, "needs Agones' WasmAutoscaler feature gate (alpha, off by default); without it Agones rejects the autoscaler", 'key'));
      if (written(raw, 'wasm', 'from', 'url') === undefined) {
        return [...out, error([...at, 'from', 'url'], 'missing required field "url": where to fetch the Wasm module from (url or service)')];
      }
      return [...out, ...urlRules(policy.wasm.from.url, [...at, 'from', 'url'])];
    case 'Schedule':
      return [...out, ...scheduleRules(policy.schedule, written(raw, 'schedule'), at, now)];
    case 'Chain':
      return [...out, ...chainRules(policy.chain, written(raw, 'chain'), at, now)];
  }
}

function bufferRules(b: BufferPolicy, raw: unknown, path: FieldPath): RuleProblem[] {
  const out: RuleProblem[] = [];
  if (b.minReplicas > b.maxReplicas) {
    out.push(error([...path, 'minReplicas'], `minReplicas ${b.minReplicas} is more than maxReplicas ${b.maxReplicas}`));
  }
  const percent = percentOf(b.bufferSize);
  if (percent === undefined) {
    const size = b.bufferSize as number;
    if (written(raw, 'bufferSize') === undefined) out.push(error([...path, 'bufferSize'], 'missing required field "bufferSize": how many Ready game servers to keep (or a percentage such as "20%")'));
    else if (size <= 0) out.push(error([...path, 'bufferSize'], `must be more than 0, got ${size}`));
    if (size > 0 && b.maxReplicas < size) out.push(error([...path, 'maxReplicas'], `maxReplicas ${b.maxReplicas} is less than bufferSize ${size}; it must be at least the buffer`));
    if (size > 0 && b.minReplicas !== 0 && b.minReplicas < size) {
      out.push(error([...path, 'minReplicas'], `minReplicas ${b.minReplicas} is less than bufferSize ${size}; it must be 0 (no minimum) or at least the buffer`));
    }
  } else {
    if (percent < 1 || percent > 99) out.push(error([...path, 'bufferSize'], `must be between 1% and 99%, got ${JSON.stringify(b.bufferSize)}`));
    if (b.minReplicas < 1) out.push(error([...path, 'minReplicas'], `must be at least 1 when bufferSize is a percentage (${b.bufferSize} of nothing is nothing), got ${b.minReplicas}`));
  }
  return out;
}

function capacityRules(c: CounterOrListPolicy, path: FieldPath): RuleProblem[] {
  const out: RuleProblem[] = [];
  if (c.minCapacity > c.maxCapacity) out.push(error([...path, 'minCapacity'], `minCapacity ${c.minCapacity} is more than maxCapacity ${c.maxCapacity}`));
  const percent = percentOf(c.bufferSize);
  if (percent === undefined) {
    const size = c.bufferSize as number;
    if (size <= 0) out.push(error([...path, 'bufferSize'], `must be more than 0, got ${size}`));
    if (size > 0 && c.maxCapacity < size) out.push(error([...path, 'maxCapacity'], `maxCapacity ${c.maxCapacity} is less than bufferSize ${size}; it must be at least the buffer`));
    if (size > 0 && c.minCapacity !== 0 && c.minCapacity < size) {
      out.push(error([...path, 'minCapacity'], `minCapacity ${c.minCapacity} is less than bufferSize ${size}; it must be 0 (no minimum) or at least the buffer`));
    }
  } else {
    if (percent < 1 || percent > 99) out.push(error([...path, 'bufferSize'], `must be between 1% and 99%, got ${JSON.stringify(c.bufferSize)}`));
    if (c.minCapacity < 1) out.push(error([...path, 'minCapacity'], `must be at least 1 when bufferSize is a percentage, got ${c.minCapacity}`));
  }
  return out;
}

/** Agones' ValidateURLConfiguration, for webhooks and Wasm sources. */
function urlRules(u: WebhookPolicy, path: FieldPath): RuleProblem[] {
  const out: RuleProblem[] = [];
  if (u.url === undefined && u.service === undefined) out.push(error(path, 'needs url or service: where to send the request'));
  if (u.url !== undefined && u.service !== undefined) out.push(error([...path, 'url'], 'url and service cannot both be set; keep one'));
  if (u.url !== undefined && !isHttpUrl(u.url)) out.push(error([...path, 'url'], `must be an absolute http:// or https:// URL, got ${JSON.stringify(u.url)}`));
  if (u.caBundle !== undefined && !hasCertificate(Buffer.from(u.caBundle, 'base64').toString('utf8'))) {
    out.push(error([...path, 'caBundle'], 'must be a base64-encoded PEM certificate bundle; this one holds no readable certificate'));
  }
  return out;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Go's AppendCertsFromPEM: true when at least one certificate block parses. */
function hasCertificate(pem: string): boolean {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.some((block) => {
    try {
      new X509Certificate(block);
      return true;
    } catch {
      return false;
    }
  });
}

function scheduleRules(s: SchedulePolicy, raw: unknown, path: FieldPath, now: Date): RuleProblem[] {
  const out: RuleProblem[] = [];
  const time = (field: 'start' | 'end'): Date | undefined => {
    const text = s.between?.[field];
    if (text === undefined || text === '') return undefined;
    if (!RFC3339.test(text)) {
      out.push(error([...path, 'between', field], `must be an RFC 3339 time such as "2026-08-18T16:00:00Z", got ${JSON.stringify(text)}`));
      return undefined;
    }
    return new Date(text);
  };
  const start = time('start');
  const end = time('end');
  if (end && end < now) {
    out.push(error([...path, 'between', 'end'], `${s.between?.end} is in the past: the schedule would never apply (Agones requires an end after the current time)`));
  } else if (start && end && end < start) {
    out.push(error([...path, 'between'], `start ${s.between?.start} is after end ${s.between?.end}`));
  }
  const period = s.activePeriod ?? {};
  if (period.timezone !== undefined) {
    const p = timeZoneProblem(period.timezone);
    if (p) out.push(error([...path, 'activePeriod', 'timezone'], p));
  }
  if (period.startCron !== undefined && period.startCron !== '') {
    if (period.startCron.includes('TZ')) {
      out.push(error([...path, 'activePeriod', 'startCron'], 'CRON_TZ or TZ is not supported here: set activePeriod.timezone instead'));
    } else {
      const p = cronProblem(period.startCron);
      if (p) out.push(error([...path, 'activePeriod', 'startCron'], `is not a cron line: ${p}`));
    }
  }
  if (period.duration !== undefined && period.duration !== '') {
    const p = goDurationProblem(period.duration);
    if (p) out.push(error([...path, 'activePeriod', 'duration'], p));
  }
  return [...out, ...policyRules(s.policy, written(raw, 'policy'), [...path, 'policy'], now)];
}

function chainRules(chain: Array<AutoscalerPolicy & { id: string }>, raw: unknown, path: FieldPath, now: Date): RuleProblem[] {
  const out: RuleProblem[] = [];
  // Agones compares the ids as written: two entries without an id clash.
  const ids = itemsOf(raw).map((entry) => written(entry, 'id') ?? '');
  ids.forEach((id, i) => {
    const first = ids.indexOf(id);
    if (first === i) return;
    out.push(
      id === ''
        ? error([...path, i], `chain[${first}] and chain[${i}] both have no id; Agones requires unique ids, so give each entry an id`)
        : error([...path, i, 'id'], `duplicate id ${JSON.stringify(id)} (also chain[${first}]); chain entries need unique ids`),
    );
  });
  chain.forEach((entry, i) => out.push(...policyRules(entry, written(raw, i), [...path, i], now)));
  return out;
}
