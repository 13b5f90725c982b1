/**
 * The invocation output of an imported FaaSFlow workflow, from its `global_output`.
 *
 * Each `global_output` entry `name: {type, value: {function, parameter}}` becomes a field of an
 * `object` template holding the named node's whole output, and `outputExpr` then keeps only the
 * parameter: `{"name": name.parameter}`. `type: switch` lists alternatives (one per branch):
 * the field is a `first` template over those nodes, and the expression picks the first
 * parameter present. `function: INPUT` reads the invocation input.
 *
 * Without a usable `global_output` the output is `{kind: 'const', value: {sinks: [...]}}`: the
 * sinks' outputs are synthetic blobs (up to GBs for Cycles), and the master must never pull them
 * back just to report completion.
 */
import type { NodeId } from '../../shared/ids.js';
import type { InputTemplate } from '../../shared/dag/types.js';
import { at, type Issues } from './diagnostics.js';
import { checkExpression } from '../../shared/expressions.js';
import { jsonataName } from './flat-condition.js';
import { describe, isRecord, mappingEntries, parseRef } from './flat-parse.js';

export interface FlatOutput {
  output: InputTemplate;
  outputExpr?: string;
}

interface Ref {
  function: string;
  parameter: string;
}

/** `null` when there is no usable `global_output` (absent, empty, or reported invalid). */
export function parseGlobalOutput(
  raw: unknown,
  known: ReadonlySet<string>,
  issues: Issues,
): FlatOutput | null {
  const before = issues.list.length;
  const fields: [string, InputTemplate][] = [];
  const picks: string[] = [];
  for (const [name, spec] of mappingEntries(raw, 'global_output', issues)) {
    const path = at('global_output', name);
    const refs = parseSpec(spec, path, known, issues);
    const field = jsonataName(name);
    if (refs === null || refs.length === 0) continue;
    if (field === null) {
      issues.add(
        path,
        `output name ${JSON.stringify(name)} cannot be used in JSONata (it holds a backtick)`,
      );
      continue;
    }
    const templates = refs.map((r): InputTemplate =>
      r.function === 'INPUT' ? { kind: 'input' } : { kind: 'node', node: r.function as NodeId },
    );
    fields.push([
      name,
      templates.length === 1 ? templates[0]! : { kind: 'first', options: templates },
    ]);
    const params = [...new Set(refs.map((r) => jsonataName(r.parameter)))];
    if (params.includes(null)) {
      issues.add(path, 'a parameter name holds a backtick and cannot be used in JSONata');
      continue;
    }
    const paths = params.map((p) => `${field}.${p}`);
    picks.push(
      `${JSON.stringify(name)}: ${paths.length === 1 ? paths[0] : `[${paths.join(', ')}][0]`}`,
    );
  }
  if (issues.list.length > before || fields.length === 0) return null;
  const outputExpr = `{${picks.join(', ')}}`;
  if (!checkExpression(outputExpr, 'global_output', issues)) return null;
  return { output: { kind: 'object', fields: Object.fromEntries(fields) }, outputExpr };
}

function parseSpec(
  spec: unknown,
  path: string,
  known: ReadonlySet<string>,
  issues: Issues,
): Ref[] | null {
  if (!isRecord(spec)) {
    issues.add(path, `expected {type, value: {function, parameter}}, got ${describe(spec)}`);
    return null;
  }
  const type = spec['type'] ?? 'pass';
  const value = spec['value'];
  if (type === 'switch') {
    if (!Array.isArray(value)) {
      issues.add(
        at(path, 'value'),
        `a switch output lists one {function, parameter} per branch; got ${describe(value)}`,
      );
      return null;
    }
    const list = Array.from(value as unknown[]);
    if (list.length === 0) {
      issues.add(
        at(path, 'value'),
        'a switch output lists no branches; expected one {function, parameter} per branch',
      );
      return null;
    }
    const refs = list.map((v, k) => {
      const vpath = at(at(path, 'value'), k);
      if (v === undefined || v === null)
        issues.add(vpath, 'expected {function, parameter}, got null');
      return checkRef(parseRef(v, vpath, issues), vpath, known, issues);
    });
    return refs.every((r) => r !== null) ? refs : null;
  }
  if (typeof type !== 'string' || !['pass', 'normal'].includes(type)) {
    issues.add(at(path, 'type'), `type must be pass, normal or switch; got ${describe(type)}`);
    return null;
  }
  if (value === undefined || value === null) {
    issues.add(at(path, 'value'), 'value is missing; expected {function, parameter}');
    return null;
  }
  const ref = checkRef(
    parseRef(value, at(path, 'value'), issues),
    at(path, 'value'),
    known,
    issues,
  );
  return ref === null ? null : [ref];
}

function checkRef(
  ref: Ref | null,
  path: string,
  known: ReadonlySet<string>,
  issues: Issues,
): Ref | null {
  if (ref === null) return null;
  if (ref.function !== 'INPUT' && !known.has(ref.function)) {
    issues.add(
      at(path, 'function'),
      `unknown function ${JSON.stringify(ref.function)}; expected INPUT or an entry of functions`,
    );
    return null;
  }
  return ref;
}
