/**
 * Configuration loading shared by every process: one TypeBox schema per process with defaults
 * inside; values come from flags (highest), then prefixed environment variables, then defaults.
 * Every problem is reported at once; the result is frozen.
 */
import { type TObject, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from './errors.js';

export type RawConfig = Record<string, string | number | boolean | undefined>;

/** `masterUrl` → `FAASFLOW_MASTER_URL`: the variable a schema key is read from. */
export function envName(key: string, prefix = 'FAASFLOW_'): string {
  return prefix + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** `FAASFLOW_MASTER_URL` → `masterUrl`, for every schema key. */
export function envFor(schema: TObject, env: NodeJS.ProcessEnv, prefix = 'FAASFLOW_'): RawConfig {
  const out: RawConfig = {};
  for (const key of Object.keys(schema.properties)) {
    const v = env[envName(key, prefix)];
    if (v !== undefined && v !== '') out[key] = v;
  }
  return out;
}

export function loadConfig<T extends TObject>(
  schema: T,
  ...sources: RawConfig[]
): Readonly<Static<T>> {
  const merged: Record<string, unknown> = {};
  for (const source of sources) {
    for (const [k, v] of Object.entries(source)) if (v !== undefined) merged[k] = v;
  }
  const problems: string[] = [];
  for (const key of Object.keys(merged)) {
    const prop = schema.properties[key];
    if (!prop) {
      problems.push(
        `unknown option ${key}; valid options: ${Object.keys(schema.properties).join(', ')}`,
      );
      continue;
    }
    merged[key] = coerce(prop, merged[key]);
  }
  const withDefaults = Value.Default(schema, merged) as Record<string, unknown>;
  for (const e of Value.Errors(schema, withDefaults)) {
    const key = e.path.replace(/^\//, '') || '(config)';
    problems.push(
      `${key}: ${e.message}${describeSchema(e.schema)} (got ${JSON.stringify(e.value)})`,
    );
  }
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  return Object.freeze(withDefaults as Static<T>);
}

function coerce(schema: TSchema, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const type = (schema as { type?: unknown }).type;
  if (type === 'integer' || type === 'number') {
    const n = Number(value);
    return value.trim() !== '' && Number.isFinite(n) ? n : value;
  }
  if (type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
  }
  return value;
}

function describeSchema(schema: TSchema): string {
  const s = schema as { anyOf?: { const?: unknown }[]; minimum?: number; maximum?: number };
  if (s.anyOf?.every((x) => x.const !== undefined))
    return `; one of ${s.anyOf.map((x) => JSON.stringify(x.const)).join(', ')}`;
  if (s.minimum !== undefined || s.maximum !== undefined)
    return `; from ${s.minimum ?? '-∞'} to ${s.maximum ?? '∞'}`;
  return '';
}
