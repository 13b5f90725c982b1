/**
 * Plain graph algorithms over `WorkflowDag` shapes: topological order, cycle finding, and the
 * normal form the compiler emits (sorted nodes and edges, sources and sinks). Pure, no I/O.
 */
import type { NodeId } from '../ids.js';
import type { DagEdge, DagNode, WorkflowDag } from './types.js';

export interface Adjacency {
  children: Map<NodeId, NodeId[]>;
  parents: Map<NodeId, NodeId[]>;
}

export function adjacency(nodes: readonly { id: NodeId }[], edges: readonly DagEdge[]): Adjacency {
  const children = new Map<NodeId, NodeId[]>();
  const parents = new Map<NodeId, NodeId[]>();
  for (const n of nodes) {
    children.set(n.id, []);
    parents.set(n.id, []);
  }
  for (const e of edges) {
    children.get(e.from)?.push(e.to);
    parents.get(e.to)?.push(e.from);
  }
  return { children, parents };
}

/**
 * Kahn's algorithm with a sorted ready set, so the order is deterministic.
 * Returns `null` order and one cycle (as a closed list of node ids) when the graph has one.
 */
export function topologicalOrder(
  nodes: readonly { id: NodeId }[],
  edges: readonly DagEdge[],
): { order: NodeId[]; cycle: null } | { order: null; cycle: NodeId[] } {
  const { children, parents } = adjacency(nodes, edges);
  const indegree = new Map<NodeId, number>();
  for (const [id, ps] of parents) indegree.set(id, ps.length);
  const ready = [...indegree].filter(([, d]) => d === 0).map(([id]) => id);
  ready.sort(compareIds).reverse();
  const order: NodeId[] = [];
  while (ready.length > 0) {
    const id = ready.pop()!;
    order.push(id);
    const next: NodeId[] = [];
    for (const c of children.get(id) ?? []) {
      const d = (indegree.get(c) ?? 0) - 1;
      indegree.set(c, d);
      if (d === 0) next.push(c);
    }
    if (next.length > 0) {
      ready.push(...next);
      ready.sort(compareIds).reverse();
    }
  }
  if (order.length === nodes.length) return { order, cycle: null };
  return { order: null, cycle: findCycle(nodes, children, new Set(order)) };
}

function findCycle(
  nodes: readonly { id: NodeId }[],
  children: Map<NodeId, NodeId[]>,
  acyclic: Set<NodeId>,
): NodeId[] {
  // Iterative DFS restricted to nodes Kahn could not order; every such node reaches a cycle.
  const state = new Map<NodeId, 1 | 2>();
  const starts = nodes
    .map((n) => n.id)
    .filter((id) => !acyclic.has(id))
    .sort(compareIds);
  for (const start of starts) {
    if (state.has(start)) continue;
    const stack: { id: NodeId; next: number }[] = [{ id: start, next: 0 }];
    const onPath: NodeId[] = [start];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const kids = (children.get(top.id) ?? []).filter((c) => !acyclic.has(c));
      if (top.next < kids.length) {
        const child = kids[top.next++]!;
        const s = state.get(child);
        if (s === 1) {
          const from = onPath.indexOf(child);
          return [...onPath.slice(from), child];
        }
        if (s === undefined) {
          state.set(child, 1);
          stack.push({ id: child, next: 0 });
          onPath.push(child);
        }
      } else {
        state.set(top.id, 2);
        stack.pop();
        onPath.pop();
      }
    }
  }
  return [];
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareEdges(a: DagEdge, b: DagEdge): number {
  return compareIds(a.from, b.from) || compareIds(a.to, b.to);
}

/** Sorts nodes and edges and fills `sources` and `sinks`: the normal form of a compiled DAG. */
export function normalize(
  dag: Omit<WorkflowDag, 'sources' | 'sinks'> & Partial<Pick<WorkflowDag, 'sources' | 'sinks'>>,
): WorkflowDag {
  const nodes = [...dag.nodes].sort((a, b) => compareIds(a.id, b.id));
  const edges = [...dag.edges].sort(compareEdges);
  const hasParent = new Set(edges.map((e) => e.to));
  const hasChild = new Set(edges.map((e) => e.from));
  return {
    ...dag,
    nodes,
    edges,
    sources: nodes.filter((n) => !hasParent.has(n.id)).map((n) => n.id),
    sinks: nodes.filter((n) => !hasChild.has(n.id)).map((n) => n.id),
  };
}

export function nodeMap(dag: Pick<WorkflowDag, 'nodes'>): Map<NodeId, DagNode> {
  return new Map(dag.nodes.map((n) => [n.id, n]));
}

/** Nodes referenced by an input template. */
export function templateNodes(
  t: WorkflowDag['output'],
  into: Set<NodeId> = new Set(),
): Set<NodeId> {
  switch (t.kind) {
    case 'node':
      into.add(t.node);
      break;
    case 'array':
    case 'merge':
      for (const i of t.items) templateNodes(i, into);
      break;
    case 'first':
      for (const i of t.options) templateNodes(i, into);
      break;
    case 'object':
      for (const i of Object.values(t.fields)) templateNodes(i, into);
      break;
    case 'input':
    case 'const':
      break;
  }
  return into;
}
