/**
 * Optional `inputSchema:` of a workflow: a JSON Schema (draft 2020-12 subset that Ajv supports)
 * every invocation input must satisfy. Compiled once at validation time (a bad schema is a
 * validation issue); invocations with a non-conforming input get 400 INPUT_INVALID listing every
 * problem. The only file that imports Ajv.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { AppError } from './errors.js';
import type { IssueSink } from './expressions.js';

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
const cache = new WeakMap<object, ValidateFunction>();

/** Checks that `schema` compiles; adds an issue at `path` otherwise. */
export function checkInputSchema(schema: unknown, path: string, issues: IssueSink): boolean {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    issues.add(path, 'must be a JSON Schema object, e.g. { type: object, required: [name] }');
    return false;
  }
  try {
    compile(schema);
    return true;
  } catch (err) {
    issues.add(path, `is not a valid JSON Schema: ${(err as Error).message}`);
    return false;
  }
}

function compile(schema: object): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    cache.set(schema, v);
  }
  return v;
}

/** Throws INPUT_INVALID with every problem when `input` does not satisfy `schema`. */
export function assertInput(workflow: string, schema: object, input: unknown): void {
  const validate = compile(schema);
  if (validate(input)) return;
  const problems = (validate.errors ?? []).map(
    (e) => `input${e.instancePath.replace(/\//g, '.')} ${e.message ?? 'is invalid'}`,
  );
  throw new AppError(
    'INPUT_INVALID',
    `the input does not match the input schema of ${workflow}: ${problems.join('; ')}`,
    {
      details: { problems },
    },
  );
}
