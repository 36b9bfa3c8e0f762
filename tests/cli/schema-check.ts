/**
 * A tiny JSON Schema checker for cli/report.schema.json: the keywords that schema uses (type,
 * required, properties, additionalProperties: false, items, enum, minimum). Returns the errors,
 * each with its path; an unknown keyword is an error too, so the schema cannot outgrow it.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema',
  '$id',
  'title',
  'type',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'enum',
  'minimum',
]);

function typeOk(type: string, v: unknown): boolean {
  if (type === 'object') return typeof v === 'object' && v !== null && !Array.isArray(v);
  if (type === 'array') return Array.isArray(v);
  if (type === 'integer') return Number.isInteger(v);
  return typeof v === type;
}

/** Check `value` against `schema`; [] when it conforms. */
export function check(schema: Schema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  for (const k of Object.keys(schema))
    if (!KNOWN.has(k)) errors.push(`${path}: schema keyword ${k} unsupported`);
  if (typeof schema.type === 'string' && !typeOk(schema.type, value))
    return [...errors, `${path}: not ${schema.type}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errors.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum)
    errors.push(`${path}: below ${schema.minimum}`);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[])
      if (!(r in o)) errors.push(`${path}: missing ${r}`);
    for (const [k, v] of Object.entries(o)) {
      if (props[k]) errors.push(...check(props[k], v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected ${k}`);
    }
  }
  if (Array.isArray(value) && schema.items)
    for (const [i, v] of value.entries())
      errors.push(...check(schema.items as Schema, v, `${path}[${i}]`));
  return errors;
}
