/**
 * The thesis's model metrics (Fotouhi 2024, §4.1), as pure functions:
 *
 * - Prediction error (§4.1.1): ΔP = |predicted − actual|. We report its mean and its mean as a
 *   percentage of the actual value (over the pairs whose actual value is > 0).
 * - Model accuracy (§4.1.2): with P the predicted CPU or RAM demand, ΔP its prediction error and
 *   A(P) the smallest allocation of the grid that is ≥ P, a prediction is *accurate* iff
 *       P + ΔP < A(P)
 *   (strictly). Example from the thesis: P = 2.6 cores, ΔP = 0.3 → 2.9 < 3, accurate; ΔP = 0.41
 *   → 3.01 ≥ 3, not accurate. Consequences of the literal definition, kept on purpose: a
 *   prediction exactly on a grid value (P = 3, A(P) = 3) is never accurate, even when exact;
 *   over-prediction counts against accuracy as much as under-prediction; P above the grid's
 *   maximum has no A(P) and is not accurate; P below the minimum has A(P) = the minimum.
 *   Accuracy is defined only for CPU and memory (they have a grid); input-size predictions get
 *   the error metrics only.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { AllocationAxis } from './types.js';
import { allocationAtLeast } from './grid.js';

export const ErrorStats = Type.Object({
  /** Pairs evaluated. */
  n: Type.Integer({ minimum: 0 }),
  /** Mean of |predicted − actual|; null when n = 0. */
  meanAbsError: Type.Union([Type.Number(), Type.Null()]),
  /** Mean of |predicted − actual| / actual × 100 over the pairs with actual > 0; null if none. */
  meanPctError: Type.Union([Type.Number(), Type.Null()]),
  /** Pairs with actual > 0 (those in meanPctError). */
  pctN: Type.Integer({ minimum: 0 }),
});
export type ErrorStats = Static<typeof ErrorStats>;

export const AccuracyStats = Type.Composite([
  ErrorStats,
  Type.Object({
    /** Pairs with P + ΔP < A(P). */
    accurate: Type.Integer({ minimum: 0 }),
    /** accurate / n; null when n = 0. */
    accuracy: Type.Union([Type.Number(), Type.Null()]),
  }),
]);
export type AccuracyStats = Static<typeof AccuracyStats>;

export interface Pair {
  predicted: number;
  actual: number;
}

/** ΔP = |P − actual| (§4.1.1). */
export function predictionError(predicted: number, actual: number): number {
  return Math.abs(predicted - actual);
}

/** P + ΔP < A(P) (§4.1.2). */
export function isAccurate(predicted: number, actual: number, axis: AllocationAxis): boolean {
  const a = allocationAtLeast(predicted, axis);
  return a !== null && predicted + predictionError(predicted, actual) < a;
}

export function errorStats(pairs: readonly Pair[]): ErrorStats {
  let sum = 0;
  let pctSum = 0;
  let pctN = 0;
  for (const { predicted, actual } of pairs) {
    const e = predictionError(predicted, actual);
    sum += e;
    if (actual > 0) {
      pctSum += (e / actual) * 100;
      pctN++;
    }
  }
  return {
    n: pairs.length,
    meanAbsError: pairs.length > 0 ? sum / pairs.length : null,
    meanPctError: pctN > 0 ? pctSum / pctN : null,
    pctN,
  };
}

export function accuracyStats(pairs: readonly Pair[], axis: AllocationAxis): AccuracyStats {
  const accurate = pairs.filter((p) => isAccurate(p.predicted, p.actual, axis)).length;
  return {
    ...errorStats(pairs),
    accurate,
    accuracy: pairs.length > 0 ? accurate / pairs.length : null,
  };
}
