import type { FleetResource, GameServerResource, IntOrPercent } from '../../core/resources.js';
import type { FieldPath } from '../../core/yaml-source.js';
import { DEV_ADDRESS_ANNOTATION, gameServerSpecRules } from './game-server-spec-rules.js';
import { percentOf } from './int-or-percent.js';
import { gameServerTemplateMetadataRules, labelsAndAnnotations, topMetadataRules } from './object-meta-rules.js';
import { playerPortRules } from './player-port-rules.js';
import type { Unnamed } from './resource-schema.js';
import { error, warning, written, type RuleProblem } from './rule-problem.js';

// Fleet and GameServer rules the CRDs cannot express: Agones' Fleet.Validate and
// GameServer.Validate (pkg/apis/agones/v1), run on the defaulted resource as Agones does.

export interface DocumentContext {
  /** The document as written (nulls dropped). */
  raw: unknown;
  /** Paths of the null values that were dropped. */
  nulls: readonly FieldPath[];
}

export function gameServerRules(gs: GameServerResource, ctx: DocumentContext): RuleProblem[] {
  const devAddress = gs.metadata.annotations[DEV_ADDRESS_ANNOTATION];
  return [
    ...topMetadataRules(ctx.raw, { kind: 'GameServer', maxName: 63, needsName: false }),
    ...statusRule(ctx.raw),
    ...gameServerSpecRules(gs.spec, { raw: written(ctx.raw, 'spec'), path: ['spec'], nulls: ctx.nulls, ...(devAddress !== undefined && { devAddress }) }),
    ...playerPortRules(gs.metadata.labels, ['metadata', 'labels'], gs.spec, ['spec']),
  ];
}

export function fleetRules(fleet: Unnamed<FleetResource>, ctx: DocumentContext): RuleProblem[] {
  const { raw } = ctx;
  const spec = fleet.spec;
  const out: RuleProblem[] = [...topMetadataRules(raw, { kind: 'Fleet', maxName: 63, needsName: true }), ...statusRule(raw)];

  if (spec.strategy.type === 'RollingUpdate') {
    for (const field of ['maxSurge', 'maxUnavailable'] as const) {
      const problem = rollingUpdateProblem(spec.strategy.rollingUpdate[field]);
      if (problem) out.push(error(['spec', 'strategy', 'rollingUpdate', field], problem));
    }
  } else if (written(raw, 'spec', 'strategy', 'rollingUpdate') !== undefined) {
    out.push(warning(['spec', 'strategy', 'rollingUpdate'], 'is ignored with strategy type Recreate', 'key'));
  }

  out.push(...labelsAndAnnotations(written(raw, 'spec', 'allocationOverflow'), ['spec', 'allocationOverflow']));

  const template = spec.template.spec;
  spec.priorities.forEach((p, i) => {
    const at = ['spec', 'priorities', i];
    if (written(raw, 'spec', 'priorities', i, 'type') === undefined) out.push(error([...at, 'type'], 'missing required field "type": Counter or List'));
    if (p.key === '') {
      out.push(error([...at, 'key'], 'missing required field "key": the name of the Counter or List to sort by'));
    } else if (!(p.key in (p.type === 'Counter' ? template.counters : template.lists))) {
      out.push(warning([...at, 'key'], `the template has no ${p.type === 'Counter' ? 'counter' : 'list'} named ${JSON.stringify(p.key)}, so this priority has no effect`));
    }
  });

  out.push(...gameServerTemplateMetadataRules(written(raw, 'spec', 'template', 'metadata'), ['spec', 'template', 'metadata']));
  out.push(...gameServerSpecRules(template, { raw: written(raw, 'spec', 'template', 'spec'), path: ['spec', 'template', 'spec'], nulls: ctx.nulls }));
  out.push(...playerPortRules(spec.template.metadata.labels, ['spec', 'template', 'metadata', 'labels'], template, ['spec', 'template', 'spec']));
  return out;
}

/** Agones' validateRollingUpdate: a count of at least 1, or a percentage from 1% to 99%. */
function rollingUpdateProblem(value: IntOrPercent): string | undefined {
  const percent = percentOf(value);
  if (percent === undefined) return (value as number) < 1 ? `must be at least 1, got ${value}` : undefined;
  return percent < 1 || percent > 99 ? `must be between 1% and 99%, got ${JSON.stringify(value)}` : undefined;
}

export function statusRule(raw: unknown): RuleProblem[] {
  return written(raw, 'status') === undefined ? [] : [warning(['status'], 'is written by Agones; Hangar ignores it (remove it from the file)', 'key')];
}
