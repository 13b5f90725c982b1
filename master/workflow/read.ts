/**
 * Small readers for untrusted document values. Each reads one field, adds an issue naming the
 * path and what would be valid when the value is wrong, and returns a typed value or undefined.
 */
import { at, type Issues } from './diagnostics.js';

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${JSON.stringify(value) ?? typeof value}`;
}

/** Reports keys of `obj` that are not in `allowed`. */
export function onlyKeys(obj: Obj, allowed: readonly string[], path: string, issues: Issues): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      issues.add(
        at(path, key),
        `unknown key ${JSON.stringify(key)}; valid keys here: ${allowed.join(', ')}`,
      );
    }
  }
}

export function readString(
  obj: Obj,
  key: string,
  path: string,
  issues: Issues,
  opts: { required?: boolean; pattern?: RegExp; hint?: string; maxLength?: number } = {},
): string | undefined {
  const value = obj[key];
  const p = at(path, key);
  if (value === undefined || value === null) {
    if (opts.required) issues.add(p, `is required${opts.hint ? `: ${opts.hint}` : ''}`);
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.add(p, `must be a string${opts.hint ? ` (${opts.hint})` : ''}, got ${describe(value)}`);
    return undefined;
  }
  if (opts.required && value === '') {
    issues.add(p, `must not be empty${opts.hint ? `: ${opts.hint}` : ''}`);
    return undefined;
  }
  if (opts.maxLength !== undefined && value.length > opts.maxLength) {
    issues.add(p, `is ${value.length} characters; at most ${opts.maxLength}`);
    return undefined;
  }
  if (opts.pattern && !opts.pattern.test(value)) {
    issues.add(
      p,
      `${JSON.stringify(value.slice(0, 80))} is not valid; ${opts.hint ?? `must match ${opts.pattern.source}`}`,
    );
    return undefined;
  }
  return value;
}

export function readInt(
  obj: Obj,
  key: string,
  path: string,
  issues: Issues,
  opts: { min: number; max: number; step?: number; fallback: number },
): number {
  const value = obj[key];
  if (value === undefined || value === null) return opts.fallback;
  const p = at(path, key);
  const range = `an integer from ${opts.min} to ${opts.max}${opts.step ? ` in steps of ${opts.step}` : ''}`;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    issues.add(p, `must be ${range}, got ${describe(value)}`);
    return opts.fallback;
  }
  if (
    value < opts.min ||
    value > opts.max ||
    (opts.step !== undefined && value % opts.step !== 0)
  ) {
    issues.add(p, `${value} is out of range; must be ${range}`);
    return opts.fallback;
  }
  return value;
}

export function readNumber(
  obj: Obj,
  key: string,
  path: string,
  issues: Issues,
  opts: { min: number; max: number; fallback: number },
): number {
  const value = obj[key];
  if (value === undefined || value === null) return opts.fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < opts.min ||
    value > opts.max
  ) {
    issues.add(
      at(path, key),
      `must be a number from ${opts.min} to ${opts.max}, got ${describe(value)}`,
    );
    return opts.fallback;
  }
  return value;
}

export function readBool(
  obj: Obj,
  key: string,
  path: string,
  issues: Issues,
  fallback: boolean,
): boolean {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    issues.add(at(path, key), `must be true or false, got ${describe(value)}`);
    return fallback;
  }
  return value;
}
