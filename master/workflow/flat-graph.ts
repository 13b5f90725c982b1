/**
 * Semantic pass over parsed FaaSFlow entries: resolves names, turns every `next.nodes` entry into
 * an edge, decides each node's kind (task, foreach, switch, pass), plans foreach fan-outs,
 * translates switch conditions and rejects cycles. Every problem becomes an issue with the path of
 * the entry that caused it; the result is usable only when no issue was added.
 */
import { assertNever } from '../../shared/errors.js';
import type { NodeId } from '../../shared/ids.js';
import type { DagNode } from '../../shared/dag/types.js';
import { topologicalOrder } from '../../shared/dag/graph.js';
import { at, type Issues } from './diagnostics.js';
import { checkExpression } from '../../shared/expressions.js';
import { jsonataName, translateCondition } from './flat-condition.js';
import type { FlatEntry, FlatNextType } from './flat-parse.js';

export interface FlatEdge {
  from: FlatEntry;
  to: FlatEntry;
  type: FlatNextType;
  /** Case index, on edges leaving a switch node. */
  branch?: number;
  /** Path of the `next.nodes[k]` entry that declared it. */
  path: string;
}

export interface ForeachPlan {
  producer: FlatEntry;
  /** Output parameter of the producer (`type: keys`) holding the items. */
  keysParam: string;
  /** JSONata selecting `keysParam` from the foreach node's input. */
  items: string;
  width: number;
}

export interface SwitchCase {
  when: string | null;
  path: string;
}

export interface FlatGraph {
  /** Entries with unique names, in document order. */
  entries: FlatEntry[];
  byName: Map<string, FlatEntry>;
  /** In declaration order: document order of producers, then `next.nodes` order. */
  edges: FlatEdge[];
  kinds: Map<string, DagNode['kind']>;
  foreach: Map<string, ForeachPlan>;
  cases: Map<string, SwitchCase[]>;
  /** Top-level `INPUT` parameters each switch's conditions read. */
  conditionReads: Map<string, Set<string>>;
  /** Topological order of entry names; empty when there is a cycle. */
  order: string[];
}

export function resolveGraph(
  parsed: readonly FlatEntry[],
  defaultForeachWidth: number,
  issues: Issues,
): FlatGraph {
  const byName = new Map<string, FlatEntry>();
  const entries: FlatEntry[] = [];
  for (const e of parsed) {
    const first = byName.get(e.name);
    if (first) {
      issues.add(
        at(e.path, 'name'),
        `duplicate name ${JSON.stringify(e.name)}; first used at ${first.path}`,
      );
      continue;
    }
    byName.set(e.name, e);
    entries.push(e);
  }
  const graph: FlatGraph = {
    entries,
    byName,
    edges: [],
    kinds: new Map(),
    foreach: new Map(),
    cases: new Map(),
    conditionReads: new Map(),
    order: [],
  };
  for (const e of entries) {
    checkReferences(e, byName, issues);
    addEdges(graph, e, defaultForeachWidth, issues);
  }
  for (const e of entries) graph.kinds.set(e.name, kindOf(graph, e, issues));
  graph.order = acyclicOrder(graph, issues);
  return graph;
}

function checkReferences(e: FlatEntry, byName: Map<string, FlatEntry>, issues: Issues): void {
  for (const p of e.inputs) {
    if (p.from && p.from.function !== 'INPUT' && !byName.has(p.from.function)) {
      issues.add(
        at(at(at(at(e.path, 'input'), p.name), 'value'), 'function'),
        `unknown function ${JSON.stringify(p.from.function)}; expected INPUT or the name of an entry in functions`,
      );
    }
  }
}

function unknownTarget(name: string, byName: Map<string, FlatEntry>): string {
  const known = [...byName.keys()];
  const shown =
    known.slice(0, 8).join(', ') + (known.length > 8 ? `, … (${known.length} in all)` : '');
  return `unknown function ${JSON.stringify(name)}; next.nodes must name entries of functions: ${shown}`;
}

function addEdges(graph: FlatGraph, e: FlatEntry, defaultWidth: number, issues: Issues): void {
  const next = e.next;
  if (!next) return;
  const seen = new Map<string, string>();
  next.targets.forEach((t, k) => {
    const to = graph.byName.get(t.name);
    if (!to) {
      issues.add(t.path, unknownTarget(t.name, graph.byName));
      return;
    }
    const earlier = seen.get(t.name);
    if (earlier !== undefined) {
      const what =
        next.type === 'switch' ? 'listed under several cases of this switch' : 'listed twice';
      issues.add(t.path, `${JSON.stringify(t.name)} is ${what} (also at ${earlier})`);
      return;
    }
    seen.set(t.name, t.path);
    const edge: FlatEdge = { from: e, to, type: next.type, path: t.path };
    if (next.type === 'switch') edge.branch = k;
    if (next.type === 'foreach') planForeach(graph, e, to, t.path, defaultWidth, issues);
    graph.edges.push(edge);
  });
  if (next.type === 'switch') addCases(graph, e, issues);
}

function planForeach(
  graph: FlatGraph,
  producer: FlatEntry,
  consumer: FlatEntry,
  path: string,
  defaultWidth: number,
  issues: Issues,
): void {
  if (consumer.role !== 'function') {
    issues.add(
      path,
      `foreach must run a function, not the ${consumer.role.toUpperCase()} entry ${consumer.name}`,
    );
    return;
  }
  const other = graph.foreach.get(consumer.name);
  if (other) {
    issues.add(
      path,
      `${consumer.name} is already run per key by ${other.producer.name}; one producer may fan it out`,
    );
    return;
  }
  const keys = producer.outputs.filter((p) => p.type === 'keys').map((p) => p.name);
  const named = consumer.inputs.find(
    (p) =>
      p.type === 'key' &&
      p.from !== null &&
      (p.from.function === producer.name || p.from.function === 'INPUT') &&
      keys.includes(p.from.parameter),
  );
  const keysParam = named?.from?.parameter ?? (keys.length === 1 ? keys[0] : undefined);
  if (keysParam === undefined) {
    const why =
      keys.length === 0
        ? `${producer.name} declares no output of type keys`
        : `${producer.name} has several keys outputs (${keys.join(', ')}) and ${consumer.name} has no input of type key naming one`;
    issues.add(
      path,
      `cannot run ${consumer.name} per key: ${why}; declare e.g. output split_keys: {type: keys, size: 8}`,
    );
    return;
  }
  const items = jsonataName(keysParam);
  if (items === null) {
    issues.add(
      path,
      `keys output ${JSON.stringify(keysParam)} of ${producer.name} cannot be named in JSONata (it holds a backtick)`,
    );
    return;
  }
  graph.foreach.set(consumer.name, {
    producer,
    keysParam,
    items,
    width: consumer.splitRatio ?? defaultWidth,
  });
}

function addCases(graph: FlatGraph, e: FlatEntry, issues: Issues): void {
  const cases: SwitchCase[] = [];
  const reads = new Set<string>();
  for (const c of e.next?.conditions ?? []) {
    switch (c.kind) {
      case 'default':
        cases.push({ when: null, path: c.path });
        break;
      case 'invalid':
        cases.push({ when: 'false', path: c.path });
        break;
      case 'when': {
        const t = translateCondition(c.source);
        if (!t.ok) {
          issues.add(
            c.path,
            `cannot translate condition ${JSON.stringify(c.source)} to JSONata: ${t.message}`,
          );
          cases.push({ when: 'false', path: c.path });
          break;
        }
        checkExpression(t.jsonata, c.path, issues);
        for (const r of t.reads) reads.add(r);
        cases.push({ when: t.jsonata, path: c.path });
        break;
      }
      default:
        assertNever(c);
    }
  }
  graph.cases.set(e.name, cases);
  graph.conditionReads.set(e.name, reads);
}

function kindOf(graph: FlatGraph, e: FlatEntry, issues: Issues): DagNode['kind'] {
  const isSwitch = e.next?.type === 'switch';
  switch (e.role) {
    case 'virtual':
      return isSwitch ? 'switch' : 'pass';
    case 'end':
      if (isSwitch)
        issues.add(
          at(e.next!.path, 'type'),
          'an END entry cannot branch; use a VIRTUAL entry for a switch',
        );
      return 'pass';
    case 'function':
      if (isSwitch) {
        issues.add(
          at(e.next!.path, 'type'),
          `${e.name} is a function; only VIRTUAL entries may switch (add a VIRTUAL entry after ${e.name})`,
        );
      }
      return graph.foreach.has(e.name) ? 'foreach' : 'task';
    default:
      return assertNever(e.role);
  }
}

function acyclicOrder(graph: FlatGraph, issues: Issues): string[] {
  const nodes = graph.entries.map((e) => ({ id: e.name as NodeId }));
  const edges = graph.edges.map((e) => ({
    from: e.from.name as NodeId,
    to: e.to.name as NodeId,
    bytes: 0,
  }));
  const result = topologicalOrder(nodes, edges);
  if (result.order) return result.order;
  const [a, b] = result.cycle;
  const where = graph.edges.find((e) => e.from.name === a && e.to.name === b)?.path ?? '';
  issues.add(where, `cycle: ${result.cycle.join(' → ')}; a workflow must be acyclic`);
  return [];
}
