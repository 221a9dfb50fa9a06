import * as z from 'zod';
import { RFC3339 } from './kubernetes-formats.js';
import { IntOrStringSchema } from './int-or-percent.js';
import { strictObject } from './strict-object.js';

// A compact form of a Kubernetes structural schema: field names, types, enums and required fields,
// which is all the validation the Agones CRDs ask of the pod template. POD_TEMPLATE_SHAPES is
// derived from Agones' CRD (see test/fixtures/agones/strip.ts) and turned into zod here.

export type ShapeNode =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'int-or-string'
  | 'date-time'
  /** `@Name`: the shape defined under Name. */
  | `@${string}`
  | { enum: readonly string[] }
  | { fields: Readonly<Record<string, ShapeNode>>; required?: readonly string[] }
  | { map: ShapeNode }
  | { list: ShapeNode };

export type ShapeDefs = Readonly<Record<string, ShapeNode>>;

/** Builds zod schemas from shapes, once per named shape (the same shape is reused across the tree). */
export class ShapeSchemas {
  private readonly built = new Map<string, z.ZodType>();

  constructor(private readonly defs: ShapeDefs) {}

  /** The zod schema of the shape named `name`. */
  named(name: string): z.ZodType {
    let schema = this.built.get(name);
    if (!schema) {
      schema = this.node(this.def(name));
      this.built.set(name, schema);
    }
    return schema;
  }

  /** The zod schema of each field of the object shape `name`, all optional, to extend or override. */
  optionalFields(name: string): Record<string, z.ZodType> {
    const def = this.def(name);
    if (typeof def !== 'object' || !('fields' in def)) throw new Error(`shape ${name} is not an object`);
    return Object.fromEntries(Object.entries(def.fields).map(([key, node]) => [key, this.node(node).optional()]));
  }

  private def(name: string): ShapeNode {
    const def = this.defs[name];
    if (def === undefined) throw new Error(`no shape named ${name}`);
    return def;
  }

  private node(node: ShapeNode): z.ZodType {
    if (typeof node === 'string') {
      switch (node) {
        case 'string':
          return z.string();
        case 'integer':
          return z.int();
        case 'boolean':
          return z.boolean();
        case 'int-or-string':
          return IntOrStringSchema;
        case 'date-time':
          return z.string().regex(RFC3339, 'must be an RFC 3339 date-time such as "2026-01-02T15:04:05Z"');
        default:
          return this.named(node.slice(1));
      }
    }
    if ('enum' in node) return z.enum(node.enum as [string, ...string[]]);
    if ('map' in node) return z.record(z.string(), this.node(node.map));
    if ('list' in node) return z.array(this.node(node.list));
    const required = new Set(node.required ?? []);
    const shape: Record<string, z.ZodType> = {};
    for (const [key, child] of Object.entries(node.fields)) {
      const schema = this.node(child);
      shape[key] = required.has(key) ? schema : schema.optional();
    }
    return strictObject(shape);
  }
}
