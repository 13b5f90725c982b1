/**
 * The learner's read side (pure): a trained snapshot bound to a workflow's variants, ranking
 * candidates for a context (expected reward and its uncertainty, in the reward's own units).
 */
import { crossFeatures, embedGraph, type FeatureSpace } from './features.js';
import { posteriorFor, solveLower, type ModelSnapshot, type Posterior } from './model.js';
import type { Variant } from './types.js';

export interface BoundModel {
  space: FeatureSpace;
  snapshot: ModelSnapshot;
  /** Graph embeddings by variant index, from the snapshot's function measurements. */
  graphs: Float64Array[];
}

export function bindModel(
  space: FeatureSpace,
  variants: readonly Variant[],
  snapshot: ModelSnapshot,
): BoundModel {
  return {
    space,
    snapshot,
    graphs: variants.map((v) => embedGraph(space, v.graph, snapshot.functions)),
  };
}

export interface Ranked {
  index: number;
  /** Posterior mean of the reward. */
  expected: number;
  /** Posterior standard deviation of the mean reward. */
  uncertainty: number;
}

export function rank(
  m: BoundModel,
  subTenant: string,
  candidates: readonly number[],
  context: Float64Array,
  topN: number,
): Ranked[] {
  const p: Posterior = posteriorFor(m.snapshot, subTenant);
  const d = m.space.dim;
  const phi = new Float64Array(d);
  const out = candidates.map((index) => {
    crossFeatures(m.space, m.graphs[index]!, context, phi);
    let mean = 0;
    for (let k = 0; k < d; k++) mean += phi[k]! * p.mean[k]!;
    const v = solveLower(p.chol, phi, d);
    let s2 = 0;
    for (let k = 0; k < d; k++) s2 += v[k]! * v[k]!;
    return {
      index,
      expected: m.snapshot.rewardMean + m.snapshot.rewardStd * mean,
      uncertainty: m.snapshot.rewardStd * Math.sqrt(s2),
    };
  });
  out.sort((a, b) => b.expected - a.expected || a.index - b.index);
  return out.slice(0, Math.max(1, topN));
}
