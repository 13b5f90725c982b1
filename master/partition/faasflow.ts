/**
 * FaaSFlow's grouping (its master's `grouping.py`), reproduced as the baseline ours is measured
 * against. Every node starts alone; each round computes the critical path, walks its edges from
 * the heaviest down and merges the first one whose groups fit; the first round that merges nothing
 * ends it.
 *
 * Kept from FaaSFlow: one merge per critical path; an edge's weight is its producer's whole output
 * (FaaSFlow's `send_byte`, the same for every edge leaving a node; for pass, switch and foreach
 * nodes, which declare no output of their own, the largest edge leaving them) ÷ bandwidth.
 * Changed, so the comparison is about the search and not about bookkeeping: ties are broken by
 * node id and (from, to) instead of Python's salted hash order; in-group edges weigh 0 (FaaSFlow:
 * 1/15 of the network time); groups
 * obey the same capacity rule as ours (groups.ts) instead of FaaSFlow's per-worker `scale` and
 * workflow-wide memory budget.
 */
import type { WorkflowDag } from '../../shared/dag/types.js';
import { transferMs } from './critical-path.js';
import { indexGraph, type IndexedGraph } from './graph.js';
import { Groups } from './groups.js';
import { resolveOptions, type PartitionOptions, type PartitionResult } from './options.js';
import { mergeAlongCriticalPaths } from './phases.js';
import { buildResult, scoreGrouping } from './result.js';

export function partitionFaasflow(dag: WorkflowDag, options: PartitionOptions): PartitionResult {
  const resolved = resolveOptions(options);
  const graph = indexGraph(dag, dag.functions);
  const groups = new Groups(graph, resolved);
  mergeAlongCriticalPaths(
    graph,
    groups,
    nodeWeightsMs(graph, resolved.bandwidthBytesPerSec),
    'first',
  );
  const edgeMs = transferMs(graph.edgeBytes, resolved.bandwidthBytesPerSec);
  return buildResult(graph, scoreGrouping(graph, groups, edgeMs));
}

/** FaaSFlow's edge weights: the producer's whole output, whichever consumer the edge feeds. */
export function nodeWeightsMs(graph: IndexedGraph, bandwidthBytesPerSec: number): Float64Array {
  const perEdge = new Float64Array(graph.edgeFrom.length);
  for (let e = 0; e < perEdge.length; e++) perEdge[e] = graph.sendBytes[graph.edgeFrom[e]!]!;
  return transferMs(perEdge, bandwidthBytesPerSec);
}
