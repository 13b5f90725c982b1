/**
 * Lays a workflow's DAG out for drawing, with dagre: top-level nodes only (a foreach is one
 * node; its body is listed on it), each with its shape's size and its partition group, and
 * each edge as a polyline with its switch branch's label. Pure data in and out (dagre computes
 * in memory), so unit tests check it without a browser.
 */
import dagre from '@dagrejs/dagre';
import type { DagNode, WorkflowDag } from '../../shared/dag/types.js';

export type Shape = 'task' | 'pass' | 'switch' | 'foreach';

export interface LaidNode {
  id: string;
  shape: Shape;
  label: string;
  /** A second line: the function, the foreach's body, the switch's cases. */
  detail: string;
  /** Index into the partition's groups; -1 when the node is in none. */
  group: number;
  /** Centre and size, px. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidEdge {
  from: string;
  to: string;
  /** The switch case the edge belongs to, e.g. `flagged` or `default`; absent off switches. */
  label?: string;
  points: { x: number; y: number }[];
  /** Label centre. */
  labelAt?: { x: number; y: number };
}

export interface DagLayout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
}

/** Box sizes per shape, px: pass nodes are small, switches need room for a diamond. */
const SIZE: Record<Shape, { width: number; height: number }> = {
  task: { width: 132, height: 40 },
  pass: { width: 64, height: 22 },
  switch: { width: 112, height: 60 },
  foreach: { width: 184, height: 48 },
};

export function layoutDag(dag: WorkflowDag, groups: readonly (readonly string[])[]): DagLayout {
  const groupOf = new Map<string, number>();
  groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
  const g = new dagre.graphlib.Graph<Record<string, unknown>, { width: number; height: number }>({
    multigraph: true,
  });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 44, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const byId = new Map(dag.nodes.map((n) => [n.id as string, n]));
  for (const n of dag.nodes) g.setNode(n.id, { ...SIZE[n.kind] });
  dag.edges.forEach((e, i) => {
    const label = branchLabel(byId.get(e.from), e.branch);
    g.setEdge(
      e.from,
      e.to,
      label === undefined
        ? { width: 0, height: 0 }
        : { width: label.length * 6.5 + 8, height: 14, labelpos: 'c' },
      String(i),
    );
  });
  dagre.layout(g);
  const nodes = dag.nodes.map((n): LaidNode => {
    const at = g.node(n.id) as { x: number; y: number; width: number; height: number };
    return {
      id: n.id,
      shape: n.kind,
      label: n.id,
      detail: detail(n),
      group: groupOf.get(n.id) ?? -1,
      x: at.x,
      y: at.y,
      width: at.width,
      height: at.height,
    };
  });
  const edges = dag.edges.map((e, i): LaidEdge => {
    const at = g.edge({ v: e.from, w: e.to, name: String(i) }) as {
      points?: { x: number; y: number }[];
      x?: number;
      y?: number;
    };
    const label = branchLabel(byId.get(e.from), e.branch);
    return {
      from: e.from,
      to: e.to,
      points: at.points ?? [],
      ...(label !== undefined ? { label } : {}),
      ...(label !== undefined && at.x !== undefined && at.y !== undefined
        ? { labelAt: { x: at.x, y: at.y } }
        : {}),
    };
  });
  const graph = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: graph.width ?? 0, height: graph.height ?? 0 };
}

/** The case an edge leaving a switch stands for: its `when`, `default`, or `no match`. */
function branchLabel(from: DagNode | undefined, branch: number | undefined): string | undefined {
  if (branch === undefined || from?.kind !== 'switch') return undefined;
  if (branch < 0) return 'no match';
  const c = from.cases[branch];
  if (!c) return `case ${branch}`;
  return c.when === null ? 'default' : truncate(c.when, 28);
}

function detail(n: DagNode): string {
  switch (n.kind) {
    case 'task':
      return n.fn === n.id ? '' : n.fn;
    case 'pass':
      return '';
    case 'switch':
      return `${n.cases.length} cases`;
    case 'foreach': {
      const fns = n.body.nodes.map((b) => (b.kind === 'task' ? b.fn : b.kind));
      return truncate(`each ${n.items} → ${fns.join(', ')}`, 30);
    }
  }
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
