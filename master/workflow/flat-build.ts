/**
 * Emits the `WorkflowDag` of a resolved FaaSFlow graph: synthetic function specs, nodes with
 * their input templates, weighted edges, foreach bodies. Called only when resolution found no
 * issue, so every name here is known and the graph is acyclic. The rules are in flat.ts's header.
 */
import { assertNever } from '../../shared/errors.js';
import type { NodeId } from '../../shared/ids.js';
import { normalize } from '../../shared/dag/graph.js';
import type {
  DagEdge,
  DagNode,
  FunctionSpec,
  InputTemplate,
  WorkflowDag,
} from '../../shared/dag/types.js';
import { edgeBytes, sumOutputs } from './flat-bytes.js';
import type { FlatGraph } from './flat-graph.js';
import type { FlatOutput } from './flat-output.js';
import type { FlatEntry } from './flat-parse.js';

/** FaaSFlow's `mem_usage` is a fraction of an unspecified container size; every function gets this. */
export const FLAT_MEMORY_MB = 256;
/** Floor of a synthetic function's timeout. */
export const FLAT_MIN_TIMEOUT_MS = 60_000;

export interface BuildOptions {
  runtimeScale: number;
  defaultForeachWidth: number;
  sizeScale: number;
}

export function buildDag(
  graph: FlatGraph,
  name: string,
  options: BuildOptions,
  output: FlatOutput | null,
): WorkflowDag {
  const keyWidths = keysWidths(graph, options.defaultForeachWidth);
  const functions = new Map<string, FunctionSpec>();
  for (const e of graph.entries) {
    const kind = graph.kinds.get(e.name);
    if (kind === 'task' || kind === 'foreach') {
      functions.set(
        e.name,
        syntheticFunction(e, options.runtimeScale, keyWidths.get(e.name), options.sizeScale),
      );
    }
  }

  const weigh = edgeBytes(graph);
  const edges: DagEdge[] = [];
  const parents = new Map<string, NodeId[]>();
  for (const e of graph.edges) {
    const edge: DagEdge = { from: id(e.from), to: id(e.to), bytes: weigh.bytes(e.from, e.to) };
    if (e.branch !== undefined) edge.branch = e.branch;
    edges.push(edge);
    parents.set(e.to.name, [...(parents.get(e.to.name) ?? []), id(e.from)]);
  }

  const nodes = graph.entries.map((e) =>
    buildNode(graph, e, inputTemplate(parents.get(e.name) ?? []), functions, name),
  );
  const dag = normalize({
    name,
    format: 'faasflow',
    functions: Object.fromEntries(functions),
    nodes,
    edges,
    output: output?.output ?? { kind: 'const', value: null },
  });
  if (output?.outputExpr !== undefined) return { ...dag, outputExpr: output.outputExpr };
  return { ...dag, output: { kind: 'const', value: { sinks: dag.sinks } } };
}

function id(e: FlatEntry): NodeId {
  return e.name as NodeId;
}

/**
 * FaaSFlow parameters are looked up by name in the invocation input and the outputs of the
 * function's parents, so a node's input is their shallow merge (later parents win).
 */
function inputTemplate(parents: readonly NodeId[]): InputTemplate {
  if (parents.length === 0) return { kind: 'input' };
  return {
    kind: 'merge',
    items: [{ kind: 'input' }, ...parents.map((node) => ({ kind: 'node' as const, node }))],
  };
}

function buildNode(
  graph: FlatGraph,
  e: FlatEntry,
  input: InputTemplate,
  functions: ReadonlyMap<string, FunctionSpec>,
  workflow: string,
): DagNode {
  const kind = graph.kinds.get(e.name) ?? 'task';
  const base = { id: id(e), path: e.path, input };
  switch (kind) {
    case 'task':
      return { ...base, kind, fn: e.name };
    case 'pass':
      return { ...base, kind };
    case 'switch':
      return { ...base, kind, cases: graph.cases.get(e.name) ?? [] };
    case 'foreach': {
      const plan = graph.foreach.get(e.name)!;
      const fn = functions.get(e.name)!;
      const body = normalize({
        name: `${workflow}/${e.name}`,
        format: 'faasflow',
        functions: Object.fromEntries([[e.name, fn]]),
        nodes: [{ kind: 'task', id: id(e), path: e.path, input: { kind: 'input' }, fn: e.name }],
        edges: [],
        output: { kind: 'node', node: id(e) },
      });
      return {
        ...base,
        kind,
        items: plan.items,
        concurrency: plan.width,
        estimatedWidth: plan.width,
        body,
      };
    }
    default:
      return assertNever(kind, 'node kind');
  }
}

function syntheticFunction(
  e: FlatEntry,
  runtimeScale: number,
  keys: Map<string, number> | undefined,
  sizeScale: number,
): FunctionSpec {
  const runtimeMs = Math.round(e.runtimeSec * 1000 * runtimeScale);
  const fields = Object.fromEntries(
    e.outputs.map((p) => [p.name, Math.round((p.sizeBytes ?? 0) * sizeScale)]),
  );
  const builtin =
    keys && keys.size > 0
      ? { sleepMs: runtimeMs, fields, keys: Object.fromEntries(keys) }
      : { sleepMs: runtimeMs, fields };
  return {
    name: e.name,
    source: { kind: 'builtin', builtin },
    cpu: 1,
    memoryMb: FLAT_MEMORY_MB,
    timeoutMs: Math.max(FLAT_MIN_TIMEOUT_MS, 10 * runtimeMs),
    retries: 0,
    network: 'none',
    runtimeMs,
    outputBytes: sumOutputs(e),
  };
}

/**
 * Width of every `type: keys` output: the largest width of the foreach nodes it feeds (each
 * consumer's `split_ratio`, else the default), or the default when it feeds none.
 */
function keysWidths(graph: FlatGraph, defaultWidth: number): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const e of graph.entries) {
    const keys = e.outputs.filter((p) => p.type === 'keys');
    if (keys.length > 0) out.set(e.name, new Map(keys.map((p) => [p.name, 0])));
  }
  for (const plan of graph.foreach.values()) {
    const widths = out.get(plan.producer.name);
    const old = widths?.get(plan.keysParam) ?? 0;
    widths?.set(plan.keysParam, Math.max(old, plan.width));
  }
  for (const widths of out.values()) {
    for (const [param, w] of widths) if (w === 0) widths.set(param, defaultWidth);
  }
  return out;
}
