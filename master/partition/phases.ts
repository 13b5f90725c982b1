/**
 * The merge steps both partitioners are built from. Each takes the indexed graph and a `Groups`
 * and only ever merges (never splits), so the steps compose: whatever one step made local stays
 * local after the next.
 */
import { CriticalPathSolver } from './critical-path.js';
import type { IndexedGraph } from './graph.js';
import type { Groups } from './groups.js';

/**
 * FaaSFlow's loop: find the critical path, walk its cross-group edges from the heaviest down and
 * merge; stop when a whole path yields no merge. `perRound: 'first'` merges one edge per path as
 * FaaSFlow does; `'all'` merges every edge of the path that still fits, which gives the same kind
 * of grouping with far fewer path recomputations on large DAGs.
 */
export function mergeAlongCriticalPaths(
  graph: IndexedGraph,
  groups: Groups,
  weightMs: Float64Array,
  perRound: 'first' | 'all',
): void {
  const solver = new CriticalPathSolver(graph);
  const root = new Int32Array(graph.ids.length);
  const { edgeFrom, edgeTo } = graph;
  const byWeight = (a: number, b: number): number => weightMs[b]! - weightMs[a]! || a - b;
  groups.fillRoots(root);
  let path = solver.solve(weightMs, root);
  while (groups.count > 1) {
    const candidates = path.edges.filter((e) => root[edgeFrom[e]!] !== root[edgeTo[e]!]);
    candidates.sort(byWeight);
    const madeLocal: number[] = [];
    for (const e of candidates) {
      const a = root[edgeFrom[e]!]!;
      const b = root[edgeTo[e]!]!;
      if (a === b || !groups.canMerge(a, b)) continue;
      collectEdgesBetween(graph, groups, root, a, b, madeLocal);
      const merged = groups.merge(a, b);
      groups.forEachMember(merged, (v) => {
        root[v] = merged;
      });
      if (perRound === 'first') break;
    }
    if (madeLocal.length === 0) return;
    path = solver.update(weightMs, root, madeLocal);
  }
}

/** Appends the edges between groups `a` and `b` (roots, per `root`), scanning the smaller one. */
function collectEdgesBetween(
  graph: IndexedGraph,
  groups: Groups,
  root: Int32Array,
  a: number,
  b: number,
  into: number[],
): void {
  const [small, other] = groups.sizeOf(a) <= groups.sizeOf(b) ? [a, b] : [b, a];
  const { inStart, inEdges, outStart, edgeFrom, edgeTo } = graph;
  groups.forEachMember(small, (v) => {
    for (let i = inStart[v]!; i < inStart[v + 1]!; i++) {
      if (root[edgeFrom[inEdges[i]!]!] === other) into.push(inEdges[i]!);
    }
    for (let e = outStart[v]!; e < outStart[v + 1]!; e++) {
      if (root[edgeTo[e]!] === other) into.push(e);
    }
  });
}

/**
 * Kruskal-style: every edge, heaviest first (ties by (from, to)), merges its two groups when they
 * fit. One pass suffices: groups only grow and every demand only grows with them, so a pair that
 * did not fit never fits later.
 */
export function mergeHeaviestEdges(graph: IndexedGraph, groups: Groups): void {
  const bytes = graph.edgeBytes;
  const order = Array.from({ length: bytes.length }, (_, e) => e);
  order.sort((a, b) => bytes[b]! - bytes[a]! || a - b);
  for (const e of order) {
    if (groups.count === 1) return;
    groups.tryMerge(graph.edgeFrom[e]!, graph.edgeTo[e]!);
  }
}

/**
 * With a single worker every group lands on it anyway, so groups that share no edge are packed
 * together too (next-fit in order of their first node): a workflow that fits one worker becomes
 * one group.
 */
export function packUnrelatedGroups(graph: IndexedGraph, groups: Groups): void {
  const firsts: number[] = [];
  const seen = new Set<number>();
  for (let v = 0; v < graph.ids.length; v++) {
    const r = groups.find(v);
    if (!seen.has(r)) {
      seen.add(r);
      firsts.push(v);
    }
  }
  let open = firsts[0];
  for (const v of firsts.slice(1)) {
    if (open === undefined || !groups.tryMerge(open, v)) open = v;
  }
}
