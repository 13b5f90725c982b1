/**
 * Scores a finished grouping and turns it into the plain `PartitionResult`: groups in node-id
 * order, every edge with its locality, the byte totals and the critical path of the final
 * grouping (measured with the real per-edge bytes, whatever weights the algorithm merged by).
 */
import { CriticalPathSolver } from './critical-path.js';
import type { IndexedGraph } from './graph.js';
import type { Groups } from './groups.js';
import type { PartitionEdge, PartitionResult } from './options.js';
import type { NodeId } from '../../shared/ids.js';

export interface Grouping {
  /** Group root of each node. */
  root: Int32Array;
  localBytes: number;
  criticalPathMs: number;
}

export function scoreGrouping(graph: IndexedGraph, groups: Groups, edgeMs: Float64Array): Grouping {
  const root = new Int32Array(graph.ids.length);
  groups.fillRoots(root);
  let localBytes = 0;
  for (let e = 0; e < graph.edgeFrom.length; e++) {
    if (root[graph.edgeFrom[e]!] === root[graph.edgeTo[e]!]) localBytes += graph.edgeBytes[e]!;
  }
  const criticalPathMs = new CriticalPathSolver(graph).solve(edgeMs, root).lengthMs;
  return { root, localBytes, criticalPathMs };
}

export function buildResult(graph: IndexedGraph, grouping: Grouping): PartitionResult {
  const { root } = grouping;
  // Visiting nodes in id order numbers groups by their first node and keeps each one sorted.
  const indexOfRoot = new Map<number, number>();
  const groups: NodeId[][] = [];
  const groupOf: Record<string, number> = {};
  for (let v = 0; v < graph.ids.length; v++) {
    let g = indexOfRoot.get(root[v]!);
    if (g === undefined) {
      g = groups.length;
      indexOfRoot.set(root[v]!, g);
      groups.push([]);
    }
    groups[g]!.push(graph.ids[v]!);
    groupOf[graph.ids[v]!] = g;
  }

  const edges: PartitionEdge[] = [];
  let totalBytes = 0;
  for (let e = 0; e < graph.edgeFrom.length; e++) {
    const u = graph.edgeFrom[e]!;
    const v = graph.edgeTo[e]!;
    const bytes = graph.edgeBytes[e]!;
    edges.push({ from: graph.ids[u]!, to: graph.ids[v]!, bytes, local: root[u] === root[v] });
    totalBytes += bytes;
  }
  return {
    groups,
    groupOf,
    edges,
    localBytes: grouping.localBytes,
    totalBytes,
    criticalPathMs: grouping.criticalPathMs,
  };
}
