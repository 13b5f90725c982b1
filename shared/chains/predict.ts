/**
 * What the chain model predicts (pure reads of `model.ts`): branch and node-run probabilities
 * for a context, start offsets, cold-start time and memory per function, and the successor
 * chains of a workflow ranked by their chain score.
 *
 * The chain score (docs/guides/chains.md): a score per chain mined from the execution logs,
 * its edges weighted by how often they ran, computed as frequency × confidence × recency: P(B | A) from the decayed counts, n/(n + k) for how much
 * evidence there is, and exp(−age/τ) since B last followed A. The score's other two factors,
 * resource demand and latency sensitivity, are weighed by the planner (`planner.ts`), which
 * prices each prepare by the critical-path time it saves against the memory-seconds it holds.
 */
import type { NodeId } from '../ids.js';
import type { WorkflowDag } from '../dag/types.js';
import { topologicalOrder } from '../dag/graph.js';
import { digestQuantile, digestWeight } from './digest.js';
import { ALL_CONTEXTS, type ChainModel } from './model.js';

/** Pseudo-count per branch (Laplace prior): an unseen branch is unlikely, never impossible. */
const BRANCH_PRIOR = 0.5;

export interface BranchEstimate {
  /** Branch index (as a string) → probability; sums to 1. */
  probabilities: Record<string, number>;
  /** Decayed observations behind the estimate. */
  samples: number;
  /** The bucket the estimate came from (`*` when the context had too few samples). */
  bucket: string;
}

/** The branches a switch's edges carry, sorted. */
export function switchBranches(dag: WorkflowDag, id: string): number[] {
  const set = new Set<number>();
  for (const e of dag.edges) if (e.from === id && e.branch !== undefined) set.add(e.branch);
  return [...set].sort((a, b) => a - b);
}

/**
 * Branch probabilities of switch `id` in `context`: that bucket's counts when it has at least
 * `minSamples` decayed observations, else every context's; uniform with no observation at all.
 */
export function branchProbabilities(
  model: ChainModel,
  dag: WorkflowDag,
  id: string,
  context: string = ALL_CONTEXTS,
  minSamples = 3,
): BranchEstimate {
  const branches = switchBranches(dag, id);
  const sw = model.workflows[dag.name]?.switches[id];
  const total = (b: string): number => Object.values(sw?.[b] ?? {}).reduce((s, c) => s + c, 0);
  const bucket = total(context) >= minSamples ? context : ALL_CONTEXTS;
  const counts = sw?.[bucket] ?? {};
  const samples = total(bucket);
  const denom = samples + BRANCH_PRIOR * branches.length;
  const probabilities: Record<string, number> = {};
  for (const b of branches)
    probabilities[String(b)] =
      denom > 0 ? ((counts[String(b)] ?? 0) + BRANCH_PRIOR) / denom : 1 / branches.length;
  return { probabilities, samples, bucket };
}

/**
 * P(node runs) for every node, in topological order: a source runs; an edge from a switch is
 * live with P(switch) × P(branch); any other edge with P(parent). A node runs when any parent
 * edge is live; the largest edge probability is used (exact along a chain, a lower bound at a
 * join, where the join runs anyway unless every parent was skipped).
 */
export function runProbabilities(
  model: ChainModel,
  dag: WorkflowDag,
  context: string = ALL_CONTEXTS,
): Map<NodeId, number> {
  const p = new Map<NodeId, number>();
  const { order } = topologicalOrder(dag.nodes, dag.edges);
  const branchP = new Map<string, BranchEstimate>();
  for (const n of dag.nodes)
    if (n.kind === 'switch') branchP.set(n.id, branchProbabilities(model, dag, n.id, context));
  const incoming = new Map<NodeId, typeof dag.edges>();
  for (const e of dag.edges) {
    const list = incoming.get(e.to) ?? [];
    list.push(e);
    incoming.set(e.to, list);
  }
  for (const id of order ?? dag.nodes.map((n) => n.id)) {
    const edges = incoming.get(id) ?? [];
    if (edges.length === 0) {
      p.set(id, 1);
      continue;
    }
    let best = 0;
    for (const e of edges) {
      const from = p.get(e.from) ?? 1;
      const live =
        e.branch === undefined
          ? from
          : from * (branchP.get(e.from)?.probabilities[String(e.branch)] ?? 1);
      best = Math.max(best, live);
    }
    p.set(id, best);
  }
  return p;
}

/** The `q`-quantile of node `id`'s start offset from the invocation start, ms; null if unseen. */
export function startOffsetMs(
  model: ChainModel,
  workflow: string,
  id: string,
  q: number,
): number | null {
  const n = model.workflows[workflow]?.nodes[id];
  return n ? digestQuantile(n.startMs, q) : null;
}

/** How many items foreach node `id` runs, by its decayed mean; null before any run. */
export function foreachWidth(model: ChainModel, workflow: string, id: string): number | null {
  const w = model.workflows[workflow]?.nodes[id]?.width;
  return w && w.weight > 0 ? w.mean : null;
}

export interface FunctionEstimate {
  /** Cold-start time, ms: measured init time, else cold run − warm run, else the default. */
  coldMs: number;
  /** Warm run time, ms: measured, else the catalogue's runtime estimate. */
  warmMs: number;
  memoryMb: number;
  /** Whether the cold-start time was measured (not the default). */
  measured: boolean;
  /**
   * The cold-start time a prepare is timed by: the high quantile (p90) of the measured ones once
   * there are enough of them, else `coldMs`.
   */
  coldHighMs: number;
}

/** Quantile of the measured start times a prepare is timed by. */
export const COLD_TIMING_QUANTILE = 0.9;
/** Measured starts (decayed weight) before their quantile is trusted. */
const COLD_QUANTILE_MIN_WEIGHT = 5;

export function functionEstimate(
  model: ChainModel,
  dag: WorkflowDag,
  fn: string,
  defaultColdMs: number,
): FunctionEstimate {
  const spec = dag.functions[fn];
  const f = model.workflows[dag.name]?.functions[fn];
  const warmMs = f && f.warmMs.weight > 0 ? f.warmMs.mean : (spec?.runtimeMs ?? 0);
  let coldMs = defaultColdMs;
  let measured = false;
  if (f && f.initMs.weight > 0) {
    coldMs = f.initMs.mean;
    measured = true;
  } else if (f && f.coldRunMs.weight > 0 && f.warmMs.weight > 0) {
    coldMs = Math.max(0, f.coldRunMs.mean - f.warmMs.mean);
    measured = true;
  }
  const memoryMb = f && f.memoryMb.weight > 0 ? f.memoryMb.mean : (spec?.memoryMb ?? 256);
  const high =
    f?.initQ && digestWeight(f.initQ) >= COLD_QUANTILE_MIN_WEIGHT
      ? digestQuantile(f.initQ, COLD_TIMING_QUANTILE)
      : null;
  return { coldMs, warmMs, memoryMb, measured, coldHighMs: Math.max(coldMs, high ?? coldMs) };
}

export interface SuccessorChain {
  workflow: string;
  /** P(B follows A within Δ), from decayed counts. */
  probability: number;
  /** n / (n + k): how much evidence backs the probability. */
  confidence: number;
  /** exp(−age / τ) since B last followed A. */
  recency: number;
  /** probability × confidence × recency. */
  score: number;
  /** Low, median and high gap from A's start to B's start, ms; null with no gap seen. */
  gapMs: { low: number; median: number; high: number } | null;
  /** Share of the links made by session id (the rest by time adjacency). */
  sessionShare: number;
}

export interface SuccessorOptions {
  /** τ of the recency factor, ms. Default one hour. */
  recencyMs?: number;
  /** k of the confidence factor. Default 5. */
  confidenceK?: number;
  /** Quantile taken as the low gap. Default 0.1. */
  lowQuantile?: number;
  /** Quantile taken as the high gap. Default 0.98. */
  highQuantile?: number;
}

/** The successor chains of `workflow`, best score first (ties by name). */
export function successorChains(
  model: ChainModel,
  workflow: string,
  nowMs: number,
  o: SuccessorOptions = {},
): SuccessorChain[] {
  const from = model.successors[workflow];
  if (!from || from.seen <= 0) return [];
  const tau = o.recencyMs ?? 3_600_000;
  const k = o.confidenceK ?? 5;
  const confidence = from.seen / (from.seen + k);
  const out: SuccessorChain[] = [];
  for (const [name, s] of Object.entries(from.to)) {
    const probability = Math.min(1, s.weight / from.seen);
    const recency = Math.exp(-Math.max(0, nowMs - s.lastAt) / tau);
    const low = digestQuantile(s.gapMs, o.lowQuantile ?? 0.1);
    const median = digestQuantile(s.gapMs, 0.5);
    const high = digestQuantile(s.gapMs, o.highQuantile ?? 0.98);
    out.push({
      workflow: name,
      probability,
      confidence,
      recency,
      score: probability * confidence * recency,
      gapMs: low === null || median === null || high === null ? null : { low, median, high },
      sessionShare: s.weight > 0 ? s.bySession / s.weight : 0,
    });
  }
  return out.sort((a, b) => b.score - a.score || (a.workflow < b.workflow ? -1 : 1));
}
