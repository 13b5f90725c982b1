/**
 * Values for a route's TypeBox (JSON) schema, for the fuzzing of every door: `valid(schema)`
 * gives values the schema accepts (so the request reaches the handler), `junk()` gives anything
 * JSON can carry, and `near(schema)` mixes the two field by field — the wrong type in one place,
 * a huge value in another, a missing or unknown field — which is where handlers trust too much.
 */
import fc from 'fast-check';

type Schema = Record<string, unknown>;
type Arb = fc.Arbitrary<unknown>;

const HUGE = 70_000;

/** Any JSON value, including the awkward ones (deep, long, odd keys, extreme numbers). */
export function junk(): Arb {
  return fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    fc.constantFrom(
      null,
      '',
      0,
      -1,
      1e308,
      -0,
      Number.MAX_SAFE_INTEGER + 2,
      '__proto__',
      'constructor',
      '../../etc/passwd',
      '%00',
      '\u0000',
      'inv_',
      '😀'.repeat(50),
    ),
    fc.constant('x'.repeat(HUGE)),
    fc.constant({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } }),
    fc.array(fc.constant(0), { minLength: 2000, maxLength: 2000 }),
  );
}

function str(schema: Schema): fc.Arbitrary<string> {
  const minLength = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
  const maxLength = typeof schema['maxLength'] === 'number' ? schema['maxLength'] : 40;
  if (typeof schema['pattern'] === 'string')
    return fc
      .stringMatching(new RegExp(schema['pattern']))
      .filter((s) => s.length >= minLength && s.length <= maxLength);
  return fc.string({ minLength, maxLength: Math.max(minLength, Math.min(maxLength, 60)) });
}

function num(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = typeof schema['minimum'] === 'number' ? schema['minimum'] : -1e6;
  const max = typeof schema['maximum'] === 'number' ? schema['maximum'] : min + 1e7;
  return integer
    ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
    : fc.double({ min, max, noNaN: true });
}

/** Values `schema` accepts (best effort: what it cannot describe, it leaves to the handler). */
export function valid(schema: unknown): Arb {
  if (typeof schema !== 'object' || schema === null) return junk();
  const s = schema as Schema;
  if ('const' in s) return fc.constant(s['const']);
  if (Array.isArray(s['anyOf'])) return fc.oneof(...(s['anyOf'] as unknown[]).map(valid));
  if (Array.isArray(s['enum'])) return fc.constantFrom(...(s['enum'] as unknown[]));
  switch (s['type']) {
    case 'string':
      return str(s);
    case 'integer':
      return num(s, true);
    case 'number':
      return num(s, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const minLength = typeof s['minItems'] === 'number' ? s['minItems'] : 0;
      const maxLength = Math.min(typeof s['maxItems'] === 'number' ? s['maxItems'] : 4, 4);
      return fc.array(valid(s['items']), { minLength, maxLength: Math.max(minLength, maxLength) });
    }
    case 'object':
      return object(s, valid);
    default:
      return junk();
  }
}

function object(s: Schema, value: (schema: unknown) => Arb): Arb {
  const props = (s['properties'] ?? {}) as Record<string, unknown>;
  const required = new Set((s['required'] ?? []) as string[]);
  const record: Record<string, Arb> = {};
  for (const [k, v] of Object.entries(props)) record[k] = value(v);
  const requiredKeys = Object.keys(props).filter((k) => required.has(k));
  const fixed = fc.record(record, { requiredKeys });
  const pattern = s['patternProperties'] as Record<string, unknown> | undefined;
  if (pattern === undefined || Object.keys(props).length > 0) return fixed;
  const [keyPattern, item] = Object.entries(pattern)[0]!;
  return fc.dictionary(fc.stringMatching(new RegExp(keyPattern)), value(item), { maxKeys: 3 });
}

/** Like `valid`, but any field may instead be junk, go missing or gain an unknown neighbour. */
export function near(schema: unknown): Arb {
  if (typeof schema !== 'object' || schema === null) return junk();
  const s = schema as Schema;
  const base: Arb =
    s['type'] === 'object'
      ? fc
          .tuple(
            object(s, near),
            fc.option(fc.tuple(fc.string({ maxLength: 12 }), junk()), { freq: 4 }),
          )
          .map(([o, extra]) =>
            extra === null || typeof o !== 'object' || o === null
              ? o
              : { ...o, [extra[0]]: extra[1] },
          )
      : s['type'] === 'array'
        ? fc.array(near(s['items']), { maxLength: 4 })
        : valid(s);
  return fc.oneof({ weight: 5, arbitrary: base }, { weight: 1, arbitrary: junk() });
}
