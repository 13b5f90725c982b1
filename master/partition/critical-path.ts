/**
 * Longest path through the DAG for a given grouping: node runtimes plus the transfer time of every
 * edge that crosses groups (an edge inside a group weighs 0: its data stays in memory).
 * O(V + E) over the precomputed topological order; buffers are reused between calls because the
 * partitioner recomputes the path after every round of merges.
 *
 * Ties are broken by index so the path never depends on input order: a node's predecessor on the
 * path is its lowest-numbered in-edge among the longest, and the path ends at the lowest-numbered
 * node among those that finish last.
 */
import type { IndexedGraph } from './graph.js';

export interface CriticalPath {
  lengthMs: number;
  /** Edge indices on the path, from its last edge back to its first. */
  edges: number[];
}

export class CriticalPathSolver {
  private readonly finishMs: Float64Array;
  private readonly via: Int32Array;

  constructor(private readonly graph: IndexedGraph) {
    this.finishMs = new Float64Array(graph.ids.length);
    this.via = new Int32Array(graph.ids.length);
  }

  /** `weightMs[e]`: transfer time of edge e when it crosses groups; `root[v]`: v's group. */
  solve(weightMs: Float64Array, root: Int32Array): CriticalPath {
    const { topo, inStart, inEdges, edgeFrom, runtimeMs } = this.graph;
    const finishMs = this.finishMs;
    const via = this.via;
    for (let t = 0; t < topo.length; t++) {
      const v = topo[t]!;
      let startMs = 0;
      let best = -1;
      const group = root[v]!;
      for (let i = inStart[v]!; i < inStart[v + 1]!; i++) {
        const e = inEdges[i]!;
        const u = edgeFrom[e]!;
        const arrivalMs = finishMs[u]! + (root[u] === group ? 0 : weightMs[e]!);
        if (best === -1 || arrivalMs > startMs) {
          startMs = arrivalMs;
          best = e;
        }
      }
      finishMs[v] = startMs + runtimeMs[v]!;
      via[v] = best;
    }
    let end = -1;
    let lengthMs = 0;
    for (let v = 0; v < finishMs.length; v++) {
      if (end === -1 || finishMs[v]! > lengthMs) {
        end = v;
        lengthMs = finishMs[v]!;
      }
    }
    const edges: number[] = [];
    for (let v = end; v !== -1 && via[v] !== -1; v = edgeFrom[via[v]!]!) edges.push(via[v]!);
    return { lengthMs, edges };
  }
}

/** Transfer time of each edge's bytes at `bandwidthBytesPerSec`, in ms. */
export function transferMs(bytes: Float64Array, bandwidthBytesPerSec: number): Float64Array {
  const out = new Float64Array(bytes.length);
  for (let e = 0; e < bytes.length; e++) out[e] = (bytes[e]! / bandwidthBytesPerSec) * 1000;
  return out;
}
