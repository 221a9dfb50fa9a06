// How a validation problem names a value it got and a type it wanted, in the words of the format
// the user wrote: YAML says "a mapping" where JSON says "an object".

export type Dialect = 'yaml' | 'json';

const MAPPING: Record<Dialect, { value: string; type: string }> = {
  yaml: { value: 'a mapping', type: 'a mapping (key: value)' },
  json: { value: 'an object', type: 'an object' },
};

/** A value as a problem quotes it: strings quoted (long ones cut), lists and mappings by kind. */
export function describeValue(value: unknown, dialect: Dialect): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return MAPPING[dialect].value;
  return String(value);
}

/** What a zod type name wants, in words. */
export function expectedType(type: string, dialect: Dialect): string {
  switch (type) {
    // Every number Hangar's schemas take is an integer; zod says "number" when the input is no number at all.
    case 'int':
    case 'number':
      return 'an integer';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return MAPPING[dialect].type;
    default:
      return type;
  }
}
