/**
 * Our partitioner: FaaSFlow's critical-path grouping, then the merges FaaSFlow leaves on the
 * table.
 *
 * 1. Critical path: recompute the longest path, merge the edges on it that still fit, heaviest
 *    first; repeat until a path yields no merge.
 * 2. Heaviest edges anywhere: once the critical path is blocked, FaaSFlow stops (its Genome
 *    grouping keeps ~5 of ~177 MB local). We go on over all edges, heaviest first (ties by
 *    (from, to)), merging while capacity and the in-memory quota allow.
 * 3. With one worker, groups that share no edge are packed together as well.
 *
 * Phase 1 is greedy, and two greedy starts do not dominate each other: merging every fitting edge
 * of a path by its own bytes (our start) usually keeps far more data local, but on some DAGs
 * FaaSFlow's one-merge-per-path by producer size leaves room for a heavier edge later. So both
 * starts are run through phases 2–3 and the grouping that keeps more bytes local wins (then the
 * shorter critical path, then our start). Phases 2–3 only add merges to FaaSFlow's grouping, so
 * the result never keeps fewer bytes local than `partitionFaasflow` — by construction, not by
 * luck. Each start costs at most O(rounds × (V + E)) (the critical path is updated incrementally
 * between rounds); FaaSFlow's start needs one round per merge and dominates the time: about
 * 0.5 ms for 200 nodes and 0.3–0.4 s for 10,000 on a 2-core machine (`faasflow bench partition`).
 *
 * Deterministic: nodes and edges are renumbered in id order before anything else, and every tie
 * is broken by that numbering, so shuffled inputs give identical results.
 */
import type { WorkflowDag } from '../../shared/dag/types.js';
import { transferMs } from './critical-path.js';
import { nodeWeightsMs } from './faasflow.js';
import { indexGraph, type IndexedGraph } from './graph.js';
import { Groups } from './groups.js';
import {
  resolveOptions,
  type PartitionOptions,
  type PartitionResult,
  type ResolvedOptions,
} from './options.js';
import { mergeAlongCriticalPaths, mergeHeaviestEdges, packUnrelatedGroups } from './phases.js';
import { buildResult, scoreGrouping, type Grouping } from './result.js';

export function partition(dag: WorkflowDag, options: PartitionOptions): PartitionResult {
  const resolved = resolveOptions(options);
  const graph = indexGraph(dag, dag.functions);
  const edgeMs = transferMs(graph.edgeBytes, resolved.bandwidthBytesPerSec);
  const ours = complete(graph, resolved, edgeMs, 'all', edgeMs);
  const faasflowStart = nodeWeightsMs(graph, resolved.bandwidthBytesPerSec);
  const theirs = complete(graph, resolved, faasflowStart, 'first', edgeMs);
  return buildResult(graph, better(ours, theirs));
}

/** Phase 1 with the given weights and merges per path, then phases 2 and 3. */
function complete(
  graph: IndexedGraph,
  options: ResolvedOptions,
  weightMs: Float64Array,
  perRound: 'first' | 'all',
  edgeMs: Float64Array,
): Grouping {
  const groups = new Groups(graph, options);
  mergeAlongCriticalPaths(graph, groups, weightMs, perRound);
  mergeHeaviestEdges(graph, groups);
  if (options.workers === 1) packUnrelatedGroups(graph, groups);
  return scoreGrouping(graph, groups, edgeMs);
}

/** More bytes local, then the shorter critical path, then the first. */
function better(a: Grouping, b: Grouping): Grouping {
  if (a.localBytes !== b.localBytes) return a.localBytes > b.localBytes ? a : b;
  return b.criticalPathMs < a.criticalPathMs ? b : a;
}
