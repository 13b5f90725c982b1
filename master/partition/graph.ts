/**
 * Turns a `WorkflowDag` into the indexed form the partitioner works on: nodes numbered in id
 * order, edges numbered in (from, to) order, per-node costs and a topological order in typed
 * arrays. Everything downstream iterates these arrays, never the input's own order, which is
 * what makes the partition independent of how the caller ordered nodes and edges.
 *
 * Node costs (the group capacity rule lives in groups.ts):
 * - task: `runtimeMs`, `cpu`, `memoryMb` of its function;
 * - pass, switch: run inside the engine, cost nothing;
 * - foreach: `copies = min(concurrency, estimatedWidth)` bodies run at once, so memory and CPU are
 *   the body's demand × copies; its runtime is the body's critical path (no transfer times: the
 *   body runs on one worker) × ceil(estimatedWidth / concurrency) waves.
 * `level` is the longest hop count from a source: nodes on one level never depend on each other,
 * so they are what may run at the same time.
 */
import { compareIds, topologicalOrder } from '../../shared/dag/graph.js';
import type { DagNode, FunctionSpec, WorkflowDag } from '../../shared/dag/types.js';
import { AppError, assertNever } from '../../shared/errors.js';
import type { NodeId } from '../../shared/ids.js';

export interface IndexedGraph {
  /** Node ids in sorted order; a node's index is its position here. */
  ids: readonly NodeId[];
  runtimeMs: Float64Array;
  cpu: Float64Array;
  memoryMb: Float64Array;
  level: Int32Array;
  /** FaaSFlow's single size per node (its whole output), for the baseline's weights. */
  sendBytes: Float64Array;
  /** Node indices in a topological order. */
  topo: Int32Array;
  /** Position of each node in `topo`. */
  topoPosition: Int32Array;
  /** Edges sorted by (from, to): endpoints as node indices, and bytes. */
  edgeFrom: Int32Array;
  edgeTo: Int32Array;
  edgeBytes: Float64Array;
  /** Incoming edges of node v: `inEdges[inStart[v] .. inStart[v + 1])`, ascending edge index. */
  inStart: Int32Array;
  inEdges: Int32Array;
  /** Outgoing edges of node u: edge indices `outStart[u] .. outStart[u + 1]` (sorted by from). */
  outStart: Int32Array;
}

interface Demand {
  runtimeMs: number;
  cpu: number;
  memoryMb: number;
}

/** Indexes a DAG; foreach bodies are costed against `functions` (the top-level catalogue). */
export function indexGraph(
  dag: Pick<WorkflowDag, 'nodes' | 'edges'>,
  functions: WorkflowDag['functions'],
  where = '',
): IndexedGraph {
  const nodes = [...dag.nodes].sort((a, b) => compareIds(a.id, b.id));
  const n = nodes.length;
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = nodes[i]!.id;
    if (index.has(id))
      invalid(where, `node id ${id} appears more than once; node ids must be unique`);
    index.set(id, i);
  }

  const m = dag.edges.length;
  const rawFrom = new Int32Array(m);
  const rawTo = new Int32Array(m);
  for (let e = 0; e < m; e++) {
    const edge = dag.edges[e]!;
    const from = index.get(edge.from);
    const to = index.get(edge.to);
    if (from === undefined || to === undefined) {
      const missing = from === undefined ? edge.from : edge.to;
      invalid(where, `edge ${edge.from} -> ${edge.to} names ${missing}, which is not a node`);
    }
    if (!Number.isFinite(edge.bytes) || edge.bytes < 0) {
      invalid(
        where,
        `edge ${edge.from} -> ${edge.to} has bytes ${String(edge.bytes)}; must be a finite number ≥ 0`,
      );
    }
    rawFrom[e] = from;
    rawTo[e] = to;
  }
  const order = Array.from({ length: m }, (_, e) => e);
  order.sort((a, b) => rawFrom[a]! - rawFrom[b]! || rawTo[a]! - rawTo[b]!);
  const edgeFrom = new Int32Array(m);
  const edgeTo = new Int32Array(m);
  const edgeBytes = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const e = order[k]!;
    edgeFrom[k] = rawFrom[e]!;
    edgeTo[k] = rawTo[e]!;
    edgeBytes[k] = dag.edges[e]!.bytes;
    if (k > 0 && edgeFrom[k] === edgeFrom[k - 1] && edgeTo[k] === edgeTo[k - 1]) {
      const { from, to } = dag.edges[e]!;
      invalid(where, `edge ${from} -> ${to} appears more than once; give each pair one edge`);
    }
  }

  const inStart = new Int32Array(n + 1);
  for (let k = 0; k < m; k++) inStart[edgeTo[k]! + 1]!++;
  for (let v = 0; v < n; v++) inStart[v + 1]! += inStart[v]!;
  const fill = inStart.slice(0, n);
  const inEdges = new Int32Array(m);
  for (let k = 0; k < m; k++) inEdges[fill[edgeTo[k]!]!++] = k;

  const outStart = new Int32Array(n + 1);
  for (let k = 0; k < m; k++) outStart[edgeFrom[k]! + 1]!++;
  for (let v = 0; v < n; v++) outStart[v + 1]! += outStart[v]!;

  const topo = kahn(n, edgeTo, inStart, outStart);
  if (topo === null) {
    const cycle = topologicalOrder(dag.nodes, dag.edges).cycle ?? [];
    invalid(where, `the graph has a cycle: ${cycle.join(' -> ')}`);
  }
  const topoPosition = new Int32Array(n);
  for (let t = 0; t < n; t++) topoPosition[topo[t]!] = t;
  const level = new Int32Array(n);
  for (const v of topo) {
    for (let i = inStart[v]!; i < inStart[v + 1]!; i++) {
      const u = edgeFrom[inEdges[i]!]!;
      if (level[u]! + 1 > level[v]!) level[v] = level[u]! + 1;
    }
  }

  const runtimeMs = new Float64Array(n);
  const cpu = new Float64Array(n);
  const memoryMb = new Float64Array(n);
  const sendBytes = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    const node = nodes[v]!;
    const d = nodeDemand(node, functions, where);
    runtimeMs[v] = d.runtimeMs;
    cpu[v] = d.cpu;
    memoryMb[v] = d.memoryMb;
    sendBytes[v] = node.kind === 'task' ? functions[node.fn]!.outputBytes : 0;
  }
  // Nodes without a function of their own (pass, switch, foreach) send what leaves them.
  for (let k = 0; k < m; k++) {
    const u = edgeFrom[k]!;
    if (nodes[u]!.kind !== 'task' && edgeBytes[k]! > sendBytes[u]!) sendBytes[u] = edgeBytes[k]!;
  }

  return {
    ids: nodes.map((x) => x.id),
    runtimeMs,
    cpu,
    memoryMb,
    level,
    sendBytes,
    topo,
    topoPosition,
    edgeFrom,
    edgeTo,
    edgeBytes,
    inStart,
    inEdges,
    outStart,
  };
}

/** Kahn's algorithm over the CSR arrays; `null` when the graph has a cycle. */
function kahn(
  n: number,
  edgeTo: Int32Array,
  inStart: Int32Array,
  outStart: Int32Array,
): Int32Array | null {
  const indegree = new Int32Array(n);
  for (let v = 0; v < n; v++) indegree[v] = inStart[v + 1]! - inStart[v]!;
  const topo = new Int32Array(n);
  let head = 0;
  let tail = 0;
  for (let v = 0; v < n; v++) if (indegree[v] === 0) topo[tail++] = v;
  while (head < tail) {
    const u = topo[head++]!;
    for (let k = outStart[u]!; k < outStart[u + 1]!; k++) {
      const v = edgeTo[k]!;
      if (--indegree[v]! === 0) topo[tail++] = v;
    }
  }
  return tail === n ? topo : null;
}

function nodeDemand(node: DagNode, functions: WorkflowDag['functions'], where: string): Demand {
  switch (node.kind) {
    case 'task':
      return functionDemand(node.fn, functions[node.fn], `${where}${node.id}`);
    case 'pass':
    case 'switch':
      return { runtimeMs: 0, cpu: 0, memoryMb: 0 };
    case 'foreach':
      return foreachDemand(node, functions, where);
    default:
      return assertNever(node, 'node kind');
  }
}

function functionDemand(fn: string, spec: FunctionSpec | undefined, nodePath: string): Demand {
  if (spec === undefined)
    invalid('', `node ${nodePath} runs function ${fn}, which is not in the catalogue`);
  for (const key of ['runtimeMs', 'cpu', 'memoryMb'] as const) {
    const value = spec[key];
    if (!Number.isFinite(value) || value < 0) {
      invalid(
        '',
        `function ${fn} (node ${nodePath}) has ${key} ${String(value)}; must be a finite number ≥ 0`,
      );
    }
  }
  return { runtimeMs: spec.runtimeMs, cpu: spec.cpu, memoryMb: spec.memoryMb };
}

function foreachDemand(
  node: Extract<DagNode, { kind: 'foreach' }>,
  functions: WorkflowDag['functions'],
  where: string,
): Demand {
  const { concurrency, estimatedWidth } = node;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    invalid(
      where,
      `foreach ${node.id} has concurrency ${String(concurrency)}; must be an integer ≥ 1`,
    );
  }
  if (!Number.isFinite(estimatedWidth) || estimatedWidth < 0) {
    invalid(
      where,
      `foreach ${node.id} has estimatedWidth ${String(estimatedWidth)}; must be a finite number ≥ 0`,
    );
  }
  const body = indexGraph(
    node.body,
    { ...functions, ...node.body.functions },
    `${where}${node.id}.body.`,
  );
  const copies = Math.min(concurrency, estimatedWidth);
  const waves = Math.ceil(estimatedWidth / concurrency);
  let memoryMb = 0;
  for (const mb of body.memoryMb) memoryMb += mb;
  return {
    runtimeMs: bodyCriticalPathMs(body) * waves,
    cpu: peakLevelCpu(body) * copies,
    memoryMb: memoryMb * copies,
  };
}

/** Longest chain of runtimes through a foreach body (its edges stay on one worker: no transfer). */
function bodyCriticalPathMs(g: IndexedGraph): number {
  const finish = new Float64Array(g.ids.length);
  let longest = 0;
  for (const v of g.topo) {
    let start = 0;
    for (let i = g.inStart[v]!; i < g.inStart[v + 1]!; i++) {
      start = Math.max(start, finish[g.edgeFrom[g.inEdges[i]!]!]!);
    }
    finish[v] = start + g.runtimeMs[v]!;
    longest = Math.max(longest, finish[v]);
  }
  return longest;
}

/** The most cores the nodes of one level ask for together. */
function peakLevelCpu(g: IndexedGraph): number {
  const perLevel = new Map<number, number>();
  let peak = 0;
  for (let v = 0; v < g.ids.length; v++) {
    const sum = (perLevel.get(g.level[v]!) ?? 0) + g.cpu[v]!;
    perLevel.set(g.level[v]!, sum);
    peak = Math.max(peak, sum);
  }
  return peak;
}

function invalid(where: string, message: string): never {
  const scope = where === '' ? '' : ` (in ${where.replace(/\.$/, '')})`;
  throw new AppError('WORKFLOW_INVALID', `cannot partition: ${message}${scope}`);
}
