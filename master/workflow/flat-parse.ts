/**
 * Structural pass over a FaaSFlow flat document: narrows each `functions` entry from `unknown`
 * into a `FlatEntry`, reporting every wrong type with its path. Nothing here resolves names
 * across entries (that is `flat.ts`); a malformed part is reported and dropped, so later passes
 * see only well-typed data and any input yields issues, never an exception.
 */
import { at, type Issues } from './diagnostics.js';
import { FUNCTION_NAME_RE } from './limits.js';

/** Longest FaaSFlow `runtime` accepted, in seconds. */
export const MAX_RUNTIME_SEC = 24 * 60 * 60;
/** Largest `split_ratio` (foreach width) accepted. */
export const MAX_FOREACH_WIDTH = 10_000;

export type FlatRole = 'function' | 'virtual' | 'end';
export type FlatNextType = 'pass' | 'parallel' | 'foreach' | 'switch';

export interface FlatParam {
  name: string;
  /** FaaSFlow parameter type: `normal`, `pass`, `key` (inputs) or `keys` (outputs). */
  type: string;
  /** Declared size; `undefined` when the document gives none. */
  sizeBytes: number | undefined;
  /** `value.function` / `value.parameter`, when given. */
  from: { function: string; parameter: string } | null;
}

export interface FlatTarget {
  name: string;
  path: string;
}

/** A switch case as written: a Python condition, `default`, or unusable (already reported). */
export type FlatCondition =
  | { kind: 'when'; source: string; path: string }
  | { kind: 'default'; path: string }
  | { kind: 'invalid'; path: string };

export interface FlatNext {
  type: FlatNextType;
  path: string;
  targets: FlatTarget[];
  /** Only for `switch`: parallel to `targets`. */
  conditions: FlatCondition[];
}

export interface FlatEntry {
  index: number;
  name: string;
  path: string;
  role: FlatRole;
  runtimeSec: number;
  splitRatio: number | null;
  inputs: FlatParam[];
  outputs: FlatParam[];
  next: FlatNext | null;
}

const NEXT_TYPES: readonly FlatNextType[] = ['pass', 'parallel', 'foreach', 'switch'];
const INPUT_TYPES = ['normal', 'pass', 'key'];
const OUTPUT_TYPES = ['normal', 'pass', 'keys'];

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'object':
      return 'a mapping';
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof v} ${String(v)}`;
    case 'undefined':
      return 'nothing';
    case 'function':
    case 'symbol':
      return `a ${typeof v}`;
  }
  return 'a value';
}

/** Own enumerable entries of a mapping; `null`/absent is empty; anything else is an issue. */
export function mappingEntries(v: unknown, path: string, issues: Issues): [string, unknown][] {
  if (v === undefined || v === null) return [];
  if (!isRecord(v)) {
    issues.add(path, `expected a mapping, got ${describe(v)}`);
    return [];
  }
  return Object.entries(v);
}

export function parseEntry(raw: unknown, index: number, issues: Issues): FlatEntry | null {
  const path = at('functions', index);
  if (!isRecord(raw)) {
    issues.add(
      path,
      `expected a mapping with name, source, runtime, input, output, next; got ${describe(raw)}`,
    );
    return null;
  }
  const name = raw['name'];
  if (typeof name !== 'string') {
    issues.add(
      at(path, 'name'),
      name === undefined ? 'name is missing' : `name must be a string, got ${describe(name)}`,
    );
    return null;
  }
  if (!FUNCTION_NAME_RE.test(name)) {
    issues.add(
      at(path, 'name'),
      `name ${JSON.stringify(name)} is invalid: must match ${FUNCTION_NAME_RE.source}`,
    );
  } else if (name === 'INPUT') {
    issues.add(at(path, 'name'), 'INPUT is reserved for the invocation input; rename the function');
  }
  const role = parseRole(raw['source'], at(path, 'source'), issues);
  return {
    index,
    name,
    path,
    role,
    runtimeSec: parseRuntime(raw['runtime'], at(path, 'runtime'), issues),
    splitRatio: parseSplitRatio(raw['split_ratio'], at(path, 'split_ratio'), issues),
    inputs: parseParams(raw['input'], at(path, 'input'), INPUT_TYPES, true, issues),
    outputs: parseParams(raw['output'], at(path, 'output'), OUTPUT_TYPES, false, issues),
    next: parseNext(raw['next'], at(path, 'next'), issues),
  };
}

function parseRole(v: unknown, path: string, issues: Issues): FlatRole {
  if (v === 'VIRTUAL') return 'virtual';
  if (v === 'END') return 'end';
  if (v !== undefined && typeof v !== 'string') {
    issues.add(path, `source must be a string (a function, VIRTUAL or END), got ${describe(v)}`);
  }
  return 'function';
}

function parseRuntime(v: unknown, path: string, issues: Issues): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_RUNTIME_SEC) {
    issues.add(
      path,
      `runtime must be a number of seconds from 0 to ${MAX_RUNTIME_SEC}, got ${describe(v)}`,
    );
    return 0;
  }
  return v;
}

function parseSplitRatio(v: unknown, path: string, issues: Issues): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_FOREACH_WIDTH) {
    issues.add(
      path,
      `split_ratio must be an integer from 1 to ${MAX_FOREACH_WIDTH}, got ${describe(v)}`,
    );
    return null;
  }
  return v;
}

export function parseSize(v: unknown, path: string, issues: Issues): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    issues.add(path, `size must be a whole number of bytes (0 or more), got ${describe(v)}`);
    return undefined;
  }
  return v;
}

/** `value: {function, parameter}`; `null` when absent or malformed (malformed is reported). */
export function parseRef(
  v: unknown,
  path: string,
  issues: Issues,
): { function: string; parameter: string } | null {
  if (v === undefined || v === null) return null;
  if (!isRecord(v)) {
    issues.add(path, `expected {function, parameter}, got ${describe(v)}`);
    return null;
  }
  const fn = v['function'];
  const parameter = v['parameter'];
  let ok = true;
  if (typeof fn !== 'string' || fn === '') {
    issues.add(at(path, 'function'), `function must name a function or INPUT, got ${describe(fn)}`);
    ok = false;
  }
  if (typeof parameter !== 'string' || parameter === '') {
    issues.add(
      at(path, 'parameter'),
      `parameter must be a parameter name, got ${describe(parameter)}`,
    );
    ok = false;
  }
  return ok ? { function: fn as string, parameter: parameter as string } : null;
}

function parseParams(
  v: unknown,
  path: string,
  types: readonly string[],
  isInput: boolean,
  issues: Issues,
): FlatParam[] {
  const params: FlatParam[] = [];
  for (const [name, p] of mappingEntries(v, path, issues)) {
    const ppath = at(path, name);
    if (!isRecord(p)) {
      issues.add(
        ppath,
        `expected a mapping with type${isInput ? ', value' : ''} and size, got ${describe(p)}`,
      );
      continue;
    }
    const type = p['type'] ?? 'normal';
    if (typeof type !== 'string' || !types.includes(type)) {
      issues.add(
        at(ppath, 'type'),
        `type must be one of ${types.join(', ')}; got ${describe(type)}`,
      );
    }
    const from = isInput ? parseRef(p['value'], at(ppath, 'value'), issues) : null;
    if (isInput && p['value'] === undefined) {
      issues.add(
        at(ppath, 'value'),
        'value is missing; expected {function: <name or INPUT>, parameter: <name>}',
      );
    }
    const sizeBytes = parseSize(p['size'], at(ppath, 'size'), issues);
    params.push({ name, type: typeof type === 'string' ? type : 'normal', sizeBytes, from });
  }
  return params;
}

function parseNext(v: unknown, path: string, issues: Issues): FlatNext | null {
  if (v === undefined || v === null) return null;
  if (!isRecord(v)) {
    issues.add(path, `expected a mapping {type, nodes}, got ${describe(v)}`);
    return null;
  }
  const rawType = v['type'] ?? 'pass';
  const type = NEXT_TYPES.find((t) => t === rawType);
  if (type === undefined) {
    issues.add(
      at(path, 'type'),
      `type must be one of ${NEXT_TYPES.join(', ')}; got ${describe(rawType)}`,
    );
  }
  const targets = parseTargets(v['nodes'], at(path, 'nodes'), issues);
  const next: FlatNext = { type: type ?? 'pass', path, targets, conditions: [] };
  if (type === 'switch') {
    next.conditions = parseConditions(
      v['conditions'],
      at(path, 'conditions'),
      targets.length,
      issues,
    );
  } else if (v['conditions'] !== undefined && v['conditions'] !== null) {
    issues.add(
      at(path, 'conditions'),
      `conditions are only allowed with type switch, not ${type ?? describe(rawType)}`,
    );
  }
  return type === undefined ? null : next;
}

function parseTargets(v: unknown, path: string, issues: Issues): FlatTarget[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issues.add(path, `expected a list of function names, got ${describe(v)}`);
    return [];
  }
  const targets: FlatTarget[] = [];
  // Array.from turns holes of a sparse array into undefined, so they are reported too.
  Array.from(v as unknown[]).forEach((n, k) => {
    if (typeof n === 'string' && n !== '') targets.push({ name: n, path: at(path, k) });
    else issues.add(at(path, k), `expected a function name, got ${describe(n)}`);
  });
  return targets;
}

function parseConditions(v: unknown, path: string, count: number, issues: Issues): FlatCondition[] {
  if (!Array.isArray(v)) {
    issues.add(
      path,
      `a switch needs a list of conditions, one per entry of nodes; got ${describe(v)}`,
    );
    return [];
  }
  const list = Array.from(v as unknown[]);
  if (list.length !== count) {
    issues.add(
      path,
      `${list.length} conditions for ${count} nodes; conditions and nodes are parallel lists`,
    );
  }
  return list.map((c, k): FlatCondition => {
    const cpath = at(path, k);
    // YAML 1.2 reads `True` and `1` as scalars of other types; take them back as Python text.
    const source =
      typeof c === 'boolean' ? (c ? 'True' : 'False') : typeof c === 'number' ? String(c) : c;
    if (typeof source !== 'string') {
      issues.add(
        cpath,
        `expected a Python condition such as "INPUT.flag == True" or "default", got ${describe(c)}`,
      );
      return { kind: 'invalid', path: cpath };
    }
    if (source.trim() === 'default') {
      if (k !== list.length - 1) issues.add(cpath, 'default must be the last condition');
      return { kind: 'default', path: cpath };
    }
    return { kind: 'when', source, path: cpath };
  });
}
