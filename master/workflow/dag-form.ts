/**
 * The explicit form (`dag:`) → DAG. Each key is a node: `{ task, after?, input?, output? }`,
 * `{ switch: [{ when, to: [nodes] } | { default: [nodes] }], after? }` or
 * `{ foreach: { items, concurrency?, do }, after? }`.
 * A node with one parent gets that parent's output; a join (several parents) gets an object keyed
 * by parent name; a source gets the invocation input. A switch's targets depend on it implicitly
 * (listing it in `after` is allowed); a node may not depend on a switch without being one of its
 * targets. The output is the single sink's output, or an object keyed by sink when there are many.
 */
import type { DagNode, InputTemplate } from '../../shared/dag/types.js';
import type { NodeId } from '../../shared/ids.js';
import { topologicalOrder } from '../../shared/dag/graph.js';
import type { DagBuilder } from './builder.js';
import { WORKFLOW_INPUT, type Feed } from './builder.js';
import { at, type Issues } from './diagnostics.js';
import { checkExpression } from '../../shared/expressions.js';
import { finishDag, compileStep } from './flow.js';
import { LIMITS, STEP_NAME_RE } from './limits.js';
import { readForeachShard } from './shard-spec.js';
import { describe, isObj, onlyKeys, readInt, readString, type Obj } from './read.js';

const KINDS = ['task', 'switch', 'foreach'] as const;

interface Entry {
  id: NodeId;
  path: string;
  raw: Obj;
  kind: (typeof KINDS)[number];
  after: NodeId[];
  /** For switches: target node ids per case, and each case's condition (null = default). */
  cases: { when: string | null; to: NodeId[]; path: string }[];
}

export function compileDagForm(
  value: unknown,
  path: string,
  b: DagBuilder,
  issues: Issues,
): { output: InputTemplate } | null {
  if (!isObj(value) || Object.keys(value).length === 0) {
    issues.add(
      path,
      isObj(value)
        ? 'is empty; a dag needs at least one node'
        : `must be a mapping of node name to node, got ${describe(value)}`,
    );
    return null;
  }
  const names = Object.keys(value);
  if (names.length > LIMITS.nodes) {
    issues.add(path, `has ${names.length} nodes; at most ${LIMITS.nodes}`);
    return null;
  }
  const entries = new Map<NodeId, Entry>();
  for (const name of names) {
    const entry = readEntry(name, value[name], at(path, name), issues);
    if (entry) entries.set(entry.id, entry);
  }
  const edges = resolveEdges(entries, issues);
  if (!issues.ok) return null;

  const order = topologicalOrder(
    [...entries.values()],
    edges.map((e) => ({ ...e, bytes: 0 })),
  );
  if (order.cycle) {
    issues.add(path, `has a cycle: ${order.cycle.join(' → ')}; a workflow must be acyclic`);
    return null;
  }
  const parents = new Map<NodeId, { node: NodeId; branch?: number }[]>();
  for (const e of edges) {
    const list = parents.get(e.to) ?? [];
    list.push(e.branch === undefined ? { node: e.from } : { node: e.from, branch: e.branch });
    parents.set(e.to, list);
  }
  for (const id of order.order) {
    const entry = entries.get(id)!;
    if (!b.reserve(id)) issues.add(entry.path, `duplicate node name ${JSON.stringify(id)}`);
    const ps = parents.get(id) ?? [];
    const feed: Feed = { template: joinTemplate(ps.map((p) => p.node)), edges: ps };
    addEntryNode(entry, feed, b, issues);
  }
  const hasChild = new Set(edges.map((e) => e.from));
  const sinks = [...entries.keys()].filter((id) => !hasChild.has(id)).sort();
  const output: InputTemplate =
    sinks.length === 1
      ? { kind: 'node', node: sinks[0]! }
      : {
          kind: 'object',
          fields: Object.fromEntries(sinks.map((s) => [s, { kind: 'node', node: s }])),
        };
  return { output };
}

function readEntry(name: string, raw: unknown, path: string, issues: Issues): Entry | null {
  if (!STEP_NAME_RE.test(name)) {
    issues.add(
      path,
      `node name ${JSON.stringify(name)} is not valid; use letters, digits, _ and -, at most 63 characters`,
    );
    return null;
  }
  if (!isObj(raw)) {
    issues.add(
      path,
      `must be a node: { task: <function>, after?: [nodes] } (or switch / foreach), got ${describe(raw)}`,
    );
    return null;
  }
  const kinds = KINDS.filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    issues.add(
      path,
      kinds.length === 0
        ? `needs one of ${KINDS.join(', ')}`
        : `has ${kinds.join(' and ')}; a node is exactly one of ${KINDS.join(', ')}`,
    );
    return null;
  }
  const kind = kinds[0]!;
  onlyKeys(raw, [kind, 'after', 'input', 'output'], path, issues);
  const entry: Entry = {
    id: name as NodeId,
    path,
    raw,
    kind,
    after: readNames(raw['after'], at(path, 'after'), issues),
    cases: [],
  };
  if (kind === 'switch') entry.cases = readCases(raw['switch'], at(path, 'switch'), issues);
  return entry;
}

function readNames(value: unknown, path: string, issues: Issues): NodeId[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value as NodeId];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    issues.add(path, `must be a list of node names, got ${describe(value)}`);
    return [];
  }
  const seen = new Set<string>();
  for (const [i, v] of value.entries()) {
    if (seen.has(v)) issues.add(at(path, i), `${JSON.stringify(v)} is listed twice`);
    seen.add(v);
  }
  return value as NodeId[];
}

function readCases(value: unknown, path: string, issues: Issues): Entry['cases'] {
  if (!Array.isArray(value) || value.length === 0) {
    issues.add(
      path,
      `must be a non-empty list of cases: { when: <JSONata>, to: [nodes] } or { default: [nodes] }`,
    );
    return [];
  }
  const out: Entry['cases'] = [];
  value.forEach((c, i) => {
    const cp = at(path, i);
    if (!isObj(c)) {
      issues.add(cp, `must be { when, to } or { default }, got ${describe(c)}`);
      return;
    }
    if (out.some((x) => x.when === null))
      issues.add(cp, 'comes after the default case; default must be last');
    if (c['default'] !== undefined) {
      onlyKeys(c, ['default'], cp, issues);
      out.push({ when: null, to: readNames(c['default'], at(cp, 'default'), issues), path: cp });
      return;
    }
    onlyKeys(c, ['when', 'to'], cp, issues);
    const when = readString(c, 'when', cp, issues, { required: true, hint: 'a JSONata condition' });
    if (when !== undefined) checkExpression(when, at(cp, 'when'), issues);
    const to = readNames(c['to'], at(cp, 'to'), issues);
    if (to.length === 0)
      issues.add(at(cp, 'to'), 'is required: the nodes to run when the case matches');
    out.push({ when: when ?? 'false', to, path: cp });
  });
  return out;
}

function resolveEdges(
  entries: Map<NodeId, Entry>,
  issues: Issues,
): { from: NodeId; to: NodeId; branch?: number }[] {
  const edges = new Map<string, { from: NodeId; to: NodeId; branch?: number }>();
  const branchOf = new Map<string, number>();
  for (const e of entries.values()) {
    e.cases.forEach((c, i) => {
      c.to.forEach((t, j) => {
        const p = at(at(c.path, c.when === null ? 'default' : 'to'), j);
        if (!entries.has(t))
          issues.add(
            p,
            `unknown node ${JSON.stringify(t)}; nodes: ${[...entries.keys()].slice(0, 20).join(', ')}`,
          );
        else if (t === e.id) issues.add(p, 'a switch cannot target itself');
        else if (branchOf.has(`${e.id}\u0000${t}`))
          issues.add(p, `${JSON.stringify(t)} is already a target of another case of this switch`);
        else {
          branchOf.set(`${e.id}\u0000${t}`, i);
          edges.set(`${e.id}\u0000${t}`, { from: e.id, to: t, branch: i });
        }
      });
    });
  }
  for (const e of entries.values()) {
    e.after.forEach((p, i) => {
      const ap = at(at(e.path, 'after'), i);
      const parent = entries.get(p);
      if (!parent)
        issues.add(
          ap,
          `unknown node ${JSON.stringify(p)}; nodes: ${[...entries.keys()].slice(0, 20).join(', ')}`,
        );
      else if (p === e.id) issues.add(ap, 'a node cannot run after itself');
      else if (parent.kind === 'switch' && !branchOf.has(`${p}\u0000${e.id}`)) {
        issues.add(
          ap,
          `runs after switch ${JSON.stringify(p)} but is not a target of any of its cases; add it to a case's "to" list`,
        );
      } else if (!edges.has(`${p}\u0000${e.id}`))
        edges.set(`${p}\u0000${e.id}`, { from: p, to: e.id });
    });
  }
  return [...edges.values()];
}

function joinTemplate(parents: NodeId[]): InputTemplate {
  if (parents.length === 0) return { kind: 'input' };
  if (parents.length === 1) return { kind: 'node', node: parents[0]! };
  return {
    kind: 'object',
    fields: Object.fromEntries(parents.map((p) => [p, { kind: 'node', node: p }])),
  };
}

function addEntryNode(entry: Entry, feed: Feed, b: DagBuilder, issues: Issues): void {
  const { raw, path, id } = entry;
  const e: { inputExpr?: string; outputExpr?: string } = {};
  for (const key of ['input', 'output'] as const) {
    const src = readString(raw, key, path, issues, { hint: 'a JSONata expression' });
    if (src !== undefined && checkExpression(src, at(path, key), issues))
      e[key === 'input' ? 'inputExpr' : 'outputExpr'] = src;
  }
  let node: DagNode;
  let estimate: number | undefined;
  switch (entry.kind) {
    case 'task': {
      const fn = readString(raw, 'task', path, issues, { required: true });
      b.functionRefs.push({ fn: fn ?? '', path: at(path, 'task') });
      node = { kind: 'task', id, path, fn: fn ?? '', input: feed.template, ...e };
      break;
    }
    case 'switch':
      if (e.outputExpr !== undefined)
        issues.add(
          at(path, 'output'),
          'a switch passes its input on unchanged; put output on its targets',
        );
      node = {
        kind: 'switch',
        id,
        path,
        input: feed.template,
        cases: entry.cases.map((c) => ({ when: c.when, path: c.path })),
        ...(e.inputExpr ? { inputExpr: e.inputExpr } : {}),
      };
      break;
    case 'foreach': {
      const fp = at(path, 'foreach');
      const spec = raw['foreach'];
      if (!isObj(spec)) {
        issues.add(
          fp,
          `must be { items: <JSONata>, concurrency?: 1..1000, shard?: {…}, do: <step> }, got ${describe(spec)}`,
        );
        return;
      }
      onlyKeys(spec, ['items', 'concurrency', 'width', 'shard', 'do'], fp, issues);
      const shard = readForeachShard(spec['shard'], fp, issues);
      const items = readString(spec, 'items', fp, issues, {
        required: true,
        hint: 'a JSONata expression giving the array',
      });
      if (items !== undefined) checkExpression(items, at(fp, 'items'), issues);
      const concurrency = readInt(spec, 'concurrency', fp, issues, {
        min: 1,
        max: 1000,
        fallback: 8,
      });
      const width = readInt(spec, 'width', fp, issues, { min: 1, max: 100_000, fallback: 8 });
      if (spec['do'] === undefined)
        issues.add(at(fp, 'do'), 'is required: the step to run for each item');
      const bodyBuilder = b.child();
      const last = compileStep(spec['do'], at(fp, 'do'), bodyBuilder, WORKFLOW_INPUT, {
        issues,
        depth: 1,
      });
      const body = finishDag(bodyBuilder, last, 'body', 'flow', {});
      b.functionRefs.push(...bodyBuilder.functionRefs);
      estimate = body.sinks.reduce((s, n) => s + bodyBuilder.estimatedOutputBytes(n), 0) * width;
      node = {
        kind: 'foreach',
        id,
        path,
        input: feed.template,
        items: items ?? '$',
        concurrency,
        estimatedWidth: width,
        body,
        ...(shard ? { shard } : {}),
        ...e,
      };
      break;
    }
  }
  b.addNode(node, feed, estimate);
}
