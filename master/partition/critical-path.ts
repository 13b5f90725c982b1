/**
 * Longest path through the DAG for a given grouping: node runtimes plus the transfer time of every
 * edge that crosses groups (an edge inside a group weighs 0: its data stays in memory).
 *
 * `solve` is O(V + E) over the precomputed topological order. `update` redoes only what a round
 * of merges changed: it sweeps the topological order from the first node an edge that became
 * local points at, recomputing only nodes whose in-edges or parents changed.
 * Both compute each node from its in-edges in the same order, so an update gives bit-for-bit the
 * result a full solve would.
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
  /** Nodes whose in-edges or parents changed since they were last computed. */
  private readonly dirty: Uint8Array;

  constructor(private readonly graph: IndexedGraph) {
    const n = graph.ids.length;
    this.finishMs = new Float64Array(n);
    this.via = new Int32Array(n);
    this.dirty = new Uint8Array(n);
  }

  /** `weightMs[e]`: transfer time of edge e when it crosses groups; `root[v]`: v's group. */
  solve(weightMs: Float64Array, root: Int32Array): CriticalPath {
    const topo = this.graph.topo;
    for (let t = 0; t < topo.length; t++) this.recompute(topo[t]!, weightMs, root);
    return this.path();
  }

  /**
   * After `solve` (or `update`) with the same weights: the edges in `madeLocal` now have both
   * ends in one group (per `root`), and nothing else changed.
   */
  update(weightMs: Float64Array, root: Int32Array, madeLocal: readonly number[]): CriticalPath {
    const { edgeTo, topo, topoPosition, outStart } = this.graph;
    const dirty = this.dirty;
    let from = topo.length;
    for (const e of madeLocal) {
      const v = edgeTo[e]!;
      dirty[v] = 1;
      from = Math.min(from, topoPosition[v]!);
    }
    // One sweep in topological order from the first touched node, recomputing only nodes with a
    // changed parent: cheaper than a heap, and each node is visited after all of its parents.
    for (let t = from; t < topo.length; t++) {
      const v = topo[t]!;
      if (dirty[v] === 0) continue;
      dirty[v] = 0;
      if (!this.recompute(v, weightMs, root)) continue;
      for (let e = outStart[v]!; e < outStart[v + 1]!; e++) dirty[edgeTo[e]!] = 1;
    }
    return this.path();
  }

  /** Recomputes v from its in-edges; says whether its finish time changed. */
  private recompute(v: number, weightMs: Float64Array, root: Int32Array): boolean {
    const { inStart, inEdges, edgeFrom, runtimeMs } = this.graph;
    const finishMs = this.finishMs;
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
    this.via[v] = best;
    const finish = startMs + runtimeMs[v]!;
    if (finish === finishMs[v]) return false;
    finishMs[v] = finish;
    return true;
  }

  private path(): CriticalPath {
    const { finishMs, via } = this;
    const edgeFrom = this.graph.edgeFrom;
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
